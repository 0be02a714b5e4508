/*
 * vg_sbuf: growable byte buffer for worker threads (COPY data, HTTP
 * bodies). Not for the broker thread's hot path, which uses fixed buffers.
 * Allocation failure is sticky: vg_sbuf_ok() turns false and later appends
 * do nothing, so callers check once at the end.
 *
 * Thread: one owner. Memory: owns its buffer; vg_sbuf_free releases it.
 */
#ifndef VG_SBUF_H
#define VG_SBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vg_sbuf {
	char *p;
	size_t len;
	size_t cap;
	bool oom;
};

void vg_sbuf_init(struct vg_sbuf *b);
void vg_sbuf_free(struct vg_sbuf *b);
void vg_sbuf_reset(struct vg_sbuf *b);
/* Cuts the buffer back to len bytes (no longer than it is) and forgets an
 * allocation failure: what was appended after len is gone. */
void vg_sbuf_truncate(struct vg_sbuf *b, size_t len);
void vg_sbuf_put(struct vg_sbuf *b, const void *p, size_t n);
void vg_sbuf_puts(struct vg_sbuf *b, const char *s);
void vg_sbuf_putc(struct vg_sbuf *b, char c);
void vg_sbuf_printf(struct vg_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vg_sbuf_u64(struct vg_sbuf *b, uint64_t v);
void vg_sbuf_i64(struct vg_sbuf *b, int64_t v);
/* Appends s escaped for PostgreSQL COPY text format. */
void vg_sbuf_copy_text(struct vg_sbuf *b, const char *s, size_t n);
/* Appends bytes as a COPY text bytea literal (\\x<hex>). */
void vg_sbuf_copy_bytea(struct vg_sbuf *b, const void *p, size_t n);
bool vg_sbuf_ok(const struct vg_sbuf *b);

#endif
