/*
 * admin: what the vitalgate-admin command files share: the parsed command
 * line and the helpers (admin.c) that print one-line errors, run
 * statements and write the audit trail, and each command file's entry
 * points.
 *
 * Thread: single-threaded program. Memory: results returned by
 * vg_admin_run are the caller's to PQclear.
 */
#ifndef VG_ADMIN_H
#define VG_ADMIN_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#define VG_ADMIN_EXIT_USAGE 2

struct vg_admin_args {
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
	const char *since;
	const char *until;
	const char *patient;
	const char *news2_max_age;
	const char *cell;
	const char *hub;
	const char *after;
	const char *max_level;
	bool json;
	const char *pos[6];
	int npos;
};

/* One line on stderr; return the exit status (2 for usage, 1 otherwise). */
int vg_admin_fail_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vg_admin_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* An informational line on stderr. */
void vg_admin_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* 0, or a usage error naming `what` when v is not a valid id. */
int vg_admin_check_id(const char *what, const char *v);

/* A parameterised statement; NULL (after printing why) unless it ended
 * with `want`. */
PGresult *vg_admin_run(PGconn *c, const char *sql, int n, const char *const *params, ExecStatusType want);
bool vg_admin_exec(PGconn *c, const char *sql);
void vg_admin_rollback(PGconn *c);
/* An audit_log row in the caller's transaction (identity may be NULL). */
bool vg_admin_audit(PGconn *c, const char *event, const char *identity, const char *detail);

/* cmd_alerts.c: threshold, bed and webhook commands. */
int vg_admin_alerts_validate(const struct vg_admin_args *a);
int vg_admin_alerts_run(PGconn *c, const struct vg_admin_args *a);
bool vg_admin_alerts_is_command(const char *cmd);

/* cmd_cert.c: client certificate revocation and CRLs. */
int vg_admin_cert_validate(const struct vg_admin_args *a);
int vg_admin_cert_run(PGconn *c, const struct vg_admin_args *a);
bool vg_admin_cert_is_command(const char *cmd);

/* cmd_fhir.c: export fhir. */
int vg_admin_fhir_validate(const struct vg_admin_args *a);
/* --since/--until values (cmd_fhir.c): a duration back from now (24h, 30m,
 * 7d, 10s) or an RFC 3339 time; resolved by PostgreSQL's clock. */
bool vg_admin_is_duration(const char *s);
bool vg_admin_is_timestamp(const char *s);
bool vg_admin_resolve_time(PGconn *c, const char *v, int64_t *ms);
int vg_admin_fhir_run(PGconn *c, const struct vg_admin_args *a);

/* cmd_storage.c: the storage report. */
int vg_admin_storage_validate(const struct vg_admin_args *a);
int vg_admin_storage_run(PGconn *c, const struct vg_admin_args *a);
/* cmd_cells.c: ward placement, cells list, HAProxy's map. */
int vg_admin_cells_validate(const struct vg_admin_args *a);
int vg_admin_cells_run(PGconn *c, const struct vg_admin_args *a);
bool vg_admin_cells_is_command(const char *cmd);

/* cmd_alarms.c: alerts priority|escalation|report. */
int vg_admin_alarms_validate(const struct vg_admin_args *a);
int vg_admin_alarms_run(PGconn *c, const struct vg_admin_args *a);

#endif
