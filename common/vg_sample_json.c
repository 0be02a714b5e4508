/*
 * vg_sample_json: a sample and a NEWS2 result as JSON (see
 * vg_sample_json.h). Thread: any. Memory: none owned.
 */
#include "vg_sample_json.h"

#include "vg_util.h"

/* NEWS2 points are named by the key of the parameter's field
 * (vg_news2_field, generated from schemas/vitals/v1.json). */

void vg_sample_json_write(struct vg_json *j, const char *device, const char *ward, const char *bed,
		const struct vg_sample *s, int64_t now_ms)
{
	char ts[32];
	int f;

	vg_json_str(j, "device_id", device);
	vg_json_str(j, "ward", ward);
	vg_json_str(j, "bed", bed);
	vg_json_u64(j, "seq", s->val[VG_F_SEQ].u);
	vg_rfc3339(s->val[VG_F_TS].i, ts, sizeof(ts));
	vg_json_str(j, "measured_at", ts);
	vg_rfc3339(now_ms, ts, sizeof(ts));
	vg_json_str(j, "received_at", ts);
	for(f = 0; f < VG_FIELD_COUNT; f++){
		const struct vg_field_def *d = &vg_fields[f];
		if(!d->measurement || !VG_SAMPLE_HAS(s, f)){
			continue;
		}
		switch(d->type){
			case VG_T_NUMBER: vg_json_fixed(j, d->key, s->val[f].d, 1); break;
			case VG_T_BOOL: vg_json_bool(j, d->key, s->val[f].b); break;
			case VG_T_ENUM: vg_json_strn(j, d->key, &s->val[f].c, 1); break;
			case VG_T_INT64: vg_json_i64(j, d->key, s->val[f].i); break;
			default: vg_json_u64(j, d->key, s->val[f].u); break;
		}
	}
}

void vg_sample_json_news2(struct vg_json *j, const struct vg_news2_result *r, int scale)
{
	int p;

	vg_json_obj_open_key(j, "news2");
	vg_json_i64(j, "score", r->score);
	vg_json_str(j, "band", vg_news2_band_name(r->band));
	vg_json_obj_open_key(j, "points");
	for(p = 0; p < VG_N2_COUNT; p++){
		if(r->points[p] >= 0){
			vg_json_i64(j, vg_fields[vg_news2_field[p]].key, r->points[p]);
		}
	}
	vg_json_obj_close(j);
	vg_json_i64(j, "parameters", r->parameters);
	vg_json_i64(j, "scale", scale);
	vg_json_obj_close(j);
}
