/*
 * vg_json: append-only JSON writer into a caller-supplied fixed buffer.
 *
 * No allocation: the broker thread builds rejection records and ward
 * messages in a reused buffer. Overflow is sticky (vg_json_ok() turns false)
 * instead of truncating silently. Strings are escaped for JSON; bytes that
 * are not printable ASCII are written as \u00XX, so output is always valid
 * UTF-8 whatever a device sends.
 *
 * Thread: any (one writer per buffer).
 */
#ifndef VG_JSON_H
#define VG_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vg_json {
	char *buf;
	size_t cap;
	size_t len;
	bool overflow;
	bool need_comma;
};

void vg_json_init(struct vg_json *j, char *buf, size_t cap);
void vg_json_obj_open(struct vg_json *j);
void vg_json_obj_close(struct vg_json *j);
void vg_json_arr_open(struct vg_json *j, const char *key);
void vg_json_arr_close(struct vg_json *j);
/* Opens a nested object under key (key NULL inside arrays). */
void vg_json_obj_open_key(struct vg_json *j, const char *key);
void vg_json_str(struct vg_json *j, const char *key, const char *val);
void vg_json_strn(struct vg_json *j, const char *key, const char *val, size_t n);
void vg_json_u64(struct vg_json *j, const char *key, uint64_t val);
void vg_json_i64(struct vg_json *j, const char *key, int64_t val);
/* Fixed-point: `decimals` digits after the point (temperature: 1). */
void vg_json_fixed(struct vg_json *j, const char *key, double val, int decimals);
void vg_json_bool(struct vg_json *j, const char *key, bool val);
void vg_json_null(struct vg_json *j, const char *key);
/* Appends pre-rendered JSON (must itself be valid) as a value. */
void vg_json_raw(struct vg_json *j, const char *key, const char *raw, size_t n);
bool vg_json_ok(const struct vg_json *j);
/* NUL-terminated output (valid only when vg_json_ok). */
const char *vg_json_cstr(const struct vg_json *j);

#endif
