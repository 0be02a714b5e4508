/*
 * vg_util: small helpers shared by the plugin, the bridge workers, the admin
 * CLI and the tests: identifier syntax, clocks, bounded string copies and
 * strict number parsing (no atoi: every parse reports failure).
 *
 * Thread: any. Memory: none owned.
 */
#ifndef VG_UTIL_H
#define VG_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VG_ID_MAX 64

/* True if s matches [A-Za-z0-9_-]{1,64} (the contract's id syntax). */
bool vg_id_valid(const char *s);
/* Same for a length-delimited string (topic segments). */
bool vg_id_valid_n(const char *s, size_t n);

/* Wall clock in ms since the Unix epoch, and a monotonic clock in ms. */
int64_t vg_now_ms(void);
int64_t vg_mono_ms(void);

/* Formats ms since the epoch as RFC 3339 UTC with milliseconds
 * ("2026-11-22T09:05:26.123Z"). buf needs 25 bytes. */
void vg_rfc3339(int64_t ms, char *buf, size_t len);

/* Copies at most size-1 bytes and always terminates. Returns false if the
 * source did not fit. */
bool vg_strlcpy(char *dst, const char *src, size_t size);

/* Copies untrusted text for logs and audit rows: printable ASCII kept,
 * anything else becomes '?', at most cap-1 bytes ("..." marks a cut).
 * NULL becomes "". Text that starts like a Vitalgate or webhook secret
 * (vgs_, whsec_) is replaced by "[redacted: looks like a secret]". */
void vg_sanitize(char *dst, size_t cap, const char *src);

/* Concatenates the NUL-terminated strings given (the list ends with NULL)
 * into dst; false (and dst cut, still terminated) when they do not fit.
 * For the per-message keys and topics, where snprintf("%s/%s") showed in
 * profiles. */
bool vg_concat(char *dst, size_t cap, ...) __attribute__((sentinel));

/* Strict parsers: whole string, base 10, range-checked. Return false on
 * any junk, overflow, or an out-of-range value. */
bool vg_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

/* FNV-1a (64 bits) of n bytes: the hash of the in-memory tables. */
uint64_t vg_fnv1a(const void *p, size_t n);

/* Lower-case hex of n bytes; out needs 2n + 1. */
void vg_hex_encode(const uint8_t *p, size_t n, char *out);
/* n bytes from the 2n hex digits at s (either case); false on a non-digit. */
bool vg_hex_decode(const char *s, size_t n, uint8_t *out);

#endif
