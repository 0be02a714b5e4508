/*
 * vg_vitals: decode and validate a vitals payload (MessagePack, schema v1).
 *
 * Thread: the broker thread (MESSAGE callback); also fuzzers, benches, tests.
 * A decoder is not shared between threads.
 * Memory: the decoder owns one msgpack zone sized so that the largest payload
 * the limits admit never needs a second chunk; after vg_decoder_init no call
 * allocates. Hard limits (size, batch length, map size, string length, depth)
 * are checked by a structural pre-scan before msgpack-c allocates anything.
 */
#ifndef VG_VITALS_H
#define VG_VITALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "vg_schema.h"

/* Stable rejection reason codes (the contract's `reason` strings). */
enum vg_reason {
	VG_R_OK = 0,
	VG_R_MALFORMED,
	VG_R_TOO_LARGE,
	VG_R_UNKNOWN_VERSION,
	VG_R_MISSING_FIELD,
	VG_R_WRONG_TYPE,
	VG_R_UNKNOWN_FIELD,
	VG_R_OUT_OF_RANGE,
	VG_R_BAD_TIME,
	VG_R_BAD_SEQUENCE,
	VG_R_BACKPRESSURE,
	VG_R_INTERNAL,
	VG_R__COUNT
};

const char *vg_reason_name(enum vg_reason r);

union vg_value {
	uint64_t u;
	int64_t i;
	double d;
	bool b;
	char c;   /* VG_T_ENUM: first byte of the matched value */
};

struct vg_sample {
	uint32_t present;              /* bit (1u << vg_field) per field given */
	union vg_value val[VG_FIELD_COUNT];
};

#define VG_SAMPLE_HAS(s, f) (((s)->present >> (f)) & 1u)

struct vg_verdict {
	enum vg_reason reason;
	int field;        /* enum vg_field, or -1 */
	int index;        /* sample index within a batch, or -1 for a single map */
	bool has_seq;     /* the offending sample (the batch element at index) has a valid
	                   * seq, wherever its key is in the map: the device matches the
	                   * rejection by it. False when the seq is missing or itself
	                   * invalid, and for failures before any sample (framing, limits). */
	uint64_t seq;
	char field_name[VG_MAX_STR_BYTES + 1];  /* printable; unknown keys too */
	char detail[160];
};

struct vg_time_policy {
	int64_t max_future_ms;
	int64_t max_past_ms;
};

struct vg_decoder {
	msgpack_zone zone;
	struct vg_time_policy time;
	bool zone_ready;
};

/* Any thread. Returns 0, or -1 on out of memory. */
int vg_decoder_init(struct vg_decoder *d, const struct vg_time_policy *tp);
void vg_decoder_free(struct vg_decoder *d);

/*
 * Decodes `len` bytes into out[0..*n_out). now_ms is the receiver's clock.
 * Returns VG_R_OK, or the reason with *v filled in (field, batch index,
 * detail). On rejection nothing in out[] is meaningful. out must hold
 * VG_MAX_BATCH samples.
 */
enum vg_reason vg_vitals_decode(struct vg_decoder *d, const void *buf, size_t len,
		int64_t now_ms, struct vg_sample *out, int *n_out, struct vg_verdict *v);

/* Structural pre-scan only (exposed for tests): limits and framing. */
enum vg_reason vg_vitals_prescan(const uint8_t *buf, size_t len, struct vg_verdict *v);

#endif
