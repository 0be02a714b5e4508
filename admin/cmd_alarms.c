/*
 * cmd_alarms: the vitalgate-admin commands for the alarm lifecycle
 * (docs/alerts.md "Alarm lifecycle", "Alarm load"):
 *
 *   alerts priority list [--ward W]
 *   alerts priority set <alert> high|medium|low [--ward W]
 *   alerts priority reset <alert>|all [--ward W]
 *   alerts escalation list [--ward W]
 *   alerts escalation set high|medium|low --after <s>|never [--max-level N] [--ward W]
 *   alerts report --ward W --since <T> [--json]
 *
 * Changes are one transaction with their audit_log row; running brokers
 * pick them up through NOTIFY vitalgate_config (migration 010's triggers).
 * The report is computed from alert_events (the outbox every broker writes).
 *
 * Thread: single-threaded program. Memory: results cleared before return.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "vg_alarm.h"
#include "vg_alertcfg.h"
#include "vg_util.h"

static const char *const alert_keys[] = { "threshold", "threshold:hr", "threshold:spo2", "threshold:rr",
	"threshold:sbp", "threshold:dbp", "threshold:map", "threshold:temp", "news2:medium", "news2:high", "silent" };
#define NKEYS (sizeof(alert_keys) / sizeof(alert_keys[0]))

static bool known_alert(const char *s)
{
	size_t i;

	for(i = 0; i < NKEYS; i++){
		if(!strcmp(s, alert_keys[i])){
			return true;
		}
	}
	return false;
}

int vg_admin_alarms_validate(const struct vg_admin_args *a)
{
	const char *sub = a->npos > 1 ? a->pos[1] : NULL, *what = a->npos > 2 ? a->pos[2] : NULL;
	int64_t n;
	int rc;

	if(a->bed || a->wards || a->identity || a->limit || a->low || a->high || a->status || a->cert || a->serial
			|| a->ca_cert || a->ca_key || a->days || a->out || a->until || a->patient || a->news2_max_age || a->cell
			|| a->hub){
		return vg_admin_fail_usage("alerts commands take --ward, --since, --after, --max-level and --json only");
	}
	if(a->ward && (rc = vg_admin_check_id("--ward", a->ward)) != 0){
		return rc;
	}
	if(sub == NULL){
		return vg_admin_fail_usage("alerts needs priority, escalation or report");
	}
	if(!strcmp(sub, "report")){
		if(a->npos != 2 || a->ward == NULL || a->since == NULL){
			return vg_admin_fail_usage("usage: alerts report --ward <ward> --since <T> [--json]");
		}
		if(!vg_admin_is_duration(a->since) && !vg_admin_is_timestamp(a->since)){
			return vg_admin_fail_usage("--since: \"%s\" is neither an RFC 3339 time nor a duration such as 24h", a->since);
		}
		if(a->after || a->max_level){
			return vg_admin_fail_usage("alerts report takes --ward, --since and --json");
		}
		return 0;
	}
	if(a->since || a->json){
		return vg_admin_fail_usage("--since and --json are for alerts report");
	}
	if(!strcmp(sub, "priority")){
		if(a->after || a->max_level){
			return vg_admin_fail_usage("--after and --max-level are for alerts escalation set");
		}
		if(what && !strcmp(what, "list") && a->npos == 3){
			return 0;
		}
		if(what && !strcmp(what, "set") && a->npos == 5 && known_alert(a->pos[3]) && vg_prio_parse(a->pos[4]) > 0){
			return 0;
		}
		if(what && !strcmp(what, "reset") && a->npos == 4 && (known_alert(a->pos[3]) || !strcmp(a->pos[3], "all"))){
			return 0;
		}
		return vg_admin_fail_usage("usage: alerts priority list | set <alert> high|medium|low | reset <alert>|all "
				"[--ward <ward>] (alert: threshold, threshold:<vital>, news2:medium, news2:high, silent)");
	}
	if(!strcmp(sub, "escalation")){
		if(what && !strcmp(what, "list") && a->npos == 3 && !a->after && !a->max_level){
			return 0;
		}
		if(what && !strcmp(what, "set") && a->npos == 4 && vg_prio_parse(a->pos[3]) > 0 && a->after){
			if(strcmp(a->after, "never") && !vg_parse_i64(a->after, 1, 86400, &n)){
				return vg_admin_fail_usage("--after must be a number of seconds (1 to 86400) or never");
			}
			if(a->max_level && !vg_parse_i64(a->max_level, 1, 20, &n)){
				return vg_admin_fail_usage("--max-level must be between 1 and 20");
			}
			return 0;
		}
		return vg_admin_fail_usage("usage: alerts escalation list | set high|medium|low --after <s>|never "
				"[--max-level <n>] [--ward <ward>]");
	}
	return vg_admin_fail_usage("alerts needs priority, escalation or report");
}

static int change(PGconn *c, const char *sql, int n, const char *const *p, const char *event, const char *detail)
{
	PGresult *r;

	if(!vg_admin_exec(c, "BEGIN")){
		return 1;
	}
	r = vg_admin_run(c, sql, n, p, PGRES_COMMAND_OK);
	if(r == NULL || !vg_admin_audit(c, event, NULL, detail) || !vg_admin_exec(c, "COMMIT")){
		PQclear(r);
		vg_admin_rollback(c);
		return 1;
	}
	PQclear(r);
	return 0;
}

/* The policy in force for ward (NULL: every ward's default), from the rows
 * as the brokers read them (bridge/idsync.c applies them the same way). */
static bool load_policy(PGconn *c, const char *ward, struct vg_alarm_policy *pol)
{
	const char *p[1] = { ward ? ward : "*" };
	PGresult *r;
	int i;

	vg_alarm_policy_defaults(pol);
	r = vg_admin_run(c, "SELECT ward, alert, priority FROM alert_priorities WHERE ward IN ('*', $1) "
			"ORDER BY ward <> '*', alert <> 'threshold', alert", 1, p, PGRES_TUPLES_OK);
	if(r == NULL){
		return false;
	}
	for(i = 0; i < PQntuples(r); i++){
		vg_alert_policy_apply(pol, PQgetvalue(r, i, 1), vg_prio_parse(PQgetvalue(r, i, 2)));
	}
	PQclear(r);
	r = vg_admin_run(c, "SELECT priority, COALESCE(after_s, 0), max_level FROM alert_escalation WHERE ward IN ('*', $1) "
			"ORDER BY ward <> '*'", 1, p, PGRES_TUPLES_OK);
	if(r == NULL){
		return false;
	}
	for(i = 0; i < PQntuples(r); i++){
		int prio = vg_prio_parse(PQgetvalue(r, i, 0));
		if(prio > 0){
			pol->esc[prio].after_s = (uint32_t)strtoul(PQgetvalue(r, i, 1), NULL, 10);
			pol->esc[prio].max_level = (uint8_t)strtoul(PQgetvalue(r, i, 2), NULL, 10);
		}
	}
	PQclear(r);
	return true;
}

static int priority_list(PGconn *c, const char *ward)
{
	struct vg_alarm_policy pol;
	int v;

	if(!load_policy(c, ward, &pol)){
		return 1;
	}
	printf("%-10s %-16s %-9s %s\n", "WARD", "ALERT", "PRIORITY", "CATEGORY");
	for(v = 0; v < VG_V_COUNT; v++){
		char k[32];
		snprintf(k, sizeof(k), "threshold:%s", vg_vital_name(v));
		printf("%-10s %-16s %-9s %s\n", ward ? ward : "*", k, vg_prio_name(pol.thr[v]), "physiological");
	}
	printf("%-10s %-16s %-9s %s\n", ward ? ward : "*", "news2:medium", vg_prio_name(pol.news2_medium), "physiological");
	printf("%-10s %-16s %-9s %s\n", ward ? ward : "*", "news2:high", vg_prio_name(pol.news2_high), "physiological");
	printf("%-10s %-16s %-9s %s\n", ward ? ward : "*", "silent", vg_prio_name(pol.silent), "technical");
	return 0;
}

static int escalation_list(PGconn *c, const char *ward)
{
	struct vg_alarm_policy pol;
	int prio;

	if(!load_policy(c, ward, &pol)){
		return 1;
	}
	printf("%-10s %-9s %-10s %s\n", "WARD", "PRIORITY", "EVERY", "MAX LEVEL");
	for(prio = VG_PRIO_HIGH; prio >= VG_PRIO_LOW; prio--){
		char every[24];
		if(pol.esc[prio].after_s){
			snprintf(every, sizeof(every), "%us", (unsigned)pol.esc[prio].after_s);
		}else{
			vg_strlcpy(every, "never", sizeof(every));
		}
		printf("%-10s %-9s %-10s %u\n", ward ? ward : "*", vg_prio_name(prio), every, (unsigned)pol.esc[prio].max_level);
	}
	return 0;
}

static int priority_set(PGconn *c, const struct vg_admin_args *a)
{
	const char *p[3] = { a->ward ? a->ward : "*", a->pos[3], a->pos[4] };
	char detail[200];

	snprintf(detail, sizeof(detail), "ward=%s alert=%s priority=%s", p[0], p[1], p[2]);
	if(change(c, "INSERT INTO alert_priorities (ward, alert, priority) VALUES ($1, $2, $3) ON CONFLICT (ward, alert) "
			"DO UPDATE SET priority = EXCLUDED.priority, updated_at = now()", 3, p, "alert_priority_set", detail) != 0){
		return 1;
	}
	vg_admin_note("%s alerts are %s priority on %s; running brokers apply it to new alerts within a second", p[1], p[2],
			a->ward ? a->ward : "all wards");
	return 0;
}

static int priority_reset(PGconn *c, const struct vg_admin_args *a)
{
	const char *p[2] = { a->ward ? a->ward : "*", a->pos[3] };
	char detail[200];

	snprintf(detail, sizeof(detail), "ward=%s alert=%s", p[0], p[1]);
	if(change(c, "DELETE FROM alert_priorities WHERE ward = $1 AND ($2 = 'all' OR alert = $2)", 2, p,
			"alert_priority_reset", detail) != 0){
		return 1;
	}
	vg_admin_note("priority of %s back to the default on %s", p[1], a->ward ? a->ward : "all wards");
	return 0;
}

static int escalation_set(PGconn *c, const struct vg_admin_args *a)
{
	const char *p[4] = { a->ward ? a->ward : "*", a->pos[3], strcmp(a->after, "never") ? a->after : NULL,
		a->max_level ? a->max_level : "3" };
	char detail[200];

	snprintf(detail, sizeof(detail), "ward=%s priority=%s after_s=%s max_level=%s", p[0], p[1], a->after, p[3]);
	if(change(c, "INSERT INTO alert_escalation (ward, priority, after_s, max_level) VALUES ($1, $2, $3::int, $4::int) "
			"ON CONFLICT (ward, priority) DO UPDATE SET after_s = EXCLUDED.after_s, max_level = EXCLUDED.max_level, "
			"updated_at = now()", 4, p, "alert_escalation_set", detail) != 0){
		return 1;
	}
	vg_admin_note("%s alerts on %s escalate %s%s%s (at most level %s); running brokers apply it within a second", p[1],
			a->ward ? a->ward : "all wards", p[2] ? "every " : "never", p[2] ? p[2] : "", p[2] ? " s" : "", p[3]);
	return 0;
}

/* The alarm load of a ward from alert_events: events created since the
 * time given; ended before ack: alerts whose first alert.resolved came with
 * no alert.acknowledged before it; time to ack: from the alert's raise to
 * its alert.acknowledged (acks in the window). */
static int report(PGconn *c, const struct vg_admin_args *a)
{
	char since_s[24];
	const char *p[2] = { a->ward, since_s };
	int64_t since_ms;
	PGresult *r;

	if(!vg_admin_resolve_time(c, a->since, &since_ms)){
		return 1;
	}
	snprintf(since_s, sizeof(since_s), "%" PRId64, since_ms);
	r = vg_admin_run(c,
			"WITH w AS (SELECT * FROM alert_events WHERE ward = $1 "
			"  AND created_at >= timestamptz 'epoch' + $2::bigint * interval '1 millisecond'), "
			"acks AS (SELECT k.alert_id, extract(epoch FROM k.created_at - "
			"  (SELECT min(x.created_at) FROM alert_events x WHERE x.alert_id = k.alert_id AND x.type = 'alert.raised')) AS s "
			"  FROM w k WHERE k.type = 'alert.acknowledged') "
			"SELECT (SELECT count(*) FROM w WHERE type = 'alert.raised'), "
			"  (SELECT count(*) FROM w WHERE type = 'alert.acknowledged'), "
			"  (SELECT count(*) FROM w WHERE type = 'alert.escalated'), "
			"  (SELECT count(DISTINCT e.alert_id) FROM w e WHERE e.type = 'alert.resolved' AND NOT EXISTS "
			"    (SELECT 1 FROM alert_events k WHERE k.alert_id = e.alert_id AND k.type = 'alert.acknowledged' "
			"     AND k.created_at <= e.created_at)), "
			"  COALESCE(round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s) FROM acks)::numeric, 1)::text, ''), "
			"  COALESCE(round((SELECT percentile_cont(0.9) WITHIN GROUP (ORDER BY s) FROM acks)::numeric, 1)::text, ''), "
			"  to_char((timestamptz 'epoch' + $2::bigint * interval '1 millisecond') AT TIME ZONE 'UTC', "
			"    'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
			2, p, PGRES_TUPLES_OK);
	if(r == NULL){
		return 1;
	}
	if(a->json){
		const char *p50 = PQgetvalue(r, 0, 4), *p90 = PQgetvalue(r, 0, 5);
		printf("{\"ward\":\"%s\",\"since\":\"%s\",\"raised\":%s,\"acknowledged\":%s,\"escalated\":%s,"
				"\"ended_before_ack\":%s,\"time_to_ack_s\":{\"p50\":%s,\"p90\":%s}}\n", a->ward, PQgetvalue(r, 0, 6),
				PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3),
				p50[0] ? p50 : "null", p90[0] ? p90 : "null");
	}else{
		printf("Alarm load of ward %s since %s\n", a->ward, PQgetvalue(r, 0, 6));
		printf("  %-22s %10s\n", "raised", PQgetvalue(r, 0, 0));
		printf("  %-22s %10s\n", "acknowledged", PQgetvalue(r, 0, 1));
		printf("  %-22s %10s\n", "escalations", PQgetvalue(r, 0, 2));
		printf("  %-22s %10s\n", "ended before any ack", PQgetvalue(r, 0, 3));
		printf("  %-22s %10s%s\n", "time to ack, p50", PQgetvalue(r, 0, 4)[0] ? PQgetvalue(r, 0, 4) : "-",
				PQgetvalue(r, 0, 4)[0] ? " s" : "");
		printf("  %-22s %10s%s\n", "time to ack, p90", PQgetvalue(r, 0, 5)[0] ? PQgetvalue(r, 0, 5) : "-",
				PQgetvalue(r, 0, 5)[0] ? " s" : "");
	}
	PQclear(r);
	return 0;
}

int vg_admin_alarms_run(PGconn *c, const struct vg_admin_args *a)
{
	const char *sub = a->pos[1], *what = a->npos > 2 ? a->pos[2] : "";

	if(!strcmp(sub, "report")){
		return report(c, a);
	}
	if(!strcmp(sub, "priority")){
		if(!strcmp(what, "list")){
			return priority_list(c, a->ward);
		}
		return !strcmp(what, "set") ? priority_set(c, a) : priority_reset(c, a);
	}
	if(!strcmp(what, "list")){
		return escalation_list(c, a->ward);
	}
	return escalation_set(c, a);
}
