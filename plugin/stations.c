/*
 * stations: see stations.h. Thread: broker thread only.
 *
 * Per-sample cost: one JSON rendering into the reused JSON scratch and one
 * mosquitto_broker_publish_copy. Open alerts are kept per ward in a small
 * array (a ward has tens of open alerts, not thousands) and republished at
 * most once per TICK. The bed's shown sample is per-bed state (beds.c).
 *
 * Memory: the per-ward lists and their copies of each open alert's last
 * event (vg_plugin.stations).
 */
#include "stations.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "beds.h"
#include "vg_json.h"
#include "vg_plugin.h"
#include "vg_sample_json.h"
#include "vg_sbuf.h"
#include "vg_smap.h"

struct open_alert {
	char alert_id[32];
	char *body;                 /* the alert's last event, JSON */
	size_t len;
};

struct ward_alerts {
	struct open_alert *a;
	size_t n, cap;
	bool dirty;
	char ward[VG_ID_MAX + 1];
};

static void free_ward(void *p)
{
	struct ward_alerts *w = p;
	size_t i;

	for(i = 0; i < w->n; i++){
		free(w->a[i].body);
	}
	free(w->a);
	free(w);
}

int vg_stations_init(struct vg_stations *st)
{
	return vg_smap_init(&st->wards, 32);
}

void vg_stations_free(struct vg_stations *st)
{
	vg_smap_destroy(&st->wards, free_ward);
}

static void bed_topic(char *out, size_t len, const char *ward, const char *bed)
{
	vg_concat(out, len, "wards/", ward, "/beds/", bed, "/vitals", (char *)NULL);
}

void vg_stations_on_samples(struct vg_plugin *vg, const struct vg_ident *e, const struct vg_sample *s, int n,
		int64_t now_ms)
{
	char topic[2 * VG_ID_MAX + 32];
	const struct vg_sample *latest = &s[0];
	struct vg_bed *b;
	struct vg_json j;
	int i;

	b = vg_beds_find(&vg->beds, e->ward, e->bed);
	if(b == NULL){
		return;
	}
	for(i = 1; i < n; i++){
		if(s[i].val[VG_F_TS].i > latest->val[VG_F_TS].i){
			latest = &s[i];
		}
	}
	/* A late sample (older than what the bed shows) does not replace it. */
	if(b->shown_device[0] && latest->val[VG_F_TS].i < b->shown_ts){
		return;
	}
	vg_json_init(&j, vg->scratch.jsonbuf, vg->scratch.jsonbuf_cap);
	vg_json_obj_open(&j);
	vg_sample_json_write(&j, e->id, e->ward, e->bed, latest, now_ms);
	if(b->last.parameters > 0){
		vg_sample_json_news2(&j, &b->last, b->spo2_scale);
	}else{
		vg_json_null(&j, "news2");
	}
	vg_json_obj_close(&j);
	if(!vg_json_ok(&j)){
		return;
	}
	bed_topic(topic, sizeof(topic), e->ward, e->bed);
	if(mosquitto_broker_publish_copy(NULL, topic, (int)j.len, j.buf, 0, true, NULL) == MOSQ_ERR_SUCCESS){
		vg_strlcpy(b->shown_device, e->id, sizeof(b->shown_device));
		b->shown_ts = latest->val[VG_F_TS].i;
		vg->stats.bed_updates++;
	}
}

void vg_stations_device_left(struct vg_plugin *vg, const char *id, const char *ward, const char *bed)
{
	char topic[2 * VG_ID_MAX + 32];
	struct vg_bed *b = vg_beds_find(&vg->beds, ward, bed);

	if(b == NULL || strcmp(b->shown_device, id) != 0){
		return; /* another device's sample is what the bed shows */
	}
	bed_topic(topic, sizeof(topic), ward, bed);
	/* A zero-length retained message removes the retained one. */
	mosquitto_broker_publish_copy(NULL, topic, 0, NULL, 0, true, NULL);
	b->shown_device[0] = '\0';
	b->shown_ts = 0;
	mosquitto_log_printf(MOSQ_LOG_INFO, "Vitalgate: cleared %s (%s left the bed)", topic, id);
}

static struct ward_alerts *ward_of(struct vg_plugin *vg, const char *ward)
{
	bool added;
	struct ward_alerts *w = vg_smap_get_or_add(&vg->stations.wards, ward, sizeof(*w), &added);

	if(w && added){
		vg_strlcpy(w->ward, ward, sizeof(w->ward));
	}
	return w;
}

/* Sets (body != NULL) or removes (body == NULL) one open alert. */
static void set_open(struct vg_plugin *vg, const char *ward, const char *alert_id, const char *body, size_t len)
{
	struct ward_alerts *w = ward_of(vg, ward);
	size_t i;
	char *copy = NULL;

	if(w == NULL){
		return;
	}
	for(i = 0; i < w->n && strcmp(w->a[i].alert_id, alert_id); i++){
	}
	if(body == NULL){
		if(i < w->n){
			free(w->a[i].body);
			memmove(&w->a[i], &w->a[i + 1], (w->n - i - 1) * sizeof(w->a[0]));
			w->n--;
			w->dirty = true;
			vg->stations.dirty = true;
		}
		return;
	}
	copy = malloc(len + 1);
	if(copy == NULL){
		return;
	}
	memcpy(copy, body, len);
	copy[len] = '\0';
	if(i == w->n){
		if(w->n == w->cap){
			size_t cap = w->cap ? w->cap * 2 : 8;
			void *p = realloc(w->a, cap * sizeof(w->a[0]));
			if(p == NULL){
				free(copy);
				return;
			}
			w->a = p;
			w->cap = cap;
		}
		vg_strlcpy(w->a[i].alert_id, alert_id, sizeof(w->a[i].alert_id));
		w->a[i].body = NULL;
		w->n++;
	}
	free(w->a[i].body);
	w->a[i].body = copy;
	w->a[i].len = len;
	w->dirty = true;
	vg->stations.dirty = true;
}

void vg_stations_on_alert(struct vg_plugin *vg, const struct vg_rec_event *ev)
{
	if(ev->ward.n == 0){
		return;
	}
	set_open(vg, ev->ward.p, ev->alert_id.p, ev->type == VG_AT_RESOLVED ? NULL : ev->body.p, ev->body.n);
}

void vg_stations_open_alert(struct vg_plugin *vg, const char *ward, const char *alert_id, const char *body, size_t len)
{
	if(ward[0] && body){
		set_open(vg, ward, alert_id, body, len);
	}
}

static void publish_ward(struct vg_plugin *vg, struct ward_alerts *w, int64_t now_ms)
{
	char topic[VG_ID_MAX + 32], ts[32];
	struct vg_sbuf b;
	size_t i;

	vg_sbuf_init(&b);
	vg_rfc3339(now_ms, ts, sizeof(ts));
	/* Ward ids are [A-Za-z0-9_-]: nothing to escape. */
	vg_sbuf_printf(&b, "{\"ward\":\"%s\",\"updated_at\":\"%s\",\"count\":%zu,\"alerts\":[", w->ward, ts, w->n);
	for(i = 0; i < w->n; i++){
		if(i){
			vg_sbuf_putc(&b, ',');
		}
		vg_sbuf_put(&b, w->a[i].body, w->a[i].len);
	}
	vg_sbuf_puts(&b, "]}");
	if(vg_sbuf_ok(&b)){
		snprintf(topic, sizeof(topic), "wards/%s/alerts/active", w->ward);
		mosquitto_broker_publish_copy(NULL, topic, (int)b.len, b.p, 1, true, NULL);
		w->dirty = false;
	}
	vg_sbuf_free(&b);
}

void vg_stations_tick(struct vg_plugin *vg, int64_t now_ms)
{
	size_t i;

	if(!vg->stations.dirty){
		return;
	}
	vg->stations.dirty = false;
	for(i = 0; i < vg->stations.wards.cap; i++){
		struct ward_alerts *w = vg->stations.wards.slots[i].val;
		if(vg->stations.wards.slots[i].key && w && w->dirty){
			publish_ward(vg, w, now_ms);
			vg->stations.dirty |= w->dirty; /* out of memory: try again */
		}
	}
}
