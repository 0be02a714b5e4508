/*
 * alerts: threshold, NEWS2 and silent-device alerts (see alerts.h and
 * docs/alerts.md).
 *
 * A message is evaluated sample by sample, but its events are its net
 * transitions: every sample of a message is received at the same instant,
 * so each alert slot sends at most VG_ALERTNET_MAX events per message
 * (common/vg_alertnet.h), and the transitions in between are counted as
 * coalesced. That bounds the events of any message far below the event
 * scratch; should the scratch still refuse an event, the caller rolls the
 * whole message back (state and events never diverge).
 *
 * The lifecycle rules (levels, margins, hold times, when a device is
 * silent) are pure functions in common/vg_alert_rules.c; this file feeds
 * them the samples, each bed's NEWS2 (beds.c) and each device's history
 * (devices.c), names raised alerts, and turns their steps into events:
 * journalled by the caller, then published, handed to the ward's open-alert
 * list (stations.c) and to the webhook sender (delivery.c).
 *
 * Thread: broker thread. Memory: each device's alert block (allocated here
 * on its first alert, kept in struct vg_device and freed by devices.c), the
 * configuration; events are written into the event scratch
 * (vg->alerts.ev, vg->alerts.evbuf), reused for every message.
 */
#include "alerts.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "beds.h"
#include "cells.h"
#include "delivery.h"
#include "devices.h"
#include "sessions.h"
#include "stations.h"
#include "vg_alertnet.h"
#include "vg_completion.h"
#include "vg_fhir.h"
#include "vg_json.h"
#include "vg_plugin.h"
#include "vg_sample_json.h"
#include "vg_secret.h"
#include "vg_smap.h"

/* The vitals, their margins (an alert resolves only once the value is back
 * inside by it, and has stayed there for alert_hold_s), units and the NEWS2
 * parameters' fields come from schemas/vitals/v1.json: vg_vitals[],
 * vg_fields[], vg_news2_field[] (vg_schema.h). NEWS2 points are named by
 * the key of the parameter's field. */
static int vital_field(int v)
{
	return vg_vitals[v].field;
}

static const struct vg_thr *thresholds(const struct vg_plugin *vg, const char *ward)
{
	const struct vg_alert_cfg *c = vg->alerts.cfg;
	size_t i;

	if(ward[0]){
		for(i = 0; i < c->nwards; i++){
			if(!strcmp(c->wards[i].ward, ward)){
				return c->wards[i].thr;
			}
		}
	}
	return c->def;
}

int vg_alerts_init(struct vg_alerts *a)
{
	vg_ratelimit_init(&a->coalesce_log, 1, 10000);
	a->cfg = calloc(1, sizeof(*a->cfg));
	a->evbuf = malloc(VG_EVBUF_BYTES);
	if(a->cfg == NULL || a->evbuf == NULL){
		return -1;
	}
	vg_alert_cfg_defaults(a->cfg);
	return 0;
}

void vg_alerts_free(struct vg_alerts *a)
{
	vg_alert_cfg_free(a->cfg);
	a->cfg = NULL;
	free(a->evbuf);
	a->evbuf = NULL;
}

void vg_alerts_set_config(struct vg_plugin *vg, struct vg_alert_cfg *cfg)
{
	vg_alert_cfg_free(vg->alerts.cfg);
	vg->alerts.cfg = cfg;
	vg_beds_apply_settings(&vg->beds, cfg);
}

/* ---- events --------------------------------------------------------------- */


static void alert_id_str(const struct vg_alert_st *a, char *out)
{
	memcpy(out, "al_", 3);
	vg_hex_encode(a->id, sizeof(a->id), out + 3);
}

/* A new alert's id: a digest of what raised it and when, unique and stable. */
static void new_alert_id(struct vg_alert_st *a, const char *kind, const char *scope, int64_t now_ms, uint64_t seq)
{
	char buf[256], digest[65];

	snprintf(buf, sizeof(buf), "%s|%s|%" PRId64 "|%" PRIu64, kind, scope, now_ms, seq);
	vg_digest_hex(buf, strlen(buf), digest, 24);
	vg_hex_decode(digest, sizeof(a->id), a->id);
}

/* Notes a rule's step in net; a raised alert gets its id first (its
 * events are counted by add_event as they are sent). */
static void note_step(struct vg_alertnet *net, enum vg_alert_step step, struct vg_alert_st *a, const char *kind,
		const char *scope, int64_t now_ms, uint64_t seq, int tag)
{
	switch(step){
		case VG_ALERT_RAISE:
			new_alert_id(a, kind, scope, now_ms, seq);
			vg_alertnet_raise(net, a->level, tag);
			break;
		case VG_ALERT_LEVEL:
			vg_alertnet_level(net, a->level, tag);
			break;
		case VG_ALERT_RESOLVE:
			vg_alertnet_resolve(net, tag);
			break;
		default:
			break;
	}
}

/* Copies s into the event buffer; returns a view of the copy. */
static struct vg_str ev_str(struct vg_plugin *vg, const char *s, size_t n)
{
	struct vg_str v = { "", 0 };

	if(s == NULL || vg->alerts.evbuf_len + n + 1 > VG_EVBUF_BYTES){
		return v;
	}
	memcpy(vg->alerts.evbuf + vg->alerts.evbuf_len, s, n);
	vg->alerts.evbuf[vg->alerts.evbuf_len + n] = '\0';
	v.p = vg->alerts.evbuf + vg->alerts.evbuf_len;
	v.n = n;
	vg->alerts.evbuf_len += n + 1;
	return v;
}

static struct vg_str ev_cstr(struct vg_plugin *vg, const char *s)
{
	return ev_str(vg, s, s ? strlen(s) : 0);
}

/* Details of one transition, filled by the callers below. */
struct ev_spec {
	uint8_t type;                  /* VG_AT_* */
	uint8_t kind;                  /* VG_AK_* */
	const char *severity;
	const char *previous_severity; /* updated */
	const struct vg_ident *dev;    /* may be NULL for NEWS2 (bed-wide) */
	const char *device_id;         /* when dev is NULL */
	const char *note;              /* e.g. why an alert was closed */
	bool no_value;                 /* threshold: no value to report */
	const char *ward;              /* "" when unassigned */
	const char *bed;
	/* threshold */
	int vital;
	double value;
	double threshold;
	const char *direction;
	/* news2 */
	const struct vg_news2_result *n2;
	int scale;
	/* silent */
	const char *reason;
	int64_t last_seen_ms;
	/* sample context (0 when none) */
	uint64_t seq;
	int64_t measured_ms;
	/* transitions of the same slot in the same message folded into this event */
	uint32_t coalesced;
	/* the key of the sample's FHIR Observation the event is about (common/vg_fhir.h), or NULL */
	const char *obs_key;
	/* resolved without its condition ending (the device left, a stale
	 * alert closed): never latches */
	bool no_latch;
};

/* An event's body is at most EV_BODY_MAX bytes; with its ids, keys and
 * names it takes at most VG_ALERT_EVENT_MAX_BYTES of the scratch, so the
 * scratch holds VG_REC_MAX_EVENTS of any kind. */
#define EV_BODY_MAX 2048
_Static_assert(EV_BODY_MAX + 72 + 32 + 16 + (2 * (VG_ID_MAX + 1) + 8) + 3 * (VG_ID_MAX + 1) + 8 <= VG_ALERT_EVENT_MAX_BYTES,
		"VG_ALERT_EVENT_MAX_BYTES bounds one event");
_Static_assert(VG_REC_MAX_EVENTS * VG_ALERT_EVENT_MAX_BYTES <= VG_EVBUF_BYTES, "the event scratch holds a full record");
_Static_assert(VG_ALERTS_MAX_PER_MESSAGE <= VG_REC_MAX_EVENTS, "a message's net events fit one journal record");

static void emit_number(struct vg_json *j, const char *key, int vital, double v)
{
	unsigned decimals = vg_fields[vital_field(vital)].decimals;

	if(decimals > 0){
		vg_json_fixed(j, key, v, (int)decimals);
	}else{
		vg_json_i64(j, key, (int64_t)llround(v));
	}
}

/* Builds the event (body JSON, ids) into vg->alerts.ev and counts it in a's
 * transitions (its event id derives from the alert id and that count).
 * Returns false, changing nothing, when the scratch refuses it; the caller
 * then undoes the state change the event reports. */
static bool add_event(struct vg_plugin *vg, struct vg_alert_st *a, const struct ev_spec *sp, int64_t now_ms)
{
	struct vg_rec_event *ev;
	struct vg_json j;
	char jbuf[EV_BODY_MAX], aid[32], key[64], digest[65], evid[72], ts[32], okey[2 * (VG_ID_MAX + 1) + 8];
	const char *dev_id = sp->dev ? sp->dev->id : sp->device_id;
	size_t core_off;
	uint8_t open_after = 0;
	int prio;

	if(vg->alerts.nev >= VG_REC_MAX_EVENTS){
		return false;
	}
	alert_id_str(a, aid);
	snprintf(key, sizeof(key), "%s:%u", aid, (unsigned)a->transitions + 1);
	vg_digest_hex(key, strlen(key), digest, 32);
	snprintf(evid, sizeof(evid), "evt_%s", digest);
	vg_rfc3339(now_ms, ts, sizeof(ts));
	if(sp->ward[0]){
		snprintf(okey, sizeof(okey), "%s/%s", sp->ward, sp->bed);
	}else{
		snprintf(okey, sizeof(okey), "device/%s", dev_id ? dev_id : "-");
	}

	vg_json_init(&j, jbuf, sizeof(jbuf));
	vg_json_obj_open(&j);
	vg_json_str(&j, "type", vg_alert_type_name(sp->type));
	vg_json_str(&j, "timestamp", ts);
	vg_json_obj_open_key(&j, "data");
	core_off = j.len;
	vg_json_str(&j, "alert_id", aid);
	vg_json_str(&j, "kind", vg_alert_kind_name(sp->kind));
	vg_json_str(&j, "severity", sp->severity);
	if(sp->previous_severity){
		vg_json_str(&j, "previous_severity", sp->previous_severity);
	}
	vg_json_str(&j, "ward", sp->ward[0] ? sp->ward : NULL);
	vg_json_str(&j, "bed", sp->ward[0] ? sp->bed : NULL);
	vg_json_str(&j, "device_id", dev_id);
	if(sp->kind == VG_AK_THRESHOLD && sp->no_value){
		vg_json_str(&j, "vital", vg_fields[vital_field(sp->vital)].key);
	}else if(sp->kind == VG_AK_THRESHOLD){
		vg_json_str(&j, "vital", vg_fields[vital_field(sp->vital)].key);
		emit_number(&j, "value", sp->vital, sp->value);
		vg_json_str(&j, "unit", vg_fields[vital_field(sp->vital)].ucum);
		if(sp->direction){
			vg_json_str(&j, "direction", sp->direction);
			emit_number(&j, "threshold", sp->vital, sp->threshold);
		}
	}else if(sp->kind == VG_AK_NEWS2 && sp->n2){
		vg_sample_json_news2(&j, sp->n2, sp->scale);
	}else if(sp->kind == VG_AK_SILENT){
		vg_json_str(&j, "reason", sp->reason);
		if(sp->last_seen_ms > 0){
			char ls[32];
			vg_rfc3339(sp->last_seen_ms, ls, sizeof(ls));
			vg_json_str(&j, "last_seen_at", ls);
			vg_json_i64(&j, "silent_for_s", (now_ms - sp->last_seen_ms) / 1000);
		}else{
			vg_json_null(&j, "last_seen_at");
		}
	}
	if(sp->seq || sp->measured_ms){
		char ms[32];
		vg_json_u64(&j, "seq", sp->seq);
		vg_rfc3339(sp->measured_ms, ms, sizeof(ms));
		vg_json_str(&j, "measured_at", ms);
	}
	if(sp->obs_key && dev_id && (sp->seq || sp->measured_ms)){
		/* The export's id for that sample's Observation (docs/fhir.md). */
		char oid[VG_FHIR_ID_MAX + 1], ref[VG_FHIR_ID_MAX + 16];
		if(vg_fhir_observation_id(oid, dev_id, sp->seq, sp->obs_key)){
			snprintf(ref, sizeof(ref), "Observation/%s", oid);
			vg_json_str(&j, "observation", ref);
		}
	}
	if(sp->type == VG_AT_RESOLVED){
		vg_json_str(&j, "resolved_at", ts);
	}
	if(sp->note){
		vg_json_str(&j, "note", sp->note);
	}
	if(sp->coalesced){
		vg_json_u64(&j, "coalesced", sp->coalesced);
	}
	{
		/* The bed's occupant at the sample's ts (now for an event without
		 * a sample); null when vacant or unknown (docs/patient-context.md).
		 * Stations get the body without them (vg_stations_view). */
		const struct vg_occupancy *occ = sp->ward[0] ? vg_bed_occupant_at(vg_beds_find(&vg->beds, sp->ward, sp->bed),
				sp->measured_ms ? sp->measured_ms : now_ms) : NULL;
		vg_json_str(&j, "patient_id", occ ? occ->patient : NULL);
		vg_json_str(&j, "encounter_id", occ ? occ->encounter : NULL);
	}
	/* The alarm lifecycle after this event (alarms.c), last in data. */
	prio = vg_alarms_priority(vg_alert_cfg_policy(vg->alerts.cfg, sp->ward), sp->kind, sp->vital,
			sp->kind == VG_AK_NEWS2 && !strcmp(sp->severity, "high") ? VG_N2_BAND_HIGH : VG_N2_BAND_MEDIUM);
	vg_alarms_on_event(vg, vg->alerts.pend, vg->alerts.ev, vg->alerts.nev, aid, sp->type, prio,
			vg_alarms_category(sp->kind), now_ms, &j, core_off, sp->no_latch, &open_after);
	vg_json_obj_close(&j);
	vg_json_obj_close(&j);
	/* Room for all of it, or nothing is copied. */
	if(!vg_json_ok(&j) || vg->alerts.evbuf_len + strlen(evid) + strlen(aid) + strlen(sp->severity) + strlen(okey)
			+ strlen(sp->ward) + (sp->ward[0] ? strlen(sp->bed) : 0) + (dev_id ? strlen(dev_id) : 0) + j.len + 8
			> VG_EVBUF_BYTES){
		return false;
	}
	ev = &vg->alerts.ev[vg->alerts.nev];
	memset(ev, 0, sizeof(*ev));
	ev->event_id = ev_cstr(vg, evid);
	ev->alert_id = ev_cstr(vg, aid);
	ev->severity = ev_cstr(vg, sp->severity);
	ev->order_key = ev_cstr(vg, okey);
	ev->ward = ev_cstr(vg, sp->ward);
	ev->bed = ev_cstr(vg, sp->ward[0] ? sp->bed : "");
	ev->device = ev_cstr(vg, dev_id ? dev_id : "");
	ev->body = ev_str(vg, j.buf, j.len);
	ev->type = sp->type;
	ev->kind = sp->kind;
	ev->created_ms = now_ms;
	ev->open_after = open_after;
	vg->alerts.nev++;
	a->transitions++;
	return true;
}

void vg_alerts_discard(struct vg_plugin *vg)
{
	vg->alerts.nev = 0;
	vg->alerts.evbuf_len = 0;
	vg->alerts.coalesced = 0;
	vg->alerts.coalesced_from = NULL;
}

void vg_alerts_emit(struct vg_plugin *vg)
{
	char topic[VG_ID_MAX + 16];
	int i;

	for(i = 0; i < vg->alerts.nev; i++){
		const struct vg_rec_event *ev = &vg->alerts.ev[i];
		vg_alarms_commit(vg, ev, &vg->alerts.pend[i]);
		vg_cells_note_event(vg, ev, vg_now_ms());
		if(ev->ward.n){
			snprintf(topic, sizeof(topic), "wards/%s/alerts", ev->ward.p);
			/* Stations see no patient ids (minimum necessary). */
			size_t from, to;
			char view[EV_BODY_MAX];
			if(vg_stations_view(ev->body.p, ev->body.n, &from, &to) && ev->body.n - (to - from) <= sizeof(view)){
				memcpy(view, ev->body.p, from);
				memcpy(view + from, ev->body.p + to, ev->body.n - to);
				mosquitto_broker_publish_copy(NULL, topic, (int)(ev->body.n - (to - from)), view, 1, false, NULL);
			}else{
				mosquitto_broker_publish_copy(NULL, topic, (int)ev->body.n, ev->body.p, 1, false, NULL);
			}
			vg_stations_on_alert(vg, ev);
		}
		vg_delivery_submit(vg, ev);
		if(ev->type == VG_AT_RAISED){
			vg->stats.alerts_raised++;
		}else if(ev->type == VG_AT_RESOLVED){
			vg->stats.alerts_resolved++;
		}else if(ev->type == VG_AT_UPDATED){
			vg->stats.alerts_updated++;
		}else if(ev->type == VG_AT_ACKNOWLEDGED){
			vg->stats.alerts_acknowledged++;
		}else{
			vg->stats.alerts_escalated++;
		}
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: %s %s %s%s%s%s%s (%s)", vg_alert_type_name(ev->type),
				vg_alert_kind_name(ev->kind), ev->alert_id.p,
				ev->ward.n ? " at " : "", ev->ward.n ? ev->ward.p : "", ev->ward.n ? "/" : "", ev->ward.n ? ev->bed.p : "",
				ev->severity.p);
	}
	if(vg->alerts.coalesced){
		vg->stats.alerts_coalesced += vg->alerts.coalesced;
		/* One line per 10 s at most: a flapping sensor would flood the log.
		 * Ids and counts only, never the values. */
		if(vg_ratelimit_take(&vg->alerts.coalesce_log, vg_mono_ms(), NULL)){
			mosquitto_log_printf(MOSQ_LOG_WARNING, "Vitalgate: %u alert transition(s) of one message from %s coalesced "
					"into its net alert event(s) (%" PRIu64 " so far; alerts/coalesced)", vg->alerts.coalesced,
					vg->alerts.coalesced_from ? vg->alerts.coalesced_from : "-", vg->stats.alerts_coalesced);
		}
	}
	vg_alerts_discard(vg);
}

/* ---- snapshot / restore -------------------------------------------------- */

void vg_alerts_snapshot(struct vg_plugin *vg, const struct vg_ident *e, struct vg_device *rt,
		struct vg_alert_snap *snap)
{

	snap->nev = vg->alerts.nev;
	snap->evbuf_len = vg->alerts.evbuf_len;
	snap->ev_coalesced = vg->alerts.coalesced;
	snap->had_dev = rt && rt->alerts;
	if(snap->had_dev){
		snap->dev = *rt->alerts;
	}
	snap->last_seen_ms = rt ? rt->last_seen_ms : 0;
	snap->disconnected_ms = rt ? rt->disconnected_ms : 0;
	snap->bed = rt ? vg_beds_find_cached(&vg->beds, e->ward, e->bed, &rt->bed) : vg_beds_find(&vg->beds, e->ward, e->bed);
	snap->had_bed = snap->bed != NULL;
	if(snap->had_bed){
		snap->bed_copy = *snap->bed;
	}
}

void vg_alerts_restore(struct vg_plugin *vg, const struct vg_ident *e, struct vg_device *rt,
		const struct vg_alert_snap *snap)
{
	vg->alerts.nev = snap->nev;
	vg->alerts.evbuf_len = snap->evbuf_len;
	vg->alerts.coalesced = snap->ev_coalesced;
	if(rt){
		if(snap->had_dev){
			*rt->alerts = snap->dev;
		}else if(rt->alerts){
			free(rt->alerts);
			rt->alerts = NULL;
		}
		rt->last_seen_ms = snap->last_seen_ms;
		rt->disconnected_ms = snap->disconnected_ms;
	}
	if(snap->had_bed){
		*snap->bed = snap->bed_copy;
	}else{
		vg_beds_remove(&vg->beds, e->ward, e->bed);
	}
}

/* ---- threshold alerts ------------------------------------------------------ */

static struct vg_dev_alerts *dev_alerts(struct vg_device *rt)
{
	if(rt->alerts == NULL){
		rt->alerts = calloc(1, sizeof(*rt->alerts));
	}
	return rt->alerts;
}

static double vital_value(const struct vg_sample *s, int v)
{
	int f = vital_field(v);

	return vg_fields[f].type == VG_T_NUMBER ? s->val[f].d : (double)s->val[f].u;
}

/* One sample's value of vital v against the ward's thresholds: moves the
 * device's alert state and notes the transition in net (tag: the sample's
 * index in the message). Returns false when out of memory. */
static bool eval_threshold(struct vg_plugin *vg, const struct vg_ident *e, struct vg_device *rt,
		struct vg_alertnet *net, int v, const struct vg_sample *s, int tag, int64_t now_ms)
{
	const struct vg_thr *t = &thresholds(vg, e->ward)[v];
	struct vg_dev_alerts *da;
	struct vg_alert_st *a;
	double value = vital_value(s, v);
	enum vg_alert_step step;
	char scope[160];

	a = rt->alerts ? &rt->alerts->thr[v] : NULL;
	if((a == NULL || !a->active) && vg_alert_threshold_level(t, value) == 0){
		return true; /* the common case: nothing to do, nothing allocated */
	}
	da = dev_alerts(rt);
	if(da == NULL){
		return false;
	}
	a = &da->thr[v];
	step = vg_alert_threshold_step(a, t, vg_vitals[v].margin, value, now_ms, vg->cfg.alert_hold_s * 1000);
	if(step == VG_ALERT_RAISE){
		snprintf(scope, sizeof(scope), "%s/%s", e->id, vg_fields[vital_field(v)].key);
	}
	note_step(net, step, a, "threshold", scope, now_ms, s->val[VG_F_SEQ].u, tag);
	return true;
}

/* ---- NEWS2 ------------------------------------------------------------------ */

static const char *band_severity(int band)
{
	return vg_news2_band_name((enum vg_news2_band)band);
}

/* The bed's NEWS2 from its latest fresh inputs, once per message (after
 * all its samples): moves the bed's alert and notes the transition in net
 * (seq, tag: the message's last sample). */
static void eval_news2(struct vg_plugin *vg, struct vg_bed *b, struct vg_alertnet *net, uint64_t seq, int tag,
		int64_t now_ms)
{
	enum vg_alert_step step;
	char scope[160];

	vg_bed_score(b, now_ms, vg->cfg.news2_max_age_s * 1000);
	step = vg_alert_news2_step(&b->news2, (int)b->last.band, now_ms, vg->cfg.alert_hold_s * 1000);
	if(step == VG_ALERT_RAISE){
		snprintf(scope, sizeof(scope), "%s/%s", b->ward, b->bed);
	}
	note_step(net, step, &b->news2, "news2", scope, now_ms, seq, tag);
}

/* ---- a message's net events --------------------------------------------------- */

static const char *level_severity(int kind, int level)
{
	if(level == 0){
		return "none";
	}
	return kind == VG_AK_NEWS2 ? band_severity(level) : "high";
}

/* What one slot's events say besides type and level: base holds the kind
 * and where; a step's tag indexes the message's samples s. */
struct slot_ctx {
	struct ev_spec base;
	const struct vg_sample *s;
	int vital;                 /* threshold: the vital (value, direction); else -1 */
	const struct vg_thr *t;    /* threshold: its bounds */
};

/* The FHIR Observation of sample s an event is about: the vital's (its
 * panel's: blood pressure) for a threshold alert; for NEWS2 (vital < 0)
 * the sample's NEWS2 Observation, which the export writes for samples
 * carrying a NEWS2 parameter only. NULL when there is none. */
static const char *observation_key(const struct vg_sample *s, int vital)
{
	int p;

	if(vital >= 0){
		return vg_fhir_obs_key(vital_field(vital));
	}
	for(p = 0; p < VG_N2_COUNT; p++){
		if(VG_SAMPLE_HAS(s, vg_news2_field[p])){
			return VG_FHIR_NEWS2_KEY;
		}
	}
	return NULL;
}

/* Sends one slot's net events for the message (vg_alertnet_plan): about
 * the slot's current alert through a; about the alert open before the
 * message, when a new one replaced it in a, through prior (its state before
 * the message). Returns false when the event scratch refused one (the
 * caller rolls the whole message back). */
static bool emit_slot(struct vg_plugin *vg, const struct vg_alertnet *net, struct vg_alert_st *a,
		struct vg_alert_st *prior, const struct slot_ctx *c, int64_t now_ms)
{
	struct vg_alertnet_event plan[VG_ALERTNET_MAX];
	int n = vg_alertnet_plan(net, plan), k;

	for(k = 0; k < n; k++){
		const struct vg_alertnet_event *pe = &plan[k];
		struct ev_spec sp = c->base;

		sp.type = pe->type;
		sp.severity = level_severity(sp.kind, pe->level);
		sp.previous_severity = pe->type == VG_AT_RAISED ? NULL : level_severity(sp.kind, pe->previous);
		if(pe->tag >= 0){
			sp.seq = c->s[pe->tag].val[VG_F_SEQ].u;
			sp.measured_ms = c->s[pe->tag].val[VG_F_TS].i;
			if(c->vital >= 0){
				sp.value = vital_value(&c->s[pe->tag], c->vital);
			}
			sp.obs_key = observation_key(&c->s[pe->tag], c->vital);
		}
		if(c->vital >= 0 && pe->level){
			sp.direction = pe->level == 1 ? "low" : "high";
			sp.threshold = pe->level == 1 ? c->t->low : c->t->high;
		}
		if(k == n - 1){
			sp.coalesced = vg_alertnet_coalesced(net, n);
		}
		if(!add_event(vg, pe->prior && net->started ? prior : a, &sp, now_ms)){
			return false;
		}
	}
	vg->alerts.coalesced += vg_alertnet_coalesced(net, n);
	return true;
}

/* ---- silent devices --------------------------------------------------------- */

/* Resolves e's open silent alert with its alert.resolved event (why: "data
 * again", or why the device left its bed). Returns 1 when resolved, 0 when
 * none is open, -1 (nothing changed) when the event scratch refused it. */
static int resolve_silent(struct vg_plugin *vg, const struct vg_ident *e, struct vg_device *rt, const char *why,
		int64_t last_seen_ms, int64_t now_ms)
{
	struct ev_spec sp;
	struct vg_alert_st *a;

	if(rt == NULL || rt->alerts == NULL || !rt->alerts->silent.active){
		return 0;
	}
	a = &rt->alerts->silent;
	memset(&sp, 0, sizeof(sp));
	sp.type = VG_AT_RESOLVED;
	sp.kind = VG_AK_SILENT;
	sp.severity = "none";
	sp.previous_severity = "high";
	sp.dev = e;
	sp.ward = e->ward;
	sp.bed = e->bed;
	sp.reason = why;
	sp.last_seen_ms = last_seen_ms;
	sp.no_latch = strcmp(why, "data again") != 0; /* the device left its bed: nothing to latch */
	if(!add_event(vg, a, &sp, now_ms)){
		return -1;
	}
	a->active = false;
	return 1;
}

int vg_alerts_on_samples(struct vg_plugin *vg, const struct vg_ident *e, struct vg_device *rt,
		const struct vg_sample *s, int n, int64_t now_ms)
{
	struct vg_alertnet thr[VG_V_COUNT], n2;
	struct vg_alert_st thr_prior[VG_V_COUNT], n2_prior;
	struct vg_news2_result n2r;
	struct slot_ctx c;
	struct vg_bed *b;
	int i, v;

	if(rt == NULL || n < 1){
		return MOSQ_ERR_SUCCESS;
	}
	rt->disconnected_ms = 0; /* a sample proves the device is connected */
	if(resolve_silent(vg, e, rt, "data again", now_ms, now_ms) < 0){
		return MOSQ_ERR_UNKNOWN;
	}
	b = vg_beds_find_cached(&vg->beds, e->ward, e->bed, &rt->bed);
	if(b == NULL){
		b = vg_beds_get(&vg->beds, e->ward, e->bed, vg->alerts.cfg);
	}
	if(b == NULL && e->ward[0]){
		return MOSQ_ERR_NOMEM; /* the bed's NEWS2 could not be judged */
	}
	if(vg_bed_vacant(b)){
		/* The core declared the bed vacant: the samples are stored and
		 * counted, nobody's vitals to alert on (docs/patient-context.md). */
		vg->stats.vacant_samples += (uint64_t)n;
		return MOSQ_ERR_SUCCESS;
	}
	/* Each slot as it was before the message: its events are the net
	 * change over all of the message's samples. */
	for(v = 0; v < VG_V_COUNT; v++){
		memset(&thr_prior[v], 0, sizeof(thr_prior[v]));
		if(rt->alerts){
			thr_prior[v] = rt->alerts->thr[v];
		}
		vg_alertnet_begin(&thr[v], thr_prior[v].active, thr_prior[v].level);
	}
	if(b){
		n2_prior = b->news2;
		vg_alertnet_begin(&n2, n2_prior.active, n2_prior.level);
	}
	for(i = 0; i < n; i++){
		for(v = 0; v < VG_V_COUNT; v++){
			if(VG_SAMPLE_HAS(&s[i], vital_field(v)) && !eval_threshold(vg, e, rt, &thr[v], v, &s[i], i, now_ms)){
				return MOSQ_ERR_NOMEM;
			}
		}
		if(b){
			vg_bed_take_sample(b, &s[i]);
		}
	}
	if(b){
		eval_news2(vg, b, &n2, s[n - 1].val[VG_F_SEQ].u, n - 1, now_ms);
	}

	memset(&c, 0, sizeof(c));
	c.base.kind = VG_AK_THRESHOLD;
	c.base.dev = e;
	c.base.ward = e->ward;
	c.base.bed = e->bed;
	c.s = s;
	for(v = 0; v < VG_V_COUNT; v++){
		if(thr[v].steps == 0){
			continue;
		}
		c.base.vital = v;
		c.vital = v;
		c.t = &thresholds(vg, e->ward)[v];
		if(!emit_slot(vg, &thr[v], &rt->alerts->thr[v], &thr_prior[v], &c, now_ms)){
			return MOSQ_ERR_UNKNOWN;
		}
	}
	if(b && n2.steps){
		c.base.kind = VG_AK_NEWS2;
		c.base.vital = 0;
		c.base.ward = b->ward;
		c.base.bed = b->bed;
		vg_bed_news2(b, &n2r);
		c.base.n2 = &n2r;
		c.base.scale = b->spo2_scale;
		c.vital = -1;
		c.t = NULL;
		if(!emit_slot(vg, &n2, &b->news2, &n2_prior, &c, now_ms)){
			return MOSQ_ERR_UNKNOWN;
		}
	}
	if(vg->alerts.coalesced){
		vg->alerts.coalesced_from = e->id;
	}
	return MOSQ_ERR_SUCCESS;
}

/* Journals the events in vg->alerts.ev as one record (priority class), then
 * emits them; on failure discards them. Returns the journal's result. */
static int journal_and_emit(struct vg_plugin *vg)
{
	struct vg_wbuf w;
	int rc;

	vg_wbuf_init(&w, vg->scratch.recbuf, vg->scratch.recbuf_cap);
	rc = vg_rec_encode_alerts(&w, vg->alerts.ev, vg->alerts.nev)
		? vg_journal_append_class(vg->workers.journal, VG_JOURNAL_CLASS_PRIORITY, VG_REC_ALERTS, w.p, (uint32_t)w.len, NULL)
		: VG_JOURNAL_TOOBIG;
	if(rc == VG_JOURNAL_OK){
		vg_alerts_emit(vg);
	}else{
		vg_alerts_discard(vg);
	}
	return rc;
}

void vg_alerts_device_left(struct vg_plugin *vg, const struct vg_ident *e, const char *why, int64_t now_ms)
{
	struct vg_device *rt = vg_devices_find(&vg->devices, e->id);
	struct vg_alert_st saved;
	int r;

	if(vg->alerts.nev != 0 || rt == NULL || rt->alerts == NULL){
		return;
	}
	saved = rt->alerts->silent;
	r = resolve_silent(vg, e, rt, why, rt->last_seen_ms, now_ms);
	if(r == 0){
		return;
	}
	if(r < 0 || journal_and_emit(vg) != VG_JOURNAL_OK){
		vg_alerts_discard(vg);
		rt->alerts->silent = saved;
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: cannot journal the end of %s's silent alert (%s left its bed); "
				"it stays open", e->id, why);
	}
}

/* Resolves one alert a for vg_alerts_occupant_left; false when the event
 * scratch refused it (then a stays as it was). */
static bool resolve_for_occupant(struct vg_plugin *vg, struct vg_alert_st *a, struct ev_spec *sp, int64_t now_ms)
{
	if(vg->alerts.nev == VG_REC_MAX_EVENTS && journal_and_emit(vg) != VG_JOURNAL_OK){
		return false;
	}
	sp->type = VG_AT_RESOLVED;
	sp->severity = "none";
	sp->previous_severity = level_severity(sp->kind, a->level);
	/* The patient left the bed: a latched alarm would stand over the next
	 * occupant's bed. */
	sp->no_latch = true;
	if(!add_event(vg, a, sp, now_ms)){
		return false;
	}
	a->active = false;
	a->level = 0;
	a->calm_since_ms = 0;
	return true;
}

/* The event of a device's alert the occupant's leaving ends. */
static void device_spec(struct ev_spec *sp, enum vg_alert_kind kind, const struct vg_ident *e, const char *why)
{
	memset(sp, 0, sizeof(*sp));
	sp->kind = kind;
	sp->dev = e;
	sp->ward = e->ward;
	sp->bed = e->bed;
	sp->note = why;
}

void vg_alerts_occupant_left(struct vg_plugin *vg, struct vg_bed *b, const char *why, int64_t now_ms)
{
	struct vg_device *rt;
	const char *id;
	struct ev_spec sp;
	size_t pos = 0;
	bool ok = true;
	int v;

	if(vg->alerts.nev != 0){
		return;
	}
	if(b->news2.active){
		memset(&sp, 0, sizeof(sp));
		sp.kind = VG_AK_NEWS2;
		sp.ward = b->ward;
		sp.bed = b->bed;
		sp.note = why;
		ok = resolve_for_occupant(vg, &b->news2, &sp, now_ms);
	}
	while(ok && (rt = vg_devices_next(&vg->devices, &pos, &id)) != NULL){
		const struct vg_ident *e;

		if(rt->alerts == NULL || (e = vg_idtable_find(&vg->ids.table, id)) == NULL || strcmp(e->ward, b->ward) != 0
				|| strcmp(e->bed, b->bed) != 0){
			continue;
		}
		for(v = 0; ok && v < VG_V_COUNT; v++){
			if(rt->alerts->thr[v].active){
				device_spec(&sp, VG_AK_THRESHOLD, e, why);
				sp.vital = v;
				sp.no_value = true;
				ok = resolve_for_occupant(vg, &rt->alerts->thr[v], &sp, now_ms);
			}
		}
		if(ok && rt->alerts->silent.active){
			device_spec(&sp, VG_AK_SILENT, e, why);
			sp.reason = why;
			sp.last_seen_ms = rt->last_seen_ms;
			ok = resolve_for_occupant(vg, &rt->alerts->silent, &sp, now_ms);
		}
	}
	if(vg->alerts.nev && journal_and_emit(vg) != VG_JOURNAL_OK){
		ok = false;
	}
	if(!ok){
		vg_alerts_discard(vg);
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: cannot journal the end of the open alerts of bed %s/%s (%s); "
				"they stay open in the database until their own rules close them", b->ward, b->bed, why);
	}
}

/* The silent alerts raised in one pass, until journalled: what to undo. */
struct silent_batch {
	int n;
	struct vg_device *dev[VG_REC_MAX_EVENTS];
	struct vg_alert_st saved[VG_REC_MAX_EVENTS];
	bool fresh_block[VG_REC_MAX_EVENTS];
};

static void silent_undo(struct silent_batch *sb, int k)
{
	struct vg_device *rt = sb->dev[k];

	if(sb->fresh_block[k]){
		free(rt->alerts);
		rt->alerts = NULL;
	}else{
		rt->alerts->silent = sb->saved[k];
	}
}

/* Journals the batch's events (one record) and emits them; on failure
 * undoes every alert of the batch, which is tried again next second. */
static bool silent_flush(struct vg_plugin *vg, struct silent_batch *sb)
{
	int rc, k;

	if(sb->n == 0){
		return true;
	}
	rc = journal_and_emit(vg);
	if(rc != VG_JOURNAL_OK){
		for(k = 0; k < sb->n; k++){
			silent_undo(sb, k);
		}
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: cannot journal silent-device alerts (%s); retrying",
				rc == VG_JOURNAL_FULL ? "journal full" : "write failed");
	}
	sb->n = 0;
	return rc == VG_JOURNAL_OK;
}

static void escalate_due(struct vg_plugin *vg, int64_t now_ms);

/* Raises the silent alerts due now, journalled together (priority class),
 * VG_REC_MAX_EVENTS to a record: however many devices fell silent at once,
 * all are raised in this pass. */
void vg_alerts_tick(struct vg_plugin *vg, int64_t now_ms)
{
	int64_t silence = vg->cfg.silence_s * 1000, grace = vg->cfg.disconnect_grace_s * 1000;
	size_t pos = 0;
	struct silent_batch sb;
	struct vg_device *rt;
	const char *id;

	if(now_ms - vg->alerts.tick_ms < 1000 || vg->alerts.nev != 0){
		return;
	}
	vg->alerts.tick_ms = now_ms;
	sb.n = 0;
	while((rt = vg_devices_next(&vg->devices, &pos, &id)) != NULL){
		const struct vg_ident *e = vg_idtable_find(&vg->ids.table, id);
		struct vg_dev_alerts *da;
		struct ev_spec sp;
		const char *reason;

		if(e == NULL || e->role != VG_ROLE_DEVICE || e->ward[0] == '\0' || e->revoked){
			continue;
		}
		if(rt->alerts && rt->alerts->silent.active){
			continue;
		}
		if(vg_bed_vacant(vg_beds_find_cached(&vg->beds, e->ward, e->bed, &rt->bed))){
			continue; /* a monitor on an empty bed going quiet is nobody's emergency */
		}
		reason = vg_alert_silent_due(rt->last_seen_ms, rt->disconnected_ms, now_ms, silence, grace);
		if(reason == NULL){
			continue;
		}
		if(vg->cfg.cell && !vg_cells_silent_ok(vg, id, rt)){
			/* Only the instance of the cell that received its latest
			 * sample calls it silent (cells.c asks where that was). */
			continue;
		}
		sb.fresh_block[sb.n] = rt->alerts == NULL;
		da = dev_alerts(rt);
		if(da == NULL){
			continue; /* out of memory: nothing changed, next second */
		}
		sb.saved[sb.n] = da->silent;
		sb.dev[sb.n] = rt;
		sb.n++;
		vg_alert_start(&da->silent, 1);
		new_alert_id(&da->silent, "silent", e->id, now_ms, 0);
		memset(&sp, 0, sizeof(sp));
		sp.type = VG_AT_RAISED;
		sp.kind = VG_AK_SILENT;
		sp.severity = "high";
		sp.dev = e;
		sp.ward = e->ward;
		sp.bed = e->bed;
		sp.reason = reason;
		sp.last_seen_ms = rt->last_seen_ms;
		if(!add_event(vg, &da->silent, &sp, now_ms)){
			/* Never active without its event: undo it, send the rest,
			 * and find it again next second. */
			silent_undo(&sb, --sb.n);
			mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: cannot record the silent-device alert of %s; retrying", e->id);
			break;
		}
		if(sb.n == VG_REC_MAX_EVENTS && !silent_flush(vg, &sb)){
			return;
		}
	}
	if(silent_flush(vg, &sb)){
		escalate_due(vg, now_ms);
	}
}

/* ---- state of the previous run ----------------------------------------------- */


static bool parse_alert_id(const char *s, uint8_t id[12])
{
	return strncmp(s, "al_", 3) == 0 && strlen(s) == 3 + 24 && vg_hex_decode(s + 3, 12, id);
}

/* The live state an open alert of the previous run belongs in, or NULL
 * when its device is gone. */
static struct vg_alert_st *slot_of(struct vg_plugin *vg, const struct vg_open_alert *o, struct vg_ident **dev)
{
	struct vg_device *rt;
	struct vg_dev_alerts *da;
	struct vg_bed *b;
	int v;

	*dev = o->device[0] ? vg_idtable_find(&vg->ids.table, o->device) : NULL;
	if(o->kind == VG_AK_NEWS2){
		b = vg_beds_get(&vg->beds, o->ward, o->bed, vg->alerts.cfg);
		return b ? &b->news2 : NULL;
	}
	if(*dev == NULL || (*dev)->role != VG_ROLE_DEVICE || (rt = vg_devices_get(&vg->devices, (*dev)->id)) == NULL
			|| (da = dev_alerts(rt)) == NULL){
		return NULL;
	}
	if(o->kind == VG_AK_SILENT){
		return &da->silent;
	}
	v = vg_vital_index(o->vital);
	return v >= 0 ? &da->thr[v] : NULL;
}

/* An open alert of the previous run that cannot continue (a new alert of
 * the same kind was raised before the state was read back, or its device
 * is gone) is closed with an alert.resolved that says why. */
static void close_stale(struct vg_plugin *vg, const struct vg_open_alert *o, const uint8_t id[12],
		const struct vg_ident *dev, const char *why, int64_t now_ms)
{
	struct vg_alert_st st;
	struct ev_spec sp;

	memset(&st, 0, sizeof(st));
	st.transitions = o->transitions;
	memcpy(st.id, id, sizeof(st.id));
	memset(&sp, 0, sizeof(sp));
	sp.type = VG_AT_RESOLVED;
	sp.kind = o->kind;
	sp.severity = "none";
	sp.previous_severity = o->kind == VG_AK_NEWS2 ? band_severity(o->level) : "high";
	sp.dev = dev;
	sp.device_id = o->device[0] ? o->device : NULL;
	sp.ward = o->ward;
	sp.bed = o->bed;
	sp.note = why;
	sp.no_value = true;
	sp.no_latch = true;
	sp.vital = o->kind == VG_AK_THRESHOLD && vg_vital_index(o->vital) >= 0 ? vg_vital_index(o->vital) : 0;
	if(o->kind == VG_AK_SILENT){
		sp.reason = why;
	}
	if(vg->alerts.nev == VG_REC_MAX_EVENTS && journal_and_emit(vg) != VG_JOURNAL_OK){
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: cannot journal the closing of alerts of the previous run");
	}
	if(!add_event(vg, &st, &sp, now_ms)){
		/* Nothing in memory holds it: it stays open in alert_events and is
		 * closed at the next start. */
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: cannot record the closing of %s (%s); it stays open until the "
				"next start", o->alert_id, why);
	}
}

/* The slot holds the open alert o (as PostgreSQL or the cell's other
 * instance left it), and its ward's station list shows it. */
static void slot_open(struct vg_plugin *vg, struct vg_alert_st *a, const struct vg_open_alert *o, const uint8_t id[12])
{
	a->active = true;
	a->level = o->level;
	a->transitions = o->transitions;
	a->calm_since_ms = 0;
	a->calm_level = 0;
	memcpy(a->id, id, 12);
	vg_alarms_restore(vg, o, vg_alert_cfg_policy(vg->alerts.cfg, o->ward));
	vg_stations_open_alert(vg, o->ward, o->bed, o->alert_id, o->body, o->body ? strlen(o->body) : 0);
}

void vg_alerts_restore_state(struct vg_plugin *vg, const struct vg_c_alert_state *c, int64_t now_ms)
{
	size_t i, restored = 0, closed = 0, params = 0;

	for(i = 0; i < c->nparams; i++){
		const struct vg_bed_param *bp = &c->params[i];
		struct vg_bed *b = vg_beds_get(&vg->beds, bp->ward, bp->bed, vg->alerts.cfg);
		if(b != NULL && vg_bed_restore_param(b, bp->param, bp->at_ms, bp->v)){
			params++; /* unless this run already has a newer value */
		}
	}
	for(i = 0; i < c->nalerts; i++){
		const struct vg_open_alert *o = &c->alerts[i];
		struct vg_ident *dev;
		struct vg_alert_st *a;
		uint8_t id[12];

		if(!parse_alert_id(o->alert_id, id)){
			continue;
		}
		if(o->latched){
			/* Held until acknowledged; its condition's slot is free. */
			vg_alarms_restore(vg, o, vg_alert_cfg_policy(vg->alerts.cfg, o->ward));
			vg_stations_open_alert(vg, o->ward, o->bed, o->alert_id, o->body, o->body ? strlen(o->body) : 0);
			restored++;
			continue;
		}
		a = slot_of(vg, o, &dev);
		if(a == NULL && vg->cfg.cell){
			continue; /* a cell: its identities may come later (a ward arriving); the mirror brings them */
		}else if(a == NULL){
			close_stale(vg, o, id, dev, "device no longer known", now_ms);
			closed++;
		}else if(a->active && !memcmp(a->id, id, sizeof(id))){
			continue; /* raised by this run already */
		}else if(a->active){
			close_stale(vg, o, id, dev, "superseded by an alert raised after a broker restart", now_ms);
			closed++;
		}else{
			slot_open(vg, a, o, id);
			restored++;
		}
	}
	if(vg->alerts.nev && journal_and_emit(vg) != VG_JOURNAL_OK){
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: cannot journal the closing of alerts of the previous run");
	}
	if(restored || closed || params){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: alert state of the previous run: %zu open alert(s) continued, "
				"%zu closed, %zu NEWS2 input(s) restored", restored, closed, params);
	}
}

/* ---- the other instance of the cell -------------------------------------------- */

/* The live state an alert of the mirror belongs in, without creating any
 * (closing: nothing to do where there is none). */
static struct vg_alert_st *slot_find(struct vg_plugin *vg, const struct vg_open_alert *o)
{
	struct vg_device *rt;
	struct vg_bed *b;
	int v;

	if(o->kind == VG_AK_NEWS2){
		b = vg_beds_find(&vg->beds, o->ward, o->bed);
		return b ? &b->news2 : NULL;
	}
	rt = vg_devices_find(&vg->devices, o->device);
	if(rt == NULL || rt->alerts == NULL){
		return NULL;
	}
	if(o->kind == VG_AK_SILENT){
		return &rt->alerts->silent;
	}
	v = vg_vital_index(o->vital);
	return v >= 0 ? &rt->alerts->thr[v] : NULL;
}

/* May a read of the cell's alerts change this alert's slot here? Not when
 * this instance evaluates it itself: a threshold alert of a device
 * connected here, a NEWS2 alert of a bed that got samples here in the last
 * 10 s; nor when this instance emitted an event about it after the read's
 * event (updated_ms; 0: any). A silent alert is taken even for a device
 * connected here: only another instance raises one (while the device was
 * away), and the device's next sample here resolves it. */
static bool mirror_may_touch(struct vg_plugin *vg, const struct vg_open_alert *o, int64_t updated_ms, int64_t now_ms)
{
	int64_t local;

	if(o->kind == VG_AK_NEWS2){
		const struct vg_bed *b = vg_beds_find(&vg->beds, o->ward, o->bed);
		int p;
		for(p = 0; b && p < VG_N2_COUNT; p++){
			if(b->p[p].at_ms != 0 && now_ms - b->p[p].at_ms < 10000){
				return false;
			}
		}
		local = vg_cells_local_ms(vg, 'n', o->ward, o->bed);
	}else{
		const struct vg_session *ses = vg_sessions_find(&vg->sessions, o->device);
		if(o->kind == VG_AK_THRESHOLD && ses && ses->live){
			return false;
		}
		local = vg_cells_local_ms(vg, o->kind == VG_AK_SILENT ? 's' : 't', o->device, NULL);
	}
	return local == 0 || local < updated_ms;
}

/* A ward's station list no longer shows alert_id. */
static void station_close(struct vg_plugin *vg, const char *ward, const char *alert_id)
{
	struct vg_rec_event ev;

	if(ward[0] == '\0'){
		return;
	}
	memset(&ev, 0, sizeof(ev));
	ev.type = VG_AT_RESOLVED;
	ev.ward.p = ward;
	ev.ward.n = strlen(ward);
	ev.alert_id.p = alert_id;
	ev.alert_id.n = strlen(alert_id);
	vg_stations_on_alert(vg, &ev);
}

void vg_alerts_mirror(struct vg_plugin *vg, const struct vg_c_alert_state *m, const struct vg_open_alert *closed,
		size_t nclosed, int64_t now_ms)
{
	size_t i, taken = 0, ended = 0;

	for(i = 0; i < nclosed; i++){
		const struct vg_open_alert *o = &closed[i];
		struct vg_alert_st *a = slot_find(vg, o);
		uint8_t id[12];
		if(a == NULL || !a->active || !parse_alert_id(o->alert_id, id) || memcmp(a->id, id, sizeof(id))
				|| !mirror_may_touch(vg, o, 0, now_ms)){
			continue;
		}
		a->active = false;
		a->calm_since_ms = 0;
		station_close(vg, o->ward, o->alert_id);
		vg_alarms_forget(vg, o->alert_id);
		ended++;
	}
	for(i = 0; i < nclosed; i++){
		/* A latched alert the other instance saw acknowledged. */
		const struct vg_open_alert *o = &closed[i];
		struct vg_alarm_rec *rec = vg_alarms_find(&vg->alarms, o->alert_id);
		if(rec && rec->lc.state == VG_ALARM_LATCHED && o->latched){
			station_close(vg, o->ward, o->alert_id);
			vg_alarms_forget(vg, o->alert_id);
			ended++;
		}
	}
	for(i = 0; i < m->nalerts; i++){
		const struct vg_open_alert *o = &m->alerts[i];
		struct vg_ident *dev;
		struct vg_alert_st *a;
		uint8_t id[12];
		if(!parse_alert_id(o->alert_id, id) || !mirror_may_touch(vg, o, o->updated_ms, now_ms)){
			continue;
		}
		if(o->latched){
			vg_alarms_restore(vg, o, vg_alert_cfg_policy(vg->alerts.cfg, o->ward));
			vg_stations_open_alert(vg, o->ward, o->bed, o->alert_id, o->body, o->body ? strlen(o->body) : 0);
			continue;
		}
		a = slot_of(vg, o, &dev);
		if(a == NULL){
			continue; /* a device this cell does not serve (yet) */
		}
		if(a->active && !memcmp(a->id, id, sizeof(id))){
			if(o->transitions > a->transitions){
				a->transitions = o->transitions;
				a->level = o->level;
				vg_stations_open_alert(vg, o->ward, o->bed, o->alert_id, o->body, o->body ? strlen(o->body) : 0);
			}
			vg_alarms_restore(vg, o, vg_alert_cfg_policy(vg->alerts.cfg, o->ward)); /* an ack or escalation the other instance sent */
			continue;
		}
		slot_open(vg, a, o, id);
		taken++;
	}
	if(taken || ended){
		mosquitto_log_printf(MOSQ_LOG_INFO, "Vitalgate: the cell's other instance: %zu open alert(s) taken over, %zu "
				"ended", taken, ended);
	}
}

void vg_alerts_superseded(struct vg_plugin *vg, const struct vg_c_superseded *c)
{
	size_t i;

	if(vg->alerts.nev != 0){
		return; /* never between an evaluation and its journal append */
	}
	for(i = 0; i < c->n; i++){
		const struct vg_superseded_item *it = &c->items[i];
		struct vg_rec_event *ev;
		struct vg_open_alert o;
		struct vg_alert_st *a;
		uint8_t id[12];

		/* A slot here holding it lets go: its condition has a newer alert. */
		memset(&o, 0, sizeof(o));
		o.kind = it->kind;
		vg_strlcpy(o.device, it->device, sizeof(o.device));
		vg_strlcpy(o.ward, it->ward, sizeof(o.ward));
		vg_strlcpy(o.bed, it->bed, sizeof(o.bed));
		vg_strlcpy(o.vital, it->vital, sizeof(o.vital));
		a = slot_find(vg, &o);
		if(a && a->active && parse_alert_id(it->alert_id, id) && !memcmp(a->id, id, sizeof(id))){
			a->active = false;
		}
		mosquitto_log_printf(MOSQ_LOG_WARNING, "Vitalgate: alert %s closed: another instance of the cell raised the "
				"same condition later (docs/scale-out.md)", it->alert_id);
		if(vg->alerts.nev == VG_REC_MAX_EVENTS){
			vg_alerts_emit(vg);
		}
		ev = &vg->alerts.ev[vg->alerts.nev];
		memset(ev, 0, sizeof(*ev));
		ev->type = VG_AT_RESOLVED;
		ev->kind = it->kind;
		ev->event_id = ev_cstr(vg, it->event_id);
		ev->alert_id = ev_cstr(vg, it->alert_id);
		ev->severity = ev_cstr(vg, "none");
		ev->ward = ev_cstr(vg, it->ward);
		ev->bed = ev_cstr(vg, it->bed);
		ev->device = ev_cstr(vg, it->device);
		ev->order_key = ev_cstr(vg, it->order_key);
		ev->created_ms = it->created_ms;
		ev->body = ev_cstr(vg, it->body);
		if(ev->body.n == 0 || ev->event_id.n == 0){
			continue; /* the scratch is full: stored, delivered at the next start */
		}
		memset(&vg->alerts.pend[vg->alerts.nev], 0, sizeof(vg->alerts.pend[0])); /* ended: its record goes */
		vg->alerts.nev++;
	}
	vg_alerts_emit(vg);
}

/* ---- alarm lifecycle: acks and escalations ------------------------------------ */

/* Adds an alert.acknowledged or alert.escalated event of rec (its lifecycle
 * after the event: lc) to the scratch; its event id derives from the alert
 * id and what it is ("ack", "esc:<level>"), so a repeat (a restart, the
 * cell's other instance) has the same webhook-id. */
static bool add_lifecycle_event(struct vg_plugin *vg, const struct vg_alarm_rec *rec, uint8_t type,
		const struct vg_alarm *lc, unsigned out, const char *by, const char *via, int64_t now_ms)
{
	struct vg_rec_event *ev;
	struct vg_alarm_pend *p;
	struct vg_json j;
	char jbuf[EV_BODY_MAX + 512], key[64], digest[65], evid[72];
	const char *core;

	if(vg->alerts.nev >= VG_REC_MAX_EVENTS){
		return false;
	}
	if(type == VG_AT_ACKNOWLEDGED){
		snprintf(key, sizeof(key), "%s:ack", rec->alert_id);
	}else{
		snprintf(key, sizeof(key), "%s:esc:%u", rec->alert_id, (unsigned)lc->level);
	}
	vg_digest_hex(key, strlen(key), digest, 32);
	snprintf(evid, sizeof(evid), "evt_%s", digest);
	vg_json_init(&j, jbuf, sizeof(jbuf));
	vg_alarms_body(&j, rec, type, lc, by, via, now_ms);
	if(!vg_json_ok(&j) || j.len > EV_BODY_MAX || vg->alerts.evbuf_len + strlen(evid) + strlen(rec->alert_id)
			+ strlen(rec->severity) + strlen(rec->order_key) + strlen(rec->ward) + strlen(rec->bed)
			+ strlen(rec->device) + j.len + 8 > VG_EVBUF_BYTES){
		return false;
	}
	ev = &vg->alerts.ev[vg->alerts.nev];
	memset(ev, 0, sizeof(*ev));
	ev->event_id = ev_cstr(vg, evid);
	ev->alert_id = ev_cstr(vg, rec->alert_id);
	ev->severity = ev_cstr(vg, rec->severity);
	ev->order_key = ev_cstr(vg, rec->order_key);
	ev->ward = ev_cstr(vg, rec->ward);
	ev->bed = ev_cstr(vg, rec->bed);
	ev->device = ev_cstr(vg, rec->device);
	ev->body = ev_str(vg, j.buf, j.len);
	ev->type = type;
	ev->kind = rec->kind;
	ev->created_ms = now_ms;
	ev->open_after = lc->state == VG_ALARM_ENDED ? VG_EV_CLOSES : 0;
	p = &vg->alerts.pend[vg->alerts.nev];
	memset(p, 0, sizeof(*p));
	p->lc = *lc;
	p->out = out;
	vg_strlcpy(p->by, by, sizeof(p->by));
	vg_strlcpy(p->via, via, sizeof(p->via));
	p->escalations = (uint16_t)(rec->escalations + (type == VG_AT_ESCALATED));
	core = strstr(ev->body.p, "\"data\":{");
	if(core && rec->core_len){
		p->core_off = (uint32_t)(core + 8 - ev->body.p);
		p->core_len = (uint32_t)rec->core_len;
	}
	vg->alerts.nev++;
	return true;
}

/* Refuses an ack: 0x87, audited, logged (at most 20 lines a second with the
 * auth refusals' budget). */
static int ack_refuse(struct vg_plugin *vg, const struct vg_ident *e, const char *client_id,
		const struct mosquitto_evt_acl_check *ed, const char *why)
{
	vg->stats.acks_refused++;
	vg_audit_noisy(vg, VG_AUDIT_ALERT_ACK_REFUSED, e->id, client_id, NULL, "%s: %s", ed->topic, why);
	return MOSQ_ERR_ACL_DENIED;
}

int vg_alerts_ack(struct vg_plugin *vg, const struct vg_ident *e, const char *client_id,
		const struct mosquitto_evt_acl_check *ed)
{
	char ward[VG_ID_MAX + 1], aid[32], by[65];
	struct vg_alarm_rec *rec;
	struct vg_alarm lc;
	unsigned out;
	int64_t now_ms = vg_now_ms();
	int rc;

	if(!vg_alarms_ack_topic(ed->topic, ward, sizeof(ward), aid, sizeof(aid))){
		return ack_refuse(vg, e, client_id, ed, "not an ack topic");
	}
	if(!vg_alarms_ack_body(ed->payload, (size_t)ed->payloadlen, by)){
		return ack_refuse(vg, e, client_id, ed, "malformed body (want {\"by\": \"<clinician id>\"})");
	}
	rec = vg_alarms_find(&vg->alarms, aid);
	if(rec == NULL || strcmp(rec->ward, ward) != 0){
		return ack_refuse(vg, e, client_id, ed, "unknown alert");
	}
	if(vg->alerts.nev != 0){
		return ack_refuse(vg, e, client_id, ed, "busy"); /* never between an evaluation and its append */
	}
	lc = rec->lc;
	out = vg_alarm_step(&lc, VG_ALARM_EV_ACK, vg_alert_cfg_policy(vg->alerts.cfg, ward), 0, 0, now_ms);
	if(out & VG_ALARM_OUT_REFUSED){
		return ack_refuse(vg, e, client_id, ed, "unknown alert");
	}
	if(out == 0){
		vg->stats.acks_repeated++;
		vg_audit(vg, VG_AUDIT_ALERT_ACK, e->id, client_id, NULL, "%s by %s: repeated (acknowledged by %s), no change",
				aid, by, rec->by);
		vg_audit_flush(vg);
		return MOSQ_ERR_SUCCESS;
	}
	if(!add_lifecycle_event(vg, rec, VG_AT_ACKNOWLEDGED, &lc, out, by, e->id, now_ms)){
		vg_alerts_discard(vg);
		return ack_refuse(vg, e, client_id, ed, "cannot record the event");
	}
	rc = journal_and_emit(vg); /* rec may be freed from here on */
	if(rc != VG_JOURNAL_OK){
		return ack_refuse(vg, e, client_id, ed, rc == VG_JOURNAL_FULL ? "journal full" : "journal write failed");
	}
	vg_audit(vg, VG_AUDIT_ALERT_ACK, e->id, client_id, NULL, "%s at %s by %s: acknowledged", aid, ward, by);
	vg_audit_flush(vg);
	return MOSQ_ERR_SUCCESS;
}

/* Sends the escalations due now (TICK, once a second, O(open alerts)):
 * VG_REC_MAX_EVENTS to a journal record. On a cell only an instance that
 * serves escalates; the other one would send the same event ids. */
static void escalate_due(struct vg_plugin *vg, int64_t now_ms)
{
	size_t pos = 0;
	struct vg_alarm_rec *rec;
	const char *id, *why;

	if(vg->alarms.open.count == 0 || (vg->cfg.cell && !vg_cells_serving(vg, &why))){
		return;
	}
	while((rec = vg_smap_next(&vg->alarms.open, &pos, &id)) != NULL){
		const struct vg_alarm_policy *pol = vg_alert_cfg_policy(vg->alerts.cfg, rec->ward);
		int64_t due = vg_alarm_next_due(&rec->lc, pol);
		struct vg_alarm lc;
		unsigned out;

		if(due == 0 || now_ms < due){
			continue;
		}
		lc = rec->lc;
		out = vg_alarm_step(&lc, VG_ALARM_EV_TIMER, pol, 0, 0, now_ms);
		if(!(out & VG_ALARM_OUT_ESCALATED)){
			continue;
		}
		if(vg->alerts.nev == VG_REC_MAX_EVENTS){
			break; /* the rest next second (the map must not change while iterated) */
		}
		if(!add_lifecycle_event(vg, rec, VG_AT_ESCALATED, &lc, out, rec->by, rec->via, now_ms)){
			break;
		}
	}
	if(vg->alerts.nev && journal_and_emit(vg) != VG_JOURNAL_OK){
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: cannot journal alert escalations; retrying");
	}
}

/* ---- condition cleared, waiting out the hold -------------------------------- */

/* When a's condition ended while it waits out alert_hold_s, or 0: a
 * threshold alert back inside its bounds (by its margin), a NEWS2 alert
 * whose band stayed below medium since (not a de-escalation). */
static int64_t cleared_since(const struct vg_alert_st *a, bool news2)
{
	if(!a->active || a->calm_since_ms == 0){
		return 0;
	}
	return !news2 || a->calm_level < VG_N2_BAND_MEDIUM ? a->calm_since_ms : 0;
}

void vg_alerts_note_cleared(struct vg_plugin *vg, const struct vg_ident *e, struct vg_device *rt,
		const struct vg_alert_snap *snap)
{
	char aid[32];
	int v;

	if(e->ward[0] == '\0'){
		return;
	}
	for(v = 0; rt && rt->alerts && v < VG_V_COUNT; v++){
		const struct vg_alert_st *a = &rt->alerts->thr[v];
		int64_t now = cleared_since(a, false), was = snap->had_dev ? cleared_since(&snap->dev.thr[v], false) : 0;
		if(now != was && (a->active || was)){
			alert_id_str(a, aid);
			vg_stations_alert_cleared(vg, e->ward, aid, now);
		}
	}
	if(snap->bed){
		const struct vg_alert_st *a = &snap->bed->news2;
		int64_t now = cleared_since(a, true), was = snap->had_bed ? cleared_since(&snap->bed_copy.news2, true) : 0;
		if(now != was && a->active){
			alert_id_str(a, aid);
			vg_stations_alert_cleared(vg, snap->bed->ward, aid, now);
		}
	}
}
