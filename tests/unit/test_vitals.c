/*
 * test_vitals: table-driven tests of the MessagePack vitals decoder.
 *
 * Every case builds its payload with msgpack-c's packer (or, where the
 * point is a byte msgpack-c would never write, with raw bytes), decodes it
 * at a fixed broker clock and checks the reason, the field name and the
 * batch index of the verdict. Valid samples then have their decoded values
 * checked field by field.
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "vg_vitals.h"
#include "vgtest.h"

/* Fixed broker clock for every case: 2023-11-14T22:13:20Z. */
#define NOW 1700000000000LL

/* ---- payload building ---------------------------------------------------- */

enum xk { X_END = 0, X_U, X_I, X_F64, X_F32, X_STR, X_BIN, X_TRUE, X_FALSE, X_NIL, X_ARR1, X_EMPTYMAP };

/* One key/value pair a case adds to its map. */
struct xv {
	const char *key;
	enum xk k;
	uint64_t u;
	int64_t i;
	double d;
	const char *s;
};

#define XU(key, v)    { key, X_U, (uint64_t)(v), 0, 0, NULL }
#define XI(key, v)    { key, X_I, 0, (int64_t)(v), 0, NULL }
#define XF(key, v)    { key, X_F64, 0, 0, (v), NULL }
#define XF32(key, v)  { key, X_F32, 0, 0, (v), NULL }
#define XS(key, v)    { key, X_STR, 0, 0, 0, (v) }
#define XBIN(key, v)  { key, X_BIN, 0, 0, 0, (v) }
#define XT(key)       { key, X_TRUE, 0, 0, 0, NULL }
#define XFALSE(key)   { key, X_FALSE, 0, 0, 0, NULL }
#define XNIL(key)     { key, X_NIL, 0, 0, 0, NULL }
#define XARR(key)     { key, X_ARR1, 0, 0, 0, NULL }
#define XMAP(key)     { key, X_EMPTYMAP, 0, 0, 0, NULL }

#define MAX_X 17

struct vcase;
typedef void (*builder_fn)(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c);

struct vcase {
	const char *name;
	builder_fn build;
	struct xv x[MAX_X];      /* pairs for the generic map builders */
	enum vg_reason reason;
	const char *field;       /* expected verdict field_name ("" = none) */
	int index;               /* expected batch index (-1 = single map / whole payload) */
	const char *detail;      /* substring expected in the detail, or NULL */
	int n;                   /* samples decoded when the reason is OK */
};

static void pk_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

static void pk_value(msgpack_packer *pk, const struct xv *x)
{
	switch(x->k){
		case X_U: msgpack_pack_uint64(pk, x->u); break;
		case X_I: msgpack_pack_int64(pk, x->i); break;
		case X_F64: msgpack_pack_double(pk, x->d); break;
		case X_F32: msgpack_pack_float(pk, (float)x->d); break;
		case X_STR: pk_str(pk, x->s); break;
		case X_BIN:
			msgpack_pack_bin(pk, strlen(x->s));
			msgpack_pack_bin_body(pk, x->s, strlen(x->s));
			break;
		case X_TRUE: msgpack_pack_true(pk); break;
		case X_FALSE: msgpack_pack_false(pk); break;
		case X_NIL: msgpack_pack_nil(pk); break;
		case X_ARR1: msgpack_pack_array(pk, 1); msgpack_pack_uint8(pk, 1); break;
		case X_EMPTYMAP: msgpack_pack_map(pk, 0); break;
		case X_END: break;
	}
}

static size_t x_count(const struct vcase *c)
{
	size_t n = 0;

	while(n < MAX_X && c->x[n].k != X_END){
		n++;
	}
	return n;
}

static void pk_pairs(msgpack_packer *pk, const struct vcase *c)
{
	size_t i, n = x_count(c);

	for(i = 0; i < n; i++){
		pk_str(pk, c->x[i].key);
		pk_value(pk, &c->x[i]);
	}
}

/* A map of v=1, seq=1, ts=NOW plus the case's pairs. */
static void pk_std_map(msgpack_packer *pk, const struct vcase *c, uint64_t seq)
{
	msgpack_pack_map(pk, 3 + x_count(c));
	pk_str(pk, "v"); msgpack_pack_uint8(pk, 1);
	pk_str(pk, "seq"); msgpack_pack_uint64(pk, seq);
	pk_str(pk, "ts"); msgpack_pack_int64(pk, NOW);
	pk_pairs(pk, c);
}

/* A plain valid sample with a heart rate. */
static void pk_simple(msgpack_packer *pk, uint64_t seq, uint64_t hr)
{
	msgpack_pack_map(pk, 4);
	pk_str(pk, "v"); msgpack_pack_uint8(pk, 1);
	pk_str(pk, "seq"); msgpack_pack_uint64(pk, seq);
	pk_str(pk, "ts"); msgpack_pack_int64(pk, NOW - (int64_t)seq);
	pk_str(pk, "hr"); msgpack_pack_uint64(pk, hr);
}

/* v, seq, ts and the pairs. */
static void b_std(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	(void)sb;
	pk_std_map(pk, c, 1);
}

/* Exactly the case's pairs (for missing required fields, odd v). */
static void b_map(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	(void)sb;
	msgpack_pack_map(pk, x_count(c));
	pk_pairs(pk, c);
}

/* A batch: two good samples, then the std map with the pairs (seq 3). */
static void b_batch_third(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	(void)sb;
	msgpack_pack_array(pk, 3);
	pk_simple(pk, 1, 70);
	pk_simple(pk, 2, 71);
	pk_std_map(pk, c, 3);
}

/* A batch: two good samples, then a map of exactly the case's pairs. */
static void b_batch_third_map(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	(void)sb;
	msgpack_pack_array(pk, 3);
	pk_simple(pk, 1, 70);
	pk_simple(pk, 2, 71);
	msgpack_pack_map(pk, x_count(c));
	pk_pairs(pk, c);
}

static void b_empty(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	(void)sb; (void)pk; (void)c;
}

static void b_truncated(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	(void)c;
	msgpack_pack_map(pk, 4);
	pk_str(pk, "v"); msgpack_pack_uint8(pk, 1);
	pk_str(pk, "seq"); msgpack_pack_uint64(pk, 1);
	pk_str(pk, "ts"); msgpack_pack_int64(pk, NOW);
	pk_str(pk, "avpu"); pk_str(pk, "A");
	sb->size -= 1;   /* cut the last string's byte */
}

static void b_truncated_header(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	(void)c;
	msgpack_pack_map(pk, 4);
	pk_str(pk, "v"); msgpack_pack_uint8(pk, 1);
	pk_str(pk, "seq"); msgpack_pack_uint64(pk, 1);
	pk_str(pk, "ts"); msgpack_pack_int64(pk, NOW);
	pk_str(pk, "hr"); msgpack_pack_uint64(pk, 1000);  /* uint16: cd 03 e8 */
	sb->size -= 2;
}

static void b_missing_entries(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	(void)sb; (void)c;
	/* Declares 5 entries, carries 4. */
	msgpack_pack_map(pk, 5);
	pk_str(pk, "v"); msgpack_pack_uint8(pk, 1);
	pk_str(pk, "seq"); msgpack_pack_uint64(pk, 1);
	pk_str(pk, "ts"); msgpack_pack_int64(pk, NOW);
	pk_str(pk, "hr"); msgpack_pack_uint64(pk, 60);
}

static void b_trailing(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	(void)sb; (void)c;
	pk_simple(pk, 1, 60);
	msgpack_pack_nil(pk);
}

static void b_two_roots(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	(void)sb; (void)c;
	pk_simple(pk, 1, 60);
	pk_simple(pk, 2, 60);
}

static void b_c1(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	static const char bad = (char)0xc1;

	(void)c;
	msgpack_pack_map(pk, 4);
	pk_str(pk, "v"); msgpack_pack_uint8(pk, 1);
	pk_str(pk, "seq"); msgpack_pack_uint64(pk, 1);
	pk_str(pk, "ts"); msgpack_pack_int64(pk, NOW);
	pk_str(pk, "hr");
	msgpack_sbuffer_write(sb, &bad, 1);
}

static void b_int_key(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	(void)sb; (void)c;
	msgpack_pack_map(pk, 5);
	pk_str(pk, "v"); msgpack_pack_uint8(pk, 1);
	pk_str(pk, "seq"); msgpack_pack_uint64(pk, 1);
	pk_str(pk, "ts"); msgpack_pack_int64(pk, NOW);
	pk_str(pk, "hr"); msgpack_pack_uint64(pk, 60);
	msgpack_pack_uint8(pk, 7); msgpack_pack_uint8(pk, 1);
}

static void b_nil_key(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	(void)sb; (void)c;
	msgpack_pack_map(pk, 5);
	msgpack_pack_nil(pk); msgpack_pack_uint8(pk, 1);
	pk_str(pk, "v"); msgpack_pack_uint8(pk, 1);
	pk_str(pk, "seq"); msgpack_pack_uint64(pk, 1);
	pk_str(pk, "ts"); msgpack_pack_int64(pk, NOW);
	pk_str(pk, "hr"); msgpack_pack_uint64(pk, 60);
}

static void b_root_int(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	(void)sb; (void)c;
	msgpack_pack_uint8(pk, 5);
}

static void b_root_str(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	(void)sb; (void)c;
	pk_str(pk, "hr=72");
}

static void b_root_nil(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	(void)sb; (void)c;
	msgpack_pack_nil(pk);
}

static void b_empty_batch(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	(void)sb; (void)c;
	msgpack_pack_array(pk, 0);
}

static void b_batch_elem_int(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	(void)sb; (void)c;
	msgpack_pack_array(pk, 2);
	pk_simple(pk, 1, 60);
	msgpack_pack_uint8(pk, 5);
}

static void b_deep_arrays(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	(void)sb; (void)c;
	msgpack_pack_array(pk, 1);
	msgpack_pack_array(pk, 1);
	msgpack_pack_array(pk, 1);
	msgpack_pack_uint8(pk, 1);
}

static void b_deep_map(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	(void)sb; (void)c;
	/* map -> map -> map: three container levels, limit 2. */
	msgpack_pack_map(pk, 2);
	pk_str(pk, "v"); msgpack_pack_uint8(pk, 1);
	pk_str(pk, "hr");
	msgpack_pack_map(pk, 1);
	pk_str(pk, "a");
	msgpack_pack_map(pk, 0);
}

static void b_deep_batch(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	(void)sb; (void)c;
	/* array -> map -> (empty) array: the empty container still counts. */
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 4);
	pk_str(pk, "v"); msgpack_pack_uint8(pk, 1);
	pk_str(pk, "seq"); msgpack_pack_uint64(pk, 1);
	pk_str(pk, "ts"); msgpack_pack_int64(pk, NOW);
	pk_str(pk, "hr"); msgpack_pack_array(pk, 0);
}

/* n valid samples, seq 1..n. */
static void pk_batch(msgpack_packer *pk, int n)
{
	int i;

	msgpack_pack_array(pk, (size_t)n);
	for(i = 0; i < n; i++){
		pk_simple(pk, (uint64_t)i + 1, 40 + (uint64_t)i);
	}
}

static void b_batch64(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	(void)sb; (void)c;
	pk_batch(pk, 64);
}

static void b_batch65(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	(void)sb; (void)c;
	pk_batch(pk, 65);
}

static void b_array32_huge(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	static const unsigned char hdr[] = { 0xdd, 0x7f, 0xff, 0xff, 0xff };

	(void)pk; (void)c;
	msgpack_sbuffer_write(sb, (const char *)hdr, sizeof(hdr));
}

static void b_map32_huge(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	static const unsigned char hdr[] = { 0xdf, 0x00, 0x01, 0x00, 0x00, 0xc0, 0xc0 };

	(void)pk; (void)c;
	msgpack_sbuffer_write(sb, (const char *)hdr, sizeof(hdr));
}

static void b_container_overclaims(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	(void)sb; (void)c;
	/* A 64-element array with only 3 bytes behind it. */
	msgpack_pack_array(pk, 64);
	msgpack_pack_nil(pk);
	msgpack_pack_nil(pk);
	msgpack_pack_nil(pk);
}

/* A map with `entries` keys: the 12 known fields in order, then x1, x2... */
static void pk_wide_map(msgpack_packer *pk, int entries)
{
	static const char *const known[] = { "v", "seq", "ts", "hr", "spo2", "rr", "sbp", "dbp", "map", "temp", "o2", "avpu" };
	char key[16];
	int i;

	msgpack_pack_map(pk, (size_t)entries);
	for(i = 0; i < entries; i++){
		if(i < 12){
			pk_str(pk, known[i]);
		}else{
			snprintf(key, sizeof(key), "x%d", i - 11);
			pk_str(pk, key);
		}
		switch(i){
			case 0: msgpack_pack_uint8(pk, 1); break;
			case 1: msgpack_pack_uint64(pk, 9); break;
			case 2: msgpack_pack_int64(pk, NOW); break;
			case 6: msgpack_pack_uint64(pk, 120); break;   /* sbp */
			case 7: msgpack_pack_uint64(pk, 80); break;    /* dbp */
			case 9: msgpack_pack_double(pk, 37.0); break;
			case 10: msgpack_pack_true(pk); break;
			case 11: pk_str(pk, "A"); break;
			default: msgpack_pack_uint64(pk, 50); break;
		}
	}
}

static void b_map16(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	(void)sb; (void)c;
	pk_wide_map(pk, 16);
}

static void b_map17(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	(void)sb; (void)c;
	pk_wide_map(pk, 17);
}

static void b_all_fields(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	(void)sb; (void)c;
	pk_wide_map(pk, 12);
}

static void b_bin33(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	static const char bytes[33] = { 0 };

	(void)sb; (void)c;
	msgpack_pack_map(pk, 4);
	pk_str(pk, "v"); msgpack_pack_uint8(pk, 1);
	pk_str(pk, "seq"); msgpack_pack_uint64(pk, 1);
	pk_str(pk, "ts"); msgpack_pack_int64(pk, NOW);
	pk_str(pk, "hr");
	msgpack_pack_bin(pk, sizeof(bytes));
	msgpack_pack_bin_body(pk, bytes, sizeof(bytes));
}

static void b_ext33(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	static const char bytes[33] = { 0 };

	(void)sb; (void)c;
	msgpack_pack_map(pk, 4);
	pk_str(pk, "v"); msgpack_pack_uint8(pk, 1);
	pk_str(pk, "seq"); msgpack_pack_uint64(pk, 1);
	pk_str(pk, "ts"); msgpack_pack_int64(pk, NOW);
	pk_str(pk, "hr");
	msgpack_pack_ext(pk, sizeof(bytes), 5);
	msgpack_pack_ext_body(pk, bytes, sizeof(bytes));
}

static void b_ext4(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	static const char bytes[4] = { 1, 2, 3, 4 };

	(void)sb; (void)c;
	msgpack_pack_map(pk, 4);
	pk_str(pk, "v"); msgpack_pack_uint8(pk, 1);
	pk_str(pk, "seq"); msgpack_pack_uint64(pk, 1);
	pk_str(pk, "ts"); msgpack_pack_int64(pk, NOW);
	pk_str(pk, "hr");
	msgpack_pack_ext(pk, sizeof(bytes), 5);   /* fixext 4 */
	msgpack_pack_ext_body(pk, bytes, sizeof(bytes));
}

/*
 * Exactly `target` bytes of well-framed MessagePack: an array of 64 maps of
 * 16 string pairs whose lengths are spread to land on the target. Only the
 * structure is meant to be valid (the keys are unknown to the schema).
 */
static void pk_padded(msgpack_sbuffer *sb, msgpack_packer *pk, size_t target)
{
	const size_t maps = 64, per_map = 15, entries = maps * per_map;
	size_t fixed = 3 + maps;      /* array16 header + one fixmap byte each */
	size_t budget = target - fixed, base = budget / entries, extra = budget % entries;
	size_t m, e, k = 0;
	char val[40];

	memset(val, 'z', sizeof(val));
	msgpack_pack_array(pk, maps);
	for(m = 0; m < maps; m++){
		msgpack_pack_map(pk, per_map);
		for(e = 0; e < per_map; e++, k++){
			size_t bytes = base + (k < extra ? 1 : 0);   /* 2 headers + key + value */
			size_t vlen = bytes - 2 - 4;
			char key[8];
			snprintf(key, sizeof(key), "k%03zu", e);   /* 4 bytes */
			pk_str(pk, key);
			msgpack_pack_str(pk, vlen);
			msgpack_pack_str_body(pk, val, vlen);
		}
	}
	(void)sb;
}

static void b_payload_over(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	(void)c;
	pk_padded(sb, pk, VG_MAX_PAYLOAD_BYTES + 1);
}

static void b_payload_huge(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	(void)c;
	pk_padded(sb, pk, 40000);
}

/* Batch with seqs given by the case's first pairs' u values (key unused). */
static void b_seq_batch(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	size_t i, n = x_count(c);

	(void)sb;
	msgpack_pack_array(pk, n);
	for(i = 0; i < n; i++){
		pk_simple(pk, c->x[i].u, 60);
	}
}

/* ---- the table ----------------------------------------------------------- */

#define OK1 VG_R_OK, "", -1, NULL, 1
#define S32 "abcdefghijklmnopqrstuvwxyz012345"    /* 32 bytes */
#define S33 "abcdefghijklmnopqrstuvwxyz0123456"   /* 33 bytes */

static const struct vcase cases[] = {
	/* -- accepted ---------------------------------------------------------- */
	{ "minimal sample (hr)", b_std, { XU("hr", 72) }, OK1 },
	{ "every field", b_all_fields, { { 0 } }, OK1 },
	{ "spo2 70 (abnormal, possible)", b_std, { XU("spo2", 70) }, OK1 },
	{ "spo2 84", b_std, { XU("spo2", 84) }, OK1 },
	{ "spo2 100 (max)", b_std, { XU("spo2", 100) }, OK1 },
	{ "spo2 0 (min)", b_std, { XU("spo2", 0) }, OK1 },
	{ "hr 35", b_std, { XU("hr", 35) }, OK1 },
	{ "hr 300 (max)", b_std, { XU("hr", 300) }, OK1 },
	{ "hr 0", b_std, { XU("hr", 0) }, OK1 },
	{ "rr 120 (max)", b_std, { XU("rr", 120) }, OK1 },
	{ "sbp 300 dbp 200 map 250 (max)", b_std, { XU("sbp", 300), XU("dbp", 200), XU("map", 250) }, OK1 },
	{ "dbp just below sbp", b_std, { XU("sbp", 81), XU("dbp", 80) }, OK1 },
	{ "dbp without sbp", b_std, { XU("dbp", 80) }, OK1 },
	{ "temp 34.0", b_std, { XF("temp", 34.0) }, OK1 },
	{ "temp 25.0 (min)", b_std, { XF("temp", 25.0) }, OK1 },
	{ "temp 45.0 (max)", b_std, { XF("temp", 45.0) }, OK1 },
	{ "temp int 37", b_std, { XU("temp", 37) }, OK1 },
	{ "temp float32", b_std, { XF32("temp", 36.5) }, OK1 },
	{ "o2 true", b_std, { XT("o2") }, OK1 },
	{ "o2 false alone is a measurement", b_std, { XFALSE("o2") }, OK1 },
	{ "avpu A", b_std, { XS("avpu", "A") }, OK1 },
	{ "avpu C", b_std, { XS("avpu", "C") }, OK1 },
	{ "avpu V", b_std, { XS("avpu", "V") }, OK1 },
	{ "avpu P", b_std, { XS("avpu", "P") }, OK1 },
	{ "avpu U", b_std, { XS("avpu", "U") }, OK1 },
	{ "keys in any order", b_map, { XU("hr", 60), XI("ts", NOW), XU("seq", 5), XU("v", 1) }, OK1 },
	{ "seq 0", b_map, { XU("v", 1), XU("seq", 0), XI("ts", NOW), XU("hr", 60) }, OK1 },
	{ "seq INT64_MAX", b_map, { XU("v", 1), XU("seq", (uint64_t)INT64_MAX), XI("ts", NOW), XU("hr", 60) }, OK1 },
	{ "seq above INT64_MAX", b_map, { XU("v", 1), XU("seq", (uint64_t)INT64_MAX + 1), XI("ts", NOW), XU("hr", 60) }, VG_R_OUT_OF_RANGE, "seq", -1, NULL, 0 },
	{ "seq UINT64_MAX", b_map, { XU("v", 1), XU("seq", UINT64_MAX), XI("ts", NOW), XU("hr", 60) }, VG_R_OUT_OF_RANGE, "seq", -1, NULL, 0 },
	{ "ts exactly 300 s ahead", b_map, { XU("v", 1), XU("seq", 1), XI("ts", NOW + 300000), XU("hr", 60) }, OK1 },
	{ "ts exactly 86400 s behind", b_map, { XU("v", 1), XU("seq", 1), XI("ts", NOW - 86400000), XU("hr", 60) }, OK1 },
	{ "batch of 64 (limit)", b_batch64, { { 0 } }, VG_R_OK, "", -1, NULL, 64 },
	{ "batch of 1", b_seq_batch, { XU("", 7) }, VG_R_OK, "", -1, NULL, 1 },
	{ "batch, seq gaps allowed", b_seq_batch, { XU("", 1), XU("", 5), XU("", 1000) }, VG_R_OK, "", -1, NULL, 3 },
	{ "string of 32 bytes passes the limit (then range)", b_std, { XS("avpu", S32) },
		VG_R_OUT_OF_RANGE, "avpu", -1, NULL, 0 },
	{ "key of 32 bytes passes the limit (then unknown)", b_std, { XU(S32, 1) },
		VG_R_UNKNOWN_FIELD, S32, -1, NULL, 0 },
	{ "map of 16 entries passes the limit (then unknown)", b_map16, { { 0 } },
		VG_R_UNKNOWN_FIELD, "x1", -1, NULL, 0 },
	{ "fixext 4 passes the pre-scan (then type)", b_ext4, { { 0 } }, VG_R_WRONG_TYPE, "hr", -1, "extension", 0 },

	/* -- malformed --------------------------------------------------------- */
	{ "empty payload", b_empty, { { 0 } }, VG_R_MALFORMED, "", -1, "empty", 0 },
	{ "truncated string", b_truncated, { { 0 } }, VG_R_MALFORMED, "", -1, "truncated", 0 },
	{ "truncated integer", b_truncated_header, { { 0 } }, VG_R_MALFORMED, "", -1, "truncated", 0 },
	{ "map declares more entries than present", b_missing_entries, { { 0 } }, VG_R_MALFORMED, "", -1, NULL, 0 },
	{ "container overclaims", b_container_overclaims, { { 0 } }, VG_R_MALFORMED, "", -1, "declares", 0 },
	{ "trailing byte", b_trailing, { { 0 } }, VG_R_MALFORMED, "", -1, "trailing", 0 },
	{ "two concatenated maps", b_two_roots, { { 0 } }, VG_R_MALFORMED, "", -1, "trailing", 0 },
	{ "type byte 0xc1", b_c1, { { 0 } }, VG_R_MALFORMED, "", -1, "0xc1", 0 },
	{ "integer key", b_int_key, { { 0 } }, VG_R_MALFORMED, "", -1, "keys must be strings", 0 },
	{ "nil key before v", b_nil_key, { { 0 } }, VG_R_MALFORMED, "", -1, "keys must be strings", 0 },
	{ "duplicate key hr", b_std, { XU("hr", 60), XU("hr", 61) }, VG_R_MALFORMED, "hr", -1, "twice", 0 },
	{ "duplicate key v", b_std, { XU("hr", 60), XU("v", 1) }, VG_R_MALFORMED, "v", -1, "twice", 0 },
	{ "root is an integer", b_root_int, { { 0 } }, VG_R_MALFORMED, "", -1, "expected a map", 0 },
	{ "root is a string", b_root_str, { { 0 } }, VG_R_MALFORMED, "", -1, "expected a map", 0 },
	{ "root is nil", b_root_nil, { { 0 } }, VG_R_MALFORMED, "", -1, "expected a map", 0 },
	{ "empty batch", b_empty_batch, { { 0 } }, VG_R_MALFORMED, "", -1, "empty batch", 0 },
	{ "batch element not a map", b_batch_elem_int, { { 0 } }, VG_R_MALFORMED, "", 1, "batch[1]", 0 },
	{ "nesting: array in array in array", b_deep_arrays, { { 0 } }, VG_R_MALFORMED, "", -1, "nesting", 0 },
	{ "nesting: map in map in map", b_deep_map, { { 0 } }, VG_R_MALFORMED, "", -1, "nesting", 0 },
	{ "nesting: empty array in a batch map", b_deep_batch, { { 0 } }, VG_R_MALFORMED, "", -1, "nesting", 0 },

	/* -- too_large --------------------------------------------------------- */
	{ "payload of 16385 bytes", b_payload_over, { { 0 } }, VG_R_TOO_LARGE, "", -1, "16385", 0 },
	{ "payload of 40000 bytes", b_payload_huge, { { 0 } }, VG_R_TOO_LARGE, "", -1, "payload", 0 },
	{ "batch of 65", b_batch65, { { 0 } }, VG_R_TOO_LARGE, "", -1, "65", 0 },
	{ "array32 of 2^31-1", b_array32_huge, { { 0 } }, VG_R_TOO_LARGE, "", -1, NULL, 0 },
	{ "map of 17 entries", b_map17, { { 0 } }, VG_R_TOO_LARGE, "", -1, "17", 0 },
	{ "map32 of 65536 entries", b_map32_huge, { { 0 } }, VG_R_TOO_LARGE, "", -1, NULL, 0 },
	{ "string value of 33 bytes", b_std, { XS("avpu", S33) }, VG_R_TOO_LARGE, "", -1, "33", 0 },
	{ "key of 33 bytes", b_std, { XU(S33, 1) }, VG_R_TOO_LARGE, "", -1, "33", 0 },
	{ "bin of 33 bytes", b_bin33, { { 0 } }, VG_R_TOO_LARGE, "", -1, NULL, 0 },
	{ "ext of 33 bytes", b_ext33, { { 0 } }, VG_R_TOO_LARGE, "", -1, NULL, 0 },

	/* -- unknown_version --------------------------------------------------- */
	{ "v 2", b_map, { XU("v", 2), XU("seq", 1), XI("ts", NOW), XU("hr", 60) }, VG_R_UNKNOWN_VERSION, "v", -1, NULL, 0 },
	{ "v -1", b_map, { XI("v", -1), XU("seq", 1), XI("ts", NOW), XU("hr", 60) }, VG_R_UNKNOWN_VERSION, "v", -1, NULL, 0 },
	{ "v 0", b_map, { XU("v", 0), XU("seq", 1), XI("ts", NOW), XU("hr", 60) }, VG_R_UNKNOWN_VERSION, "v", -1, NULL, 0 },
	{ "v 2 beats unknown keys", b_map, { XU("future", 1), XU("v", 2) }, VG_R_UNKNOWN_VERSION, "v", -1, NULL, 0 },
	{ "v 2 in a batch", b_batch_third_map, { XU("v", 2), XU("seq", 3), XI("ts", NOW), XU("hr", 60) },
		VG_R_UNKNOWN_VERSION, "v", 2, "batch[2]", 0 },
	{ "no v in a batch", b_batch_third_map, { XU("seq", 3), XI("ts", NOW), XU("hr", 60) },
		VG_R_MISSING_FIELD, "v", 2, NULL, 0 },

	/* -- missing_field ----------------------------------------------------- */
	{ "no v", b_map, { XU("seq", 1), XI("ts", NOW), XU("hr", 60) }, VG_R_MISSING_FIELD, "v", -1, NULL, 0 },
	{ "no seq", b_map, { XU("v", 1), XI("ts", NOW), XU("hr", 60) }, VG_R_MISSING_FIELD, "seq", -1, NULL, 0 },
	{ "no ts", b_map, { XU("v", 1), XU("seq", 1), XU("hr", 60) }, VG_R_MISSING_FIELD, "ts", -1, NULL, 0 },
	{ "no measurement", b_std, { { 0 } }, VG_R_MISSING_FIELD, "*", -1, "measurement", 0 },
	{ "empty map", b_map, { { 0 } }, VG_R_MISSING_FIELD, "v", -1, NULL, 0 },

	/* -- wrong_type -------------------------------------------------------- */
	{ "hr float", b_std, { XF("hr", 72.0) }, VG_R_WRONG_TYPE, "hr", -1, NULL, 0 },
	{ "spo2 string", b_std, { XS("spo2", "98") }, VG_R_WRONG_TYPE, "spo2", -1, NULL, 0 },
	{ "o2 int", b_std, { XU("o2", 1) }, VG_R_WRONG_TYPE, "o2", -1, NULL, 0 },
	{ "avpu int", b_std, { XU("avpu", 1) }, VG_R_WRONG_TYPE, "avpu", -1, NULL, 0 },
	{ "ts float", b_map, { XU("v", 1), XU("seq", 1), XF("ts", (double)NOW), XU("hr", 60) }, VG_R_WRONG_TYPE, "ts", -1, NULL, 0 },
	{ "hr bin", b_std, { XBIN("hr", "72") }, VG_R_WRONG_TYPE, "hr", -1, "binary", 0 },
	{ "rr nil", b_std, { XNIL("rr") }, VG_R_WRONG_TYPE, "rr", -1, NULL, 0 },
	{ "temp bool", b_std, { XT("temp") }, VG_R_WRONG_TYPE, "temp", -1, NULL, 0 },
	{ "temp string", b_std, { XS("temp", "37.0") }, VG_R_WRONG_TYPE, "temp", -1, NULL, 0 },
	{ "sbp array", b_std, { XARR("sbp") }, VG_R_WRONG_TYPE, "sbp", -1, "array", 0 },
	{ "map map", b_std, { XMAP("map") }, VG_R_WRONG_TYPE, "map", -1, NULL, 0 },
	{ "seq float", b_map, { XU("v", 1), XF("seq", 1.0), XI("ts", NOW), XU("hr", 60) }, VG_R_WRONG_TYPE, "seq", -1, NULL, 0 },
	{ "seq string", b_map, { XU("v", 1), XS("seq", "1"), XI("ts", NOW), XU("hr", 60) }, VG_R_WRONG_TYPE, "seq", -1, NULL, 0 },
	{ "v string", b_map, { XS("v", "1"), XU("seq", 1), XI("ts", NOW), XU("hr", 60) }, VG_R_WRONG_TYPE, "v", -1, NULL, 0 },
	{ "v float", b_map, { XF("v", 1.0), XU("seq", 1), XI("ts", NOW), XU("hr", 60) }, VG_R_WRONG_TYPE, "v", -1, NULL, 0 },

	/* -- unknown_field ----------------------------------------------------- */
	{ "unknown key", b_std, { XU("hr", 60), XU("pulse", 60) }, VG_R_UNKNOWN_FIELD, "pulse", -1, "pulse", 0 },
	{ "key case matters", b_std, { XU("HR", 60) }, VG_R_UNKNOWN_FIELD, "HR", -1, NULL, 0 },
	{ "unprintable key sanitised", b_std, { XU("a\"b\\c\x01\x7f", 1) }, VG_R_UNKNOWN_FIELD, "a?b?c??", -1, NULL, 0 },
	{ "prefix of a key", b_std, { XU("sp", 1) }, VG_R_UNKNOWN_FIELD, "sp", -1, NULL, 0 },

	/* -- out_of_range ------------------------------------------------------ */
	{ "spo2 101", b_std, { XU("spo2", 101) }, VG_R_OUT_OF_RANGE, "spo2", -1, NULL, 0 },
	{ "hr -1", b_std, { XI("hr", -1) }, VG_R_OUT_OF_RANGE, "hr", -1, "negative", 0 },
	{ "hr 301", b_std, { XU("hr", 301) }, VG_R_OUT_OF_RANGE, "hr", -1, NULL, 0 },
	{ "rr 121", b_std, { XU("rr", 121) }, VG_R_OUT_OF_RANGE, "rr", -1, NULL, 0 },
	{ "sbp 301", b_std, { XU("sbp", 301) }, VG_R_OUT_OF_RANGE, "sbp", -1, NULL, 0 },
	{ "dbp 201", b_std, { XU("dbp", 201) }, VG_R_OUT_OF_RANGE, "dbp", -1, NULL, 0 },
	{ "map 251", b_std, { XU("map", 251) }, VG_R_OUT_OF_RANGE, "map", -1, NULL, 0 },
	{ "hr 2^64-1", b_std, { XU("hr", UINT64_MAX) }, VG_R_OUT_OF_RANGE, "hr", -1, NULL, 0 },
	{ "dbp > sbp", b_std, { XU("sbp", 80), XU("dbp", 90) }, VG_R_OUT_OF_RANGE, "dbp", -1, "sbp", 0 },
	{ "dbp == sbp", b_std, { XU("dbp", 90), XU("sbp", 90) }, VG_R_OUT_OF_RANGE, "dbp", -1, NULL, 0 },
	{ "temp 45.1", b_std, { XF("temp", 45.1) }, VG_R_OUT_OF_RANGE, "temp", -1, NULL, 0 },
	{ "temp 24.9", b_std, { XF("temp", 24.9) }, VG_R_OUT_OF_RANGE, "temp", -1, NULL, 0 },
	{ "temp int 46", b_std, { XU("temp", 46) }, VG_R_OUT_OF_RANGE, "temp", -1, NULL, 0 },
	{ "temp int -5", b_std, { XI("temp", -5) }, VG_R_OUT_OF_RANGE, "temp", -1, NULL, 0 },
	{ "temp NaN", b_std, { XF("temp", NAN) }, VG_R_OUT_OF_RANGE, "temp", -1, "finite", 0 },
	{ "temp +inf", b_std, { XF("temp", INFINITY) }, VG_R_OUT_OF_RANGE, "temp", -1, "finite", 0 },
	{ "temp float32 NaN", b_std, { XF32("temp", NAN) }, VG_R_OUT_OF_RANGE, "temp", -1, "finite", 0 },
	{ "avpu X", b_std, { XS("avpu", "X") }, VG_R_OUT_OF_RANGE, "avpu", -1, NULL, 0 },
	{ "avpu lower-case a", b_std, { XS("avpu", "a") }, VG_R_OUT_OF_RANGE, "avpu", -1, NULL, 0 },
	{ "avpu empty", b_std, { XS("avpu", "") }, VG_R_OUT_OF_RANGE, "avpu", -1, NULL, 0 },
	{ "avpu AA", b_std, { XS("avpu", "AA") }, VG_R_OUT_OF_RANGE, "avpu", -1, NULL, 0 },
	{ "seq negative", b_map, { XU("v", 1), XI("seq", -1), XI("ts", NOW), XU("hr", 60) }, VG_R_OUT_OF_RANGE, "seq", -1, NULL, 0 },
	{ "ts over INT64_MAX", b_map, { XU("v", 1), XU("seq", 1), XU("ts", UINT64_MAX), XU("hr", 60) }, VG_R_OUT_OF_RANGE, "ts", -1, NULL, 0 },

	/* -- bad_time ---------------------------------------------------------- */
	{ "ts 301 s ahead", b_map, { XU("v", 1), XU("seq", 1), XI("ts", NOW + 301000), XU("hr", 60) }, VG_R_BAD_TIME, "ts", -1, "ahead", 0 },
	{ "ts 300.001 s ahead", b_map, { XU("v", 1), XU("seq", 1), XI("ts", NOW + 300001), XU("hr", 60) }, VG_R_BAD_TIME, "ts", -1, "ahead", 0 },
	{ "ts 86401 s behind", b_map, { XU("v", 1), XU("seq", 1), XI("ts", NOW - 86401000), XU("hr", 60) }, VG_R_BAD_TIME, "ts", -1, "behind", 0 },
	{ "ts 86400.001 s behind", b_map, { XU("v", 1), XU("seq", 1), XI("ts", NOW - 86400001), XU("hr", 60) }, VG_R_BAD_TIME, "ts", -1, "behind", 0 },
	{ "ts 0", b_map, { XU("v", 1), XU("seq", 1), XI("ts", 0), XU("hr", 60) }, VG_R_BAD_TIME, "ts", -1, "behind", 0 },
	{ "ts negative", b_map, { XU("v", 1), XU("seq", 1), XI("ts", -1000), XU("hr", 60) }, VG_R_BAD_TIME, "ts", -1, "behind", 0 },
	{ "ts INT64_MIN", b_map, { XU("v", 1), XU("seq", 1), XI("ts", INT64_MIN), XU("hr", 60) }, VG_R_BAD_TIME, "ts", -1, "behind", 0 },
	{ "ts INT64_MAX", b_map, { XU("v", 1), XU("seq", 1), XI("ts", INT64_MAX), XU("hr", 60) }, VG_R_BAD_TIME, "ts", -1, "ahead", 0 },
	{ "ts in seconds, not ms", b_map, { XU("v", 1), XU("seq", 1), XI("ts", NOW / 1000), XU("hr", 60) }, VG_R_BAD_TIME, "ts", -1, NULL, 0 },

	/* -- bad_sequence and errors inside batches ---------------------------- */
	{ "batch seq repeated", b_seq_batch, { XU("", 5), XU("", 5) }, VG_R_BAD_SEQUENCE, "seq", 1, "batch[1]", 0 },
	{ "batch seq decreasing", b_seq_batch, { XU("", 5), XU("", 4) }, VG_R_BAD_SEQUENCE, "seq", 1, NULL, 0 },
	{ "batch seq goes back late", b_seq_batch, { XU("", 1), XU("", 2), XU("", 3), XU("", 2) }, VG_R_BAD_SEQUENCE, "seq", 3, NULL, 0 },
	{ "batch: third sample hr 301", b_batch_third, { XU("hr", 301) }, VG_R_OUT_OF_RANGE, "hr", 2, "batch[2]", 0 },
	{ "batch: third sample unknown key", b_batch_third, { XU("hr", 60), XU("bogus", 1) }, VG_R_UNKNOWN_FIELD, "bogus", 2, NULL, 0 },
	{ "batch: third sample no measurement", b_batch_third, { { 0 } }, VG_R_MISSING_FIELD, "*", 2, NULL, 0 },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* Decodes the case's payload and checks its verdict; a copy of the verdict
 * goes to *vout when given. */
static void run_case(struct vg_decoder *d, const struct vcase *c, struct vg_sample *out, struct vg_verdict *vout)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct vg_verdict v;
	enum vg_reason r;
	int n = -1;
	int failures_before = vgtest_failures;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	c->build(&sb, &pk, c);
	memset(&v, 0x5a, sizeof(v));
	r = vg_vitals_decode(d, sb.data, sb.size, NOW, out, &n, &v);
	CHECK_STR(vg_reason_name(r), vg_reason_name(c->reason));
	CHECK_INT(v.reason, c->reason);
	if(c->reason == VG_R_OK){
		CHECK_INT(n, c->n);
	}else{
		CHECK_INT(n, 0);
		CHECK_STR(v.field_name, c->field);
		CHECK_INT(v.index, c->index);
		CHECK(v.detail[0] != '\0');
		CHECK(memchr(v.detail, '\0', sizeof(v.detail)) != NULL);
		if(c->detail){
			CHECK(strstr(v.detail, c->detail) != NULL);
		}
		/* field (enum) and field_name agree for schema fields. */
		if(v.field >= 0){
			CHECK(v.field < VG_FIELD_COUNT);
			if(v.field < VG_FIELD_COUNT){
				CHECK_STR(v.field_name, vg_fields[v.field].key);
			}
		}
	}
	if(vgtest_failures != failures_before){
		fprintf(stderr, "  ^ in case \"%s\": got %s field \"%s\" index %d detail \"%s\"\n", c->name,
				vg_reason_name(r), v.field_name, v.index, v.detail);
	}
	if(vout){
		*vout = v;
	}
	msgpack_sbuffer_destroy(&sb);
}

/* Every reason the decoder can produce appears in the table. */
static void test_table_covers_reasons(void)
{
	bool seen[VG_R__COUNT] = { false };
	size_t i;
	int r;

	for(i = 0; i < NCASES; i++){
		seen[cases[i].reason] = true;
	}
	for(r = VG_R_OK; r <= VG_R_BAD_SEQUENCE; r++){
		CHECK(seen[r]);
	}
}

static void test_table(void)
{
	struct vg_decoder d;
	struct vg_sample *out = calloc(VG_MAX_BATCH, sizeof(*out));
	size_t i;

	CHECK(out != NULL);
	CHECK_INT(vg_decoder_init(&d, NULL), 0);
	for(i = 0; i < NCASES; i++){
		run_case(&d, &cases[i], out, NULL);
	}
	vg_decoder_free(&d);
	free(out);
}

/* ---- decoded values ------------------------------------------------------ */

static enum vg_reason decode_buf(struct vg_decoder *d, const msgpack_sbuffer *sb, int64_t now,
		struct vg_sample *out, int *n, struct vg_verdict *v)
{
	return vg_vitals_decode(d, sb->data, sb->size, now, out, n, v);
}

static void test_values_all_fields(void)
{
	struct vg_decoder d;
	struct vg_sample out[VG_MAX_BATCH];
	struct vg_verdict v;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int n = 0;

	CHECK_INT(vg_decoder_init(&d, NULL), 0);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 12);
	pk_str(&pk, "v"); msgpack_pack_uint8(&pk, 1);
	pk_str(&pk, "seq"); msgpack_pack_uint64(&pk, 123456789012ull);
	pk_str(&pk, "ts"); msgpack_pack_int64(&pk, NOW - 5000);
	pk_str(&pk, "hr"); msgpack_pack_uint64(&pk, 72);
	pk_str(&pk, "spo2"); msgpack_pack_uint64(&pk, 97);
	pk_str(&pk, "rr"); msgpack_pack_uint64(&pk, 16);
	pk_str(&pk, "sbp"); msgpack_pack_uint64(&pk, 121);
	pk_str(&pk, "dbp"); msgpack_pack_uint64(&pk, 79);
	pk_str(&pk, "map"); msgpack_pack_uint64(&pk, 93);
	pk_str(&pk, "temp"); msgpack_pack_double(&pk, 36.8);
	pk_str(&pk, "o2"); msgpack_pack_true(&pk);
	pk_str(&pk, "avpu"); pk_str(&pk, "V");
	CHECK_INT(decode_buf(&d, &sb, NOW, out, &n, &v), VG_R_OK);
	CHECK_INT(n, 1);
	/* Every field sent is present (all of them in schema v1 as first
	 * released; a field added since is simply not in this sample). */
	CHECK_INT(out[0].present, (1u << VG_F_V) | (1u << VG_F_SEQ) | (1u << VG_F_TS) | (1u << VG_F_HR) | (1u << VG_F_SPO2)
			| (1u << VG_F_RR) | (1u << VG_F_SBP) | (1u << VG_F_DBP) | (1u << VG_F_MAP) | (1u << VG_F_TEMP)
			| (1u << VG_F_O2) | (1u << VG_F_AVPU));
	CHECK_INT(out[0].val[VG_F_V].u, 1);
	CHECK(out[0].val[VG_F_SEQ].u == 123456789012ull);
	CHECK_INT(out[0].val[VG_F_TS].i, NOW - 5000);
	CHECK_INT(out[0].val[VG_F_HR].u, 72);
	CHECK_INT(out[0].val[VG_F_SPO2].u, 97);
	CHECK_INT(out[0].val[VG_F_RR].u, 16);
	CHECK_INT(out[0].val[VG_F_SBP].u, 121);
	CHECK_INT(out[0].val[VG_F_DBP].u, 79);
	CHECK_INT(out[0].val[VG_F_MAP].u, 93);
	CHECK(out[0].val[VG_F_TEMP].d == 36.8);
	CHECK(out[0].val[VG_F_O2].b == true);
	CHECK_INT(out[0].val[VG_F_AVPU].c, 'V');
	CHECK(v.has_seq);
	CHECK(v.seq == 123456789012ull);
	msgpack_sbuffer_destroy(&sb);

	/* A sparse sample: only the given bits, absent values zero. */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 6);
	pk_str(&pk, "ts"); msgpack_pack_int64(&pk, NOW + 1000);
	pk_str(&pk, "temp"); msgpack_pack_uint64(&pk, 37);
	pk_str(&pk, "seq"); msgpack_pack_uint64(&pk, 42);
	pk_str(&pk, "o2"); msgpack_pack_false(&pk);
	pk_str(&pk, "v"); msgpack_pack_uint8(&pk, 1);
	pk_str(&pk, "avpu"); pk_str(&pk, "U");
	memset(out, 0xff, sizeof(out));
	CHECK_INT(decode_buf(&d, &sb, NOW, out, &n, &v), VG_R_OK);
	CHECK_INT(n, 1);
	CHECK_INT(out[0].present, (1u << VG_F_V) | (1u << VG_F_SEQ) | (1u << VG_F_TS) | (1u << VG_F_TEMP)
			| (1u << VG_F_O2) | (1u << VG_F_AVPU));
	CHECK(VG_SAMPLE_HAS(&out[0], VG_F_TEMP));
	CHECK(!VG_SAMPLE_HAS(&out[0], VG_F_HR));
	CHECK_INT(out[0].val[VG_F_HR].u, 0);
	CHECK_INT(out[0].val[VG_F_SEQ].u, 42);
	CHECK_INT(out[0].val[VG_F_TS].i, NOW + 1000);
	CHECK(out[0].val[VG_F_TEMP].d == 37.0);   /* int temp becomes a double */
	CHECK(out[0].val[VG_F_O2].b == false);
	CHECK_INT(out[0].val[VG_F_AVPU].c, 'U');
	msgpack_sbuffer_destroy(&sb);

	/* float32 temperature. */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4);
	pk_str(&pk, "v"); msgpack_pack_uint8(&pk, 1);
	pk_str(&pk, "seq"); msgpack_pack_uint64(&pk, 1);
	pk_str(&pk, "ts"); msgpack_pack_int64(&pk, NOW);
	pk_str(&pk, "temp"); msgpack_pack_float(&pk, 38.25f);   /* exact in binary */
	CHECK_INT((unsigned char)sb.data[sb.size - 5], 0xca);
	CHECK_INT(decode_buf(&d, &sb, NOW, out, &n, &v), VG_R_OK);
	CHECK(out[0].val[VG_F_TEMP].d == 38.25);
	msgpack_sbuffer_destroy(&sb);

	vg_decoder_free(&d);
}

static void test_values_batch(void)
{
	struct vg_decoder d;
	struct vg_sample *out = calloc(VG_MAX_BATCH, sizeof(*out));
	struct vg_verdict v;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int n = 0, i, wrong = 0;

	CHECK(out != NULL);
	CHECK_INT(vg_decoder_init(&d, NULL), 0);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 64);
	for(i = 0; i < 64; i++){
		/* Alternate shapes: hr only, spo2+o2, temp+avpu. */
		switch(i % 3){
			case 0:
				msgpack_pack_map(&pk, 4);
				pk_str(&pk, "hr"); msgpack_pack_uint64(&pk, 50 + (uint64_t)i);
				break;
			case 1:
				msgpack_pack_map(&pk, 5);
				pk_str(&pk, "spo2"); msgpack_pack_uint64(&pk, 80 + (uint64_t)(i % 20));
				pk_str(&pk, "o2"); if(i % 2) msgpack_pack_true(&pk); else msgpack_pack_false(&pk);
				break;
			default:
				msgpack_pack_map(&pk, 5);
				pk_str(&pk, "temp"); msgpack_pack_double(&pk, 35.0 + i / 10.0);
				pk_str(&pk, "avpu"); pk_str(&pk, (i % 2) ? "P" : "A");
				break;
		}
		pk_str(&pk, "v"); msgpack_pack_uint8(&pk, 1);
		pk_str(&pk, "seq"); msgpack_pack_uint64(&pk, 1000 + (uint64_t)i * 10);
		pk_str(&pk, "ts"); msgpack_pack_int64(&pk, NOW - 60000 + i * 1000);
	}
	CHECK_INT(decode_buf(&d, &sb, NOW, out, &n, &v), VG_R_OK);
	CHECK_INT(n, 64);
	CHECK_INT(v.index, -1);
	for(i = 0; i < 64 && n == 64; i++){
		const struct vg_sample *s = &out[i];
		uint32_t base = (1u << VG_F_V) | (1u << VG_F_SEQ) | (1u << VG_F_TS);
		if(s->val[VG_F_SEQ].u != 1000 + (uint64_t)i * 10 || s->val[VG_F_TS].i != NOW - 60000 + i * 1000){
			wrong++;
		}
		switch(i % 3){
			case 0:
				if(s->present != (base | 1u << VG_F_HR) || s->val[VG_F_HR].u != 50 + (uint64_t)i) wrong++;
				break;
			case 1:
				if(s->present != (base | 1u << VG_F_SPO2 | 1u << VG_F_O2) || s->val[VG_F_SPO2].u != 80 + (uint64_t)(i % 20)
						|| s->val[VG_F_O2].b != (i % 2 == 1)) wrong++;
				break;
			default:
				if(s->present != (base | 1u << VG_F_TEMP | 1u << VG_F_AVPU) || s->val[VG_F_TEMP].d != 35.0 + i / 10.0
						|| s->val[VG_F_AVPU].c != ((i % 2) ? 'P' : 'A')) wrong++;
				break;
		}
	}
	CHECK_INT(wrong, 0);
	msgpack_sbuffer_destroy(&sb);
	vg_decoder_free(&d);
	free(out);
}

/* has_seq / seq in the verdict name the offending sample. */
static void test_verdict_seq(void)
{
	struct vg_decoder d;
	struct vg_sample out[VG_MAX_BATCH];
	struct vg_verdict v;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int n;

	CHECK_INT(vg_decoder_init(&d, NULL), 0);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4);
	pk_str(&pk, "v"); msgpack_pack_uint8(&pk, 1);
	pk_str(&pk, "seq"); msgpack_pack_uint64(&pk, 77);
	pk_str(&pk, "ts"); msgpack_pack_int64(&pk, NOW);
	pk_str(&pk, "spo2"); msgpack_pack_uint64(&pk, 101);
	CHECK_INT(decode_buf(&d, &sb, NOW, out, &n, &v), VG_R_OUT_OF_RANGE);
	CHECK(v.has_seq);
	CHECK_INT(v.seq, 77);
	CHECK_INT(v.field, VG_F_SPO2);
	msgpack_sbuffer_destroy(&sb);

	/* seq after the bad field: known too (12.14; this once said "not
	 * known", which left the device unable to match the rejection). */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4);
	pk_str(&pk, "v"); msgpack_pack_uint8(&pk, 1);
	pk_str(&pk, "spo2"); msgpack_pack_uint64(&pk, 101);
	pk_str(&pk, "seq"); msgpack_pack_uint64(&pk, 77);
	pk_str(&pk, "ts"); msgpack_pack_int64(&pk, NOW);
	CHECK_INT(decode_buf(&d, &sb, NOW, out, &n, &v), VG_R_OUT_OF_RANGE);
	CHECK(v.has_seq);
	CHECK_INT(v.seq, 77);
	msgpack_sbuffer_destroy(&sb);

	/* bad_time: seq known. */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4);
	pk_str(&pk, "v"); msgpack_pack_uint8(&pk, 1);
	pk_str(&pk, "seq"); msgpack_pack_uint64(&pk, 78);
	pk_str(&pk, "ts"); msgpack_pack_int64(&pk, NOW + 3600000);
	pk_str(&pk, "hr"); msgpack_pack_uint64(&pk, 60);
	CHECK_INT(decode_buf(&d, &sb, NOW, out, &n, &v), VG_R_BAD_TIME);
	CHECK(v.has_seq);
	CHECK_INT(v.seq, 78);
	CHECK_INT(v.field, VG_F_TS);
	msgpack_sbuffer_destroy(&sb);

	/* batch: the failing sample's seq. */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 2);
	pk_simple(&pk, 10, 60);
	pk_simple(&pk, 11, 400);
	CHECK_INT(decode_buf(&d, &sb, NOW, out, &n, &v), VG_R_OUT_OF_RANGE);
	CHECK_INT(v.index, 1);
	CHECK(v.has_seq);
	CHECK_INT(v.seq, 11);
	msgpack_sbuffer_destroy(&sb);

	/* prescan failures: nothing known. */
	CHECK_INT(vg_vitals_decode(&d, "\xc1", 1, NOW, out, &n, &v), VG_R_MALFORMED);
	CHECK(!v.has_seq);
	CHECK_INT(v.field, -1);
	CHECK_INT(v.index, -1);
	CHECK_STR(v.field_name, "");
	vg_decoder_free(&d);
}

/* A batch: two good samples, then an integer where the third map should be. */
static void b_batch_third_int(msgpack_sbuffer *sb, msgpack_packer *pk, const struct vcase *c)
{
	(void)sb;
	(void)c;
	msgpack_pack_array(pk, 3);
	pk_simple(pk, 1, 70);
	pk_simple(pk, 2, 71);
	msgpack_pack_uint8(pk, 7);
}

/* 12.14: a rejection carries the seq of the sample it rejects whenever that
 * sample has a valid seq: before or after the offending key, for unknown and
 * duplicate keys too, and for each batch element its own (never the seq of
 * the element before it). A missing seq, or one that is itself of the wrong
 * type or out of range, is none. */
struct seqcase {
	struct vcase c;          /* payload, reason, field, index as in the main table */
	bool has_seq;
	uint64_t seq;
};

static const struct seqcase seq_cases[] = {
	{ { "unknown key before seq", b_map, { XU("v", 1), XU("bogus", 1), XI("ts", NOW), XU("hr", 60), XU("seq", 41) },
		VG_R_UNKNOWN_FIELD, "bogus", -1, NULL, 0 }, true, 41 },
	{ { "unknown key after seq", b_map, { XU("v", 1), XU("seq", 42), XU("bogus", 1), XI("ts", NOW), XU("hr", 60) },
		VG_R_UNKNOWN_FIELD, "bogus", -1, NULL, 0 }, true, 42 },
	{ { "duplicate key before seq", b_map, { XU("v", 1), XU("hr", 60), XU("hr", 61), XI("ts", NOW), XU("seq", 43) },
		VG_R_MALFORMED, "hr", -1, "twice", 0 }, true, 43 },
	{ { "duplicate key after seq", b_map, { XU("v", 1), XU("seq", 44), XU("hr", 60), XU("hr", 61), XI("ts", NOW) },
		VG_R_MALFORMED, "hr", -1, "twice", 0 }, true, 44 },
	{ { "seq twice: the first one", b_map, { XU("v", 1), XU("seq", 45), XI("ts", NOW), XU("hr", 60), XU("seq", 46) },
		VG_R_MALFORMED, "seq", -1, "twice", 0 }, true, 45 },
	{ { "wrong type before seq", b_map, { XU("v", 1), XF("hr", 1.5), XU("seq", 47), XI("ts", NOW) },
		VG_R_WRONG_TYPE, "hr", -1, NULL, 0 }, true, 47 },
	{ { "out of range before seq", b_map, { XU("v", 1), XU("hr", 400), XI("ts", NOW), XU("seq", 48) },
		VG_R_OUT_OF_RANGE, "hr", -1, NULL, 0 }, true, 48 },
	{ { "bad time, seq last", b_map, { XU("v", 1), XI("ts", NOW + 3600000), XU("hr", 60), XU("seq", 49) },
		VG_R_BAD_TIME, "ts", -1, NULL, 0 }, true, 49 },
	{ { "no ts, seq last", b_map, { XU("v", 1), XU("hr", 60), XU("seq", 50) }, VG_R_MISSING_FIELD, "ts", -1, NULL, 0 }, true, 50 },
	{ { "no measurement", b_map, { XU("v", 1), XI("ts", NOW), XU("seq", 51) }, VG_R_MISSING_FIELD, "*", -1, NULL, 0 }, true, 51 },
	{ { "v 2", b_map, { XU("v", 2), XI("ts", NOW), XU("hr", 60), XU("seq", 52) }, VG_R_UNKNOWN_VERSION, "v", -1, NULL, 0 }, true, 52 },
	{ { "no v", b_map, { XI("ts", NOW), XU("hr", 60), XU("seq", 53) }, VG_R_MISSING_FIELD, "v", -1, NULL, 0 }, true, 53 },
	{ { "seq INT64_MAX after an unknown key", b_map, { XU("v", 1), XU("bogus", 1), XU("seq", (uint64_t)INT64_MAX) },
		VG_R_UNKNOWN_FIELD, "bogus", -1, NULL, 0 }, true, (uint64_t)INT64_MAX },
	{ { "seq 0 after an unknown key", b_map, { XU("v", 1), XU("bogus", 1), XU("seq", 0) },
		VG_R_UNKNOWN_FIELD, "bogus", -1, NULL, 0 }, true, 0 },
	/* No valid seq: none. */
	{ { "no seq", b_map, { XU("v", 1), XI("ts", NOW), XU("hr", 60) }, VG_R_MISSING_FIELD, "seq", -1, NULL, 0 }, false, 0 },
	{ { "seq string after an unknown key", b_map, { XU("v", 1), XU("bogus", 1), XS("seq", "5"), XI("ts", NOW), XU("hr", 60) },
		VG_R_UNKNOWN_FIELD, "bogus", -1, NULL, 0 }, false, 0 },
	{ { "seq negative after a bad hr", b_map, { XU("v", 1), XU("hr", 400), XI("seq", -1), XI("ts", NOW) },
		VG_R_OUT_OF_RANGE, "hr", -1, NULL, 0 }, false, 0 },
	{ { "seq 2^63 after an unknown key", b_map, { XU("v", 1), XU("bogus", 1), XU("seq", (uint64_t)INT64_MAX + 1) },
		VG_R_UNKNOWN_FIELD, "bogus", -1, NULL, 0 }, false, 0 },
	{ { "seq nil", b_map, { XU("v", 1), XNIL("seq"), XI("ts", NOW), XU("hr", 60) }, VG_R_WRONG_TYPE, "seq", -1, NULL, 0 }, false, 0 },
	{ { "seq float", b_map, { XU("v", 1), XF("seq", 3.0), XI("ts", NOW), XU("hr", 60) }, VG_R_WRONG_TYPE, "seq", -1, NULL, 0 }, false, 0 },
	{ { "first seq invalid, second valid", b_map, { XU("v", 1), XU("bogus", 1), XS("seq", "x"), XU("seq", 9) },
		VG_R_UNKNOWN_FIELD, "bogus", -1, NULL, 0 }, false, 0 },
	/* Batches: the failing element's own seq. */
	{ { "batch: unknown key, seq last", b_batch_third_map, { XU("v", 1), XI("ts", NOW), XU("bogus", 1), XU("hr", 60), XU("seq", 60) },
		VG_R_UNKNOWN_FIELD, "bogus", 2, NULL, 0 }, true, 60 },
	{ { "batch: duplicate key, seq last", b_batch_third_map, { XU("v", 1), XI("ts", NOW), XU("hr", 60), XU("hr", 61), XU("seq", 61) },
		VG_R_MALFORMED, "hr", 2, NULL, 0 }, true, 61 },
	{ { "batch: the failing element has no seq", b_batch_third_map, { XU("v", 1), XI("ts", NOW), XU("hr", 60) },
		VG_R_MISSING_FIELD, "seq", 2, NULL, 0 }, false, 0 },
	{ { "batch: the failing element has an invalid seq", b_batch_third_map, { XU("v", 1), XI("ts", NOW), XU("bogus", 1), XS("seq", "3") },
		VG_R_UNKNOWN_FIELD, "bogus", 2, NULL, 0 }, false, 0 },
	{ { "batch: the failing element is not a map", b_batch_third_int, { { 0 } }, VG_R_MALFORMED, "", 2, NULL, 0 }, false, 0 },
	{ { "batch: seq not increasing", b_batch_third_map, { XU("v", 1), XU("seq", 2), XI("ts", NOW), XU("hr", 60) },
		VG_R_BAD_SEQUENCE, "seq", 2, NULL, 0 }, true, 2 },
};

static void test_12_14_seq_in_every_rejection(void)
{
	struct vg_decoder d;
	struct vg_sample *out = calloc(VG_MAX_BATCH, sizeof(*out));
	size_t i;

	CHECK(out != NULL);
	CHECK_INT(vg_decoder_init(&d, NULL), 0);
	for(i = 0; i < sizeof(seq_cases) / sizeof(seq_cases[0]); i++){
		const struct seqcase *sc = &seq_cases[i];
		struct vg_verdict v;
		int failures_before = vgtest_failures;

		run_case(&d, &sc->c, out, &v);   /* reason, field, index, detail */
		CHECK_INT(v.has_seq, sc->has_seq);
		if(sc->has_seq){
			CHECK(v.seq == sc->seq);
		}
		if(vgtest_failures != failures_before){
			fprintf(stderr, "  ^ 12.14 case \"%s\": has_seq %d seq %llu\n", sc->c.name, (int)v.has_seq,
					(unsigned long long)v.seq);
		}
	}
	vg_decoder_free(&d);
	free(out);
}

/* A custom time policy replaces the defaults. */
static void test_time_policy(void)
{
	struct vg_time_policy tp = { .max_future_ms = 1000, .max_past_ms = 2000 };
	struct vg_decoder d;
	struct vg_sample out[VG_MAX_BATCH];
	struct vg_verdict v;
	static const struct { int64_t ts; enum vg_reason r; } t[] = {
		{ NOW + 1000, VG_R_OK }, { NOW + 1001, VG_R_BAD_TIME },
		{ NOW - 2000, VG_R_OK }, { NOW - 2001, VG_R_BAD_TIME },
		{ NOW, VG_R_OK },
	};
	size_t i;
	int n;

	CHECK_INT(vg_decoder_init(&d, &tp), 0);
	for(i = 0; i < sizeof(t) / sizeof(t[0]); i++){
		msgpack_sbuffer sb;
		msgpack_packer pk;
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 4);
		pk_str(&pk, "v"); msgpack_pack_uint8(&pk, 1);
		pk_str(&pk, "seq"); msgpack_pack_uint64(&pk, 1);
		pk_str(&pk, "ts"); msgpack_pack_int64(&pk, t[i].ts);
		pk_str(&pk, "hr"); msgpack_pack_uint64(&pk, 60);
		CHECK_INT(decode_buf(&d, &sb, NOW, out, &n, &v), t[i].r);
		msgpack_sbuffer_destroy(&sb);
	}
	vg_decoder_free(&d);
}

/* Limits at their edge, through the pre-scan directly. */
static void test_prescan_edges(void)
{
	struct vg_verdict v;
	msgpack_sbuffer sb;
	msgpack_packer pk;

	/* Exactly 16384 bytes of well-framed MessagePack passes; 16385 does not. */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pk_padded(&sb, &pk, VG_MAX_PAYLOAD_BYTES);
	CHECK_INT(sb.size, VG_MAX_PAYLOAD_BYTES);
	CHECK_INT(vg_vitals_prescan((const uint8_t *)sb.data, sb.size, &v), VG_R_OK);
	msgpack_sbuffer_destroy(&sb);

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pk_padded(&sb, &pk, VG_MAX_PAYLOAD_BYTES + 1);
	CHECK_INT(sb.size, VG_MAX_PAYLOAD_BYTES + 1);
	CHECK_INT(vg_vitals_prescan((const uint8_t *)sb.data, sb.size, &v), VG_R_TOO_LARGE);
	msgpack_sbuffer_destroy(&sb);

	/* Map of 16 entries passes, 17 is too large. */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pk_wide_map(&pk, 16);
	CHECK_INT(vg_vitals_prescan((const uint8_t *)sb.data, sb.size, &v), VG_R_OK);
	msgpack_sbuffer_destroy(&sb);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pk_wide_map(&pk, 17);
	CHECK_INT(vg_vitals_prescan((const uint8_t *)sb.data, sb.size, &v), VG_R_TOO_LARGE);
	CHECK(strstr(v.detail, "map of 17") != NULL);
	msgpack_sbuffer_destroy(&sb);

	/* Batch of 64 passes, 65 does not. */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pk_batch(&pk, 64);
	CHECK_INT(vg_vitals_prescan((const uint8_t *)sb.data, sb.size, &v), VG_R_OK);
	msgpack_sbuffer_destroy(&sb);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pk_batch(&pk, 65);
	CHECK_INT(vg_vitals_prescan((const uint8_t *)sb.data, sb.size, &v), VG_R_TOO_LARGE);
	msgpack_sbuffer_destroy(&sb);

	/* Strings: 32 bytes pass (str8 and fixstr), 33 do not. */
	{
		char s32[2 + 32], s33[2 + 33];
		s32[0] = (char)0xd9; s32[1] = 32; memset(s32 + 2, 'a', 32);
		s33[0] = (char)0xd9; s33[1] = 33; memset(s33 + 2, 'a', 33);
		CHECK_INT(vg_vitals_prescan((const uint8_t *)s32, sizeof(s32), &v), VG_R_OK);
		CHECK_INT(vg_vitals_prescan((const uint8_t *)s33, sizeof(s33), &v), VG_R_TOO_LARGE);
		/* str8 header announcing 33 bytes with nothing behind it: the size
		 * limit comes first, nothing is read past the buffer. */
		CHECK_INT(vg_vitals_prescan((const uint8_t *)s33, 2, &v), VG_R_TOO_LARGE);
		CHECK_INT(vg_vitals_prescan((const uint8_t *)s32, 2, &v), VG_R_MALFORMED);
		CHECK_INT(vg_vitals_prescan((const uint8_t *)s32, 1, &v), VG_R_MALFORMED);
	}

	/* Every scalar format frames correctly on its own... */
	{
		static const struct { const char *b; size_t n; } ok[] = {
			{ "\x00", 1 }, { "\x7f", 1 }, { "\xe0", 1 }, { "\xc0", 1 }, { "\xc2", 1 }, { "\xc3", 1 },
			{ "\xcc\x01", 2 }, { "\xcd\x01\x02", 3 }, { "\xce\x01\x02\x03\x04", 5 },
			{ "\xcf\x01\x02\x03\x04\x05\x06\x07\x08", 9 }, { "\xd0\xff", 2 }, { "\xd1\xff\xff", 3 },
			{ "\xd2\xff\xff\xff\xff", 5 }, { "\xd3\xff\xff\xff\xff\xff\xff\xff\xff", 9 },
			{ "\xca\x00\x00\x00\x00", 5 }, { "\xcb\x00\x00\x00\x00\x00\x00\x00\x00", 9 },
			{ "\xd4\x01\x00", 3 }, { "\xd5\x01\x00\x00", 4 }, { "\xd6\x01\x00\x00\x00\x00", 6 },
			{ "\xd7\x01\x00\x00\x00\x00\x00\x00\x00\x00", 10 }, { "\xc4\x01\x00", 3 }, { "\xc5\x00\x01\x00", 4 },
			{ "\xc6\x00\x00\x00\x01\x00", 6 }, { "\xc7\x01\x05\x00", 4 }, { "\xda\x00\x01\x61", 4 },
			{ "\xdb\x00\x00\x00\x01\x61", 6 }, { "\x90", 1 }, { "\x80", 1 }, { "\xdc\x00\x00", 3 },
			{ "\xde\x00\x00", 3 }, { "\xdd\x00\x00\x00\x00", 5 }, { "\xdf\x00\x00\x00\x00", 5 },
			{ "\xa0", 1 },
		};
		size_t i;
		int bad = 0;
		for(i = 0; i < sizeof(ok) / sizeof(ok[0]); i++){
			if(vg_vitals_prescan((const uint8_t *)ok[i].b, ok[i].n, &v) != VG_R_OK){
				fprintf(stderr, "prescan rejected format case %zu: %s\n", i, v.detail);
				bad++;
			}
			/* ...and every proper prefix of it is truncated. */
			if(ok[i].n > 1 && vg_vitals_prescan((const uint8_t *)ok[i].b, ok[i].n - 1, &v) != VG_R_MALFORMED){
				fprintf(stderr, "prescan accepted a prefix of format case %zu\n", i);
				bad++;
			}
		}
		CHECK_INT(bad, 0);
	}

	/* fixext 16 frames correctly. */
	{
		uint8_t b[18] = { 0xd8, 0x01 };
		CHECK_INT(vg_vitals_prescan(b, sizeof(b), &v), VG_R_OK);
		CHECK_INT(vg_vitals_prescan(b, sizeof(b) - 1, &v), VG_R_MALFORMED);
	}
}

/* The decoder is reusable: a rejection does not poison the next payload,
 * and n_out reflects only the current one. */
static void test_reuse(void)
{
	struct vg_decoder d;
	struct vg_sample out[VG_MAX_BATCH];
	struct vg_verdict v;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int n, round, bad = 0;

	CHECK_INT(vg_decoder_init(&d, NULL), 0);
	for(round = 0; round < 1000; round++){
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		if(round % 2){
			pk_batch(&pk, 64);
			if(decode_buf(&d, &sb, NOW, out, &n, &v) != VG_R_OK || n != 64 || out[63].val[VG_F_SEQ].u != 64){
				bad++;
			}
		}else{
			pk_simple(&pk, (uint64_t)round, 301);
			if(decode_buf(&d, &sb, NOW, out, &n, &v) != VG_R_OUT_OF_RANGE || n != 0){
				bad++;
			}
		}
		msgpack_sbuffer_destroy(&sb);
	}
	CHECK_INT(bad, 0);
	vg_decoder_free(&d);
	vg_decoder_free(&d);   /* idempotent */
}

static void test_reason_names(void)
{
	CHECK_STR(vg_reason_name(VG_R_OK), "ok");
	CHECK_STR(vg_reason_name(VG_R_MALFORMED), "malformed");
	CHECK_STR(vg_reason_name(VG_R_TOO_LARGE), "too_large");
	CHECK_STR(vg_reason_name(VG_R_UNKNOWN_VERSION), "unknown_version");
	CHECK_STR(vg_reason_name(VG_R_MISSING_FIELD), "missing_field");
	CHECK_STR(vg_reason_name(VG_R_WRONG_TYPE), "wrong_type");
	CHECK_STR(vg_reason_name(VG_R_UNKNOWN_FIELD), "unknown_field");
	CHECK_STR(vg_reason_name(VG_R_OUT_OF_RANGE), "out_of_range");
	CHECK_STR(vg_reason_name(VG_R_BAD_TIME), "bad_time");
	CHECK_STR(vg_reason_name(VG_R_BAD_SEQUENCE), "bad_sequence");
	CHECK_STR(vg_reason_name(VG_R_BACKPRESSURE), "backpressure");
	CHECK_STR(vg_reason_name(VG_R_INTERNAL), "internal");
	CHECK_STR(vg_reason_name(VG_R__COUNT), "internal");
	CHECK_STR(vg_reason_name((enum vg_reason)-1), "internal");
}

int main(void)
{
	test_table_covers_reasons();
	test_table();
	test_values_all_fields();
	test_values_batch();
	test_verdict_seq();
	test_12_14_seq_in_every_rejection();
	test_time_policy();
	test_prescan_edges();
	test_reuse();
	test_reason_names();
	return vgtest_result("test_vitals");
}
