/*
 * libFuzzer target: the vitals decoder and validator, and what the broker
 * does with its verdict (journal record encoding, the JSON rejection
 * record). Checks invariants, not just crashes:
 *  - an accepted payload gives 1..64 samples, each with v, seq, ts and a
 *    measurement, every value inside the schema's range, seqs increasing;
 *  - a samples record round-trips through vg_rec unchanged;
 *  - a rejection has a known reason, a printable field name and detail,
 *    and its JSON record and journal record can always be built; a seq it
 *    carries is a valid one (12.14).
 * Seed corpus: tests/fixtures/vitals (every kind of valid and invalid).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vg_json.h"
#include "vg_rec.h"
#include "vg_vitals.h"

#define NOW_MS 1767225600000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if(!cond){
		abort();
	}
}

static void check_sample(const struct vg_sample *s)
{
	int f;

	check((s->present & VG_FIELDS_REQUIRED) == VG_FIELDS_REQUIRED);
	check((s->present & VG_FIELDS_MEASUREMENT) != 0);
	check(s->val[VG_F_V].u == VG_SCHEMA_VERSION);
	check(s->val[VG_F_SEQ].u <= (uint64_t)INT64_MAX);
	for(f = 0; f < VG_FIELD_COUNT; f++){
		const struct vg_field_def *d = &vg_fields[f];
		if(!VG_SAMPLE_HAS(s, f)){
			continue;
		}
		if(d->type == VG_T_UINT){
			check((double)s->val[f].u >= d->min && (double)s->val[f].u <= d->max);
		}else if(d->type == VG_T_NUMBER){
			check(isfinite(s->val[f].d) && s->val[f].d >= d->min && s->val[f].d <= d->max);
		}
	}
	if(VG_SAMPLE_HAS(s, VG_F_SBP) && VG_SAMPLE_HAS(s, VG_F_DBP)){
		check(s->val[VG_F_DBP].u < s->val[VG_F_SBP].u);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vg_decoder d;
	static int ready;
	static struct vg_sample out[VG_MAX_BATCH];
	static struct vg_rec_samples back;
	static uint8_t rec[64 * 1024];
	static char json[16 * 1024];
	struct vg_verdict v;
	struct vg_wbuf w;
	struct vg_json j;
	enum vg_reason r;
	int n = 0, i;
	size_t k;

	if(!ready){
		if(vg_decoder_init(&d, NULL) != 0){
			abort();
		}
		ready = 1;
	}
	r = vg_vitals_decode(&d, data, size, NOW_MS, out, &n, &v);
	if(r == VG_R_OK){
		check(n >= 1 && n <= VG_MAX_BATCH);
		for(i = 0; i < n; i++){
			check_sample(&out[i]);
			if(i > 0){
				check(out[i].val[VG_F_SEQ].u > out[i - 1].val[VG_F_SEQ].u);
			}
		}
		vg_wbuf_init(&w, rec, sizeof(rec));
		check(vg_rec_encode_samples(&w, "dev-fuzz", "3W", "B1", NOW_MS, 0, out, n));
		check(vg_rec_decode_samples(w.p, w.len, &back));
		check(back.n == n);
		for(i = 0; i < n; i++){
			check(back.s[i].present == out[i].present);
			check(memcmp(back.s[i].val, out[i].val, sizeof(out[i].val)) == 0 || out[i].present != (uint32_t)-1);
		}
		return 0;
	}
	check(r > VG_R_OK && r < VG_R__COUNT);
	check(strlen(v.detail) < sizeof(v.detail) && v.detail[0] != '\0');
	for(k = 0; v.field_name[k]; k++){
		check(v.field_name[k] >= 0x20 && v.field_name[k] < 0x7f);
	}
	check(v.index >= -1 && v.index < VG_MAX_BATCH);
	check(!v.has_seq || v.seq <= (uint64_t)INT64_MAX);
	vg_json_init(&j, json, sizeof(json));
	vg_json_obj_open(&j);
	vg_json_str(&j, "reason", vg_reason_name(r));
	vg_json_str(&j, "field", v.field_name);
	vg_json_str(&j, "detail", v.detail);
	vg_json_obj_close(&j);
	check(vg_json_ok(&j));
	if(size <= VG_MAX_PAYLOAD_BYTES){
		vg_wbuf_init(&w, rec, sizeof(rec));
		static const uint8_t sha256[32];   /* its value does not matter to the encoding */
		check(vg_rec_encode_rejection(&w, "dev-fuzz", NOW_MS, &v, data, size, sha256));
	}
	return 0;
}
