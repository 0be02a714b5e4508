/*
 * beds: what the broker keeps about each bed (keyed "ward/bed"), whichever
 * devices are assigned to it:
 *  - the latest value of each NEWS2 parameter and when it was measured, the
 *    bed's SpO2 scale (bed settings), and its NEWS2 after the latest sample;
 *  - the bed's NEWS2 alert state (driven by alerts.c);
 *  - where the bed is in its ward's frame (stations.c: a link it sets and
 *    reads, nothing else here touches it);
 *  - its current occupancy as the core last published it on
 *    adt/<ward>/<bed> (occupancy.c; NULL: never described,
 *    docs/patient-context.md).
 *
 * Thread: broker thread. Memory: owns the beds: one allocation each, the
 * struct followed by its ward and bed names, kept until cleanup (a bed
 * outlives its devices' assignments, so the NEWS2 inputs of a monitor swap
 * are not lost), with its occupancy (one allocation, once the core
 * describes the bed). Only a bed an evaluation created and rolled back is freed
 * before (vg_beds_remove), and never one a frame links to.
 */
#ifndef VG_BEDS_H
#define VG_BEDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vg_alert_rules.h"
#include "vg_alertcfg.h"
#include "vg_news2.h"
#include "vg_occupancy.h"
#include "vg_smap.h"
#include "vg_util.h"
#include "vg_vitals.h"

struct vg_stations_ward;

/* The bed's occupancy as the core last said (a struct vg_occupancy: vacant
 * or a patient and encounter from since_ms, and the label). */
struct vg_bed {
	const char *ward;              /* the names, stored after the struct */
	const char *bed;
	/* NEWS2: each parameter's latest value and when it was measured
	 * (at_ms 0: none yet; a sample's ts is never 0, the decoder bounds it). */
	struct {
		int64_t at_ms;
		double v;
	} p[VG_N2_COUNT];
	struct {                       /* NEWS2 after the latest sample (vg_bed_news2 unpacks it) */
		int8_t points[VG_N2_COUNT];
		uint8_t score, parameters, band;
		bool any_three;
	} last;
	struct vg_alert_st news2;      /* the bed's NEWS2 alert */
	uint8_t spo2_scale;
	/* stations.c: the ward whose frame shows this bed, and the bed's slot
	 * in it (NULL: in no frame). Set and read by stations.c only. */
	uint32_t frame_slot;
	struct vg_stations_ward *frame;
	struct vg_occupancy *occ;      /* NULL: the core never described the bed */
};

struct vg_beds {
	struct vg_smap map;            /* "ward/bed" -> struct vg_bed */
};

int vg_beds_init(struct vg_beds *b, size_t cap_hint);
void vg_beds_free(struct vg_beds *b);
/* The bed, or NULL (none yet, or ward ""). No allocation. */
struct vg_bed *vg_beds_find(const struct vg_beds *b, const char *ward, const char *bed);
/* vg_beds_find through a cache of the last bed found (a device keeps its
 * own): no lookup while *cache is still ward/bed. Only a bed that exists is
 * cached, and a bed that exists stays until cleanup (vg_beds_remove frees
 * only a bed created by the very message it rolls back, before anyone
 * found it), so the pointer stays good. */
struct vg_bed *vg_beds_find_cached(const struct vg_beds *b, const char *ward, const char *bed, struct vg_bed **cache);
/* The bed, created on first use with its SpO2 scale from cfg; NULL for
 * ward "" or out of memory. */
struct vg_bed *vg_beds_get(struct vg_beds *b, const char *ward, const char *bed, const struct vg_alert_cfg *cfg);
/* Forgets a bed an evaluation created and rolled back; a bed a frame links
 * to stays. */
void vg_beds_remove(struct vg_beds *b, const char *ward, const char *bed);
/* New bed settings: every bed's SpO2 scale from cfg. */
void vg_beds_apply_settings(struct vg_beds *b, const struct vg_alert_cfg *cfg);

/* The core's occupancy message for the bed: taken as its current state
 * (a since earlier than the current one's is a correction: it replaces
 * it). Returns 1 when it changed the occupant (the bed's NEWS2 inputs,
 * which were another patient's, are dropped), 0 when it is what the bed
 * already had (a retained message sent again: nothing to do), -1 out of
 * memory (nothing changed). */
int vg_bed_set_occupancy(struct vg_bed *b, const struct vg_occupancy *o);
/* True when o says what the bed already has (b may be NULL): a vacancy of
 * a vacant bed, or the same occupant, since and label. */
bool vg_bed_occupancy_same(const struct vg_bed *b, const struct vg_occupancy *o);
/* True when the core declared the bed vacant (its samples raise no
 * physiological or silent alert). False for a bed never described. */
bool vg_bed_vacant(const struct vg_bed *b);
/* The bed's occupant for a sample measured at ts_ms: the current occupancy
 * when the bed is occupied and ts_ms is at or after its since; NULL
 * otherwise (vacant, never described, or before what the broker knows: the
 * writer links stored samples from the history, docs/patient-context.md). */
const struct vg_occupancy *vg_bed_occupant_at(const struct vg_bed *b, int64_t ts_ms);

/* Takes a sample's NEWS2 parameters as the bed's latest values (an older
 * sample arriving late does not overwrite a newer value). */
void vg_bed_take_sample(struct vg_bed *b, const struct vg_sample *s);
/* A value of the previous run (read from PostgreSQL at start): taken
 * unless the bed already has one measured at or after at_ms. True if
 * taken. */
bool vg_bed_restore_param(struct vg_bed *b, int param, int64_t at_ms, double v);
/* Scores the bed's NEWS2 from the values measured within max_age_ms of
 * now_ms into b->last. */
void vg_bed_score(struct vg_bed *b, int64_t now_ms, int64_t max_age_ms);
/* b->last as vg_news2 returned it. */
void vg_bed_news2(const struct vg_bed *b, struct vg_news2_result *out);

#endif
