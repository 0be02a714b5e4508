/*
 * outbox: reads the alert events still pending in PostgreSQL's alert_events
 * (the webhook outbox) and hands them to the broker thread, which submits
 * them to the webhook worker (VG_C_REDELIVER completions, 500 per job).
 *
 * Used at start (after the journal is replayed: events of a previous run
 * that were never delivered) and on `vitalgate-admin webhook redrive`.
 * Also reads, at start, the alert state to continue (open alerts, NEWS2
 * inputs per bed).
 * Redelivery is safe: the webhook worker drops an event id it already
 * holds, and the receiver dedupes on webhook-id.
 *
 * Thread: any worker that owns the PGconn. Memory: the completions own
 * their copies of the bodies.
 */
#ifndef VG_OUTBOX_H
#define VG_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "scope.h"
#include "vg_completion.h"
#include "vg_queue.h"

/* Posts every pending event (of the scope's wards, for a cell), oldest
 * first. Returns false with a one-line reason in err on a database error.
 * *count gets the number posted. */
bool vg_outbox_post_pending(PGconn *conn, const struct vg_scope *scope, struct vg_queue *completions, size_t *count,
		char *err, size_t errlen);

/* Posts the alert state of the previous run (VG_C_ALERT_STATE): the open
 * alerts (alert_open: one per condition) and, per assigned bed, the latest
 * value of each NEWS2 parameter measured within news2_max_age_s; of the
 * scope's wards for a cell. */
bool vg_outbox_post_alert_state(PGconn *conn, const struct vg_scope *scope, struct vg_queue *completions,
		int news2_max_age_s, char *err, size_t errlen);

/* Reads the open alerts (of the scope's wards, for a cell) into c->alerts
 * (c->nalerts). Returns false with a one-line reason in err. */
bool vg_outbox_read_open_alerts(PGconn *conn, const struct vg_scope *scope, struct vg_c_alert_state *c, char *err,
		size_t errlen);

#endif
