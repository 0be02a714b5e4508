/*
 * cmd_alerts: the vitalgate-admin commands for alerting (docs/admin.md):
 *
 *   threshold list [--ward W]
 *   threshold set <vital> [--ward W] [--low N|off] [--high N|off]
 *   threshold reset <vital>|all [--ward W]
 *   bed scale <1|2> --ward W --bed B
 *   webhook list [--status S] [--limit N]
 *   webhook redrive <event_id>|dead
 *   webhook enable
 *
 * Every change is one transaction with its audit_log row; running brokers
 * pick it up through NOTIFY (alert_thresholds and bed_settings triggers, and
 * vitalgate_webhook_command()).
 *
 * Thread: single-threaded program. Memory: results cleared before return.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "vg_alertcfg.h"
#include "vg_util.h"

/* A bound given on the command line: a number, or "off". */
struct bound {
	bool given;
	bool on;
	double v;
};

/* The thresholds as stored: rows of (ward, vital, low, high). */
struct thr_row {
	char ward[VG_ID_MAX + 1];
	int vital;
	struct vg_thr t;
};

bool vg_admin_alerts_is_command(const char *cmd)
{
	return !strcmp(cmd, "threshold") || !strcmp(cmd, "bed") || !strcmp(cmd, "webhook");
}

static int parse_bound(const char *opt, const char *s, struct bound *b)
{
	char *end;

	/* Every field set on every path: gcc -O3 (Release) proves nothing less. */
	b->given = s != NULL;
	b->on = false;
	b->v = 0;
	if(s == NULL){
		return 0;
	}
	if(!strcmp(s, "off")){
		b->on = false;
		return 0;
	}
	b->v = strtod(s, &end);
	if(end == s || *end != '\0' || !isfinite(b->v) || b->v < 0 || b->v > 1000){
		return vg_admin_fail_usage("%s must be a number between 0 and 1000, or off", opt);
	}
	b->on = true;
	return 0;
}

static int check_vital(const char *name, bool allow_all)
{
	if(allow_all && !strcmp(name, "all")){
		return 0;
	}
	if(vg_vital_index(name) < 0){
		char list[256] = "";
		size_t len = 0;
		int v;
		for(v = 0; v < VG_V_COUNT && len < sizeof(list); v++){
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", v ? ", " : "", vg_vital_name(v));
		}
		return vg_admin_fail_usage("unknown vital \"%s\" (one of %s%s)", name, list, allow_all ? ", or all" : "");
	}
	return 0;
}

static int validate_threshold(const struct vg_admin_args *a, const char *sub)
{
	struct bound lo, hi;
	int rc;

	if(a->bed || a->wards || a->identity || a->limit || a->status){
		return vg_admin_fail_usage("threshold takes only --ward, --low and --high");
	}
	if(a->ward && (rc = vg_admin_check_id("ward", a->ward)) != 0){
		return rc;
	}
	if(!strcmp(sub, "list")){
		if(a->npos != 2 || a->low || a->high){
			return vg_admin_fail_usage("threshold list takes only --ward");
		}
		return 0;
	}
	if(a->npos != 3){
		return vg_admin_fail_usage("threshold %s needs a vital", sub);
	}
	if(!strcmp(sub, "reset")){
		if(a->low || a->high){
			return vg_admin_fail_usage("threshold reset takes no --low/--high");
		}
		return check_vital(a->pos[2], true);
	}
	if(strcmp(sub, "set")){
		return vg_admin_fail_usage("unknown threshold command \"%s\" (list, set or reset)", sub);
	}
	if((rc = check_vital(a->pos[2], false)) != 0
			|| (rc = parse_bound("--low", a->low, &lo)) != 0 || (rc = parse_bound("--high", a->high, &hi)) != 0){
		return rc;
	}
	if(!lo.given && !hi.given){
		return vg_admin_fail_usage("threshold set needs --low and/or --high");
	}
	if(lo.given && hi.given && lo.on && hi.on && lo.v >= hi.v){
		return vg_admin_fail_usage("--low must be below --high");
	}
	return 0;
}

int vg_admin_alerts_validate(const struct vg_admin_args *a)
{
	const char *cmd = a->pos[0];
	const char *sub = a->npos > 1 ? a->pos[1] : NULL;
	int64_t n;
	int rc;

	if(sub == NULL){
		return vg_admin_fail_usage("%s needs a subcommand", cmd);
	}
	if(!strcmp(cmd, "threshold")){
		return validate_threshold(a, sub);
	}
	if(!strcmp(cmd, "bed")){
		if(strcmp(sub, "scale") || a->npos != 3 || (strcmp(a->pos[2], "1") && strcmp(a->pos[2], "2"))){
			return vg_admin_fail_usage("usage: bed scale <1|2> --ward <ward> --bed <bed>");
		}
		if(!a->ward || !a->bed){
			return vg_admin_fail_usage("bed scale needs --ward and --bed");
		}
		if(a->wards || a->identity || a->limit || a->status || a->low || a->high){
			return vg_admin_fail_usage("bed scale takes only --ward and --bed");
		}
		if((rc = vg_admin_check_id("ward", a->ward)) != 0 || (rc = vg_admin_check_id("bed", a->bed)) != 0){
			return rc;
		}
		return 0;
	}
	/* webhook */
	if(a->ward || a->bed || a->wards || a->identity || a->low || a->high){
		return vg_admin_fail_usage("webhook takes only --status and --limit");
	}
	if(!strcmp(sub, "list")){
		if(a->npos != 2){
			return vg_admin_fail_usage("webhook list takes no arguments");
		}
		if(a->status && strcmp(a->status, "pending") && strcmp(a->status, "delivered") && strcmp(a->status, "dead")){
			return vg_admin_fail_usage("--status must be pending, delivered or dead");
		}
		if(a->limit && !vg_parse_i64(a->limit, 1, 1000000, &n)){
			return vg_admin_fail_usage("--limit must be a number between 1 and 1000000");
		}
		return 0;
	}
	if(a->status || a->limit){
		return vg_admin_fail_usage("--status and --limit are for webhook list");
	}
	if(!strcmp(sub, "redrive")){
		if(a->npos != 3){
			return vg_admin_fail_usage("webhook redrive needs an event id, or dead for every dead-lettered event");
		}
		if(strcmp(a->pos[2], "dead") && strncmp(a->pos[2], "evt_", 4)){
			return vg_admin_fail_usage("\"%s\" is not an event id (evt_...) or dead", a->pos[2]);
		}
		return 0;
	}
	if(!strcmp(sub, "enable")){
		return a->npos == 2 ? 0 : vg_admin_fail_usage("webhook enable takes no arguments");
	}
	return vg_admin_fail_usage("unknown webhook command \"%s\" (list, redrive or enable)", sub);
}

/* Loads alert_thresholds (the '*' rows and, with ward, that ward's rows;
 * without ward, every row). */
static bool load_rows(PGconn *c, const char *ward, struct thr_row **rows, int *n)
{
	const char *p[1] = { ward };
	PGresult *r = vg_admin_run(c, "SELECT ward, vital, low::float8, high::float8 FROM alert_thresholds "
			"WHERE $1::text IS NULL OR ward IN ('*', $1) ORDER BY ward = '*' DESC, ward, vital", 1, p, PGRES_TUPLES_OK);
	int i;

	if(r == NULL){
		return false;
	}
	*n = 0;
	*rows = calloc((size_t)PQntuples(r) + 1, sizeof(**rows));
	if(*rows == NULL){
		PQclear(r);
		vg_admin_fail("out of memory");
		return false;
	}
	for(i = 0; i < PQntuples(r); i++){
		struct thr_row *t = &(*rows)[*n];
		t->vital = vg_vital_index(PQgetvalue(r, i, 1));
		if(t->vital < 0){
			continue;
		}
		vg_strlcpy(t->ward, PQgetvalue(r, i, 0), sizeof(t->ward));
		t->t.low_on = !PQgetisnull(r, i, 2);
		t->t.low = t->t.low_on ? strtod(PQgetvalue(r, i, 2), NULL) : 0;
		t->t.high_on = !PQgetisnull(r, i, 3);
		t->t.high = t->t.high_on ? strtod(PQgetvalue(r, i, 3), NULL) : 0;
		(*n)++;
	}
	PQclear(r);
	return true;
}

static const struct thr_row *find_row(const struct thr_row *rows, int n, const char *ward, int vital)
{
	int i;

	for(i = 0; i < n; i++){
		if(rows[i].vital == vital && !strcmp(rows[i].ward, ward)){
			return &rows[i];
		}
	}
	return NULL;
}

/* The threshold in force for (ward, vital): the ward's row, else the '*'
 * row, else the built-in default; *source names which. */
static struct vg_thr effective(const struct thr_row *rows, int n, const char *ward, int vital, const char **source)
{
	struct vg_alert_cfg def;
	const struct thr_row *r = ward ? find_row(rows, n, ward, vital) : NULL;

	if(r){
		*source = "ward";
		return r->t;
	}
	if((r = find_row(rows, n, "*", vital)) != NULL){
		*source = "all wards";
		return r->t;
	}
	vg_alert_cfg_defaults(&def);
	*source = "built-in";
	return def.def[vital];
}

static void fmt_bound(char *out, size_t len, bool on, double v)
{
	if(on){
		snprintf(out, len, "%g", v);
	}else{
		snprintf(out, len, "off");
	}
}

static void print_thr(const char *ward, int vital, const struct vg_thr *t, const char *source)
{
	char lo[32], hi[32];

	fmt_bound(lo, sizeof(lo), t->low_on, t->low);
	fmt_bound(hi, sizeof(hi), t->high_on, t->high);
	printf("%-10s %-6s %-8s %-8s %s\n", ward, vg_vital_name(vital), lo, hi, source);
}

/* In the caller's open transaction: one change, its audit row, COMMIT.
 * Rolls back and returns 1 on any failure. */
static int change_audited(PGconn *c, const char *sql, int n, const char *const *p, const char *event, const char *detail)
{
	PGresult *r = vg_admin_run(c, sql, n, p, PGRES_COMMAND_OK);

	if(r == NULL || !vg_admin_audit(c, event, NULL, detail) || !vg_admin_exec(c, "COMMIT")){
		PQclear(r);
		vg_admin_rollback(c);
		return 1;
	}
	PQclear(r);
	return 0;
}

static int threshold_list(PGconn *c, const char *ward)
{
	struct thr_row *rows;
	const char *src;
	struct vg_thr t;
	int n, v, i;

	if(!load_rows(c, ward, &rows, &n)){
		return 1;
	}
	printf("%-10s %-6s %-8s %-8s %s\n", "WARD", "VITAL", "LOW<=", "HIGH>=", "SOURCE");
	for(v = 0; v < VG_V_COUNT; v++){
		t = effective(rows, n, ward, v, &src);
		print_thr(ward ? ward : "*", v, &t, src);
	}
	if(ward == NULL){
		for(i = 0; i < n; i++){
			if(strcmp(rows[i].ward, "*")){
				print_thr(rows[i].ward, rows[i].vital, &rows[i].t, "ward");
			}
		}
	}
	free(rows);
	return 0;
}

static int threshold_set(PGconn *c, const struct vg_admin_args *a)
{
	const char *scope = a->ward ? a->ward : "*";
	int vital = vg_vital_index(a->pos[2]);
	struct bound lo, hi;
	struct thr_row *rows;
	struct vg_thr was, now;
	const char *src;
	char lo_s[32], hi_s[32], was_lo[32], was_hi[32], detail[200];
	const char *p[4];
	int n;

	parse_bound("--low", a->low, &lo);
	parse_bound("--high", a->high, &hi);
	if(!vg_admin_exec(c, "BEGIN") || !vg_admin_exec(c, "LOCK TABLE alert_thresholds IN SHARE ROW EXCLUSIVE MODE")){
		vg_admin_rollback(c);
		return 1;
	}
	if(!load_rows(c, a->ward, &rows, &n)){
		vg_admin_rollback(c);
		return 1;
	}
	/* A bound not given keeps the value in force for this scope. */
	was = effective(rows, n, a->ward, vital, &src);
	free(rows);
	now = was;
	if(lo.given){
		now.low_on = lo.on;
		now.low = lo.v;
	}
	if(hi.given){
		now.high_on = hi.on;
		now.high = hi.v;
	}
	fmt_bound(lo_s, sizeof(lo_s), now.low_on, now.low);
	fmt_bound(hi_s, sizeof(hi_s), now.high_on, now.high);
	fmt_bound(was_lo, sizeof(was_lo), was.low_on, was.low);
	fmt_bound(was_hi, sizeof(was_hi), was.high_on, was.high);
	if(now.low_on && now.high_on && now.low >= now.high){
		vg_admin_rollback(c);
		return vg_admin_fail_usage("the low bound (%s) must stay below the high bound (%s)", lo_s, hi_s);
	}
	p[0] = scope;
	p[1] = a->pos[2];
	p[2] = now.low_on ? lo_s : NULL;
	p[3] = now.high_on ? hi_s : NULL;
	snprintf(detail, sizeof(detail), "ward=%s vital=%s low=%s high=%s (was %s/%s from %s)", scope, a->pos[2],
			lo_s, hi_s, was_lo, was_hi, src);
	if(change_audited(c, "INSERT INTO alert_thresholds (ward, vital, low, high) VALUES ($1, $2, $3::numeric, $4::numeric) "
			"ON CONFLICT (ward, vital) DO UPDATE SET low = EXCLUDED.low, high = EXCLUDED.high, updated_at = now()",
			4, p, "threshold_set", detail) != 0){
		return 1;
	}
	vg_admin_note("%s threshold for %s: %s%s%s%s%s%s (was low %s, high %s); running brokers apply it within a second",
			a->pos[2], a->ward ? a->ward : "all wards",
			now.low_on || now.high_on ? "alert at " : "no threshold alert",
			now.low_on ? "<= " : "", now.low_on ? lo_s : "", now.low_on && now.high_on ? " or " : "",
			now.high_on ? ">= " : "", now.high_on ? hi_s : "", was_lo, was_hi);
	return 0;
}

static int threshold_reset(PGconn *c, const struct vg_admin_args *a)
{
	const char *p[2] = { a->ward ? a->ward : "*", a->pos[2] };
	char detail[160];
	PGresult *r;
	const char *rows;

	if(!vg_admin_exec(c, "BEGIN")){
		return 1;
	}
	r = vg_admin_run(c, "DELETE FROM alert_thresholds WHERE ward = $1 AND ($2 = 'all' OR vital = $2)", 2, p, PGRES_COMMAND_OK);
	if(r == NULL){
		vg_admin_rollback(c);
		return 1;
	}
	rows = PQcmdTuples(r);
	snprintf(detail, sizeof(detail), "ward=%s vital=%s rows=%s", p[0], p[1], rows);
	if(!vg_admin_audit(c, "threshold_reset", NULL, detail) || !vg_admin_exec(c, "COMMIT")){
		PQclear(r);
		vg_admin_rollback(c);
		return 1;
	}
	vg_admin_note("%s threshold row(s) removed for %s %s; %s", rows, a->ward ? a->ward : "all wards", p[1],
			a->ward ? "the ward follows the all-wards thresholds again" : "the built-in defaults apply again");
	PQclear(r);
	return 0;
}

static int bed_scale(PGconn *c, const struct vg_admin_args *a)
{
	const char *p[3] = { a->ward, a->bed, a->pos[2] };
	char detail[200];
	PGresult *r;

	snprintf(detail, sizeof(detail), "ward=%s bed=%s spo2_scale=%s", a->ward, a->bed, a->pos[2]);
	if(!vg_admin_exec(c, "BEGIN") || change_audited(c, "INSERT INTO bed_settings (ward, bed, spo2_scale) VALUES ($1, $2, "
			"$3::smallint) ON CONFLICT (ward, bed) DO UPDATE SET spo2_scale = EXCLUDED.spo2_scale, updated_at = now()",
			3, p, "bed_scale", detail) != 0){
		return 1;
	}
	r = vg_admin_run(c, "SELECT count(*) FROM bed_assignments WHERE ward = $1 AND bed = $2", 2, p, PGRES_TUPLES_OK);
	vg_admin_note("bed %s/%s scores SpO2 on NEWS2 scale %s%s", a->ward, a->bed, a->pos[2],
			r && !strcmp(PQgetvalue(r, 0, 0), "0") ? " (note: no device is assigned to it yet)" : "");
	PQclear(r);
	return 0;
}

static int webhook_list(PGconn *c, const struct vg_admin_args *a)
{
	const char *p[2] = { a->status, a->limit ? a->limit : "50" };
	PGresult *r = vg_admin_run(c,
			"SELECT event_id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), type, kind, "
			"severity, COALESCE(ward || '/' || bed, '-'), status, attempts, COALESCE(last_http::text, '-'), "
			"COALESCE(last_error, '') FROM (SELECT * FROM alert_events WHERE $1::text IS NULL OR status = $1 "
			"ORDER BY created_at DESC, event_id DESC LIMIT $2::integer) t ORDER BY created_at, event_id",
			2, p, PGRES_TUPLES_OK);
	PGresult *s;
	int i;

	if(r == NULL){
		return 1;
	}
	printf("%-36s %-24s %-14s %-9s %-8s %-14s %-9s %-8s %-4s %s\n", "EVENT", "CREATED", "TYPE", "KIND", "SEVERITY",
			"WARD/BED", "STATUS", "ATTEMPTS", "HTTP", "LAST ERROR");
	for(i = 0; i < PQntuples(r); i++){
		printf("%-36s %-24s %-14s %-9s %-8s %-14s %-9s %-8s %-4s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
				PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), PQgetvalue(r, i, 5), PQgetvalue(r, i, 6),
				PQgetvalue(r, i, 7), PQgetvalue(r, i, 8), PQgetvalue(r, i, 9));
	}
	PQclear(r);
	s = vg_admin_run(c, "SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'dead'), "
			"count(*) FILTER (WHERE status = 'delivered') FROM alert_events", 0, NULL, PGRES_TUPLES_OK);
	if(s == NULL){
		return 1;
	}
	vg_admin_note("outbox: %s pending, %s dead, %s delivered", PQgetvalue(s, 0, 0), PQgetvalue(s, 0, 1), PQgetvalue(s, 0, 2));
	PQclear(s);
	return 0;
}

static int webhook_redrive(PGconn *c, const char *which)
{
	const char *p[1] = { which };
	char detail[120];
	PGresult *r;
	long n;

	if(!vg_admin_exec(c, "BEGIN")){
		return 1;
	}
	if(strcmp(which, "dead")){
		r = vg_admin_run(c, "SELECT status, COALESCE(to_char(delivered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '') "
				"FROM alert_events WHERE event_id = $1 FOR UPDATE", 1, p, PGRES_TUPLES_OK);
		if(r == NULL){
			vg_admin_rollback(c);
			return 1;
		}
		if(PQntuples(r) == 0){
			PQclear(r);
			vg_admin_rollback(c);
			return vg_admin_fail("no alert event %s in alert_events", which);
		}
		if(!strcmp(PQgetvalue(r, 0, 0), "delivered")){
			char at[40];
			vg_strlcpy(at, PQgetvalue(r, 0, 1), sizeof(at));
			PQclear(r);
			vg_admin_rollback(c);
			return vg_admin_fail("event %s was delivered at %s; there is nothing to redrive", which, at);
		}
		PQclear(r);
	}
	r = vg_admin_run(c, "UPDATE alert_events SET status = 'pending', status_at = now() "
			"WHERE ($1 = 'dead' AND status = 'dead') OR (event_id = $1 AND status <> 'delivered')", 1, p, PGRES_COMMAND_OK);
	if(r == NULL){
		vg_admin_rollback(c);
		return 1;
	}
	n = strtol(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	snprintf(detail, sizeof(detail), "%s: %ld event(s) back to pending", which, n);
	r = vg_admin_run(c, "SELECT vitalgate_webhook_command('redrive')", 0, NULL, PGRES_TUPLES_OK);
	if(r == NULL || !vg_admin_audit(c, "webhook_redrive", NULL, detail) || !vg_admin_exec(c, "COMMIT")){
		PQclear(r);
		vg_admin_rollback(c);
		return 1;
	}
	PQclear(r);
	vg_admin_note("%ld event(s) back to pending; running brokers deliver them now (a broker that is not running delivers "
			"them when it starts)", n);
	return 0;
}

static int webhook_enable(PGconn *c)
{
	PGresult *r;

	if(!vg_admin_exec(c, "BEGIN")){
		return 1;
	}
	r = vg_admin_run(c, "SELECT vitalgate_webhook_command('enable')", 0, NULL, PGRES_TUPLES_OK);
	if(r == NULL || !vg_admin_audit(c, "webhook_enable", NULL, "") || !vg_admin_exec(c, "COMMIT")){
		PQclear(r);
		vg_admin_rollback(c);
		return 1;
	}
	PQclear(r);
	vg_admin_note("webhook delivery enabled on running brokers; pending events are delivered now");
	return 0;
}

int vg_admin_alerts_run(PGconn *c, const struct vg_admin_args *a)
{
	const char *cmd = a->pos[0], *sub = a->pos[1];

	if(!strcmp(cmd, "threshold")){
		if(!strcmp(sub, "list")){
			return threshold_list(c, a->ward);
		}
		return !strcmp(sub, "set") ? threshold_set(c, a) : threshold_reset(c, a);
	}
	if(!strcmp(cmd, "bed")){
		return bed_scale(c, a);
	}
	if(!strcmp(sub, "list")){
		return webhook_list(c, a);
	}
	return !strcmp(sub, "redrive") ? webhook_redrive(c, a->pos[2]) : webhook_enable(c);
}
