/*
 * vg_rec: binary encoding of journal record payloads.
 *
 * The broker thread encodes into a reused fixed buffer (no allocation); the
 * PostgreSQL writer decodes. Every decoder checks bounds and returns false
 * on anything malformed, since journal bytes come from disk.
 *
 * Thread: any. Memory: encoders write into the caller's buffer; decoded
 * strings point into the record payload (not NUL-terminated: use the
 * lengths).
 */
#ifndef VG_REC_H
#define VG_REC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vg_util.h"
#include "vg_vitals.h"

struct vg_str {
	const char *p;
	size_t n;
};

enum vg_rec_type {
	VG_REC_SAMPLES = 1,
	VG_REC_REJECTION = 2,
	VG_REC_AUDIT = 3,
	VG_REC_ALERTS = 4,      /* alert events with no sample (silent devices) */
	VG_REC_DELIVERY = 5,    /* a webhook's final outcome (delivered, dead) */
	VG_REC_REJECTION_SUMMARY = 6, /* rejections of one device not recorded one by one */
	VG_REC_OCCUPANCY = 7,   /* a bed's occupant (or vacancy) from adt/<ward>/<bed> */
};

enum vg_alert_type {
	VG_AT_RAISED = 1,
	VG_AT_UPDATED = 2,
	VG_AT_RESOLVED = 3,
	VG_AT_ACKNOWLEDGED = 4, /* alarm lifecycle (common/vg_alarm.h) */
	VG_AT_ESCALATED = 5,
};

enum vg_alert_kind {
	VG_AK_THRESHOLD = 1,
	VG_AK_NEWS2 = 2,
	VG_AK_SILENT = 3,
};

enum vg_delivery_status {
	VG_DS_DELIVERED = 1,
	VG_DS_DEAD = 2,
};

const char *vg_alert_type_name(int t);   /* "alert.raised", ... */
const char *vg_alert_kind_name(int k);   /* "threshold", "news2", "silent" */

#define VG_REC_MAX_EVENTS 32

/* One alert event as journalled (and as the outbox row is made from).
 * Strings are length-delimited views; body is the exact JSON sent. */
struct vg_rec_event {
	struct vg_str event_id;
	struct vg_str alert_id;
	struct vg_str severity;
	struct vg_str order_key;
	struct vg_str ward;
	struct vg_str bed;
	struct vg_str device;
	struct vg_str body;
	uint8_t type;
	uint8_t kind;
	int64_t created_ms;
	/* In memory only (not journalled): whether the alert stays among its
	 * ward's open alerts after this event: 0 by its type (resolved: no),
	 * VG_EV_STAYS_OPEN (a latched alert's alert.resolved), VG_EV_CLOSES
	 * (the ack of a latched alert). */
	uint8_t open_after;
};
#define VG_EV_STAYS_OPEN 1
#define VG_EV_CLOSES 2

struct vg_rec_delivery {
	struct vg_str event_id;
	uint8_t status;
	uint32_t attempts;
	int32_t http;
	struct vg_str error;
	int64_t at_ms;
};

/* Audit events the broker records (audit_log.event). */
enum vg_audit_event {
	VG_AUDIT_CONNECT = 1,       /* credentials accepted */
	VG_AUDIT_REFUSED,           /* CONNECT refused (detail: why) */
	VG_AUDIT_DISCONNECT,
	VG_AUDIT_ACL_DENIED,        /* detail: access and topic */
	VG_AUDIT_KICK,              /* disconnected by Vitalgate (detail: why) */
	VG_AUDIT_THROTTLE,          /* a username or address throttled */
	VG_AUDIT_SUPPRESSED,        /* N noisy events summarised */
	VG_AUDIT_ALERT_ACK,         /* an alert acknowledged (detail: alert, by, outcome) */
	VG_AUDIT_ALERT_ACK_REFUSED, /* an ack refused with 0x87 (detail: topic, why) */
	VG_AUDIT__COUNT
};

const char *vg_audit_event_name(int ev);

/* Samples record flag: the broker could not prove every seq new (no history
 * for the device since it started, a seq at or below what the run's first
 * message reached, or older than its window), so the writer checks these
 * rows against the table even above the device's stored mark (it checks
 * every row at or below the mark anyway: bridge/pgwriter.c). */
#define VG_REC_F_NEEDS_CHECK 0x01u

struct vg_wbuf {
	uint8_t *p;
	size_t cap;
	size_t len;
	bool overflow;
};

struct vg_rbuf {
	const uint8_t *p;
	size_t len;
	size_t pos;
	bool err;
};

struct vg_rec_samples {
	struct vg_str device;
	struct vg_str ward;   /* n == 0: unassigned */
	struct vg_str bed;
	int64_t received_ms;
	uint8_t flags;
	int n;
	struct vg_sample s[VG_MAX_BATCH];
	int nevents;                               /* alert events journalled with them */
	struct vg_rec_event events[VG_REC_MAX_EVENTS];
	uint32_t unknown_ids;   /* after a refusal of a well-formed record: the field ids
	                         * (bit (1 << id)) this build does not know; 0 otherwise */
};

/* A rejection record keeps at most this much of the refused payload, with
 * the payload's length and SHA-256: what a rejection costs the journal and
 * the database does not grow with what the device sent. */
#define VG_REC_REJECTION_PREFIX 512

struct vg_rec_rejection {
	struct vg_str device;
	int64_t received_ms;
	uint8_t reason;
	struct vg_str field;
	struct vg_str detail;
	bool has_seq;
	uint64_t seq;
	int32_t index;
	struct vg_str payload;   /* the first bytes (all of them in version 1 records) */
	uint32_t payload_len;    /* the whole payload's length */
	bool has_sha256;         /* false in version 1 records: hash payload yourself */
	uint8_t sha256[32];      /* of the whole payload */
};

/* Rejections of one device the broker counted instead of recording one by
 * one (over its rate, or no room in the journal). */
struct vg_rec_rejection_summary {
	struct vg_str device;
	int64_t from_ms;         /* first of them */
	int64_t to_ms;           /* when the summary was written */
	uint32_t count;
	uint32_t reasons;        /* bit (1 << enum vg_reason) per reason among them */
};

/* A bed's occupancy as the core published it (docs/patient-context.md):
 * the occupant from since_ms on, or vacant (patient and encounter empty). */
struct vg_rec_occupancy {
	struct vg_str ward;
	struct vg_str bed;
	struct vg_str by;        /* the service that published it */
	int64_t since_ms;
	int64_t received_ms;
	bool vacant;
	struct vg_str patient;   /* n == 0 when vacant */
	struct vg_str encounter;
	struct vg_str label;     /* n == 0: none */
};

struct vg_rec_audit {
	int64_t at_ms;
	uint8_t event;
	struct vg_str identity;
	struct vg_str client_id;
	struct vg_str address;
	struct vg_str detail;
};

void vg_wbuf_init(struct vg_wbuf *w, uint8_t *buf, size_t cap);

/* Encoders: return false if the buffer was too small. */
bool vg_rec_encode_samples(struct vg_wbuf *w, const char *device, const char *ward, const char *bed,
		int64_t received_ms, uint8_t flags, const struct vg_sample *s, int n);
/* The same with the alert events these samples raised (written in the same
 * database transaction as the samples). */
bool vg_rec_encode_samples_events(struct vg_wbuf *w, const char *device, const char *ward, const char *bed,
		int64_t received_ms, uint8_t flags, const struct vg_sample *s, int n,
		const struct vg_rec_event *ev, int nev);
bool vg_rec_encode_alerts(struct vg_wbuf *w, const struct vg_rec_event *ev, int nev);
bool vg_rec_encode_delivery(struct vg_wbuf *w, const struct vg_rec_delivery *d);
/* Keeps the first VG_REC_REJECTION_PREFIX bytes of payload, its length
 * and sha256 (the caller's SHA-256 of the whole payload). */
bool vg_rec_encode_rejection(struct vg_wbuf *w, const char *device, int64_t received_ms,
		const struct vg_verdict *v, const void *payload, size_t payload_len, const uint8_t sha256[32]);
bool vg_rec_encode_rejection_summary(struct vg_wbuf *w, const struct vg_rec_rejection_summary *s);
bool vg_rec_encode_occupancy(struct vg_wbuf *w, const struct vg_rec_occupancy *o);

/* Audit records: the encoder cuts each string to its bound (the caller
 * sanitises first, so these are printable ASCII bytes), so one record is at
 * most VG_REC_AUDIT_MAX bytes whatever it is given. Identity and client id
 * come from the client (the username and client id it sent, up to VG_ID_MAX
 * kept), the address from the broker (45 bytes at most for IPv6 text), the
 * detail partly from the client (an ACL denial quotes the topic). */
#define VG_REC_AUDIT_ID_MAX VG_ID_MAX
#define VG_REC_AUDIT_ADDR_MAX 63
#define VG_REC_AUDIT_DETAIL_MAX 511
#define VG_REC_AUDIT_MAX (1 + 8 + 1 + (1 + VG_REC_AUDIT_ID_MAX) * 2 + (1 + VG_REC_AUDIT_ADDR_MAX) \
		+ (2 + VG_REC_AUDIT_DETAIL_MAX))

bool vg_rec_encode_audit(struct vg_wbuf *w, int64_t at_ms, uint8_t event, const char *identity,
		const char *client_id, const char *address, const char *detail);

/* Decoders: return false on a malformed payload. */
/* Samples name their fields by id (schemas/vitals/v1.json), whatever their
 * position in this build's schema. A well-formed record naming an id this
 * build does not know (a newer schema's, or a field removed since) is
 * refused too, with out->unknown_ids set: it must not be read without them. */
bool vg_rec_decode_samples(const uint8_t *p, size_t len, struct vg_rec_samples *out);
bool vg_rec_decode_rejection(const uint8_t *p, size_t len, struct vg_rec_rejection *out);
bool vg_rec_decode_rejection_summary(const uint8_t *p, size_t len, struct vg_rec_rejection_summary *out);
bool vg_rec_decode_audit(const uint8_t *p, size_t len, struct vg_rec_audit *out);
/* Refuses a record without ward, bed or by, an occupied one without
 * patient and encounter, a vacant one with either. */
bool vg_rec_decode_occupancy(const uint8_t *p, size_t len, struct vg_rec_occupancy *out);
/* events must hold VG_REC_MAX_EVENTS. */
bool vg_rec_decode_alerts(const uint8_t *p, size_t len, struct vg_rec_event *events, int *nev);
bool vg_rec_decode_delivery(const uint8_t *p, size_t len, struct vg_rec_delivery *out);

#endif
