/*
 * audit: records security events for the audit_log table.
 *
 * Events are buffered on the broker thread and appended to the journal
 * (type VG_REC_AUDIT) in one writev per TICK (at least every ~100 ms), and
 * the PostgreSQL writer inserts them; the database chains them by hash. A
 * crash can lose the events of the current loop pass, never a sample. Noisy events (per-message read denials,
 * throttled refusals) are rate-limited: past a per-second budget they are
 * counted and summarised in one "suppressed" row, so an attack cannot flood
 * the journal.
 *
 * Thread: broker thread.
 */
#ifndef VG_AUDIT_H
#define VG_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "vg_ratelimit.h"
#include "vg_rec.h"

struct vg_plugin;

/* Noisy events recorded one by one per second, at most. */
#define VG_AUDIT_NOISY_PER_SECOND 50
#define VG_AUDIT_BUF_BYTES (64 * 1024)
#define VG_AUDIT_BUF_RECORDS 256

/* audit.c's state: records not yet journalled. */
struct vg_audit {
	uint8_t *buf;
	size_t len;
	uint32_t offs[VG_AUDIT_BUF_RECORDS];
	uint32_t lens[VG_AUDIT_BUF_RECORDS];
	int n;
	struct vg_ratelimit noisy;      /* noisy events: 50 a second */
};

int vg_audit_init(struct vg_audit *a);
void vg_audit_free(struct vg_audit *a);

/* Records one event. identity/client_id/address may be NULL; untrusted
 * strings are sanitised here. */
void vg_audit(struct vg_plugin *vg, enum vg_audit_event ev, const char *identity, const char *client_id,
		const char *address, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* As vg_audit, but subject to the per-second budget for noisy events. */
void vg_audit_noisy(struct vg_plugin *vg, enum vg_audit_event ev, const char *identity, const char *client_id,
		const char *address, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* TICK: writes the summary row for what the budget suppressed. */
void vg_audit_tick(struct vg_plugin *vg, int64_t now_ms);

/* TICK and cleanup: journals the buffered events (one writev). */
void vg_audit_flush(struct vg_plugin *vg);

#endif
