/*
 * pgconn: libpq helpers shared by the writer, the identity sync and the
 * admin CLI.
 *
 * Thread: any; a PGconn belongs to the thread that opened it.
 */
#ifndef VG_PGCONN_H
#define VG_PGCONN_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

/* Connects with the given conninfo; application_name and a 5 s
 * connect_timeout are defaults the conninfo may override. Returns NULL with
 * a one-line message in err (passwords never appear in it). */
PGconn *vg_pg_connect(const char *conninfo, const char *application_name, char *err, size_t errlen);

/* Runs sql (no parameters); true if it succeeded. On failure err holds
 * "SQLSTATE: message" on one line. */
bool vg_pg_exec(PGconn *c, const char *sql, char *err, size_t errlen);

/* True if the error class means "try again later" (connection lost,
 * server shutting down, out of resources, serialization failure) rather
 * than a problem with the data or the schema. */
bool vg_pg_retryable(const char *sqlstate);

/* Copies PQerrorMessage/PQresultErrorMessage onto one line. */
void vg_pg_errline(const char *msg, char *out, size_t outlen);

#endif
