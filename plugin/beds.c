/*
 * beds: per-bed state (see beds.h).
 *
 * Thread: broker thread. Memory: owns the bed map and its beds.
 */
#include "beds.h"

#include <stdlib.h>
#include <string.h>

static void free_bed(void *p)
{
	free(p);
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

struct vg_bed *vg_beds_get(struct vg_beds *b, const char *ward, const char *bed, const struct vg_alert_cfg *cfg)
{
	char key[2 * (VG_ID_MAX + 1)];
	struct vg_bed *bd;
	bool added;

	if(ward[0] == '\0'){
		return NULL;
	}
	vg_concat(key, sizeof(key), ward, "/", bed, (char *)NULL);
	bd = vg_smap_get_or_add(&b->map, key, sizeof(*bd), &added);
	if(bd && added){
		vg_strlcpy(bd->ward, ward, sizeof(bd->ward));
		vg_strlcpy(bd->bed, bed, sizeof(bd->bed));
		bd->spo2_scale = bed_scale(cfg, key);
	}
	return bd;
}

void vg_beds_remove(struct vg_beds *b, const char *ward, const char *bed)
{
	char key[2 * (VG_ID_MAX + 1)];

	if(ward[0]){
		vg_concat(key, sizeof(key), ward, "/", bed, (char *)NULL);
		free(vg_smap_del(&b->map, key));
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
		if(b->p[p].has && b->p[p].at_ms > at){
			continue;
		}
		b->p[p].has = true;
		b->p[p].at_ms = at;
		switch(vg_fields[f].type){
			case VG_T_NUMBER: b->p[p].v = s->val[f].d; break;
			case VG_T_BOOL: b->p[p].v = s->val[f].b ? 1 : 0; break;
			case VG_T_ENUM: b->p[p].v = (unsigned char)s->val[f].c; break;
			default: b->p[p].v = (double)s->val[f].u; break;
		}
	}
}

void vg_bed_score(struct vg_bed *b, int64_t now_ms, int64_t max_age_ms)
{
	struct vg_news2_input in;
	int p;

	memset(&in, 0, sizeof(in));
	for(p = 0; p < VG_N2_COUNT; p++){
		/* Parameters older than news2_max_age_s do not count. */
		if(b->p[p].has && now_ms - b->p[p].at_ms <= max_age_ms){
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
	vg_news2_score(&in, &b->last);
}
