/*
 * vg_rec: journal record payload encoding (see vg_rec.h).
 * Layout (little-endian), version byte first so the format can evolve:
 *  samples:   u8 1 | str8 device | str8 ward | str8 bed | i64 received_ms |
 *             u8 flags | u8 n | n x (u32 ids | 8 bytes per field in ids)
 *             ids: bit (1 << id) per field present, by the field's id in
 *             schemas/vitals/v1.json (never its position: a field added in
 *             the middle of the schema does not move the others), values in
 *             increasing id order. Ids 0..11 are the positions the first
 *             release wrote, so its records read the same. A record naming
 *             an id this build does not know is refused with unknown_ids
 *             set (the writer stops before it: bridge/pgwriter.c).
 *  rejection: u8 2 | str8 device | i64 received_ms | u8 reason | str8 field |
 *             str16 detail | u8 has_seq | u64 seq | i32 index | u32 len |
 *             32 bytes sha256 | u16 prefix_len | prefix (<= 512 bytes)
 *             (version 1, still read: ... | i32 index | u32 len | bytes)
 *  rejection summary: u8 1 | str8 device | i64 from_ms | i64 to_ms |
 *             u32 count | u32 reasons
 *  audit:     u8 1 | i64 at_ms | u8 event | str8 identity | str8 client_id |
 *             str8 address | str16 detail (each cut to its VG_REC_AUDIT_*_MAX,
 *             so at most VG_REC_AUDIT_MAX bytes)
 *  samples with alert events: u8 2 | (as samples) | u8 nev | nev x event
 *  alerts:    u8 1 | u8 nev | nev x event
 *  event:     str8 event_id | str8 alert_id | u8 type | u8 kind | str8 severity |
 *             str8 order_key | str8 ward | str8 bed | str8 device | i64 created_ms |
 *             u32 len | body
 *  delivery:  u8 1 | str8 event_id | u8 status | u32 attempts | i32 http |
 *             str16 error | i64 at_ms
 *  occupancy: u8 1 | str8 ward | str8 bed | str8 by | i64 since_ms |
 *             i64 received_ms | u8 vacant | str8 patient | str8 encounter |
 *             str8 label
 * Thread: any. Memory: none owned.
 */
#include "vg_rec.h"

#include <string.h>

#define REC_VERSION 1

void vg_wbuf_init(struct vg_wbuf *w, uint8_t *buf, size_t cap)
{
	w->p = buf;
	w->cap = cap;
	w->len = 0;
	w->overflow = false;
}

static void w_bytes(struct vg_wbuf *w, const void *src, size_t n)
{
	if(w->overflow || n > w->cap - w->len){
		w->overflow = true;
		return;
	}
	if(n == 0){
		return;   /* src may be NULL (an empty PUBLISH has no payload) */
	}
	memcpy(w->p + w->len, src, n);
	w->len += n;
}

static void w_u8(struct vg_wbuf *w, uint8_t v)
{
	w_bytes(w, &v, 1);
}

static void w_u16(struct vg_wbuf *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
	w_bytes(w, b, 2);
}

static void w_u32(struct vg_wbuf *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	w_bytes(w, b, 4);
}

static void w_u64(struct vg_wbuf *w, uint64_t v)
{
	w_u32(w, (uint32_t)v);
	w_u32(w, (uint32_t)(v >> 32));
}

static void w_str8(struct vg_wbuf *w, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if(n > 255){
		w->overflow = true;
		return;
	}
	w_u8(w, (uint8_t)n);
	w_bytes(w, s, n);
}

static void w_str16(struct vg_wbuf *w, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if(n > 65535){
		n = 65535;
	}
	w_u16(w, (uint16_t)n);
	w_bytes(w, s, n);
}

/* At most max bytes of s (max <= 255 for str8, <= 65535 for str16). */
static void w_strn(struct vg_wbuf *w, const char *s, size_t max, bool wide)
{
	size_t n = s ? strnlen(s, max) : 0;

	if(wide){
		w_u16(w, (uint16_t)n);
	}else{
		w_u8(w, (uint8_t)n);
	}
	w_bytes(w, s, n);
}

static void w_vstr8(struct vg_wbuf *w, const struct vg_str *s)
{
	if(s->n > 255){
		w->overflow = true;
		return;
	}
	w_u8(w, (uint8_t)s->n);
	w_bytes(w, s->p, s->n);
}

static uint8_t r_u8(struct vg_rbuf *r)
{
	if(r->err || r->pos + 1 > r->len){
		r->err = true;
		return 0;
	}
	return r->p[r->pos++];
}

static uint16_t r_u16(struct vg_rbuf *r)
{
	uint16_t v;

	if(r->err || r->len - r->pos < 2){
		r->err = true;
		return 0;
	}
	v = (uint16_t)(r->p[r->pos] | r->p[r->pos + 1] << 8);
	r->pos += 2;
	return v;
}

static uint32_t r_u32(struct vg_rbuf *r)
{
	const uint8_t *b;

	if(r->err || r->len - r->pos < 4){
		r->err = true;
		return 0;
	}
	b = r->p + r->pos;
	r->pos += 4;
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t r_u64(struct vg_rbuf *r)
{
	uint64_t lo = r_u32(r);
	return lo | (uint64_t)r_u32(r) << 32;
}

static struct vg_str r_str(struct vg_rbuf *r, size_t n)
{
	struct vg_str s = { "", 0 };

	if(r->err || r->len - r->pos < n){
		r->err = true;
		return s;
	}
	s.p = (const char *)r->p + r->pos;
	s.n = n;
	r->pos += n;
	return s;
}

static void w_events(struct vg_wbuf *w, const struct vg_rec_event *ev, int nev)
{
	int i;

	w_u8(w, (uint8_t)nev);
	for(i = 0; i < nev; i++){
		w_vstr8(w, &ev[i].event_id);
		w_vstr8(w, &ev[i].alert_id);
		w_u8(w, ev[i].type);
		w_u8(w, ev[i].kind);
		w_vstr8(w, &ev[i].severity);
		w_vstr8(w, &ev[i].order_key);
		w_vstr8(w, &ev[i].ward);
		w_vstr8(w, &ev[i].bed);
		w_vstr8(w, &ev[i].device);
		w_u64(w, (uint64_t)ev[i].created_ms);
		w_u32(w, (uint32_t)ev[i].body.n);
		w_bytes(w, ev[i].body.p, ev[i].body.n);
	}
}

static bool r_events(struct vg_rbuf *r, struct vg_rec_event *ev, int *nev)
{
	int i, n = r_u8(r);

	if(r->err || n > VG_REC_MAX_EVENTS){
		return false;
	}
	for(i = 0; i < n; i++){
		ev[i].event_id = r_str(r, r_u8(r));
		ev[i].alert_id = r_str(r, r_u8(r));
		ev[i].type = r_u8(r);
		ev[i].kind = r_u8(r);
		ev[i].severity = r_str(r, r_u8(r));
		ev[i].order_key = r_str(r, r_u8(r));
		ev[i].ward = r_str(r, r_u8(r));
		ev[i].bed = r_str(r, r_u8(r));
		ev[i].device = r_str(r, r_u8(r));
		ev[i].created_ms = (int64_t)r_u64(r);
		ev[i].body = r_str(r, r_u32(r));
		if(r->err || ev[i].type < VG_AT_RAISED || ev[i].type > VG_AT_ESCALATED
				|| ev[i].kind < VG_AK_THRESHOLD || ev[i].kind > VG_AK_SILENT || ev[i].event_id.n == 0){
			return false;
		}
	}
	*nev = n;
	return true;
}

/* The ids this build knows (bits of a samples record's u32). */
static uint32_t known_ids(void)
{
	uint32_t m = 0;
	int id;

	for(id = 0; id < VG_FIELD_ID_LIMIT; id++){
		if(vg_field_by_id[id] >= 0){
			m |= 1u << id;
		}
	}
	return m;
}

static bool encode_samples(struct vg_wbuf *w, uint8_t version, const char *device, const char *ward, const char *bed,
		int64_t received_ms, uint8_t flags, const struct vg_sample *s, int n)
{
	int i, f, id;

	if(n < 1 || n > VG_MAX_BATCH){
		return false;
	}
	w_u8(w, version);
	w_str8(w, device);
	w_str8(w, ward);
	w_str8(w, bed);
	w_u64(w, (uint64_t)received_ms);
	w_u8(w, flags);
	w_u8(w, (uint8_t)n);
	for(i = 0; i < n; i++){
		uint32_t ids = 0;
		for(f = 0; f < VG_FIELD_COUNT; f++){
			if(VG_SAMPLE_HAS(&s[i], f)){
				ids |= 1u << vg_fields[f].id;
			}
		}
		w_u32(w, ids);
		for(id = 0; id < VG_FIELD_ID_LIMIT; id++){
			if(ids & (1u << id)){
				uint64_t bits;
				memcpy(&bits, &s[i].val[vg_field_by_id[id]], sizeof(bits));
				w_u64(w, bits);
			}
		}
	}
	return !w->overflow;
}

bool vg_rec_encode_samples(struct vg_wbuf *w, const char *device, const char *ward, const char *bed,
		int64_t received_ms, uint8_t flags, const struct vg_sample *s, int n)
{
	return encode_samples(w, REC_VERSION, device, ward, bed, received_ms, flags, s, n);
}

bool vg_rec_encode_samples_events(struct vg_wbuf *w, const char *device, const char *ward, const char *bed,
		int64_t received_ms, uint8_t flags, const struct vg_sample *s, int n,
		const struct vg_rec_event *ev, int nev)
{
	if(nev == 0){
		return encode_samples(w, REC_VERSION, device, ward, bed, received_ms, flags, s, n);
	}
	if(nev < 0 || nev > VG_REC_MAX_EVENTS || !encode_samples(w, 2, device, ward, bed, received_ms, flags, s, n)){
		return false;
	}
	w_events(w, ev, nev);
	return !w->overflow;
}

bool vg_rec_encode_alerts(struct vg_wbuf *w, const struct vg_rec_event *ev, int nev)
{
	if(nev < 1 || nev > VG_REC_MAX_EVENTS){
		return false;
	}
	w_u8(w, REC_VERSION);
	w_events(w, ev, nev);
	return !w->overflow;
}

bool vg_rec_decode_alerts(const uint8_t *p, size_t len, struct vg_rec_event *events, int *nev)
{
	struct vg_rbuf r = { p, len, 0, false };

	if(r_u8(&r) != REC_VERSION){
		return false;
	}
	return r_events(&r, events, nev) && *nev > 0 && !r.err && r.pos == r.len;
}

bool vg_rec_encode_delivery(struct vg_wbuf *w, const struct vg_rec_delivery *d)
{
	w_u8(w, REC_VERSION);
	w_vstr8(w, &d->event_id);
	w_u8(w, d->status);
	w_u32(w, d->attempts);
	w_u32(w, (uint32_t)d->http);
	w_u16(w, (uint16_t)(d->error.n > 65535 ? 65535 : d->error.n));
	w_bytes(w, d->error.p, d->error.n > 65535 ? 65535 : d->error.n);
	w_u64(w, (uint64_t)d->at_ms);
	return !w->overflow;
}

bool vg_rec_decode_delivery(const uint8_t *p, size_t len, struct vg_rec_delivery *out)
{
	struct vg_rbuf r = { p, len, 0, false };

	if(r_u8(&r) != REC_VERSION){
		return false;
	}
	out->event_id = r_str(&r, r_u8(&r));
	out->status = r_u8(&r);
	out->attempts = r_u32(&r);
	out->http = (int32_t)r_u32(&r);
	out->error = r_str(&r, r_u16(&r));
	out->at_ms = (int64_t)r_u64(&r);
	return !r.err && r.pos == r.len && out->event_id.n > 0
		&& (out->status == VG_DS_DELIVERED || out->status == VG_DS_DEAD);
}

static const char *const alert_type_names[] = { "?", "alert.raised", "alert.updated", "alert.resolved",
	"alert.acknowledged", "alert.escalated" };
static const char *const alert_kind_names[] = { "?", "threshold", "news2", "silent" };

const char *vg_alert_type_name(int t)
{
	return (t >= VG_AT_RAISED && t <= VG_AT_ESCALATED) ? alert_type_names[t] : "?";
}

const char *vg_alert_kind_name(int k)
{
	return (k >= VG_AK_THRESHOLD && k <= VG_AK_SILENT) ? alert_kind_names[k] : "?";
}

bool vg_rec_decode_samples(const uint8_t *p, size_t len, struct vg_rec_samples *out)
{
	struct vg_rbuf r = { p, len, 0, false };
	uint32_t known = known_ids(), unknown = 0;
	int i, id;
	uint8_t version = r_u8(&r);

	out->unknown_ids = 0;
	if(version != REC_VERSION && version != 2){
		return false;
	}
	out->nevents = 0;
	out->device = r_str(&r, r_u8(&r));
	out->ward = r_str(&r, r_u8(&r));
	out->bed = r_str(&r, r_u8(&r));
	out->received_ms = (int64_t)r_u64(&r);
	out->flags = r_u8(&r);
	out->n = r_u8(&r);
	if(r.err || out->n < 1 || out->n > VG_MAX_BATCH || out->device.n == 0){
		return false;
	}
	for(i = 0; i < out->n; i++){
		uint32_t ids = r_u32(&r);
		memset(&out->s[i], 0, sizeof(out->s[i]));
		for(id = 0; id < 32; id++){
			uint64_t bits;
			if(!(ids & (1u << id))){
				continue;
			}
			bits = r_u64(&r);   /* every value is 8 bytes: an unknown one can be stepped over */
			if(!(known & (1u << id))){
				unknown |= 1u << id;
				continue;
			}
			out->s[i].present |= 1u << vg_field_by_id[id];
			memcpy(&out->s[i].val[vg_field_by_id[id]], &bits, sizeof(bits));
		}
	}
	if(version == 2 && !r_events(&r, out->events, &out->nevents)){
		return false;
	}
	if(r.err || r.pos != r.len){
		return false;
	}
	/* Well formed, but it names fields this build cannot store: refused,
	 * never read without them. */
	out->unknown_ids = unknown;
	return unknown == 0;
}

bool vg_rec_encode_rejection(struct vg_wbuf *w, const char *device, int64_t received_ms,
		const struct vg_verdict *v, const void *payload, size_t payload_len, const uint8_t sha256[32])
{
	size_t keep = payload_len < VG_REC_REJECTION_PREFIX ? payload_len : VG_REC_REJECTION_PREFIX;

	if(payload_len > UINT32_MAX){
		return false;
	}
	w_u8(w, 2);
	w_str8(w, device);
	w_u64(w, (uint64_t)received_ms);
	w_u8(w, (uint8_t)v->reason);
	w_str8(w, v->field_name);
	w_str16(w, v->detail);
	w_u8(w, v->has_seq ? 1 : 0);
	w_u64(w, v->seq);
	w_u32(w, (uint32_t)v->index);
	w_u32(w, (uint32_t)payload_len);
	w_bytes(w, sha256, 32);
	w_u16(w, (uint16_t)keep);
	w_bytes(w, payload, keep);
	return !w->overflow;
}

bool vg_rec_decode_rejection(const uint8_t *p, size_t len, struct vg_rec_rejection *out)
{
	struct vg_rbuf r = { p, len, 0, false };
	uint8_t version = r_u8(&r);

	if(version != REC_VERSION && version != 2){
		return false;
	}
	out->device = r_str(&r, r_u8(&r));
	out->received_ms = (int64_t)r_u64(&r);
	out->reason = r_u8(&r);
	out->field = r_str(&r, r_u8(&r));
	out->detail = r_str(&r, r_u16(&r));
	out->has_seq = r_u8(&r) != 0;
	out->seq = r_u64(&r);
	out->index = (int32_t)r_u32(&r);
	out->payload_len = r_u32(&r);
	if(version == REC_VERSION){
		out->payload = r_str(&r, out->payload_len);
		out->has_sha256 = false;
	}else{
		struct vg_str h = r_str(&r, 32);
		if(!r.err){
			memcpy(out->sha256, h.p, 32);
		}
		out->has_sha256 = true;
		out->payload = r_str(&r, r_u16(&r));
		if(out->payload.n > VG_REC_REJECTION_PREFIX || out->payload.n > out->payload_len){
			return false;
		}
	}
	return !r.err && r.pos == r.len && out->device.n > 0 && out->reason < VG_R__COUNT;
}

bool vg_rec_encode_rejection_summary(struct vg_wbuf *w, const struct vg_rec_rejection_summary *s)
{
	w_u8(w, REC_VERSION);
	w_vstr8(w, &s->device);
	w_u64(w, (uint64_t)s->from_ms);
	w_u64(w, (uint64_t)s->to_ms);
	w_u32(w, s->count);
	w_u32(w, s->reasons);
	return !w->overflow;
}

bool vg_rec_decode_rejection_summary(const uint8_t *p, size_t len, struct vg_rec_rejection_summary *out)
{
	struct vg_rbuf r = { p, len, 0, false };

	if(r_u8(&r) != REC_VERSION){
		return false;
	}
	out->device = r_str(&r, r_u8(&r));
	out->from_ms = (int64_t)r_u64(&r);
	out->to_ms = (int64_t)r_u64(&r);
	out->count = r_u32(&r);
	out->reasons = r_u32(&r);
	return !r.err && r.pos == r.len && out->device.n > 0 && out->count > 0;
}

static const char *const audit_names[VG_AUDIT__COUNT] = {
	[VG_AUDIT_CONNECT] = "connect",
	[VG_AUDIT_REFUSED] = "connect_refused",
	[VG_AUDIT_DISCONNECT] = "disconnect",
	[VG_AUDIT_ACL_DENIED] = "acl_denied",
	[VG_AUDIT_KICK] = "kick",
	[VG_AUDIT_THROTTLE] = "throttle",
	[VG_AUDIT_SUPPRESSED] = "suppressed",
	[VG_AUDIT_ALERT_ACK] = "alert_ack",
	[VG_AUDIT_ALERT_ACK_REFUSED] = "alert_ack_refused",
};

const char *vg_audit_event_name(int ev)
{
	if(ev <= 0 || ev >= VG_AUDIT__COUNT){
		return "unknown";
	}
	return audit_names[ev];
}

bool vg_rec_encode_audit(struct vg_wbuf *w, int64_t at_ms, uint8_t event, const char *identity,
		const char *client_id, const char *address, const char *detail)
{
	w_u8(w, REC_VERSION);
	w_u64(w, (uint64_t)at_ms);
	w_u8(w, event);
	w_strn(w, identity, VG_REC_AUDIT_ID_MAX, false);
	w_strn(w, client_id, VG_REC_AUDIT_ID_MAX, false);
	w_strn(w, address, VG_REC_AUDIT_ADDR_MAX, false);
	w_strn(w, detail, VG_REC_AUDIT_DETAIL_MAX, true);
	return !w->overflow;
}

bool vg_rec_decode_audit(const uint8_t *p, size_t len, struct vg_rec_audit *out)
{
	struct vg_rbuf r = { p, len, 0, false };

	if(r_u8(&r) != REC_VERSION){
		return false;
	}
	out->at_ms = (int64_t)r_u64(&r);
	out->event = r_u8(&r);
	out->identity = r_str(&r, r_u8(&r));
	out->client_id = r_str(&r, r_u8(&r));
	out->address = r_str(&r, r_u8(&r));
	out->detail = r_str(&r, r_u16(&r));
	return !r.err && r.pos == r.len && out->event > 0 && out->event < VG_AUDIT__COUNT;
}

bool vg_rec_encode_occupancy(struct vg_wbuf *w, const struct vg_rec_occupancy *o)
{
	w_u8(w, REC_VERSION);
	w_vstr8(w, &o->ward);
	w_vstr8(w, &o->bed);
	w_vstr8(w, &o->by);
	w_u64(w, (uint64_t)o->since_ms);
	w_u64(w, (uint64_t)o->received_ms);
	w_u8(w, o->vacant ? 1 : 0);
	w_vstr8(w, &o->patient);
	w_vstr8(w, &o->encounter);
	w_vstr8(w, &o->label);
	return !w->overflow;
}

bool vg_rec_decode_occupancy(const uint8_t *p, size_t len, struct vg_rec_occupancy *out)
{
	struct vg_rbuf r = { p, len, 0, false };
	uint8_t vacant;

	if(r_u8(&r) != REC_VERSION){
		return false;
	}
	out->ward = r_str(&r, r_u8(&r));
	out->bed = r_str(&r, r_u8(&r));
	out->by = r_str(&r, r_u8(&r));
	out->since_ms = (int64_t)r_u64(&r);
	out->received_ms = (int64_t)r_u64(&r);
	vacant = r_u8(&r);
	out->vacant = vacant == 1;
	out->patient = r_str(&r, r_u8(&r));
	out->encounter = r_str(&r, r_u8(&r));
	out->label = r_str(&r, r_u8(&r));
	if(r.err || r.pos != r.len || vacant > 1 || out->ward.n == 0 || out->bed.n == 0 || out->by.n == 0){
		return false;
	}
	if(out->vacant){
		return out->patient.n == 0 && out->encounter.n == 0 && out->label.n == 0;
	}
	return out->patient.n > 0 && out->encounter.n > 0;
}
