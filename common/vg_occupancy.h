/*
 * vg_occupancy: the contract's occupancy message (docs/patient-context.md),
 * published by the core on adt/<ward>/<bed>, parsed and validated as one
 * pure function: no state, no allocation, no clock (the caller passes the
 * broker's receive time).
 *
 *   {"patient": "<id>", "encounter": "<id>", "since": "<RFC 3339>"}
 *   {"patient": ..., "encounter": ..., "since": ..., "label": "<text>"}  (extension)
 *   empty payload: the bed is vacant from the broker's receive time
 *
 * Strict: an object of exactly these string members, each at most once;
 * ids of 1 to 64 characters [A-Za-z0-9._-] (a FHIR id's syntax); the label
 * 1 to 32 printable ASCII characters but '"' and '\\' (JSON escapes
 * allowed for those only: the frame copies it as it is);
 * since an RFC 3339 date-time (seconds required, fraction and offset
 * optional: "Z", "+hh:mm"), no later than a minute after the receive time
 * and no earlier than VG_OCC_MAX_AGE_MS before it (what a correction may
 * re-link stays bounded).
 *
 * Thread: any. Memory: none owned; the result is copied into *out.
 */
#ifndef VG_OCCUPANCY_H
#define VG_OCCUPANCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VG_OCC_ID_MAX 64
#define VG_OCC_LABEL_MAX 32
#define VG_OCC_MAX_AGE_MS (86400LL * 1000)        /* a day: ts_max_past_s's default */
#define VG_OCC_MAX_SKEW_MS 60000                  /* since at most a minute ahead */

struct vg_occupancy {
	bool vacant;                          /* empty payload: no patient, since = receive time */
	int64_t since_ms;
	char patient[VG_OCC_ID_MAX + 1];      /* "" when vacant */
	char encounter[VG_OCC_ID_MAX + 1];
	char label[VG_OCC_LABEL_MAX + 1];     /* "" when none given */
};

/* Parses payload (len bytes, not NUL-terminated) received at now_ms.
 * Returns NULL and fills *out, or a static string saying what is wrong
 * (for the log line: it never quotes the payload). */
const char *vg_occupancy_parse(const void *payload, size_t len, int64_t now_ms, struct vg_occupancy *out);

/* Parses an RFC 3339 date-time (the whole of s[0..n)) into ms since the
 * epoch; false when it is not one. Fractions beyond ms are truncated. */
bool vg_rfc3339_parse(const char *s, size_t n, int64_t *ms);

/* True if s[0..n) is 1 to 64 characters of [A-Za-z0-9._-]. */
bool vg_occupancy_id_valid(const char *s, size_t n);

#endif
