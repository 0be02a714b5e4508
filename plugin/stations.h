/*
 * stations: what nurses' stations read, kept current by the broker
 * (docs/stations.md):
 *  - wards/<ward>/beds/<bed>/vitals, retained: the bed's latest sample as
 *    JSON with the bed's NEWS2, published for every accepted message of an
 *    assigned device (QoS 0: the latest value is what matters); cleared when
 *    the device that last published it leaves the bed (unassigned, moved,
 *    revoked, deleted);
 *  - wards/<ward>/alerts/active, retained: the ward's open alerts (the last
 *    event of each), republished on TICK when it changed.
 *
 * Thread: broker thread. Memory: the open-alert lists own copies of the
 * event bodies.
 */
#ifndef VG_STATIONS_H
#define VG_STATIONS_H

#include <stdint.h>

#include "vg_ident.h"
#include "vg_rec.h"
#include "vg_smap.h"
#include "vg_vitals.h"

struct vg_plugin;

/* stations.c's state. */
struct vg_stations {
	struct vg_smap wards;           /* ward -> its open alerts */
	bool dirty;                     /* a ward's list changed since TICK */
};

int vg_stations_init(struct vg_stations *st);
void vg_stations_free(struct vg_stations *st);

/* Ingest, after the samples were journalled: publishes the bed's latest
 * sample (the newest ts of the message; an older one than what the bed
 * shows is not published). */
void vg_stations_on_samples(struct vg_plugin *vg, const struct vg_ident *e, const struct vg_sample *s, int n,
		int64_t now_ms);

/* TICK: a device is no longer at ward/bed; clears the bed's retained sample
 * if that device published it. */
void vg_stations_device_left(struct vg_plugin *vg, const char *id, const char *ward, const char *bed);

/* An alert event was emitted: updates the ward's open-alert list. */
void vg_stations_on_alert(struct vg_plugin *vg, const struct vg_rec_event *ev);
/* An alert of the previous run continues (restart): body is its last event. */
void vg_stations_open_alert(struct vg_plugin *vg, const char *ward, const char *alert_id, const char *body, size_t len);

/* TICK: republishes the open-alert lists that changed. */
void vg_stations_tick(struct vg_plugin *vg, int64_t now_ms);

#endif
