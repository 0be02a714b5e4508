/*
 * vg_sample_json: the JSON shapes of an accepted sample that leave the
 * broker other than through PostgreSQL: the retained bed vitals nurses'
 * stations read (plugin/stations.c), the batches mirrored to the legacy
 * ingest (plugin/mirror.c), and the "news2" object of bed vitals and
 * NEWS2 alert events (plugin/alerts.c). One writer, so the shapes cannot
 * drift apart (docs/stations.md, docs/cutover.md).
 *
 * Thread: any. Memory: writes into the caller's vg_json.
 */
#ifndef VG_SAMPLE_JSON_H
#define VG_SAMPLE_JSON_H

#include <stdint.h>

#include "vg_json.h"
#include "vg_news2.h"
#include "vg_vitals.h"

/* Writes a sample's normalized keys (device_id, ward, bed, seq,
 * measured_at, received_at, the measurements) into an open JSON object. */
void vg_sample_json_write(struct vg_json *j, const char *device, const char *ward, const char *bed,
		const struct vg_sample *s, int64_t now_ms);

/* Writes "news2": {score, band, points, parameters, scale}. */
void vg_sample_json_news2(struct vg_json *j, const struct vg_news2_result *r, int scale);

#endif
