/*
 * outbox: see outbox.h. Thread: the calling worker. Memory: completions own
 * their bodies (freed by the broker thread after submission).
 */
#include "outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vg_alarm.h"
#include "vg_pg.h"
#include "vg_completion.h"
#include "vg_news2.h"
#include "vg_rec.h"
#include "vg_schema.h"
#include "vg_util.h"

#define OUTBOX_CHUNK 500

/* The scope's ward filter on column col (a cell: the wards placed on it,
 * $1 its name; every other scope: none), and its parameter. */
static const char *ward_filter(const struct vg_scope *scope, const char *col, char *buf, size_t cap,
		const char **param, int *nparams)
{
	*nparams = 0;
	if(scope == NULL || scope->kind != VG_SCOPE_CELL){
		return "";
	}
	snprintf(buf, cap, " AND %s IN (SELECT wc.ward FROM ward_cells wc WHERE wc.cell = $1)", col);
	*param = scope->cell;
	*nparams = 1;
	return buf;
}

bool vg_outbox_post_pending(PGconn *conn, const struct vg_scope *scope, struct vg_queue *completions, size_t *count,
		char *err, size_t errlen)
{
	char sql[640], filter[160];
	const char *param = NULL;
	int np;
	PGresult *r;
	int i, n, k;

	/* since_ms starts the dead-letter clock: the event's creation, or the
	 * moment an operator re-drove it (status_at). A cell delivers its own
	 * wards' events. */
	snprintf(sql, sizeof(sql), "SELECT event_id, order_key, (extract(epoch FROM created_at) * 1000)::bigint, "
			"(extract(epoch FROM greatest(created_at, status_at)) * 1000)::bigint, body "
			"FROM alert_events WHERE status = 'pending'%s ORDER BY created_at, lsn, event_id",
			ward_filter(scope, "ward", filter, sizeof(filter), &param, &np));
	r = PQexecParams(conn, sql, np, NULL, &param, NULL, NULL, 0);

	*count = 0;
	if(r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK){
		vg_pg_errline(r ? PQresultErrorMessage(r) : PQerrorMessage(conn), err, errlen);
		PQclear(r);
		return false;
	}
	n = PQntuples(r);
	for(i = 0; i < n; i += OUTBOX_CHUNK){
		int m = n - i < OUTBOX_CHUNK ? n - i : OUTBOX_CHUNK;
		struct vg_c_redeliver *c = calloc(1, sizeof(*c) + (size_t)m * sizeof(c->items[0]));
		if(c == NULL){
			vg_strlcpy(err, "out of memory", errlen);
			PQclear(r);
			return false;
		}
		c->base.type = VG_C_REDELIVER;
		for(k = 0; k < m; k++){
			struct vg_redeliver_item *it = &c->items[c->n];
			const char *body = PQgetvalue(r, i + k, 4);
			vg_strlcpy(it->event_id, PQgetvalue(r, i + k, 0), sizeof(it->event_id));
			vg_strlcpy(it->order_key, PQgetvalue(r, i + k, 1), sizeof(it->order_key));
			it->created_ms = strtoll(PQgetvalue(r, i + k, 2), NULL, 10);
			it->since_ms = strtoll(PQgetvalue(r, i + k, 3), NULL, 10);
			it->len = strlen(body);
			it->body = strdup(body);
			if(it->body){
				c->n++;
			}
		}
		*count += c->n;
		vg_queue_push_force(completions, &c->base);
	}
	PQclear(r);
	return true;
}

/* NEWS2 inputs: the vitals column of parameter p (its field's key,
 * schemas/vitals/v1.json), as float8 the way the alert engine keeps it
 * (plugin/alerts.c update_bed: a bool as 0/1, an enum as its character). */
static void n2_column(int p, const char **col, const char **cast_pre, const char **cast_post)
{
	const struct vg_field_def *f = &vg_fields[vg_news2_field[p]];

	*col = f->key;
	*cast_pre = f->type == VG_T_ENUM ? "ascii(" : "";
	*cast_post = f->type == VG_T_BOOL ? "::int::float8" : f->type == VG_T_ENUM ? ")::float8" : "::float8";
}

static int band_of(const char *severity)
{
	int b;

	for(b = VG_N2_BAND_LOW; b <= VG_N2_BAND_HIGH; b++){
		if(!strcmp(vg_news2_band_name((enum vg_news2_band)b), severity)){
			return b;
		}
	}
	return 0;
}

bool vg_outbox_read_open_alerts(PGconn *conn, const struct vg_scope *scope, struct vg_c_alert_state *c, char *err,
		size_t errlen)
{
	char sql[2048], filter[160];
	const char *param = NULL;
	int np;
	PGresult *r;
	int i, n;

	/* alert_open: the one open alert of each condition (migration 007). */
	/* With each alert's lifecycle (migration 010), from its last event's
	 * data: a latched alert is held under 'latched/<id>'. */
	snprintf(sql, sizeof(sql), "SELECT o.alert_id, o.kind, o.severity, COALESCE(o.device_id, ''), COALESCE(o.ward, ''), "
			"COALESCE(o.bed, ''), COALESCE(o.body::json->'data'->>'vital', ''), "
			"COALESCE(o.body::json->'data'->>'direction', ''), o.transitions, o.body, "
			"(extract(epoch FROM o.updated_at) * 1000)::bigint, "
			"COALESCE(o.body::json->'data'->>'priority', ''), COALESCE(o.body::json->'data'->>'level', '0'), "
			"(o.cond LIKE 'latched/%%')::int, (extract(epoch FROM o.raised_at) * 1000)::bigint, "
			"COALESCE((extract(epoch FROM (o.body::json->'data'->>'acknowledged_at')::timestamptz) * 1000)::bigint, 0), "
			"COALESCE((extract(epoch FROM (o.body::json->'data'->>'condition_cleared_at')::timestamptz) * 1000)::bigint, 0), "
			"COALESCE(o.body::json->'data'->>'acknowledged_by', ''), COALESCE(o.body::json->'data'->>'acknowledged_via', '') "
			"FROM alert_open o WHERE true%s ORDER BY o.raised_at",
			ward_filter(scope, "o.ward", filter, sizeof(filter), &param, &np));
	r = PQexecParams(conn, sql, np, NULL, &param, NULL, NULL, 0);

	if(r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK){
		vg_pg_errline(r ? PQresultErrorMessage(r) : PQerrorMessage(conn), err, errlen);
		PQclear(r);
		return false;
	}
	n = PQntuples(r);
	c->alerts = calloc((size_t)n + 1, sizeof(*c->alerts));
	if(c->alerts == NULL){
		PQclear(r);
		vg_strlcpy(err, "out of memory", errlen);
		return false;
	}
	for(i = 0; i < n; i++){
		struct vg_open_alert *a = &c->alerts[c->nalerts];
		const char *kind = PQgetvalue(r, i, 1);
		long count = strtol(PQgetvalue(r, i, 8), NULL, 10);

		vg_strlcpy(a->alert_id, PQgetvalue(r, i, 0), sizeof(a->alert_id));
		vg_strlcpy(a->device, PQgetvalue(r, i, 3), sizeof(a->device));
		vg_strlcpy(a->ward, PQgetvalue(r, i, 4), sizeof(a->ward));
		vg_strlcpy(a->bed, PQgetvalue(r, i, 5), sizeof(a->bed));
		vg_strlcpy(a->vital, PQgetvalue(r, i, 6), sizeof(a->vital));
		a->transitions = (uint16_t)(count > 65535 ? 65535 : count);
		a->updated_ms = strtoll(PQgetvalue(r, i, 10), NULL, 10);
		if(!strcmp(kind, "threshold")){
			a->kind = VG_AK_THRESHOLD;
			a->level = !strcmp(PQgetvalue(r, i, 7), "low") ? 1 : 2;
		}else if(!strcmp(kind, "news2")){
			a->kind = VG_AK_NEWS2;
			a->level = (uint8_t)band_of(PQgetvalue(r, i, 2));
		}else{
			a->kind = VG_AK_SILENT;
			a->level = 1;
		}
		vg_strlcpy(a->severity, PQgetvalue(r, i, 2), sizeof(a->severity));
		a->prio = (uint8_t)(vg_prio_parse(PQgetvalue(r, i, 11)) > 0 ? vg_prio_parse(PQgetvalue(r, i, 11)) : 0);
		a->esc_level = (uint8_t)strtoul(PQgetvalue(r, i, 12), NULL, 10);
		a->latched = PQgetvalue(r, i, 13)[0] == '1';
		a->raised_ms = strtoll(PQgetvalue(r, i, 14), NULL, 10);
		a->acked_ms = strtoll(PQgetvalue(r, i, 15), NULL, 10);
		a->cleared_ms = strtoll(PQgetvalue(r, i, 16), NULL, 10);
		vg_strlcpy(a->by, PQgetvalue(r, i, 17), sizeof(a->by));
		vg_strlcpy(a->via, PQgetvalue(r, i, 18), sizeof(a->via));
		if(a->latched && a->level == 0){
			a->level = 1; /* severity none: the alert is held, its condition is not */
		}
		if(a->level != 0 && strlen(a->alert_id) == 27){
			a->body = strdup(PQgetvalue(r, i, 9));
			c->nalerts++;
		}
	}
	PQclear(r);
	return true;
}

static bool load_bed_params(PGconn *conn, const struct vg_scope *scope, int max_age_s, struct vg_bed_param **out,
		size_t *nout, char *err, size_t errlen)
{
	char sql[4096], age[24];
	const char *p[2] = { age, scope && scope->kind == VG_SCOPE_CELL ? scope->cell : NULL };
	size_t len;
	PGresult *r;
	int i, n;

	/* The latest fresh value of each NEWS2 parameter per assigned bed (of
	 * the cell's wards): one index probe per bed and parameter
	 * (vitals_bed_time). */
	len = (size_t)snprintf(sql, sizeof(sql), "SELECT b.ward, b.bed, x.p, x.v, (extract(epoch FROM x.at) * 1000)::bigint "
			"FROM (SELECT DISTINCT ward, bed FROM bed_assignments%s) b CROSS JOIN LATERAL (",
			p[1] ? " WHERE ward IN (SELECT wc.ward FROM ward_cells wc WHERE wc.cell = $2)" : "");
	for(i = 0; i < VG_N2_COUNT; i++){
		const char *col, *pre, *post;
		n2_column(i, &col, &pre, &post);
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, "%s(SELECT %d AS p, %s%s%s AS v, measured_at AS at FROM vitals v "
				"WHERE v.ward = b.ward AND v.bed = b.bed AND v.%s IS NOT NULL AND v.measured_at > now() - $1::int * "
				"interval '1 second' ORDER BY v.measured_at DESC LIMIT 1)", i ? " UNION ALL " : "", i,
				pre, col, post, col);
	}
	snprintf(sql + len, sizeof(sql) - len, ") x");
	snprintf(age, sizeof(age), "%d", max_age_s);
	r = PQexecParams(conn, sql, p[1] ? 2 : 1, NULL, p, NULL, NULL, 0);
	if(r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK){
		vg_pg_errline(r ? PQresultErrorMessage(r) : PQerrorMessage(conn), err, errlen);
		PQclear(r);
		return false;
	}
	n = PQntuples(r);
	*out = calloc((size_t)n + 1, sizeof(**out));
	if(*out == NULL){
		PQclear(r);
		vg_strlcpy(err, "out of memory", errlen);
		return false;
	}
	for(i = 0; i < n; i++){
		struct vg_bed_param *bp = &(*out)[i];
		vg_strlcpy(bp->ward, PQgetvalue(r, i, 0), sizeof(bp->ward));
		vg_strlcpy(bp->bed, PQgetvalue(r, i, 1), sizeof(bp->bed));
		bp->param = (int)strtol(PQgetvalue(r, i, 2), NULL, 10);
		bp->v = strtod(PQgetvalue(r, i, 3), NULL);
		bp->at_ms = strtoll(PQgetvalue(r, i, 4), NULL, 10);
	}
	*nout = (size_t)n;
	PQclear(r);
	return true;
}

bool vg_outbox_post_alert_state(PGconn *conn, const struct vg_scope *scope, struct vg_queue *completions,
		int news2_max_age_s, char *err, size_t errlen)
{
	struct vg_c_alert_state *c = calloc(1, sizeof(*c));

	if(c == NULL){
		vg_strlcpy(err, "out of memory", errlen);
		return false;
	}
	c->base.type = VG_C_ALERT_STATE;
	if(!vg_outbox_read_open_alerts(conn, scope, c, err, errlen)
			|| !load_bed_params(conn, scope, news2_max_age_s, &c->params, &c->nparams, err, errlen)){
		vg_c_alert_state_free(c);
		return false;
	}
	vg_queue_push_force(completions, &c->base);
	return true;
}
