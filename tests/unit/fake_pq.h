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
 * What it does: one connection at a time; BEGIN / COMMIT / ROLLBACK; COPY
 * ... FROM STDIN keeps the rows sent, per target table, and they count as
 * stored only when the transaction commits ("committed rows"); `SELECT
 * COALESCE(max(version), 0) FROM schema_migrations` answers the embedded
 * migration count; `SELECT nextval(...) FROM generate_series(1, N)` answers
 * N increasing ids; any other SELECT answers no rows; anything else
 * succeeds with 0 rows affected. A hook can make any statement fail, or
 * refuse connections, to drive the code under test through its errors.
 *
 * Thread: any, one connection at a time (a mutex guards the state).
 * Memory: results and rows use __real_malloc, so a test that also wraps
 * malloc to inject failures does not fail the fake itself.
 */
#ifndef FAKE_PQ_H
#define FAKE_PQ_H

#include <stdbool.h>
#include <stddef.h>

enum fake_pq_verdict {
	FAKE_PQ_OK = 0,         /* behave as described above */
	FAKE_PQ_FAIL = 1,       /* the statement fails (SQLSTATE XX000); the transaction is aborted */
	FAKE_PQ_DROP = 2,       /* the connection is lost (PQstatus says CONNECTION_BAD) */
};

/* Called before each statement (sql: its text; COPY data is not a
 * statement). Runs on the calling thread, with the fake's lock released. */
typedef enum fake_pq_verdict (*fake_pq_hook)(const char *sql, void *arg);

/* Forgets every row and statement; no hook; connections accepted. */
void fake_pq_reset(void);
void fake_pq_set_hook(fake_pq_hook hook, void *arg);
/* New connections fail while refuse is true. */
void fake_pq_refuse_connections(bool refuse);

/* True when a committed row of COPY target `table` has `value` in column
 * `col` (0-based, in the order the COPY sent them; -1: in any column). */
bool fake_pq_committed_has(const char *table, int col, const char *value);
/* Committed rows of a table; transactions committed so far. */
size_t fake_pq_committed_rows(const char *table);
size_t fake_pq_commits(void);
/* Statements executed so far (PQexec and PQexecParams). */
size_t fake_pq_statements(void);

#endif
