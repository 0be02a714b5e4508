/*
 * vg_pg: libpq helpers shared by the writer and the identity sync (worker
 * threads) and the admin CLI. A library of its own (vg_pg, with the
 * embedded migrations, vg_migrations.h): code on the broker thread never
 * links libpq (tests/check-layers.mjs checks it).
 *
 * Thread: any; a PGconn belongs to the thread that opened it.
 */
#ifndef VG_PG_H
#define VG_PG_H

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

/* Copies PQerrorMessage/PQresultErrorMessage onto one line. */
void vg_pg_errline(const char *msg, char *out, size_t outlen);

#endif
