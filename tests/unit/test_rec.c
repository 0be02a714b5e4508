/*
 * test_rec: journal record payloads: samples and rejection records round
 * trip exactly; encoders refuse what does not fit; decoders refuse
 * truncated, padded, mis-versioned or out-of-bounds input; samples name
 * their fields by id: the previous release's records read the same, a
 * record naming an unknown field id is refused and says so; an audit record
 * is never larger than VG_REC_AUDIT_MAX, whatever it is given (12.10).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vg_rec.h"
#include "vgtest.h"

#define NOW 1700000000000LL

/* Stands for the SHA-256 the broker computes (its value does not matter
 * to the encoding). */
static const uint8_t SHA[32] = {
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
	17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
};

static bool str_eq(struct vg_str s, const char *c)
{
	return s.n == strlen(c) && (s.n == 0 || memcmp(s.p, c, s.n) == 0);
}

/* 64 samples with a varying set of fields. */
static void fill_samples(struct vg_sample *s, int n)
{
	int i;

	memset(s, 0, sizeof(*s) * (size_t)n);
	for(i = 0; i < n; i++){
		s[i].present = (1u << VG_F_V) | (1u << VG_F_SEQ) | (1u << VG_F_TS);
		s[i].val[VG_F_V].u = 1;
		s[i].val[VG_F_SEQ].u = (i == n - 1) ? UINT64_MAX : 1000 + (uint64_t)i;
		s[i].val[VG_F_TS].i = (i == 1) ? -5 : NOW - 1000 * i;
		if(i % 2 == 0){
			s[i].present |= 1u << VG_F_HR;
			s[i].val[VG_F_HR].u = 30 + (uint64_t)i;
		}
		if(i % 3 == 0){
			s[i].present |= (1u << VG_F_SBP) | (1u << VG_F_DBP) | (1u << VG_F_MAP);
			s[i].val[VG_F_SBP].u = 120;
			s[i].val[VG_F_DBP].u = 80;
			s[i].val[VG_F_MAP].u = 93;
		}
		if(i % 4 == 1){
			s[i].present |= 1u << VG_F_TEMP;
			s[i].val[VG_F_TEMP].d = 34.0 + i * 0.1;
		}
		if(i % 5 == 2){
			s[i].present |= (1u << VG_F_O2) | (1u << VG_F_SPO2) | (1u << VG_F_RR);
			s[i].val[VG_F_O2].b = (i % 2) != 0;
			s[i].val[VG_F_SPO2].u = 84;
			s[i].val[VG_F_RR].u = 22;
		}
		if(i % 7 == 3){
			s[i].present |= 1u << VG_F_AVPU;
			s[i].val[VG_F_AVPU].c = "ACVPU"[i % 5];
		}
	}
}

static size_t encode_samples(uint8_t *buf, size_t cap, const struct vg_sample *s, int n, bool *ok)
{
	struct vg_wbuf w;

	vg_wbuf_init(&w, buf, cap);
	*ok = vg_rec_encode_samples(&w, "dev-1", "3W", "12", NOW, VG_REC_F_NEEDS_CHECK, s, n);
	return w.len;
}

static void test_samples_roundtrip(void)
{
	struct vg_sample *in = calloc(VG_MAX_BATCH, sizeof(*in));
	struct vg_rec_samples *out = calloc(1, sizeof(*out));
	uint8_t *buf = malloc(64 * 1024);
	size_t len, i;
	bool ok = false;
	int k, diff = 0;

	CHECK(in && out && buf);
	if(!in || !out || !buf){
		free(in); free(out); free(buf);
		return;
	}
	fill_samples(in, VG_MAX_BATCH);
	len = encode_samples(buf, 64 * 1024, in, VG_MAX_BATCH, &ok);
	CHECK(ok);
	CHECK(len > 0);
	CHECK_INT(buf[0], 1);   /* version byte first */
	CHECK(vg_rec_decode_samples(buf, len, out));
	CHECK(str_eq(out->device, "dev-1"));
	CHECK(str_eq(out->ward, "3W"));
	CHECK(str_eq(out->bed, "12"));
	CHECK_INT(out->received_ms, NOW);
	CHECK_INT(out->flags, VG_REC_F_NEEDS_CHECK);
	CHECK_INT(out->n, VG_MAX_BATCH);
	for(k = 0; k < VG_MAX_BATCH; k++){
		if(memcmp(&in[k], &out->s[k], sizeof(in[k])) != 0){
			diff++;
		}
	}
	CHECK_INT(diff, 0);
	CHECK(out->s[VG_MAX_BATCH - 1].val[VG_F_SEQ].u == UINT64_MAX);
	CHECK_INT(out->s[1].val[VG_F_TS].i, -5);
	CHECK(out->s[1].val[VG_F_TEMP].d == 34.1);
	CHECK_INT(out->s[3].val[VG_F_AVPU].c, 'P');
	/* Size: header + per sample 4 bytes + 8 per present field. */
	{
		size_t want = 1 + 1 + 5 + 1 + 2 + 1 + 2 + 8 + 1 + 1;
		for(k = 0; k < VG_MAX_BATCH; k++){
			want += 4 + 8 * (size_t)__builtin_popcount(in[k].present);
		}
		CHECK_INT(len, want);
	}

	/* Every proper prefix is refused; so is a trailing byte. */
	{
		int accepted = 0;
		for(i = 0; i < len; i++){
			if(vg_rec_decode_samples(buf, i, out)){
				accepted++;
			}
		}
		CHECK_INT(accepted, 0);
		buf[len] = 0;
		CHECK(!vg_rec_decode_samples(buf, len + 1, out));
	}

	/* Every too-small buffer is refused, never overrun. */
	{
		uint8_t *small = malloc(len + 16);
		int wrongly_ok = 0, overrun = 0;
		for(i = 0; i < len; i++){
			struct vg_wbuf w;
			memset(small, 0xee, len + 16);
			vg_wbuf_init(&w, small, i);
			if(vg_rec_encode_samples(&w, "dev-1", "3W", "12", NOW, VG_REC_F_NEEDS_CHECK, in, VG_MAX_BATCH)){
				wrongly_ok++;
			}
			if(small[i] != 0xee || w.len > i){
				overrun++;
			}
		}
		CHECK_INT(wrongly_ok, 0);
		CHECK_INT(overrun, 0);
		free(small);
	}
	free(in);
	free(out);
	free(buf);
}

static void test_samples_single_unassigned(void)
{
	struct vg_sample s;
	struct vg_rec_samples *out = calloc(1, sizeof(*out));
	uint8_t buf[256];
	struct vg_wbuf w;

	CHECK(out != NULL);
	if(out == NULL){
		return;
	}
	memset(&s, 0, sizeof(s));
	s.present = (1u << VG_F_V) | (1u << VG_F_SEQ) | (1u << VG_F_TS) | (1u << VG_F_O2);
	s.val[VG_F_V].u = 1;
	s.val[VG_F_SEQ].u = 0;
	s.val[VG_F_TS].i = NOW;
	s.val[VG_F_O2].b = false;
	vg_wbuf_init(&w, buf, sizeof(buf));
	CHECK(vg_rec_encode_samples(&w, "d", "", "", -1, 0, &s, 1));
	CHECK(vg_rec_decode_samples(buf, w.len, out));
	CHECK(str_eq(out->device, "d"));
	CHECK_INT(out->ward.n, 0);   /* unassigned */
	CHECK_INT(out->bed.n, 0);
	CHECK_INT(out->received_ms, -1);
	CHECK_INT(out->flags, 0);
	CHECK_INT(out->n, 1);
	CHECK(memcmp(&out->s[0], &s, sizeof(s)) == 0);
	free(out);
}

static void test_samples_encode_refuses(void)
{
	struct vg_sample *s = calloc(VG_MAX_BATCH + 1, sizeof(*s));
	uint8_t *buf = malloc(64 * 1024);
	struct vg_wbuf w;
	char longid[300];

	CHECK(s && buf);
	if(!s || !buf){
		free(s); free(buf);
		return;
	}
	fill_samples(s, VG_MAX_BATCH + 1);
	vg_wbuf_init(&w, buf, 64 * 1024);
	CHECK(!vg_rec_encode_samples(&w, "dev", "w", "b", NOW, 0, s, 0));
	vg_wbuf_init(&w, buf, 64 * 1024);
	CHECK(!vg_rec_encode_samples(&w, "dev", "w", "b", NOW, 0, s, -1));
	vg_wbuf_init(&w, buf, 64 * 1024);
	CHECK(!vg_rec_encode_samples(&w, "dev", "w", "b", NOW, 0, s, VG_MAX_BATCH + 1));
	/* Strings are length-prefixed by one byte: 255 fits, 256 does not. */
	memset(longid, 'a', sizeof(longid));
	longid[255] = '\0';
	vg_wbuf_init(&w, buf, 64 * 1024);
	CHECK(vg_rec_encode_samples(&w, longid, "w", "b", NOW, 0, s, 1));
	longid[255] = 'a';
	longid[256] = '\0';
	vg_wbuf_init(&w, buf, 64 * 1024);
	CHECK(!vg_rec_encode_samples(&w, longid, "w", "b", NOW, 0, s, 1));
	free(s);
	free(buf);
}

/* Offset of the sample-count byte in a samples record. */
static size_t n_offset(const uint8_t *buf)
{
	size_t off = 1;
	int k;

	for(k = 0; k < 3; k++){
		off += 1 + buf[off];
	}
	return off + 8 + 1;
}

static void test_samples_decode_refuses(void)
{
	struct vg_sample s[3];
	struct vg_rec_samples *out = calloc(1, sizeof(*out));
	uint8_t buf[1024], bad[1024];
	size_t len, noff;
	bool ok;

	CHECK(out != NULL);
	if(out == NULL){
		return;
	}
	fill_samples(s, 3);
	len = encode_samples(buf, sizeof(buf), s, 3, &ok);
	CHECK(ok);
	CHECK(vg_rec_decode_samples(buf, len, out));
	noff = n_offset(buf);
	CHECK_INT(buf[noff], 3);

	CHECK(!vg_rec_decode_samples(buf, 0, out));
	CHECK(!vg_rec_decode_samples(NULL, 0, out));

	memcpy(bad, buf, len);
	bad[0] = 2;                                   /* unknown version */
	CHECK(!vg_rec_decode_samples(bad, len, out));
	bad[0] = 0;
	CHECK(!vg_rec_decode_samples(bad, len, out));

	memcpy(bad, buf, len);
	bad[noff] = 0;                                /* n = 0 */
	CHECK(!vg_rec_decode_samples(bad, len, out));
	bad[noff] = VG_MAX_BATCH + 1;                 /* n = 65 */
	CHECK(!vg_rec_decode_samples(bad, len, out));
	bad[noff] = 255;
	CHECK(!vg_rec_decode_samples(bad, len, out));
	bad[noff] = 2;                                /* fewer than encoded: trailing bytes */
	CHECK(!vg_rec_decode_samples(bad, len, out));
	bad[noff] = 4;                                /* more than encoded: truncated */
	CHECK(!vg_rec_decode_samples(bad, len, out));

	/* A device string length running past the end. */
	memcpy(bad, buf, len);
	bad[1] = 250;
	CHECK(!vg_rec_decode_samples(bad, len, out));

	/* A present bit beyond the schema's fields. */
	memcpy(bad, buf, len);
	bad[noff + 1 + 1] |= (uint8_t)(1u << (VG_FIELD_COUNT - 8));   /* bit 12 of the first u32 */
	CHECK(!vg_rec_decode_samples(bad, len, out));
	memcpy(bad, buf, len);
	bad[noff + 1 + 3] = 0x80;                     /* bit 31 */
	CHECK(!vg_rec_decode_samples(bad, len, out));

	/* An empty device id is not a record. */
	{
		struct vg_wbuf w;
		vg_wbuf_init(&w, bad, sizeof(bad));
		CHECK(vg_rec_encode_samples(&w, "", "w", "b", NOW, 0, s, 1));
		CHECK(!vg_rec_decode_samples(bad, w.len, out));
		vg_wbuf_init(&w, bad, sizeof(bad));
		CHECK(vg_rec_encode_samples(&w, NULL, NULL, NULL, NOW, 0, s, 1));
		CHECK(!vg_rec_decode_samples(bad, w.len, out));
	}
	free(out);
}

/* A samples record of the previous release (before field ids: it wrote
 * bit (1 << position) with the values in position order), literally: hr 72,
 * sbp 120, dbp 80, map 93, temp 36.5, o2, avpu 'V'. Field ids are those
 * positions, so it reads the same in this build, and in any build whose
 * schema has fields added (or moved) anywhere: the schema_add_vital test
 * runs this with etco2 inserted before sbp. */
static void test_samples_previous_release(void)
{
	static const uint8_t v1[] = {
		1, 3, 'd', 'e', 'v', 2, '3', 'W', 2, '1', '2',   /* version 1, device, ward, bed */
		0x00, 0x68, 0xe5, 0xcf, 0x8b, 0x01, 0x00, 0x00,   /* received_ms 1700000000000 */
		0, 1,                                             /* flags, n */
		0xcf, 0x0f, 0x00, 0x00,                           /* v seq ts hr sbp dbp map temp o2 avpu: bits 0-3, 6-11 */
		1, 0, 0, 0, 0, 0, 0, 0,                           /* v 1 */
		0x2a, 0, 0, 0, 0, 0, 0, 0,                        /* seq 42 */
		0xe8, 0x64, 0xe5, 0xcf, 0x8b, 0x01, 0x00, 0x00,   /* ts 1699999999208 */
		72, 0, 0, 0, 0, 0, 0, 0,                          /* hr */
		120, 0, 0, 0, 0, 0, 0, 0,                         /* sbp */
		80, 0, 0, 0, 0, 0, 0, 0,                          /* dbp */
		93, 0, 0, 0, 0, 0, 0, 0,                          /* map */
		0, 0, 0, 0, 0, 0x40, 0x42, 0x40,                  /* temp 36.5 (IEEE 754) */
		1, 0, 0, 0, 0, 0, 0, 0,                           /* o2 true */
		'V', 0, 0, 0, 0, 0, 0, 0,                         /* avpu */
	};
	struct vg_rec_samples *out = calloc(1, sizeof(*out));
	uint8_t buf[512];
	struct vg_wbuf w;

	CHECK(out != NULL);
	if(out == NULL){
		return;
	}
	CHECK(vg_rec_decode_samples(v1, sizeof(v1), out));
	CHECK(str_eq(out->device, "dev") && str_eq(out->ward, "3W") && str_eq(out->bed, "12"));
	CHECK_INT(out->received_ms, NOW);
	CHECK_INT(out->n, 1);
	CHECK_INT(out->s[0].present, (1u << VG_F_V) | (1u << VG_F_SEQ) | (1u << VG_F_TS) | (1u << VG_F_HR) | (1u << VG_F_SBP)
			| (1u << VG_F_DBP) | (1u << VG_F_MAP) | (1u << VG_F_TEMP) | (1u << VG_F_O2) | (1u << VG_F_AVPU));
	CHECK_INT(out->s[0].val[VG_F_SEQ].u, 42);
	CHECK_INT(out->s[0].val[VG_F_TS].i, NOW - 792);
	CHECK_INT(out->s[0].val[VG_F_HR].u, 72);
	CHECK_INT(out->s[0].val[VG_F_SBP].u, 120);
	CHECK_INT(out->s[0].val[VG_F_DBP].u, 80);
	CHECK_INT(out->s[0].val[VG_F_MAP].u, 93);
	CHECK(out->s[0].val[VG_F_TEMP].d == 36.5);
	CHECK(out->s[0].val[VG_F_O2].b);
	CHECK_INT(out->s[0].val[VG_F_AVPU].c, 'V');
	CHECK_INT(out->unknown_ids, 0);

	/* And this build writes the same sample as the same bytes: fields by
	 * id, wherever the schema puts them. */
	vg_wbuf_init(&w, buf, sizeof(buf));
	CHECK(vg_rec_encode_samples(&w, "dev", "3W", "12", NOW, 0, out->s, 1));
	CHECK_INT(w.len, sizeof(v1));
	CHECK(w.len == sizeof(v1) && memcmp(buf, v1, sizeof(v1)) == 0);

	/* Version 2 (with alert events), as the previous release wrote it. */
	{
		static const uint8_t v2[] = {
			2, 1, 'd', 0, 0,
			0, 0, 0, 0, 0, 0, 0, 0,
			0, 1,
			0x17, 0, 0, 0,                                /* v seq ts spo2: bits 0, 1, 2, 4 */
			1, 0, 0, 0, 0, 0, 0, 0,
			7, 0, 0, 0, 0, 0, 0, 0,
			0, 0, 0, 0, 0, 0, 0, 0,
			88, 0, 0, 0, 0, 0, 0, 0,                      /* spo2 88 */
			1,                                            /* one event */
			3, 'e', 'v', '1', 2, 'a', '1', 1, 1,          /* event id, alert id, raised, threshold */
			4, 'h', 'i', 'g', 'h', 0, 0, 0, 1, 'd',       /* severity, order key, ward, bed, device */
			0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, '{', '}', /* created_ms, body */
		};
		CHECK(vg_rec_decode_samples(v2, sizeof(v2), out));
		CHECK_INT(out->s[0].present, (1u << VG_F_V) | (1u << VG_F_SEQ) | (1u << VG_F_TS) | (1u << VG_F_SPO2));
		CHECK_INT(out->s[0].val[VG_F_SEQ].u, 7);
		CHECK_INT(out->s[0].val[VG_F_SPO2].u, 88);
		CHECK_INT(out->nevents, 1);
		CHECK(str_eq(out->events[0].event_id, "ev1") && str_eq(out->events[0].body, "{}"));
	}
	free(out);
}

/* A record naming a field id this build does not know (written by a newer
 * schema, or a field removed since) is refused, and says which ids; it is
 * never read without them. A malformed record is refused without ids (the
 * writer skips it instead of stopping). */
static void test_samples_unknown_field_id(void)
{
	struct vg_rec_samples *out = calloc(1, sizeof(*out));
	uint8_t rec[128];
	size_t len = 0;
	int unknown = -1, id;

	CHECK(out != NULL);
	if(out == NULL){
		return;
	}
	for(id = 0; id < 32 && unknown < 0; id++){
		if(id >= VG_FIELD_ID_LIMIT || vg_field_by_id[id] < 0){
			unknown = id;
		}
	}
	CHECK(unknown >= 3);
	{
		const uint8_t head[] = { 1, 1, 'd', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
		uint32_t ids = 0x7u | (1u << unknown);
		int k;
		memcpy(rec, head, sizeof(head));
		len = sizeof(head);
		for(k = 0; k < 4; k++){
			rec[len++] = (uint8_t)(ids >> (8 * k));
		}
		for(k = 0; k < 4; k++){           /* v 1, seq 5, ts 0, the unknown field 9 */
			memset(rec + len, 0, 8);
			rec[len] = (uint8_t)(k == 0 ? 1 : k == 1 ? 5 : k == 3 ? 9 : 0);
			len += 8;
		}
	}
	CHECK(!vg_rec_decode_samples(rec, len, out));
	CHECK_INT(out->unknown_ids, 1u << unknown);
	/* One byte short: malformed, whatever it names. */
	CHECK(!vg_rec_decode_samples(rec, len - 1, out));
	CHECK_INT(out->unknown_ids, 0);
	/* Without the unknown field: an ordinary record (required fields only). */
	rec[15 + unknown / 8] &= (uint8_t)~(1u << (unknown % 8));
	CHECK(!vg_rec_decode_samples(rec, len, out));   /* 8 bytes too many now */
	CHECK_INT(out->unknown_ids, 0);
	CHECK(vg_rec_decode_samples(rec, len - 8, out));
	CHECK_INT(out->s[0].val[VG_F_SEQ].u, 5);
	free(out);
}

/* Every field of the schema, at its bounds, round trips (a field added to
 * schemas/vitals/v1.json is covered without touching this test). */
static void test_samples_every_field(void)
{
	struct vg_sample s[2];
	struct vg_rec_samples *out = calloc(1, sizeof(*out));
	uint8_t buf[1024];
	struct vg_wbuf w;
	int f, k;

	CHECK(out != NULL);
	if(out == NULL){
		return;
	}
	memset(s, 0, sizeof(s));
	for(k = 0; k < 2; k++){
		for(f = 0; f < VG_FIELD_COUNT; f++){
			const struct vg_field_def *d = &vg_fields[f];
			s[k].present |= 1u << f;
			switch(d->type){
				case VG_T_NUMBER: s[k].val[f].d = k ? d->max : d->min; break;
				case VG_T_BOOL: s[k].val[f].b = k != 0; break;
				case VG_T_ENUM: s[k].val[f].c = (d->values[k] ? d->values[k] : d->values[0])[0]; break;
				case VG_T_INT64: s[k].val[f].i = k ? INT64_MAX : INT64_MIN; break;
				case VG_T_UINT64: s[k].val[f].u = k ? UINT64_MAX : 0; break;
				default: s[k].val[f].u = (uint64_t)(k ? d->max : d->min); break;
			}
		}
	}
	vg_wbuf_init(&w, buf, sizeof(buf));
	CHECK(vg_rec_encode_samples(&w, "dev", "w", "b", NOW, 0, s, 2));
	CHECK_INT(w.len, 1 + 4 + 2 + 2 + 8 + 2 + 2 * (4 + 8 * VG_FIELD_COUNT));
	CHECK(vg_rec_decode_samples(buf, w.len, out));
	CHECK_INT(out->n, 2);
	CHECK(memcmp(&out->s[0], &s[0], sizeof(s[0])) == 0);
	CHECK(memcmp(&out->s[1], &s[1], sizeof(s[1])) == 0);
	free(out);
}

static void test_rejection_roundtrip(void)
{
	struct vg_verdict v;
	struct vg_rec_rejection out;
	static const uint8_t payload[] = { 0x84, 0xa1, 'v', 0x01, 0x00, 0xff, 0xc1, 0x00 };
	uint8_t buf[1024];
	struct vg_wbuf w;
	size_t i;
	int accepted = 0;

	memset(&v, 0, sizeof(v));
	v.reason = VG_R_OUT_OF_RANGE;
	v.field = VG_F_SPO2;
	v.index = 3;
	v.has_seq = true;
	v.seq = 0xfedcba9876543210ull;
	snprintf(v.field_name, sizeof(v.field_name), "spo2");
	snprintf(v.detail, sizeof(v.detail), "batch[3]: spo2 101 outside 0..100 %%");

	vg_wbuf_init(&w, buf, sizeof(buf));
	CHECK(vg_rec_encode_rejection(&w, "dev-9", NOW, &v, payload, sizeof(payload), SHA));
	CHECK(vg_rec_decode_rejection(buf, w.len, &out));
	CHECK(str_eq(out.device, "dev-9"));
	CHECK_INT(out.received_ms, NOW);
	CHECK_INT(out.reason, VG_R_OUT_OF_RANGE);
	CHECK(str_eq(out.field, "spo2"));
	CHECK(str_eq(out.detail, v.detail));
	CHECK(out.has_seq);
	CHECK(out.seq == 0xfedcba9876543210ull);
	CHECK_INT(out.index, 3);
	CHECK_INT(out.payload.n, sizeof(payload));
	CHECK(out.payload.n == sizeof(payload) && memcmp(out.payload.p, payload, sizeof(payload)) == 0);
	CHECK_INT(out.payload_len, sizeof(payload));
	CHECK(out.has_sha256 && memcmp(out.sha256, SHA, 32) == 0);

	/* Every proper prefix refused, trailing byte refused. */
	for(i = 0; i < w.len; i++){
		if(vg_rec_decode_rejection(buf, i, &out)){
			accepted++;
		}
	}
	CHECK_INT(accepted, 0);
	buf[w.len] = 0;
	CHECK(!vg_rec_decode_rejection(buf, w.len + 1, &out));

	/* No seq, no field, index -1, an empty payload (an empty PUBLISH has
	 * a NULL payload). */
	memset(&v, 0, sizeof(v));
	v.reason = VG_R_MALFORMED;
	v.index = -1;
	v.field = -1;
	snprintf(v.detail, sizeof(v.detail), "empty payload");
	vg_wbuf_init(&w, buf, sizeof(buf));
	CHECK(vg_rec_encode_rejection(&w, "dev-9", NOW, &v, NULL, 0, SHA));
	CHECK(vg_rec_decode_rejection(buf, w.len, &out));
	CHECK_INT(out.reason, VG_R_MALFORMED);
	CHECK(!out.has_seq);
	CHECK_INT(out.index, -1);
	CHECK_INT(out.field.n, 0);
	CHECK_INT(out.payload.n, 0);
	CHECK(str_eq(out.detail, "empty payload"));

	/* Every reason code survives. */
	{
		int r, bad = 0;
		for(r = 0; r < VG_R__COUNT; r++){
			v.reason = (enum vg_reason)r;
			vg_wbuf_init(&w, buf, sizeof(buf));
			if(!vg_rec_encode_rejection(&w, "d", 0, &v, "x", 1, SHA) || !vg_rec_decode_rejection(buf, w.len, &out)
					|| out.reason != r){
				bad++;
			}
		}
		CHECK_INT(bad, 0);
	}
}

static void test_rejection_refuses(void)
{
	struct vg_verdict v;
	struct vg_rec_rejection out;
	uint8_t buf[1024], bad[1024];
	struct vg_wbuf w;
	size_t len, i;

	memset(&v, 0, sizeof(v));
	v.reason = VG_R_BAD_TIME;
	v.index = -1;
	snprintf(v.field_name, sizeof(v.field_name), "ts");
	snprintf(v.detail, sizeof(v.detail), "ts is 400 s ahead");
	vg_wbuf_init(&w, buf, sizeof(buf));
	CHECK(vg_rec_encode_rejection(&w, "dev-2", NOW, &v, "abc", 3, SHA));
	len = w.len;
	CHECK(vg_rec_decode_rejection(buf, len, &out));

	memcpy(bad, buf, len);
	bad[0] = 3;
	CHECK(!vg_rec_decode_rejection(bad, len, &out));

	/* Reason byte out of range: after version, device, received_ms. */
	memcpy(bad, buf, len);
	bad[1 + 1 + 5 + 8] = VG_R__COUNT;
	CHECK(!vg_rec_decode_rejection(bad, len, &out));
	bad[1 + 1 + 5 + 8] = VG_R_BAD_TIME;
	CHECK(vg_rec_decode_rejection(bad, len, &out));

	/* Prefix length claiming more than present, or more than the whole
	 * payload's length. */
	memcpy(bad, buf, len);
	bad[len - 3 - 2] = 4;
	CHECK(!vg_rec_decode_rejection(bad, len, &out));
	bad[len - 3 - 1] = 0x80;
	CHECK(!vg_rec_decode_rejection(bad, len, &out));
	memcpy(bad, buf, len);
	bad[len - 3 - 2 - 32 - 4] = 2;
	CHECK(!vg_rec_decode_rejection(bad, len, &out));

	/* An empty device id is not a record. */
	vg_wbuf_init(&w, bad, sizeof(bad));
	CHECK(vg_rec_encode_rejection(&w, "", NOW, &v, "abc", 3, SHA));
	CHECK(!vg_rec_decode_rejection(bad, w.len, &out));

	/* Too-small buffers are refused without overrun. */
	{
		int wrongly_ok = 0, overrun = 0;
		for(i = 0; i < len; i++){
			memset(bad, 0xee, sizeof(bad));
			vg_wbuf_init(&w, bad, i);
			if(vg_rec_encode_rejection(&w, "dev-2", NOW, &v, "abc", 3, SHA)){
				wrongly_ok++;
			}
			if(bad[i] != 0xee){
				overrun++;
			}
		}
		CHECK_INT(wrongly_ok, 0);
		CHECK_INT(overrun, 0);
	}
}

/* A string of n copies of c (n < cap). */
static char *fill(char *buf, size_t cap, char c, size_t n)
{
	if(n >= cap){
		n = cap - 1;
	}
	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

/* 12.10: the audit buffer reserves VG_REC_AUDIT_MAX for the next record, so
 * that bound must be the encoder's real maximum: every field at its bound
 * gives exactly that many bytes (717: 64-byte identity and client id, a
 * 63-byte address, a 511-byte detail), longer fields are cut to their bound
 * (never a failed, dropped record), and nothing gives more. */
static void test_12_10_audit_record_max(void)
{
	static char id[300], cid[300], addr[300], detail[70000];
	static uint8_t buf[VG_REC_AUDIT_MAX + 64];
	struct vg_wbuf w;
	struct vg_rec_audit a;

	CHECK_INT(VG_REC_AUDIT_MAX, 717);
	CHECK_INT(VG_REC_AUDIT_ID_MAX, VG_ID_MAX);

	/* Every field exactly at its bound. */
	vg_wbuf_init(&w, buf, sizeof(buf));
	CHECK(vg_rec_encode_audit(&w, NOW, VG_AUDIT_ACL_DENIED, fill(id, sizeof(id), 'i', VG_REC_AUDIT_ID_MAX),
			fill(cid, sizeof(cid), 'c', VG_REC_AUDIT_ID_MAX), fill(addr, sizeof(addr), 'a', VG_REC_AUDIT_ADDR_MAX),
			fill(detail, sizeof(detail), 'd', VG_REC_AUDIT_DETAIL_MAX)));
	CHECK_INT(w.len, VG_REC_AUDIT_MAX);
	CHECK(vg_rec_decode_audit(w.p, w.len, &a));
	CHECK_INT(a.at_ms, NOW);
	CHECK_INT(a.event, VG_AUDIT_ACL_DENIED);
	CHECK(str_eq(a.identity, id) && str_eq(a.client_id, cid) && str_eq(a.address, addr) && str_eq(a.detail, detail));

	/* Longer than the bounds (an attacker's username, client id, topic):
	 * cut, still exactly the maximum, and it fits a buffer of that size. */
	fill(id, sizeof(id), 'I', sizeof(id) - 1);
	fill(cid, sizeof(cid), 'C', sizeof(cid) - 1);
	fill(addr, sizeof(addr), 'A', sizeof(addr) - 1);
	fill(detail, sizeof(detail), 'D', sizeof(detail) - 1);
	vg_wbuf_init(&w, buf, VG_REC_AUDIT_MAX);
	CHECK(vg_rec_encode_audit(&w, NOW, VG_AUDIT_REFUSED, id, cid, addr, detail));
	CHECK_INT(w.len, VG_REC_AUDIT_MAX);
	CHECK(vg_rec_decode_audit(w.p, w.len, &a));
	CHECK_INT(a.identity.n, VG_REC_AUDIT_ID_MAX);
	CHECK_INT(a.client_id.n, VG_REC_AUDIT_ID_MAX);
	CHECK_INT(a.address.n, VG_REC_AUDIT_ADDR_MAX);
	CHECK_INT(a.detail.n, VG_REC_AUDIT_DETAIL_MAX);
	CHECK(a.identity.p[0] == 'I' && a.detail.p[VG_REC_AUDIT_DETAIL_MAX - 1] == 'D');

	/* One byte less room than the maximum: refused, not cut further. */
	vg_wbuf_init(&w, buf, VG_REC_AUDIT_MAX - 1);
	CHECK(!vg_rec_encode_audit(&w, NOW, VG_AUDIT_REFUSED, id, cid, addr, detail));

	/* Absent fields: the smallest record, and it decodes. */
	vg_wbuf_init(&w, buf, sizeof(buf));
	CHECK(vg_rec_encode_audit(&w, NOW, VG_AUDIT_SUPPRESSED, NULL, NULL, NULL, NULL));
	CHECK_INT(w.len, 1 + 8 + 1 + 1 + 1 + 1 + 2);
	CHECK(vg_rec_decode_audit(w.p, w.len, &a));
	CHECK_INT(a.identity.n + a.client_id.n + a.address.n + a.detail.n, 0);
}

/* 12.2: a large refused payload costs the journal its first 512 bytes,
 * its length and its hash; version 1 records (whole payload, no hash) of a
 * journal written before the upgrade are still read. */
static void test_rejection_prefix_and_v1(void)
{
	struct vg_verdict v;
	struct vg_rec_rejection out;
	uint8_t *payload = malloc(60000), buf[2048];
	struct vg_wbuf w;
	size_t i;

	if(payload == NULL){
		CHECK(false);
		return;
	}
	for(i = 0; i < 60000; i++){
		payload[i] = (uint8_t)(i * 13);
	}
	memset(&v, 0, sizeof(v));
	v.reason = VG_R_TOO_LARGE;
	v.index = -1;
	v.field = -1;
	snprintf(v.detail, sizeof(v.detail), "payload is 60000 bytes, limit 16384");
	vg_wbuf_init(&w, buf, sizeof(buf));
	CHECK(vg_rec_encode_rejection(&w, "dev-big", NOW, &v, payload, 60000, SHA));
	CHECK(w.len < 700);
	CHECK(vg_rec_decode_rejection(buf, w.len, &out));
	CHECK_INT(out.payload_len, 60000);
	CHECK_INT(out.payload.n, VG_REC_REJECTION_PREFIX);
	CHECK(memcmp(out.payload.p, payload, VG_REC_REJECTION_PREFIX) == 0);
	CHECK(out.has_sha256 && memcmp(out.sha256, SHA, 32) == 0);

	/* Version 1, as the previous release wrote it. */
	{
		static const uint8_t v1[] = {
			1, 3, 'd', 'e', 'v',                       /* version, device */
			0, 0, 0, 0, 0, 0, 0, 0,                    /* received_ms */
			VG_R_MALFORMED, 0,                         /* reason, field "" */
			2, 0, 'n', 'o',                            /* detail */
			0, 0, 0, 0, 0, 0, 0, 0, 0,                 /* has_seq, seq */
			0xff, 0xff, 0xff, 0xff,                    /* index -1 */
			3, 0, 0, 0, 0xc1, 0xc1, 0xc1,              /* the whole payload */
		};
		CHECK(vg_rec_decode_rejection(v1, sizeof(v1), &out));
		CHECK(str_eq(out.device, "dev"));
		CHECK_INT(out.payload_len, 3);
		CHECK_INT(out.payload.n, 3);
		CHECK(!out.has_sha256);
		CHECK_INT(out.index, -1);
	}
	free(payload);
}

static void test_rejection_summary(void)
{
	struct vg_rec_rejection_summary in, out;
	uint8_t buf[512];
	struct vg_wbuf w;
	size_t i;
	int accepted = 0;

	memset(&in, 0, sizeof(in));
	in.device.p = "dev-flood";
	in.device.n = 9;
	in.from_ms = NOW - 10000;
	in.to_ms = NOW;
	in.count = 123456;
	in.reasons = (1u << VG_R_MALFORMED) | (1u << VG_R_TOO_LARGE);
	vg_wbuf_init(&w, buf, sizeof(buf));
	CHECK(vg_rec_encode_rejection_summary(&w, &in));
	CHECK(vg_rec_decode_rejection_summary(buf, w.len, &out));
	CHECK(str_eq(out.device, "dev-flood"));
	CHECK_INT(out.from_ms, NOW - 10000);
	CHECK_INT(out.to_ms, NOW);
	CHECK_INT(out.count, 123456);
	CHECK_INT(out.reasons, in.reasons);
	for(i = 0; i < w.len; i++){
		accepted += vg_rec_decode_rejection_summary(buf, i, &out);
	}
	CHECK_INT(accepted, 0);
	in.count = 0;   /* a summary of nothing is not a record */
	vg_wbuf_init(&w, buf, sizeof(buf));
	CHECK(vg_rec_encode_rejection_summary(&w, &in));
	CHECK(!vg_rec_decode_rejection_summary(buf, w.len, &out));
}

int main(void)
{
	test_samples_roundtrip();
	test_samples_single_unassigned();
	test_samples_encode_refuses();
	test_samples_decode_refuses();
	test_samples_previous_release();
	test_samples_unknown_field_id();
	test_samples_every_field();
	test_rejection_roundtrip();
	test_rejection_refuses();
	test_12_10_audit_record_max();
	test_rejection_prefix_and_v1();
	test_rejection_summary();
	return vgtest_result("test_rec");
}
