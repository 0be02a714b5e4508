/*
 * storage: rollups and retention (see storage.h).
 *
 * DESIGN
 * - One worker thread, one PGconn (application_name vitalgate-storage).
 *   No jobs: a pass every interval_s, run sooner while the rollups are
 *   behind (after downtime: at most ROLLUP_CHUNK_MIN minutes per
 *   transaction, up to MAX_CALLS calls per pass, then the next pass).
 * - Leadership: a pass runs only while this connection holds the session
 *   advisory lock 727384104 (pg_try_advisory_lock, taken again after a
 *   reconnect); other brokers on the same database wait their turn, and
 *   take over within one interval when the leader's connection goes. The
 *   SQL functions also serialise on a transaction lock of their own, so a
 *   second caller (an operator, a test) is merely slower, never wrong.
 * - A pass: vitalgate_retention(now, retention_days, rollup_retention_days)
 *   (first: nothing is rolled up that is about to be dropped), then CALL
 *   vitalgate_rollup(now, ROLLUP_CHUNK_MIN) until it is not behind (at
 *   most MAX_CALLS times; the next pass follows at once while behind), then
 *   reads how far the rollups are behind.
 *   `now` is this thread's wall clock, passed as a parameter: the
 *   functions never read the database's clock, so tests move time by
 *   passing another one.
 * - Failure: a failed statement is logged (at most once a minute), counted,
 *   the connection dropped and the pass tried again next interval; the
 *   functions are idempotent and transactional, so nothing is half done.
 * - Stop: a flag and a condition variable wake the thread from its wait; a
 *   statement in progress is cancelled (PQcancel) so stop never waits for a
 *   long catch-up.
 * - Counters are atomics: get_stats reads them from the broker thread.
 *
 * Thread: start/stop on the broker thread; the worker owns its PGconn.
 * Memory: results are freed before each function returns; log lines posted
 * belong to the consumer.
 */
#include "storage.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "vg_completion.h"
#include "vg_log.h"
#include "vg_pg.h"
#include "vg_ratelimit.h"
#include "vg_util.h"

#define ROLLUP_CHUNK_MIN 10        /* minutes per rollup transaction */
#define MAX_CALLS 60               /* rollup transactions per pass */

struct vg_storage {
	struct vg_storage_opts o;
	char *conninfo;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;                 /* under lock */
	PGcancel *cancel;              /* under lock: the connection's, while one is open */
	PGconn *conn;
	bool leader;
	bool behind;                   /* the last rollup call said more minutes wait */
	struct vg_ratelimit err_log;   /* error lines: once a minute */
	struct vg_ratelimit busy_log;

	_Atomic uint64_t runs;
	_Atomic uint64_t errors;
	_Atomic uint64_t rollup_minutes;
	_Atomic uint64_t rollup_rows;
	_Atomic uint64_t rollup_recomputed;
	_Atomic uint64_t partitions_dropped;
	_Atomic uint64_t rows_deleted;
	_Atomic uint64_t busy;
	_Atomic int64_t last_run_ms;
	_Atomic int64_t rollup_lag_ms;
	_Atomic bool is_leader;
};

static bool stopping(struct vg_storage *s)
{
	bool v;

	pthread_mutex_lock(&s->lock);
	v = s->stopping;
	pthread_mutex_unlock(&s->lock);
	return v;
}

/* Waits ms or until stop; returns false when stopping. */
static bool nap(struct vg_storage *s, int64_t ms)
{
	struct timespec ts;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if(ts.tv_nsec >= 1000000000L){
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->lock);
	while(!s->stopping){
		if(pthread_cond_timedwait(&s->cond, &s->lock, &ts) != 0){
			break;
		}
	}
	stop = s->stopping;
	pthread_mutex_unlock(&s->lock);
	return !stop;
}

static void disconnect(struct vg_storage *s)
{
	pthread_mutex_lock(&s->lock);
	if(s->cancel){
		PQfreeCancel(s->cancel);
		s->cancel = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	if(s->conn){
		PQfinish(s->conn);
		s->conn = NULL;
	}
	s->leader = false;
	atomic_store(&s->is_leader, false);
}

static void fail(struct vg_storage *s, const char *what, const char *msg)
{
	char line[400];

	atomic_fetch_add(&s->errors, 1);
	if(stopping(s)){
		return; /* a cancelled statement */
	}
	vg_pg_errline(msg, line, sizeof(line));
	if(vg_ratelimit_take(&s->err_log, vg_mono_ms(), NULL)){
		vg_post_log(s->o.completions, VG_LOG_ERR, "Vitalgate storage: %s failed: %s (retried in %" PRId64 " s)",
				what, line, s->o.interval_s);
	}
}

static bool ensure_connected(struct vg_storage *s)
{
	char err[512];
	PGcancel *cancel;

	if(s->conn && PQstatus(s->conn) == CONNECTION_OK){
		return true;
	}
	disconnect(s);
	s->conn = vg_pg_connect(s->conninfo, "vitalgate-storage", err, sizeof(err));
	if(s->conn == NULL){
		fail(s, "connecting to PostgreSQL", err);
		return false;
	}
	cancel = PQgetCancel(s->conn);
	pthread_mutex_lock(&s->lock);
	s->cancel = cancel;
	pthread_mutex_unlock(&s->lock);
	return true;
}

/* Runs a statement with text parameters; the result (status ok) or NULL
 * after logging. */
static PGresult *run(struct vg_storage *s, const char *what, const char *sql, int n, const char *const *params,
		ExecStatusType want)
{
	PGresult *r = PQexecParams(s->conn, sql, n, NULL, params, NULL, NULL, 0);

	if(r == NULL || PQresultStatus(r) != want){
		fail(s, what, r ? PQresultErrorMessage(r) : PQerrorMessage(s->conn));
		PQclear(r);
		return NULL;
	}
	return r;
}

static uint64_t col_u64(PGresult *r, int col)
{
	int64_t v = 0;

	if(!PQgetisnull(r, 0, col)){
		vg_parse_i64(PQgetvalue(r, 0, col), 0, INT64_MAX, &v);
	}
	return (uint64_t)v;
}

static bool take_lead(struct vg_storage *s)
{
	PGresult *r;
	bool got;

	if(s->leader){
		return true;
	}
	r = run(s, "taking the storage lock", "SELECT pg_try_advisory_lock(727384104)", 0, NULL, PGRES_TUPLES_OK);
	if(r == NULL){
		return false;
	}
	got = PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "t");
	PQclear(r);
	if(got){
		s->leader = true;
		atomic_store(&s->is_leader, true);
		vg_post_log(s->o.completions, VG_LOG_NOTICE, "Vitalgate storage: this broker now does the rollups and "
				"retention (raw vitals kept %" PRId64 " days, rollups %" PRId64 " days; 0 = forever)",
				s->o.retention_days, s->o.rollup_retention_days);
	}
	return got;
}

/* Rolls up everything closed by now_txt; false on a database error. */
static bool rollups(struct vg_storage *s, const char *now_txt)
{
	const char *p[2] = { now_txt, NULL };
	char chunk[16];
	uint64_t minutes = 0, rows = 0, again = 0;
	bool behind = true;
	int calls;

	snprintf(chunk, sizeof(chunk), "%d", ROLLUP_CHUNK_MIN);
	p[1] = chunk;
	for(calls = 0; behind && calls < MAX_CALLS && !stopping(s); calls++){
		PGresult *r = run(s, "the rollup (CALL vitalgate_rollup)",
				"CALL vitalgate_rollup($1::timestamptz, $2::integer, NULL, NULL, NULL, NULL)", 2, p, PGRES_TUPLES_OK);
		if(r == NULL){
			return false;
		}
		minutes += col_u64(r, 0);
		rows += col_u64(r, 1);
		again += col_u64(r, 2);
		behind = !strcmp(PQgetvalue(r, 0, 3), "t");
		PQclear(r);
	}
	s->behind = behind;
	atomic_fetch_add(&s->rollup_minutes, minutes);
	atomic_fetch_add(&s->rollup_rows, rows);
	atomic_fetch_add(&s->rollup_recomputed, again);
	if(minutes > 1 || again > 0){
		vg_post_log(s->o.completions, VG_LOG_INFO, "Vitalgate storage: rolled up %" PRIu64 " minute(s) (%" PRIu64
				" row(s)), %" PRIu64 " device-minute(s) again after late samples%s", minutes, rows, again,
				behind ? "; still catching up" : "");
	}
	return true;
}

static bool retention(struct vg_storage *s, const char *now_txt)
{
	char d1[24], d2[24];
	const char *p[3] = { now_txt, d1, d2 };
	uint64_t raw, roll, deleted, busy;
	PGresult *r;

	snprintf(d1, sizeof(d1), "%" PRId64, s->o.retention_days);
	snprintf(d2, sizeof(d2), "%" PRId64, s->o.rollup_retention_days);
	r = run(s, "retention (vitalgate_retention)",
			"SELECT raw_dropped, rollup_dropped, rows_deleted, busy, dropped "
			"FROM vitalgate_retention($1::timestamptz, $2::integer, $3::integer)", 3, p, PGRES_TUPLES_OK);
	if(r == NULL){
		return false;
	}
	raw = col_u64(r, 0);
	roll = col_u64(r, 1);
	deleted = col_u64(r, 2);
	busy = col_u64(r, 3);
	atomic_fetch_add(&s->partitions_dropped, raw + roll);
	atomic_fetch_add(&s->rows_deleted, deleted);
	atomic_fetch_add(&s->busy, busy);
	if(raw + roll + deleted > 0){
		vg_post_log(s->o.completions, VG_LOG_NOTICE, "Vitalgate storage: retention dropped %" PRIu64 " raw vitals "
				"partition(s) older than %" PRId64 " days and %" PRIu64 " rollup partition(s) older than %" PRId64
				" days (%.300s), and deleted %" PRIu64 " row(s) from the default partitions", raw, s->o.retention_days,
				roll, s->o.rollup_retention_days, PQgetvalue(r, 0, 4), deleted);
	}
	if(busy > 0 && vg_ratelimit_take(&s->busy_log, vg_mono_ms(), NULL)){
		vg_post_log(s->o.completions, VG_LOG_WARNING, "Vitalgate storage: %" PRIu64 " partition(s) due for retention "
				"are in use (a long query or export holds them); tried again next pass", busy);
	}
	PQclear(r);
	return true;
}

static bool lag(struct vg_storage *s, const char *now_txt)
{
	const char *p[1] = { now_txt };
	PGresult *r = run(s, "reading the rollup state",
			"SELECT (extract(epoch FROM $1::timestamptz - until) * 1000)::bigint FROM vitalgate_rollup_state "
			"WHERE name = 'rolled'", 1, p, PGRES_TUPLES_OK);

	if(r == NULL){
		return false;
	}
	atomic_store(&s->rollup_lag_ms, PQntuples(r) == 1 ? (int64_t)col_u64(r, 0) : 0);
	PQclear(r);
	return true;
}

/* One pass; true when the rollups are still behind (run again at once). */
static bool pass(struct vg_storage *s)
{
	char now_txt[40];
	int64_t now = vg_now_ms();

	if(!ensure_connected(s) || !take_lead(s)){
		return false;
	}
	vg_rfc3339(now, now_txt, sizeof(now_txt));
	/* Retention first: nothing is rolled up that is about to be dropped. */
	if(retention(s, now_txt) && rollups(s, now_txt) && lag(s, now_txt)){
		atomic_fetch_add(&s->runs, 1);
		atomic_store(&s->last_run_ms, now);
		return s->behind;
	}
	disconnect(s);
	return false;
}

static void *storage_main(void *arg)
{
	struct vg_storage *s = arg;

	pthread_setname_np(pthread_self(), "vg-storage"); /* top -H, the benchmarks */
	do{
		while(pass(s) && !stopping(s)){
			/* catching up: no pause between passes */
		}
	}while(nap(s, s->o.interval_s * 1000));
	disconnect(s);
	return NULL;
}

int vg_storage_start(struct vg_storage **out, const struct vg_storage_opts *o, char *err, size_t errlen)
{
	struct vg_storage *s = calloc(1, sizeof(*s));

	*out = NULL;
	if(s == NULL || (s->conninfo = strdup(o->conninfo)) == NULL){
		free(s);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->o = *o;
	s->o.conninfo = s->conninfo;
	vg_ratelimit_init(&s->err_log, 1, 60000);
	vg_ratelimit_init(&s->busy_log, 1, 600000);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	if(pthread_create(&s->thread, NULL, storage_main, s) != 0){
		snprintf(err, errlen, "cannot start the storage worker thread");
		pthread_cond_destroy(&s->cond);
		pthread_mutex_destroy(&s->lock);
		free(s->conninfo);
		free(s);
		return -1;
	}
	*out = s;
	return 0;
}

void vg_storage_stop(struct vg_storage *s)
{
	char buf[256];

	if(s == NULL){
		return;
	}
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	if(s->cancel){
		PQcancel(s->cancel, buf, (int)sizeof(buf));
	}
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s->conninfo);
	free(s);
}

void vg_storage_get_stats(struct vg_storage *s, struct vg_storage_stats *st)
{
	memset(st, 0, sizeof(*st));
	if(s == NULL){
		return;
	}
	st->runs = atomic_load(&s->runs);
	st->errors = atomic_load(&s->errors);
	st->rollup_minutes = atomic_load(&s->rollup_minutes);
	st->rollup_rows = atomic_load(&s->rollup_rows);
	st->rollup_recomputed = atomic_load(&s->rollup_recomputed);
	st->partitions_dropped = atomic_load(&s->partitions_dropped);
	st->rows_deleted = atomic_load(&s->rows_deleted);
	st->busy = atomic_load(&s->busy);
	st->last_run_ms = atomic_load(&s->last_run_ms);
	st->rollup_lag_ms = atomic_load(&s->rollup_lag_ms);
	st->leader = atomic_load(&s->is_leader);
}
