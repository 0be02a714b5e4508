/*
 * vg_vitals: MessagePack vitals decoder and validator (see vg_vitals.h).
 *
 * Two passes over a payload of at most VG_MAX_PAYLOAD_BYTES:
 *  1. vg_vitals_prescan walks the raw bytes without allocating and enforces
 *     every hard limit (batch length, map size, string length, depth) and the
 *     framing (declared lengths inside the buffer, no trailing bytes). This
 *     bounds what msgpack-c will allocate in pass 2.
 *  2. msgpack_unpack builds the object tree in the decoder's reused zone
 *     (strings point into the payload, never copied), and the tree is checked
 *     against the generated field table (vg_fields).
 *
 * Thread: whichever thread owns the decoder. Memory: the zone, allocated once.
 */
#include "vg_vitals.h"
#include "vg_util.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Largest tree the limits admit: 64 maps x 16 entries x 48 bytes plus the
 * array, or 16 entries each holding a 64-element array: under 64 KiB. The
 * zone's single chunk is twice that so msgpack-c never allocates again. */
#define VG_ZONE_BYTES (128u * 1024u)

static const char *const reason_names[VG_R__COUNT] = {
	[VG_R_OK] = "ok",
	[VG_R_MALFORMED] = "malformed",
	[VG_R_TOO_LARGE] = "too_large",
	[VG_R_UNKNOWN_VERSION] = "unknown_version",
	[VG_R_MISSING_FIELD] = "missing_field",
	[VG_R_WRONG_TYPE] = "wrong_type",
	[VG_R_UNKNOWN_FIELD] = "unknown_field",
	[VG_R_OUT_OF_RANGE] = "out_of_range",
	[VG_R_BAD_TIME] = "bad_time",
	[VG_R_BAD_SEQUENCE] = "bad_sequence",
	[VG_R_BACKPRESSURE] = "backpressure",
	[VG_R_INTERNAL] = "internal",
};

const char *vg_reason_name(enum vg_reason r)
{
	if((unsigned)r >= VG_R__COUNT){
		return "internal";
	}
	return reason_names[r];
}

int vg_decoder_init(struct vg_decoder *d, const struct vg_time_policy *tp)
{
	memset(d, 0, sizeof(*d));
	if(tp){
		d->time = *tp;
	}else{
		d->time.max_future_ms = VG_TS_MAX_FUTURE_MS;
		d->time.max_past_ms = VG_TS_MAX_PAST_MS;
	}
	if(!msgpack_zone_init(&d->zone, VG_ZONE_BYTES)){
		return -1;
	}
	d->zone_ready = true;
	return 0;
}

void vg_decoder_free(struct vg_decoder *d)
{
	if(d->zone_ready){
		msgpack_zone_destroy(&d->zone);
		d->zone_ready = false;
	}
}

static void verdict_reset(struct vg_verdict *v)
{
	v->reason = VG_R_OK;
	v->field = -1;
	v->index = -1;
	v->has_seq = false;
	v->seq = 0;
	v->field_name[0] = '\0';
	v->detail[0] = '\0';
}

static enum vg_reason reject(struct vg_verdict *v, enum vg_reason r, int field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static enum vg_reason reject(struct vg_verdict *v, enum vg_reason r, int field, const char *fmt, ...)
{
	va_list ap;

	v->reason = r;
	v->field = field;
	if(field >= 0 && field < VG_FIELD_COUNT){
		snprintf(v->field_name, sizeof(v->field_name), "%s", vg_fields[field].key);
	}
	va_start(ap, fmt);
	vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
	va_end(ap);
	return r;
}

/* Copies an untrusted key into field_name, replacing anything that is not a
 * printable ASCII character so it is safe in JSON and logs. */
static void set_field_name(struct vg_verdict *v, const char *p, size_t n)
{
	size_t i;

	if(n > VG_MAX_STR_BYTES){
		n = VG_MAX_STR_BYTES;
	}
	for(i = 0; i < n; i++){
		unsigned char ch = (unsigned char)p[i];
		v->field_name[i] = (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') ? (char)ch : '?';
	}
	v->field_name[n] = '\0';
}

/* ---- pass 1: structural pre-scan ---------------------------------------- */

static uint32_t be16(const uint8_t *p)
{
	return ((uint32_t)p[0] << 8) | p[1];
}

static uint32_t be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

enum vg_reason vg_vitals_prescan(const uint8_t *buf, size_t len, struct vg_verdict *v)
{
	/* remaining[d] = items still expected in the container at depth d;
	 * depth 0 is the virtual container holding the single root object. */
	uint64_t remaining[VG_MAX_DEPTH + 2];
	int depth = 0;
	size_t pos = 0;

	verdict_reset(v);
	if(len == 0){
		return reject(v, VG_R_MALFORMED, -1, "empty payload");
	}
	if(len > VG_MAX_PAYLOAD_BYTES){
		return reject(v, VG_R_TOO_LARGE, -1, "payload is %zu bytes, limit %u", len, VG_MAX_PAYLOAD_BYTES);
	}
	remaining[0] = 1;
	while(depth >= 0 && remaining[depth] > 0){
		uint8_t b;
		uint64_t skip = 0;     /* bytes of payload after the header */
		uint64_t children = 0; /* container items (maps: 2 per entry) */
		bool container = false;
		bool is_map = false;
		bool is_str = false;
		size_t hdr = 1;

		if(pos >= len){
			return reject(v, VG_R_MALFORMED, -1, "truncated MessagePack (ends inside a %s)",
					depth == 0 ? "value" : "container");
		}
		b = buf[pos];
		remaining[depth]--;

		if(b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3){
			/* fixint, nil, bool */
		}else if(b >= 0x80 && b <= 0x8f){
			container = true; is_map = true; children = b & 0x0fu;
		}else if(b >= 0x90 && b <= 0x9f){
			container = true; children = b & 0x0fu;
		}else if(b >= 0xa0 && b <= 0xbf){
			is_str = true; skip = b & 0x1fu;
		}else{
			size_t need;
			switch(b){
				case 0xcc: case 0xd0: skip = 1; break;
				case 0xcd: case 0xd1: skip = 2; break;
				case 0xca: case 0xce: case 0xd2: skip = 4; break;
				case 0xcb: case 0xcf: case 0xd3: skip = 8; break;
				case 0xd4: skip = 2; break;
				case 0xd5: skip = 3; break;
				case 0xd6: skip = 5; break;
				case 0xd7: skip = 9; break;
				case 0xd8: skip = 17; break;
				case 0xc4: case 0xd9: case 0xc7: need = 1; goto lenfield;
				case 0xc5: case 0xda: case 0xc8: case 0xdc: case 0xde: need = 2; goto lenfield;
				case 0xc6: case 0xdb: case 0xc9: case 0xdd: case 0xdf: need = 4; goto lenfield;
				default:
					return reject(v, VG_R_MALFORMED, -1, "invalid MessagePack type byte 0x%02x at offset %zu", b, pos);
			}
			goto scalar;
lenfield:
			if(len - pos - 1 < need){
				return reject(v, VG_R_MALFORMED, -1, "truncated MessagePack length at offset %zu", pos);
			}
			{
				uint64_t n = need == 1 ? buf[pos + 1] : need == 2 ? be16(buf + pos + 1) : be32(buf + pos + 1);
				hdr = 1 + need;
				switch(b){
					case 0xd9: case 0xda: case 0xdb: is_str = true; skip = n; break;
					case 0xc4: case 0xc5: case 0xc6: is_str = true; skip = n; break; /* bin: same limit */
					case 0xc7: case 0xc8: case 0xc9: skip = n + 1; /* ext: type byte */
						if(n > VG_MAX_STR_BYTES){
							return reject(v, VG_R_TOO_LARGE, -1, "extension value of %" PRIu64 " bytes, limit %u", n, VG_MAX_STR_BYTES);
						}
						break;
					case 0xdc: case 0xdd: container = true; children = n; break;
					default: container = true; is_map = true; children = n; break;
				}
			}
		}
scalar:
		if(is_str && skip > VG_MAX_STR_BYTES){
			return reject(v, VG_R_TOO_LARGE, -1, "string of %" PRIu64 " bytes at offset %zu, limit %u", skip, pos, VG_MAX_STR_BYTES);
		}
		if(container){
			if(is_map){
				if(children > VG_MAX_MAP_ENTRIES){
					return reject(v, VG_R_TOO_LARGE, -1, "map of %" PRIu64 " entries, limit %u", children, VG_MAX_MAP_ENTRIES);
				}
				children *= 2;
			}else if(children > VG_MAX_BATCH){
				return reject(v, VG_R_TOO_LARGE, -1, "array of %" PRIu64 " elements, limit %d", children, VG_MAX_BATCH);
			}
			if(depth + 1 > VG_MAX_DEPTH){
				return reject(v, VG_R_MALFORMED, -1, "nesting deeper than %d levels", VG_MAX_DEPTH);
			}
		}
		if(hdr > len - pos || skip > len - pos - hdr){
			return reject(v, VG_R_MALFORMED, -1, "truncated MessagePack value at offset %zu", pos);
		}
		pos += hdr + (size_t)skip;
		if(container && children > 0){
			/* Each child needs at least one byte: cheap sanity bound. */
			if(children > len - pos){
				return reject(v, VG_R_MALFORMED, -1, "container declares %" PRIu64 " items but only %zu bytes follow", children, len - pos);
			}
			depth++;
			remaining[depth] = children;
		}
		while(depth > 0 && remaining[depth] == 0){
			depth--;
		}
		if(depth == 0 && remaining[0] == 0){
			break;
		}
	}
	if(pos != len){
		return reject(v, VG_R_MALFORMED, -1, "%zu trailing bytes after the MessagePack value", len - pos);
	}
	return VG_R_OK;
}

/* ---- pass 2: schema validation ------------------------------------------ */

static const char *type_name(msgpack_object_type t)
{
	switch(t){
		case MSGPACK_OBJECT_NIL: return "nil";
		case MSGPACK_OBJECT_BOOLEAN: return "bool";
		case MSGPACK_OBJECT_POSITIVE_INTEGER: return "unsigned integer";
		case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "negative integer";
		case MSGPACK_OBJECT_FLOAT32: return "float32";
		case MSGPACK_OBJECT_FLOAT64: return "float64";
		case MSGPACK_OBJECT_STR: return "string";
		case MSGPACK_OBJECT_ARRAY: return "array";
		case MSGPACK_OBJECT_MAP: return "map";
		case MSGPACK_OBJECT_BIN: return "binary";
		case MSGPACK_OBJECT_EXT: return "extension";
	}
	return "unknown";
}

static int field_lookup(const char *p, uint32_t n)
{
	int i;

	for(i = 0; i < VG_FIELD_COUNT; i++){
		if(vg_fields[i].key_len == n && memcmp(vg_fields[i].key, p, n) == 0){
			return i;
		}
	}
	return -1;
}

static const char *expected_name(enum vg_ftype t)
{
	switch(t){
		case VG_T_UINT: case VG_T_UINT64: return "an unsigned integer";
		case VG_T_INT64: return "an integer";
		case VG_T_NUMBER: return "a number";
		case VG_T_BOOL: return "a boolean";
		case VG_T_ENUM: return "a string";
	}
	return "?";
}

static enum vg_reason check_value(struct vg_verdict *v, int f, const msgpack_object *o, union vg_value *out)
{
	const struct vg_field_def *def = &vg_fields[f];
	double d;

	switch(def->type){
		case VG_T_UINT:
		case VG_T_UINT64:
			if(o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER){
				return reject(v, VG_R_OUT_OF_RANGE, f, "%s is negative (%" PRId64 ")", def->key, o->via.i64);
			}
			if(o->type != MSGPACK_OBJECT_POSITIVE_INTEGER){
				return reject(v, VG_R_WRONG_TYPE, f, "%s must be %s, got %s", def->key, expected_name(def->type), type_name(o->type));
			}
			if(def->type == VG_T_UINT64 && o->via.u64 > (uint64_t)INT64_MAX){
				/* Stored as PostgreSQL bigint. */
				return reject(v, VG_R_OUT_OF_RANGE, f, "%s %" PRIu64 " is above 2^63-1", def->key, o->via.u64);
			}
			if(def->type == VG_T_UINT && ((double)o->via.u64 < def->min || (double)o->via.u64 > def->max)){
				return reject(v, VG_R_OUT_OF_RANGE, f, "%s %" PRIu64 " outside %g..%g %s", def->key, o->via.u64,
						def->min, def->max, def->unit ? def->unit : "");
			}
			out->u = o->via.u64;
			return VG_R_OK;
		case VG_T_INT64:
			if(o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER){
				out->i = o->via.i64;
			}else if(o->type == MSGPACK_OBJECT_POSITIVE_INTEGER){
				if(o->via.u64 > (uint64_t)INT64_MAX){
					return reject(v, VG_R_OUT_OF_RANGE, f, "%s %" PRIu64 " does not fit a signed 64-bit integer", def->key, o->via.u64);
				}
				out->i = (int64_t)o->via.u64;
			}else{
				return reject(v, VG_R_WRONG_TYPE, f, "%s must be %s, got %s", def->key, expected_name(def->type), type_name(o->type));
			}
			return VG_R_OK;
		case VG_T_NUMBER:
			if(o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64){
				d = o->via.f64;
			}else if(o->type == MSGPACK_OBJECT_POSITIVE_INTEGER){
				d = (double)o->via.u64;
			}else if(o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER){
				d = (double)o->via.i64;
			}else{
				return reject(v, VG_R_WRONG_TYPE, f, "%s must be %s, got %s", def->key, expected_name(def->type), type_name(o->type));
			}
			if(!isfinite(d)){
				return reject(v, VG_R_OUT_OF_RANGE, f, "%s is not a finite number", def->key);
			}
			if(d < def->min || d > def->max){
				return reject(v, VG_R_OUT_OF_RANGE, f, "%s %.2f outside %g..%g %s", def->key, d, def->min, def->max,
						def->unit ? def->unit : "");
			}
			out->d = d;
			return VG_R_OK;
		case VG_T_BOOL:
			if(o->type != MSGPACK_OBJECT_BOOLEAN){
				return reject(v, VG_R_WRONG_TYPE, f, "%s must be %s, got %s", def->key, expected_name(def->type), type_name(o->type));
			}
			out->b = o->via.boolean;
			return VG_R_OK;
		case VG_T_ENUM:
			if(o->type != MSGPACK_OBJECT_STR){
				return reject(v, VG_R_WRONG_TYPE, f, "%s must be %s, got %s", def->key, expected_name(def->type), type_name(o->type));
			}
			for(const char *const *e = def->values; *e; e++){
				size_t n = strlen(*e);
				if(n == o->via.str.size && memcmp(*e, o->via.str.ptr, n) == 0){
					out->c = (*e)[0];
					return VG_R_OK;
				}
			}
			return reject(v, VG_R_OUT_OF_RANGE, f, "%s is not one of the allowed values", def->key);
	}
	return reject(v, VG_R_INTERNAL, f, "unhandled field type");
}

/* The sample's seq, for its rejection record: the value of the first "seq"
 * key wherever it is in the map (before or after the key that fails), if
 * that value is itself a valid seq. A seq of the wrong type or out of range
 * is no seq: the device could not match it. Without one, has_seq stays
 * false (the caller cleared it). */
static void find_seq(const msgpack_object *m, struct vg_verdict *v)
{
	const msgpack_object_kv *kv = m->via.map.ptr;
	uint32_t i;

	for(i = 0; i < m->via.map.size; i++){
		if(kv[i].key.type == MSGPACK_OBJECT_STR && field_lookup(kv[i].key.via.str.ptr, kv[i].key.via.str.size) == VG_F_SEQ){
			struct vg_verdict scratch;   /* check_value writes its reasons here, not into v */
			union vg_value val;
			if(check_value(&scratch, VG_F_SEQ, &kv[i].val, &val) == VG_R_OK){
				v->has_seq = true;
				v->seq = val.u;
			}
			return;
		}
	}
}

static enum vg_reason check_map(const struct vg_decoder *d, struct vg_verdict *v, const msgpack_object *m,
		int64_t now_ms, struct vg_sample *s)
{
	const msgpack_object_kv *kv = m->via.map.ptr;
	uint32_t n = m->via.map.size;
	uint32_t i;
	int f;
	enum vg_reason r;

	memset(s, 0, sizeof(*s));
	/* Before any check: every rejection of this sample carries its seq. */
	find_seq(m, v);

	/* Version first: a future version may carry fields this one does not
	 * know, and "unknown_version" is the useful answer then. */
	for(i = 0; i < n; i++){
		if(kv[i].key.type == MSGPACK_OBJECT_STR && field_lookup(kv[i].key.via.str.ptr, kv[i].key.via.str.size) == VG_F_V){
			break;
		}
	}
	if(i == n){
		return reject(v, VG_R_MISSING_FIELD, VG_F_V, "schema version v is required");
	}
	if(kv[i].val.type != MSGPACK_OBJECT_POSITIVE_INTEGER){
		if(kv[i].val.type == MSGPACK_OBJECT_NEGATIVE_INTEGER){
			return reject(v, VG_R_UNKNOWN_VERSION, VG_F_V, "schema version %" PRId64 " is not supported (this broker speaks %d)",
					kv[i].val.via.i64, VG_SCHEMA_VERSION);
		}
		return reject(v, VG_R_WRONG_TYPE, VG_F_V, "v must be an unsigned integer, got %s", type_name(kv[i].val.type));
	}
	if(kv[i].val.via.u64 != VG_SCHEMA_VERSION){
		return reject(v, VG_R_UNKNOWN_VERSION, VG_F_V, "schema version %" PRIu64 " is not supported (this broker speaks %d)",
				kv[i].val.via.u64, VG_SCHEMA_VERSION);
	}

	for(i = 0; i < n; i++){
		if(kv[i].key.type != MSGPACK_OBJECT_STR){
			return reject(v, VG_R_MALFORMED, -1, "map key %u is a %s, keys must be strings", i, type_name(kv[i].key.type));
		}
		f = field_lookup(kv[i].key.via.str.ptr, kv[i].key.via.str.size);
		if(f < 0){
			reject(v, VG_R_UNKNOWN_FIELD, -1, "unknown key");
			set_field_name(v, kv[i].key.via.str.ptr, kv[i].key.via.str.size);
			snprintf(v->detail, sizeof(v->detail), "unknown key \"%s\" in schema v%d", v->field_name, VG_SCHEMA_VERSION);
			return VG_R_UNKNOWN_FIELD;
		}
		if(VG_SAMPLE_HAS(s, f)){
			return reject(v, VG_R_MALFORMED, f, "key %s appears twice", vg_fields[f].key);
		}
		r = check_value(v, f, &kv[i].val, &s->val[f]);
		if(r != VG_R_OK){
			return r;
		}
		s->present |= 1u << f;
	}
	for(f = 0; f < VG_FIELD_COUNT; f++){
		if(vg_fields[f].required && !VG_SAMPLE_HAS(s, f)){
			return reject(v, VG_R_MISSING_FIELD, f, "%s is required", vg_fields[f].key);
		}
	}
	if((s->present & VG_FIELDS_MEASUREMENT) == 0){
		reject(v, VG_R_MISSING_FIELD, -1, "a sample needs at least one measurement");
		snprintf(v->field_name, sizeof(v->field_name), "*");
		return VG_R_MISSING_FIELD;
	}
	if(VG_SAMPLE_HAS(s, VG_F_SBP) && VG_SAMPLE_HAS(s, VG_F_DBP) && s->val[VG_F_DBP].u >= s->val[VG_F_SBP].u){
		return reject(v, VG_R_OUT_OF_RANGE, VG_F_DBP, "dbp %" PRIu64 " is not below sbp %" PRIu64,
				s->val[VG_F_DBP].u, s->val[VG_F_SBP].u);
	}
	/* Differences in uint64_t: ts is untrusted and now_ms - INT64_MIN
	 * overflows int64_t (UB, in practice a negative gap that passes). */
	if(s->val[VG_F_TS].i > now_ms
			&& (uint64_t)s->val[VG_F_TS].i - (uint64_t)now_ms > (uint64_t)d->time.max_future_ms){
		return reject(v, VG_R_BAD_TIME, VG_F_TS, "ts is %" PRIu64 " s ahead of the broker clock (limit %" PRId64 " s)",
				((uint64_t)s->val[VG_F_TS].i - (uint64_t)now_ms) / 1000, d->time.max_future_ms / 1000);
	}
	if(s->val[VG_F_TS].i < now_ms
			&& (uint64_t)now_ms - (uint64_t)s->val[VG_F_TS].i > (uint64_t)d->time.max_past_ms){
		return reject(v, VG_R_BAD_TIME, VG_F_TS, "ts is %" PRIu64 " s behind the broker clock (limit %" PRId64 " s)",
				((uint64_t)now_ms - (uint64_t)s->val[VG_F_TS].i) / 1000, d->time.max_past_ms / 1000);
	}
	return VG_R_OK;
}

enum vg_reason vg_vitals_decode(struct vg_decoder *d, const void *buf, size_t len,
		int64_t now_ms, struct vg_sample *out, int *n_out, struct vg_verdict *v)
{
	msgpack_object root;
	size_t off = 0;
	msgpack_unpack_return ur;
	enum vg_reason r;
	uint32_t i;

	*n_out = 0;
	r = vg_vitals_prescan(buf, len, v);
	if(r != VG_R_OK){
		return r;
	}
	msgpack_zone_clear(&d->zone);
	ur = msgpack_unpack(buf, len, &off, &d->zone, &root);
	if(ur != MSGPACK_UNPACK_SUCCESS){
		/* The pre-scan accepted it, so this is msgpack-c disagreeing. */
		return reject(v, ur == MSGPACK_UNPACK_NOMEM_ERROR ? VG_R_INTERNAL : VG_R_MALFORMED, -1,
				"MessagePack decoder error %d", (int)ur);
	}
	if(root.type == MSGPACK_OBJECT_MAP){
		r = check_map(d, v, &root, now_ms, &out[0]);
		if(r == VG_R_OK){
			*n_out = 1;
		}
		return r;
	}
	if(root.type != MSGPACK_OBJECT_ARRAY){
		return reject(v, VG_R_MALFORMED, -1, "payload is a %s, expected a map or an array of maps", type_name(root.type));
	}
	if(root.via.array.size == 0){
		return reject(v, VG_R_MALFORMED, -1, "empty batch");
	}
	for(i = 0; i < root.via.array.size; i++){
		const msgpack_object *m = &root.via.array.ptr[i];
		/* Each element's rejection carries that element's seq, never the
		 * one of the sample before it. */
		v->has_seq = false;
		v->seq = 0;
		if(m->type != MSGPACK_OBJECT_MAP){
			r = reject(v, VG_R_MALFORMED, -1, "batch element %u is a %s, expected a map", i, type_name(m->type));
		}else{
			r = check_map(d, v, m, now_ms, &out[i]);
			if(r == VG_R_OK && i > 0 && out[i].val[VG_F_SEQ].u <= out[i - 1].val[VG_F_SEQ].u){
				r = reject(v, VG_R_BAD_SEQUENCE, VG_F_SEQ, "seq %" PRIu64 " does not follow %" PRIu64 " within the batch",
						out[i].val[VG_F_SEQ].u, out[i - 1].val[VG_F_SEQ].u);
			}
		}
		if(r != VG_R_OK){
			v->index = (int)i;
			/* Prefix the batch position so the record names the sample
			 * (the tail of a long detail may be cut). */
			{
				char tmp[sizeof(v->detail)];
				int k = snprintf(tmp, sizeof(tmp), "batch[%u]: ", i);
				if(k > 0 && (size_t)k < sizeof(tmp)){
					vg_strlcpy(tmp + k, v->detail, sizeof(tmp) - (size_t)k);
				}
				memcpy(v->detail, tmp, sizeof(tmp));
			}
			return r;
		}
	}
	*n_out = (int)root.via.array.size;
	return VG_R_OK;
}
