/*
 * pgwriter: the PostgreSQL writer thread. Reads the journal in order,
 * writes batches (COPY into a staging table, then INSERT ... ON CONFLICT DO
 * NOTHING), and commits the journal position only after PostgreSQL has
 * committed. A batch that fails is kept and retried after reconnecting, so
 * nothing is lost while PostgreSQL is down: the journal just grows.
 *
 * Thread: vg_pgwriter_start/stop on the broker thread (init, cleanup); the
 * writer thread owns its PGconn and the journal reader. Stats: any thread.
 */
#ifndef VG_PGWRITER_H
#define VG_PGWRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scope.h"
#include "vg_journal.h"
#include "vg_queue.h"

struct vg_pgwriter;

struct vg_pgwriter_opts {
	const char *conninfo;
	struct vg_journal *journal;
	struct vg_queue *completions;  /* logs and DB state go here */
	int batch_rows;
	int commit_ms;                 /* a batch closes at batch_rows, or this long after its
	                                * oldest sample was received (0: as soon as the
	                                * journal has nothing more right now) */
	int64_t max_past_s;            /* partitions are kept this far back */
	int news2_max_age_s;           /* NEWS2 inputs restored at start are at most this old */
	struct vg_scope scope;         /* whose state is read back at start (a cell: its wards'; a hub: none) */
};

/* Upper bounds (µs) of the commit-latency histogram's buckets; the last
 * bucket counts everything above the last bound (+Inf). */
#define VG_BATCH_BUCKETS 13
extern const int64_t vg_batch_bucket_us[VG_BATCH_BUCKETS - 1];
/* Upper bounds (ms) of the buckets of the samples' time from reception by
 * the broker to their COMMIT; the last bucket is +Inf. */
#define VG_COMMIT_BUCKETS 13
extern const int64_t vg_commit_bucket_ms[VG_COMMIT_BUCKETS - 1];

struct vg_pgwriter_stats {
	uint64_t rows_committed;       /* sample rows inserted (new) */
	uint64_t rows_duplicate;       /* rows PostgreSQL already had */
	uint64_t occupancy_applied;    /* occupancy messages stored in the history (migration 011) */
	uint64_t occupancy_relinked;   /* stored samples they re-linked to another occupant (or none) */
	uint64_t rejections_committed;
	uint64_t audit_committed;
	uint64_t batches;
	uint64_t batch_failures;
	int64_t last_batch_ms;         /* duration of the last commit */
	int64_t lag_ms;                /* age of the oldest record not committed */
	uint64_t batch_us_bucket[VG_BATCH_BUCKETS]; /* commits per latency bucket (not cumulative) */
	uint64_t batch_us_sum;         /* total commit latency, µs */
	uint64_t commit_ms_bucket[VG_COMMIT_BUCKETS]; /* samples per reception-to-COMMIT bucket (not cumulative) */
	uint64_t commit_ms_sum;        /* total reception-to-COMMIT time of those samples, ms */
	bool connected;
};

int vg_pgwriter_start(struct vg_pgwriter **out, const struct vg_pgwriter_opts *o, char *err, size_t errlen);
/* Stops the thread: first keeps writing until the journal is drained or
 * drain_ms passes (what is left stays in the journal for the next start). */
void vg_pgwriter_stop(struct vg_pgwriter *w, int drain_ms);
void vg_pgwriter_get_stats(struct vg_pgwriter *w, struct vg_pgwriter_stats *st);

#endif
