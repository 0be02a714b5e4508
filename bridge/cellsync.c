/*
 * cellsync: a cell's instances learn of each other through PostgreSQL
 * (see cellsync.h).
 *
 * DESIGN
 * - One worker thread, one PGconn (reconnect with backoff 0.5 s doubling
 *   to 10 s). It sleeps on an eventfd (stop, a request) at most until the
 *   next read of the open alerts (every POLL_MS).
 * - Requests from the broker thread sit under `lock`: the highest poll
 *   request number, the device ids to check (at most PRESENCE_MAX at once;
 *   the broker asks again for the others), the ids to look up (at most
 *   LOOKUP_MAX; deduplicated against those looked up within LOOKUP_AGAIN_MS,
 *   and at most LOOKUP_PER_S a second). The worker swaps them out under the
 *   lock and queries outside it.
 * - Each pass: presence checks, lookups, then the open alerts when due or
 *   asked for. A VG_C_MIRROR carries the request number read before its
 *   query began: the broker knows a state read after its request.
 * - A database error drops the connection and what was taken for that
 *   pass (the broker asks again for presence it did not get; a mirror
 *   comes with the next connection).
 *
 * Thread: see cellsync.h. Memory: requests are copied into the struct;
 * completions are allocated here and freed by the broker thread.
 */
#include "cellsync.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "outbox.h"
#include "vg_completion.h"
#include "vg_log.h"
#include "vg_pg.h"
#include "vg_ratelimit.h"
#include "vg_sbuf.h"
#include "vg_util.h"

#define POLL_MS 1000
#define PRESENCE_MAX 4096
#define LOOKUP_MAX 64
#define LOOKUP_RECENT 256
#define LOOKUP_AGAIN_MS 60000
#define LOOKUP_PER_S 20

struct vg_cellsync {
	char *conninfo;
	struct vg_scope scope;
	char journal_id[64];
	struct vg_queue *completions;
	pthread_t thread;
	int evfd;
	atomic_bool stopping;
	PGconn *conn;
	bool announced_down;

	pthread_mutex_t lock;
	uint64_t poll_req;                          /* (lock) highest request number */
	char (*presence)[VG_ID_MAX + 1];            /* (lock) ids to check */
	size_t npresence;
	char lookup[LOOKUP_MAX][VG_ID_MAX + 1];     /* (lock) ids to look up */
	size_t nlookup;
	struct {
		char id[VG_ID_MAX + 1];
		int64_t at_ms;
	} recent[LOOKUP_RECENT];                    /* (lock) looked up lately, a ring */
	size_t recent_next;
	struct vg_ratelimit lookup_rate;            /* (lock) */

	/* The worker's copies of what it took. */
	char (*w_presence)[VG_ID_MAX + 1];
	char w_lookup[LOOKUP_MAX][VG_ID_MAX + 1];
};

static void wake(struct vg_cellsync *s)
{
	uint64_t one = 1;

	if(write(s->evfd, &one, sizeof(one)) != sizeof(one)){
		/* cannot overflow in practice; the worker polls anyway */
	}
}

/* ids as a text[] literal ({a,b}); ids are [A-Za-z0-9_-]: nothing to quote. */
static bool id_array(struct vg_sbuf *b, char (*ids)[VG_ID_MAX + 1], size_t n)
{
	size_t i;

	vg_sbuf_putc(b, '{');
	for(i = 0; i < n; i++){
		if(i){
			vg_sbuf_putc(b, ',');
		}
		vg_sbuf_puts(b, ids[i]);
	}
	vg_sbuf_putc(b, '}');
	return vg_sbuf_ok(b);
}

static void errline(struct vg_cellsync *s, PGresult *r, char *line, size_t len)
{
	vg_pg_errline(r ? PQresultErrorMessage(r) : PQerrorMessage(s->conn), line, len);
}

/* Where the devices last sent: one query, one completion. */
static bool check_presence(struct vg_cellsync *s, size_t n)
{
	struct vg_sbuf arr;
	const char *p[2];
	struct vg_c_presence *c;
	PGresult *r;
	size_t i;
	int k, rows;

	vg_sbuf_init(&arr);
	if(!id_array(&arr, s->w_presence, n)){
		vg_sbuf_free(&arr);
		return true; /* out of memory: the broker asks again */
	}
	p[0] = arr.p;
	p[1] = s->journal_id;
	r = PQexecParams(s->conn, "SELECT device_id, journal_id IS NOT DISTINCT FROM $2, "
			"COALESCE((extract(epoch FROM received_at) * 1000)::bigint, 0) FROM vitals_seq_hwm "
			"WHERE device_id = ANY($1::text[])", 2, NULL, p, NULL, NULL, 0);
	vg_sbuf_free(&arr);
	if(r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK){
		char line[300];
		errline(s, r, line, sizeof(line));
		vg_post_log(s->completions, VG_LOG_ERR, "Vitalgate: cannot read where devices last sent: %s", line);
		PQclear(r);
		return false;
	}
	rows = PQntuples(r);
	c = calloc(1, sizeof(*c) + n * sizeof(c->items[0]));
	if(c == NULL){
		PQclear(r);
		return true;
	}
	c->base.type = VG_C_PRESENCE;
	/* Every id asked about is answered: one with no row never sent. */
	for(i = 0; i < n; i++){
		vg_strlcpy(c->items[i].id, s->w_presence[i], sizeof(c->items[i].id));
		for(k = 0; k < rows; k++){
			if(!strcmp(PQgetvalue(r, k, 0), s->w_presence[i])){
				c->items[i].here = !strcmp(PQgetvalue(r, k, 1), "t");
				c->items[i].received_ms = strtoll(PQgetvalue(r, k, 2), NULL, 10);
				break;
			}
		}
	}
	c->n = n;
	PQclear(r);
	vg_queue_push_force(s->completions, &c->base);
	return true;
}

/* Where clients refused here belong: a log line each. */
static bool lookup(struct vg_cellsync *s, size_t n)
{
	struct vg_sbuf arr;
	const char *p[1];
	PGresult *r;
	size_t i;
	int k, rows;

	vg_sbuf_init(&arr);
	if(!id_array(&arr, s->w_lookup, n)){
		vg_sbuf_free(&arr);
		return true;
	}
	p[0] = arr.p;
	r = PQexecParams(s->conn, "SELECT i.id, i.role, COALESCE(b.ward, ''), COALESCE(w.cell, ''), "
			"COALESCE((SELECT string_agg(DISTINCT x.cell, ',') FROM station_wards st JOIN ward_cells x ON x.ward = st.ward "
			"WHERE st.station_id = i.id), '') FROM identities i LEFT JOIN bed_assignments b ON b.device_id = i.id "
			"LEFT JOIN ward_cells w ON w.ward = b.ward WHERE i.id = ANY($1::text[])", 1, NULL, p, NULL, NULL, 0);
	vg_sbuf_free(&arr);
	if(r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK){
		char line[300];
		errline(s, r, line, sizeof(line));
		vg_post_log(s->completions, VG_LOG_ERR, "Vitalgate: cannot look refused clients up: %s", line);
		PQclear(r);
		return false;
	}
	rows = PQntuples(r);
	for(i = 0; i < n; i++){
		const char *id = s->w_lookup[i];
		for(k = 0; k < rows && strcmp(PQgetvalue(r, k, 0), id); k++){
		}
		if(k == rows){
			vg_post_log(s->completions, VG_LOG_NOTICE, "Vitalgate: cell %s: %s is no identity at all", s->scope.cell, id);
			continue;
		}
		const char *role = PQgetvalue(r, k, 1), *ward = PQgetvalue(r, k, 2), *cell = PQgetvalue(r, k, 3);
		if(!strcmp(role, "device") && ward[0] && cell[0]){
			vg_post_log(s->completions, VG_LOG_NOTICE, "Vitalgate: cell %s: device %s belongs to ward %s on cell %s "
					"(refused here; is HAProxy's map current? vitalgate-admin cells haproxy-map)", s->scope.cell, id, ward,
					cell);
		}else if(!strcmp(role, "device")){
			vg_post_log(s->completions, VG_LOG_NOTICE, "Vitalgate: cell %s: device %s %s%s%s: no cell serves it",
					s->scope.cell, id, ward[0] ? "is in ward " : "has no ward", ward, ward[0] ? ", placed on no cell" : "");
		}else if(!strcmp(role, "station")){
			vg_post_log(s->completions, VG_LOG_NOTICE, "Vitalgate: cell %s: station %s has no ward on this cell (its wards "
					"are on %s)", s->scope.cell, id, PQgetvalue(r, k, 4)[0] ? PQgetvalue(r, k, 4) : "no cell");
		}else{
			vg_post_log(s->completions, VG_LOG_NOTICE, "Vitalgate: cell %s: %s is a %s identity, which logs in to the hub",
					s->scope.cell, id, role);
		}
	}
	PQclear(r);
	return true;
}

static bool mirror(struct vg_cellsync *s, uint64_t gen)
{
	struct vg_c_alert_state *c = calloc(1, sizeof(*c));
	char line[300];

	if(c == NULL){
		return true;
	}
	c->base.type = VG_C_MIRROR;
	c->gen = gen;
	c->at_ms = vg_now_ms();
	if(!vg_outbox_read_open_alerts(s->conn, &s->scope, c, line, sizeof(line))){
		vg_post_log(s->completions, VG_LOG_ERR, "Vitalgate: cannot read the cell's open alerts: %s", line);
		vg_c_alert_state_free(c);
		return false;
	}
	vg_queue_push_force(s->completions, &c->base);
	return true;
}

static bool connect_db(struct vg_cellsync *s)
{
	char err[512];

	s->conn = vg_pg_connect(s->conninfo, "vitalgate-cellsync", err, sizeof(err));
	if(s->conn == NULL){
		if(!s->announced_down){
			vg_post_log(s->completions, VG_LOG_ERR, "Vitalgate: cell sync cannot reach PostgreSQL (%s)", err);
			s->announced_down = true;
		}
		return false;
	}
	if(s->announced_down){
		vg_post_log(s->completions, VG_LOG_NOTICE, "Vitalgate: cell sync connected to PostgreSQL again");
	}
	s->announced_down = false;
	return true;
}

/* Sleeps up to ms for the eventfd; false on stop. */
static bool nap(struct vg_cellsync *s, int ms)
{
	struct pollfd p = { s->evfd, POLLIN, 0 };
	uint64_t v;

	if(poll(&p, 1, ms < 0 ? 0 : ms) > 0 && read(s->evfd, &v, sizeof(v)) < 0){
		/* cleared already */
	}
	return !atomic_load(&s->stopping);
}

static void *cellsync_main(void *arg)
{
	struct vg_cellsync *s = arg;
	uint64_t done = 0;
	int64_t next_poll = 0;
	int backoff = 0;

	while(!atomic_load(&s->stopping)){
		uint64_t req;
		size_t np, nl;
		bool ok = true;

		if(s->conn == NULL){
			if(!connect_db(s)){
				backoff = backoff ? backoff * 2 : 500;
				if(backoff > 10000){
					backoff = 10000;
				}
				nap(s, backoff);
				continue;
			}
			backoff = 0;
			next_poll = 0;
		}
		pthread_mutex_lock(&s->lock);
		req = s->poll_req;
		np = s->npresence;
		nl = s->nlookup;
		memcpy(s->w_presence, s->presence, np * sizeof(*s->presence));
		memcpy(s->w_lookup, s->lookup, nl * sizeof(s->lookup[0]));
		s->npresence = 0;
		s->nlookup = 0;
		pthread_mutex_unlock(&s->lock);
		if(np){
			ok = check_presence(s, np);
		}
		if(ok && nl){
			ok = lookup(s, nl);
		}
		if(ok && (req > done || vg_mono_ms() >= next_poll)){
			ok = mirror(s, req);
			if(ok){
				done = req;
				next_poll = vg_mono_ms() + POLL_MS;
			}
		}
		if(!ok){
			PQfinish(s->conn);
			s->conn = NULL;
			s->announced_down = true;
			continue;
		}
		pthread_mutex_lock(&s->lock);
		bool more = s->poll_req > done || s->npresence || s->nlookup;
		pthread_mutex_unlock(&s->lock);
		if(!more){
			nap(s, (int)(next_poll - vg_mono_ms()));
		}
	}
	if(s->conn){
		PQfinish(s->conn);
		s->conn = NULL;
	}
	return NULL;
}

int vg_cellsync_start(struct vg_cellsync **out, const char *conninfo, const struct vg_scope *scope, const char *journal_id,
		struct vg_queue *completions, char *err, size_t errlen)
{
	struct vg_cellsync *s = calloc(1, sizeof(*s));

	*out = NULL;
	if(s == NULL){
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->scope = *scope;
	vg_strlcpy(s->journal_id, journal_id, sizeof(s->journal_id));
	s->completions = completions;
	s->conninfo = strdup(conninfo);
	s->presence = calloc(PRESENCE_MAX, sizeof(*s->presence));
	s->w_presence = calloc(PRESENCE_MAX, sizeof(*s->w_presence));
	s->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vg_ratelimit_init(&s->lookup_rate, LOOKUP_PER_S, 1000);
	pthread_mutex_init(&s->lock, NULL);
	if(s->conninfo == NULL || s->presence == NULL || s->w_presence == NULL || s->evfd < 0){
		snprintf(err, errlen, "cannot set up the cell sync: %s", strerror(errno ? errno : ENOMEM));
		goto error;
	}
	if(pthread_create(&s->thread, NULL, cellsync_main, s) != 0){
		snprintf(err, errlen, "cannot start the cell sync thread");
		goto error;
	}
	*out = s;
	return 0;
error:
	if(s->evfd >= 0){
		close(s->evfd);
	}
	pthread_mutex_destroy(&s->lock);
	free(s->presence);
	free(s->w_presence);
	free(s->conninfo);
	free(s);
	return -1;
}

void vg_cellsync_stop(struct vg_cellsync *s)
{
	if(s == NULL){
		return;
	}
	atomic_store(&s->stopping, true);
	wake(s);
	pthread_join(s->thread, NULL);
	close(s->evfd);
	pthread_mutex_destroy(&s->lock);
	free(s->presence);
	free(s->w_presence);
	free(s->conninfo);
	free(s);
}

uint64_t vg_cellsync_request_poll(struct vg_cellsync *s)
{
	uint64_t gen;

	pthread_mutex_lock(&s->lock);
	gen = ++s->poll_req;
	pthread_mutex_unlock(&s->lock);
	wake(s);
	return gen;
}

bool vg_cellsync_check_presence(struct vg_cellsync *s, const char *id)
{
	bool ok;

	pthread_mutex_lock(&s->lock);
	ok = s->npresence < PRESENCE_MAX;
	if(ok){
		vg_strlcpy(s->presence[s->npresence++], id, VG_ID_MAX + 1);
	}
	pthread_mutex_unlock(&s->lock);
	if(ok){
		wake(s);
	}
	return ok;
}

void vg_cellsync_lookup(struct vg_cellsync *s, const char *id)
{
	int64_t now = vg_mono_ms();
	size_t i;
	bool take = false;

	if(s == NULL || !vg_id_valid(id)){
		return;
	}
	pthread_mutex_lock(&s->lock);
	for(i = 0; i < LOOKUP_RECENT; i++){
		if(s->recent[i].at_ms && now - s->recent[i].at_ms < LOOKUP_AGAIN_MS && !strcmp(s->recent[i].id, id)){
			break;
		}
	}
	if(i == LOOKUP_RECENT && s->nlookup < LOOKUP_MAX && vg_ratelimit_take(&s->lookup_rate, now, NULL)){
		vg_strlcpy(s->lookup[s->nlookup++], id, VG_ID_MAX + 1);
		vg_strlcpy(s->recent[s->recent_next].id, id, VG_ID_MAX + 1);
		s->recent[s->recent_next].at_ms = now;
		s->recent_next = (s->recent_next + 1) % LOOKUP_RECENT;
		take = true;
	}
	pthread_mutex_unlock(&s->lock);
	if(take){
		wake(s);
	}
}
