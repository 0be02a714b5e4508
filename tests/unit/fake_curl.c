/*
 * fake_curl: see fake_curl.h. Test-only.
 * Thread: the worker (curl calls), the test (control); one mutex, two
 * condition variables (the worker parked at the horizon; the test waiting
 * for that). Memory: easy handles are freed by curl_easy_cleanup, requests
 * by fake_curl_reset.
 */
#define CURL_DISABLE_TYPECHECK
#include "fake_curl.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#define MAX_REQUESTS 512

struct fake_easy {
	struct fake_easy *next;        /* the multi handle's list */
	struct fake_easy *done_next;   /* its finished, unread messages */
	char url[256];
	void *priv;
	struct curl_slist *hdrs;
	const char *post;
	curl_off_t postlen;
	long timeout_ms, connect_only, verify_peer, verify_host, follow;
	size_t (*hdr_fn)(char *, size_t, size_t, void *);
	void *hdr_data;
	char *errbuf;
	long status;
	bool added, done;
	int64_t done_at;
	int req;                       /* request index, -1: a probe */
	struct fake_curl_answer ans;
	char ans_headers[256];         /* the answer's header lines, Retry-After dates expanded */
	CURLMsg msg;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t worker_cv;      /* the worker waits here at the horizon */
	pthread_cond_t test_cv;        /* the test waits here for the worker to park */
	_Atomic int64_t now;
	int64_t wall0;
	int64_t horizon;
	bool wakeup_pending;           /* curl_multi_wakeup called: honoured at the next fake_curl_run */
	bool wakeup;                   /* the worker's poll returns at once */
	bool free_run;
	bool parked;
	unsigned long park_gen;
	fake_curl_responder responder;
	void *responder_arg;
	struct fake_curl_request req[MAX_REQUESTS];
	size_t nreq;
	size_t inflight, max_inflight;
	/* The worker's own (only it touches these). */
	struct fake_easy *easies;
	struct fake_easy *done_head, *done_tail;
} F = { .mu = PTHREAD_MUTEX_INITIALIZER, .worker_cv = PTHREAD_COND_INITIALIZER, .test_cv = PTHREAD_COND_INITIALIZER };

/* The single multi handle (its address is all the worker needs). */
static char the_multi;

CURL *__wrap_curl_easy_init(void);
CURLcode __wrap_curl_easy_setopt(CURL *h, CURLoption opt, ...);
CURLcode __wrap_curl_easy_getinfo(CURL *h, CURLINFO info, ...);
void __wrap_curl_easy_cleanup(CURL *h);
CURLM *__wrap_curl_multi_init(void);
CURLMcode __wrap_curl_multi_cleanup(CURLM *m);
CURLMcode __wrap_curl_multi_add_handle(CURLM *m, CURL *h);
CURLMcode __wrap_curl_multi_remove_handle(CURLM *m, CURL *h);
CURLMcode __wrap_curl_multi_perform(CURLM *m, int *running);
CURLMsg *__wrap_curl_multi_info_read(CURLM *m, int *left);
CURLMcode __wrap_curl_multi_poll(CURLM *m, struct curl_waitfd extra[], unsigned int n, int timeout_ms, int *numfds);
CURLMcode __wrap_curl_multi_wakeup(CURLM *m);
int64_t __wrap_vg_mono_ms(void);
int64_t __wrap_vg_now_ms(void);

/* ---- clocks ------------------------------------------------------------------ */

int64_t __wrap_vg_mono_ms(void)
{
	return atomic_load(&F.now);
}

int64_t __wrap_vg_now_ms(void)
{
	return F.wall0 + atomic_load(&F.now);
}

int64_t fake_curl_now(void)
{
	return atomic_load(&F.now);
}

int64_t fake_curl_wall(void)
{
	return F.wall0 + atomic_load(&F.now);
}

/* ---- control ------------------------------------------------------------------ */

void fake_curl_reset(int64_t wall0_ms)
{
	pthread_mutex_lock(&F.mu);
	atomic_store(&F.now, 0);
	F.wall0 = wall0_ms;
	F.horizon = 0;
	F.wakeup_pending = false;
	F.wakeup = false;
	F.free_run = false;
	F.parked = false;
	F.nreq = 0;
	F.inflight = 0;
	F.max_inflight = 0;
	F.responder = NULL;
	pthread_mutex_unlock(&F.mu);
}

void fake_curl_set_responder(fake_curl_responder fn, void *arg)
{
	pthread_mutex_lock(&F.mu);
	F.responder = fn;
	F.responder_arg = arg;
	pthread_mutex_unlock(&F.mu);
}

void fake_curl_run(int64_t ms)
{
	unsigned long gen;

	pthread_mutex_lock(&F.mu);
	gen = F.park_gen;
	F.horizon = atomic_load(&F.now) + ms;
	F.wakeup |= F.wakeup_pending;
	F.wakeup_pending = false;
	pthread_cond_broadcast(&F.worker_cv);
	/* Settled: the worker parked again after this call, at the horizon,
	 * with no wake-up pending. */
	while(!(F.park_gen != gen && F.parked && !F.wakeup && atomic_load(&F.now) == F.horizon)){
		pthread_cond_wait(&F.test_cv, &F.mu);
	}
	pthread_mutex_unlock(&F.mu);
}

void fake_curl_free_run(void)
{
	pthread_mutex_lock(&F.mu);
	F.horizon = INT64_MAX;
	F.free_run = true;
	F.wakeup |= F.wakeup_pending;
	F.wakeup_pending = false;
	pthread_cond_broadcast(&F.worker_cv);
	pthread_mutex_unlock(&F.mu);
}

static size_t read_locked(const size_t *counter)
{
	size_t n;

	pthread_mutex_lock(&F.mu);
	n = *counter;
	pthread_mutex_unlock(&F.mu);
	return n;
}

size_t fake_curl_nrequests(void)
{
	return read_locked(&F.nreq);
}

bool fake_curl_request(size_t i, struct fake_curl_request *out)
{
	bool ok;

	pthread_mutex_lock(&F.mu);
	ok = i < F.nreq && i < MAX_REQUESTS;
	if(ok){
		*out = F.req[i];
	}
	pthread_mutex_unlock(&F.mu);
	return ok;
}

size_t fake_curl_max_inflight(void)
{
	return read_locked(&F.max_inflight);
}

/* ---- easy handles ---------------------------------------------------------------- */

CURL *__wrap_curl_easy_init(void)
{
	struct fake_easy *e = calloc(1, sizeof(*e));

	if(e){
		e->verify_peer = 1;   /* libcurl's defaults */
		e->verify_host = 2;
		e->req = -1;
	}
	return e;
}

CURLcode __wrap_curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
	struct fake_easy *e = h;
	va_list ap;
	long l = 0;
	void *p = NULL;
	curl_off_t off = 0;
	size_t (*fn)(char *, size_t, size_t, void *) = NULL;

	va_start(ap, opt);
	if(opt < CURLOPTTYPE_OBJECTPOINT){
		l = va_arg(ap, long);
	}else if(opt < CURLOPTTYPE_FUNCTIONPOINT){
		p = va_arg(ap, void *);
	}else if(opt < CURLOPTTYPE_OFF_T){
		fn = va_arg(ap, size_t (*)(char *, size_t, size_t, void *));
	}else{
		off = va_arg(ap, curl_off_t);
	}
	va_end(ap);
	switch(opt){
		case CURLOPT_URL: snprintf(e->url, sizeof(e->url), "%s", (const char *)p); break;
		case CURLOPT_PRIVATE: e->priv = p; break;
		case CURLOPT_HTTPHEADER: e->hdrs = p; break;
		case CURLOPT_POSTFIELDS: e->post = p; break;
		case CURLOPT_POSTFIELDSIZE_LARGE: e->postlen = off; break;
		case CURLOPT_TIMEOUT_MS: e->timeout_ms = l; break;
		case CURLOPT_CONNECT_ONLY: e->connect_only = l; break;
		case CURLOPT_SSL_VERIFYPEER: e->verify_peer = l; break;
		case CURLOPT_SSL_VERIFYHOST: e->verify_host = l; break;
		case CURLOPT_FOLLOWLOCATION: e->follow = l; break;
		case CURLOPT_ERRORBUFFER: e->errbuf = p; break;
		case CURLOPT_HEADERFUNCTION: e->hdr_fn = fn; break;
		case CURLOPT_HEADERDATA: e->hdr_data = p; break;
		default: break;
	}
	return CURLE_OK;
}

CURLcode __wrap_curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	struct fake_easy *e = h;
	va_list ap;

	va_start(ap, info);
	if(info == CURLINFO_PRIVATE){
		*va_arg(ap, char **) = e->priv;
	}else if(info == CURLINFO_RESPONSE_CODE){
		*va_arg(ap, long *) = e->status;
	}else{
		va_end(ap);
		return CURLE_BAD_FUNCTION_ARGUMENT;
	}
	va_end(ap);
	return CURLE_OK;
}

void __wrap_curl_easy_cleanup(CURL *h)
{
	free(h);
}

/* ---- the multi handle ------------------------------------------------------------- */

CURLM *__wrap_curl_multi_init(void)
{
	F.easies = NULL;
	F.done_head = F.done_tail = NULL;
	return &the_multi;
}

CURLMcode __wrap_curl_multi_cleanup(CURLM *m)
{
	(void)m;
	return CURLM_OK;
}

static void header_value(const struct curl_slist *s, const char *name, char *out, size_t cap)
{
	size_t n = strlen(name);

	out[0] = '\0';
	for(; s; s = s->next){
		if(strncasecmp(s->data, name, n) == 0 && s->data[n] == ':'){
			const char *v = s->data + n + 1;
			while(*v == ' '){
				v++;
			}
			snprintf(out, cap, "%s", v);
			return;
		}
	}
}

/* The answer's header lines with "@+N" as the HTTP-date N seconds (N may
 * be negative) after wall_ms. */
static void expand_headers(const char *in, int64_t wall_ms, char *out, size_t cap)
{
	const char *at = in ? strstr(in, "@+") : NULL;
	char date[64], *rest;
	time_t t;
	struct tm tm;

	if(in == NULL){
		out[0] = '\0';
		return;
	}
	if(at == NULL){
		snprintf(out, cap, "%s", in);
		return;
	}
	t = (time_t)(wall_ms / 1000 + strtol(at + 2, &rest, 10));
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	snprintf(out, cap, "%.*s%s%s", (int)(at - in), in, date, rest);
}

CURLMcode __wrap_curl_multi_add_handle(CURLM *m, CURL *h)
{
	struct fake_easy *e = h;
	struct fake_curl_request *r;
	struct fake_curl_answer ans = { 200, 0, NULL, 0 };
	fake_curl_responder fn;
	void *arg;
	int64_t now = atomic_load(&F.now);
	size_t i;

	(void)m;
	if(e->added){
		return CURLM_ADDED_ALREADY;
	}
	e->added = true;
	e->done = false;
	e->status = 0;
	e->next = F.easies;
	F.easies = e;
	if(e->connect_only){
		e->done_at = now;   /* the idle probe: connects at once */
		e->ans.result = CURLE_OK;
		return CURLM_OK;
	}
	pthread_mutex_lock(&F.mu);
	if(F.nreq >= MAX_REQUESTS){
		pthread_mutex_unlock(&F.mu);
		return CURLM_OUT_OF_MEMORY;
	}
	e->req = (int)F.nreq;
	r = &F.req[F.nreq++];
	memset(r, 0, sizeof(*r));
	r->index = e->req;
	r->start_ms = now;
	r->start_wall_ms = F.wall0 + now;
	snprintf(r->url, sizeof(r->url), "%s", e->url);
	header_value(e->hdrs, "webhook-id", r->event_id, sizeof(r->event_id));
	header_value(e->hdrs, "webhook-timestamp", r->timestamp, sizeof(r->timestamp));
	header_value(e->hdrs, "webhook-signature", r->signature, sizeof(r->signature));
	header_value(e->hdrs, "Content-Type", r->content_type, sizeof(r->content_type));
	r->len = (size_t)e->postlen;
	snprintf(r->body, sizeof(r->body), "%.*s", (int)e->postlen, e->post ? e->post : "");
	r->verify_peer = e->verify_peer;
	r->verify_host = e->verify_host;
	r->follow = e->follow;
	r->timeout_ms = e->timeout_ms;
	for(i = 0; i + 1 < F.nreq; i++){
		r->attempt += strcmp(F.req[i].event_id, r->event_id) == 0;
	}
	r->attempt++;
	fn = F.responder;
	arg = F.responder_arg;
	if(++F.inflight > F.max_inflight){
		F.max_inflight = F.inflight;
	}
	pthread_mutex_unlock(&F.mu);

	if(fn){
		struct fake_curl_request copy = *r;
		ans = fn(&copy, arg);
	}
	if(ans.result == CURLE_OPERATION_TIMEDOUT && ans.latency_ms == 0){
		ans.latency_ms = (int)e->timeout_ms;
	}
	e->ans = ans;
	e->done_at = now + ans.latency_ms;
	expand_headers(ans.headers, F.wall0 + e->done_at, e->ans_headers, sizeof(e->ans_headers));
	pthread_mutex_lock(&F.mu);
	F.req[e->req].answer = ans;
	F.req[e->req].end_ms = e->done_at;
	pthread_mutex_unlock(&F.mu);
	return CURLM_OK;
}

CURLMcode __wrap_curl_multi_remove_handle(CURLM *m, CURL *h)
{
	struct fake_easy *e = h, **pp;

	(void)m;
	for(pp = &F.easies; *pp; pp = &(*pp)->next){
		if(*pp == e){
			*pp = e->next;
			break;
		}
	}
	for(pp = &F.done_head, F.done_tail = NULL; *pp; ){
		if(*pp == e){
			*pp = e->done_next;
			continue;
		}
		F.done_tail = *pp;
		pp = &(*pp)->done_next;
	}
	if(e->added && !e->done && e->req >= 0){
		pthread_mutex_lock(&F.mu);
		F.inflight--;
		pthread_mutex_unlock(&F.mu);
	}
	e->added = false;
	return CURLM_OK;
}

static void call_header(struct fake_easy *e, const char *line, size_t n)
{
	char buf[300];

	if(e->hdr_fn == NULL){
		return;
	}
	n = n < sizeof(buf) - 3 ? n : sizeof(buf) - 3;
	memcpy(buf, line, n);
	memcpy(buf + n, "\r\n", 3);
	e->hdr_fn(buf, 1, n + 2, e->hdr_data);
}

/* The answer arrives: headers to HEADERFUNCTION, the status, or the error. */
static void finish(struct fake_easy *e)
{
	char line[64];
	const char *p, *nl;

	e->done = true;
	if(e->ans.result == CURLE_OK && e->req >= 0){
		e->status = e->ans.status;
		call_header(e, line, (size_t)snprintf(line, sizeof(line), "HTTP/1.1 %d Fake", e->ans.status));
		for(p = e->ans_headers; *p; p = nl ? nl + 1 : p + strlen(p)){
			nl = strchr(p, '\n');
			call_header(e, p, nl ? (size_t)(nl - p) : strlen(p));
		}
		call_header(e, "", 0);
	}else if(e->ans.result != CURLE_OK && e->errbuf){
		snprintf(e->errbuf, CURL_ERROR_SIZE, "%s (fake_curl)", curl_easy_strerror((CURLcode)e->ans.result));
	}
	e->msg.msg = CURLMSG_DONE;
	e->msg.easy_handle = e;
	e->msg.data.result = (CURLcode)e->ans.result;
	e->done_next = NULL;
	if(F.done_tail){
		F.done_tail->done_next = e;
	}else{
		F.done_head = e;
	}
	F.done_tail = e;
	if(e->req >= 0){
		pthread_mutex_lock(&F.mu);
		F.inflight--;
		pthread_mutex_unlock(&F.mu);
	}
}

CURLMcode __wrap_curl_multi_perform(CURLM *m, int *running)
{
	struct fake_easy *e;
	int64_t now = atomic_load(&F.now);
	int n = 0;

	(void)m;
	for(e = F.easies; e; e = e->next){
		if(!e->done && e->done_at <= now){
			finish(e);
		}
		n += !e->done;
	}
	*running = n;
	return CURLM_OK;
}

CURLMsg *__wrap_curl_multi_info_read(CURLM *m, int *left)
{
	struct fake_easy *e = F.done_head, *x;
	int n = 0;

	(void)m;
	if(e){
		F.done_head = e->done_next;
		if(F.done_head == NULL){
			F.done_tail = NULL;
		}
	}
	for(x = F.done_head; x; x = x->done_next){
		n++;
	}
	*left = n;
	return e ? &e->msg : NULL;
}

CURLMcode __wrap_curl_multi_poll(CURLM *m, struct curl_waitfd extra[], unsigned int n, int timeout_ms, int *numfds)
{
	struct fake_easy *e;
	int64_t target;

	(void)m;
	(void)extra;
	(void)n;
	if(numfds){
		*numfds = 0;
	}
	target = atomic_load(&F.now) + (timeout_ms > 0 ? timeout_ms : 0);
	for(e = F.easies; e; e = e->next){
		if(!e->done && e->done_at < target){
			target = e->done_at;   /* the answer is activity on its socket */
		}
	}
	if(F.done_head){
		target = atomic_load(&F.now);
	}
	pthread_mutex_lock(&F.mu);
	for(;;){
		if(F.wakeup){
			F.wakeup = false;
			break;
		}
		if(target <= F.horizon){
			if(target > atomic_load(&F.now)){
				atomic_store(&F.now, target);
			}
			break;
		}
		/* Would sleep past the horizon: time stops there until the test
		 * moves it on. */
		if(atomic_load(&F.now) < F.horizon){
			atomic_store(&F.now, F.horizon);
		}
		F.parked = true;
		F.park_gen++;
		pthread_cond_broadcast(&F.test_cv);
		pthread_cond_wait(&F.worker_cv, &F.mu);
		F.parked = false;
	}
	pthread_mutex_unlock(&F.mu);
	return CURLM_OK;
}

CURLMcode __wrap_curl_multi_wakeup(CURLM *m)
{
	(void)m;
	pthread_mutex_lock(&F.mu);
	if(F.free_run){
		F.wakeup = true;
		pthread_cond_broadcast(&F.worker_cv);
	}else{
		F.wakeup_pending = true;
	}
	pthread_mutex_unlock(&F.mu);
	return CURLM_OK;
}
