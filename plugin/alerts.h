/*
 * alerts: clinical alert detection on the broker thread, from in-memory
 * state, O(1) per sample (docs/alerts.md):
 *  - threshold alerts per device and vital (thresholds per ward, from
 *    PostgreSQL, defaults = the NEWS2 score-3 bands);
 *  - NEWS2 per bed from the latest fresh value of each parameter, across
 *    the bed's devices; an alert at band medium or high;
 *  - silent devices (no data for silence_s, or gone for disconnect_grace_s),
 *    checked on TICK.
 * Each alert has a lifecycle (raised, updated, resolved) with hysteresis:
 * escalation is immediate, de-escalation and resolution need the better
 * state to hold for alert_hold_s (and thresholds a margin as well).
 *
 * Events are produced into the plugin's event scratch (vg->alerts.ev), journalled
 * by the caller (with the samples that caused them, in the priority class),
 * and only then emitted: published on wards/<ward>/alerts and queued for the
 * webhook. If journalling fails the caller restores the snapshot taken
 * before evaluation, so an alert is never "active" without its event.
 *
 * Thread: broker thread.
 */
#ifndef VG_ALERTS_H
#define VG_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alarms.h"
#include "beds.h"
#include "vg_alert_rules.h"
#include "vg_alertcfg.h"
#include "vg_alertnet.h"
#include "vg_ident.h"
#include "vg_news2.h"
#include "vg_ratelimit.h"
#include "vg_rec.h"
#include "vg_util.h"
#include "vg_vitals.h"

struct vg_plugin;
struct vg_device;

/* The event scratch: a message's events, their strings and bodies. */
#define VG_EVBUF_BYTES (96 * 1024)

/* alerts.c's state. */
struct vg_alerts {
	struct vg_alert_cfg *cfg;       /* thresholds, SpO2 scale 2 beds */
	struct vg_rec_event ev[VG_REC_MAX_EVENTS]; /* events of this message (or TICK pass) */
	struct vg_alarm_pend pend[VG_REC_MAX_EVENTS]; /* each event's alarm lifecycle (alarms.c), until emitted */
	int nev;
	char *evbuf;                    /* their strings and bodies */
	size_t evbuf_len;
	uint32_t coalesced;             /* transitions these events coalesced */
	const char *coalesced_from;     /* the device whose message it was (until emitted) */
	struct vg_ratelimit coalesce_log; /* "coalesced": once every 10 s */
	int64_t tick_ms;                /* last silent-device check */
};

/* At most this many events come out of one message: the silent alert's
 * end, and each threshold slot and the bed's NEWS2 with their net
 * transitions (vg_alertnet). */
#define VG_ALERTS_MAX_PER_MESSAGE (1 + (VG_V_COUNT + 1) * VG_ALERTNET_MAX)
/* One event's bytes in the event scratch and in a journal record, at most
 * (its body, ids, keys and names). */
#define VG_ALERT_EVENT_MAX_BYTES 2560

/* Per-device alert state, allocated on the device's first alert (kept in
 * its struct vg_device, devices.h, which frees it). */
struct vg_dev_alerts {
	struct vg_alert_st thr[VG_V_COUNT];
	struct vg_alert_st silent;
};

/* What vg_alerts_snapshot saves and vg_alerts_restore puts back. */
struct vg_alert_snap {
	bool had_dev;
	struct vg_dev_alerts dev;
	struct vg_bed *bed;
	bool had_bed;
	struct vg_bed bed_copy;
	int nev;
	size_t evbuf_len;
	uint32_t ev_coalesced;
	int64_t last_seen_ms;
	int64_t disconnected_ms;
};

int vg_alerts_init(struct vg_alerts *a);
void vg_alerts_free(struct vg_alerts *a);
/* TICK: replaces the configuration (takes ownership of cfg). */
void vg_alerts_set_config(struct vg_plugin *vg, struct vg_alert_cfg *cfg);

/* Ingest path (the ACL WRITE check of vitals/), in this order: snapshot; on_samples (events go to vg->alerts.ev);
 * journal the samples with vg->alerts.ev; on success emit, on failure restore.
 * on_samples evaluates every sample and puts each alert slot's net
 * transitions over the message into vg->alerts.ev (at most
 * VG_ALERTS_MAX_PER_MESSAGE events; the transitions in between are counted
 * as coalesced). It returns MOSQ_ERR_SUCCESS, or an error (out of memory,
 * an event the scratch refused) after which the caller must restore the
 * snapshot and refuse the message: state and events never diverge. */
void vg_alerts_snapshot(struct vg_plugin *vg, const struct vg_ident *e, struct vg_device *dev,
		struct vg_alert_snap *snap);
int vg_alerts_on_samples(struct vg_plugin *vg, const struct vg_ident *e, struct vg_device *dev,
		const struct vg_sample *s, int n, int64_t now_ms);
void vg_alerts_restore(struct vg_plugin *vg, const struct vg_ident *e, struct vg_device *dev,
		const struct vg_alert_snap *snap);
/* Ingest, after emit: tells the stations which of the device's and its
 * bed's open alerts have a condition that ended and wait out alert_hold_s
 * (and which no longer do), from the snapshot before the message. */
void vg_alerts_note_cleared(struct vg_plugin *vg, const struct vg_ident *e, struct vg_device *dev,
		const struct vg_alert_snap *snap);
/* Publishes and queues for the webhook every event in vg->alerts.ev, counts (and
 * logs, at most every 10 s) the transitions they coalesced, then clears it. */
void vg_alerts_emit(struct vg_plugin *vg);
/* Clears vg->alerts.ev without emitting. */
void vg_alerts_discard(struct vg_plugin *vg);

/* TICK: the device left its bed (unassigned, moved, revoked, deleted; e is
 * the entry before the change). An open silent-device alert for that bed
 * is resolved (why: "unassigned", "moved", "revoked", "deleted"): nobody
 * is expected to send from it any more, and stations must not keep showing
 * it. */
void vg_alerts_device_left(struct vg_plugin *vg, const struct vg_ident *e, const char *why, int64_t now_ms);
/* The core says bed b's occupant is gone (vacant, or another patient):
 * resolves the bed's open alerts (its NEWS2 alert, its devices' threshold
 * and silent alerts) with `why` as the note, journalled and emitted while
 * the bed still names the leaving occupant (docs/patient-context.md).
 * Scans the devices once (occupancy messages are rare). */
void vg_alerts_occupant_left(struct vg_plugin *vg, struct vg_bed *b, const char *why, int64_t now_ms);

/* TICK: continues the open alerts of the previous run and restores the
 * beds' NEWS2 inputs (read from PostgreSQL at start). */
struct vg_c_alert_state;
void vg_alerts_restore_state(struct vg_plugin *vg, const struct vg_c_alert_state *c, int64_t now_ms);

/* TICK: a read of the cell's open alerts (bridge/cellsync.c; plugin_opt_cell
 * only): alerts the other instance holds become the alert states of the
 * devices and beds not evaluated here (not connected here; no event here
 * since), so a device arriving continues them under their ids; closed
 * (what the previous read had and this one has not) ends them here. */
struct vg_open_alert;
void vg_alerts_mirror(struct vg_plugin *vg, const struct vg_c_alert_state *m, const struct vg_open_alert *closed,
		size_t nclosed, int64_t now_ms);

/* TICK: alerts the writer closed because another instance raised the same
 * condition later (stored already): published, listed and delivered like
 * any event, and let go of here. */
struct vg_c_superseded;
void vg_alerts_superseded(struct vg_plugin *vg, const struct vg_c_superseded *c);

/* TICK: silent devices and due escalations (at most once a second). */
void vg_alerts_tick(struct vg_plugin *vg, int64_t now_ms);

/* The ACL WRITE check of wards/<ward>/alerts/<alert_id>/ack by a station
 * of <ward> or a service (vg_acl_decide: VG_ACL_ACK): validates the body,
 * finds the open alert (latched ones included) in memory, journals the
 * alert.acknowledged event before answering, then emits and audits it. A
 * repeated ack: success, nothing changes. Unknown alert, another ward's,
 * malformed body: MOSQ_ERR_ACL_DENIED (0x87), audited. */
struct mosquitto_evt_acl_check;
int vg_alerts_ack(struct vg_plugin *vg, const struct vg_ident *e, const char *client_id,
		const struct mosquitto_evt_acl_check *ed);

#endif
