/*
 * fake_pq: an in-memory stand-in for the libpq calls Vitalgate's workers
 * make, for unit tests of their error paths. Link the test with
 *   -Wl,--wrap=PQconnectdbParams,--wrap=PQstatus,--wrap=PQfinish,
 *   --wrap=PQexec,--wrap=PQexecParams,--wrap=PQresultStatus,--wrap=PQclear,
 *   --wrap=PQntuples,--wrap=PQgetvalue,--wrap=PQcmdTuples,
 *   --wrap=PQresultErrorField,--wrap=PQresultErrorMessage,
 *   --wrap=PQerrorMessage,--wrap=PQputCopyData,--wrap=PQputCopyEnd,
 *   --wrap=PQgetResult,--wrap=PQunescapeBytea,--wrap=PQfreemem
 * (FAKE_PQ_WRAP in tests/CMakeLists.txt) and every reference in the linked
 * objects reaches the functions here instead of libpq.
 *
 * What it does: one connection at a time; BEGIN / COMMIT / ROLLBACK (a
 * COMMIT of a failed transaction rolls back, as PostgreSQL's does); COPY
 * ... FROM STDIN keeps the rows sent, per target table, and they count as
 * stored only when the transaction commits ("committed rows"; the staging
 * tables' rows are kept there too, so a test can see what was sent).
 * The writer's tables are modelled with their unique keys, so a replay is
 * stored once exactly when PostgreSQL would store it once:
 *   vitals        the writer's INSERT ... SELECT from vg_stage_vitals:
 *                 rows "device_id<TAB>seq", one per (device_id, seq); the
 *                 statement answers the number inserted
 *   alert_events  INSERT ... SELECT from vg_stage_events, ON CONFLICT
 *                 (event_id) DO NOTHING: the staging rows
 *   rejections    INSERT ... SELECT from vg_stage_rejections, ON CONFLICT
 *                 (journal_id, lsn) DO NOTHING: the staging rows
 *   audit_log     COPY audit_log: UNIQUE (journal_id, lsn) (a duplicate
 *                 fails the COPY with 23505); `SELECT lsn FROM audit_log
 *                 WHERE journal_id = '..' AND lsn BETWEEN a AND b` and
 *                 `SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1`
 *                 answer from it
 * `SELECT COALESCE(max(version), 0) FROM schema_migrations` answers the
 * schema version (the embedded migration count unless set); `SELECT
 * nextval(...) FROM generate_series(1, N)` answers N ids of one sequence;
 * any other SELECT answers no rows; anything else succeeds.
 *
 * Scripted failures (fake_pq_script): a rule matches statements by the
 * beginning of their text and fires on the nth match (and the ones after
 * it, `times` in all): the statement fails with an SQLSTATE, the
 * connection is lost before it or after it ran (a COMMIT that committed
 * but whose answer never came), or a COPY's data is refused at its end or
 * its connection lost while sending it. New connections can be refused,
 * and the schema version answered can be an old one.
 *
 * Thread: any, one connection at a time (a mutex guards the state).
 * Memory: results and rows use __real_malloc, so a test that also wraps
 * malloc to inject failures does not fail the fake itself.
 */
#ifndef FAKE_PQ_H
#define FAKE_PQ_H

#include <stdbool.h>
#include <stddef.h>

enum fake_pq_action {
	FAKE_PQ_FAIL = 1,        /* the statement fails with sqlstate, nothing of it done; the transaction is aborted */
	FAKE_PQ_DROP,            /* the connection is lost before the statement reaches the server */
	FAKE_PQ_DROP_AFTER,      /* the statement runs (a COMMIT commits), then the connection is lost: no answer */
	FAKE_PQ_COPY_LOST,       /* COPY: the connection is lost while the data is sent (PQputCopyEnd fails) */
	FAKE_PQ_COPY_FAIL,       /* COPY: the server refuses the data at its end (PQgetResult: sqlstate) */
};

struct fake_pq_rule {
	const char *match;       /* how the statement's text begins; NULL: every statement */
	int nth;                 /* fires from the nth matching statement (0 or 1: the first) */
	int times;               /* on this many matching statements in all (0: 1; -1: all from the nth) */
	enum fake_pq_action action;
	const char *sqlstate;    /* FAIL, COPY_FAIL (NULL: XX000) */
	const char *message;     /* the error's text (NULL: "injected failure (fake_pq)") */
};

/* Forgets every row, statement and rule; connections accepted; the
 * current schema version. */
void fake_pq_reset(void);
/* Replaces the rules (copied; the strings must outlive them). */
void fake_pq_script(const struct fake_pq_rule *rules, size_t n);
/* How many statements rule i (of the last fake_pq_script) has fired on. */
int fake_pq_fired(size_t i);
/* New connections fail while refuse is true. */
void fake_pq_refuse_connections(bool refuse);
/* What `max(version)` of schema_migrations answers; < 0: the table does
 * not exist (42P01). */
void fake_pq_set_schema_version(int version);

/* True when a committed row of `table` has `value` in column `col`
 * (0-based, in the order the COPY sent them; -1: in any column). */
bool fake_pq_committed_has(const char *table, int col, const char *value);
/* Committed rows of a table with value in column col (value NULL: all). */
size_t fake_pq_committed_count(const char *table, int col, const char *value);
size_t fake_pq_committed_rows(const char *table);
/* Transactions committed so far; connection attempts so far. */
size_t fake_pq_commits(void);
size_t fake_pq_connects(void);
/* Statements executed so far (PQexec and PQexecParams); of them, those
 * whose text contains match (sent to a live connection). */
size_t fake_pq_statements(void);
size_t fake_pq_statements_matching(const char *match);
/* audit_log in id order is one hash chain (each row's prev_hash is the
 * previous row's hash; the first one's is zeros)? If not, why. */
bool fake_pq_audit_chain_ok(char *why, size_t whylen);

#endif
