/*
 * vg_alert_rules: alert lifecycles (see vg_alert_rules.h).
 * Thread: any. Memory: none.
 */
#include "vg_alert_rules.h"

#include <stddef.h>

#include "vg_news2.h"

void vg_alert_start(struct vg_alert_st *a, int level)
{
	a->active = true;
	a->level = (uint8_t)level;
	a->transitions = 0;
	a->calm_since_ms = 0;
	a->calm_level = 0;
}

int vg_alert_threshold_level(const struct vg_thr *t, double value)
{
	if(t->low_on && value <= t->low){
		return 1;
	}
	if(t->high_on && value >= t->high){
		return 2;
	}
	return 0;
}

enum vg_alert_step vg_alert_threshold_step(struct vg_alert_st *a, const struct vg_thr *t, double margin, double value,
		int64_t now_ms, int64_t hold_ms)
{
	int level = vg_alert_threshold_level(t, value);
	bool calm;

	if(!a->active){
		if(level == 0){
			return VG_ALERT_NONE;
		}
		vg_alert_start(a, level);
		return VG_ALERT_RAISE;
	}
	if(level != 0 && level != a->level){
		/* Crossed from one side straight to the other. */
		a->level = (uint8_t)level;
		a->calm_since_ms = 0;
		return VG_ALERT_LEVEL;
	}
	/* Calm = back inside the thresholds by the vital's margin (or the
	 * threshold was switched off meanwhile). */
	calm = level == 0
		&& (!t->low_on || value > t->low + margin)
		&& (!t->high_on || value < t->high - margin);
	if(!calm){
		a->calm_since_ms = 0;
		return VG_ALERT_NONE;
	}
	if(a->calm_since_ms == 0){
		a->calm_since_ms = now_ms;
	}
	if(now_ms - a->calm_since_ms >= hold_ms){
		a->active = false;
		return VG_ALERT_RESOLVE;
	}
	return VG_ALERT_NONE;
}

enum vg_alert_step vg_alert_news2_step(struct vg_alert_st *a, int band, int64_t now_ms, int64_t hold_ms)
{
	enum vg_alert_step step;

	/* An alert at an aggregate band of medium or high; a single parameter
	 * scoring 3 (low-medium) is what the threshold alerts report. */
	if(band < VG_N2_BAND_MEDIUM){
		band = 0;
	}
	if(!a->active){
		if(band == 0){
			return VG_ALERT_NONE;
		}
		vg_alert_start(a, band);
		return VG_ALERT_RAISE;
	}
	if(band > a->level){
		/* Escalation is immediate. */
		a->level = (uint8_t)band;
		a->calm_since_ms = 0;
		return VG_ALERT_LEVEL;
	}
	if(band == a->level){
		a->calm_since_ms = 0;
		return VG_ALERT_NONE;
	}
	/* Lower than the alert's level: de-escalate or resolve once it held. */
	if(a->calm_since_ms == 0 || band > a->calm_level){
		a->calm_since_ms = a->calm_since_ms ? a->calm_since_ms : now_ms;
		a->calm_level = (uint8_t)band;
	}
	if(now_ms - a->calm_since_ms < hold_ms){
		return VG_ALERT_NONE;
	}
	if(a->calm_level == 0){
		a->active = false;
		step = VG_ALERT_RESOLVE;
	}else{
		a->level = a->calm_level;
		step = VG_ALERT_LEVEL;
	}
	a->calm_since_ms = 0;
	return step;
}

const char *vg_alert_silent_due(int64_t last_seen_ms, int64_t disconnected_ms, int64_t now_ms, int64_t silence_ms,
		int64_t grace_ms)
{
	if(disconnected_ms && now_ms - disconnected_ms >= grace_ms){
		return "disconnected";
	}
	if(last_seen_ms && now_ms - last_seen_ms >= silence_ms){
		return "no data";
	}
	return NULL;
}
