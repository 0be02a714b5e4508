/*
 * stations: see stations.h. Thread: broker thread only.
 *
 * A ward (struct vg_stations_ward) holds an array of frame slots, one per
 * bed its frame shows (a bed with a sample, or with open alerts); the bed
 * (beds.h) knows its slot. A sample copies itself into the slot and marks
 * it dirty: nothing is written per sample. On TICK a changed ward whose
 * last frame is at least station_frame_ms old gets a new frame: each dirty
 * slot is written (sample and NEWS2), each clean one is copied from the
 * ward's previous frame (the slot remembers where its part is), the bed's
 * open alerts follow; the frame is published (QoS 0, retained) and kept as
 * the copy source of the next one.
 *
 * Open alerts are kept per ward in a small array (a ward has tens of open
 * alerts, not thousands), each with its bed; the list is republished on
 * wards/<ward>/alerts/active at most once per TICK.
 *
 * Memory: the wards, their slot arrays, alert lists (copies of each open
 * alert's last event) and last frames (vg_plugin.stations); the frame
 * being assembled is reused.
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
	struct vg_bed *bed;         /* NULL: the alert names no bed */
	char *body;                 /* the alert's last event, JSON */
	size_t len;
};

/* A bed as its ward's frame shows it. */
struct frame_slot {
	struct vg_bed *bed;
	struct vg_sample s;         /* the newest sample (has_sample) */
	int64_t received_ms;        /* when it was accepted */
	uint32_t off, len;          /* its written part in the ward's last frame (len 0: none) */
	uint16_t nalerts;           /* open alerts of the bed */
	bool has_sample;
	bool dirty;                 /* changed since its part was written */
	char device[VG_ID_MAX + 1]; /* whose sample it is */
};

struct vg_stations_ward {
	struct open_alert *a;
	size_t n, cap;
	bool alerts_dirty;
	bool changed;               /* in vg_stations.changed: a frame is due */
	struct frame_slot *slots;
	uint32_t nslots, slots_cap;
	char *frame;                /* the last frame published */
	size_t frame_len, frame_cap;
	uint64_t frame_seq;         /* frames published this run */
	int64_t frame_mono_ms;      /* when */
	char ward[VG_ID_MAX + 1];
};

static void free_ward(void *p)
{
	struct vg_stations_ward *w = p;
	size_t i;

	for(i = 0; i < w->n; i++){
		free(w->a[i].body);
	}
	free(w->a);
	free(w->slots);
	free(w->frame);
	free(w);
}

int vg_stations_init(struct vg_stations *st)
{
	vg_sbuf_init(&st->frame);
	return vg_smap_init(&st->wards, 32);
}

void vg_stations_free(struct vg_stations *st)
{
	vg_smap_destroy(&st->wards, free_ward);
	free(st->changed);
	st->changed = NULL;
	st->nchanged = st->changed_cap = 0;
	vg_sbuf_free(&st->frame);
}

static struct vg_stations_ward *ward_of(struct vg_plugin *vg, const char *ward)
{
	bool added;
	struct vg_stations_ward *w = vg_smap_get_or_add(&vg->stations.wards, ward, sizeof(*w), &added);

	if(w && added){
		vg_strlcpy(w->ward, ward, sizeof(w->ward));
	}
	return w;
}

/* The ward's frame is due: at once if its last frame is station_frame_ms
 * old, else when it will be. */
static void ward_changed(struct vg_plugin *vg, struct vg_stations_ward *w)
{
	struct vg_stations *st = &vg->stations;
	int64_t due;

	if(w->changed){
		return;
	}
	if(st->nchanged == st->changed_cap){
		size_t cap = st->changed_cap ? st->changed_cap * 2 : 32;
		void *p = realloc(st->changed, cap * sizeof(st->changed[0]));
		if(p == NULL){
			return; /* out of memory: the next change tries again */
		}
		st->changed = p;
		st->changed_cap = cap;
	}
	st->changed[st->nchanged++] = w;
	w->changed = true;
	due = w->frame_seq ? w->frame_mono_ms + vg->cfg.station_frame_ms : 0;
	if(st->nchanged == 1 || due < st->next_due_ms){
		st->next_due_ms = due;
	}
}

/* ---- frame slots ----------------------------------------------------------- */

static struct frame_slot *slot_of(struct vg_bed *b)
{
	return b->frame ? &b->frame->slots[b->frame_slot] : NULL;
}

/* The bed's slot in its ward's frame, added (empty) when it has none. */
static struct frame_slot *slot_get(struct vg_plugin *vg, struct vg_bed *b)
{
	struct vg_stations_ward *w;
	struct frame_slot *fs;

	if(b->frame){
		return &b->frame->slots[b->frame_slot];
	}
	w = ward_of(vg, b->ward);
	if(w == NULL){
		return NULL;
	}
	if(w->nslots == w->slots_cap){
		uint32_t cap = w->slots_cap ? w->slots_cap * 2 : 8;
		void *p = realloc(w->slots, cap * sizeof(w->slots[0]));
		if(p == NULL){
			return NULL;
		}
		w->slots = p;
		w->slots_cap = cap;
	}
	fs = &w->slots[w->nslots];
	memset(fs, 0, sizeof(*fs));
	fs->bed = b;
	fs->dirty = true;
	b->frame = w;
	b->frame_slot = w->nslots++;
	return fs;
}

/* A slot with neither a sample nor open alerts leaves the frame (the last
 * slot moves into its place). */
static void slot_drop_if_empty(struct vg_bed *b)
{
	struct vg_stations_ward *w = b->frame;
	struct frame_slot *fs = slot_of(b);
	uint32_t k;

	if(fs == NULL || fs->has_sample || fs->nalerts){
		return;
	}
	k = b->frame_slot;
	if(k != w->nslots - 1){
		w->slots[k] = w->slots[w->nslots - 1];
		w->slots[k].bed->frame_slot = k;
	}
	w->nslots--;
	b->frame = NULL;
	b->frame_slot = 0;
}

/* ---- v1 per-bed topics (bed_topics) ------------------------------------------ */

static void bed_topic(char *out, size_t len, const char *ward, const char *bed)
{
	vg_concat(out, len, "wards/", ward, "/beds/", bed, "/vitals", (char *)NULL);
}

static void publish_bed_topic(struct vg_plugin *vg, const struct vg_ident *e, const struct vg_bed *b,
		const struct vg_sample *latest, int64_t now_ms)
{
	char topic[2 * VG_ID_MAX + 32];
	struct vg_json j;

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
		vg->stats.bed_updates++;
	}
}

/* ---- samples ------------------------------------------------------------------ */

void vg_stations_on_samples(struct vg_plugin *vg, const struct vg_ident *e, struct vg_bed **bed_cache,
		const struct vg_sample *s, int n, int64_t now_ms)
{
	const struct vg_sample *latest = &s[0];
	struct frame_slot *fs;
	struct vg_bed *b;
	int i;

	b = vg_beds_find_cached(&vg->beds, e->ward, e->bed, bed_cache);
	if(b == NULL || (fs = slot_get(vg, b)) == NULL){
		return;
	}
	for(i = 1; i < n; i++){
		if(s[i].val[VG_F_TS].i > latest->val[VG_F_TS].i){
			latest = &s[i];
		}
	}
	/* The bed's NEWS2 moved with the message whatever it shows. */
	fs->dirty = true;
	ward_changed(vg, b->frame);
	/* A late sample (older than what the bed shows) does not replace it. */
	if(fs->has_sample && latest->val[VG_F_TS].i < fs->s.val[VG_F_TS].i){
		return;
	}
	fs->s = *latest;
	fs->received_ms = now_ms;
	fs->has_sample = true;
	if(strcmp(fs->device, e->id) != 0){
		vg_strlcpy(fs->device, e->id, sizeof(fs->device));
	}
	if(vg->cfg.bed_topics){
		publish_bed_topic(vg, e, b, latest, now_ms);
	}
}

void vg_stations_device_left(struct vg_plugin *vg, const char *id, const char *ward, const char *bed)
{
	char topic[2 * VG_ID_MAX + 32];
	struct vg_bed *b = vg_beds_find(&vg->beds, ward, bed);
	struct frame_slot *fs = b ? slot_of(b) : NULL;

	if(fs == NULL || !fs->has_sample || strcmp(fs->device, id) != 0){
		return; /* another device's sample is what the bed shows */
	}
	fs->has_sample = false;
	fs->device[0] = '\0';
	fs->dirty = true;
	ward_changed(vg, b->frame);
	slot_drop_if_empty(b);
	if(vg->cfg.bed_topics){
		bed_topic(topic, sizeof(topic), ward, bed);
		/* A zero-length retained message removes the retained one. */
		mosquitto_broker_publish_copy(NULL, topic, 0, NULL, 0, true, NULL);
	}
	mosquitto_log_printf(MOSQ_LOG_INFO, "Vitalgate: bed %s/%s cleared from the ward's frame (%s left the bed)", ward, bed, id);
}

/* ---- open alerts --------------------------------------------------------------- */

/* The alert's bed: counted in its frame slot (the bed shows in the frame
 * while it has open alerts, with or without a sample). */
static struct vg_bed *alert_bed_add(struct vg_plugin *vg, const char *ward, const char *bed)
{
	struct vg_bed *b;
	struct frame_slot *fs;

	if(bed == NULL || bed[0] == '\0' || (b = vg_beds_get(&vg->beds, ward, bed, vg->alerts.cfg)) == NULL
			|| (fs = slot_get(vg, b)) == NULL){
		return NULL;
	}
	fs->nalerts++;
	return b;
}

static void alert_bed_remove(struct vg_bed *b)
{
	struct frame_slot *fs = b ? slot_of(b) : NULL;

	if(fs && fs->nalerts){
		fs->nalerts--;
		slot_drop_if_empty(b);
	}
}

/* Sets (body != NULL) or removes (body == NULL) one open alert. */
static void set_open(struct vg_plugin *vg, const char *ward, const char *bed, const char *alert_id, const char *body,
		size_t len)
{
	struct vg_stations_ward *w = ward_of(vg, ward);
	size_t i;
	char *copy = NULL;

	if(w == NULL){
		return;
	}
	for(i = 0; i < w->n && strcmp(w->a[i].alert_id, alert_id); i++){
	}
	if(body == NULL){
		if(i < w->n){
			alert_bed_remove(w->a[i].bed);
			free(w->a[i].body);
			memmove(&w->a[i], &w->a[i + 1], (w->n - i - 1) * sizeof(w->a[0]));
			w->n--;
			w->alerts_dirty = true;
			vg->stations.alerts_dirty = true;
			ward_changed(vg, w);
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
		w->a[i].bed = alert_bed_add(vg, ward, bed);
		w->n++;
	}
	free(w->a[i].body);
	w->a[i].body = copy;
	w->a[i].len = len;
	w->alerts_dirty = true;
	vg->stations.alerts_dirty = true;
	ward_changed(vg, w);
}

void vg_stations_on_alert(struct vg_plugin *vg, const struct vg_rec_event *ev)
{
	if(ev->ward.n == 0){
		return;
	}
	set_open(vg, ev->ward.p, ev->bed.p, ev->alert_id.p, ev->type == VG_AT_RESOLVED ? NULL : ev->body.p, ev->body.n);
}

void vg_stations_open_alert(struct vg_plugin *vg, const char *ward, const char *bed, const char *alert_id,
		const char *body, size_t len)
{
	if(ward[0] && body){
		set_open(vg, ward, bed, alert_id, body, len);
	}
}

static void publish_alert_list(struct vg_plugin *vg, struct vg_stations_ward *w, int64_t now_ms)
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
		vg_concat(topic, sizeof(topic), "wards/", w->ward, "/alerts/active", (char *)NULL);
		mosquitto_broker_publish_copy(NULL, topic, (int)b.len, b.p, 1, true, NULL);
		w->alerts_dirty = false;
	}
	vg_sbuf_free(&b);
}

/* ---- frames ------------------------------------------------------------------- */

/* Writes a slot's sample and NEWS2 ("{"sample":...,"news2":..." : the
 * bed's object without its alerts and closing brace) into the frame. */
static void write_slot(struct vg_plugin *vg, struct vg_sbuf *f, const struct vg_stations_ward *w,
		const struct frame_slot *fs)
{
	const struct vg_bed *b = fs->bed;
	struct vg_json j;

	vg_json_init(&j, vg->scratch.jsonbuf, vg->scratch.jsonbuf_cap);
	vg_json_obj_open(&j);
	if(fs->has_sample){
		vg_json_obj_open_key(&j, "sample");
		vg_sample_json_write(&j, fs->device, w->ward, b->bed, &fs->s, fs->received_ms);
		vg_json_obj_close(&j);
	}else{
		vg_json_null(&j, "sample");
	}
	if(fs->has_sample && b->last.parameters > 0){
		vg_sample_json_news2(&j, &b->last, b->spo2_scale);
	}else{
		vg_json_null(&j, "news2");
	}
	if(vg_json_ok(&j)){
		vg_sbuf_put(f, j.buf, j.len);
	}else{
		vg_sbuf_puts(f, "{\"sample\":null,\"news2\":null"); /* cannot happen: a sample's JSON is bounded */
	}
}

/* The bed's open alerts: each one's last event, as on alerts/active. */
static void write_slot_alerts(struct vg_sbuf *f, const struct vg_stations_ward *w, const struct frame_slot *fs)
{
	size_t i;
	uint16_t found = 0;

	vg_sbuf_puts(f, ",\"alerts\":[");
	for(i = 0; i < w->n && found < fs->nalerts; i++){
		if(w->a[i].bed == fs->bed){
			if(found++){
				vg_sbuf_putc(f, ',');
			}
			vg_sbuf_put(f, w->a[i].body, w->a[i].len);
		}
	}
	vg_sbuf_puts(f, "]}");
}

/* Assembles and publishes the ward's frame; false when out of memory (the
 * ward stays changed, tried again next TICK). */
static bool publish_frame(struct vg_plugin *vg, struct vg_stations_ward *w, int64_t now_ms, int64_t mono_ms)
{
	struct vg_sbuf *f = &vg->stations.frame;
	char topic[VG_ID_MAX + 16], ts[32];
	uint32_t k;

	vg_sbuf_reset(f);
	vg_rfc3339(now_ms, ts, sizeof(ts));
	/* Ward and bed ids are [A-Za-z0-9_-]: nothing to escape. */
	vg_sbuf_puts(f, "{\"ward\":\"");
	vg_sbuf_puts(f, w->ward);
	vg_sbuf_puts(f, "\",\"frame_seq\":");
	vg_sbuf_u64(f, w->frame_seq + 1);
	vg_sbuf_puts(f, ",\"updated_at\":\"");
	vg_sbuf_puts(f, ts);
	vg_sbuf_puts(f, "\",\"beds\":{");
	for(k = 0; k < w->nslots; k++){
		struct frame_slot *fs = &w->slots[k];
		size_t at;

		if(k){
			vg_sbuf_putc(f, ',');
		}
		vg_sbuf_putc(f, '"');
		vg_sbuf_puts(f, fs->bed->bed);
		vg_sbuf_puts(f, "\":");
		at = f->len;
		if(fs->dirty || fs->len == 0){
			write_slot(vg, f, w, fs);
		}else{
			vg_sbuf_put(f, w->frame + fs->off, fs->len);
		}
		/* Where its part will be in w->frame (copied from f below). */
		fs->off = (uint32_t)at;
		fs->len = (uint32_t)(f->len - at);
		write_slot_alerts(f, w, fs);
	}
	vg_sbuf_puts(f, "}}");
	if(!vg_sbuf_ok(f) || f->len > UINT32_MAX){
		for(k = 0; k < w->nslots; k++){
			w->slots[k].len = 0;    /* the offsets point nowhere: write each again */
		}
		vg_sbuf_reset(f);
		return false;
	}
	/* Kept as the next frame's copy source, at its size (a ward's frames
	 * are about as big from one to the next). */
	if(w->frame_cap < f->len || w->frame_cap > f->len + f->len / 4 + 4096){
		size_t cap = f->len + f->len / 8;
		char *p = realloc(w->frame, cap);
		if(p == NULL){
			for(k = 0; k < w->nslots; k++){
				w->slots[k].len = 0;
			}
			return false;
		}
		w->frame = p;
		w->frame_cap = cap;
	}
	memcpy(w->frame, f->p, f->len);
	w->frame_len = f->len;
	for(k = 0; k < w->nslots; k++){
		w->slots[k].dirty = false;
	}
	vg_concat(topic, sizeof(topic), "wards/", w->ward, "/vitals", (char *)NULL);
	if(mosquitto_broker_publish_copy(NULL, topic, (int)w->frame_len, w->frame, 0, true, NULL) != MOSQ_ERR_SUCCESS){
		return false;
	}
	w->frame_seq++;
	w->frame_mono_ms = mono_ms;
	vg->stats.frames++;
	vg->stats.frame_bytes += w->frame_len;
	return true;
}

void vg_stations_tick(struct vg_plugin *vg, int64_t now_ms, int64_t mono_ms)
{
	struct vg_stations *st = &vg->stations;
	int64_t next = INT64_MAX;
	size_t i, j;

	if(st->alerts_dirty){
		st->alerts_dirty = false;
		for(i = 0; i < st->wards.cap; i++){
			struct vg_stations_ward *w = st->wards.slots[i].val;
			if(st->wards.slots[i].key && w && w->alerts_dirty){
				publish_alert_list(vg, w, now_ms);
				st->alerts_dirty |= w->alerts_dirty; /* out of memory: try again */
			}
		}
	}
	if(st->nchanged == 0 || mono_ms < st->next_due_ms){
		return;
	}
	for(i = j = 0; i < st->nchanged; i++){
		struct vg_stations_ward *w = st->changed[i];
		int64_t due = w->frame_seq ? w->frame_mono_ms + vg->cfg.station_frame_ms : 0;

		if(mono_ms >= due && publish_frame(vg, w, now_ms, mono_ms)){
			w->changed = false;
			continue;
		}
		if(mono_ms >= due){
			due = mono_ms + vg->cfg.station_frame_ms; /* out of memory: later */
		}
		next = due < next ? due : next;
		st->changed[j++] = w;
	}
	st->nchanged = j;
	st->next_due_ms = next;
}
