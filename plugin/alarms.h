/*
 * alarms: the clinical alarm lifecycle of every open alert (docs/alerts.md
 * "Alarm lifecycle"): its priority and category, who acknowledged it and
 * when, whether it is latched, its escalation level, and the ward's alarm
 * load. The rules are common/vg_alarm.c's table; this module keeps one
 * record per open alert (latched ones included), renders the lifecycle
 * fields into each event's data, and builds the bodies of
 * alert.acknowledged and alert.escalated from the alert's last event.
 *
 * alerts.c drives it: every event it builds gets its lifecycle here
 * (vg_alarms_on_event, noted as pending next to the event), and only an
 * emitted event changes a record (vg_alarms_commit): an event that was
 * never journalled never changes what the broker holds.
 *
 * Thread: broker thread. Memory: the records (each with a copy of the data
 * of its alert's last event) and the per-ward alarm-load figures.
 */
#ifndef VG_ALARMS_H
#define VG_ALARMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vg_alarm.h"
#include "vg_json.h"
#include "vg_rec.h"
#include "vg_smap.h"
#include "vg_util.h"

struct vg_plugin;
struct vg_open_alert;

/* One open alert's lifecycle. */
struct vg_alarm_rec {
	char alert_id[32];
	struct vg_alarm lc;
	uint8_t kind;
	uint16_t escalations;            /* escalation events sent (event ids) */
	char ward[VG_ID_MAX + 1];
	char bed[VG_ID_MAX + 1];
	char device[VG_ID_MAX + 1];
	char order_key[2 * (VG_ID_MAX + 1) + 8];
	char severity[8];
	char by[65];                     /* acknowledged by (clinician id) */
	char via[VG_ID_MAX + 1];         /* the station or service that sent the ack */
	char *core;                      /* the data members of its last event, without the lifecycle (owned) */
	size_t core_len;
};

/* The lifecycle after one pending event (parallel to vg->alerts.ev). */
struct vg_alarm_pend {
	struct vg_alarm lc;
	unsigned out;                    /* VG_ALARM_OUT_* of the step */
	uint32_t core_off, core_len;     /* the data members in the event's body */
	char by[65], via[VG_ID_MAX + 1];
	uint16_t escalations;
};

/* A ward's alarm load since the start (docs/alerts.md "Alarm load"). */
#define VG_ACK_BUCKETS 12
struct vg_alarm_load {
	uint64_t raised, acknowledged, escalated, ended_unacked;
	uint64_t ack_le[VG_ACK_BUCKETS]; /* time to ack <= vg_alarm_ack_bounds_s[i] (cumulative at render) */
	uint64_t ack_count;
	double ack_sum_s;
};
extern const double vg_alarm_ack_bounds_s[VG_ACK_BUCKETS];

struct vg_alarms {
	struct vg_smap open;             /* alert id -> struct vg_alarm_rec * */
	struct vg_smap load;             /* ward -> struct vg_alarm_load */
	int64_t tick_ms;                 /* last escalation check */
};

int vg_alarms_init(struct vg_alarms *a);
void vg_alarms_free(struct vg_alarms *a);

struct vg_alarm_rec *vg_alarms_find(struct vg_alarms *a, const char *alert_id);

/* The priority an alert of kind (and vital, or NEWS2 band in level) has
 * under the ward's policy p, and its category. */
int vg_alarms_priority(const struct vg_alarm_policy *p, int kind, int vital, int level);
int vg_alarms_category(int kind);

/* alerts.c, while building event number i of type for alert_id: steps the
 * alert's lifecycle as the events before it in the scratch left it (pend[0
 * .. i-1]) or as the records hold it, notes the result in pend[i] and
 * appends the lifecycle fields to j (inside data). core_off: where the data
 * members began in j. no_latch: a resolution that is not the end of the
 * condition (the device left its bed). *open_after: the event's VG_EV_*
 * (0 by type). */
void vg_alarms_on_event(struct vg_plugin *vg, struct vg_alarm_pend *pend, const struct vg_rec_event *evs, int i,
		const char *alert_id, uint8_t type, int prio, int category, int64_t now_ms, struct vg_json *j,
		size_t core_off, bool no_latch, uint8_t *open_after);

/* Renders the lifecycle fields of lc (by, via: the ack's) into j. */
void vg_alarms_json(struct vg_json *j, const struct vg_alarm *lc, const char *by, const char *via, int64_t now_ms);

/* An emitted event: moves its record (created by a raise, removed when the
 * alert ends) and counts the ward's load. */
void vg_alarms_commit(struct vg_plugin *vg, const struct vg_rec_event *ev, const struct vg_alarm_pend *p);

/* The body of an alert.acknowledged or alert.escalated event of rec (its
 * lifecycle after the event: lc) into j: the last event's data, then the
 * lifecycle. */
void vg_alarms_body(struct vg_json *j, const struct vg_alarm_rec *rec, uint8_t type, const struct vg_alarm *lc,
		const char *by, const char *via, int64_t now_ms);

/* The cell's other instance ended the alert: its record goes. */
void vg_alarms_forget(struct vg_plugin *vg, const char *alert_id);

/* An ack's topic "wards/<ward>/alerts/<alert_id>/ack": true with the ward
 * and the alert id copied out. */
bool vg_alarms_ack_topic(const char *topic, char *ward, size_t wlen, char *alert_id, size_t alen);
/* An ack's body, exactly {"by": "<[A-Za-z0-9_.@-]{1,64}>"} (whitespace
 * allowed between tokens): true with by copied out. */
bool vg_alarms_ack_body(const void *payload, size_t len, char by[65]);

/* Restart or the cell's other instance: an open alert as PostgreSQL holds
 * it (its last event's body carries the lifecycle) becomes a record; a
 * record already held is left alone unless o is newer. pol: the ward's
 * policy (the priority of a body without one). */
void vg_alarms_restore(struct vg_plugin *vg, const struct vg_open_alert *o, const struct vg_alarm_policy *pol);

/* /metrics: the alarm load of every ward. */
struct vg_sbuf;
void vg_alarms_metrics(struct vg_plugin *vg, struct vg_sbuf *b);

#endif
