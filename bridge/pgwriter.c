/*
 * pgwriter: journal -> PostgreSQL (see pgwriter.h).
 *
 * DESIGN
 * - Jobs: there are none to queue: the journal is the queue. The broker
 *   thread appends; this thread reads records in journal order.
 * - Ownership: this thread owns its PGconn, the journal reader and the
 *   batch buffers. It reports to the broker thread only through the
 *   completion queue (logs, DB up/down).
 * - Batching (cadence): a batch closes when batch_rows sample rows are in
 *   it, or when its latency budget (commit_ms) runs out: commit_ms after
 *   the oldest sample in it was received by the broker (after its first
 *   record was read, for other records). Until then the writer waits for
 *   more (the journal wakes it early only when 64 KiB piled up). So the
 *   database sees one transaction per budget under light and steady load,
 *   its CPU following the samples rather than a poll rate; a backlog
 *   (records already older than the budget, or more than batch_rows
 *   waiting) fills batches of batch_rows back to back without waiting; at
 *   shutdown nothing waits. commit_ms 0: close as soon as the journal has
 *   nothing more right now (the cadence before issue 16). Each committed
 *   sample's time from the broker's reception to the COMMIT goes into a
 *   histogram (vg_commit_bucket_ms). One transaction per batch:
 *     COPY vg_stage_vitals; lock the batch's devices' rows of
 *     vitals_seq_hwm; INSERT INTO vitals SELECT ... ; raise the marks;
 *     COPY vg_stage_rejections; INSERT INTO rejections ...; COMMIT
 *   and only then vg_journal_commit(position after the batch).
 * - Rollups (migration 008, bridge/storage.c): the batch reads the bound
 *   of the minutes already closed for the per-minute rollups FOR SHARE
 *   and marks each (device, minute) it stores below it in
 *   vitals_rollup_dirty, in the same transaction, so a late sample (a
 *   replay, a device's buffered batch) is rolled up again. In the common
 *   case no row is below it and the mark costs nothing.
 * - (device_id, seq) unique on its own: `vitals` is partitioned by
 *   measured_at, so its unique index also holds measured_at and cannot
 *   see the same seq with another ts in another partition. The database
 *   keeps each device's highest stored seq (vitals_seq_hwm, migration 005);
 *   the batch locks its devices' rows (FOR UPDATE in device_id order: two
 *   writers, e.g. two brokers replaying journals into one database, wait
 *   for each other instead of deadlocking), inserts rows above the mark
 *   as they are (plus the broker's NEEDS_CHECK rows only after a check)
 *   and rows at or below it only if no partition has that (device, seq),
 *   keeps the first of a seq repeated within the batch (DISTINCT ON), and
 *   raises the marks. Whatever the broker believed.
 * - Memory: a record is added to the batch whole or not at all. When an
 *   allocation fails, the batch ends before that record (its partial rows
 *   are cut off and the reader goes back to it), the records before it are
 *   written, and it is read again: the journal position committed never
 *   passes a record that is not in PostgreSQL. Records that cannot be
 *   decoded at all are logged and skipped: nothing could ever store them.
 * - Schema: samples name their fields by id (schemas/vitals/v1.json). A
 *   well-formed samples record naming an id this build does not know (a
 *   newer schema's, or a field removed since) is never skipped nor stored
 *   without it: the batch ends before it, and the writer stops there with
 *   an ALARM every 10 s (the journal grows, then refuses with backpressure)
 *   until a build that knows the id reads it.
 * - Alerts across instances (migration 007): in the transaction that stores
 *   a batch's alert events, vitalgate_alert_open_apply moves each event's
 *   condition in alert_open (at most one open alert per condition, whichever
 *   broker wrote it); an alert it closes because the condition has a newer
 *   one comes back as an alert.resolved event, posted after the commit
 *   (VG_C_SUPERSEDED) for the broker to publish and deliver. The marks of
 *   vitals_seq_hwm also say when each device's latest sample was received
 *   and by which broker (this journal's id): only that broker raises the
 *   device's silent alert (bridge/cellsync.c).
 * - Failure: a failed batch is kept and replayed on a new connection after
 *   a backoff (0.2 s doubling to 5 s); the journal keeps growing meanwhile and
 *   the broker refuses with `backpressure` only when it is full.
 * - Shutdown: stop() sets `stopping` with a deadline; the thread keeps
 *   writing until the journal is drained or the deadline passes, then exits.
 */
#include "pgwriter.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "vg_migrations.h"
#include "outbox.h"
#include "vg_pg.h"
#include "vg_completion.h"
#include "vg_log.h"
#include "vg_ratelimit.h"
#include "vg_rec.h"
#include "vg_sbuf.h"
#include "vg_schema.h"
#include "vg_util.h"

struct aud_row {
	int64_t at_ms;
	uint64_t lsn;
	uint8_t event;
	char identity[VG_ID_MAX + 1];
	char client_id[VG_ID_MAX + 1];
	char address[64];
	char detail[512];
};

/* Samples of a batch received in the same millisecond (run-length, in
 * journal order), for the sample-to-commit histogram. */
struct recv_run {
	int64_t received_ms;
	uint32_t n;
};
#define RECV_RUNS 1024

struct batch {
	struct vg_sbuf vit;      /* COPY text rows for vg_stage_vitals */
	struct vg_sbuf rej;      /* COPY text rows for vg_stage_rejections */
	struct aud_row *aud;     /* audit records, chained at flush */
	size_t aud_cap;
	struct vg_sbuf evs;      /* COPY text rows for vg_stage_events */
	struct vg_sbuf dels;     /* COPY text rows for vg_stage_delivery */
	struct vg_sbuf occ;      /* occupancy messages: OCC_FIELDS NUL-terminated parameters each */
	size_t noccs;
	size_t nevs;
	size_t ndels;
	size_t rows;
	size_t rejs;
	size_t auds;
	bool has_end;
	struct vg_journal_pos end;
	int64_t oldest_ms;
	uint64_t first_lsn;
	uint64_t last_lsn;
	int64_t close_at_ms;     /* monotonic: the budget runs out (0: no record yet) */
	struct recv_run runs[RECV_RUNS];
	size_t nruns;
};

struct vg_pgwriter {
	struct vg_pgwriter_opts o;
	char *conninfo;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;
	int64_t deadline_ms;

	PGconn *conn;
	struct vg_journal_reader *reader;
	struct batch b;
	struct vg_rec_samples *rs;      /* decode space, allocated at start */
	struct vg_ratelimit oom_log;    /* "out of memory reading the journal": once every 10 s */
	struct vg_ratelimit blocked_log; /* the unknown-field ALARM: once every 10 s */
	int64_t last_partition_check_ms;
	bool startup_done;
	int backoff_ms;
	bool announced_down;

	_Atomic uint64_t rows_committed;
	_Atomic uint64_t rows_duplicate;
	_Atomic uint64_t occupancy_applied;
	_Atomic uint64_t occupancy_relinked;
	_Atomic uint64_t rejections_committed;
	_Atomic uint64_t audit_committed;
	_Atomic uint64_t batches;
	_Atomic uint64_t batch_failures;
	_Atomic int64_t last_batch_ms;
	_Atomic int64_t lag_ms;
	_Atomic bool connected;
	_Atomic uint64_t batch_us_bucket[VG_BATCH_BUCKETS];
	_Atomic uint64_t batch_us_sum;
	_Atomic uint64_t commit_ms_bucket[VG_COMMIT_BUCKETS];
	_Atomic uint64_t commit_ms_sum;
};

const int64_t vg_batch_bucket_us[VG_BATCH_BUCKETS - 1] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 10000000,
};

const int64_t vg_commit_bucket_ms[VG_COMMIT_BUCKETS - 1] = {
	10, 25, 50, 100, 150, 200, 250, 500, 1000, 2500, 10000, 60000,
};

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void observe_batch(struct vg_pgwriter *w, int64_t us)
{
	int i = 0;

	while(i < VG_BATCH_BUCKETS - 1 && us > vg_batch_bucket_us[i]){
		i++;
	}
	atomic_fetch_add(&w->batch_us_bucket[i], 1);
	atomic_fetch_add(&w->batch_us_sum, (uint64_t)us);
}

/* After a COMMIT: each sample of the batch, from its reception by the
 * broker to now. Replays after a restart land in the last buckets, as
 * they should: that is how long they waited. */
static void observe_commit(struct vg_pgwriter *w, int64_t now_ms)
{
	const struct batch *b = &w->b;
	uint64_t sum = 0;
	int64_t age;
	size_t k;
	int i;

	for(k = 0; k < b->nruns; k++){
		age = now_ms - b->runs[k].received_ms;
		if(age < 0){
			age = 0;   /* the wall clock stepped back */
		}
		i = 0;
		while(i < VG_COMMIT_BUCKETS - 1 && age > vg_commit_bucket_ms[i]){
			i++;
		}
		atomic_fetch_add(&w->commit_ms_bucket[i], b->runs[k].n);
		sum += (uint64_t)age * b->runs[k].n;
	}
	atomic_fetch_add(&w->commit_ms_sum, sum);
}

static void wlog(struct vg_pgwriter *w, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void wlog(struct vg_pgwriter *w, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vg_post_logv(w->o.completions, level, fmt, ap);
	va_end(ap);
}

static void post_db_state(struct vg_pgwriter *w, bool up)
{
	struct vg_c_db_state *c = calloc(1, sizeof(*c));

	if(c == NULL){
		return;
	}
	c->base.type = VG_C_DB_STATE;
	c->up = up;
	c->lag_ms = atomic_load(&w->lag_ms);
	if(vg_queue_push(w->o.completions, &c->base) != VG_QUEUE_OK){
		free(c);
	}
}

/* Column list of the staging table, generated from the schema order:
 * everything but v, seq and ts is a measurement column named as its key. */
static void measurement_columns(struct vg_sbuf *s, bool with_types)
{
	int f;

	for(f = 0; f < VG_FIELD_COUNT; f++){
		if(!vg_fields[f].measurement){
			continue;
		}
		vg_sbuf_printf(s, ", %s", vg_fields[f].key);
		if(with_types){
			switch(vg_fields[f].type){
				case VG_T_UINT: vg_sbuf_puts(s, " integer"); break;
				case VG_T_NUMBER: vg_sbuf_puts(s, " double precision"); break;
				case VG_T_BOOL: vg_sbuf_puts(s, " boolean"); break;
				case VG_T_ENUM: vg_sbuf_puts(s, " text"); break;
				default: vg_sbuf_puts(s, " bigint"); break;
			}
		}
	}
}

static bool prepare_session(struct vg_pgwriter *w, char *err, size_t errlen)
{
	struct vg_sbuf s;
	bool ok;

	vg_sbuf_init(&s);
	vg_sbuf_puts(&s, "SET synchronous_commit = on; "
			"CREATE TEMP TABLE IF NOT EXISTS vg_stage_vitals (n bigint, device_id text, seq bigint, "
			"measured_ms bigint, received_ms bigint, chk boolean, ward text, bed text");
	measurement_columns(&s, true);
	vg_sbuf_puts(&s, ") ON COMMIT DELETE ROWS; "
			"CREATE TEMP TABLE IF NOT EXISTS vg_stage_rejections (device_id text, received_ms bigint, "
			"reason text, field text, detail text, seq bigint, batch_index integer, payload bytea, "
			"journal_id text, lsn bigint, payload_bytes integer, payload_sha256 bytea, suppressed integer) "
			"ON COMMIT DELETE ROWS;");
	vg_sbuf_puts(&s, " CREATE TEMP TABLE IF NOT EXISTS vg_stage_events (event_id text, alert_id text, type text, "
			"kind text, severity text, ward text, bed text, device_id text, order_key text, created_ms bigint, "
			"body text, journal_id text, lsn bigint, n bigint) ON COMMIT DELETE ROWS;"
			" CREATE TEMP TABLE IF NOT EXISTS vg_stage_delivery (event_id text, status text, attempts integer, "
			"http integer, error text, at_ms bigint, lsn bigint) ON COMMIT DELETE ROWS;");
	ok = vg_sbuf_ok(&s) && vg_pg_exec(w->conn, s.p, err, errlen);
	vg_sbuf_free(&s);
	return ok;
}

/* The database must be at the schema version this build was made with
 * (the migrations it embeds); writing into an older one would fail batch
 * after batch. */
static bool check_schema(struct vg_pgwriter *w, char *err, size_t errlen)
{
	PGresult *r = PQexec(w->conn, "SELECT COALESCE(max(version), 0) FROM schema_migrations");
	int have = -1;

	if(r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1){
		have = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
	}
	PQclear(r);
	if(have < vg_migration_count){
		snprintf(err, errlen, "database schema is at version %d, this Vitalgate needs %d: run `vitalgate-admin migrate`",
				have < 0 ? 0 : have, vg_migration_count);
		return false;
	}
	return true;
}

static void ensure_partitions(struct vg_pgwriter *w)
{
	char sql[256];
	char err[512];
	int64_t back_days = w->o.max_past_s / 86400 + 2;

	snprintf(sql, sizeof(sql),
			"SELECT vitalgate_ensure_partitions((now() AT TIME ZONE 'UTC')::date - %" PRId64
			", (now() AT TIME ZONE 'UTC')::date + 7)", back_days);
	if(!vg_pg_exec(w->conn, sql, err, sizeof(err))){
		wlog(w, VG_LOG_WARNING, "Vitalgate writer: cannot create vitals partitions ahead: %s", err);
	}
	w->last_partition_check_ms = vg_mono_ms();
}

static void disconnect(struct vg_pgwriter *w)
{
	if(w->conn){
		PQfinish(w->conn);
		w->conn = NULL;
	}
	atomic_store(&w->connected, false);
}

static bool ensure_connected(struct vg_pgwriter *w)
{
	char err[512];

	if(w->conn && PQstatus(w->conn) == CONNECTION_OK){
		return true;
	}
	disconnect(w);
	w->conn = vg_pg_connect(w->conninfo, "vitalgate-writer", err, sizeof(err));
	if(w->conn == NULL){
		if(!w->announced_down){
			wlog(w, VG_LOG_ERR, "Vitalgate writer: cannot connect to PostgreSQL (%s); samples stay in the journal and are written when it is back", err);
			w->announced_down = true;
			post_db_state(w, false);
		}
		return false;
	}
	if(!check_schema(w, err, sizeof(err)) || !prepare_session(w, err, sizeof(err))){
		if(!w->announced_down){
			wlog(w, VG_LOG_ERR, "Vitalgate writer: %s; samples stay in the journal", err);
			w->announced_down = true;
			post_db_state(w, false);
		}
		disconnect(w);
		return false;
	}
	ensure_partitions(w);
	atomic_store(&w->connected, true);
	if(w->announced_down){
		wlog(w, VG_LOG_NOTICE, "Vitalgate writer: connected to PostgreSQL again, replaying the journal");
	}else{
		wlog(w, VG_LOG_INFO, "Vitalgate writer: connected to PostgreSQL");
	}
	w->announced_down = false;
	w->backoff_ms = 0;
	post_db_state(w, true);
	return true;
}

static void batch_reset(struct batch *b)
{
	vg_sbuf_reset(&b->vit);
	vg_sbuf_reset(&b->rej);
	vg_sbuf_reset(&b->evs);
	vg_sbuf_reset(&b->dels);
	vg_sbuf_reset(&b->occ);
	b->noccs = 0;
	b->nevs = 0;
	b->ndels = 0;
	b->rows = 0;
	b->rejs = 0;
	b->auds = 0;
	b->has_end = false;
	b->oldest_ms = 0;
	b->first_lsn = 0;
	b->last_lsn = 0;
	b->close_at_ms = 0;
	b->nruns = 0;
}

/* Counts n samples received at received_ms (no allocation: when the runs
 * are used up, they join the last run, which is older: their latency is
 * then over-stated, never under-stated). */
static void add_recv_run(struct batch *b, int64_t received_ms, int n)
{
	if(b->nruns && (b->runs[b->nruns - 1].received_ms == received_ms || b->nruns == RECV_RUNS)){
		b->runs[b->nruns - 1].n += (uint32_t)n;
		return;
	}
	b->runs[b->nruns].received_ms = received_ms;
	b->runs[b->nruns].n = (uint32_t)n;
	b->nruns++;
}

static void put_sep_null(struct vg_sbuf *s)
{
	vg_sbuf_puts(s, "\t\\N");
}

static void add_samples(struct batch *b, const struct vg_rec_samples *rs)
{
	int i, f;

	for(i = 0; i < rs->n; i++){
		const struct vg_sample *s = &rs->s[i];
		struct vg_sbuf *o = &b->vit;

		vg_sbuf_u64(o, b->rows);   /* n: journal order within the batch */
		vg_sbuf_putc(o, '\t');
		vg_sbuf_copy_text(o, rs->device.p, rs->device.n);
		vg_sbuf_putc(o, '\t');
		vg_sbuf_u64(o, s->val[VG_F_SEQ].u);
		vg_sbuf_putc(o, '\t');
		vg_sbuf_i64(o, s->val[VG_F_TS].i);
		vg_sbuf_putc(o, '\t');
		vg_sbuf_i64(o, rs->received_ms);
		vg_sbuf_puts(o, (rs->flags & VG_REC_F_NEEDS_CHECK) ? "\tt" : "\tf");
		if(rs->ward.n){
			vg_sbuf_putc(o, '\t');
			vg_sbuf_copy_text(o, rs->ward.p, rs->ward.n);
			vg_sbuf_putc(o, '\t');
			vg_sbuf_copy_text(o, rs->bed.p, rs->bed.n);
		}else{
			put_sep_null(o);
			put_sep_null(o);
		}
		for(f = 0; f < VG_FIELD_COUNT; f++){
			if(!vg_fields[f].measurement){
				continue;
			}
			if(!VG_SAMPLE_HAS(s, f)){
				put_sep_null(o);
				continue;
			}
			vg_sbuf_putc(o, '\t');
			switch(vg_fields[f].type){
				case VG_T_NUMBER: vg_sbuf_printf(o, "%.3f", s->val[f].d); break;
				case VG_T_BOOL: vg_sbuf_putc(o, s->val[f].b ? 't' : 'f'); break;
				case VG_T_ENUM: vg_sbuf_putc(o, s->val[f].c); break;
				case VG_T_INT64: vg_sbuf_i64(o, s->val[f].i); break;
				default: vg_sbuf_u64(o, s->val[f].u); break;
			}
		}
		vg_sbuf_putc(o, '\n');
		b->rows++;
	}
}

/* The columns after the payload: journal_id, lsn, payload_bytes,
 * payload_sha256 (NULL without), suppressed; and the end of the row. */
static void put_rejection_tail(struct vg_pgwriter *w, struct vg_sbuf *o, uint64_t lsn, uint64_t payload_bytes,
		const uint8_t *sha256, uint64_t suppressed)
{
	vg_sbuf_putc(o, '\t');
	vg_sbuf_puts(o, vg_journal_id(w->o.journal));
	vg_sbuf_putc(o, '\t');
	vg_sbuf_u64(o, lsn);
	vg_sbuf_putc(o, '\t');
	vg_sbuf_u64(o, payload_bytes);
	if(sha256){
		vg_sbuf_putc(o, '\t');
		vg_sbuf_copy_bytea(o, sha256, 32);
	}else{
		put_sep_null(o);
	}
	vg_sbuf_putc(o, '\t');
	vg_sbuf_u64(o, suppressed);
	vg_sbuf_putc(o, '\n');
}

/* One row of vg_stage_rejections: a rejection (payload: the prefix the
 * broker kept, with the whole payload's length and hash) or, with sum, the
 * summary of rejections counted instead of recorded. */
static void add_rejection_row(struct vg_pgwriter *w, struct batch *b, const struct vg_rec_rejection *rj,
		const struct vg_rec_rejection_summary *sum, const uint8_t *sha256, uint64_t lsn)
{
	struct vg_sbuf *o = &b->rej;

	if(sum){
		char from[40], to[40];
		int r, k = 0;
		vg_rfc3339(sum->from_ms, from, sizeof(from));
		vg_rfc3339(sum->to_ms, to, sizeof(to));
		vg_sbuf_copy_text(o, sum->device.p, sum->device.n);
		vg_sbuf_putc(o, '\t');
		vg_sbuf_i64(o, sum->to_ms);
		vg_sbuf_puts(o, "\tsuppressed\t\\N\t");
		vg_sbuf_printf(o, "%" PRIu32 " rejected message(s) from %s to %s not recorded one by one (reasons:", sum->count,
				from, to);
		for(r = VG_R_OK + 1; r < VG_R__COUNT; r++){
			if(sum->reasons & (1u << r)){
				vg_sbuf_printf(o, "%s %s", k++ ? "," : "", vg_reason_name((enum vg_reason)r));
			}
		}
		vg_sbuf_puts(o, ")\t\\N\t\\N\t\\\\x");
		put_rejection_tail(w, o, lsn, 0, NULL, sum->count);
		b->rejs++;
		return;
	}
	vg_sbuf_copy_text(o, rj->device.p, rj->device.n);
	vg_sbuf_putc(o, '\t');
	vg_sbuf_i64(o, rj->received_ms);
	vg_sbuf_putc(o, '\t');
	vg_sbuf_puts(o, vg_reason_name((enum vg_reason)rj->reason));
	if(rj->field.n){
		vg_sbuf_putc(o, '\t');
		vg_sbuf_copy_text(o, rj->field.p, rj->field.n);
	}else{
		put_sep_null(o);
	}
	vg_sbuf_putc(o, '\t');
	vg_sbuf_copy_text(o, rj->detail.p, rj->detail.n);
	if(rj->has_seq && rj->seq <= (uint64_t)INT64_MAX){
		vg_sbuf_putc(o, '\t');
		vg_sbuf_u64(o, rj->seq);
	}else{
		put_sep_null(o);
	}
	if(rj->index >= 0){
		vg_sbuf_putc(o, '\t');
		vg_sbuf_i64(o, rj->index);
	}else{
		put_sep_null(o);
	}
	vg_sbuf_putc(o, '\t');
	vg_sbuf_copy_bytea(o, rj->payload.p, rj->payload.n < VG_REC_REJECTION_PREFIX ? rj->payload.n : VG_REC_REJECTION_PREFIX);
	put_rejection_tail(w, o, lsn, rj->payload_len, sha256, 0);
	b->rejs++;
}

static void put_vstr(struct vg_sbuf *o, const struct vg_str *v)
{
	vg_sbuf_putc(o, '\t');
	if(v->n){
		vg_sbuf_copy_text(o, v->p, v->n);
	}else{
		vg_sbuf_puts(o, "\\N");
	}
}

static void add_events(struct vg_pgwriter *w, struct batch *b, const struct vg_rec_event *ev, int n, uint64_t lsn)
{
	int i;

	for(i = 0; i < n; i++){
		struct vg_sbuf *o = &b->evs;
		vg_sbuf_copy_text(o, ev[i].event_id.p, ev[i].event_id.n);
		put_vstr(o, &ev[i].alert_id);
		vg_sbuf_putc(o, '\t');
		vg_sbuf_puts(o, vg_alert_type_name(ev[i].type));
		vg_sbuf_putc(o, '\t');
		vg_sbuf_puts(o, vg_alert_kind_name(ev[i].kind));
		put_vstr(o, &ev[i].severity);
		put_vstr(o, &ev[i].ward);
		put_vstr(o, &ev[i].bed);
		put_vstr(o, &ev[i].device);
		put_vstr(o, &ev[i].order_key);
		vg_sbuf_putc(o, '\t');
		vg_sbuf_i64(o, ev[i].created_ms);
		put_vstr(o, &ev[i].body);
		vg_sbuf_putc(o, '\t');
		vg_sbuf_puts(o, vg_journal_id(w->o.journal));
		vg_sbuf_putc(o, '\t');
		vg_sbuf_u64(o, lsn);
		vg_sbuf_putc(o, '\t');
		vg_sbuf_u64(o, b->nevs);   /* n: order within the batch */
		vg_sbuf_putc(o, '\n');
		b->nevs++;
	}
}

static void add_delivery(struct batch *b, const struct vg_rec_delivery *d, uint64_t lsn)
{
	struct vg_sbuf *o = &b->dels;

	vg_sbuf_copy_text(o, d->event_id.p, d->event_id.n);
	vg_sbuf_putc(o, '\t');
	vg_sbuf_puts(o, d->status == VG_DS_DELIVERED ? "delivered" : "dead");
	vg_sbuf_putc(o, '\t');
	vg_sbuf_u64(o, d->attempts);
	vg_sbuf_putc(o, '\t');
	vg_sbuf_i64(o, d->http);
	put_vstr(o, &d->error);
	vg_sbuf_putc(o, '\t');
	vg_sbuf_i64(o, d->at_ms);
	vg_sbuf_putc(o, '\t');
	vg_sbuf_u64(o, lsn);
	vg_sbuf_putc(o, '\n');
	b->ndels++;
}

/* An occupancy message's parameters for vitalgate_occupancy_apply
 * (migration 011), each NUL-terminated; "" stands for NULL. */
#define OCC_FIELDS 10

static void occ_field(struct vg_sbuf *o, const char *p, size_t n)
{
	vg_sbuf_put(o, p, n);
	vg_sbuf_putc(o, '\0');
}

static void occ_num(struct vg_sbuf *o, int64_t v)
{
	vg_sbuf_i64(o, v);
	vg_sbuf_putc(o, '\0');
}

static void add_occupancy(struct vg_pgwriter *w, struct batch *b, const struct vg_rec_occupancy *r, uint64_t lsn)
{
	struct vg_sbuf *o = &b->occ;
	const char *jid = vg_journal_id(w->o.journal);

	occ_field(o, r->ward.p, r->ward.n);
	occ_field(o, r->bed.p, r->bed.n);
	occ_num(o, r->since_ms);
	occ_field(o, r->patient.p, r->patient.n);
	occ_field(o, r->encounter.p, r->encounter.n);
	occ_field(o, r->label.p, r->label.n);
	occ_num(o, r->received_ms);
	occ_field(o, r->by.p, r->by.n);
	occ_field(o, jid, strlen(jid));
	occ_num(o, (int64_t)lsn);
	b->noccs++;
}

static void copy_str(char *dst, size_t cap, const struct vg_str *s)
{
	size_t n = s->n < cap - 1 ? s->n : cap - 1;

	memcpy(dst, s->p, n);
	dst[n] = '\0';
}

static bool add_audit(struct batch *b, const struct vg_rec_audit *a, uint64_t lsn)
{
	struct aud_row *r;

	if(b->auds == b->aud_cap){
		size_t cap = b->aud_cap ? b->aud_cap * 2 : 256;
		struct aud_row *p = realloc(b->aud, cap * sizeof(*p));
		if(p == NULL){
			return false;
		}
		b->aud = p;
		b->aud_cap = cap;
	}
	r = &b->aud[b->auds++];
	r->at_ms = a->at_ms;
	r->event = a->event;
	r->lsn = lsn;
	copy_str(r->identity, sizeof(r->identity), &a->identity);
	copy_str(r->client_id, sizeof(r->client_id), &a->client_id);
	copy_str(r->address, sizeof(r->address), &a->address);
	copy_str(r->detail, sizeof(r->detail), &a->detail);
	return true;
}

/* What a batch holds before a record is added: enough to take the record
 * back out if it cannot be added whole. */
struct batch_mark {
	size_t vit, rej, evs, dels, occ;
	size_t nevs, ndels, rows, rejs, auds, noccs;
	int64_t oldest_ms;
	size_t nruns;
	uint32_t last_run_n;
};

static void batch_mark(const struct batch *b, struct batch_mark *m)
{
	m->vit = b->vit.len;
	m->rej = b->rej.len;
	m->evs = b->evs.len;
	m->dels = b->dels.len;
	m->occ = b->occ.len;
	m->noccs = b->noccs;
	m->nevs = b->nevs;
	m->ndels = b->ndels;
	m->rows = b->rows;
	m->rejs = b->rejs;
	m->auds = b->auds;
	m->oldest_ms = b->oldest_ms;
	m->nruns = b->nruns;
	m->last_run_n = b->nruns ? b->runs[b->nruns - 1].n : 0;
}

static void batch_rollback(struct batch *b, const struct batch_mark *m)
{
	vg_sbuf_truncate(&b->vit, m->vit);
	vg_sbuf_truncate(&b->rej, m->rej);
	vg_sbuf_truncate(&b->evs, m->evs);
	vg_sbuf_truncate(&b->dels, m->dels);
	vg_sbuf_truncate(&b->occ, m->occ);
	b->noccs = m->noccs;
	b->nevs = m->nevs;
	b->ndels = m->ndels;
	b->rows = m->rows;
	b->rejs = m->rejs;
	b->auds = m->auds;
	b->oldest_ms = m->oldest_ms;
	b->nruns = m->nruns;
	if(b->nruns){
		b->runs[b->nruns - 1].n = m->last_run_n;
	}
}

static bool batch_ok(const struct batch *b)
{
	return vg_sbuf_ok(&b->vit) && vg_sbuf_ok(&b->rej) && vg_sbuf_ok(&b->evs) && vg_sbuf_ok(&b->dels)
		&& vg_sbuf_ok(&b->occ);
}

enum add_result {
	ADD_OK,         /* in the batch, or skipped for good (undecodable) */
	ADD_NO_MEMORY,  /* the caller takes the record back out; read again later */
	ADD_UNKNOWN,    /* samples naming field ids this build does not know: stop before it */
};

/* Adds one record to the batch. A record that cannot be decoded is logged
 * and skipped (ADD_OK): it can never be stored. */
static enum add_result add_record(struct vg_pgwriter *w, const struct vg_journal_rec *rec)
{
	struct vg_rec_samples *rs = w->rs;
	struct vg_rec_rejection rj;
	struct vg_rec_rejection_summary sum;
	struct vg_rec_audit au;
	struct vg_rec_delivery d;
	struct vg_rec_occupancy occ;
	int nev = 0;

	switch(rec->type){
		case VG_REC_SAMPLES:
			if(!vg_rec_decode_samples(rec->payload, rec->len, rs)){
				if(rs->unknown_ids){
					return ADD_UNKNOWN;
				}
				break;
			}
			if(w->b.oldest_ms == 0){
				w->b.oldest_ms = rs->received_ms;
			}
			add_samples(&w->b, rs);
			add_recv_run(&w->b, rs->received_ms, rs->n);
			if(rs->nevents){
				add_events(w, &w->b, rs->events, rs->nevents, rec->lsn);
			}
			return ADD_OK;
		case VG_REC_REJECTION:
			if(!vg_rec_decode_rejection(rec->payload, rec->len, &rj)){
				break;
			}
			if(!rj.has_sha256){
				/* Written before the upgrade: the whole payload is here. */
				if(EVP_Digest(rj.payload.p, rj.payload.n, rj.sha256, NULL, EVP_sha256(), NULL) != 1){
					return ADD_NO_MEMORY;
				}
			}
			add_rejection_row(w, &w->b, &rj, NULL, rj.sha256, rec->lsn);
			return ADD_OK;
		case VG_REC_REJECTION_SUMMARY:
			if(!vg_rec_decode_rejection_summary(rec->payload, rec->len, &sum)){
				break;
			}
			add_rejection_row(w, &w->b, NULL, &sum, NULL, rec->lsn);
			return ADD_OK;
		case VG_REC_ALERTS:
			if(!vg_rec_decode_alerts(rec->payload, rec->len, rs->events, &nev)){
				break;
			}
			add_events(w, &w->b, rs->events, nev, rec->lsn);
			return ADD_OK;
		case VG_REC_DELIVERY:
			if(!vg_rec_decode_delivery(rec->payload, rec->len, &d)){
				break;
			}
			add_delivery(&w->b, &d, rec->lsn);
			return ADD_OK;
		case VG_REC_OCCUPANCY:
			if(!vg_rec_decode_occupancy(rec->payload, rec->len, &occ)){
				break;
			}
			add_occupancy(w, &w->b, &occ, rec->lsn);
			return ADD_OK;
		case VG_REC_AUDIT:
			if(!vg_rec_decode_audit(rec->payload, rec->len, &au)){
				break;
			}
			return add_audit(&w->b, &au, rec->lsn) ? ADD_OK : ADD_NO_MEMORY;
		default:
			wlog(w, VG_LOG_WARNING, "Vitalgate writer: unknown journal record type %u (lsn %" PRIu64 ") skipped",
					rec->type, rec->lsn);
			return ADD_OK;
	}
	wlog(w, VG_LOG_ERR, "Vitalgate writer: undecodable journal record of type %u, lsn %" PRIu64 ", skipped",
			rec->type, rec->lsn);
	return ADD_OK;
}

/* The batch's first record, or its first samples, were just added: the
 * batch must close commit_ms after the oldest sample's reception (the
 * record's reading, without samples), and never later than commit_ms from
 * now, whatever the wall clock says. */
static void set_close_at(struct vg_pgwriter *w, bool first, int64_t oldest_before)
{
	struct batch *b = &w->b;
	int64_t now = vg_mono_ms(), age;

	if(first){
		b->close_at_ms = now + w->o.commit_ms;
	}
	if(oldest_before == 0 && b->oldest_ms != 0){
		age = vg_now_ms() - b->oldest_ms;
		if(age < 0){
			age = 0;
		}
		if(now + w->o.commit_ms - age < b->close_at_ms){
			b->close_at_ms = now + w->o.commit_ms - age;
		}
	}
}

/* Reads journal records into the batch until it is full, or its budget
 * ran out (see DESIGN), or (commit_ms 0, or stopping) nothing more is
 * waiting. With an empty batch it waits at most idle_wait_ms for a first
 * record. Returns the number of records taken; *stop is set when it
 * stopped before a record it cannot add now: ADD_NO_MEMORY (that record is
 * read again next time) or ADD_UNKNOWN (read again until a build that
 * knows its fields runs; *stop_lsn, *stop_at and w->rs say which). */
static int fill_batch(struct vg_pgwriter *w, int idle_wait_ms, bool stopping, enum add_result *stop, uint64_t *stop_lsn,
		struct vg_journal_pos *stop_at)
{
	struct vg_journal_rec rec;
	struct vg_journal_pos at;
	struct batch_mark m;
	enum add_result ar;
	int64_t oldest_before, left;
	int taken = 0;
	int rc, wait;

	*stop = ADD_OK;
	while(w->b.rows < (size_t)w->o.batch_rows && w->b.rejs < 10000 && w->b.auds < 20000){
		at = vg_journal_reader_pos(w->reader);
		if(taken == 0){
			wait = idle_wait_ms;
		}else if(stopping || w->o.commit_ms <= 0){
			wait = 0;
		}else{
			/* Whatever is readable now is taken without waiting (a
			 * backlog fills the batch at once); then wait for more until
			 * the budget runs out. */
			left = w->b.close_at_ms - vg_mono_ms();
			wait = left > 0 ? (int)left : 0;
		}
		rc = vg_journal_read(w->reader, &rec, wait);
		if(rc <= 0){
			break;
		}
		batch_mark(&w->b, &m);
		oldest_before = w->b.oldest_ms;
		ar = add_record(w, &rec);
		if(ar == ADD_OK && !batch_ok(&w->b)){
			ar = ADD_NO_MEMORY;
		}
		if(ar != ADD_OK){
			/* The batch ends before this record. */
			batch_rollback(&w->b, &m);
			vg_journal_reader_seek(w->reader, at);
			*stop = ar;
			*stop_lsn = rec.lsn;
			*stop_at = at;
			break;
		}
		set_close_at(w, taken == 0, oldest_before);
		taken++;
		if(w->b.first_lsn == 0){
			w->b.first_lsn = rec.lsn;
		}
		w->b.last_lsn = rec.lsn;
		w->b.end = rec.next;
		w->b.has_end = true;
	}
	return taken;
}

/* "SQLSTATE: message" of a failed result (r may be NULL) into err. */
static void result_error(struct vg_pgwriter *w, const PGresult *r, char *err, size_t errlen)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	char line[400];

	vg_pg_errline(r ? PQresultErrorMessage(r) : PQerrorMessage(w->conn), line, sizeof(line));
	snprintf(err, errlen, "%s: %s", state ? state : "-----", line);
}

static bool copy_in(struct vg_pgwriter *w, const char *sql, const struct vg_sbuf *data, char *err, size_t errlen)
{
	PGresult *r;
	bool ok;

	r = PQexec(w->conn, sql);
	if(r == NULL || PQresultStatus(r) != PGRES_COPY_IN){
		result_error(w, r, err, errlen);
		PQclear(r);
		return false;
	}
	PQclear(r);
	ok = PQputCopyData(w->conn, data->p, (int)data->len) == 1;
	if(PQputCopyEnd(w->conn, ok ? NULL : "client error") != 1){
		ok = false;
	}
	r = PQgetResult(w->conn);
	if(r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK){
		result_error(w, r, err, errlen);
		ok = false;
	}
	PQclear(r);
	/* Drain any further results so the connection is ready again. */
	while((r = PQgetResult(w->conn)) != NULL){
		PQclear(r);
	}
	return ok;
}

/* The INSERT ... SELECT from the staging table (see DESIGN: the batch's
 * devices' rows of vitals_seq_hwm are locked by now), and the marks raised
 * to the batch's highest seqs, in one statement (both read the marks as
 * they were before it); answers the number of rows inserted. A seq above
 * the device's mark is new, unless the broker flagged it (it could not
 * prove it new either): those and every seq at or below the mark are
 * inserted only when no partition holds that (device_id, seq). */
static void build_insert_sql(struct vg_sbuf *s, const char *journal_id)
{
	vg_sbuf_reset(s);
	vg_sbuf_puts(s, "WITH ins AS (INSERT INTO vitals (device_id, seq, measured_at, received_at, ward, bed, "
			"patient_id, encounter_id");
	measurement_columns(s, false);
	vg_sbuf_puts(s, ") SELECT s.device_id, s.seq, timestamptz 'epoch' + s.measured_ms * interval '1 millisecond', "
			"timestamptz 'epoch' + s.received_ms * interval '1 millisecond', s.ward, s.bed, occ.patient_id, occ.encounter_id");
	measurement_columns(s, false);
	/* The bed's occupant at the sample's ts (migration 011's history, which
	 * this batch's occupancy messages already updated). */
	vg_sbuf_puts(s, " FROM (SELECT DISTINCT ON (device_id, seq) * FROM vg_stage_vitals ORDER BY device_id, seq, n) s "
			"JOIN vitals_seq_hwm h ON h.device_id = s.device_id "
			"LEFT JOIN LATERAL (SELECT o.patient_id, o.encounter_id FROM bed_occupancy o WHERE o.ward = s.ward "
			"AND o.bed = s.bed AND o.since <= timestamptz 'epoch' + s.measured_ms * interval '1 millisecond' "
			"AND (o.until IS NULL OR o.until > timestamptz 'epoch' + s.measured_ms * interval '1 millisecond') "
			"ORDER BY o.since DESC LIMIT 1) occ ON true "
			"WHERE (s.seq > h.seq AND NOT s.chk) OR NOT EXISTS (SELECT 1 FROM vitals v "
			"WHERE v.device_id = s.device_id AND v.seq = s.seq) ON CONFLICT DO NOTHING RETURNING device_id, measured_at), "
			"raise AS (UPDATE vitals_seq_hwm h SET seq = greatest(h.seq, m.seq), "
			"received_at = greatest(h.received_at, m.rcv), journal_id = CASE WHEN h.received_at IS NULL "
			"OR m.rcv >= h.received_at THEN '");
	vg_sbuf_puts(s, journal_id);   /* hex: nothing to quote */
	vg_sbuf_puts(s, "' ELSE h.journal_id END FROM (SELECT device_id, max(seq) AS seq, "
			"timestamptz 'epoch' + max(received_ms) * interval '1 millisecond' AS rcv "
			"FROM vg_stage_vitals GROUP BY device_id) m WHERE h.device_id = m.device_id), "
			/* Samples of minutes already closed for the rollups (a replay,
			 * a device's late batch): their rollup is computed again. */
			"late AS (INSERT INTO vitals_rollup_dirty (device_id, minute) "
			"SELECT DISTINCT device_id, date_bin('1 minute', measured_at, timestamptz 'epoch') FROM ins "
			"WHERE measured_at < (SELECT until FROM vitalgate_rollup_state WHERE name = 'closed') "
			"ON CONFLICT (device_id, minute) DO UPDATE SET marks = vitals_rollup_dirty.marks + 1) "
			"SELECT count(*) FROM ins");
}

/* Before it: a mark for every device new to the table (its highest stored
 * seq, -1 if none), then the batch's devices' marks locked in device_id
 * order, then the rollups' 'closed' bound locked FOR SHARE (migration 008:
 * vitalgate_rollup() moves it only between batches, so each sample of a
 * closed minute is marked for a new rollup in the INSERT below). (A
 * separate statement: the INSERT's snapshot must be taken after the locks,
 * so that it sees what a writer we waited for committed.) */
static const char hwm_lock_sql[] =
	"INSERT INTO vitals_seq_hwm (device_id, seq) "
	"SELECT d.device_id, COALESCE((SELECT max(v.seq) FROM vitals v WHERE v.device_id = d.device_id), -1) "
	"FROM (SELECT DISTINCT device_id FROM vg_stage_vitals) d "
	"WHERE NOT EXISTS (SELECT 1 FROM vitals_seq_hwm h WHERE h.device_id = d.device_id) "
	"ORDER BY d.device_id ON CONFLICT (device_id) DO NOTHING; "
	"SELECT 1 FROM vitals_seq_hwm WHERE device_id IN (SELECT device_id FROM vg_stage_vitals) "
	"ORDER BY device_id FOR UPDATE; "
	"SELECT 1 FROM vitalgate_rollup_state WHERE name = 'closed' FOR SHARE";

/* Runs sql and adds the rows it affected (or, for a query, the number in
 * its one row) to *count. */
static bool exec_count(struct vg_pgwriter *w, const char *sql, uint64_t *count, char *err, size_t errlen)
{
	PGresult *r = PQexec(w->conn, sql);
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

	if(st == PGRES_COMMAND_OK){
		*count += strtoull(PQcmdTuples(r), NULL, 10);
	}else if(st == PGRES_TUPLES_OK){
		*count += PQntuples(r) == 1 ? strtoull(PQgetvalue(r, 0, 0), NULL, 10) : 0;
	}else{
		result_error(w, r, err, errlen);
	}
	PQclear(r);
	return ok;
}

/* The bytes vitalgate_audit_canonical() (migration 002) hashes for a row
 * the broker wrote: fields joined by 0x1f, NULL as empty. Kept identical by
 * the e2e test that runs `audit verify` over broker rows. */
static void audit_canonical(struct vg_sbuf *c, int64_t id, const struct aud_row *r, const char *journal_id)
{
	char at[64];
	time_t secs = (time_t)(r->at_ms / 1000);
	int ms = (int)(r->at_ms % 1000);
	struct tm tm;

	if(ms < 0){
		ms += 1000;
		secs -= 1;
	}
	gmtime_r(&secs, &tm);
	snprintf(at, sizeof(at), "%04d-%02d-%02dT%02d:%02d:%02d.%03d000Z", tm.tm_year + 1900, tm.tm_mon + 1,
			tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
	vg_sbuf_reset(c);
	vg_sbuf_i64(c, id);
	vg_sbuf_printf(c, "\037%s\037broker\037%s\037%s\037%s\037%s\037\037%s\037%s\037", at,
			vg_audit_event_name(r->event), r->identity, r->client_id, r->address, r->detail, journal_id);
	vg_sbuf_u64(c, r->lsn);
}

static void put_text_or_null_c(struct vg_sbuf *o, const char *s)
{
	vg_sbuf_putc(o, '\t');
	if(s[0]){
		vg_sbuf_copy_text(o, s, strlen(s));
	}else{
		vg_sbuf_puts(o, "\\N");
	}
}

/* The rows of this batch that this journal already stored (a replay after
 * a crash between COMMIT and checkpoint) get skip[i] set; *nnew counts the
 * others. */
static bool audit_find_stored(struct vg_pgwriter *w, const char *jid, bool *skip, size_t *nnew, char *err, size_t errlen)
{
	struct vg_sbuf q;
	PGresult *r;
	size_t i, k;
	uint64_t lo = UINT64_MAX, hi = 0;

	for(i = 0; i < w->b.auds; i++){
		if(w->b.aud[i].lsn < lo) lo = w->b.aud[i].lsn;
		if(w->b.aud[i].lsn > hi) hi = w->b.aud[i].lsn;
	}
	vg_sbuf_init(&q);
	vg_sbuf_printf(&q, "SELECT lsn FROM audit_log WHERE journal_id = '%s' AND lsn BETWEEN %" PRIu64 " AND %" PRIu64,
			jid, lo, hi);
	if(!vg_sbuf_ok(&q)){
		vg_sbuf_free(&q);
		snprintf(err, errlen, "out of memory");
		return false;
	}
	r = PQexec(w->conn, q.p);
	vg_sbuf_free(&q);
	if(r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK){
		vg_pg_errline(r ? PQresultErrorMessage(r) : PQerrorMessage(w->conn), err, errlen);
		PQclear(r);
		return false;
	}
	for(k = 0; k < (size_t)PQntuples(r); k++){
		uint64_t have = strtoull(PQgetvalue(r, (int)k, 0), NULL, 10);
		for(i = 0; i < w->b.auds; i++){
			if(w->b.aud[i].lsn == have){
				skip[i] = true;
			}
		}
	}
	PQclear(r);
	*nnew = 0;
	for(i = 0; i < w->b.auds; i++){
		*nnew += skip[i] ? 0 : 1;
	}
	return true;
}

/* The hash at the end of the chain (all zero for an empty table). */
static bool audit_chain_end(struct vg_pgwriter *w, uint8_t prev[32], char *err, size_t errlen)
{
	PGresult *r = PQexec(w->conn, "SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1");

	if(r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK){
		vg_pg_errline(r ? PQresultErrorMessage(r) : PQerrorMessage(w->conn), err, errlen);
		PQclear(r);
		return false;
	}
	memset(prev, 0, 32);
	if(PQntuples(r) == 1){
		size_t n = 0;
		unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 0), &n);
		if(raw && n == 32){
			memcpy(prev, raw, 32);
		}
		PQfreemem(raw);
	}
	PQclear(r);
	return true;
}

/* n ids from audit_log's sequence, ascending (journal order is chain
 * order); *ids is the caller's to free. */
static bool audit_take_ids(struct vg_pgwriter *w, size_t n, int64_t **ids, char *err, size_t errlen)
{
	struct vg_sbuf q;
	PGresult *r;
	size_t k;

	vg_sbuf_init(&q);
	vg_sbuf_printf(&q, "SELECT nextval('audit_log_id_seq') FROM generate_series(1, %zu)", n);
	if(!vg_sbuf_ok(&q)){
		vg_sbuf_free(&q);
		snprintf(err, errlen, "out of memory");
		return false;
	}
	r = PQexec(w->conn, q.p);
	vg_sbuf_free(&q);
	if(r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK || (size_t)PQntuples(r) != n){
		vg_pg_errline(r ? PQresultErrorMessage(r) : PQerrorMessage(w->conn), err, errlen);
		PQclear(r);
		return false;
	}
	*ids = malloc(n * sizeof(**ids));
	if(*ids == NULL){
		PQclear(r);
		snprintf(err, errlen, "out of memory");
		return false;
	}
	for(k = 0; k < n; k++){
		(*ids)[k] = strtoll(PQgetvalue(r, (int)k, 0), NULL, 10);
	}
	PQclear(r);
	for(k = 1; k < n; k++){
		int64_t x = (*ids)[k];
		size_t m = k;
		while(m > 0 && (*ids)[m - 1] > x){
			(*ids)[m] = (*ids)[m - 1];
			m--;
		}
		(*ids)[m] = x;
	}
	return true;
}

/* The COPY rows of the new audit records, each chained to the previous
 * one: hash = SHA-256(prev || canonical row), starting from prev. */
static bool audit_chain_rows(struct vg_pgwriter *w, const char *jid, const bool *skip, const int64_t *ids,
		uint8_t prev[32], struct vg_sbuf *data, char *err, size_t errlen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct vg_sbuf canon;
	uint8_t hash[32];
	size_t i, k;
	bool ok = false;

	vg_sbuf_init(&canon);
	if(md == NULL){
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	for(i = 0, k = 0; i < w->b.auds; i++){
		const struct aud_row *a = &w->b.aud[i];
		unsigned int hl = 0;
		char at[40];
		if(skip[i]){
			continue;
		}
		audit_canonical(&canon, ids[k], a, jid);
		if(!vg_sbuf_ok(&canon)
				|| EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1
				|| EVP_DigestUpdate(md, prev, 32) != 1
				|| EVP_DigestUpdate(md, canon.p, canon.len) != 1
				|| EVP_DigestFinal_ex(md, hash, &hl) != 1){
			snprintf(err, errlen, "cannot hash an audit row");
			goto done;
		}
		vg_rfc3339(a->at_ms, at, sizeof(at));
		vg_sbuf_i64(data, ids[k]);
		vg_sbuf_printf(data, "\t%s\tbroker\t%s", at, vg_audit_event_name(a->event));
		put_text_or_null_c(data, a->identity);
		put_text_or_null_c(data, a->client_id);
		put_text_or_null_c(data, a->address);
		vg_sbuf_puts(data, "\t\\N\t");
		vg_sbuf_copy_text(data, a->detail, strlen(a->detail));
		vg_sbuf_printf(data, "\t%s\t", jid);
		vg_sbuf_u64(data, a->lsn);
		vg_sbuf_putc(data, '\t');
		vg_sbuf_copy_bytea(data, prev, 32);
		vg_sbuf_putc(data, '\t');
		vg_sbuf_copy_bytea(data, hash, sizeof(hash));
		vg_sbuf_putc(data, '\n');
		memcpy(prev, hash, 32);
		k++;
	}
	ok = vg_sbuf_ok(data);
	if(!ok){
		snprintf(err, errlen, "out of memory");
	}
done:
	EVP_MD_CTX_free(md);
	vg_sbuf_free(&canon);
	return ok;
}

/* Chains the batch's audit rows in C and COPYs them (see migration 003):
 * one lock, one head lookup and one sequence query per batch instead of a
 * trigger run per row. Rows a replay already stored are skipped. */
static bool write_audit(struct vg_pgwriter *w, char *err, size_t errlen)
{
	const char *jid = vg_journal_id(w->o.journal);
	uint8_t prev[32];
	struct vg_sbuf data;
	size_t nnew = 0;
	int64_t *ids = NULL;
	bool *skip = calloc(w->b.auds, sizeof(*skip));
	bool ok = false;

	vg_sbuf_init(&data);
	if(skip == NULL){
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	if(!vg_pg_exec(w->conn, "SELECT pg_advisory_xact_lock(727384102); "
			"SELECT set_config('vitalgate.audit_chained', txid_current()::text, true)", err, errlen)
			|| !audit_find_stored(w, jid, skip, &nnew, err, errlen)){
		goto done;
	}
	if(nnew == 0){
		ok = true;
		goto done;
	}
	ok = audit_chain_end(w, prev, err, errlen)
		&& audit_take_ids(w, nnew, &ids, err, errlen)
		&& audit_chain_rows(w, jid, skip, ids, prev, &data, err, errlen)
		&& copy_in(w, "COPY audit_log (id, at, source, event, identity, client_id, address, actor, detail, "
			"journal_id, lsn, prev_hash, hash) FROM STDIN", &data, err, errlen)
		&& vg_pg_exec(w->conn, "SELECT set_config('vitalgate.audit_chained', '', true)", err, errlen);
done:
	free(ids);
	free(skip);
	vg_sbuf_free(&data);
	return ok;
}

/* The batch's events moved their conditions in alert_open (migration 007);
 * the alerts this closed, as a completion to post after COMMIT (*out NULL
 * when none). */
static bool apply_alert_open(struct vg_pgwriter *w, struct vg_c_superseded **out, char *err, size_t errlen)
{
	const char *jid = vg_journal_id(w->o.journal);
	PGresult *r = PQexecParams(w->conn, "SELECT event_id, alert_id, kind, COALESCE(ward, ''), COALESCE(bed, ''), "
			"COALESCE(device_id, ''), order_key, created_ms, body, COALESCE(body::json->'data'->>'vital', '') "
			"FROM vitalgate_alert_open_apply($1)", 1, NULL, &jid,
			NULL, NULL, 0);
	struct vg_c_superseded *c;
	int i, n;

	*out = NULL;
	if(r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK){
		result_error(w, r, err, errlen);
		PQclear(r);
		return false;
	}
	n = PQntuples(r);
	if(n == 0){
		PQclear(r);
		return true;
	}
	c = calloc(1, sizeof(*c) + (size_t)n * sizeof(c->items[0]));
	if(c == NULL){
		/* Stored; only the broker's publish and delivery of the closing
		 * events are lost (the outbox redelivers them at the next start). */
		PQclear(r);
		return true;
	}
	c->base.type = VG_C_SUPERSEDED;
	for(i = 0; i < n; i++){
		struct vg_superseded_item *it = &c->items[c->n];
		const char *kind = PQgetvalue(r, i, 2);
		vg_strlcpy(it->event_id, PQgetvalue(r, i, 0), sizeof(it->event_id));
		vg_strlcpy(it->alert_id, PQgetvalue(r, i, 1), sizeof(it->alert_id));
		it->kind = !strcmp(kind, "threshold") ? VG_AK_THRESHOLD : !strcmp(kind, "news2") ? VG_AK_NEWS2 : VG_AK_SILENT;
		vg_strlcpy(it->ward, PQgetvalue(r, i, 3), sizeof(it->ward));
		vg_strlcpy(it->bed, PQgetvalue(r, i, 4), sizeof(it->bed));
		vg_strlcpy(it->device, PQgetvalue(r, i, 5), sizeof(it->device));
		vg_strlcpy(it->order_key, PQgetvalue(r, i, 6), sizeof(it->order_key));
		it->created_ms = strtoll(PQgetvalue(r, i, 7), NULL, 10);
		it->body = strdup(PQgetvalue(r, i, 8));
		vg_strlcpy(it->vital, PQgetvalue(r, i, 9), sizeof(it->vital));
		if(it->body){
			c->n++;
		}
	}
	PQclear(r);
	*out = c;
	return true;
}

/* The batch's occupancy messages, in journal order, before its samples
 * (which the INSERT links from the history they leave): each re-links the
 * bed's samples already stored from its since on (migration 011). The log
 * lines are posted only after COMMIT (*relinked_log). */
static bool apply_occupancy(struct vg_pgwriter *w, struct vg_sbuf *relinked_log, uint64_t *relinked, char *err,
		size_t errlen)
{
	const char *p = w->b.occ.p, *v[OCC_FIELDS];
	size_t i;
	int k;

	for(i = 0; i < w->b.noccs; i++){
		PGresult *r;
		long long n;

		for(k = 0; k < OCC_FIELDS; k++){
			v[k] = p;
			p += strlen(p) + 1;
		}
		r = PQexecParams(w->conn, "SELECT vitalgate_occupancy_apply($1, $2, "
				"timestamptz 'epoch' + $3::bigint * interval '1 millisecond', NULLIF($4, ''), NULLIF($5, ''), "
				"NULLIF($6, ''), timestamptz 'epoch' + $7::bigint * interval '1 millisecond', $8, $9, $10::bigint)",
				OCC_FIELDS, NULL, v, NULL, NULL, 0);
		if(r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1){
			const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
			char line[400];
			vg_pg_errline(r ? PQresultErrorMessage(r) : PQerrorMessage(w->conn), line, sizeof(line));
			snprintf(err, errlen, "%s: %s", state ? state : "-----", line);
			PQclear(r);
			return false;
		}
		n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
		if(n >= 0){
			char since[32];
			vg_rfc3339(strtoll(v[2], NULL, 10), since, sizeof(since));
			*relinked += (uint64_t)n;
			vg_sbuf_printf(relinked_log, "Vitalgate writer: occupancy of %s/%s from %s stored (%s); "
					"%lld stored sample(s) re-linked", v[0], v[1], since, v[3][0] ? "occupied" : "vacant", n);
			vg_sbuf_putc(relinked_log, '\0');
		}
	}
	return true;
}

static bool flush_batch(struct vg_pgwriter *w, char *err, size_t errlen, uint64_t *inserted)
{
	struct vg_sbuf ins;
	struct vg_c_superseded *closed = NULL;
	struct vg_sbuf occ_log;
	uint64_t relinked = 0;
	bool ok = true;

	*inserted = 0;
	vg_sbuf_init(&occ_log);
	if(!vg_pg_exec(w->conn, "BEGIN", err, errlen)){
		vg_sbuf_free(&occ_log);
		return false;
	}
	if(w->b.noccs){
		ok = apply_occupancy(w, &occ_log, &relinked, err, errlen);
	}
	if(ok && w->b.rows){
		vg_sbuf_init(&ins);
		{
			struct vg_sbuf cp;
			vg_sbuf_init(&cp);
			vg_sbuf_puts(&cp, "COPY vg_stage_vitals (n, device_id, seq, measured_ms, received_ms, chk, ward, bed");
			measurement_columns(&cp, false);
			vg_sbuf_puts(&cp, ") FROM STDIN");
			ok = vg_sbuf_ok(&cp) && copy_in(w, cp.p, &w->b.vit, err, errlen);
			vg_sbuf_free(&cp);
		}
		ok = ok && vg_pg_exec(w->conn, hwm_lock_sql, err, errlen);
		if(ok){
			build_insert_sql(&ins, vg_journal_id(w->o.journal));
			ok = vg_sbuf_ok(&ins) && exec_count(w, ins.p, inserted, err, errlen);
		}
		vg_sbuf_free(&ins);
	}
	if(ok && w->b.nevs){
		/* The outbox, in the same transaction as the samples that raised
		 * the events. */
		ok = copy_in(w, "COPY vg_stage_events FROM STDIN", &w->b.evs, err, errlen)
			&& vg_pg_exec(w->conn,
				"INSERT INTO alert_events (event_id, alert_id, type, kind, severity, ward, bed, device_id, order_key, "
				"created_at, body, journal_id, lsn, patient_id, encounter_id) SELECT event_id, alert_id, type, kind, "
				"severity, ward, bed, device_id, order_key, timestamptz 'epoch' + created_ms * interval '1 millisecond', "
				"body, journal_id, lsn, body::json->'data'->>'patient_id', body::json->'data'->>'encounter_id' "
				"FROM vg_stage_events ORDER BY lsn ON CONFLICT (event_id) DO NOTHING", err, errlen)
			&& apply_alert_open(w, &closed, err, errlen);
	}
	if(ok && w->b.ndels){
		ok = copy_in(w, "COPY vg_stage_delivery FROM STDIN", &w->b.dels, err, errlen)
			&& vg_pg_exec(w->conn,
				"UPDATE alert_events a SET status = d.status, attempts = GREATEST(a.attempts, d.attempts), "
				"last_http = NULLIF(d.http, 0), last_error = d.error, "
				"delivered_at = CASE WHEN d.status = 'delivered' THEN timestamptz 'epoch' + d.at_ms * interval '1 millisecond' END, "
				"status_at = timestamptz 'epoch' + d.at_ms * interval '1 millisecond' "
				"FROM (SELECT DISTINCT ON (event_id) * FROM vg_stage_delivery ORDER BY event_id, lsn DESC) d "
				"WHERE a.event_id = d.event_id", err, errlen);
	}
	if(ok && w->b.rejs){
		ok = copy_in(w, "COPY vg_stage_rejections FROM STDIN", &w->b.rej, err, errlen)
			&& vg_pg_exec(w->conn,
				"INSERT INTO rejections (device_id, received_at, reason, field, detail, seq, batch_index, "
				"payload, journal_id, lsn, payload_bytes, payload_sha256, suppressed) SELECT device_id, "
				"timestamptz 'epoch' + received_ms * interval '1 millisecond', reason, field, detail, seq, batch_index, "
				"payload, journal_id, lsn, payload_bytes, payload_sha256, suppressed "
				"FROM vg_stage_rejections ON CONFLICT (journal_id, lsn) DO NOTHING", err, errlen);
	}
	if(ok && w->b.auds){
		ok = write_audit(w, err, errlen);
	}
	if(ok){
		ok = vg_pg_exec(w->conn, "COMMIT", err, errlen);
	}
	if(!ok){
		char ignore[64];
		vg_pg_exec(w->conn, "ROLLBACK", ignore, sizeof(ignore));
		vg_completion_free(closed ? &closed->base : NULL);
	}else if(closed && vg_queue_push(w->o.completions, &closed->base) != VG_QUEUE_OK){
		vg_completion_free(&closed->base); /* pending in the outbox: delivered at the next start */
	}
	if(ok && w->b.noccs){
		const char *line;
		atomic_fetch_add(&w->occupancy_applied, w->b.noccs);
		atomic_fetch_add(&w->occupancy_relinked, relinked);
		for(line = occ_log.p; vg_sbuf_ok(&occ_log) && line && line < occ_log.p + occ_log.len; line += strlen(line) + 1){
			wlog(w, VG_LOG_NOTICE, "%s", line);
		}
	}
	vg_sbuf_free(&occ_log);
	return ok;
}

/* Once per start, after the journal is replayed: hands the broker the open
 * alerts and NEWS2 inputs of the previous run (so alerts continue under
 * their ids), every alert event still pending in the outbox (delivered
 * again; the receiver dedupes on webhook-id), and the devices that were streaming in the last
 * ten minutes (so one that does not come back raises a silent alert). */
/* Each bed's current occupancy (the cell's wards only, on a cell), so the
 * broker's beds know it again after a restart (docs/patient-context.md). */
static void post_occupancy(struct vg_pgwriter *w, const char *cell)
{
	struct vg_c_occupancy *c;
	PGresult *r;
	int i, n;

	r = PQexecParams(w->conn, cell ? "SELECT ward, bed, COALESCE(patient_id, ''), COALESCE(encounter_id, ''), "
			"COALESCE(label, ''), (extract(epoch FROM since) * 1000)::bigint FROM bed_occupancy "
			"WHERE until IS NULL AND ward IN (SELECT wc.ward FROM ward_cells wc WHERE wc.cell = $1)"
			: "SELECT ward, bed, COALESCE(patient_id, ''), COALESCE(encounter_id, ''), "
			"COALESCE(label, ''), (extract(epoch FROM since) * 1000)::bigint FROM bed_occupancy WHERE until IS NULL",
			cell ? 1 : 0, NULL, &cell, NULL, NULL, 0);
	if(r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK){
		char line[300];
		vg_pg_errline(r ? PQresultErrorMessage(r) : PQerrorMessage(w->conn), line, sizeof(line));
		wlog(w, VG_LOG_WARNING, "Vitalgate writer: cannot read the beds' occupancy: %s", line);
		PQclear(r);
		return;
	}
	n = PQntuples(r);
	c = n > 0 ? calloc(1, sizeof(*c) + (size_t)n * sizeof(c->items[0])) : NULL;
	if(c){
		c->base.type = VG_C_OCCUPANCY;
		for(i = 0; i < n; i++){
			vg_strlcpy(c->items[i].ward, PQgetvalue(r, i, 0), sizeof(c->items[i].ward));
			vg_strlcpy(c->items[i].bed, PQgetvalue(r, i, 1), sizeof(c->items[i].bed));
			vg_strlcpy(c->items[i].patient, PQgetvalue(r, i, 2), sizeof(c->items[i].patient));
			vg_strlcpy(c->items[i].encounter, PQgetvalue(r, i, 3), sizeof(c->items[i].encounter));
			vg_strlcpy(c->items[i].label, PQgetvalue(r, i, 4), sizeof(c->items[i].label));
			c->items[i].since_ms = strtoll(PQgetvalue(r, i, 5), NULL, 10);
		}
		c->n = (size_t)n;
		vg_queue_push_force(w->o.completions, &c->base);
	}
	PQclear(r);
}

static void startup_tasks(struct vg_pgwriter *w)
{
	PGresult *r;
	char line[300];
	size_t posted;
	int i, n;
	const char *cell = w->o.scope.kind == VG_SCOPE_CELL ? w->o.scope.cell : NULL;
	struct vg_job *ready;

	if(w->o.scope.kind == VG_SCOPE_HUB){
		goto done; /* a hub has no devices, so no alerts of its own */
	}
	if(!vg_outbox_post_alert_state(w->conn, &w->o.scope, w->o.completions, w->o.news2_max_age_s, line, sizeof(line))){
		wlog(w, VG_LOG_WARNING, "Vitalgate writer: cannot read the open alerts of the previous run: %s", line);
	}
	if(!vg_outbox_post_pending(w->conn, &w->o.scope, w->o.completions, &posted, line, sizeof(line))){
		wlog(w, VG_LOG_WARNING, "Vitalgate writer: cannot read pending alert events: %s", line);
	}

	/* When each device's latest sample was received (by whichever broker:
	 * vitals_seq_hwm, migration 007), for the devices streaming in the last
	 * ten minutes. */
	r = PQexecParams(w->conn, cell ? "SELECT h.device_id, (extract(epoch FROM h.received_at) * 1000)::bigint "
			"FROM vitals_seq_hwm h JOIN bed_assignments b ON b.device_id = h.device_id "
			"WHERE h.received_at > now() - interval '10 minutes' "
			"AND b.ward IN (SELECT wc.ward FROM ward_cells wc WHERE wc.cell = $1)"
			: "SELECT h.device_id, (extract(epoch FROM h.received_at) * 1000)::bigint "
			"FROM vitals_seq_hwm h JOIN bed_assignments b ON b.device_id = h.device_id "
			"WHERE h.received_at > now() - interval '10 minutes'", cell ? 1 : 0, NULL, &cell, NULL, NULL, 0);
	if(r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0){
		n = PQntuples(r);
		struct vg_c_last_seen *c = calloc(1, sizeof(*c) + (size_t)n * sizeof(c->items[0]));
		if(c){
			c->base.type = VG_C_LAST_SEEN;
			for(i = 0; i < n; i++){
				vg_strlcpy(c->items[i].id, PQgetvalue(r, i, 0), sizeof(c->items[i].id));
				c->items[i].at_ms = strtoll(PQgetvalue(r, i, 1), NULL, 10);
			}
			c->n = (size_t)n;
			vg_queue_push_force(w->o.completions, &c->base);
		}
	}
	PQclear(r);
	post_occupancy(w, cell);
done:
	/* The journal is replayed and what the previous runs left is posted:
	 * the broker may say it serves (/health, plugin/cells.c). */
	ready = calloc(1, sizeof(*ready));
	if(ready){
		ready->type = VG_C_WRITER_READY;
		vg_queue_push_force(w->o.completions, ready);
	}
}

static bool deadline_passed(struct vg_pgwriter *w)
{
	bool stop;
	int64_t dl;

	pthread_mutex_lock(&w->lock);
	stop = w->stopping;
	dl = w->deadline_ms;
	pthread_mutex_unlock(&w->lock);
	return stop && vg_mono_ms() >= dl;
}

static bool is_stopping(struct vg_pgwriter *w)
{
	bool stop;

	pthread_mutex_lock(&w->lock);
	stop = w->stopping;
	pthread_mutex_unlock(&w->lock);
	return stop;
}

/* Sleeps up to ms unless stop() is called. */
static void nap(struct vg_pgwriter *w, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if(ts.tv_nsec >= 1000000000L){
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->lock);
	if(!w->stopping){
		pthread_cond_timedwait(&w->cond, &w->lock, &ts);
	}
	pthread_mutex_unlock(&w->lock);
}

static void *writer_main(void *arg)
{
	struct vg_pgwriter *w = arg;
	char err[512];
	uint64_t inserted;
	int64_t t0, t0_us;

	for(;;){
		if(deadline_passed(w)){
			break;
		}
		if(!ensure_connected(w)){
			if(is_stopping(w)){
				break;
			}
			w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : 200;
			if(w->backoff_ms > 5000){
				w->backoff_ms = 5000;
			}
			nap(w, w->backoff_ms);
			continue;
		}
		if(!w->b.has_end){
			/* An empty batch polls the journal every 5 ms (no wake-up per
			 * record); a batch then closes by size or by its budget. */
			enum add_result stop;
			uint64_t stop_lsn = 0;
			struct vg_journal_pos stop_at = { 0, 0 };
			bool stopping = is_stopping(w);
			int taken = fill_batch(w, stopping ? 0 : 5, stopping, &stop, &stop_lsn, &stop_at);
			if(taken == 0 && stop == ADD_UNKNOWN){
				/* Nothing after this record is written until a build that
				 * knows its fields reads it: loud, and nothing lost. */
				atomic_store(&w->lag_ms, vg_now_ms() - w->rs->received_ms);
				if(vg_ratelimit_take(&w->blocked_log, vg_mono_ms(), NULL)){
					char ids[160];
					size_t len = 0;
					int id;
					ids[0] = '\0';
					for(id = 0; id < 32 && len < sizeof(ids); id++){
						if(w->rs->unknown_ids & (1u << id)){
							len += (size_t)snprintf(ids + len, sizeof(ids) - len, "%s%d", len ? ", " : "", id);
						}
					}
					wlog(w, VG_LOG_ERR, "Vitalgate ALARM: journal record lsn %" PRIu64 " (segment %016" PRIx64
							".vgj, offset %" PRIu64 ", samples of device %.*s) names vitals field id %s, which this "
							"build's schema does not know (written by a newer Vitalgate, or the field was removed "
							"since): the writer stops before it and nothing after it reaches PostgreSQL; run a "
							"build that knows the field (docs/adding-a-vital.md)", stop_lsn, (uint64_t)stop_at.seg,
							(uint64_t)stop_at.off, (int)w->rs->device.n, w->rs->device.p, ids);
				}
				if(is_stopping(w)){
					break;
				}
				nap(w, 1000);
				continue;
			}
			if(taken == 0 && stop == ADD_NO_MEMORY){
				/* Not even one record fits in memory now: wait, read it again. */
				if(vg_ratelimit_take(&w->oom_log, vg_mono_ms(), NULL)){
					wlog(w, VG_LOG_ERR, "Vitalgate writer: out of memory reading the journal; retrying");
				}
				if(is_stopping(w)){
					break;
				}
				nap(w, 100);
				continue;
			}
			if(taken == 0){
				atomic_store(&w->lag_ms, 0);
				if(is_stopping(w)){
					break; /* drained */
				}
				if(!w->startup_done){
					/* The journal is replayed: what is pending in the outbox
					 * now is all of it. */
					startup_tasks(w);
					w->startup_done = true;
				}
				if(vg_mono_ms() - w->last_partition_check_ms > 3600 * 1000){
					ensure_partitions(w);
				}
				continue;
			}
		}
		if(w->b.oldest_ms){
			atomic_store(&w->lag_ms, vg_now_ms() - w->b.oldest_ms);
		}
		t0 = vg_mono_ms();
		t0_us = mono_us();
		if(flush_batch(w, err, sizeof(err), &inserted)){
			atomic_fetch_add(&w->rows_committed, inserted);
			atomic_fetch_add(&w->rows_duplicate, w->b.rows - inserted);
			atomic_fetch_add(&w->rejections_committed, w->b.rejs);
			atomic_fetch_add(&w->audit_committed, w->b.auds);
			atomic_fetch_add(&w->batches, 1);
			atomic_store(&w->last_batch_ms, vg_mono_ms() - t0);
			observe_batch(w, mono_us() - t0_us);
			observe_commit(w, vg_now_ms());
			vg_journal_commit(w->o.journal, w->b.end);
			batch_reset(&w->b);
			continue;
		}
		atomic_fetch_add(&w->batch_failures, 1);
		if(PQstatus(w->conn) != CONNECTION_OK){
			wlog(w, VG_LOG_ERR, "Vitalgate writer: lost PostgreSQL while writing (%s); the batch stays queued", err);
			w->announced_down = true;
			post_db_state(w, false);
		}else{
			wlog(w, VG_LOG_ERR, "Vitalgate writer: batch of lsn %" PRIu64 "..%" PRIu64 " failed (%s); retrying",
					w->b.first_lsn, w->b.last_lsn, err);
		}
		disconnect(w);
		w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : 200;
		if(w->backoff_ms > 5000){
			w->backoff_ms = 5000;
		}
		if(is_stopping(w)){
			break;
		}
		nap(w, w->backoff_ms);
	}
	vg_journal_checkpoint_flush(w->o.journal);
	disconnect(w);
	return NULL;
}

int vg_pgwriter_start(struct vg_pgwriter **out, const struct vg_pgwriter_opts *o, char *err, size_t errlen)
{
	struct vg_pgwriter *w;
	pthread_condattr_t ca;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if(w == NULL){
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	w->o = *o;
	vg_ratelimit_init(&w->oom_log, 1, 10000);
	vg_ratelimit_init(&w->blocked_log, 1, 10000);
	w->conninfo = strdup(o->conninfo);
	w->rs = malloc(sizeof(*w->rs));
	vg_sbuf_init(&w->b.vit);
	vg_sbuf_init(&w->b.rej);
	vg_sbuf_init(&w->b.evs);
	vg_sbuf_init(&w->b.dels);
	vg_sbuf_init(&w->b.occ);
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	if(w->conninfo == NULL || w->rs == NULL || vg_journal_reader_open(o->journal, &w->reader) != 0){
		snprintf(err, errlen, "cannot open the journal for reading");
		goto error;
	}
	if(pthread_create(&w->thread, NULL, writer_main, w) != 0){
		snprintf(err, errlen, "cannot start the writer thread");
		goto error;
	}
	*out = w;
	return 0;
error:
	vg_journal_reader_close(w->reader);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w->rs);
	free(w->conninfo);
	free(w);
	return -1;
}

void vg_pgwriter_stop(struct vg_pgwriter *w, int drain_ms)
{
	if(w == NULL){
		return;
	}
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	w->deadline_ms = vg_mono_ms() + drain_ms;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	vg_journal_wake(w->o.journal);
	pthread_join(w->thread, NULL);
	vg_journal_reader_close(w->reader);
	vg_sbuf_free(&w->b.vit);
	vg_sbuf_free(&w->b.rej);
	vg_sbuf_free(&w->b.evs);
	vg_sbuf_free(&w->b.dels);
	vg_sbuf_free(&w->b.occ);
	free(w->b.aud);
	free(w->rs);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w->conninfo);
	free(w);
}

void vg_pgwriter_get_stats(struct vg_pgwriter *w, struct vg_pgwriter_stats *st)
{
	st->rows_committed = atomic_load(&w->rows_committed);
	st->rows_duplicate = atomic_load(&w->rows_duplicate);
	st->occupancy_applied = atomic_load(&w->occupancy_applied);
	st->occupancy_relinked = atomic_load(&w->occupancy_relinked);
	st->rejections_committed = atomic_load(&w->rejections_committed);
	st->audit_committed = atomic_load(&w->audit_committed);
	st->batches = atomic_load(&w->batches);
	st->batch_failures = atomic_load(&w->batch_failures);
	st->last_batch_ms = atomic_load(&w->last_batch_ms);
	st->lag_ms = atomic_load(&w->lag_ms);
	st->connected = atomic_load(&w->connected);
	for(int i = 0; i < VG_BATCH_BUCKETS; i++){
		st->batch_us_bucket[i] = atomic_load(&w->batch_us_bucket[i]);
	}
	st->batch_us_sum = atomic_load(&w->batch_us_sum);
	for(int i = 0; i < VG_COMMIT_BUCKETS; i++){
		st->commit_ms_bucket[i] = atomic_load(&w->commit_ms_bucket[i]);
	}
	st->commit_ms_sum = atomic_load(&w->commit_ms_sum);
}
