/*
 * alarms: the lifecycle records of open alerts, the lifecycle fields of
 * every event, the bodies of acks and escalations, and the ward's alarm
 * load (see alarms.h and docs/alerts.md "Alarm lifecycle").
 *
 * Thread: broker thread. Memory: one struct vg_alarm_rec per open alert
 * (latched ones included) with a copy of its last event's data members,
 * freed when the alert ends; one struct vg_alarm_load per ward that had an
 * alert (kept for the run: /metrics counters).
 */
#include "alarms.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vg_completion.h"
#include "vg_plugin.h"
#include "vg_sbuf.h"

const double vg_alarm_ack_bounds_s[VG_ACK_BUCKETS] = { 5, 10, 15, 30, 45, 60, 90, 120, 180, 300, 600, 1800 };

static void rec_free(void *p)
{
	struct vg_alarm_rec *r = p;

	if(r){
		free(r->core);
		free(r);
	}
}

int vg_alarms_init(struct vg_alarms *a)
{
	if(vg_smap_init(&a->open, 64) != 0){
		return -1;
	}
	return vg_smap_init(&a->load, 16);
}

void vg_alarms_free(struct vg_alarms *a)
{
	vg_smap_destroy(&a->open, rec_free);
	vg_smap_destroy(&a->load, free);
}

struct vg_alarm_rec *vg_alarms_find(struct vg_alarms *a, const char *alert_id)
{
	return vg_smap_get(&a->open, alert_id);
}

int vg_alarms_priority(const struct vg_alarm_policy *p, int kind, int vital, int level)
{
	switch(kind){
		case VG_AK_THRESHOLD:
			return vital >= 0 && vital < VG_V_COUNT ? p->thr[vital] : VG_PRIO_HIGH;
		case VG_AK_NEWS2:
			return level >= VG_N2_BAND_HIGH ? p->news2_high : p->news2_medium;
		default:
			return p->silent;
	}
}

int vg_alarms_category(int kind)
{
	return kind == VG_AK_SILENT ? VG_CAT_TECHNICAL : VG_CAT_PHYSIOLOGICAL;
}

static void put_time(struct vg_json *j, const char *key, int64_t ms)
{
	char ts[32];

	vg_rfc3339(ms, ts, sizeof(ts));
	vg_json_str(j, key, ts);
}

void vg_alarms_json(struct vg_json *j, const struct vg_alarm *lc, const char *by, const char *via, int64_t now_ms)
{
	(void)now_ms;
	vg_json_str(j, "priority", vg_prio_name(lc->prio));
	vg_json_str(j, "category", vg_category_name(lc->category));
	if(lc->raised_ms){
		put_time(j, "raised_at", lc->raised_ms);
	}
	if(lc->acked_ms){
		put_time(j, "acknowledged_at", lc->acked_ms);
		vg_json_str(j, "acknowledged_by", by);
		vg_json_str(j, "acknowledged_via", via);
	}
	if(lc->level){
		vg_json_u64(j, "level", lc->level);
	}
	if(lc->latched){
		vg_json_bool(j, "latched", true);
	}
	if(lc->cleared_ms && lc->latched){
		put_time(j, "condition_cleared_at", lc->cleared_ms);
	}
}

void vg_alarms_on_event(struct vg_plugin *vg, struct vg_alarm_pend *pend, const struct vg_rec_event *evs, int i,
		const char *alert_id, uint8_t type, int prio, int category, int64_t now_ms, struct vg_json *j,
		size_t core_off, bool no_latch, uint8_t *open_after)
{
	struct vg_alarm_pend *p = &pend[i];
	const struct vg_alarm_rec *rec;
	static const struct vg_alarm_policy none; /* the steps used here do not escalate */
	const struct vg_alarm_policy *pol = &none;
	bool have = false;
	int k;

	memset(p, 0, sizeof(*p));
	for(k = i - 1; k >= 0 && !have; k--){
		if(evs[k].alert_id.n && !strcmp(evs[k].alert_id.p, alert_id)){
			p->lc = pend[k].lc;
			memcpy(p->by, pend[k].by, sizeof(p->by));
			memcpy(p->via, pend[k].via, sizeof(p->via));
			p->escalations = pend[k].escalations;
			have = true;
		}
	}
	if(!have && (rec = vg_alarms_find(&vg->alarms, alert_id)) != NULL){
		p->lc = rec->lc;
		memcpy(p->by, rec->by, sizeof(p->by));
		memcpy(p->via, rec->via, sizeof(p->via));
		p->escalations = rec->escalations;
		have = true;
	}
	if(!have && type != VG_AT_RAISED){
		/* An alert with no lifecycle (e.g. raised by a broker of an older
		 * version): it starts now, unacknowledged. */
		vg_alarm_step(&p->lc, VG_ALARM_EV_RAISE, pol, prio, category, now_ms);
	}
	switch(type){
		case VG_AT_RAISED:
			p->out = vg_alarm_step(&p->lc, VG_ALARM_EV_RAISE, pol, prio, category, now_ms);
			p->by[0] = p->via[0] = '\0';
			p->escalations = 0;
			break;
		case VG_AT_UPDATED:
			p->out = vg_alarm_step(&p->lc, VG_ALARM_EV_UPDATE, pol, prio, category, now_ms);
			break;
		case VG_AT_RESOLVED:
			p->out = vg_alarm_step(&p->lc, VG_ALARM_EV_END, pol, prio, category, now_ms);
			if(p->lc.state != VG_ALARM_LATCHED || no_latch){
				p->lc.state = VG_ALARM_ENDED; /* whatever it was: resolved */
				if(no_latch){
					p->lc.latched = 0;
				}
			}
			break;
		default:
			break;
	}
	*open_after = type == VG_AT_RESOLVED && p->lc.state == VG_ALARM_LATCHED ? VG_EV_STAYS_OPEN : 0;
	p->core_off = (uint32_t)core_off;
	p->core_len = (uint32_t)(j->len - core_off);
	vg_alarms_json(j, &p->lc, p->by, p->via, now_ms);
}

static struct vg_alarm_load *load_of(struct vg_plugin *vg, const char *ward)
{
	return ward[0] ? vg_smap_get_or_add(&vg->alarms.load, ward, sizeof(struct vg_alarm_load), NULL) : NULL;
}

static void count(struct vg_plugin *vg, const struct vg_rec_event *ev, const struct vg_alarm_pend *p,
		const struct vg_alarm_rec *before)
{
	struct vg_alarm_load *l = load_of(vg, ev->ward.p);
	int b;

	if(l == NULL){
		return;
	}
	if(ev->type == VG_AT_RAISED){
		l->raised++;
	}else if(ev->type == VG_AT_ESCALATED){
		l->escalated++;
	}else if(ev->type == VG_AT_ACKNOWLEDGED && p->lc.acked_ms){
		double s = (double)(p->lc.acked_ms - p->lc.raised_ms) / 1000.0;
		l->acknowledged++;
		l->ack_count++;
		l->ack_sum_s += s;
		for(b = 0; b < VG_ACK_BUCKETS; b++){
			if(s <= vg_alarm_ack_bounds_s[b]){
				l->ack_le[b]++;
				break;
			}
		}
	}else if(ev->type == VG_AT_RESOLVED && p->lc.acked_ms == 0 && (before == NULL || before->lc.state != VG_ALARM_LATCHED)){
		l->ended_unacked++;
	}
}

void vg_alarms_commit(struct vg_plugin *vg, const struct vg_rec_event *ev, const struct vg_alarm_pend *p)
{
	struct vg_alarm_rec *rec = vg_alarms_find(&vg->alarms, ev->alert_id.p);
	int err = 0;

	count(vg, ev, p, rec);
	if(p->lc.state == VG_ALARM_ENDED){
		if(rec){
			vg_smap_del(&vg->alarms.open, ev->alert_id.p);
			rec_free(rec);
		}
		return;
	}
	if(rec == NULL){
		rec = calloc(1, sizeof(*rec));
		if(rec == NULL){
			return;
		}
		vg_strlcpy(rec->alert_id, ev->alert_id.p, sizeof(rec->alert_id));
		vg_smap_put(&vg->alarms.open, rec->alert_id, rec, &err);
		if(err){
			free(rec);
			return;
		}
	}
	rec->lc = p->lc;
	rec->kind = ev->kind;
	rec->escalations = p->escalations;
	memcpy(rec->by, p->by, sizeof(rec->by));
	memcpy(rec->via, p->via, sizeof(rec->via));
	vg_strlcpy(rec->ward, ev->ward.p, sizeof(rec->ward));
	vg_strlcpy(rec->bed, ev->bed.p, sizeof(rec->bed));
	vg_strlcpy(rec->device, ev->device.p, sizeof(rec->device));
	vg_strlcpy(rec->order_key, ev->order_key.p, sizeof(rec->order_key));
	vg_strlcpy(rec->severity, ev->severity.p, sizeof(rec->severity));
	if(p->core_len && p->core_off + p->core_len <= ev->body.n){
		char *core = malloc(p->core_len);
		if(core){
			memcpy(core, ev->body.p + p->core_off, p->core_len);
			free(rec->core);
			rec->core = core;
			rec->core_len = p->core_len;
		}
	}
}

void vg_alarms_body(struct vg_json *j, const struct vg_alarm_rec *rec, uint8_t type, const struct vg_alarm *lc,
		const char *by, const char *via, int64_t now_ms)
{
	char ts[32];

	vg_rfc3339(now_ms, ts, sizeof(ts));
	vg_json_obj_open(j);
	vg_json_str(j, "type", vg_alert_type_name(type));
	vg_json_str(j, "timestamp", ts);
	vg_json_obj_open_key(j, "data");
	if(rec->core && rec->core_len){
		vg_json_raw(j, NULL, rec->core, rec->core_len);
	}else{
		vg_json_str(j, "alert_id", rec->alert_id);
		vg_json_str(j, "kind", vg_alert_kind_name(rec->kind));
		vg_json_str(j, "ward", rec->ward);
		vg_json_str(j, "bed", rec->bed);
	}
	vg_alarms_json(j, lc, by, via, now_ms);
	vg_json_obj_close(j);
	vg_json_obj_close(j);
}

void vg_alarms_forget(struct vg_plugin *vg, const char *alert_id)
{
	struct vg_alarm_rec *rec = vg_smap_del(&vg->alarms.open, alert_id);

	rec_free(rec);
}

/* ---- acks ------------------------------------------------------------------ */

static bool id_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool vg_alarms_ack_topic(const char *topic, char *ward, size_t wlen, char *alert_id, size_t alen)
{
	const char *w, *a, *p;
	size_t wn, an;

	if(strncmp(topic, "wards/", 6) != 0){
		return false;
	}
	w = topic + 6;
	for(p = w; id_char(*p); p++){
	}
	wn = (size_t)(p - w);
	if(wn == 0 || wn >= wlen || strncmp(p, "/alerts/", 8) != 0){
		return false;
	}
	a = p + 8;
	for(p = a; id_char(*p); p++){
	}
	an = (size_t)(p - a);
	if(an == 0 || an >= alen || strcmp(p, "/ack") != 0){
		return false;
	}
	memcpy(ward, w, wn);
	ward[wn] = '\0';
	memcpy(alert_id, a, an);
	alert_id[an] = '\0';
	return true;
}

static size_t skip_ws(const char *s, size_t i, size_t n)
{
	while(i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')){
		i++;
	}
	return i;
}

bool vg_alarms_ack_body(const void *payload, size_t len, char by[65])
{
	const char *s = payload;
	size_t i = 0, start;

	if(s == NULL || len > 1024){
		return false;
	}
	i = skip_ws(s, i, len);
	if(i >= len || s[i++] != '{'){
		return false;
	}
	i = skip_ws(s, i, len);
	if(len - i < 4 || memcmp(s + i, "\"by\"", 4) != 0){
		return false;
	}
	i = skip_ws(s, i + 4, len);
	if(i >= len || s[i++] != ':'){
		return false;
	}
	i = skip_ws(s, i, len);
	if(i >= len || s[i++] != '"'){
		return false;
	}
	start = i;
	while(i < len && s[i] != '"'){
		i++;
	}
	if(i >= len || !vg_alarm_by_valid(s + start, i - start)){
		return false;
	}
	memcpy(by, s + start, i - start);
	by[i - start] = '\0';
	i = skip_ws(s, i + 1, len);
	if(i >= len || s[i++] != '}'){
		return false;
	}
	return skip_ws(s, i, len) == len;
}

/* ---- restore ------------------------------------------------------------------ */

/* The data members of body without the lifecycle (which add_event writes
 * last, starting with "priority"): what follows "data":{ up to there. */
static bool body_core(const char *body, const char **core, size_t *n)
{
	const char *d = body ? strstr(body, "\"data\":{") : NULL, *end;

	if(d == NULL){
		return false;
	}
	d += 8;
	end = strstr(d, ",\"priority\":");
	if(end == NULL){
		/* A body of an older broker: everything before the closing "}}". */
		size_t len = strlen(d);
		if(len < 2 || strcmp(d + len - 2, "}}") != 0){
			return false;
		}
		end = d + len - 2;
	}
	*core = d;
	*n = (size_t)(end - d);
	return *n > 0;
}

void vg_alarms_restore(struct vg_plugin *vg, const struct vg_open_alert *o, const struct vg_alarm_policy *pol)
{
	struct vg_alarm_rec *rec = vg_alarms_find(&vg->alarms, o->alert_id);
	const char *core;
	size_t n;
	int err = 0;

	if(rec != NULL && rec->lc.level >= o->esc_level && (rec->lc.acked_ms || !o->acked_ms)
			&& (rec->lc.state == VG_ALARM_LATCHED) >= o->latched){
		return; /* this run knows as much */
	}
	if(rec == NULL){
		rec = calloc(1, sizeof(*rec));
		if(rec == NULL){
			return;
		}
		vg_strlcpy(rec->alert_id, o->alert_id, sizeof(rec->alert_id));
		vg_smap_put(&vg->alarms.open, rec->alert_id, rec, &err);
		if(err){
			free(rec);
			return;
		}
	}
	memset(&rec->lc, 0, sizeof(rec->lc));
	rec->lc.state = o->latched ? VG_ALARM_LATCHED : o->acked_ms ? VG_ALARM_ACKED : VG_ALARM_ACTIVE;
	rec->lc.prio = o->prio ? o->prio
		: (uint8_t)vg_alarms_priority(pol, o->kind, vg_vital_index(o->vital), o->level);
	rec->lc.category = (uint8_t)vg_alarms_category(o->kind);
	rec->lc.level = o->esc_level;
	rec->lc.raised_ms = o->raised_ms;
	rec->lc.acked_ms = o->acked_ms;
	rec->lc.cleared_ms = o->cleared_ms;
	rec->lc.latched = o->latched;
	rec->kind = o->kind;
	rec->escalations = o->esc_level;
	vg_strlcpy(rec->by, o->by, sizeof(rec->by));
	vg_strlcpy(rec->via, o->via, sizeof(rec->via));
	vg_strlcpy(rec->ward, o->ward, sizeof(rec->ward));
	vg_strlcpy(rec->bed, o->bed, sizeof(rec->bed));
	vg_strlcpy(rec->device, o->device, sizeof(rec->device));
	if(o->ward[0]){
		snprintf(rec->order_key, sizeof(rec->order_key), "%s/%s", o->ward, o->bed);
	}else{
		snprintf(rec->order_key, sizeof(rec->order_key), "device/%s", o->device[0] ? o->device : "-");
	}
	vg_strlcpy(rec->severity, o->latched ? "none" : o->severity, sizeof(rec->severity));
	if(body_core(o->body, &core, &n)){
		char *c = malloc(n);
		if(c){
			memcpy(c, core, n);
			free(rec->core);
			rec->core = c;
			rec->core_len = n;
		}
	}
}

/* ---- /metrics ------------------------------------------------------------------ */

void vg_alarms_metrics(struct vg_plugin *vg, struct vg_sbuf *b)
{
	static const char *const names[4][2] = {
		{ "vitalgate_alarms_raised_total", "Alerts raised, per ward" },
		{ "vitalgate_alarms_acknowledged_total", "Alerts acknowledged, per ward" },
		{ "vitalgate_alarms_escalated_total", "Escalation events, per ward" },
		{ "vitalgate_alarms_ended_unacknowledged_total", "Alerts whose condition ended before any ack, per ward" },
	};
	size_t pos;
	const char *ward;
	struct vg_alarm_load *l;
	int k, i;

	for(k = 0; k < 4; k++){
		vg_sbuf_printf(b, "# HELP %s %s\n# TYPE %s counter\n", names[k][0], names[k][1], names[k][0]);
		pos = 0;
		while((l = vg_smap_next(&vg->alarms.load, &pos, &ward)) != NULL){
			uint64_t v = k == 0 ? l->raised : k == 1 ? l->acknowledged : k == 2 ? l->escalated : l->ended_unacked;
			vg_sbuf_printf(b, "%s{ward=\"%s\"} %" PRIu64 "\n", names[k][0], ward, v);
		}
	}
	vg_sbuf_puts(b, "# HELP vitalgate_alarm_time_to_ack_seconds Time from raise to first ack, per ward\n"
			"# TYPE vitalgate_alarm_time_to_ack_seconds histogram\n");
	pos = 0;
	while((l = vg_smap_next(&vg->alarms.load, &pos, &ward)) != NULL){
		uint64_t cum = 0;
		for(i = 0; i < VG_ACK_BUCKETS; i++){
			cum += l->ack_le[i];
			vg_sbuf_printf(b, "vitalgate_alarm_time_to_ack_seconds_bucket{ward=\"%s\",le=\"%g\"} %" PRIu64 "\n", ward,
					vg_alarm_ack_bounds_s[i], cum);
		}
		vg_sbuf_printf(b, "vitalgate_alarm_time_to_ack_seconds_bucket{ward=\"%s\",le=\"+Inf\"} %" PRIu64 "\n"
				"vitalgate_alarm_time_to_ack_seconds_sum{ward=\"%s\"} %.3f\n"
				"vitalgate_alarm_time_to_ack_seconds_count{ward=\"%s\"} %" PRIu64 "\n", ward, l->ack_count, ward,
				l->ack_sum_s, ward, l->ack_count);
	}
}
