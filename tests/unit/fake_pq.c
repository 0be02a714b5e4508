/*
 * fake_pq: see fake_pq.h. Test-only.
 * Thread: any (one mutex). Memory: results, rows and the connection come
 * from the real allocator (see fmalloc) and are freed by PQclear,
 * PQfinish and fake_pq_reset.
 */
#include "fake_pq.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "vg_migrations.h"

/* With -Wl,--wrap=malloc the test's own failures must not reach the fake:
 * __real_malloc is then the C library's. Without that wrap it is not
 * defined (weak: NULL) and plain malloc is the real one. */
extern void *__real_malloc(size_t n) __attribute__((weak));
extern void *__real_realloc(void *p, size_t n) __attribute__((weak));

static void *fmalloc(size_t n)
{
	void *p = __real_malloc ? __real_malloc(n) : malloc(n);

	if(p == NULL){
		abort();   /* the test machine is out of memory: nothing to test */
	}
	return p;
}

static void *frealloc(void *p, size_t n)
{
	p = __real_realloc ? __real_realloc(p, n) : realloc(p, n);
	if(p == NULL){
		abort();
	}
	return p;
}

static char *fstrndup(const char *s, size_t n)
{
	char *p = fmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

#define MAX_RULES 16
#define LOST_MSG "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally"
#define STMT_PREFIX 96

struct pg_result {
	ExecStatusType st;
	int ntuples;
	char **vals;            /* one column */
	char cmdtuples[24];
	char sqlstate[6];
	char errmsg[256];
};

struct pg_conn {
	bool bad;
	bool in_copy;
	char copy_table[64];
	enum fake_pq_action copy_fate;  /* 0, FAKE_PQ_COPY_LOST or FAKE_PQ_COPY_FAIL */
	const struct fake_pq_rule *copy_rule;
	char *copybuf;
	size_t copylen, copycap;
	PGresult *copy_result;  /* what PQgetResult returns after PQputCopyEnd */
	char errmsg[256];
};

struct row {
	char table[64];
	char *line;
};

struct rows {
	struct row *v;
	size_t n, cap;
};

static struct {
	pthread_mutex_t mu;
	struct fake_pq_rule rules[MAX_RULES];
	int seen[MAX_RULES], fired[MAX_RULES];
	size_t nrules;
	bool refuse;
	int schema_version;     /* INT_MIN: the embedded migration count */
	bool tx_open;
	bool tx_aborted;
	struct rows pending, committed;
	struct rows stmts;      /* the first STMT_PREFIX characters of each statement */
	size_t commits;
	size_t connects;
	long long seq;          /* audit_log_id_seq: not transactional, as PostgreSQL's */
} F = { .mu = PTHREAD_MUTEX_INITIALIZER, .schema_version = INT_MIN, .seq = 1000 };

PGconn *__wrap_PQconnectdbParams(const char *const *keywords, const char *const *values, int expand_dbname);
ConnStatusType __wrap_PQstatus(const PGconn *conn);
void __wrap_PQfinish(PGconn *conn);
PGresult *__wrap_PQexec(PGconn *conn, const char *query);
PGresult *__wrap_PQexecParams(PGconn *conn, const char *command, int nParams, const Oid *paramTypes,
		const char *const *paramValues, const int *paramLengths, const int *paramFormats, int resultFormat);
ExecStatusType __wrap_PQresultStatus(const PGresult *res);
void __wrap_PQclear(PGresult *res);
int __wrap_PQntuples(const PGresult *res);
char *__wrap_PQgetvalue(const PGresult *res, int tup_num, int field_num);
char *__wrap_PQcmdTuples(PGresult *res);
char *__wrap_PQresultErrorField(const PGresult *res, int fieldcode);
char *__wrap_PQresultErrorMessage(const PGresult *res);
char *__wrap_PQerrorMessage(const PGconn *conn);
int __wrap_PQputCopyData(PGconn *conn, const char *buffer, int nbytes);
int __wrap_PQputCopyEnd(PGconn *conn, const char *errormsg);
PGresult *__wrap_PQgetResult(PGconn *conn);
unsigned char *__wrap_PQunescapeBytea(const unsigned char *strtext, size_t *retbuflength);
void __wrap_PQfreemem(void *ptr);

/* ---- rows ------------------------------------------------------------------ */

static void rows_clear(struct rows *r)
{
	size_t i;

	for(i = 0; i < r->n; i++){
		free(r->v[i].line);
	}
	free(r->v);
	memset(r, 0, sizeof(*r));
}

static void rows_add(struct rows *r, const char *table, const char *line, size_t len)
{
	if(r->n == r->cap){
		size_t cap = r->cap ? r->cap * 2 : 64;
		r->v = frealloc(r->v, cap * sizeof(*r->v));
		r->cap = cap;
	}
	snprintf(r->v[r->n].table, sizeof(r->v[r->n].table), "%s", table);
	r->v[r->n].line = fstrndup(line, len);
	r->n++;
}

/* Column col of a tab-separated line: its start, *len its length; NULL if
 * the line has fewer columns. */
static const char *field(const char *line, int col, size_t *len)
{
	const char *p = line, *e;

	while(col-- > 0){
		p = strchr(p, '\t');
		if(p == NULL){
			return NULL;
		}
		p++;
	}
	e = strchr(p, '\t');
	*len = e ? (size_t)(e - p) : strlen(p);
	return p;
}

static bool field_is(const char *line, int col, const char *value, size_t vlen)
{
	size_t n;
	const char *f = field(line, col, &n);

	return f && n == vlen && memcmp(f, value, n) == 0;
}

/* Has a row of table (in r) the same key columns as line? */
static bool rows_have_key(const struct rows *r, const char *table, const char *line, const int *keys, int nkeys)
{
	size_t i, n;
	int k;

	for(i = 0; i < r->n; i++){
		if(strcmp(r->v[i].table, table) != 0){
			continue;
		}
		for(k = 0; k < nkeys; k++){
			const char *f = field(line, keys[k], &n);
			if(f == NULL || !field_is(r->v[i].line, keys[k], f, n)){
				break;
			}
		}
		if(k == nkeys){
			return true;
		}
	}
	return false;
}

/* Under F.mu: where a statement's rows go (its transaction's, or stored at
 * once outside one). */
static struct rows *target(void)
{
	return F.tx_open ? &F.pending : &F.committed;
}

static bool stored_key(const char *table, const char *line, const int *keys, int nkeys)
{
	return rows_have_key(&F.committed, table, line, keys, nkeys) || rows_have_key(&F.pending, table, line, keys, nkeys);
}

/* Under F.mu: the transaction's rows become committed. */
static void commit_pending(void)
{
	size_t i;

	for(i = 0; i < F.pending.n; i++){
		rows_add(&F.committed, F.pending.v[i].table, F.pending.v[i].line, strlen(F.pending.v[i].line));
	}
	rows_clear(&F.pending);
	F.commits++;
}

/* ---- results ----------------------------------------------------------------- */

static PGresult *result(ExecStatusType st)
{
	PGresult *r = fmalloc(sizeof(*r));

	memset(r, 0, sizeof(*r));
	r->st = st;
	snprintf(r->cmdtuples, sizeof(r->cmdtuples), "0");
	return r;
}

/* sqlstate NULL: an error of the client library (a lost connection), with
 * no SQLSTATE, as libpq reports those. */
static PGresult *error_result(const char *sqlstate, const char *msg)
{
	PGresult *r = result(PGRES_FATAL_ERROR);

	snprintf(r->sqlstate, sizeof(r->sqlstate), "%s", sqlstate ? sqlstate : "");
	snprintf(r->errmsg, sizeof(r->errmsg), "%s%s\n", sqlstate ? "ERROR:  " : "", msg);
	return r;
}

static void add_value(PGresult *r, const char *v, size_t n)
{
	r->vals = frealloc(r->vals, (size_t)(r->ntuples + 1) * sizeof(*r->vals));
	r->vals[r->ntuples++] = fstrndup(v, n);
}

static PGresult *one_value(long long v)
{
	PGresult *r = result(PGRES_TUPLES_OK);
	char buf[24];

	add_value(r, buf, (size_t)snprintf(buf, sizeof(buf), "%lld", v));
	return r;
}

/* ---- the control API --------------------------------------------------------- */

void fake_pq_reset(void)
{
	pthread_mutex_lock(&F.mu);
	rows_clear(&F.pending);
	rows_clear(&F.committed);
	rows_clear(&F.stmts);
	F.nrules = 0;
	F.refuse = false;
	F.schema_version = INT_MIN;
	F.tx_open = false;
	F.tx_aborted = false;
	F.commits = 0;
	F.connects = 0;
	pthread_mutex_unlock(&F.mu);
}

void fake_pq_script(const struct fake_pq_rule *rules, size_t n)
{
	pthread_mutex_lock(&F.mu);
	F.nrules = n < MAX_RULES ? n : MAX_RULES;
	if(F.nrules){
		memcpy(F.rules, rules, F.nrules * sizeof(*rules));
	}
	memset(F.seen, 0, sizeof(F.seen));
	memset(F.fired, 0, sizeof(F.fired));
	pthread_mutex_unlock(&F.mu);
}

int fake_pq_fired(size_t i)
{
	int n;

	pthread_mutex_lock(&F.mu);
	n = i < F.nrules ? F.fired[i] : 0;
	pthread_mutex_unlock(&F.mu);
	return n;
}

void fake_pq_refuse_connections(bool refuse)
{
	pthread_mutex_lock(&F.mu);
	F.refuse = refuse;
	pthread_mutex_unlock(&F.mu);
}

void fake_pq_set_schema_version(int version)
{
	pthread_mutex_lock(&F.mu);
	F.schema_version = version;
	pthread_mutex_unlock(&F.mu);
}

size_t fake_pq_committed_count(const char *table, int col, const char *value)
{
	size_t i, n = 0, vlen = value ? strlen(value) : 0;

	pthread_mutex_lock(&F.mu);
	for(i = 0; i < F.committed.n; i++){
		const char *line = F.committed.v[i].line;
		int c;
		if(strcmp(F.committed.v[i].table, table) != 0){
			continue;
		}
		if(value == NULL || (col >= 0 && field_is(line, col, value, vlen))){
			n++;
			continue;
		}
		for(c = 0; col < 0 && field(line, c, &(size_t){ 0 }) != NULL; c++){
			if(field_is(line, c, value, vlen)){
				n++;
				break;
			}
		}
	}
	pthread_mutex_unlock(&F.mu);
	return n;
}

bool fake_pq_committed_has(const char *table, int col, const char *value)
{
	return fake_pq_committed_count(table, col, value) > 0;
}

size_t fake_pq_committed_rows(const char *table)
{
	return fake_pq_committed_count(table, -1, NULL);
}

static size_t read_locked(const size_t *counter)
{
	size_t n;

	pthread_mutex_lock(&F.mu);
	n = *counter;
	pthread_mutex_unlock(&F.mu);
	return n;
}

size_t fake_pq_commits(void)
{
	return read_locked(&F.commits);
}

size_t fake_pq_connects(void)
{
	return read_locked(&F.connects);
}

size_t fake_pq_statements(void)
{
	return read_locked(&F.stmts.n);
}

size_t fake_pq_statements_matching(const char *match)
{
	size_t i, n = 0;

	pthread_mutex_lock(&F.mu);
	for(i = 0; i < F.stmts.n; i++){
		n += strstr(F.stmts.v[i].line, match) != NULL;
	}
	pthread_mutex_unlock(&F.mu);
	return n;
}

static long long id_of(const char *line)
{
	return strtoll(line, NULL, 10);
}

static int by_id(const void *a, const void *b)
{
	long long x = id_of(*(const char *const *)a), y = id_of(*(const char *const *)b);

	return x < y ? -1 : x > y;
}

bool fake_pq_audit_chain_ok(char *why, size_t whylen)
{
	const char **v;
	size_t i, n = 0, plen = 0, hlen = 0;
	char zeros[3 + 64 + 1];
	bool ok = true;

	snprintf(zeros, sizeof(zeros), "\\\\x%064d", 0);
	pthread_mutex_lock(&F.mu);
	v = fmalloc((F.committed.n + 1) * sizeof(*v));
	for(i = 0; i < F.committed.n; i++){
		if(strcmp(F.committed.v[i].table, "audit_log") == 0){
			v[n++] = F.committed.v[i].line;
		}
	}
	qsort(v, n, sizeof(*v), by_id);
	for(i = 0; i < n && ok; i++){
		const char *prev = field(v[i], 11, &plen);
		const char *want = i ? field(v[i - 1], 12, &hlen) : zeros;
		if(i == 0){
			hlen = strlen(zeros);
		}
		if(prev == NULL || want == NULL || plen != hlen || memcmp(prev, want, plen) != 0){
			snprintf(why, whylen, "audit row id %lld: prev_hash is not the hash of the row before it", id_of(v[i]));
			ok = false;
		}
	}
	free(v);
	pthread_mutex_unlock(&F.mu);
	return ok;
}

/* ---- the connection ------------------------------------------------------------ */

/* Under F.mu: the server is gone; its open transaction with it. */
static void lose(PGconn *conn)
{
	conn->bad = true;
	snprintf(conn->errmsg, sizeof(conn->errmsg), "%s\n", LOST_MSG);
	rows_clear(&F.pending);
	F.tx_open = false;
	F.tx_aborted = false;
}

PGconn *__wrap_PQconnectdbParams(const char *const *keywords, const char *const *values, int expand_dbname)
{
	PGconn *c = fmalloc(sizeof(*c));

	(void)keywords;
	(void)values;
	(void)expand_dbname;
	memset(c, 0, sizeof(*c));
	pthread_mutex_lock(&F.mu);
	F.connects++;
	if(F.refuse){
		c->bad = true;
		snprintf(c->errmsg, sizeof(c->errmsg),
				"connection to server at \"127.0.0.1\", port 5432 failed: Connection refused (fake_pq)\n");
	}
	F.tx_open = false;
	F.tx_aborted = false;
	rows_clear(&F.pending);
	pthread_mutex_unlock(&F.mu);
	return c;
}

ConnStatusType __wrap_PQstatus(const PGconn *conn)
{
	return conn == NULL || conn->bad ? CONNECTION_BAD : CONNECTION_OK;
}

void __wrap_PQfinish(PGconn *conn)
{
	if(conn == NULL){
		return;
	}
	pthread_mutex_lock(&F.mu);
	rows_clear(&F.pending);   /* an open transaction is rolled back */
	F.tx_open = false;
	F.tx_aborted = false;
	pthread_mutex_unlock(&F.mu);
	free(conn->copybuf);
	__wrap_PQclear(conn->copy_result);
	free(conn);
}

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Under F.mu: the rule that fires on this statement, if any. */
static const struct fake_pq_rule *rule_for(const char *query)
{
	const struct fake_pq_rule *hit = NULL;
	size_t i;

	for(i = 0; i < F.nrules; i++){
		const struct fake_pq_rule *r = &F.rules[i];
		int nth = r->nth > 1 ? r->nth : 1;
		if(r->match && strncmp(query, r->match, strlen(r->match)) != 0){
			continue;
		}
		F.seen[i]++;
		if(hit == NULL && F.seen[i] >= nth && (r->times < 0 || F.fired[i] < (r->times ? r->times : 1))){
			F.fired[i]++;
			hit = r;
		}
	}
	return hit;
}

static PGresult *rule_error(const struct fake_pq_rule *r)
{
	return error_result(r->sqlstate ? r->sqlstate : "XX000", r->message ? r->message : "injected failure (fake_pq)");
}

/* The writer's INSERT INTO vitals ... SELECT FROM vg_stage_vitals: one row
 * per (device_id, seq) not stored yet; answers how many. */
static PGresult *insert_vitals(void)
{
	static const int key[] = { 0, 1 };
	struct rows *dst = target();
	long long n = 0;
	size_t i, dl, sl;
	char line[256];

	for(i = 0; i < F.pending.n; i++){
		const char *s = F.pending.v[i].line, *dev, *seq;
		if(strcmp(F.pending.v[i].table, "vg_stage_vitals") != 0){
			continue;
		}
		dev = field(s, 1, &dl);
		seq = field(s, 2, &sl);
		if(dev == NULL || seq == NULL){
			continue;
		}
		snprintf(line, sizeof(line), "%.*s\t%.*s", (int)dl, dev, (int)sl, seq);
		if(!stored_key("vitals", line, key, 2)){
			rows_add(dst, "vitals", line, strlen(line));
			n++;
		}
	}
	return one_value(n);
}

/* INSERT INTO dst ... SELECT FROM src ON CONFLICT (keys) DO NOTHING. */
static PGresult *insert_keyed(const char *src, const char *dst, const int *keys, int nkeys)
{
	PGresult *r = result(PGRES_COMMAND_OK);
	size_t i, n = 0, m = F.pending.n;

	for(i = 0; i < m; i++){
		if(strcmp(F.pending.v[i].table, src) == 0 && !stored_key(dst, F.pending.v[i].line, keys, nkeys)){
			rows_add(target(), dst, F.pending.v[i].line, strlen(F.pending.v[i].line));
			n++;
		}
	}
	snprintf(r->cmdtuples, sizeof(r->cmdtuples), "%zu", n);
	return r;
}

static void audit_lsns_from(PGresult *r, const struct rows *rows, const char *jid, size_t jlen, long long lo,
		long long hi)
{
	size_t i, n;

	for(i = 0; i < rows->n; i++){
		const char *lsn;
		if(strcmp(rows->v[i].table, "audit_log") != 0 || !field_is(rows->v[i].line, 9, jid, jlen)){
			continue;
		}
		lsn = field(rows->v[i].line, 10, &n);
		if(lsn && strtoll(lsn, NULL, 10) >= lo && strtoll(lsn, NULL, 10) <= hi){
			add_value(r, lsn, n);
		}
	}
}

/* SELECT lsn FROM audit_log WHERE journal_id = '<jid>' AND lsn BETWEEN lo AND hi */
static PGresult *audit_lsns(const char *query)
{
	PGresult *r = result(PGRES_TUPLES_OK);
	const char *j = strstr(query, "journal_id = '"), *e, *b;
	long long lo, hi;

	if(j == NULL || (e = strchr(j + 14, '\'')) == NULL || (b = strstr(e, "BETWEEN ")) == NULL){
		return r;
	}
	j += 14;
	lo = strtoll(b + 8, (char **)&b, 10);
	b = strstr(b, "AND ");
	hi = b ? strtoll(b + 4, NULL, 10) : lo;
	audit_lsns_from(r, &F.committed, j, (size_t)(e - j), lo, hi);
	audit_lsns_from(r, &F.pending, j, (size_t)(e - j), lo, hi);
	return r;
}

/* SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1: bytea, hex output
 * ("\x..."; the COPY text had the backslash doubled). */
static PGresult *audit_head(void)
{
	PGresult *r = result(PGRES_TUPLES_OK);
	const char *best = NULL;
	const struct rows *sets[2] = { &F.committed, &F.pending };
	size_t i, k, n;

	for(k = 0; k < 2; k++){
		for(i = 0; i < sets[k]->n; i++){
			if(strcmp(sets[k]->v[i].table, "audit_log") == 0 && (best == NULL || id_of(sets[k]->v[i].line) > id_of(best))){
				best = sets[k]->v[i].line;
			}
		}
	}
	if(best){
		const char *h = field(best, 12, &n);
		if(h && n > 1 && h[0] == '\\' && h[1] == '\\'){
			h++;
			n--;
		}
		if(h){
			add_value(r, h, n);
		}
	}
	return r;
}

/* Under F.mu: a statement on a live connection in a transaction that is not
 * aborted (or none), with no failure scripted before it. */
static PGresult *execute(PGconn *conn, const char *query, const struct fake_pq_rule *rule)
{
	static const int event_key[] = { 0 }, rejection_key[] = { 8, 9 };
	PGresult *r;
	long long n, i;

	if(starts(query, "COPY ")){
		size_t k = 0;
		const char *p = query + 5;
		while(p[k] && p[k] != ' ' && k + 1 < sizeof(conn->copy_table)){
			conn->copy_table[k] = p[k];
			k++;
		}
		conn->copy_table[k] = '\0';
		conn->in_copy = true;
		conn->copylen = 0;
		conn->copy_fate = rule && (rule->action == FAKE_PQ_COPY_LOST || rule->action == FAKE_PQ_COPY_FAIL)
			? rule->action : 0;
		conn->copy_rule = rule;
		return result(PGRES_COPY_IN);
	}
	if(starts(query, "WITH ins AS (INSERT INTO vitals ")){
		return insert_vitals();
	}
	if(starts(query, "INSERT INTO alert_events ")){
		return insert_keyed("vg_stage_events", "alert_events", event_key, 1);
	}
	if(starts(query, "INSERT INTO rejections ")){
		return insert_keyed("vg_stage_rejections", "rejections", rejection_key, 2);
	}
	if(starts(query, "SELECT COALESCE(max(version), 0) FROM schema_migrations")){
		if(F.schema_version < 0 && F.schema_version != INT_MIN){
			F.tx_aborted = F.tx_open;
			return error_result("42P01", "relation \"schema_migrations\" does not exist");
		}
		return one_value(F.schema_version == INT_MIN ? vg_migration_count : F.schema_version);
	}
	if(starts(query, "SELECT nextval(") && strstr(query, "generate_series(1, ")){
		n = strtoll(strstr(query, "generate_series(1, ") + 19, NULL, 10);
		r = result(PGRES_TUPLES_OK);
		for(i = 0; i < n; i++){
			char buf[24];
			add_value(r, buf, (size_t)snprintf(buf, sizeof(buf), "%lld", F.seq++));
		}
		return r;
	}
	if(starts(query, "SELECT lsn FROM audit_log ")){
		return audit_lsns(query);
	}
	if(starts(query, "SELECT hash FROM audit_log ")){
		return audit_head();
	}
	if(starts(query, "SELECT")){
		return result(PGRES_TUPLES_OK);
	}
	return result(PGRES_COMMAND_OK);
}

PGresult *__wrap_PQexec(PGconn *conn, const char *query)
{
	const struct fake_pq_rule *rule;
	PGresult *r;

	if(conn == NULL || conn->bad || query == NULL){
		return NULL;   /* as libpq: no result, the error is in PQerrorMessage */
	}
	pthread_mutex_lock(&F.mu);
	rows_add(&F.stmts, "", query, strnlen(query, STMT_PREFIX));
	rule = rule_for(query);
	if(rule && rule->action == FAKE_PQ_DROP){
		lose(conn);
		pthread_mutex_unlock(&F.mu);
		return error_result(NULL, LOST_MSG);
	}
	if(starts(query, "BEGIN")){
		rows_clear(&F.pending);
		F.tx_open = true;
		F.tx_aborted = false;
		r = result(PGRES_COMMAND_OK);
	}else if(starts(query, "COMMIT") && rule && rule->action == FAKE_PQ_FAIL){
		/* A COMMIT that fails (serialization, a deferred constraint) rolls
		 * the transaction back. */
		rows_clear(&F.pending);
		F.tx_open = false;
		F.tx_aborted = false;
		r = rule_error(rule);
	}else if(starts(query, "COMMIT")){
		if(!F.tx_aborted){
			commit_pending();
		}
		rows_clear(&F.pending);
		F.tx_open = false;
		F.tx_aborted = false;
		r = result(PGRES_COMMAND_OK);
	}else if(starts(query, "ROLLBACK")){
		rows_clear(&F.pending);
		F.tx_open = false;
		F.tx_aborted = false;
		r = result(PGRES_COMMAND_OK);
	}else if(F.tx_aborted){
		r = error_result("25P02", "current transaction is aborted, commands ignored until end of transaction block");
	}else if(rule && rule->action == FAKE_PQ_FAIL){
		F.tx_aborted = F.tx_open;
		r = rule_error(rule);
	}else{
		r = execute(conn, query, rule);
	}
	if(rule && rule->action == FAKE_PQ_DROP_AFTER){
		/* It ran; its answer never comes. */
		__wrap_PQclear(r);
		conn->in_copy = false;
		lose(conn);
		r = error_result(NULL, LOST_MSG);
	}
	pthread_mutex_unlock(&F.mu);
	return r;
}

PGresult *__wrap_PQexecParams(PGconn *conn, const char *command, int nParams, const Oid *paramTypes,
		const char *const *paramValues, const int *paramLengths, const int *paramFormats, int resultFormat)
{
	(void)nParams;
	(void)paramTypes;
	(void)paramValues;
	(void)paramLengths;
	(void)paramFormats;
	(void)resultFormat;
	return __wrap_PQexec(conn, command);
}

ExecStatusType __wrap_PQresultStatus(const PGresult *res)
{
	return res ? res->st : PGRES_FATAL_ERROR;
}

void __wrap_PQclear(PGresult *res)
{
	int i;

	if(res == NULL){
		return;
	}
	for(i = 0; i < res->ntuples; i++){
		free(res->vals[i]);
	}
	free(res->vals);
	free(res);
}

int __wrap_PQntuples(const PGresult *res)
{
	return res ? res->ntuples : 0;
}

char *__wrap_PQgetvalue(const PGresult *res, int tup_num, int field_num)
{
	static char empty[1];

	if(res == NULL || tup_num < 0 || tup_num >= res->ntuples || field_num != 0 || res->vals[tup_num] == NULL){
		return empty;
	}
	return res->vals[tup_num];
}

char *__wrap_PQcmdTuples(PGresult *res)
{
	static char zero[] = "0";

	return res ? res->cmdtuples : zero;
}

char *__wrap_PQresultErrorField(const PGresult *res, int fieldcode)
{
	if(res == NULL || fieldcode != PG_DIAG_SQLSTATE || res->st != PGRES_FATAL_ERROR || res->sqlstate[0] == '\0'){
		return NULL;
	}
	return (char *)res->sqlstate;
}

char *__wrap_PQresultErrorMessage(const PGresult *res)
{
	static char empty[1];

	return res ? (char *)res->errmsg : empty;
}

char *__wrap_PQerrorMessage(const PGconn *conn)
{
	static char none[] = "no connection (fake_pq)\n";

	return conn ? (char *)conn->errmsg : none;
}

int __wrap_PQputCopyData(PGconn *conn, const char *buffer, int nbytes)
{
	if(conn == NULL || conn->bad || !conn->in_copy || nbytes < 0){
		return -1;
	}
	if(conn->copylen + (size_t)nbytes > conn->copycap){
		size_t cap = conn->copycap ? conn->copycap : 4096;
		while(cap < conn->copylen + (size_t)nbytes){
			cap *= 2;
		}
		conn->copybuf = frealloc(conn->copybuf, cap);
		conn->copycap = cap;
	}
	memcpy(conn->copybuf + conn->copylen, buffer, (size_t)nbytes);
	conn->copylen += (size_t)nbytes;
	return 1;
}

/* Under F.mu: the rows of the COPY that ended, or an error result. */
static PGresult *copy_rows(PGconn *conn)
{
	static const int audit_key[] = { 9, 10 }, id_key[] = { 0 };
	struct rows rows = { 0 };
	PGresult *r;
	size_t i, start = 0;

	for(i = 0; i < conn->copylen; i++){
		if(conn->copybuf[i] == '\n'){
			rows_add(&rows, conn->copy_table, conn->copybuf + start, i - start);
			start = i + 1;
		}
	}
	if(strcmp(conn->copy_table, "audit_log") == 0){
		/* UNIQUE (journal_id, lsn) and the primary key, checked against what
		 * is stored and the COPY's own earlier rows. */
		for(i = 0; i < rows.n; i++){
			struct rows before = { rows.v, i, i };
			if(stored_key("audit_log", rows.v[i].line, audit_key, 2) || stored_key("audit_log", rows.v[i].line, id_key, 1)
					|| rows_have_key(&before, "audit_log", rows.v[i].line, audit_key, 2)){
				rows_clear(&rows);
				F.tx_aborted = F.tx_open;
				return error_result("23505", "duplicate key value violates unique constraint \"audit_log_journal_id_lsn_key\"");
			}
		}
	}
	for(i = 0; i < rows.n; i++){
		rows_add(target(), rows.v[i].table, rows.v[i].line, strlen(rows.v[i].line));
	}
	r = result(PGRES_COMMAND_OK);
	snprintf(r->cmdtuples, sizeof(r->cmdtuples), "%zu", rows.n);
	rows_clear(&rows);
	return r;
}

int __wrap_PQputCopyEnd(PGconn *conn, const char *errormsg)
{
	char msg[200];

	if(conn == NULL || conn->bad || !conn->in_copy){
		return -1;
	}
	conn->in_copy = false;
	pthread_mutex_lock(&F.mu);
	if(conn->copy_fate == FAKE_PQ_COPY_LOST){
		lose(conn);
		conn->copy_result = error_result(NULL, LOST_MSG);
		pthread_mutex_unlock(&F.mu);
		return -1;
	}
	if(errormsg){
		F.tx_aborted = F.tx_open;
		snprintf(msg, sizeof(msg), "COPY from stdin failed: %s", errormsg);
		conn->copy_result = error_result("57014", msg);
	}else if(conn->copy_fate == FAKE_PQ_COPY_FAIL){
		F.tx_aborted = F.tx_open;
		conn->copy_result = rule_error(conn->copy_rule);
	}else{
		conn->copy_result = copy_rows(conn);
	}
	pthread_mutex_unlock(&F.mu);
	return 1;
}

PGresult *__wrap_PQgetResult(PGconn *conn)
{
	PGresult *r;

	if(conn == NULL){
		return NULL;
	}
	r = conn->copy_result;
	conn->copy_result = NULL;
	return r;
}

static int hexval(unsigned char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* bytea's hex output format ("\x0a1b..."). */
unsigned char *__wrap_PQunescapeBytea(const unsigned char *strtext, size_t *retbuflength)
{
	size_t len = strlen((const char *)strtext), i, n = 0;
	unsigned char *out = fmalloc(len / 2 + 1);

	if(len >= 2 && strtext[0] == '\\' && strtext[1] == 'x'){
		for(i = 2; i + 1 < len; i += 2){
			int hi = hexval(strtext[i]), lo = hexval(strtext[i + 1]);
			if(hi < 0 || lo < 0){
				free(out);
				return NULL;
			}
			out[n++] = (unsigned char)(hi << 4 | lo);
		}
	}
	*retbuflength = n;
	return out;
}

void __wrap_PQfreemem(void *ptr)
{
	free(ptr);
}
