/*
 * admin.h: what the vitalgate-admin command files share: the parsed command
 * line and the helpers that print one-line errors, run statements and write
 * the audit trail.
 *
 * Thread: single-threaded program. Memory: results returned by run() are
 * the caller's to PQclear.
 */
#ifndef VG_ADMIN_H
#define VG_ADMIN_H

#include <stdbool.h>

#include <libpq-fe.h>

#define EXIT_USAGE 2

struct args {
	const char *db;
	const char *ward;
	const char *bed;
	const char *wards;
	const char *identity;
	const char *limit;
	const char *low;
	const char *high;
	const char *status;
	const char *cert;
	const char *serial;
	const char *ca_cert;
	const char *ca_key;
	const char *days;
	const char *out;
	const char *pos[4];
	int npos;
};

/* One line on stderr; return the exit status (2 for usage, 1 otherwise). */
int fail_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* An informational line on stderr. */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* 0, or a usage error naming `what` when v is not a valid id. */
int check_id(const char *what, const char *v);

/* A parameterised statement; NULL (after printing why) unless it ended
 * with `want`. */
PGresult *run(PGconn *c, const char *sql, int n, const char *const *params, ExecStatusType want);
bool exec_ok(PGconn *c, const char *sql);
void rollback(PGconn *c);
/* An audit_log row in the caller's transaction (identity may be NULL). */
bool audit_admin(PGconn *c, const char *event, const char *identity, const char *detail);

/* cmd_alerts.c: threshold, bed and webhook commands. */
int validate_alerts(const struct args *a);
int cmd_alerts(PGconn *c, const struct args *a);
bool is_alerts_command(const char *cmd);

/* cmd_cert.c: client certificate revocation and CRLs. */
int validate_cert(const struct args *a);
int cmd_cert(PGconn *c, const struct args *a);
bool is_cert_command(const char *cmd);

#endif
