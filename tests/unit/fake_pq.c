/*
 * fake_pq: see fake_pq.h. Test-only.
 * Thread: any (one mutex). Memory: results, rows and the connection come
 * from the real allocator (see fmalloc) and are freed by PQclear,
 * PQfinish and fake_pq_reset.
 */
#include "fake_pq.h"

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
	return __real_malloc ? __real_malloc(n) : malloc(n);
}

static void *frealloc(void *p, size_t n)
{
	return __real_realloc ? __real_realloc(p, n) : realloc(p, n);
}

static char *fstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = fmalloc(n);

	if(p){
		memcpy(p, s, n);
	}
	return p;
}

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
	fake_pq_hook hook;
	void *hook_arg;
	bool refuse;
	bool tx_open;
	bool tx_aborted;
	struct rows pending, committed;
	size_t commits;
	size_t statements;
} F = { .mu = PTHREAD_MUTEX_INITIALIZER };

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
		struct row *v = frealloc(r->v, cap * sizeof(*v));
		if(v == NULL){
			abort();   /* the test machine is out of memory: nothing to test */
		}
		r->v = v;
		r->cap = cap;
	}
	snprintf(r->v[r->n].table, sizeof(r->v[r->n].table), "%s", table);
	r->v[r->n].line = fmalloc(len + 1);
	if(r->v[r->n].line == NULL){
		abort();
	}
	memcpy(r->v[r->n].line, line, len);
	r->v[r->n].line[len] = '\0';
	r->n++;
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

static PGresult *result(ExecStatusType st)
{
	PGresult *r = fmalloc(sizeof(*r));

	if(r){
		memset(r, 0, sizeof(*r));
		r->st = st;
		snprintf(r->cmdtuples, sizeof(r->cmdtuples), "0");
	}
	return r;
}

static PGresult *error_result(const char *sqlstate, const char *msg)
{
	PGresult *r = result(PGRES_FATAL_ERROR);

	if(r){
		snprintf(r->sqlstate, sizeof(r->sqlstate), "%s", sqlstate);
		snprintf(r->errmsg, sizeof(r->errmsg), "ERROR:  %s\n", msg);
	}
	return r;
}

static PGresult *tuples(int n, long long first)
{
	PGresult *r = result(PGRES_TUPLES_OK);
	int i;

	if(r == NULL || n == 0){
		return r;
	}
	r->vals = fmalloc((size_t)n * sizeof(*r->vals));
	if(r->vals == NULL){
		free(r);
		return NULL;
	}
	for(i = 0; i < n; i++){
		char buf[24];
		snprintf(buf, sizeof(buf), "%lld", first + i);
		r->vals[i] = fstrdup(buf);
	}
	r->ntuples = n;
	return r;
}

void fake_pq_reset(void)
{
	pthread_mutex_lock(&F.mu);
	rows_clear(&F.pending);
	rows_clear(&F.committed);
	F.hook = NULL;
	F.hook_arg = NULL;
	F.refuse = false;
	F.tx_open = false;
	F.tx_aborted = false;
	F.commits = 0;
	F.statements = 0;
	pthread_mutex_unlock(&F.mu);
}

void fake_pq_set_hook(fake_pq_hook hook, void *arg)
{
	pthread_mutex_lock(&F.mu);
	F.hook = hook;
	F.hook_arg = arg;
	pthread_mutex_unlock(&F.mu);
}

void fake_pq_refuse_connections(bool refuse)
{
	pthread_mutex_lock(&F.mu);
	F.refuse = refuse;
	pthread_mutex_unlock(&F.mu);
}

bool fake_pq_committed_has(const char *table, int col, const char *value)
{
	size_t i, vlen = strlen(value);
	bool found = false;

	pthread_mutex_lock(&F.mu);
	for(i = 0; i < F.committed.n && !found; i++){
		const char *p = F.committed.v[i].line;
		int c = 0;
		if(strcmp(F.committed.v[i].table, table) != 0){
			continue;
		}
		while(p){
			if((col < 0 || c == col) && strncmp(p, value, vlen) == 0 && (p[vlen] == '\t' || p[vlen] == '\0')){
				found = true;
				break;
			}
			if(col >= 0 && c >= col){
				break;
			}
			p = strchr(p, '\t');
			p = p ? p + 1 : NULL;
			c++;
		}
	}
	pthread_mutex_unlock(&F.mu);
	return found;
}

size_t fake_pq_committed_rows(const char *table)
{
	size_t i, n = 0;

	pthread_mutex_lock(&F.mu);
	for(i = 0; i < F.committed.n; i++){
		n += strcmp(F.committed.v[i].table, table) == 0;
	}
	pthread_mutex_unlock(&F.mu);
	return n;
}

size_t fake_pq_commits(void)
{
	size_t n;

	pthread_mutex_lock(&F.mu);
	n = F.commits;
	pthread_mutex_unlock(&F.mu);
	return n;
}

size_t fake_pq_statements(void)
{
	size_t n;

	pthread_mutex_lock(&F.mu);
	n = F.statements;
	pthread_mutex_unlock(&F.mu);
	return n;
}

PGconn *__wrap_PQconnectdbParams(const char *const *keywords, const char *const *values, int expand_dbname)
{
	PGconn *c = fmalloc(sizeof(*c));

	(void)keywords;
	(void)values;
	(void)expand_dbname;
	if(c == NULL){
		return NULL;
	}
	memset(c, 0, sizeof(*c));
	pthread_mutex_lock(&F.mu);
	if(F.refuse){
		c->bad = true;
		snprintf(c->errmsg, sizeof(c->errmsg), "connection refused (fake_pq)\n");
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
	pthread_mutex_unlock(&F.mu);
	free(conn->copybuf);
	__wrap_PQclear(conn->copy_result);
	free(conn);
}

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

PGresult *__wrap_PQexec(PGconn *conn, const char *query)
{
	enum fake_pq_verdict v = FAKE_PQ_OK;
	fake_pq_hook hook;
	void *arg;
	PGresult *r;
	long long n;

	if(conn == NULL || conn->bad || query == NULL){
		return NULL;   /* as libpq: no result, the error is in PQerrorMessage */
	}
	pthread_mutex_lock(&F.mu);
	F.statements++;
	hook = F.hook;
	arg = F.hook_arg;
	pthread_mutex_unlock(&F.mu);
	if(hook){
		v = hook(query, arg);
	}
	pthread_mutex_lock(&F.mu);
	if(v == FAKE_PQ_DROP){
		conn->bad = true;
		snprintf(conn->errmsg, sizeof(conn->errmsg), "server closed the connection unexpectedly (fake_pq)\n");
		rows_clear(&F.pending);
		F.tx_open = false;
		pthread_mutex_unlock(&F.mu);
		return error_result("", "server closed the connection unexpectedly (fake_pq)");
	}
	if(starts(query, "BEGIN")){
		rows_clear(&F.pending);
		F.tx_open = true;
		F.tx_aborted = false;
		r = result(PGRES_COMMAND_OK);
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
	}else if(v == FAKE_PQ_FAIL){
		F.tx_aborted = F.tx_open;
		r = error_result("XX000", "injected failure (fake_pq)");
	}else if(starts(query, "COPY ")){
		size_t k = 0;
		const char *p = query + 5;
		while(p[k] && p[k] != ' ' && k + 1 < sizeof(conn->copy_table)){
			conn->copy_table[k] = p[k];
			k++;
		}
		conn->copy_table[k] = '\0';
		conn->in_copy = true;
		conn->copylen = 0;
		r = result(PGRES_COPY_IN);
	}else if(starts(query, "SELECT COALESCE(max(version), 0) FROM schema_migrations")){
		r = tuples(1, vg_migration_count);
	}else if(starts(query, "SELECT nextval(") && strstr(query, "generate_series(1, ")){
		n = strtoll(strstr(query, "generate_series(1, ") + 19, NULL, 10);
		r = tuples((int)n, 1000 + (long long)F.statements * 100000);
	}else if(starts(query, "SELECT")){
		r = tuples(0, 0);
	}else{
		r = result(PGRES_COMMAND_OK);
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
	if(res == NULL || fieldcode != PG_DIAG_SQLSTATE || res->st != PGRES_FATAL_ERROR){
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
		char *p;
		while(cap < conn->copylen + (size_t)nbytes){
			cap *= 2;
		}
		p = frealloc(conn->copybuf, cap);
		if(p == NULL){
			return -1;
		}
		conn->copybuf = p;
		conn->copycap = cap;
	}
	memcpy(conn->copybuf + conn->copylen, buffer, (size_t)nbytes);
	conn->copylen += (size_t)nbytes;
	return 1;
}

int __wrap_PQputCopyEnd(PGconn *conn, const char *errormsg)
{
	size_t i, start = 0;

	if(conn == NULL || conn->bad || !conn->in_copy){
		return -1;
	}
	conn->in_copy = false;
	pthread_mutex_lock(&F.mu);
	if(errormsg){
		F.tx_aborted = F.tx_open;
		conn->copy_result = error_result("57014", errormsg);
	}else{
		struct rows *dst = F.tx_open ? &F.pending : &F.committed;
		for(i = 0; i < conn->copylen; i++){
			if(conn->copybuf[i] == '\n'){
				rows_add(dst, conn->copy_table, conn->copybuf + start, i - start);
				start = i + 1;
			}
		}
		conn->copy_result = result(PGRES_COMMAND_OK);
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

unsigned char *__wrap_PQunescapeBytea(const unsigned char *strtext, size_t *retbuflength)
{
	(void)strtext;
	*retbuflength = 0;
	return fmalloc(1);
}

void __wrap_PQfreemem(void *ptr)
{
	free(ptr);
}
