/*
 * storage: the storage upkeep worker. Every storage_interval_s it rolls up
 * the closed minutes of `vitals` into vitals_rollup_1m (count, min, max,
 * mean per device, minute and vital; late samples rolled up again) and
 * applies retention (day partitions of raw vitals older than
 * retention_days and month partitions of rollups older than
 * rollup_retention_days are dropped). The work itself is SQL (migration
 * 008: vitalgate_rollup(), vitalgate_retention()), called with this
 * worker's clock, so tests call the same functions with any clock. With
 * several brokers on one database (cells) one of them does it: the one
 * holding a session advisory lock; the others take over when it goes.
 *
 * Thread: start/stop and get_stats on the broker thread (stats: any); the
 * worker thread owns its PGconn. It reports only through the completion
 * queue (log lines) and the counters get_stats reads.
 */
#ifndef VG_STORAGE_H
#define VG_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vg_queue.h"

struct vg_storage;

struct vg_storage_opts {
	const char *conninfo;
	struct vg_queue *completions;  /* log lines go here */
	int64_t interval_s;            /* > 0 */
	int64_t retention_days;        /* 0: raw vitals are kept forever */
	int64_t rollup_retention_days; /* 0: rollups are kept forever */
};

struct vg_storage_stats {
	uint64_t runs;                 /* passes that completed (this broker held the lock) */
	uint64_t errors;               /* passes that failed (logged, retried next interval) */
	uint64_t rollup_minutes;       /* minutes rolled up */
	uint64_t rollup_rows;          /* rows written to vitals_rollup_1m */
	uint64_t rollup_recomputed;    /* (device, minute) pairs rolled up again after late samples */
	uint64_t partitions_dropped;   /* raw and rollup partitions dropped */
	uint64_t rows_deleted;         /* rows deleted from the default partitions */
	uint64_t busy;                 /* drops put off: the partition was in use */
	int64_t last_run_ms;           /* wall clock of the last completed pass, 0 before */
	int64_t rollup_lag_ms;         /* p_now minus the end of the minutes rolled up, at the last pass */
	bool leader;                   /* this broker does the upkeep */
};

int vg_storage_start(struct vg_storage **out, const struct vg_storage_opts *o, char *err, size_t errlen);
/* Cancels a statement in progress and joins the thread. NULL is allowed. */
void vg_storage_stop(struct vg_storage *s);
void vg_storage_get_stats(struct vg_storage *s, struct vg_storage_stats *st);

#endif
