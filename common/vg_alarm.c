/*
 * vg_alarm: the alarm lifecycle table (see vg_alarm.h). Thread: any.
 * Memory: none.
 */
#include "vg_alarm.h"

#include <string.h>

void vg_alarm_policy_defaults(struct vg_alarm_policy *p)
{
	int v;

	memset(p, 0, sizeof(*p));
	for(v = 0; v < VG_V_COUNT; v++){
		p->thr[v] = VG_PRIO_HIGH;
	}
	p->news2_medium = VG_PRIO_MEDIUM;
	p->news2_high = VG_PRIO_HIGH;
	p->silent = VG_PRIO_MEDIUM;
	p->esc[VG_PRIO_HIGH] = (struct vg_alarm_esc){ 60, 3 };
	p->esc[VG_PRIO_MEDIUM] = (struct vg_alarm_esc){ 180, 3 };
	p->esc[VG_PRIO_LOW] = (struct vg_alarm_esc){ 0, 3 };
}

static bool escalating(const struct vg_alarm *a)
{
	return a->state == VG_ALARM_ACTIVE || a->state == VG_ALARM_LATCHED;
}

int64_t vg_alarm_next_due(const struct vg_alarm *a, const struct vg_alarm_policy *p)
{
	const struct vg_alarm_esc *e;

	if(!escalating(a) || a->prio < VG_PRIO_LOW || a->prio > VG_PRIO_HIGH){
		return 0;
	}
	e = &p->esc[a->prio];
	if(e->after_s == 0 || a->level >= e->max_level){
		return 0;
	}
	return a->raised_ms + (int64_t)(a->level + 1) * e->after_s * 1000;
}

/* The level due at now (the current one when none more is due): however
 * many intervals passed, one event carries the level due now. */
static unsigned escalate(struct vg_alarm *a, const struct vg_alarm_policy *p, int64_t now_ms)
{
	int64_t due = vg_alarm_next_due(a, p), n;
	const struct vg_alarm_esc *e;

	if(due == 0 || now_ms < due){
		return 0;
	}
	e = &p->esc[a->prio];
	n = (now_ms - a->raised_ms) / ((int64_t)e->after_s * 1000);
	a->level = (uint8_t)(n > e->max_level ? e->max_level : n);
	return VG_ALARM_OUT_ESCALATED;
}

unsigned vg_alarm_step(struct vg_alarm *a, enum vg_alarm_event ev, const struct vg_alarm_policy *p, int prio,
		int category, int64_t now_ms)
{
	switch(ev){
		case VG_ALARM_EV_RAISE:
			memset(a, 0, sizeof(*a));
			a->state = VG_ALARM_ACTIVE;
			a->prio = (uint8_t)prio;
			a->category = (uint8_t)category;
			a->raised_ms = now_ms;
			return VG_ALARM_OUT_RAISED;
		case VG_ALARM_EV_UPDATE:
			if(a->state != VG_ALARM_ACTIVE && a->state != VG_ALARM_ACKED){
				return 0;
			}
			a->prio = (uint8_t)prio;
			return VG_ALARM_OUT_UPDATED;
		case VG_ALARM_EV_END:
			if(a->state == VG_ALARM_ACTIVE && a->prio == VG_PRIO_HIGH){
				a->state = VG_ALARM_LATCHED;
				a->latched = 1;
				a->cleared_ms = now_ms;
				return VG_ALARM_OUT_RESOLVED;
			}
			if(a->state == VG_ALARM_ACTIVE || a->state == VG_ALARM_ACKED){
				a->state = VG_ALARM_ENDED;
				a->cleared_ms = now_ms;
				return VG_ALARM_OUT_RESOLVED;
			}
			return 0;
		case VG_ALARM_EV_ACK:
			if(a->state == VG_ALARM_ACTIVE){
				a->state = VG_ALARM_ACKED;
				a->acked_ms = now_ms;
				return VG_ALARM_OUT_ACKED;
			}
			if(a->state == VG_ALARM_LATCHED){
				a->state = VG_ALARM_ENDED;
				a->acked_ms = now_ms;
				return VG_ALARM_OUT_ACKED;
			}
			return a->state == VG_ALARM_ACKED ? 0 : VG_ALARM_OUT_REFUSED;
		case VG_ALARM_EV_TIMER:
		case VG_ALARM_EV_RESTORE:
			return escalate(a, p, now_ms);
	}
	return 0;
}

static const char *const prio_names[] = { "none", "low", "medium", "high" };

const char *vg_prio_name(int prio)
{
	return prio >= VG_PRIO_NONE && prio <= VG_PRIO_HIGH ? prio_names[prio] : "none";
}

int vg_prio_parse(const char *s)
{
	int i;

	for(i = VG_PRIO_LOW; i <= VG_PRIO_HIGH; i++){
		if(!strcmp(s, prio_names[i])){
			return i;
		}
	}
	return -1;
}

const char *vg_category_name(int cat)
{
	return cat == VG_CAT_TECHNICAL ? "technical" : "physiological";
}

bool vg_alarm_by_valid(const char *s, size_t n)
{
	size_t i;

	if(n < 1 || n > 64){
		return false;
	}
	for(i = 0; i < n; i++){
		char c = s[i];
		if(!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'
				|| c == '@' || c == '-')){
			return false;
		}
	}
	return true;
}
