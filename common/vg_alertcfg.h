/*
 * vg_alertcfg: alert thresholds per ward and the beds on SpO2 scale 2, as
 * loaded from PostgreSQL (alert_thresholds, bed_settings) by the config
 * sync worker and used by the alert engine (plugin/alerts.c).
 *
 * Thread: built on the worker, handed over whole, then read and freed on
 * the broker thread. Memory: vg_alert_cfg_free releases everything.
 */
#ifndef VG_ALERTCFG_H
#define VG_ALERTCFG_H

#include <stdbool.h>
#include <stddef.h>

#include "vg_alarm.h"
#include "vg_schema.h"
#include "vg_util.h"

/* The vitals threshold alerts watch (enum vg_vital, VG_V_*) and their
 * defaults are generated from schemas/vitals/v1.json (vg_vitals[]). */

struct vg_thr {
	bool low_on;
	bool high_on;
	double low;     /* alert when value <= low */
	double high;    /* alert when value >= high */
};

/* Thresholds and bed settings, loaded from PostgreSQL by the config sync
 * worker and swapped in by TICK. */
struct vg_alert_cfg {
	struct vg_thr def[VG_V_COUNT];
	struct vg_alarm_policy pol;     /* priorities and escalation ('*' rows over the built-in ones) */
	size_t nwards;
	struct vg_ward_thr {
		char ward[VG_ID_MAX + 1];
		struct vg_thr thr[VG_V_COUNT];
		struct vg_alarm_policy pol;
	} *wards;
	size_t nscale2;
	char (*scale2)[2 * (VG_ID_MAX + 1)];   /* "ward/bed" of SpO2 scale 2 beds */
};

/* The built-in defaults of schemas/vitals/v1.json (vg_vitals[]): the
 * contract's NEWS2 score-3 bands (pulse <= 40 or >= 131, SpO2 <= 91, RR <= 8
 * or >= 25, SBP <= 90 or >= 220, temp <= 35.0; docs/alerts.md). */
void vg_alert_cfg_defaults(struct vg_alert_cfg *c);
void vg_alert_cfg_free(struct vg_alert_cfg *c);

/* The alarm policy of a ward (its own rows, or the defaults). */
const struct vg_alarm_policy *vg_alert_cfg_policy(const struct vg_alert_cfg *c, const char *ward);

/* One alert_priorities row (migration 010) into pol: alert "threshold"
 * (every vital), "threshold:<vital>", "news2:medium", "news2:high",
 * "silent"; prio an enum vg_prio (<= 0: ignored). Apply "threshold"
 * before the vitals' own rows. */
void vg_alert_policy_apply(struct vg_alarm_policy *pol, const char *alert, int prio);

/* Index of a vital name ("hr", "spo2", ...), or -1. */
int vg_vital_index(const char *name);
/* Name of a vital index; NULL when out of range. */
const char *vg_vital_name(int v);

#endif
