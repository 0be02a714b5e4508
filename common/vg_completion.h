/*
 * vg_completion: messages from worker threads back to the broker thread.
 *
 * Workers never call into the broker (not even its logger, which may
 * publish to $SYS topics): they push completions, and the TICK callback
 * drains the queue on the broker thread and acts on each one.
 *
 * Thread: vg_post_* from any worker; consumers on the broker thread.
 * Memory: the poster allocates, the consumer (TICK) frees with
 * vg_completion_free.
 */
#ifndef VG_COMPLETION_H
#define VG_COMPLETION_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vg_queue.h"

enum vg_completion_type {
	VG_C_LOG = 1,          /* struct vg_c_log */
	VG_C_IDENTS,           /* struct vg_c_idents (defined by idsync.h) */
	VG_C_WEBHOOK,          /* struct vg_c_webhook */
	VG_C_DB_STATE,         /* struct vg_c_db_state */
};

struct vg_c_log {
	struct vg_job base;
	int level;             /* MOSQ_LOG_* */
	char msg[];
};

enum vg_webhook_outcome {
	VG_WH_DELIVERED = 1,
	VG_WH_RETRY,
	VG_WH_GONE,            /* 410: endpoint disabled */
	VG_WH_DEAD,            /* gave up (dead-letter) */
};

struct vg_c_webhook {
	struct vg_job base;
	int outcome;           /* enum vg_webhook_outcome */
	long http_status;
	int attempts;
	int64_t latency_ms;    /* first attempt queued -> this outcome */
	char event_id[64];
};

struct vg_c_db_state {
	struct vg_job base;
	bool up;
	int64_t lag_ms;        /* writer: oldest uncommitted record age */
};

/* Worker threads: posts a log line (formatted now, logged on TICK). Never
 * blocks; when the queue is full the line is dropped and counted in the
 * queue's `refused` counter. */
void vg_post_log(struct vg_queue *q, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void vg_post_logv(struct vg_queue *q, int level, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

#endif
