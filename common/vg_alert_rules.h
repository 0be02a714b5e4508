/*
 * vg_alert_rules: the lifecycle rules of the three kinds of alerts
 * (docs/alerts.md) as pure functions of plain inputs: no clock, no state
 * but the alert's own, no allocation. The broker's alert engine
 * (plugin/alerts.c) feeds them each sample, each bed's NEWS2 and each
 * device's history, gives a raised alert its id, and turns the steps into
 * events (common/vg_alertnet.c nets them over a message).
 *
 * Hysteresis: escalation is immediate; de-escalation and resolution need
 * the better state to hold for hold_ms (a threshold alert also needs the
 * value back inside by the vital's margin), and the wait starts again
 * whenever it does not hold.
 *
 * Thread: any. Memory: none owned.
 */
#ifndef VG_ALERT_RULES_H
#define VG_ALERT_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "vg_alertcfg.h"

/* Per-alert lifecycle state (32 bytes). */
struct vg_alert_st {
	bool active;
	uint8_t level;          /* threshold: 1 low, 2 high; news2: band; silent: 1 */
	uint8_t calm_level;     /* the better level seen since calm_since_ms */
	uint8_t pad;
	uint16_t transitions;   /* events sent so far (event ids derive from it) */
	int64_t calm_since_ms;  /* 0: not calm */
	uint8_t id[12];         /* alert id (96 bits), rendered "al_<hex>" */
};

/* What one evaluation did to an alert. */
enum vg_alert_step {
	VG_ALERT_NONE = 0,      /* nothing to report (it may be waiting out its hold) */
	VG_ALERT_RAISE,         /* it became active at a->level (the caller gives it an id) */
	VG_ALERT_LEVEL,         /* its level changed to a->level */
	VG_ALERT_RESOLVE,       /* it is no longer active */
};

/* Makes a active at level, with no transitions and no calm period yet
 * (its id is the caller's). */
void vg_alert_start(struct vg_alert_st *a, int level);

/* 0 inside the thresholds, 1 at or below the low one, 2 at or above the
 * high one (a bound switched off never fires). */
int vg_alert_threshold_level(const struct vg_thr *t, double value);

/* One value of a vital against its thresholds: raises at once out of
 * bounds, a crossing straight to the other side is a level change, and
 * the alert resolves once the value is back inside by margin and has
 * stayed there for hold_ms. */
enum vg_alert_step vg_alert_threshold_step(struct vg_alert_st *a, const struct vg_thr *t, double margin, double value,
		int64_t now_ms, int64_t hold_ms);

/* A bed's NEWS2 band (enum vg_news2_band) after its latest sample: an
 * alert at medium or high (a single parameter scoring 3 is the threshold
 * alerts' business); escalation at once; a lower band holding for hold_ms
 * de-escalates to the highest band seen meanwhile, or resolves when that
 * is below medium. */
enum vg_alert_step vg_alert_news2_step(struct vg_alert_st *a, int band, int64_t now_ms, int64_t hold_ms);

/* Why a device with no silent alert open is due one at now_ms:
 * "disconnected" (gone for grace_ms), "no data" (nothing accepted for
 * silence_ms), or NULL. Times of 0 mean "never" / "not disconnected". */
const char *vg_alert_silent_due(int64_t last_seen_ms, int64_t disconnected_ms, int64_t now_ms, int64_t silence_ms,
		int64_t grace_ms);

#endif
