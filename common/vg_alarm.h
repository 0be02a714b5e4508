/*
 * vg_alarm: the clinical alarm lifecycle of one alert (docs/alerts.md
 * "Alarm lifecycle"; the contract's "Alarm lifecycle") as a pure function
 * of (state, event) -> (state, emitted events): priorities, acknowledgement,
 * latching and escalation. No clock (the caller passes now), no allocation.
 * plugin/alarms.c applies it to every open alert and turns what it emits
 * into alert events; tests/unit/test_alarm.c walks every row of the table.
 *
 * States: ACTIVE (condition on, nobody acknowledged), ACKED (condition on,
 * acknowledged), LATCHED (a high alert whose condition ended before any ack:
 * stays among the ward's open alerts), ENDED (gone: resolved, or
 * acknowledged after latching). Escalation runs while ACTIVE or LATCHED:
 * level n falls due at raised + n * after_ms (n = 1 .. max_level); an ack,
 * or the end of a non-latched alert, stops it.
 *
 * Thread: any. Memory: none owned.
 */
#ifndef VG_ALARM_H
#define VG_ALARM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vg_schema.h"

/* IEC 60601-1-8 priorities (0: none). */
enum vg_prio { VG_PRIO_NONE = 0, VG_PRIO_LOW = 1, VG_PRIO_MEDIUM = 2, VG_PRIO_HIGH = 3 };
enum vg_category { VG_CAT_PHYSIOLOGICAL = 0, VG_CAT_TECHNICAL = 1 };

enum vg_alarm_state { VG_ALARM_ENDED = 0, VG_ALARM_ACTIVE, VG_ALARM_ACKED, VG_ALARM_LATCHED };

enum vg_alarm_event {
	VG_ALARM_EV_RAISE = 1,    /* the condition began (alert.raised) */
	VG_ALARM_EV_UPDATE,       /* its level changed (alert.updated); prio may change */
	VG_ALARM_EV_END,          /* the condition ended (the rules resolved it) */
	VG_ALARM_EV_ACK,          /* a valid acknowledgement */
	VG_ALARM_EV_TIMER,        /* TICK: an escalation may be due */
	VG_ALARM_EV_RESTORE,      /* read back after a restart or from the cell's other instance */
};

/* What a step emits (bits). */
#define VG_ALARM_OUT_RAISED 0x01
#define VG_ALARM_OUT_UPDATED 0x02
#define VG_ALARM_OUT_RESOLVED 0x04   /* with "latched": true when the new state is LATCHED */
#define VG_ALARM_OUT_ACKED 0x08
#define VG_ALARM_OUT_ESCALATED 0x10  /* with the new level */
#define VG_ALARM_OUT_REFUSED 0x80    /* an ack of an alert that is not open: 0x87, nothing changes */

/* Escalation of one priority: after_s 0 = never. */
struct vg_alarm_esc {
	uint32_t after_s;
	uint8_t max_level;
};

/* The per-ward policy: the default priority of each kind of alert and the
 * escalation of each priority (docs/alerts.md). */
struct vg_alarm_policy {
	uint8_t thr[VG_V_COUNT];      /* threshold alert of each vital */
	uint8_t news2_medium, news2_high;
	uint8_t silent;
	struct vg_alarm_esc esc[4];   /* by enum vg_prio (esc[0] unused) */
};

/* The lifecycle part of an open alert. */
struct vg_alarm {
	uint8_t state;                /* enum vg_alarm_state */
	uint8_t prio;                 /* enum vg_prio */
	uint8_t category;             /* enum vg_category */
	uint8_t level;                /* escalation level sent so far (0: none) */
	uint8_t latched;              /* 1 once it latched (kept through its ack) */
	int64_t raised_ms;
	int64_t acked_ms;             /* 0: not acknowledged */
	int64_t cleared_ms;           /* when the condition ended (LATCHED); 0 otherwise */
};

/* Built-in policy: thresholds high, NEWS2 medium band medium and high band
 * high, silent device medium (technical); escalation high 60 s, medium
 * 180 s, low never, at most level 3. */
void vg_alarm_policy_defaults(struct vg_alarm_policy *p);

/* The next escalation's due time, or 0 when none will come. */
int64_t vg_alarm_next_due(const struct vg_alarm *a, const struct vg_alarm_policy *p);

/* One step. For RAISE and UPDATE, prio is the priority the alert has now
 * (RAISE: also category); ignored otherwise. Returns the VG_ALARM_OUT_*
 * bits to emit, in this order: RAISED/UPDATED/RESOLVED/ACKED, ESCALATED. */
unsigned vg_alarm_step(struct vg_alarm *a, enum vg_alarm_event ev, const struct vg_alarm_policy *p, int prio,
		int category, int64_t now_ms);

/* Names: "high" "medium" "low"; "physiological" "technical"; parse: 0 / -1 when unknown. */
const char *vg_prio_name(int prio);
int vg_prio_parse(const char *s);
const char *vg_category_name(int cat);

/* A clinician id of an ack: [A-Za-z0-9_.@-]{1,64}. */
bool vg_alarm_by_valid(const char *s, size_t n);

#endif
