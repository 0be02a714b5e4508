/*
 * test_webhook_errors: the webhook sender (bridge/webhook.c) against
 * scripted answers, one scenario per row of a table, in virtual time
 * (fake_curl.c: libcurl and the clocks wrapped; a day of retries takes
 * microseconds). Each row submits a few alert events (ids, beds, when they
 * were raised), scripts the endpoint's answer to each attempt (a status
 * with headers, or a timeout or refused connection, after some latency),
 * plays some seconds of the worker's life, and checks:
 *   - every request: POST to the URL, TLS verification on, redirects not
 *     followed, Content-Type, the body, webhook-id = the event id on every
 *     attempt, webhook-timestamp = the attempt's time, webhook-signature =
 *     the Standard Webhooks signature of exactly that;
 *   - per event: how many attempts, the final outcome posted to the broker
 *     thread (delivered, gone, refused, dead) with its HTTP status and
 *     attempt count, one "retry" outcome per failed attempt before it;
 *   - the waits between an answer and the next attempt: Retry-After (delta
 *     seconds or HTTP-date), else 1 s doubling to webhook_backoff_max with
 *     +-20 % jitter (the jitter's random draws can be scripted:
 *     -Wl,--wrap=RAND_bytes);
 *   - per bed, order: an event starts only once the one before it is
 *     delivered or dead-lettered, at once then, while other beds go on;
 *   - the operator's log line (ALARM on 410, refusal, dead letter).
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <mosquitto.h>

#include "fake_curl.h"
#include "vg_completion.h"
#include "vg_util.h"
#include "webhook.h"
#include "whsign.h"
#include "vgtest.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define WALL0 1767225600000LL   /* 2026-01-01T00:00:00Z */
#define URL "https://core.example/vitalgate/webhook"
#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define MAX_EVS 6
#define MAX_STEPS 8
#define MAX_NOTES 128

/* ---- jitter: RAND_bytes draws, scripted or real ------------------------------ */

int __real_RAND_bytes(unsigned char *buf, int num);
int __wrap_RAND_bytes(unsigned char *buf, int num);

static _Atomic int draw_mode;          /* 0: real; 1: the scripted draws */
static uint32_t draws[MAX_STEPS];
static _Atomic int ndraws, next_draw;

int __wrap_RAND_bytes(unsigned char *buf, int num)
{
	int i;
	uint32_t v;

	if(atomic_load(&draw_mode) == 0 || num != (int)sizeof(v)){
		return __real_RAND_bytes(buf, num);
	}
	i = atomic_fetch_add(&next_draw, 1);
	v = draws[i < atomic_load(&ndraws) ? i : atomic_load(&ndraws) - 1];
	memcpy(buf, &v, sizeof(v));
	return 1;
}

/* ---- the scenarios --------------------------------------------------------------- */

#define TIMEOUT CURLE_OPERATION_TIMEDOUT
#define REFUSED CURLE_COULDNT_CONNECT
#define DRAW_REAL 0
#define DRAW_LOW 1      /* every draw 0: the wait is exactly 0.8 x the backoff */
#define DRAW_HIGH 2     /* the largest draw: exactly 1.2 x */

struct ev {
	const char *id;
	const char *bed;
	struct fake_curl_answer answers[MAX_STEPS];   /* to attempts 1, 2, ...; the last one repeats */
	int64_t raised_ago_ms;     /* created_ms this long before the submission */
	int64_t redriven_ago_ms;   /* since_ms (0: = created_ms) */
};

struct want {
	int attempts;
	int outcome;               /* enum vg_webhook_outcome: the last one posted for the event */
	long http;
};

struct scenario {
	const char *name;
	struct ev evs[MAX_EVS];
	int max_rejects;           /* 0: 3 */
	int64_t dead_after_ms;     /* 0: an hour */
	int64_t backoff_max_ms;    /* 0: 8 s */
	int parallel;              /* 0: 4 */
	int draws;                 /* DRAW_* */
	int64_t run_ms;
	void (*extra)(const struct scenario *s, struct vg_webhook *w);  /* more steps after run_ms */
	struct want want[MAX_EVS];
	int gaps[MAX_STEPS][2];    /* evs[0]: answer to attempt i+1 -> start of attempt i+2, in [lo, hi] ms */
	const char *log;           /* a log line posted containing this */
	const char *order;         /* event ids in the order their first attempts must start */
	int max_inflight;          /* at most this many requests at once (0: not checked) */
};

static void enable_after_a_minute(const struct scenario *s, struct vg_webhook *w);

static const struct scenario scenarios[] = {
	{ "2xx: delivered at the first attempt",
		.evs = { { "evt_a1", "3W/1", { { 204, 0, NULL, 30 } } }, { "evt_b1", "3W/2", { { 200, 0, NULL, 10 } } } },
		.run_ms = 5000,
		.want = { { 1, VG_WH_DELIVERED, 204 }, { 1, VG_WH_DELIVERED, 200 } } },
	{ "410 disables the endpoint: nothing more is sent until it is enabled again",
		.evs = { { "evt_a1", "3W/1", { { 410, 0, NULL, 10 }, { 200, 0, NULL, 10 } } },
			{ "evt_b1", "3W/2", { { 200, 0, NULL, 10 } } } },
		.parallel = 1, .run_ms = 60000, .extra = enable_after_a_minute,
		.want = { { 2, VG_WH_DELIVERED, 200 }, { 1, VG_WH_DELIVERED, 200 } },
		.log = "the webhook endpoint answered 410 Gone; webhook delivery is disabled until `vitalgate-admin webhook enable`",
		.order = "evt_a1 evt_b1" },
	{ "429 with Retry-After in seconds: the next attempt waits exactly that",
		.evs = { { "evt_a1", "3W/1", { { 429, 0, "Retry-After: 5", 10 }, { 200, 0, NULL, 10 } } } },
		.run_ms = 20000,
		.want = { { 2, VG_WH_DELIVERED, 200 } },
		.gaps = { { 5000, 5000 } } },
	{ "429 with Retry-After as an HTTP-date: the next attempt waits until then",
		.evs = { { "evt_a1", "3W/1", { { 429, 0, "Content-Type: text/plain\nRetry-After: @+7", 10 }, { 200, 0, NULL, 10 } } } },
		.run_ms = 20000,
		.want = { { 2, VG_WH_DELIVERED, 200 } },
		.gaps = { { 6001, 7000 } } },
	{ "503 with Retry-After, twice",
		.evs = { { "evt_a1", "3W/1", { { 503, 0, "Retry-After: 3", 10 }, { 503, 0, "retry-after:   2", 10 },
				{ 202, 0, NULL, 10 } } } },
		.run_ms = 20000,
		.want = { { 3, VG_WH_DELIVERED, 202 } },
		.gaps = { { 3000, 3000 }, { 2000, 2000 } } },
	{ "Retry-After 0, or a date gone by: 1 s, not a busy loop",
		.evs = { { "evt_a1", "3W/1", { { 503, 0, "Retry-After: 0", 10 }, { 429, 0, "Retry-After: @+-30", 10 },
				{ 503, 0, "Retry-After: 0", 10 }, { 200, 0, NULL, 10 } } } },
		.run_ms = 20000,
		.want = { { 4, VG_WH_DELIVERED, 200 } },
		.gaps = { { 1000, 1000 }, { 1000, 1000 }, { 1000, 1000 } } },
	{ "an unreadable Retry-After: the backoff applies",
		.evs = { { "evt_a1", "3W/1", { { 503, 0, "Retry-After: soon", 10 }, { 200, 0, NULL, 10 } } } },
		.run_ms = 20000,
		.want = { { 2, VG_WH_DELIVERED, 200 } },
		.gaps = { { 800, 1200 } } },
	{ "a Retry-After over a day is not obeyed: the backoff applies",
		.evs = { { "evt_a1", "3W/1", { { 503, 0, "Retry-After: 999999", 10 }, { 200, 0, NULL, 10 } } } },
		.run_ms = 20000,
		.want = { { 2, VG_WH_DELIVERED, 200 } },
		.gaps = { { 800, 1200 } } },
	{ "an HTTP-date over a day ahead is not obeyed either",
		.evs = { { "evt_a1", "3W/1", { { 429, 0, "Retry-After: @+90000", 10 }, { 200, 0, NULL, 10 } } } },
		.run_ms = 20000,
		.want = { { 2, VG_WH_DELIVERED, 200 } },
		.gaps = { { 800, 1200 } } },
	{ "timeouts: retried after 1 s doubling to the maximum, with jitter within +-20 %",
		.evs = { { "evt_a1", "3W/1", { { 0, TIMEOUT }, { 0, TIMEOUT }, { 0, TIMEOUT }, { 0, TIMEOUT }, { 0, TIMEOUT },
				{ 200, 0, NULL, 10 } } } },
		.backoff_max_ms = 8000, .run_ms = 60000,
		.want = { { 6, VG_WH_DELIVERED, 200 } },
		.gaps = { { 800, 1200 }, { 1600, 2400 }, { 3200, 4800 }, { 6400, 9600 }, { 6400, 9600 } },
		.log = "attempt 1 failed (Timeout was reached (fake_curl)); retrying in" },
	{ "connection refused, the smallest jitter draws: 0.8 x the backoff, exactly",
		.evs = { { "evt_a1", "3W/1", { { 0, REFUSED }, { 0, REFUSED }, { 0, REFUSED }, { 0, REFUSED }, { 0, REFUSED },
				{ 200, 0, NULL, 10 } } } },
		.backoff_max_ms = 8000, .draws = DRAW_LOW, .run_ms = 60000,
		.want = { { 6, VG_WH_DELIVERED, 200 } },
		.gaps = { { 800, 800 }, { 1600, 1600 }, { 3200, 3200 }, { 6400, 6400 }, { 6400, 6400 } } },
	{ "500s, the largest jitter draws: 1.2 x the backoff, exactly",
		.evs = { { "evt_a1", "3W/1", { { 500, 0, NULL, 5 }, { 502, 0, NULL, 5 }, { 504, 0, NULL, 5 }, { 500, 0, NULL, 5 },
				{ 200, 0, NULL, 5 } } } },
		.backoff_max_ms = 4000, .draws = DRAW_HIGH, .run_ms = 60000,
		.want = { { 5, VG_WH_DELIVERED, 200 } },
		.gaps = { { 1200, 1200 }, { 2400, 2400 }, { 4800, 4800 }, { 4800, 4800 } } },
	{ "400: refused webhook_max_rejects times, then dead-lettered; the bed's next event goes on",
		.evs = { { "evt_a1", "3W/1", { { 400, 0, NULL, 10 } } }, { "evt_a2", "3W/1", { { 200, 0, NULL, 10 } } } },
		.max_rejects = 3, .run_ms = 20000,
		.want = { { 3, VG_WH_REFUSED, 400 }, { 1, VG_WH_DELIVERED, 200 } },
		.gaps = { { 800, 1200 }, { 1600, 2400 } },
		.log = "webhook evt_a1 refused by the endpoint (HTTP 400) on 3 attempts (webhook_max_rejects)",
		.order = "evt_a1 evt_a2" },
	{ "refusals counted apart from \"not now\" answers",
		.evs = { { "evt_a1", "3W/1", { { 422, 0, NULL, 10 }, { 503, 0, NULL, 10 }, { 401, 0, NULL, 10 },
				{ 429, 0, "Retry-After: 1", 10 }, { 404, 0, NULL, 10 } } } },
		.max_rejects = 3, .run_ms = 30000,
		.want = { { 5, VG_WH_REFUSED, 404 } } },
	{ "webhook_max_rejects 1: dead-lettered at the first refusal",
		.evs = { { "evt_a1", "3W/1", { { 403, 0, NULL, 10 } } }, { "evt_a2", "3W/1", { { 200, 0, NULL, 10 } } } },
		.max_rejects = 1, .run_ms = 5000,
		.want = { { 1, VG_WH_REFUSED, 403 }, { 1, VG_WH_DELIVERED, 200 } },
		.order = "evt_a1 evt_a2" },
	{ "webhook_dead_after reached: dead-lettered at the first answer after it; the bed goes on",
		.evs = { { "evt_a1", "3W/1", { { 503, 0, NULL, 0 } } }, { "evt_a2", "3W/1", { { 200, 0, NULL, 10 } } } },
		.dead_after_ms = 10000, .draws = DRAW_LOW, .run_ms = 60000,
		/* Attempts at 0, 0.8, 2.4, 5.6 and 12 s: the answer at 12 s is past 10 s. */
		.want = { { 5, VG_WH_DEAD, 503 }, { 1, VG_WH_DELIVERED, 200 } },
		.gaps = { { 800, 800 }, { 1600, 1600 }, { 3200, 3200 }, { 6400, 6400 } },
		.log = "webhook evt_a1 undelivered after 5 attempts over 12 s (HTTP 503); dead-lettered",
		.order = "evt_a1 evt_a2" },
	{ "an event raised longer ago than webhook_dead_after is tried once, then dead-lettered",
		.evs = { { "evt_a1", "3W/1", { { 0, REFUSED } }, 7200000 } },
		.dead_after_ms = 3600000, .run_ms = 5000,
		.want = { { 1, VG_WH_DEAD, 0 } },
		.log = "webhook evt_a1 undelivered after 1 attempts over 7200 s" },
	{ "a redrive restarts the dead-letter clock",
		.evs = { { "evt_a1", "3W/1", { { 0, REFUSED }, { 200, 0, NULL, 10 } }, 7200000, 1000 } },
		.dead_after_ms = 3600000, .run_ms = 5000,
		.want = { { 2, VG_WH_DELIVERED, 200 } } },
	{ "one bed's head retried: the bed waits, other beds go on in their own order",
		.evs = { { "evt_a1", "3W/1", { { 503, 0, NULL, 10 }, { 503, 0, NULL, 10 }, { 200, 0, NULL, 10 } } },
			{ "evt_a2", "3W/1", { { 200, 0, NULL, 10 } } },
			{ "evt_b1", "3W/2", { { 200, 0, NULL, 40 } } },
			{ "evt_b2", "3W/2", { { 200, 0, NULL, 40 } } },
			{ "evt_b3", "3W/2", { { 200, 0, NULL, 40 } } } },
		.run_ms = 20000,
		.want = { { 3, VG_WH_DELIVERED, 200 }, { 1, VG_WH_DELIVERED, 200 }, { 1, VG_WH_DELIVERED, 200 },
			{ 1, VG_WH_DELIVERED, 200 }, { 1, VG_WH_DELIVERED, 200 } },
		.order = "evt_a1 evt_b1 evt_b2 evt_b3 evt_a2" },
	{ "at most webhook_parallel requests at once",
		.evs = { { "evt_a1", "3W/1", { { 200, 0, NULL, 500 } } }, { "evt_b1", "3W/2", { { 200, 0, NULL, 500 } } },
			{ "evt_c1", "3W/3", { { 200, 0, NULL, 500 } } }, { "evt_d1", "3W/4", { { 200, 0, NULL, 500 } } },
			{ "evt_e1", "3W/5", { { 200, 0, NULL, 500 } } } },
		.parallel = 2, .run_ms = 5000,
		.want = { { 1, VG_WH_DELIVERED, 200 }, { 1, VG_WH_DELIVERED, 200 }, { 1, VG_WH_DELIVERED, 200 },
			{ 1, VG_WH_DELIVERED, 200 }, { 1, VG_WH_DELIVERED, 200 } },
		.max_inflight = 2 },
};

/* ---- one run ------------------------------------------------------------------------ */

struct outcome {
	char id[64];
	int outcome;
	long http;
	int attempts;
};

struct run {
	struct vg_queue completions;
	struct outcome out[MAX_NOTES];
	int nout;
	char logs[MAX_NOTES][400];
	int loglevel[MAX_NOTES];
	int nlogs;
	struct vg_whsecrets secrets;
	char secret_path[64];
};

static struct fake_curl_answer respond(const struct fake_curl_request *req, void *arg)
{
	const struct scenario *s = arg;
	struct fake_curl_answer none = { 599, 0, NULL, 0 };
	int i, n;

	for(i = 0; i < MAX_EVS && s->evs[i].id; i++){
		if(strcmp(s->evs[i].id, req->event_id) != 0){
			continue;
		}
		for(n = 0; n < MAX_STEPS && (s->evs[i].answers[n].status || s->evs[i].answers[n].result); n++){
		}
		return s->evs[i].answers[req->attempt <= n ? req->attempt - 1 : n - 1];
	}
	return none;
}

static void drain(struct run *r)
{
	struct vg_job *job = vg_queue_take_all(&r->completions, 0), *next;

	for(; job; job = next){
		next = job->next;
		if(job->type == VG_C_WEBHOOK && r->nout < MAX_NOTES){
			const struct vg_c_webhook *c = (const struct vg_c_webhook *)job;
			struct outcome *o = &r->out[r->nout++];
			snprintf(o->id, sizeof(o->id), "%s", c->event_id);
			o->outcome = c->outcome;
			o->http = c->http_status;
			o->attempts = c->attempts;
			CHECK_INT(c->channel, VG_WH_CHANNEL_ALERTS);
		}else if(job->type == VG_C_LOG && r->nlogs < MAX_NOTES){
			const struct vg_c_log *l = (const struct vg_c_log *)job;
			r->loglevel[r->nlogs] = l->level;
			snprintf(r->logs[r->nlogs++], sizeof(r->logs[0]), "%s", l->msg);
		}
		free(job);
	}
}

static bool has_log(const struct run *r, const char *sub)
{
	int i;

	for(i = 0; i < r->nlogs; i++){
		if(strstr(r->logs[i], sub)){
			return true;
		}
	}
	return false;
}

/* Requests for one event, in order. */
static int requests_of(const char *id, struct fake_curl_request *out, int cap)
{
	size_t i, n = fake_curl_nrequests();
	int k = 0;

	for(i = 0; i < n && k < cap; i++){
		if(fake_curl_request(i, &out[k]) && strcmp(out[k].event_id, id) == 0){
			k++;
		}
	}
	return k;
}

static int64_t first_start(const char *id)
{
	struct fake_curl_request rq;

	return requests_of(id, &rq, 1) == 1 ? rq.start_ms : -1;
}

/* Every request is the signed POST the contract describes. */
static void check_request(const struct run *r, const struct fake_curl_request *q, const char *body)
{
	char sig[sizeof(q->signature)];
	int64_t ts = 0;

	CHECK_STR(q->url, URL);
	CHECK_STR(q->content_type, "application/json");
	CHECK_STR(q->body, body);
	CHECK_INT(q->len, strlen(body));
	CHECK_INT(q->verify_peer, 1);
	CHECK_INT(q->verify_host, 2);
	CHECK_INT(q->follow, 0);
	CHECK(q->timeout_ms > 0);
	CHECK(vg_parse_i64(q->timestamp, 0, INT64_MAX, &ts));
	CHECK_INT(ts, q->start_wall_ms / 1000);           /* the attempt's own time */
	CHECK_INT(vg_whsign(&r->secrets, q->event_id, ts, body, strlen(body), sig, sizeof(sig)), 0);
	CHECK_STR(q->signature, sig);
	CHECK(strncmp(q->signature, "v1,", 3) == 0);
}

static void enable_after_a_minute(const struct scenario *s, struct vg_webhook *w)
{
	struct vg_webhook_health h;
	struct fake_curl_request rq;
	int64_t at = fake_curl_now();

	(void)s;
	/* A minute disabled: one request only, the one answered 410; both
	 * events still held. */
	CHECK_INT(fake_curl_nrequests(), 1);
	vg_webhook_get_health(w, &h);
	CHECK(h.disabled);
	CHECK_INT(h.held, 2);
	CHECK_INT(vg_webhook_enable(w), 0);
	fake_curl_run(0);
	fake_curl_run(5000);
	vg_webhook_get_health(w, &h);
	CHECK(!h.disabled);
	CHECK_INT(h.held, 0);
	/* The 410's event goes first, at once. */
	CHECK(fake_curl_request(1, &rq));
	CHECK_STR(rq.event_id, "evt_a1");
	CHECK_INT(rq.start_ms, at);
}

static void run(const struct scenario *s)
{
	struct run *r = calloc(1, sizeof(*r));
	struct vg_webhook_opts o = {
		.url = URL,
		.timeout_ms = 2000,
		.parallel = s->parallel ? s->parallel : 4,
		.queue_capacity = 64,
		.dead_after_ms = s->dead_after_ms ? s->dead_after_ms : 3600000,
		.backoff_max_ms = s->backoff_max_ms ? s->backoff_max_ms : 8000,
		.max_rejects = s->max_rejects ? s->max_rejects : 3,
		.channel = VG_WH_CHANNEL_ALERTS,
	};
	struct fake_curl_request rq[MAX_STEPS * 2];
	struct vg_webhook *w = NULL;
	char err[256], body[MAX_EVS][128];
	int failures0 = vgtest_failures;
	int i, k, n, fd;
	FILE *f;

	printf("- %s\n", s->name);
	if(r == NULL){
		CHECK(false);
		return;
	}
	snprintf(r->secret_path, sizeof(r->secret_path), "/tmp/vg-test-whsecret-XXXXXX");
	fd = mkstemp(r->secret_path);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	CHECK(f != NULL);
	if(f){
		fprintf(f, "%s\n", SECRET);
		fclose(f);
	}
	CHECK_INT(vg_whsecrets_load(r->secret_path, &r->secrets, err, sizeof(err)), 0);
	CHECK_INT(vg_queue_init(&r->completions, 4096), 0);
	o.secret_file = r->secret_path;
	o.completions = &r->completions;

	atomic_store(&next_draw, 0);
	for(i = 0; i < MAX_STEPS; i++){
		/* The largest draw for the i-th retry: r % (0.4 b + 1) == 0.4 b. */
		int64_t b = 1000LL << i;
		if(b > o.backoff_max_ms){
			b = o.backoff_max_ms;
		}
		draws[i] = s->draws == DRAW_HIGH ? (uint32_t)(b * 4 / 10) : 0;
	}
	atomic_store(&ndraws, MAX_STEPS);
	atomic_store(&draw_mode, s->draws != DRAW_REAL);
	fake_curl_reset(WALL0);
	fake_curl_set_responder(respond, (void *)s);
	CHECK_INT(vg_webhook_start(&w, &o, err, sizeof(err)), 0);
	if(w == NULL){
		fprintf(stderr, "  vg_webhook_start: %s\n", err);
		vg_queue_destroy(&r->completions);
		free(r);
		return;
	}
	fake_curl_run(0);   /* the worker waits in curl_multi_poll: what follows is taken at once */
	for(i = 0; i < MAX_EVS && s->evs[i].id; i++){
		int64_t created = fake_curl_wall() - s->evs[i].raised_ago_ms;
		int64_t since = s->evs[i].redriven_ago_ms ? fake_curl_wall() - s->evs[i].redriven_ago_ms : created;
		snprintf(body[i], sizeof(body[i]), "{\"type\":\"alert.raised\",\"data\":{\"event\":\"%s\"}}", s->evs[i].id);
		CHECK_INT(vg_webhook_submit(w, s->evs[i].id, s->evs[i].bed, body[i], strlen(body[i]), created, since),
				VG_QUEUE_OK);
	}
	fake_curl_run(0);
	fake_curl_run(s->run_ms);
	if(s->extra){
		s->extra(s, w);
	}
	fake_curl_free_run();
	vg_webhook_stop(w, 0);
	drain(r);

	for(i = 0; i < MAX_EVS && s->evs[i].id; i++){
		const struct want *wt = &s->want[i];
		int last = -1, retries = 0;
		n = requests_of(s->evs[i].id, rq, (int)NELEM(rq));
		CHECK_INT(n, wt->attempts);
		for(k = 0; k < n; k++){
			check_request(r, &rq[k], body[i]);
			CHECK_INT(rq[k].attempt, k + 1);
			if(k > 0){
				CHECK(rq[k].start_ms >= rq[k - 1].end_ms);   /* one attempt at a time */
			}
		}
		/* What the broker thread was told: a retry per failed attempt, then
		 * the outcome. */
		for(k = 0; k < r->nout; k++){
			if(strcmp(r->out[k].id, s->evs[i].id) == 0){
				retries += r->out[k].outcome == VG_WH_RETRY || r->out[k].outcome == VG_WH_GONE;
				last = k;
			}
		}
		CHECK(last >= 0);
		if(last >= 0){
			CHECK_INT(r->out[last].outcome, wt->outcome);
			CHECK_INT(r->out[last].http, wt->http);
			CHECK_INT(r->out[last].attempts, wt->attempts);
		}
		CHECK_INT(retries, wt->attempts - 1);
		if(i == 0){
			for(k = 0; k + 1 < n && k < MAX_STEPS && s->gaps[k][1]; k++){
				int64_t gap = rq[k + 1].start_ms - rq[k].end_ms;
				if(gap < s->gaps[k][0] || gap > s->gaps[k][1]){
					fprintf(stderr, "  wait before attempt %d: %" PRId64 " ms, want %d..%d\n", k + 2, gap, s->gaps[k][0],
							s->gaps[k][1]);
					CHECK(false);
				}
			}
		}
	}
	/* No request but these events' (each with its own webhook-id). */
	for(i = 0, n = 0; i < MAX_EVS && s->evs[i].id; i++){
		n += s->want[i].attempts;
	}
	CHECK_INT(fake_curl_nrequests(), n);
	if(s->log){
		CHECK(has_log(r, s->log));
	}
	if(s->order){
		/* The listed events' first attempts start in this order, each one of
		 * a bed as soon as the bed's event before it is done. */
		char ids[256], *save = NULL, *id;
		int64_t prev = -1;
		snprintf(ids, sizeof(ids), "%s", s->order);
		for(id = strtok_r(ids, " ", &save); id; id = strtok_r(NULL, " ", &save)){
			int64_t t = first_start(id);
			CHECK(t >= 0 && t >= prev);
			if(t < prev){
				fprintf(stderr, "  %s started at %" PRId64 " ms, before the event listed before it (%" PRId64 " ms)\n", id,
						t, prev);
			}
			prev = t;
		}
	}
	for(i = 1; i < MAX_EVS && s->evs[i].id; i++){
		/* A bed's event starts when the bed's event before it is done (its
		 * last answer came), not before and not later. */
		int p = -1;
		int64_t t = first_start(s->evs[i].id), done;
		for(k = 0; k < i; k++){
			p = strcmp(s->evs[k].bed, s->evs[i].bed) == 0 ? k : p;
		}
		n = p >= 0 ? requests_of(s->evs[p].id, rq, (int)NELEM(rq)) : 0;
		if(n == 0 || t < 0){
			continue;
		}
		done = rq[n - 1].end_ms;
		if(t != done){
			fprintf(stderr, "  %s started at %" PRId64 " ms, %s was done at %" PRId64 " ms\n", s->evs[i].id, t,
					s->evs[p].id, done);
		}
		CHECK_INT(t, done);
	}
	if(s->max_inflight){
		CHECK_INT(fake_curl_max_inflight(), s->max_inflight);
	}
	if(vgtest_failures != failures0){
		size_t q, nq = fake_curl_nrequests();
		fprintf(stderr, "  scenario failed: %s\n", s->name);
		for(q = 0; q < nq; q++){
			struct fake_curl_request x;
			fake_curl_request(q, &x);
			fprintf(stderr, "    request %zu: %s attempt %d at %" PRId64 "..%" PRId64 " ms -> %d/%d\n", q, x.event_id,
					x.attempt, x.start_ms, x.end_ms, x.answer.status, x.answer.result);
		}
		for(k = 0; k < r->nout; k++){
			fprintf(stderr, "    outcome: %s %d http %ld attempts %d\n", r->out[k].id, r->out[k].outcome,
					r->out[k].http, r->out[k].attempts);
		}
		for(k = 0; k < r->nlogs; k++){
			fprintf(stderr, "    log [%d] %s\n", r->loglevel[k], r->logs[k]);
		}
	}
	vg_queue_destroy(&r->completions);
	vg_whsecrets_wipe(&r->secrets);
	unlink(r->secret_path);
	free(r);
}

/* An event id the worker already holds is dropped: one delivery. */
static void test_idempotent_submission(void)
{
	static const struct scenario s = {
		.evs = { { "evt_a1", "3W/1", { { 503, 0, NULL, 10 }, { 200, 0, NULL, 10 } } } },
	};
	struct vg_webhook_opts o = {
		.url = URL, .timeout_ms = 2000, .parallel = 4, .queue_capacity = 64, .dead_after_ms = 3600000,
		.backoff_max_ms = 8000, .max_rejects = 3,
	};
	struct vg_queue q;
	struct vg_webhook *w = NULL;
	char path[64], err[256];
	const char *body = "{}";
	int fd;

	printf("- an event submitted again while held is sent once\n");
	snprintf(path, sizeof(path), "/tmp/vg-test-whsecret-XXXXXX");
	fd = mkstemp(path);
	CHECK(fd >= 0 && write(fd, SECRET "\n", strlen(SECRET) + 1) == (ssize_t)strlen(SECRET) + 1);
	close(fd);
	CHECK_INT(vg_queue_init(&q, 4096), 0);
	o.secret_file = path;
	o.completions = &q;
	atomic_store(&draw_mode, 0);
	fake_curl_reset(WALL0);
	fake_curl_set_responder(respond, (void *)&s);
	CHECK_INT(vg_webhook_start(&w, &o, err, sizeof(err)), 0);
	if(w){
		fake_curl_run(0);
		CHECK_INT(vg_webhook_submit(w, "evt_a1", "3W/1", body, 2, WALL0, WALL0), VG_QUEUE_OK);
		fake_curl_run(0);
		fake_curl_run(100);
		/* The outbox redelivers it while the first attempt waits to retry. */
		CHECK_INT(vg_webhook_submit(w, "evt_a1", "3W/1", body, 2, WALL0, WALL0), VG_QUEUE_OK);
		fake_curl_run(0);
		fake_curl_run(10000);
		CHECK_INT(fake_curl_nrequests(), 2);   /* the 503, then the 200 */
		fake_curl_free_run();
		vg_webhook_stop(w, 0);
	}
	for(struct vg_job *j = vg_queue_take_all(&q, 0), *nx; j; j = nx){
		nx = j->next;
		free(j);
	}
	vg_queue_destroy(&q);
	unlink(path);
}

int main(void)
{
	size_t i;

	for(i = 0; i < NELEM(scenarios); i++){
		run(&scenarios[i]);
	}
	test_idempotent_submission();
	return vgtest_result("test_webhook_errors");
}
