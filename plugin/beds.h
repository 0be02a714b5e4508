/*
 * beds: what the broker keeps about each bed (keyed "ward/bed"), whichever
 * devices are assigned to it:
 *  - the latest value of each NEWS2 parameter and when it was measured, the
 *    bed's SpO2 scale (bed settings), and its NEWS2 after the latest sample;
 *  - the bed's NEWS2 alert state (driven by alerts.c);
 *  - which device's sample the retained bed vitals show, and its time
 *    (stations.c).
 *
 * Thread: broker thread. Memory: owns the beds (one allocation each, kept
 * until cleanup: a bed outlives its devices' assignments, so the NEWS2
 * inputs of a monitor swap are not lost).
 */
#ifndef VG_BEDS_H
#define VG_BEDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vg_alert_rules.h"
#include "vg_alertcfg.h"
#include "vg_news2.h"
#include "vg_smap.h"
#include "vg_util.h"
#include "vg_vitals.h"

struct vg_bed {
	char ward[VG_ID_MAX + 1];
	char bed[VG_ID_MAX + 1];
	struct {
		bool has;
		int64_t at_ms;
		double v;
	} p[VG_N2_COUNT];
	uint8_t spo2_scale;
	struct vg_alert_st news2;
	struct vg_news2_result last;   /* NEWS2 after the latest sample */
	char shown_device[VG_ID_MAX + 1]; /* who published the retained bed sample */
	int64_t shown_ts;              /* its measured time */
};

struct vg_beds {
	struct vg_smap map;            /* "ward/bed" -> struct vg_bed */
};

int vg_beds_init(struct vg_beds *b, size_t cap_hint);
void vg_beds_free(struct vg_beds *b);
/* The bed, or NULL (none yet, or ward ""). No allocation. */
struct vg_bed *vg_beds_find(const struct vg_beds *b, const char *ward, const char *bed);
/* The bed, created on first use with its SpO2 scale from cfg; NULL for
 * ward "" or out of memory. */
struct vg_bed *vg_beds_get(struct vg_beds *b, const char *ward, const char *bed, const struct vg_alert_cfg *cfg);
/* Forgets a bed (an evaluation rolled back the bed it had created). */
void vg_beds_remove(struct vg_beds *b, const char *ward, const char *bed);
/* New bed settings: every bed's SpO2 scale from cfg. */
void vg_beds_apply_settings(struct vg_beds *b, const struct vg_alert_cfg *cfg);

/* Takes a sample's NEWS2 parameters as the bed's latest values (an older
 * sample arriving late does not overwrite a newer value). */
void vg_bed_take_sample(struct vg_bed *b, const struct vg_sample *s);
/* Scores the bed's NEWS2 from the values measured within max_age_ms of
 * now_ms into b->last. */
void vg_bed_score(struct vg_bed *b, int64_t now_ms, int64_t max_age_ms);

#endif
