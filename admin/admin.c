/*
 * admin: the helpers every vitalgate-admin command file uses (admin.h):
 * one-line errors and notes on stderr, statements that print why they
 * failed, the audit trail of admin actions.
 *
 * Thread: single-threaded program. Memory: results of vg_admin_run are the
 * caller's to PQclear.
 */
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "admin.h"
#include "vg_pg.h"
#include "vg_util.h"

int vg_admin_fail_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("vitalgate-admin: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (try --help)\n", stderr);
	return VG_ADMIN_EXIT_USAGE;
}

int vg_admin_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("vitalgate-admin: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

void vg_admin_note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Runs a parameterised statement; returns the result if it succeeded with
 * the expected status, else prints a one-line error and returns NULL. */
PGresult *vg_admin_run(PGconn *c, const char *sql, int n, const char *const *params, ExecStatusType want)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	char line[512];

	if(r == NULL || PQresultStatus(r) != want){
		vg_pg_errline(r ? PQresultErrorMessage(r) : PQerrorMessage(c), line, sizeof(line));
		vg_admin_fail("database error: %s", line);
		PQclear(r);
		return NULL;
	}
	return r;
}

bool vg_admin_exec(PGconn *c, const char *sql)
{
	char err[512];

	if(!vg_pg_exec(c, sql, err, sizeof(err))){
		vg_admin_fail("database error: %s", err);
		return false;
	}
	return true;
}

void vg_admin_rollback(PGconn *c)
{
	PGresult *r = PQexec(c, "ROLLBACK");
	PQclear(r);
}

/* Who ran the command, for the audit trail: the invoking (sudo) user. */
static const char *os_user(void)
{
	const char *u = getenv("SUDO_USER");
	struct passwd *pw;

	if(u && *u){
		return u;
	}
	pw = getpwuid(geteuid());
	return pw ? pw->pw_name : "?";
}

/* Appends an audit row in the caller's transaction (the change and its
 * record commit together or not at all). */
bool vg_admin_audit(PGconn *c, const char *event, const char *identity, const char *detail)
{
	const char *p[4] = { event, identity, os_user(), detail ? detail : "" };
	PGresult *r = vg_admin_run(c, "INSERT INTO audit_log (at, source, event, identity, actor, detail) "
			"VALUES (now(), 'admin', $1, $2, $3 || ' (db user ' || session_user || ')', $4)", 4, p, PGRES_COMMAND_OK);

	if(r == NULL){
		return false;
	}
	PQclear(r);
	return true;
}

int vg_admin_check_id(const char *what, const char *v)
{
	if(!vg_id_valid(v)){
		return vg_admin_fail_usage("%s \"%s\" must match [A-Za-z0-9_-]{1,64}", what, v);
	}
	return 0;
}
