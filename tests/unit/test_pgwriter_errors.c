/*
 * test_pgwriter_errors: the PostgreSQL writer (bridge/pgwriter.c) through
 * PostgreSQL's failures, one scenario per row of a table, against the
 * scriptable fake libpq (fake_pq.c) and a real journal (writer_rig.c).
 *
 * Each row scripts failures (a statement that fails, a connection lost
 * before or after a statement ran, a COPY refused at its end or lost while
 * its data is sent), or starts with PostgreSQL down or at an old schema
 * version; the writer is started on 40 journal records (samples, alert
 * events, delivery outcomes, rejections, audit records) and must then:
 *   - never commit the journal past a record not stored (every commit is
 *     checked: writer_rig.c), and while it cannot write, not move it at all;
 *   - replay a failed batch whole and store every row exactly once, even
 *     when the failed batch had in fact been committed (the answer to its
 *     COMMIT lost), with the audit chain unbroken;
 *   - post what the broker thread shows the operator: the error line (once
 *     while PostgreSQL stays away), DB down and up again;
 *   - back off before reconnecting (0.2 s, doubling to 5 s while connecting
 *     fails);
 *   - recover: records appended afterwards are written too.
 *
 * Time: the writer's backoff naps (pthread_cond_timedwait of 100 ms or
 * more) are recorded and cut to 1 ms (-Wl,--wrap=pthread_cond_timedwait),
 * so the test asserts the backoff without sleeping through it.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>

#include "fake_pq.h"
#include "vg_migrations.h"
#include "pgwriter.h"
#include "vg_completion.h"
#include "writer_rig.h"
#include "vgtest.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define BATCH_ROWS 7
#define MAX_WAITS 64

/* ---- the writer's naps: recorded, and cut short ---------------------------- */

int __real_pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *abs);
int __wrap_pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *abs);

static pthread_mutex_t waits_mu = PTHREAD_MUTEX_INITIALIZER;
static int waits[MAX_WAITS];
static int nwaits;

/* A timed wait of 100 ms or more (on a CLOCK_MONOTONIC condition: the
 * writer's nap) is recorded and ends after 1 ms: as a spurious wake-up,
 * which every caller of pthread_cond_timedwait must accept. */
int __wrap_pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *abs)
{
	struct timespec now, soon;
	int64_t ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (int64_t)(abs->tv_sec - now.tv_sec) * 1000 + (abs->tv_nsec - now.tv_nsec) / 1000000;
	if(ms < 95 || ms > 100000){
		return __real_pthread_cond_timedwait(c, m, abs);
	}
	pthread_mutex_lock(&waits_mu);
	if(nwaits < MAX_WAITS){
		waits[nwaits] = (int)((ms + 5) / 10 * 10);   /* whole 10 ms: the nap's own clock read came first */
	}
	nwaits++;
	pthread_mutex_unlock(&waits_mu);
	soon = now;
	soon.tv_nsec += 1000000L;
	if(soon.tv_nsec >= 1000000000L){
		soon.tv_sec++;
		soon.tv_nsec -= 1000000000L;
	}
	__real_pthread_cond_timedwait(c, m, &soon);
	return 0;
}

/* ---- the scenarios ----------------------------------------------------------- */

#define SCHEMA_CURRENT 0
#define SCHEMA_OLD (-2)        /* one migration behind this build */
#define SCHEMA_MISSING (-1)    /* schema_migrations does not exist */

struct scenario {
	const char *name;
	struct fake_pq_rule rules[2];
	int schema;                /* SCHEMA_* answered until the fix */
	bool refuse;               /* PostgreSQL is down when the writer starts */
	int fix_after;             /* after this many connection attempts the refusal, the old schema
	                            * and the rules end (0: the rules run their course) */
	/* What must be seen: */
	bool down_at_start;        /* DB down posted before anything was written, then up */
	bool lost;                 /* the connection was lost mid-batch: DB down, then up again */
	const char *err;           /* an ERR line containing this ... */
	int err_times;             /* ... posted exactly this many times (0: at least once) */
	bool dups;                 /* the failed batch had been committed: its replay adds no row */
	int waits[4];              /* the writer's first waits before reconnecting, ms (0 ends) */
};

static const struct scenario scenarios[] = {
	{ "the second COPY of a batch is refused at its end (PQgetResult: 22P02)",
		.rules = { { "COPY vg_stage_events", 1, 1, FAKE_PQ_COPY_FAIL, "22P02", "invalid input syntax for type bigint" } },
		.err = "failed (22P02: ERROR:  invalid input syntax for type bigint); retrying", .err_times = 1,
		.waits = { 200 } },
	{ "the connection is lost while a later COPY's data is sent (PQputCopyEnd fails)",
		.rules = { { "COPY vg_stage_rejections", 1, 1, FAKE_PQ_COPY_LOST } },
		.lost = true, .err = "lost PostgreSQL while writing (-----: server closed the connection unexpectedly",
		.err_times = 1, .waits = { 200 } },
	{ "the connection is lost between the COPY and the INSERT",
		.rules = { { "WITH ins AS (INSERT INTO vitals", 1, 1, FAKE_PQ_DROP } },
		.lost = true, .err = "lost PostgreSQL while writing", .err_times = 1, .waits = { 200 } },
	{ "the connection is lost at COMMIT, before the server got it",
		.rules = { { "COMMIT", 1, 1, FAKE_PQ_DROP } },
		.lost = true, .err = "lost PostgreSQL while writing", .err_times = 1, .waits = { 200 } },
	{ "the connection is lost at COMMIT, after the server committed (the answer never came)",
		.rules = { { "COMMIT", 1, 1, FAKE_PQ_DROP_AFTER } },
		.lost = true, .err = "lost PostgreSQL while writing", .err_times = 1, .dups = true, .waits = { 200 } },
	{ "a later COMMIT is lost after the server committed",
		.rules = { { "COMMIT", 3, 1, FAKE_PQ_DROP_AFTER } },
		.lost = true, .err = "lost PostgreSQL while writing", .err_times = 1, .dups = true, .waits = { 200 } },
	{ "COMMIT fails (40001: the transaction is rolled back)",
		.rules = { { "COMMIT", 1, 1, FAKE_PQ_FAIL, "40001", "could not serialize access due to concurrent update" } },
		.err = "failed (40001: ERROR:  could not serialize access due to concurrent update); retrying", .err_times = 1,
		.waits = { 200 } },
	{ "statement timeout on the INSERT (57014)",
		.rules = { { "WITH ins AS (INSERT INTO vitals", 2, 1, FAKE_PQ_FAIL, "57014",
				"canceling statement due to statement timeout" } },
		.err = "failed (57014: ERROR:  canceling statement due to statement timeout); retrying", .err_times = 1,
		.waits = { 200 } },
	{ "unique violation on the audit COPY (23505)",
		.rules = { { "COPY audit_log", 1, 1, FAKE_PQ_COPY_FAIL, "23505",
				"duplicate key value violates unique constraint \"audit_log_pkey\"" } },
		.err = "failed (23505: ERROR:  duplicate key value violates unique constraint", .err_times = 1,
		.waits = { 200 } },
	{ "the 21st statement fails, and the 31st loses the connection",
		.rules = { { NULL, 21, 1, FAKE_PQ_FAIL, "XX000", NULL }, { NULL, 31, 1, FAKE_PQ_DROP } },
		.lost = true, .err = "lost PostgreSQL while writing", .waits = { 200, 200 } },
	{ "a batch refused on every try until the cause is fixed",
		.rules = { { "INSERT INTO rejections", 1, -1, FAKE_PQ_FAIL, "23514",
				"new row for relation \"rejections\" violates check constraint" } },
		.fix_after = 4, .err = "failed (23514: ERROR:  new row for relation", .waits = { 200 } },
	{ "the database schema is older than this build",
		.schema = SCHEMA_OLD, .fix_after = 4, .down_at_start = true,
		.err = "this Vitalgate needs", .err_times = 1, .waits = { 200, 400, 800 } },
	{ "the database has no schema at all",
		.schema = SCHEMA_MISSING, .fix_after = 3, .down_at_start = true,
		.err = "database schema is at version 0, this Vitalgate needs", .err_times = 1, .waits = { 200, 400 } },
	{ "PostgreSQL is down at the start, then up",
		.refuse = true, .fix_after = 5, .down_at_start = true,
		.err = "cannot connect to PostgreSQL (connection to server at \"127.0.0.1\", port 5432 failed: Connection refused",
		.err_times = 1, .waits = { 200, 400, 800, 1600 } },
};

static size_t nrules(const struct scenario *s)
{
	size_t n = 0;

	while(n < NELEM(s->rules) && s->rules[n].action){
		n++;
	}
	return n;
}

static bool pos_eq(struct vg_journal_pos a, struct vg_journal_pos b)
{
	return a.seg == b.seg && a.off == b.off;
}

static int count_err(const struct rig *g, const char *sub)
{
	int i, n = 0;

	for(i = 0; i < g->nnotes; i++){
		n += g->notes[i].type == VG_C_LOG && g->notes[i].level == MOSQ_LOG_ERR && strstr(g->notes[i].msg, sub) != NULL;
	}
	return n;
}

static bool has_log(const struct rig *g, int level, const char *sub)
{
	int i;

	for(i = 0; i < g->nnotes; i++){
		if(g->notes[i].type == VG_C_LOG && g->notes[i].level == level && strstr(g->notes[i].msg, sub) != NULL){
			return true;
		}
	}
	return false;
}

/* The DB states posted, in order, as a string of 'U' and 'D'. */
static void db_states(const struct rig *g, char *out, size_t cap)
{
	size_t n = 0;
	int i;

	for(i = 0; i < g->nnotes && n + 1 < cap; i++){
		if(g->notes[i].type == VG_C_DB_STATE){
			out[n++] = g->notes[i].up ? 'U' : 'D';
		}
	}
	out[n] = '\0';
}

static void dump_notes(const struct rig *g)
{
	int i;

	for(i = 0; i < g->nnotes; i++){
		fprintf(stderr, "    posted: [%d] %s\n", g->notes[i].level, g->notes[i].msg);
	}
}

/* Waits (up to ms) until the writer tried to connect n times. */
static bool wait_connects(size_t n, int ms)
{
	int waited;

	for(waited = 0; waited < ms; waited += 2){
		if(fake_pq_connects() >= n){
			return true;
		}
		rig_sleep_ms(2);
	}
	return false;
}

static void run(const struct scenario *s)
{
	struct rig *g = calloc(1, sizeof(*g));
	struct vg_pgwriter_stats st;
	struct vg_journal_pos start;
	char states[64], why[160];
	int failures0 = vgtest_failures;
	size_t i, nr = nrules(s), fired[NELEM(s->rules)];
	uint64_t samples;

	printf("- %s\n", s->name);
	fake_pq_reset();
	fake_pq_script(s->rules, nr);
	fake_pq_refuse_connections(s->refuse);
	if(s->schema != SCHEMA_CURRENT){
		fake_pq_set_schema_version(s->schema == SCHEMA_OLD ? vg_migration_count - 1 : -1);
	}
	pthread_mutex_lock(&waits_mu);
	nwaits = 0;
	pthread_mutex_unlock(&waits_mu);
	atomic_store(&rig_violations, 0);
	if(g == NULL || !rig_open(g, 40, true)){
		CHECK(false);
		free(g);
		return;
	}
	start = rig_committed(g);
	CHECK(rig_start(g, BATCH_ROWS));

	if(s->fix_after){
		/* Until the cause is fixed, nothing is written and the journal
		 * position stays where it was. */
		CHECK(wait_connects((size_t)s->fix_after, 10000));
		CHECK_INT(fake_pq_commits(), 0);
		CHECK(pos_eq(rig_committed(g), start));
		if(s->refuse || s->schema != SCHEMA_CURRENT){
			CHECK_INT(fake_pq_statements_matching("BEGIN"), 0);
			CHECK_INT(fake_pq_statements_matching("COPY "), 0);
		}
		for(i = 0; i < nr; i++){
			fired[i] = (size_t)fake_pq_fired(i);
		}
		fake_pq_script(NULL, 0);
		fake_pq_refuse_connections(false);
		fake_pq_set_schema_version(vg_migration_count);
	}else{
		for(i = 0; i < nr; i++){
			fired[i] = 0;
		}
	}
	CHECK(rig_wait_all(g, 10000));
	/* It recovered: what arrives now is written too. */
	CHECK(rig_append(g, 12));
	CHECK(rig_wait_all(g, 10000));
	vg_pgwriter_get_stats(g->w, &st);
	for(i = 0; i < nr; i++){
		if(!s->fix_after){
			fired[i] = (size_t)fake_pq_fired(i);
		}
		CHECK(fired[i] >= 1);   /* the failure really happened */
	}
	rig_close(g);

	/* Never committed past what was stored; everything stored once. */
	CHECK_INT(atomic_load(&rig_violations), 0);
	if(atomic_load(&rig_violations)){
		fprintf(stderr, "  %s\n", rig_first_violation);
	}
	CHECK_INT(rig_missing(g), 0);
	CHECK(fake_pq_audit_chain_ok(why, sizeof(why)));
	samples = g->next_seq - RIG_SEQ_BASE;
	if(s->dups){
		/* The batch committed unbeknown to the writer: its replay found
		 * every row stored already. */
		CHECK(st.rows_duplicate > 0);
		CHECK_INT(st.rows_committed + st.rows_duplicate, samples);
	}else{
		/* What failed was rolled back: the replay inserted all of it. */
		CHECK_INT(st.rows_committed, samples);
		CHECK_INT(st.rows_duplicate, 0);
	}
	if(nr){
		CHECK(st.batch_failures >= 1);
	}else{
		CHECK_INT(st.batch_failures, 0);
	}
	CHECK(st.connected);

	/* What the operator was told. */
	db_states(g, states, sizeof(states));
	if(s->down_at_start){
		CHECK_STR(states, "DU");
		CHECK(has_log(g, MOSQ_LOG_NOTICE, "connected to PostgreSQL again, replaying the journal"));
	}else if(s->lost){
		/* Up, then down once, and up again at the end. */
		CHECK(states[0] == 'U');
		CHECK(strchr(states, 'D') != NULL && strchr(states, 'D') == strrchr(states, 'D'));
		CHECK(states[0] && states[strlen(states) - 1] == 'U');
		CHECK(has_log(g, MOSQ_LOG_NOTICE, "connected to PostgreSQL again, replaying the journal"));
	}else{
		CHECK(strchr(states, 'D') == NULL);   /* a refused batch is not "PostgreSQL down" */
		CHECK(states[0] == 'U');
	}
	if(s->err){
		int n = count_err(g, s->err);
		if(s->err_times){
			CHECK_INT(n, s->err_times);
		}else{
			CHECK(n >= 1);
		}
	}

	/* The backoff before reconnecting. */
	pthread_mutex_lock(&waits_mu);
	for(i = 0; i < NELEM(s->waits) && s->waits[i]; i++){
		CHECK(nwaits > (int)i);
		if(nwaits > (int)i){
			CHECK_INT(waits[i], s->waits[i]);
		}
	}
	if(!s->fix_after){
		/* One failure, one wait: then it writes at once again. */
		CHECK_INT(nwaits, (int)i);
	}
	pthread_mutex_unlock(&waits_mu);

	if(vgtest_failures != failures0){
		fprintf(stderr, "  scenario failed: %s (DB states %s, %d waits)\n", s->name, states, nwaits);
		dump_notes(g);
	}
	free(g);
}

/* The backoff while connecting keeps failing: 0.2 s, doubling, at most 5 s. */
static void test_backoff_caps_at_5s(void)
{
	static const int want[] = { 200, 400, 800, 1600, 3200, 5000, 5000 };
	struct rig *g = calloc(1, sizeof(*g));
	size_t i;

	printf("- the backoff caps at 5 s\n");
	fake_pq_reset();
	fake_pq_refuse_connections(true);
	pthread_mutex_lock(&waits_mu);
	nwaits = 0;
	pthread_mutex_unlock(&waits_mu);
	if(g == NULL || !rig_open(g, 5, false)){
		CHECK(false);
		free(g);
		return;
	}
	CHECK(rig_start(g, BATCH_ROWS));
	CHECK(wait_connects(NELEM(want) + 1, 10000));
	fake_pq_refuse_connections(false);
	CHECK(rig_wait_all(g, 10000));
	rig_close(g);
	pthread_mutex_lock(&waits_mu);
	for(i = 0; i < NELEM(want); i++){
		CHECK_INT(waits[i], want[i]);
	}
	pthread_mutex_unlock(&waits_mu);
	CHECK_INT(rig_missing(g), 0);
	CHECK_INT(count_err(g, "cannot connect to PostgreSQL"), 1);
	free(g);
}

int main(void)
{
	size_t i;

	rig_immune = true;
	for(i = 0; i < NELEM(scenarios); i++){
		run(&scenarios[i]);
	}
	test_backoff_caps_at_5s();
	return vgtest_result("test_pgwriter_errors");
}
