/*
 * vg_pg: libpq helpers (see vg_pg.h). Thread: any. Memory: none owned.
 */
#include "vg_pg.h"

#include <stdio.h>
#include <string.h>

void vg_pg_errline(const char *msg, char *out, size_t outlen)
{
	size_t i, j = 0;

	if(outlen == 0){
		return;
	}
	if(msg == NULL){
		msg = "unknown error";
	}
	for(i = 0; msg[i] && j + 1 < outlen; i++){
		char c = msg[i];
		if(c == '\n' || c == '\r' || c == '\t'){
			if(msg[i + 1] == '\0'){
				break;
			}
			c = ' ';
		}
		out[j++] = c;
	}
	out[j] = '\0';
}

PGconn *vg_pg_connect(const char *conninfo, const char *application_name, char *err, size_t errlen)
{
	/* Later entries override earlier ones, and the expanded conninfo comes
	 * last, so the operator's settings win over these defaults. */
	const char *keys[] = { "application_name", "connect_timeout", "dbname", NULL };
	const char *vals[] = { application_name, "5", conninfo, NULL };
	PGconn *c;

	c = PQconnectdbParams(keys, vals, 1);
	if(c == NULL){
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if(PQstatus(c) != CONNECTION_OK){
		vg_pg_errline(PQerrorMessage(c), err, errlen);
		PQfinish(c);
		return NULL;
	}
	return c;
}

bool vg_pg_exec(PGconn *c, const char *sql, char *err, size_t errlen)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	bool ok = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK);

	if(!ok){
		const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
		char line[400];
		vg_pg_errline(r ? PQresultErrorMessage(r) : PQerrorMessage(c), line, sizeof(line));
		snprintf(err, errlen, "%s: %s", state ? state : "-----", line);
	}
	PQclear(r);
	return ok;
}
