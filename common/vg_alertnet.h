/*
 * vg_alertnet: the net effect of one message on one alert slot.
 *
 * Every sample of a message is received at the same instant, so a message
 * is one step in the life of each alert slot (a device's threshold alert
 * for one vital, a bed's NEWS2 alert, a device's silent alert), however
 * many samples it holds. The rule engine (plugin/alerts.c) evaluates every
 * sample and feeds each transition it makes into the slot's vg_alertnet;
 * vg_alertnet_plan then says which events the message sends for the slot:
 *
 *   before      after                            events
 *   off         on (alert B)                     raised B
 *   on (A)      on (A), another level            updated A
 *   on (A)      on (A), the same level           none (a level that came and went)
 *   on (A)      off                              resolved A
 *   on (A)      on (B: A ended, B began)         resolved A, raised B
 *   off         off (alerts came and went)       raised B, resolved B (the last of them)
 *
 * A raised or updated event reports the level the alert has at the end of
 * the message and the step (sample) that set it; a resolved event reports
 * the step that ended the alert; previous levels are the ones the last sent
 * event of that alert reported, so what a receiver reads is always a
 * consistent history. Every other transition is coalesced (counted, not
 * sent on its own), and no condition present in the message goes unsaid:
 * an alert that was off before and came and went inside the message is
 * still raised and resolved. So a message sends at most VG_ALERTNET_MAX
 * events per slot, whatever the length of its batch.
 *
 * Pure: plain inputs, no allocation, no state outside the struct.
 * Thread: any.
 */
#ifndef VG_ALERTNET_H
#define VG_ALERTNET_H

#include <stdbool.h>
#include <stdint.h>

#define VG_ALERTNET_MAX 2

struct vg_alertnet {
	bool was_active;        /* the slot before the message */
	uint8_t was_level;
	bool prior_ended;       /* the alert open before the message ended in it */
	int prior_end_tag;      /* the step that ended it */
	bool started;           /* an alert began in the message */
	bool active;            /* the slot now */
	uint8_t level;          /* the current (or, once ended, the last) alert's level */
	int set_tag;            /* the step that set that level */
	int end_tag;            /* the step that ended it (when !active) */
	uint32_t steps;         /* transitions fed in */
};

/* One event to send. */
struct vg_alertnet_event {
	uint8_t type;           /* VG_AT_RAISED, VG_AT_UPDATED, VG_AT_RESOLVED (vg_rec.h) */
	bool prior;             /* about the alert that was open before the message and ended in
	                         * it (the caller kept its state); else the slot's current alert */
	uint8_t level;          /* the level reported; 0 when resolved */
	uint8_t previous;       /* updated, resolved: the level this alert's last event reported */
	int tag;                /* the step whose sample the event reports */
};

/* Starts a message: the slot's state before it. */
void vg_alertnet_begin(struct vg_alertnet *n, bool active, uint8_t level);
/* Transitions, in the order the engine makes them; tag names the step
 * (e.g. the index of the sample). A step that does not fit the slot's state
 * (raise while on, level or resolve while off) is ignored. */
void vg_alertnet_raise(struct vg_alertnet *n, uint8_t level, int tag);
void vg_alertnet_level(struct vg_alertnet *n, uint8_t level, int tag);
void vg_alertnet_resolve(struct vg_alertnet *n, int tag);
/* The events to send, in order, into out (VG_ALERTNET_MAX); returns how many. */
int vg_alertnet_plan(const struct vg_alertnet *n, struct vg_alertnet_event *out);
/* Transitions not sent as their own event, given the plan's count. */
uint32_t vg_alertnet_coalesced(const struct vg_alertnet *n, int planned);

#endif
