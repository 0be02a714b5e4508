/*
 * stations: see stations.h. Thread: broker thread only.
 *
 * A ward (struct vg_stations_ward) holds an array of frame slots, one per
 * bed its frame shows (a bed with a sample, or with open alerts); the bed
 * (beds.h) knows its slot. Each slot has one block: while the bed waits for
 * its next frame, the newest sample (binary, struct pending); once a frame
 * wrote it, the bed's written part of the frame (its sample and NEWS2 as
 * JSON). A sample copies itself into the block: nothing is written per
 * sample. On TICK a changed ward whose last frame is at least
 * station_frame_ms old gets a new frame: a pending slot is written (and its
 * block keeps what was written), a written one is copied as it is, the
 * bed's open alerts follow; the frame is published (QoS 0, retained) and
 * forgotten. So a bed costs one block (its part of a frame) however often
 * its devices send, and a bed that did not change is never written again.
 *
 * Open alerts are kept per ward in a small array (a ward has tens of open
 * alerts, not thousands), each with its bed; the list is republished on
 * wards/<ward>/alerts/active at most once per TICK.
 *
 * Memory: the wards, their slot arrays and the slots' blocks, alert lists
 * (copies of each open alert's last event) (vg_plugin.stations); the frame
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

/* Frames published by one TICK, at most (at least one frame): the wards'
 * frames fall due together (their first samples came together), and
 * assembling and queueing all of them in one loop pass would stall every
 * client for it and hold every frame's copy at once until Mosquitto's next
 * pass. The rest go in the passes that follow (a fraction of a millisecond
 * apart under load), and the wards drift apart. */
#define FRAME_TICK_BYTES (128 * 1024)

struct open_alert {
	char alert_id[32];
	struct vg_bed *bed;         /* NULL: the alert names no bed */
	char *body;                 /* the alert's last event, JSON */
	size_t len;
	int64_t cleared_ms;         /* its condition ended then and it waits out alert_hold_s; 0: not */
};

/* A slot's block while its bed waits for the next frame. */
struct pending {
	struct vg_sample s;
	int64_t received_ms;
	char device[VG_ID_MAX + 1];
};

enum slot_state {
	SLOT_EMPTY = 0,             /* no sample: written as nulls (open alerts keep the bed shown) */
	SLOT_PENDING,               /* the block holds a struct pending, not written yet */
	SLOT_WRITTEN,               /* the block holds the bed's written part, len bytes */
};

/* The start of a written part: the device id follows (ids need no escape). */
#define PART_PREFIX "{\"sample\":{\"device_id\":\""

/* A bed as its ward's frame shows it. */
struct frame_slot {
	struct vg_bed *bed;
	char *blk;                  /* see slot_state */
	int64_t shown_ts;           /* the sample's measured time (a late one does not replace it) */
	uint16_t len, cap;          /* the written part's length; the block's size */
	uint16_t nalerts;           /* open alerts of the bed */
	uint8_t state;              /* enum slot_state */
};

struct vg_stations_ward {
	struct open_alert *a;
	size_t n, cap;
	bool alerts_dirty;
	bool changed;               /* in vg_stations.changed: a frame is due */
	struct frame_slot *slots;
	uint32_t nslots, slots_cap;
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
	for(i = 0; i < w->nslots; i++){
		free(w->slots[i].blk);
	}
	free(w->slots);
	free(w);
}

int vg_stations_init(struct vg_stations *st)
{
	vg_sbuf_init(&st->frame);
	if(vg_smap_init(&st->alert_wards, 64) != 0){
		return -1;
	}
	return vg_smap_init(&st->wards, 32);
}

void vg_stations_free(struct vg_stations *st)
{
	vg_smap_destroy(&st->wards, free_ward);
	vg_smap_destroy(&st->alert_wards, NULL);
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
		uint32_t cap = w->slots_cap < 64 ? w->slots_cap + 16 : w->slots_cap + w->slots_cap / 4;
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

	if(fs == NULL || fs->state != SLOT_EMPTY || fs->nalerts){
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

/* The block at least n bytes (its content kept); false when out of memory. */
static bool slot_reserve(struct frame_slot *fs, size_t n)
{
	size_t cap;
	char *p;

	if(n <= fs->cap){
		return true;
	}
	cap = (n + 31) & ~(size_t)31;
	if(cap > UINT16_MAX || (p = realloc(fs->blk, cap)) == NULL){
		return false;
	}
	fs->blk = p;
	fs->cap = (uint16_t)cap;
	return true;
}

/* Whose sample the slot shows (n bytes at the result), or NULL. */
static const char *slot_device(const struct frame_slot *fs, size_t *n)
{
	const char *id, *end;

	switch(fs->state){
		case SLOT_PENDING:
			id = ((const struct pending *)(const void *)fs->blk)->device;
			*n = strlen(id);
			return id;
		case SLOT_WRITTEN:
			id = fs->blk + sizeof(PART_PREFIX) - 1;
			end = memchr(id, '"', (size_t)(fs->blk + fs->len - id));
			*n = end ? (size_t)(end - id) : 0;
			return end ? id : NULL;
		default:
			return NULL;
	}
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
	struct vg_news2_result n2;
	struct vg_json j;

	vg_json_init(&j, vg->scratch.jsonbuf, vg->scratch.jsonbuf_cap);
	vg_json_obj_open(&j);
	vg_sample_json_write(&j, e->id, e->ward, e->bed, latest, now_ms);
	if(b->last.parameters > 0){
		vg_bed_news2(b, &n2);
		vg_sample_json_news2(&j, &n2, b->spo2_scale);
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
	struct pending *p;
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
	/* A late sample (older than what the bed shows) does not replace it. */
	if(fs->state != SLOT_EMPTY && latest->val[VG_F_TS].i < fs->shown_ts){
		return;
	}
	if(!slot_reserve(fs, sizeof(struct pending))){
		return;
	}
	p = (struct pending *)(void *)fs->blk;
	p->s = *latest;
	p->received_ms = now_ms;
	vg_strlcpy(p->device, e->id, sizeof(p->device));
	fs->shown_ts = latest->val[VG_F_TS].i;
	fs->state = SLOT_PENDING;
	ward_changed(vg, b->frame);
	if(vg->cfg.bed_topics){
		publish_bed_topic(vg, e, b, latest, now_ms);
	}
}

/* The end of the JSON value at body[i] when it is null or a string
 * without escapes (an id), else 0. */
static size_t id_value_end(const char *body, size_t n, size_t i)
{
	if(n - i >= 4 && !memcmp(body + i, "null", 4)){
		return i + 4;
	}
	if(i < n && body[i] == '"'){
		for(i++; i < n && body[i] != '"' && body[i] != '\\'; i++){
		}
		return i < n && body[i] == '"' ? i + 1 : 0;
	}
	return 0;
}

bool vg_stations_view(const char *body, size_t n, size_t *from, size_t *to)
{
	static const char pk[] = ",\"patient_id\":", ek[] = ",\"encounter_id\":";
	size_t i, j;

	for(i = n; i-- > 0;){
		if(n - i < sizeof(pk) - 1 || memcmp(body + i, pk, sizeof(pk) - 1)){
			continue;
		}
		j = id_value_end(body, n, i + sizeof(pk) - 1);
		if(j == 0 || n - j < sizeof(ek) - 1 || memcmp(body + j, ek, sizeof(ek) - 1)){
			return false;
		}
		j = id_value_end(body, n, j + sizeof(ek) - 1);
		if(j == 0){
			return false;
		}
		*from = i;
		*to = j;
		return true;
	}
	return false;
}

void vg_stations_on_occupancy(struct vg_plugin *vg, struct vg_bed *b)
{
	if(b->frame){
		ward_changed(vg, b->frame);
	}
}

/* The label the core gave the bed's occupant (docs/patient-context.md):
 * only that, and only while the bed is occupied. Labels are printable
 * ASCII without '"' or '\\' (common/vg_occupancy.c): nothing to escape. */
static void write_slot_label(struct vg_sbuf *f, const struct vg_bed *b)
{
	if(b->occ && !b->occ->vacant && b->occ->label[0]){
		vg_sbuf_puts(f, ",\"patient_label\":\"");
		vg_sbuf_puts(f, b->occ->label);
		vg_sbuf_putc(f, '"');
	}
}

void vg_stations_device_left(struct vg_plugin *vg, const char *id, const char *ward, const char *bed)
{
	char topic[2 * VG_ID_MAX + 32];
	struct vg_bed *b = vg_beds_find(&vg->beds, ward, bed);
	struct frame_slot *fs = b ? slot_of(b) : NULL;
	const char *shown;
	size_t n;

	shown = fs ? slot_device(fs, &n) : NULL;
	if(shown == NULL || n != strlen(id) || memcmp(shown, id, n) != 0){
		return; /* another device's sample is what the bed shows */
	}
	fs->state = SLOT_EMPTY;
	fs->shown_ts = 0;
	free(fs->blk);              /* a bed nobody sends from keeps no block */
	fs->blk = NULL;
	fs->cap = fs->len = 0;
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

static void list_changed(struct vg_plugin *vg, struct vg_stations_ward *w)
{
	w->alerts_dirty = true;
	vg->stations.alerts_dirty = true;
	ward_changed(vg, w);
}

/* Takes open alert i out of the ward's list. */
static void open_remove(struct vg_plugin *vg, struct vg_stations_ward *w, size_t i)
{
	vg_smap_del(&vg->stations.alert_wards, w->a[i].alert_id);
	alert_bed_remove(w->a[i].bed);
	free(w->a[i].body);
	memmove(&w->a[i], &w->a[i + 1], (w->n - i - 1) * sizeof(w->a[0]));
	w->n--;
	list_changed(vg, w);
}

static size_t open_find(const struct vg_stations_ward *w, const char *alert_id)
{
	size_t i;

	for(i = 0; i < w->n && strcmp(w->a[i].alert_id, alert_id); i++){
	}
	return i;
}

/* Sets (body != NULL) or removes (body == NULL) one open alert. An alert
 * belongs to the ward and bed its latest event names: one whose device
 * moved leaves its old ward's list (and bed) with its first event from the
 * new place, its end included. */
static void set_open(struct vg_plugin *vg, const char *ward, const char *bed, const char *alert_id, const char *body,
		size_t len)
{
	struct vg_stations_ward *w = ward_of(vg, ward), *was;
	size_t i;
	char *copy = NULL;
	int err;

	if(w == NULL){
		return;
	}
	if(bed == NULL){
		bed = "";
	}
	was = vg_smap_get(&vg->stations.alert_wards, alert_id);
	if(was && was != w && (i = open_find(was, alert_id)) < was->n){
		open_remove(vg, was, i);
	}
	i = open_find(w, alert_id);
	if(body == NULL){
		if(i < w->n){
			open_remove(vg, w, i);
		}
		return;
	}
	{
		/* Without the patient's ids (vg_stations_view). */
		size_t from = len, to = len;
		vg_stations_view(body, len, &from, &to);
		copy = malloc(len + 1);
		if(copy == NULL){
			return;
		}
		memcpy(copy, body, from);
		memcpy(copy + from, body + to, len - to);
		len = from + (len - to);
		copy[len] = '\0';
	}
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
		vg_smap_put(&vg->stations.alert_wards, alert_id, w, &err);
		if(err){
			free(copy);
			return;
		}
		vg_strlcpy(w->a[i].alert_id, alert_id, sizeof(w->a[i].alert_id));
		w->a[i].body = NULL;
		w->a[i].cleared_ms = 0;
		w->a[i].bed = alert_bed_add(vg, ward, bed);
		w->n++;
	}else if(w->a[i].bed == NULL ? bed[0] != '\0' : strcmp(w->a[i].bed->bed, bed) != 0){
		alert_bed_remove(w->a[i].bed);        /* its device moved within the ward */
		w->a[i].bed = alert_bed_add(vg, ward, bed);
	}
	free(w->a[i].body);
	w->a[i].body = copy;
	w->a[i].len = len;
	list_changed(vg, w);
}

void vg_stations_on_alert(struct vg_plugin *vg, const struct vg_rec_event *ev)
{
	/* A latched alert's alert.resolved keeps it listed until its ack. */
	bool closes = ev->open_after == VG_EV_CLOSES || (ev->type == VG_AT_RESOLVED && ev->open_after != VG_EV_STAYS_OPEN);

	if(ev->ward.n == 0){
		return;
	}
	set_open(vg, ev->ward.p, ev->bed.p, ev->alert_id.p, closes ? NULL : ev->body.p, ev->body.n);
}

void vg_stations_open_alert(struct vg_plugin *vg, const char *ward, const char *bed, const char *alert_id,
		const char *body, size_t len)
{
	if(ward[0] && body){
		set_open(vg, ward, bed, alert_id, body, len);
	}
}

void vg_stations_alert_cleared(struct vg_plugin *vg, const char *ward, const char *alert_id, int64_t cleared_ms)
{
	struct vg_stations_ward *w = ward[0] ? vg_smap_get(&vg->stations.wards, ward) : NULL;
	size_t i;

	if(w && (i = open_find(w, alert_id)) < w->n && w->a[i].cleared_ms != cleared_ms){
		w->a[i].cleared_ms = cleared_ms;
		list_changed(vg, w);
	}
}

/* An open alert as stations see it: its last event, with
 * "condition_cleared_at" added while its condition has ended and it waits
 * out alert_hold_s (a latched alert's event says it already). */
static void put_alert(struct vg_sbuf *b, const struct open_alert *a)
{
	char ts[32];

	if(a->cleared_ms == 0 || a->len < 2 || memcmp(a->body + a->len - 2, "}}", 2) != 0
			|| strstr(a->body, "\"condition_cleared_at\"") != NULL){
		vg_sbuf_put(b, a->body, a->len);
		return;
	}
	vg_rfc3339(a->cleared_ms, ts, sizeof(ts));
	vg_sbuf_put(b, a->body, a->len - 2);
	vg_sbuf_puts(b, ",\"condition_cleared_at\":\"");
	vg_sbuf_puts(b, ts);
	vg_sbuf_puts(b, "\"}}");
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
		put_alert(&b, &w->a[i]);
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

/* Writes a pending slot's sample and NEWS2 ("{"sample":...,"news2":...":
 * the bed's object without its alerts and closing brace) into the frame,
 * and keeps what it wrote in the slot's block. */
static void write_slot(struct vg_plugin *vg, struct vg_sbuf *f, const struct vg_stations_ward *w, struct frame_slot *fs)
{
	const struct vg_bed *b = fs->bed;
	const struct pending *p = (const struct pending *)(const void *)fs->blk;
	struct vg_news2_result n2;
	struct vg_json j;

	vg_json_init(&j, vg->scratch.jsonbuf, vg->scratch.jsonbuf_cap);
	vg_json_obj_open(&j);
	vg_json_obj_open_key(&j, "sample");
	vg_sample_json_write(&j, p->device, w->ward, b->bed, &p->s, p->received_ms);
	vg_json_obj_close(&j);
	if(b->last.parameters > 0){
		vg_bed_news2(b, &n2);
		vg_sample_json_news2(&j, &n2, b->spo2_scale);
	}else{
		vg_json_null(&j, "news2");
	}
	/* The part starts with PART_PREFIX: slot_device reads the id there. */
	if(!vg_json_ok(&j) || j.len > UINT16_MAX || !slot_reserve(fs, j.len)){
		vg_sbuf_puts(f, "{\"sample\":null,\"news2\":null"); /* out of memory: written next frame */
		return;
	}
	vg_sbuf_put(f, j.buf, j.len);
	memcpy(fs->blk, j.buf, j.len);
	fs->len = (uint16_t)j.len;
	fs->state = SLOT_WRITTEN;
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
			put_alert(f, &w->a[i]);
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

		if(k){
			vg_sbuf_putc(f, ',');
		}
		vg_sbuf_putc(f, '"');
		vg_sbuf_puts(f, fs->bed->bed);
		vg_sbuf_puts(f, "\":");
		switch(fs->state){
			case SLOT_PENDING:
				write_slot(vg, f, w, fs);
				break;
			case SLOT_WRITTEN:
				vg_sbuf_put(f, fs->blk, fs->len);
				break;
			default:
				vg_sbuf_puts(f, "{\"sample\":null,\"news2\":null");
				break;
		}
		write_slot_label(f, fs->bed);
		write_slot_alerts(f, w, fs);
	}
	vg_sbuf_puts(f, "}}");
	/* (A slot written above keeps its part even if this frame fails: the
	 * next one copies it.) */
	if(!vg_sbuf_ok(f) || f->len > INT32_MAX){
		vg_sbuf_reset(f);
		return false;
	}
	vg_concat(topic, sizeof(topic), "wards/", w->ward, "/vitals", (char *)NULL);
	if(mosquitto_broker_publish_copy(NULL, topic, (int)f->len, f->p, 0, true, NULL) != MOSQ_ERR_SUCCESS){
		return false;
	}
	w->frame_seq++;
	w->frame_mono_ms = mono_ms;
	vg->stats.frames++;
	vg->stats.frame_bytes += f->len;
	return true;
}

void vg_stations_tick(struct vg_plugin *vg, int64_t now_ms, int64_t mono_ms)
{
	struct vg_stations *st = &vg->stations;
	int64_t next = INT64_MAX;
	uint64_t bytes = vg->stats.frame_bytes;
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

		if(mono_ms >= due && vg->stats.frame_bytes - bytes >= FRAME_TICK_BYTES){
			next = mono_ms;          /* this pass did its share: the next one goes on */
			st->changed[j++] = w;
			continue;
		}
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
