/*
 * idsync: PostgreSQL -> in-memory identities (see idsync.h).
 *
 * DESIGN
 * - One worker thread, one PGconn. States: disconnected (retry with backoff
 *   0.5 s doubling to 10 s) -> connected: LISTEN, full load, post snapshot ->
 *   waiting in poll() on the libpq socket and an eventfd (stop).
 * - A notification names one identity id; the ids gathered in one wake-up
 *   are reloaded with one query (or a full load past 500 ids). An id the
 *   query no longer finds is posted as deleted.
 * - A full reload also runs every 5 minutes as a safety net, and a cheap
 *   query every 30 s notices a dead connection.
 * - Posting uses vg_queue_push_force: identity changes must not be lost,
 *   and they are bounded by the database, not by traffic.
 * - The worker keeps its own copy of every identity (`mirror`) and saves it
 *   to spool_dir/identities.cache after changes (at most once a second),
 *   so a broker that restarts during a database outage can still
 *   authenticate (common/vg_idcache.h).
 * - The loop (idsync_main): connect_with_backoff when there is no
 *   connection, wait_for_work (poll; stop, redrive and reload requests),
 *   read_notifications (what changed), do_work (reload what changed, ping).
 *   A database error drops the connection; the next one starts with a
 *   full load.
 *
 * Thread: start/stop/request_* on the broker thread (request_reload from
 * any); the worker owns its PGconn, its copy of the identities and the
 * cache file. Memory: completions it posts belong to the broker thread.
 */
#include "idsync.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "crlsync.h"
#include "outbox.h"
#include "scope.h"
#include "vg_completion.h"
#include "vg_idcache.h"
#include "vg_idtable.h"
#include "vg_log.h"
#include "vg_pg.h"
#include "vg_sbuf.h"
#include "vg_util.h"

#define MAX_DELTA_IDS 500

struct vg_idsync {
	char *conninfo;
	struct vg_scope scope;
	char *cache_path;
	struct vg_idtable mirror;   /* the worker's own copy, for the cache file */
	bool cache_dirty;
	int64_t cache_written_ms;
	bool cache_failed;
	struct vg_queue *completions;
	pthread_t thread;
	int evfd;                   /* wakes the worker: stop or a redrive request */
	atomic_bool stopping;
	atomic_bool redrive_req;
	atomic_bool reload_req;
	PGconn *conn;
	bool announced_down;
	char *crl_file;             /* plugin_opt_crl_file, or NULL */
	struct vg_crlsync crl;
};

/* Every identity with its bed (a device), its wards (a station) or its
 * cell's wards (a cell's bridge identity), then the scope's filter
 * (scope_filter: $1 is the cell's name). */
static const char *SELECT_IDENTS =
	"SELECT i.id, i.role, i.secret_hash, i.revoked_at IS NOT NULL, b.ward, b.bed, "
	"COALESCE(CASE WHEN i.role = 'cell' THEN (SELECT string_agg(w.ward, ',' ORDER BY w.ward) FROM ward_cells w "
	"JOIN cell_identities c ON c.cell = w.cell WHERE c.identity_id = i.id) "
	"ELSE (SELECT string_agg(s.ward, ',' ORDER BY s.ward) FROM station_wards s WHERE s.station_id = i.id) END, '') "
	"FROM identities i LEFT JOIN bed_assignments b ON b.device_id = i.id";

/* What a broker of each scope loads (bridge/scope.h). A cell: the devices
 * of its wards, the stations bound to one of them, the services; a hub:
 * stations, services and the cells' bridge identities; a broker of every
 * ward: all but the bridge identities (they only ever log in to a hub). */
static const char *scope_filter(enum vg_scope_kind k)
{
	switch(k){
		case VG_SCOPE_CELL:
			return " WHERE (i.role = 'service' OR (i.role = 'device' AND b.ward IN "
				"(SELECT w.ward FROM ward_cells w WHERE w.cell = $1)) OR (i.role = 'station' AND EXISTS "
				"(SELECT 1 FROM station_wards s JOIN ward_cells w ON w.ward = s.ward WHERE s.station_id = i.id "
				"AND w.cell = $1)))";
		case VG_SCOPE_HUB:
			return " WHERE i.role IN ('station', 'service', 'cell')";
		default:
			return " WHERE i.role <> 'cell'";
	}
}

static int count_wards(const char *csv)
{
	int n = 0;

	if(csv[0] == '\0'){
		return 0;
	}
	n = 1;
	for(; *csv; csv++){
		if(*csv == ','){
			n++;
		}
	}
	return n;
}

/* Builds one vg_ident from row i; NULL if the row is unusable (logged). */
static struct vg_ident *row_to_ident(struct vg_idsync *s, PGresult *r, int i)
{
	const char *id = PQgetvalue(r, i, 0);
	const char *role = PQgetvalue(r, i, 1);
	const char *hash = PQgetvalue(r, i, 2);
	const char *wards = PQgetvalue(r, i, 6);
	int nwards = count_wards(wards);
	struct vg_ident *e;
	int k = 0;
	const char *p;

	if(nwards > 1000){
		nwards = 1000;
	}
	e = vg_ident_new((uint16_t)nwards);
	if(e == NULL){
		return NULL;
	}
	if(!vg_id_valid(id)){
		vg_post_log(s->completions, VG_LOG_WARNING, "Vitalgate: identity with an invalid id ignored");
		vg_ident_free(e);
		return NULL;
	}
	vg_strlcpy(e->id, id, sizeof(e->id));
	if(!strcmp(role, "device")){
		e->role = VG_ROLE_DEVICE;
	}else if(!strcmp(role, "station")){
		e->role = VG_ROLE_STATION;
	}else if(!strcmp(role, "service")){
		e->role = VG_ROLE_SERVICE;
	}else if(!strcmp(role, "cell")){
		e->role = VG_ROLE_CELL;
	}else{
		vg_post_log(s->completions, VG_LOG_WARNING, "Vitalgate: identity %s has unknown role, ignored", e->id);
		vg_ident_free(e);
		return NULL;
	}
	e->revoked = !strcmp(PQgetvalue(r, i, 3), "t");
	if(!vg_secret_parse(hash, e->salt, e->hash)){
		/* Unusable hash: keep the identity but make it unable to log in. */
		e->revoked = true;
		vg_post_log(s->completions, VG_LOG_WARNING, "Vitalgate: identity %s has a malformed secret hash; refusing it", e->id);
	}
	if(!PQgetisnull(r, i, 4)){
		vg_strlcpy(e->ward, PQgetvalue(r, i, 4), sizeof(e->ward));
		vg_strlcpy(e->bed, PQgetvalue(r, i, 5), sizeof(e->bed));
	}
	for(p = wards; *p && k < nwards; k++){
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if(n > VG_ID_MAX){
			n = VG_ID_MAX;
		}
		memcpy(e->wards[k], p, n);
		e->wards[k][n] = '\0';
		p += comma ? (size_t)(comma - p) + 1 : strlen(p);
	}
	e->nwards = (uint16_t)k;
	return e;
}

/* Mirrors what is about to be posted; the cache is written from here. */
static void mirror_update(struct vg_idsync *s, const struct vg_c_idents *c)
{
	size_t i;

	if(s->cache_path == NULL){
		return;
	}
	if(c->full){
		vg_idtable_destroy(&s->mirror);
		if(vg_idtable_init(&s->mirror, c->n) != 0){
			return;
		}
	}
	for(i = 0; i < c->n; i++){
		struct vg_ident *copy = vg_ident_clone(c->items[i]);
		if(copy && vg_idtable_put(&s->mirror, copy) != 0){
			vg_ident_free(copy);
		}
	}
	for(i = 0; i < c->ndel; i++){
		vg_idtable_remove(&s->mirror, c->deleted[i]);
	}
	s->cache_dirty = true;
}

static void cache_maybe_write(struct vg_idsync *s)
{
	char err[512];
	int64_t now = vg_mono_ms();

	if(s->cache_path == NULL || !s->cache_dirty || now - s->cache_written_ms < 1000){
		return;
	}
	if(vg_idcache_write(s->cache_path, &s->mirror, err, sizeof(err)) != 0){
		if(!s->cache_failed){
			vg_post_log(s->completions, VG_LOG_WARNING, "Vitalgate: cannot save the identity cache: %s", err);
		}
		s->cache_failed = true;
	}else{
		s->cache_failed = false;
	}
	s->cache_dirty = false;
	s->cache_written_ms = now;
}

static bool post_result(struct vg_idsync *s, PGresult *r, bool full, char (*asked)[VG_ID_MAX + 1], size_t nasked)
{
	struct vg_c_idents *c;
	int rows = PQntuples(r), i;
	size_t a;

	c = calloc(1, sizeof(*c));
	if(c == NULL){
		return false;
	}
	c->base.type = VG_C_IDENTS;
	c->full = full;
	c->items = calloc(rows ? (size_t)rows : 1, sizeof(*c->items));
	if(c->items == NULL){
		free(c);
		return false;
	}
	for(i = 0; i < rows; i++){
		struct vg_ident *e = row_to_ident(s, r, i);
		if(e){
			c->items[c->n++] = e;
		}
	}
	if(!full && nasked){
		c->deleted = calloc(nasked, sizeof(*c->deleted));
		if(c->deleted == NULL){
			vg_c_idents_free(c);
			return false;
		}
		for(a = 0; a < nasked; a++){
			bool found = false;
			for(i = 0; i < (int)c->n; i++){
				if(!strcmp(c->items[i]->id, asked[a])){
					found = true;
					break;
				}
			}
			if(!found){
				memcpy(c->deleted[c->ndel++], asked[a], VG_ID_MAX + 1);
			}
		}
	}
	mirror_update(s, c);
	vg_queue_push_force(s->completions, &c->base);
	return true;
}

/* The scope's query for every identity, or (ids: a text[] literal) for
 * those named. */
static PGresult *query_idents(struct vg_idsync *s, const char *ids)
{
	struct vg_sbuf sql;
	const char *params[2];
	int n = 0;
	PGresult *r;

	vg_sbuf_init(&sql);
	vg_sbuf_puts(&sql, SELECT_IDENTS);
	vg_sbuf_puts(&sql, scope_filter(s->scope.kind));
	if(s->scope.kind == VG_SCOPE_CELL){
		params[n++] = s->scope.cell;
	}
	if(ids){
		params[n++] = ids;
		vg_sbuf_printf(&sql, " AND i.id = ANY($%d::text[])", n);
	}
	if(!vg_sbuf_ok(&sql)){
		vg_sbuf_free(&sql);
		return NULL;
	}
	r = PQexecParams(s->conn, sql.p, n, NULL, params, NULL, NULL, 0);
	vg_sbuf_free(&sql);
	return r;
}

static bool full_load(struct vg_idsync *s)
{
	PGresult *r = query_idents(s, NULL);
	bool ok;

	if(r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK){
		char line[400];
		vg_pg_errline(r ? PQresultErrorMessage(r) : PQerrorMessage(s->conn), line, sizeof(line));
		vg_post_log(s->completions, VG_LOG_ERR, "Vitalgate: cannot load identities: %s", line);
		PQclear(r);
		return false;
	}
	ok = post_result(s, r, true, NULL, 0);
	PQclear(r);
	return ok;
}

static bool delta_load(struct vg_idsync *s, char (*ids)[VG_ID_MAX + 1], size_t n)
{
	struct vg_sbuf arr;
	size_t i;
	PGresult *r;
	bool ok;

	vg_sbuf_init(&arr);
	vg_sbuf_putc(&arr, '{');
	for(i = 0; i < n; i++){
		if(i){
			vg_sbuf_putc(&arr, ',');
		}
		vg_sbuf_puts(&arr, ids[i]); /* ids are [A-Za-z0-9_-]: safe in an array literal */
	}
	vg_sbuf_putc(&arr, '}');
	if(!vg_sbuf_ok(&arr)){
		vg_sbuf_free(&arr);
		return false;
	}
	r = query_idents(s, arr.p);
	vg_sbuf_free(&arr);
	if(r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK){
		char line[400];
		vg_pg_errline(r ? PQresultErrorMessage(r) : PQerrorMessage(s->conn), line, sizeof(line));
		vg_post_log(s->completions, VG_LOG_ERR, "Vitalgate: cannot reload identities: %s", line);
		PQclear(r);
		return false;
	}
	ok = post_result(s, r, false, ids, n);
	PQclear(r);
	return ok;
}

static bool num_or_null(PGresult *r, int row, int col, double *out)
{
	if(PQgetisnull(r, row, col)){
		return false;
	}
	*out = strtod(PQgetvalue(r, row, col), NULL);
	return true;
}

/* The entry of ward in cfg, made from the defaults ('*' rows applied) on
 * first use; NULL when out of memory. */
static struct vg_ward_thr *ward_entry(struct vg_alert_cfg *cfg, const char *ward)
{
	size_t k;
	void *p;

	for(k = 0; k < cfg->nwards && strcmp(cfg->wards[k].ward, ward); k++){
	}
	if(k < cfg->nwards){
		return &cfg->wards[k];
	}
	p = realloc(cfg->wards, (cfg->nwards + 1) * sizeof(*cfg->wards));
	if(p == NULL){
		return NULL;
	}
	cfg->wards = p;
	vg_strlcpy(cfg->wards[k].ward, ward, sizeof(cfg->wards[k].ward));
	memcpy(cfg->wards[k].thr, cfg->def, sizeof(cfg->def));
	cfg->wards[k].pol = cfg->pol;
	cfg->nwards++;
	return &cfg->wards[k];
}

/* Loads alert_thresholds, alert_priorities, alert_escalation and
 * bed_settings into a new configuration and posts it. '*' rows override
 * the built-in defaults; a ward's rows override those for that ward; a NULL
 * bound switches that bound off (a NULL after_s: that priority never
 * escalates). */
static bool load_alert_config(struct vg_idsync *s)
{
	struct vg_alert_cfg *cfg = calloc(1, sizeof(*cfg));
	struct vg_c_alert_cfg *c;
	PGresult *r = NULL, *b = NULL, *pr = NULL, *es = NULL;
	int i, pass;
	bool ok = false;

	if(cfg == NULL){
		return false;
	}
	vg_alert_cfg_defaults(cfg);
	r = PQexec(s->conn, "SELECT ward, vital, low::float8, high::float8 FROM alert_thresholds ORDER BY ward = '*' DESC, ward");
	b = PQexec(s->conn, "SELECT ward, bed FROM bed_settings WHERE spo2_scale = 2");
	pr = PQexec(s->conn, "SELECT ward, alert, priority FROM alert_priorities ORDER BY ward, alert <> 'threshold', alert");
	es = PQexec(s->conn, "SELECT ward, priority, COALESCE(after_s, 0), max_level FROM alert_escalation ORDER BY ward");
	if(r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK || b == NULL || PQresultStatus(b) != PGRES_TUPLES_OK
			|| pr == NULL || PQresultStatus(pr) != PGRES_TUPLES_OK || es == NULL || PQresultStatus(es) != PGRES_TUPLES_OK){
		char line[300];
		vg_pg_errline(PQerrorMessage(s->conn), line, sizeof(line));
		vg_post_log(s->completions, VG_LOG_ERR, "Vitalgate: cannot load alert thresholds: %s", line);
		goto done;
	}
	/* Pass 0: the '*' rows into the defaults; pass 1: the wards. */
	for(pass = 0; pass < 2; pass++){
		for(i = 0; i < PQntuples(r); i++){
			const char *ward = PQgetvalue(r, i, 0);
			int v = vg_vital_index(PQgetvalue(r, i, 1));
			struct vg_ward_thr *wt;
			struct vg_thr *t;
			if(v < 0 || (pass == 0) != !strcmp(ward, "*")){
				continue;
			}
			if(pass == 0){
				t = &cfg->def[v];
			}else{
				if((wt = ward_entry(cfg, ward)) == NULL){
					goto done;
				}
				t = &wt->thr[v];
			}
			t->low_on = num_or_null(r, i, 2, &t->low);
			t->high_on = num_or_null(r, i, 3, &t->high);
		}
		for(i = 0; i < PQntuples(pr); i++){
			const char *ward = PQgetvalue(pr, i, 0);
			struct vg_ward_thr *wt = NULL;
			if((pass == 0) != !strcmp(ward, "*")){
				continue;
			}
			if(pass == 1 && (wt = ward_entry(cfg, ward)) == NULL){
				goto done;
			}
			vg_alert_policy_apply(wt ? &wt->pol : &cfg->pol, PQgetvalue(pr, i, 1), vg_prio_parse(PQgetvalue(pr, i, 2)));
		}
		for(i = 0; i < PQntuples(es); i++){
			const char *ward = PQgetvalue(es, i, 0);
			int prio = vg_prio_parse(PQgetvalue(es, i, 1));
			struct vg_ward_thr *wt = NULL;
			struct vg_alarm_esc *e;
			if(prio <= 0 || (pass == 0) != !strcmp(ward, "*")){
				continue;
			}
			if(pass == 1 && (wt = ward_entry(cfg, ward)) == NULL){
				goto done;
			}
			e = wt ? &wt->pol.esc[prio] : &cfg->pol.esc[prio];
			e->after_s = (uint32_t)strtoul(PQgetvalue(es, i, 2), NULL, 10);
			e->max_level = (uint8_t)strtoul(PQgetvalue(es, i, 3), NULL, 10);
		}
	}
	if(PQntuples(b) > 0){
		cfg->scale2 = calloc((size_t)PQntuples(b), sizeof(*cfg->scale2));
		if(cfg->scale2 == NULL){
			goto done;
		}
		for(i = 0; i < PQntuples(b); i++){
			snprintf(cfg->scale2[i], sizeof(cfg->scale2[i]), "%s/%s", PQgetvalue(b, i, 0), PQgetvalue(b, i, 1));
		}
		cfg->nscale2 = (size_t)PQntuples(b);
	}
	c = calloc(1, sizeof(*c));
	if(c == NULL){
		goto done;
	}
	c->base.type = VG_C_ALERT_CFG;
	c->cfg = cfg;
	cfg = NULL;
	vg_queue_push_force(s->completions, &c->base);
	ok = true;
done:
	PQclear(r);
	PQclear(b);
	PQclear(pr);
	PQclear(es);
	vg_alert_cfg_free(cfg);
	return ok;
}

/* "<ward> <cell>" (cell empty: unplaced) -> VG_C_WARD_MOVED. */
static void post_ward_moved(struct vg_idsync *s, const char *payload)
{
	const char *sp = strchr(payload, ' ');
	struct vg_c_ward_moved *c;

	if(sp == NULL || !vg_id_valid_n(payload, (size_t)(sp - payload)) || (sp[1] && !vg_id_valid(sp + 1))){
		return;
	}
	c = calloc(1, sizeof(*c));
	if(c){
		c->base.type = VG_C_WARD_MOVED;
		memcpy(c->ward, payload, (size_t)(sp - payload));
		vg_strlcpy(c->cell, sp + 1, sizeof(c->cell));
		vg_queue_push_force(s->completions, &c->base);
	}
}

static void post_webhook_cmd(struct vg_idsync *s, int enable)
{
	struct vg_c_webhook_cmd *c = calloc(1, sizeof(*c));

	if(c){
		c->base.type = VG_C_WEBHOOK_CMD;
		c->enable = enable;
		vg_queue_push_force(s->completions, &c->base);
	}
}

static bool connect_and_load(struct vg_idsync *s)
{
	char err[512];

	s->conn = vg_pg_connect(s->conninfo, "vitalgate-idsync", err, sizeof(err));
	if(s->conn == NULL){
		if(!s->announced_down){
			vg_post_log(s->completions, VG_LOG_ERR,
					"Vitalgate: identity sync cannot reach PostgreSQL (%s); serving the identities already loaded", err);
			s->announced_down = true;
		}
		return false;
	}
	if(!vg_pg_exec(s->conn, "LISTEN vitalgate_identity; LISTEN vitalgate_config; LISTEN vitalgate_webhook", err, sizeof(err))
			|| (s->crl_file && !vg_pg_exec(s->conn, "LISTEN vitalgate_crl", err, sizeof(err)))
			|| (s->scope.kind != VG_SCOPE_ALL && !vg_pg_exec(s->conn, "LISTEN vitalgate_cells", err, sizeof(err)))
			|| !full_load(s) || !load_alert_config(s)
			|| (s->crl_file && !vg_crlsync_run(&s->crl, s->conn, s->completions))){
		if(!s->announced_down){
			vg_post_log(s->completions, VG_LOG_ERR, "Vitalgate: identity sync failed to start (%s)", err);
			s->announced_down = true;
		}
		PQfinish(s->conn);
		s->conn = NULL;
		return false;
	}
	if(s->announced_down){
		vg_post_log(s->completions, VG_LOG_NOTICE, "Vitalgate: identity sync connected to PostgreSQL again");
	}
	s->announced_down = false;
	return true;
}

/* Waits up to ms for the stop event; true if stop was requested. */
static bool wait_stop(struct vg_idsync *s, int ms)
{
	struct pollfd p = { s->evfd, POLLIN, 0 };
	uint64_t v;

	if(poll(&p, 1, ms) > 0 && read(s->evfd, &v, sizeof(v)) < 0){
		/* EAGAIN: another reader cleared it; nothing to do */
	}
	return atomic_load(&s->stopping);
}

/* What the worker has to do, gathered from notifications and requests
 * between two passes of its loop. */
struct work {
	char (*ids)[VG_ID_MAX + 1];  /* identities named by notifications (MAX_DELTA_IDS) */
	size_t n;
	bool full;                   /* a full identity load (too many ids, SIGHUP) */
	bool config;                 /* thresholds or bed settings changed */
	bool redrive;                /* hand the pending outbox events over again */
	bool crl;                    /* the stored CRLs changed */
	bool pending;                /* look again without sleeping */
	int64_t last_full;           /* the last full load (monotonic) */
	int64_t last_ping;           /* the last statement that proved the connection alive */
};

static void drop_connection(struct vg_idsync *s)
{
	PQfinish(s->conn);
	s->conn = NULL;
}

/* The connection failed: the next one starts with a full load, which
 * covers the identities named so far. */
static void lost(struct vg_idsync *s, struct work *wk)
{
	drop_connection(s);
	wk->n = 0;
	wk->full = false;
}

/* Connects and loads everything, retrying with backoff (0.5 s doubling to
 * 10 s); false when stop was requested meanwhile. */
static bool connect_with_backoff(struct vg_idsync *s, struct work *wk)
{
	int backoff = 0;

	while(!connect_and_load(s)){
		backoff = backoff ? backoff * 2 : 500;
		if(backoff > 10000){
			backoff = 10000;
		}
		if(wait_stop(s, backoff)){
			return false;
		}
	}
	wk->last_full = wk->last_ping = vg_mono_ms();
	s->cache_written_ms = 0;
	cache_maybe_write(s);
	return true;
}

/* Sleeps until the database or the broker has something (at most 1 s, not
 * at all when work is pending), then takes the broker's requests. False on
 * stop. */
static bool wait_for_work(struct vg_idsync *s, struct work *wk)
{
	struct pollfd p[2];

	p[0].fd = s->evfd;
	p[0].events = POLLIN;
	p[1].fd = PQsocket(s->conn);
	p[1].events = POLLIN;
	/* Notifications that arrived while a query ran are already in libpq's
	 * buffer and will not make the socket readable again: only sleep when
	 * none is pending. */
	if(poll(p, 2, wk->pending ? 0 : 1000) < 0 && errno != EINTR){
		return false;
	}
	if(p[0].revents & POLLIN){
		uint64_t v;
		if(read(s->evfd, &v, sizeof(v)) < 0){
			/* cleared already */
		}
		if(atomic_load(&s->stopping)){
			return false;
		}
	}
	if(atomic_exchange(&s->redrive_req, false)){
		wk->redrive = true;
	}
	if(atomic_exchange(&s->reload_req, false)){
		wk->config = true;
		wk->full = true;
	}
	return true;
}

/* Takes the notifications libpq has received into wk. False when the
 * connection is lost. */
static bool read_notifications(struct vg_idsync *s, struct work *wk)
{
	PGnotify *note;

	if(!PQconsumeInput(s->conn)){
		char line[300];
		vg_pg_errline(PQerrorMessage(s->conn), line, sizeof(line));
		vg_post_log(s->completions, VG_LOG_ERR, "Vitalgate: identity sync lost PostgreSQL (%s); keeping the loaded identities", line);
		s->announced_down = true;
		return false;
	}
	wk->pending = false;
	while((note = PQnotifies(s->conn)) != NULL){
		if(!strcmp(note->relname, "vitalgate_config")){
			wk->config = true;
		}else if(!strcmp(note->relname, "vitalgate_crl")){
			wk->crl = true;
		}else if(!strcmp(note->relname, "vitalgate_cells")){
			/* A ward was placed: what this broker serves changed (a cell
			 * gains or loses the ward's devices and stations, a cell
			 * identity's wards change). The broker hears of the move
			 * first, then gets the full snapshot. */
			post_ward_moved(s, note->extra);
			wk->full = true;
		}else if(!strcmp(note->relname, "vitalgate_webhook")){
			if(!strcmp(note->extra, "enable")){
				post_webhook_cmd(s, 1);
				wk->redrive = true;
			}else if(!strcmp(note->extra, "redrive")){
				wk->redrive = true;
			}
		}else if(vg_id_valid(note->extra)){
			size_t k;
			bool dup = false;
			for(k = 0; k < wk->n; k++){
				if(!strcmp(wk->ids[k], note->extra)){
					dup = true;
					break;
				}
			}
			if(!dup){
				if(wk->n < MAX_DELTA_IDS){
					vg_strlcpy(wk->ids[wk->n++], note->extra, VG_ID_MAX + 1);
				}else{
					wk->full = true;
				}
			}
		}
		PQfreemem(note);
	}
	return true;
}

/* Does what wk asks for, and every 5 minutes a full reload (a safety net),
 * every 30 s a cheap query that notices a dead connection. False on a
 * database error (the caller reconnects). */
static bool do_work(struct vg_idsync *s, struct work *wk)
{
	int64_t now = vg_mono_ms();
	bool full = wk->full || now - wk->last_full > 300000;

	if(wk->config){
		wk->config = false;
		if(!load_alert_config(s)){
			return false;
		}
		wk->pending = true;
	}
	if(wk->redrive){
		char line[300];
		size_t posted;
		wk->redrive = false;
		if(!vg_outbox_post_pending(s->conn, &s->scope, s->completions, &posted, line, sizeof(line))){
			vg_post_log(s->completions, VG_LOG_ERR, "Vitalgate: cannot read the alert outbox for a redrive: %s", line);
			return false;
		}
		wk->pending = true;
	}
	if(wk->crl || (s->crl_file && full)){
		wk->crl = false;
		if(s->crl_file && !vg_crlsync_run(&s->crl, s->conn, s->completions)){
			return false;
		}
	}
	if(full){
		if(!full_load(s)){
			return false;
		}
		wk->last_full = wk->last_ping = now;
		wk->pending = true;
	}else if(wk->n > 0){
		if(!delta_load(s, wk->ids, wk->n)){
			return false;
		}
		wk->last_ping = now;
		wk->pending = true; /* look again at once: the query may have brought more */
	}else if(now - wk->last_ping > 30000){
		char err[256];
		if(!vg_pg_exec(s->conn, "SELECT 1", err, sizeof(err))){
			return false;
		}
		wk->last_ping = now;
	}
	wk->full = false;
	wk->n = 0;
	return true;
}

static void *idsync_main(void *arg)
{
	struct vg_idsync *s = arg;
	struct work wk;

	memset(&wk, 0, sizeof(wk));
	wk.ids = calloc(MAX_DELTA_IDS, VG_ID_MAX + 1);
	if(wk.ids == NULL){
		vg_post_log(s->completions, VG_LOG_ERR, "Vitalgate: identity sync out of memory");
		return NULL;
	}
	for(;;){
		if(s->conn == NULL && !connect_with_backoff(s, &wk)){
			break;
		}
		if(!wait_for_work(s, &wk)){
			break;
		}
		if(!read_notifications(s, &wk)){
			lost(s, &wk);
			continue;
		}
		cache_maybe_write(s);
		if(!do_work(s, &wk)){
			lost(s, &wk);
		}
	}
	free(wk.ids);
	s->cache_written_ms = 0;
	cache_maybe_write(s);
	if(s->conn){
		drop_connection(s);
	}
	return NULL;
}

int vg_idsync_start(struct vg_idsync **out, const char *conninfo, const struct vg_scope *scope, const char *cache_path,
		const char *crl_file, struct vg_queue *completions, char *err, size_t errlen)
{
	struct vg_idsync *s = calloc(1, sizeof(*s));

	*out = NULL;
	if(s == NULL || (crl_file && (s->crl_file = strdup(crl_file)) == NULL)){
		free(s);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->scope = *scope;
	s->crl.path = s->crl_file;
	if(cache_path){
		s->cache_path = strdup(cache_path);
		if(s->cache_path == NULL || vg_idtable_init(&s->mirror, 1024) != 0){
			free(s->cache_path);
			free(s->crl_file);
			free(s);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	s->completions = completions;
	s->conninfo = strdup(conninfo);
	s->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if(s->conninfo == NULL || s->evfd < 0){
		snprintf(err, errlen, "cannot set up identity sync: %s", strerror(errno));
		goto error;
	}
	if(pthread_create(&s->thread, NULL, idsync_main, s) != 0){
		snprintf(err, errlen, "cannot start the identity sync thread");
		goto error;
	}
	*out = s;
	return 0;
error:
	if(s->evfd >= 0){
		close(s->evfd);
	}
	vg_idtable_destroy(&s->mirror);
	free(s->cache_path);
	free(s->conninfo);
	free(s->crl_file);
	free(s);
	return -1;
}

void vg_idsync_request_redrive(struct vg_idsync *s)
{
	uint64_t one = 1;

	if(s == NULL){
		return;
	}
	atomic_store(&s->redrive_req, true);
	if(write(s->evfd, &one, sizeof(one)) != sizeof(one)){
		/* the counter cannot overflow in practice; the worker polls anyway */
	}
}

void vg_idsync_request_reload(struct vg_idsync *s)
{
	uint64_t one = 1;

	if(s == NULL){
		return;
	}
	atomic_store(&s->reload_req, true);
	if(write(s->evfd, &one, sizeof(one)) != sizeof(one)){
		/* the worker polls anyway */
	}
}

void vg_idsync_stop(struct vg_idsync *s)
{
	uint64_t one = 1;

	if(s == NULL){
		return;
	}
	atomic_store(&s->stopping, true);
	if(write(s->evfd, &one, sizeof(one)) != sizeof(one)){
		/* eventfd write cannot fail short of overflow; poll times out anyway */
	}
	pthread_join(s->thread, NULL);
	close(s->evfd);
	vg_idtable_destroy(&s->mirror);
	free(s->cache_path);
	free(s->conninfo);
	free(s->crl_file);
	free(s);
}
