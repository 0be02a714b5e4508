/*
 * beds: per-bed state (see beds.h).
 *
 * Thread: broker thread. Memory: owns the bed map and its beds (each one
 * allocation: the struct, then "ward\0bed\0"), and each described bed's
 * occupancy (one allocation, freed with the bed).
 */
#include "beds.h"

#include <stdlib.h>
#include <string.h>

static void free_bed(void *p)
{
	struct vg_bed *b = p;

	if(b){
		free(b->occ);
	}
	free(b);
}

int vg_beds_init(struct vg_beds *b, size_t cap_hint)
{
	return vg_smap_init(&b->map, cap_hint);
}

void vg_beds_free(struct vg_beds *b)
{
	vg_smap_destroy(&b->map, free_bed);
}

static uint8_t bed_scale(const struct vg_alert_cfg *cfg, const char *key)
{
	size_t i;

	for(i = 0; cfg && i < cfg->nscale2; i++){
		if(!strcmp(cfg->scale2[i], key)){
			return 2;
		}
	}
	return 1;
}

struct vg_bed *vg_beds_find(const struct vg_beds *b, const char *ward, const char *bed)
{
	char key[2 * (VG_ID_MAX + 1)];

	if(ward[0] == '\0'){
		return NULL;
	}
	vg_concat(key, sizeof(key), ward, "/", bed, (char *)NULL);
	return vg_smap_get(&b->map, key);
}

struct vg_bed *vg_beds_find_cached(const struct vg_beds *b, const char *ward, const char *bed, struct vg_bed **cache)
{
	struct vg_bed *c = *cache;

	if(c && !strcmp(c->bed, bed) && !strcmp(c->ward, ward)){
		return c;
	}
	c = vg_beds_find(b, ward, bed);
	if(c){
		*cache = c;
	}
	return c;
}

/* One allocation: the bed, then its ward and bed names. */
static struct vg_bed *new_bed(const char *ward, const char *bed)
{
	size_t wl = strlen(ward) + 1, bl = strlen(bed) + 1;
	struct vg_bed *bd = calloc(1, sizeof(*bd) + wl + bl);
	char *names;

	if(bd == NULL){
		return NULL;
	}
	names = (char *)(bd + 1);
	memcpy(names, ward, wl);
	memcpy(names + wl, bed, bl);
	bd->ward = names;
	bd->bed = names + wl;
	return bd;
}

struct vg_bed *vg_beds_get(struct vg_beds *b, const char *ward, const char *bed, const struct vg_alert_cfg *cfg)
{
	char key[2 * (VG_ID_MAX + 1)];
	struct vg_bed *bd;
	int err;

	if(ward[0] == '\0'){
		return NULL;
	}
	vg_concat(key, sizeof(key), ward, "/", bed, (char *)NULL);
	bd = vg_smap_get(&b->map, key);
	if(bd != NULL){
		return bd;
	}
	bd = new_bed(ward, bed);
	if(bd == NULL){
		return NULL;
	}
	bd->spo2_scale = bed_scale(cfg, key);
	vg_smap_put(&b->map, key, bd, &err);
	if(err){
		free(bd);
		return NULL;
	}
	return bd;
}

void vg_beds_remove(struct vg_beds *b, const char *ward, const char *bed)
{
	char key[2 * (VG_ID_MAX + 1)];
	struct vg_bed *bd;

	if(ward[0]){
		vg_concat(key, sizeof(key), ward, "/", bed, (char *)NULL);
		bd = vg_smap_get(&b->map, key);
		if(bd && bd->frame == NULL && bd->occ == NULL){
			free(vg_smap_del(&b->map, key));
		}
	}
}

void vg_beds_apply_settings(struct vg_beds *b, const struct vg_alert_cfg *cfg)
{
	size_t i;

	for(i = 0; i < b->map.cap; i++){
		struct vg_bed *bd = b->map.slots[i].val;
		if(b->map.slots[i].key && bd){
			bd->spo2_scale = bed_scale(cfg, b->map.slots[i].key);
		}
	}
}

void vg_bed_take_sample(struct vg_bed *b, const struct vg_sample *s)
{
	int64_t at = s->val[VG_F_TS].i;
	int p, f;

	for(p = 0; p < VG_N2_COUNT; p++){
		f = vg_news2_field[p];  /* generated from schemas/vitals/v1.json */
		if(!VG_SAMPLE_HAS(s, f)){
			continue;
		}
		/* The latest measurement wins, whichever device sent it; an older
		 * sample arriving late does not overwrite a newer one. */
		if(b->p[p].at_ms != 0 && b->p[p].at_ms > at){
			continue;
		}
		b->p[p].at_ms = at;
		switch(vg_fields[f].type){
			case VG_T_NUMBER: b->p[p].v = s->val[f].d; break;
			case VG_T_BOOL: b->p[p].v = s->val[f].b ? 1 : 0; break;
			case VG_T_ENUM: b->p[p].v = (unsigned char)s->val[f].c; break;
			default: b->p[p].v = (double)s->val[f].u; break;
		}
	}
}

bool vg_bed_restore_param(struct vg_bed *b, int param, int64_t at_ms, double v)
{
	if(param < 0 || param >= VG_N2_COUNT || at_ms == 0 || (b->p[param].at_ms != 0 && b->p[param].at_ms >= at_ms)){
		return false;
	}
	b->p[param].at_ms = at_ms;
	b->p[param].v = v;
	return true;
}

void vg_bed_score(struct vg_bed *b, int64_t now_ms, int64_t max_age_ms)
{
	struct vg_news2_result r;
	struct vg_news2_input in;
	int p;

	memset(&in, 0, sizeof(in));
	for(p = 0; p < VG_N2_COUNT; p++){
		/* Parameters older than news2_max_age_s do not count. */
		if(b->p[p].at_ms != 0 && now_ms - b->p[p].at_ms <= max_age_ms){
			in.have |= 1u << p;
		}
	}
	in.rr = (int)b->p[VG_N2_RR].v;
	in.spo2 = (int)b->p[VG_N2_SPO2].v;
	in.oxygen = b->p[VG_N2_AIR_O2].v != 0;
	in.sbp = (int)b->p[VG_N2_SBP].v;
	in.pulse = (int)b->p[VG_N2_PULSE].v;
	in.avpu = (char)b->p[VG_N2_CONSC].v;
	in.temp = b->p[VG_N2_TEMP].v;
	in.spo2_scale = b->spo2_scale;
	vg_news2_score(&in, &r);
	/* Kept packed: points -1..3, score 0..20, band and count tiny. */
	for(p = 0; p < VG_N2_COUNT; p++){
		b->last.points[p] = (int8_t)r.points[p];
	}
	b->last.score = (uint8_t)r.score;
	b->last.parameters = (uint8_t)r.parameters;
	b->last.band = (uint8_t)r.band;
	b->last.any_three = r.any_three;
}

void vg_bed_news2(const struct vg_bed *b, struct vg_news2_result *out)
{
	int p;

	for(p = 0; p < VG_N2_COUNT; p++){
		out->points[p] = b->last.points[p];
	}
	out->score = b->last.score;
	out->parameters = b->last.parameters;
	out->band = (enum vg_news2_band)b->last.band;
	out->any_three = b->last.any_three;
}

bool vg_bed_occupancy_same(const struct vg_bed *b, const struct vg_occupancy *o)
{
	const struct vg_occupancy *c = b ? b->occ : NULL;

	if(c == NULL){
		return false;
	}
	if(c->vacant || o->vacant){
		return c->vacant && o->vacant;   /* vacant already: it stays so since it became so */
	}
	return c->since_ms == o->since_ms && !strcmp(c->patient, o->patient) && !strcmp(c->encounter, o->encounter)
		&& !strcmp(c->label, o->label);
}

int vg_bed_set_occupancy(struct vg_bed *b, const struct vg_occupancy *o)
{
	struct vg_occupancy *c = b->occ;
	bool same_occupant;

	if(vg_bed_occupancy_same(b, o)){
		return 0;
	}
	if(c == NULL){
		c = calloc(1, sizeof(*c));
		if(c == NULL){
			return -1;
		}
		b->occ = c;
	}
	same_occupant = !c->vacant && !o->vacant && !strcmp(c->patient, o->patient) && c->since_ms != 0;
	*c = *o;
	if(!same_occupant){
		/* Another patient (or nobody): the previous one's NEWS2 inputs
		 * say nothing about them. */
		memset(b->p, 0, sizeof(b->p));
		memset(&b->last, 0, sizeof(b->last));
	}
	return 1;
}

bool vg_bed_vacant(const struct vg_bed *b)
{
	return b && b->occ && b->occ->vacant;
}

const struct vg_occupancy *vg_bed_occupant_at(const struct vg_bed *b, int64_t ts_ms)
{
	if(b == NULL || b->occ == NULL || b->occ->vacant || ts_ms < b->occ->since_ms){
		return NULL;
	}
	return b->occ;
}
