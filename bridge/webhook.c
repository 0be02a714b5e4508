/*
 * webhook: signed webhook delivery (see webhook.h).
 *
 * DESIGN
 * - Jobs: one per alert event, submitted by the broker thread through a
 *   bounded queue whose wake-up is curl_multi_wakeup, so the worker sleeps
 *   in curl_multi_poll and still reacts at once.
 * - Ownership: the worker owns the CURLM, every easy handle and every job;
 *   CURLOPT_PRIVATE points an easy handle back at its job.
 * - Order: jobs are kept in arrival order; a job starts only when no earlier
 *   job with the same order_key (bed) is still undelivered, so one bed's
 *   events arrive in order while other beds proceed in parallel (at most
 *   `parallel` requests in flight).
 * - Attempts: each attempt is signed afresh (webhook-timestamp is the
 *   attempt's time) with the same webhook-id, and its answer classified
 *   (vg_webhook_classify). 2xx is delivered. 410 disables the endpoint
 *   (operator alarm; nothing more is sent until `vitalgate-admin webhook
 *   enable`). A refusal (4xx but 408, 409, 425, 429) is about this event:
 *   it is tried max_rejects times in all (1 s, 2 s, ... apart), then given
 *   up at once (dead letter, operator alarm), so one event the receiver
 *   will not take holds its bed back for seconds, not for dead_after.
 *   Anything else (a timeout, a refused or reset connection, 3xx, 408, 409,
 *   425, 429, 5xx) means "not now": retried after an exponential backoff
 *   (1 s doubling to backoff_max, +-20 % jitter), or after Retry-After when
 *   the receiver sends one (seconds or an HTTP-date; at least 1 s, at most
 *   a day ahead), in order; redirects are not followed. An event
 *   still undelivered dead_after after it was created (or re-driven) is
 *   given up (dead letter) and its bed's later events proceed.
 * - Idempotent submission: an event id the worker already holds is
 *   dropped, so redelivering the outbox after a restart or a redrive never
 *   sends one event twice from one broker.
 * - Results go back to the broker thread as VG_C_WEBHOOK completions.
 * - Shutdown: stop() closes the queue; the worker keeps delivering until
 *   nothing is pending or the deadline passes.
 */
#include "webhook.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/rand.h>

#include "vg_completion.h"
#include "vg_log.h"
#include "vg_smap.h"
#include "vg_util.h"
#include "whsign.h"

#define BACKOFF_FIRST_MS 1000
#define JOB_EVENT 1
#define JOB_ENABLE 2

struct wh_job {
	struct vg_job base;         /* type JOB_EVENT or JOB_ENABLE */
	struct wh_job *next;        /* its bed's queue */
	struct wh_bed *bed;
	char event_id[64];
	char order_key[2 * 65 + 2];
	char *body;
	size_t len;
	int attempts;
	int rejects;                /* attempts the endpoint refused (VG_WH_ANS_REFUSED) */
	int64_t created_ms;         /* wall clock: when the event was raised */
	int64_t since_ms;           /* wall clock: start of the dead-letter clock */
	int64_t queued_mono_ms;
	int64_t next_ms;
	int64_t retry_after_ms;
	CURL *easy;
	struct curl_slist *hdrs;
	char errbuf[CURL_ERROR_SIZE];  /* libcurl's detailed reason (TLS, DNS, ...) */
	char sig[VG_WH_MAX_SECRETS * 50];
};

/* One bed's (order key's) undelivered jobs, in order; only the head is
 * ever attempted. Beds with jobs are on the active list. */
struct wh_bed {
	struct wh_bed *next, *prev;
	struct wh_job *head, *tail;
	char key[];
};

struct vg_webhook {
	struct vg_webhook_opts o;
	char *url;
	struct vg_whsecrets secrets;
	char *secret_path;
	struct stat secret_st;       /* of the file the secrets were read from */
	int64_t secret_check_ms;
	atomic_bool secret_recheck;  /* SIGHUP: read the file even if unchanged */
	struct vg_queue q;
	CURLM *multi;
	pthread_t thread;
	pthread_mutex_t lock;
	bool stopping;
	int64_t deadline_ms;
	bool disabled;           /* endpoint answered 410 */
	struct wh_bed *active, *active_tail;  /* beds with jobs */
	struct vg_smap beds;     /* order_key -> struct wh_bed */
	int inflight;
	struct vg_smap held;     /* event_id -> job, for idempotent submission */
	atomic_size_t nheld;     /* jobs the worker holds (read by submit) */
	/* Health (/health): written by the worker under lock. */
	enum vg_wh_reach reach;
	int64_t reach_ms;
	char reach_err[96];
	atomic_int inflight_pub;
	atomic_bool disabled_pub;
	int64_t last_activity_ms; /* worker: last attempt or probe (monotonic) */
	CURL *probe;              /* worker: idle connect-only check, or NULL */
	char probe_err[CURL_ERROR_SIZE];
};

#define PROBE_IDLE_MS 15000

static void set_reach(struct vg_webhook *w, enum vg_wh_reach r, const char *err)
{
	pthread_mutex_lock(&w->lock);
	w->reach = r;
	w->reach_ms = vg_now_ms();
	vg_strlcpy(w->reach_err, err ? err : "", sizeof(w->reach_err));
	pthread_mutex_unlock(&w->lock);
}

void vg_webhook_get_health(struct vg_webhook *w, struct vg_webhook_health *h)
{
	memset(h, 0, sizeof(*h));
	pthread_mutex_lock(&w->lock);
	h->reach = w->reach;
	h->checked_ms = w->reach_ms;
	snprintf(h->error, sizeof(h->error), "%s", w->reach_err);
	pthread_mutex_unlock(&w->lock);
	h->held = atomic_load(&w->nheld);
	h->queued = vg_queue_depth(&w->q);
	h->inflight = atomic_load(&w->inflight_pub);
	h->disabled = atomic_load(&w->disabled_pub);
}

/* While nothing is being delivered, a TCP (and TLS, with verification)
 * connection to the endpoint every 15 s tells /health whether it is
 * reachable, without sending it a request. */
static void maybe_probe(struct vg_webhook *w)
{
	int64_t now = vg_mono_ms();

	if(w->probe || w->inflight > 0 || now - w->last_activity_ms < PROBE_IDLE_MS){
		return;
	}
	w->last_activity_ms = now;
	w->probe = curl_easy_init();
	if(w->probe == NULL){
		return;
	}
	curl_easy_setopt(w->probe, CURLOPT_URL, w->url);
	curl_easy_setopt(w->probe, CURLOPT_CONNECT_ONLY, 1L);
	w->probe_err[0] = '\0';
	curl_easy_setopt(w->probe, CURLOPT_ERRORBUFFER, w->probe_err);
	curl_easy_setopt(w->probe, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(w->probe, CURLOPT_CONNECTTIMEOUT_MS, w->o.timeout_ms);
	curl_easy_setopt(w->probe, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(w->probe, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(w->probe, CURLOPT_SSL_VERIFYHOST, 2L);
	if(w->o.ca_file){
		curl_easy_setopt(w->probe, CURLOPT_CAINFO, w->o.ca_file);
	}
	if(curl_multi_add_handle(w->multi, w->probe) != CURLM_OK){
		curl_easy_cleanup(w->probe);
		w->probe = NULL;
	}
}

static void finish_probe(struct vg_webhook *w, CURLcode res)
{
	curl_multi_remove_handle(w->multi, w->probe);
	curl_easy_cleanup(w->probe);
	w->probe = NULL;
	w->last_activity_ms = vg_mono_ms();
	set_reach(w, res == CURLE_OK ? VG_WH_REACH_OK : VG_WH_REACH_DOWN,
			res == CURLE_OK ? NULL : w->probe_err[0] ? w->probe_err : curl_easy_strerror(res));
}

static void wake_multi(void *arg)
{
	struct vg_webhook *w = arg;

	curl_multi_wakeup(w->multi);
}

static void post_outcome(struct vg_webhook *w, const struct wh_job *j, int outcome, long status, const char *error)
{
	struct vg_c_webhook *c = calloc(1, sizeof(*c));

	if(c == NULL){
		return;
	}
	c->base.type = VG_C_WEBHOOK;
	c->outcome = outcome;
	c->channel = w->o.channel;
	c->http_status = status;
	c->attempts = j->attempts;
	c->latency_ms = vg_now_ms() - j->created_ms;
	vg_strlcpy(c->event_id, j->event_id, sizeof(c->event_id));
	vg_strlcpy(c->error, error ? error : "", sizeof(c->error));
	/* Final outcomes must reach the outbox: they bypass the bound. */
	if((outcome == VG_WH_RETRY ? vg_queue_push(w->o.completions, &c->base)
			: vg_queue_push_force(w->o.completions, &c->base)) != VG_QUEUE_OK){
		free(c);
	}
}

static void job_free(struct wh_job *j)
{
	free(j->body);
	free(j);
}

static size_t discard_body(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct wh_job *j = arg;
	size_t len = size * n;
	int64_t secs, wait_ms = 0;
	bool have = false;
	time_t date;
	char val[64];
	size_t k;

	if(len > 12 && strncasecmp(p, "Retry-After:", 12) == 0){
		const char *v = p + 12;
		size_t vn = len - 12;
		while(vn && (*v == ' ' || *v == '\t')){
			v++;
			vn--;
		}
		while(vn && (v[vn - 1] == '\r' || v[vn - 1] == '\n' || v[vn - 1] == ' ' || v[vn - 1] == '\t')){
			vn--;
		}
		for(k = 0; k < vn && k < sizeof(val) - 1 && v[k] >= '0' && v[k] <= '9'; k++){
			val[k] = v[k];
		}
		val[k] = '\0';
		/* delta-seconds or an HTTP-date (RFC 9110, 10.2.3), at most a day
		 * ahead (anything else: our backoff), and at least 1 s: "0" or a
		 * date gone by must not make a busy loop of one bed's retries. */
		if(k && vg_parse_i64(val, 0, 86400, &secs)){
			wait_ms = secs * 1000;
			have = true;
		}else if(k == 0 && vn > 0 && vn < sizeof(val)){
			memcpy(val, v, vn);
			val[vn] = '\0';
			date = curl_getdate(val, NULL);
			wait_ms = (int64_t)date * 1000 - vg_now_ms();
			have = date >= 0 && wait_ms <= 86400 * 1000LL;
		}
		if(have){
			j->retry_after_ms = wait_ms > BACKOFF_FIRST_MS ? wait_ms : BACKOFF_FIRST_MS;
		}
	}
	return len;
}

static bool start_attempt(struct vg_webhook *w, struct wh_job *j)
{
	char hdr[sizeof(j->sig) + 32];
	int64_t ts = vg_now_ms() / 1000;

	if(vg_whsign(&w->secrets, j->event_id, ts, j->body, j->len, j->sig, sizeof(j->sig)) != 0){
		return false;
	}
	j->easy = curl_easy_init();
	if(j->easy == NULL){
		return false;
	}
	j->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	snprintf(hdr, sizeof(hdr), "webhook-id: %s", j->event_id);
	j->hdrs = curl_slist_append(j->hdrs, hdr);
	snprintf(hdr, sizeof(hdr), "webhook-timestamp: %lld", (long long)ts);
	j->hdrs = curl_slist_append(j->hdrs, hdr);
	snprintf(hdr, sizeof(hdr), "webhook-signature: %s", j->sig);
	j->hdrs = curl_slist_append(j->hdrs, hdr);
	j->hdrs = curl_slist_append(j->hdrs, "User-Agent: Vitalgate/1");
	j->hdrs = curl_slist_append(j->hdrs, "Expect:");
	j->retry_after_ms = -1;

	curl_easy_setopt(j->easy, CURLOPT_URL, w->url);
	curl_easy_setopt(j->easy, CURLOPT_PRIVATE, j);
	curl_easy_setopt(j->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(j->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(j->easy, CURLOPT_POSTFIELDS, j->body);
	curl_easy_setopt(j->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->len);
	curl_easy_setopt(j->easy, CURLOPT_HTTPHEADER, j->hdrs);
	curl_easy_setopt(j->easy, CURLOPT_TIMEOUT_MS, w->o.timeout_ms);
	curl_easy_setopt(j->easy, CURLOPT_CONNECTTIMEOUT_MS, w->o.timeout_ms);
	curl_easy_setopt(j->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(j->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	j->errbuf[0] = '\0';
	curl_easy_setopt(j->easy, CURLOPT_ERRORBUFFER, j->errbuf);
	/* Peer and host verification stay on (libcurl's defaults); only the
	 * trust anchors may change. */
	curl_easy_setopt(j->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(j->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	if(w->o.ca_file){
		curl_easy_setopt(j->easy, CURLOPT_CAINFO, w->o.ca_file);
	}
	curl_easy_setopt(j->easy, CURLOPT_WRITEFUNCTION, discard_body);
	curl_easy_setopt(j->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(j->easy, CURLOPT_HEADERDATA, j);
	if(curl_multi_add_handle(w->multi, j->easy) != CURLM_OK){
		curl_easy_cleanup(j->easy);
		curl_slist_free_all(j->hdrs);
		j->easy = NULL;
		j->hdrs = NULL;
		return false;
	}
	j->attempts++;
	w->inflight++;
	atomic_store(&w->inflight_pub, w->inflight);
	return true;
}

static int64_t backoff_ms(int attempts, int64_t max_ms)
{
	int64_t b = BACKOFF_FIRST_MS;
	uint32_t r = 0;
	int i;

	for(i = 1; i < attempts && b < max_ms; i++){
		b *= 2;
	}
	if(b > max_ms){
		b = max_ms;
	}
	RAND_bytes((unsigned char *)&r, sizeof(r));
	/* +-20 % jitter so a receiver coming back is not hit by every retry at
	 * once. */
	return b * 8 / 10 + (int64_t)(r % (uint32_t)(b * 4 / 10 + 1));
}

/* Takes a job the worker now holds into its bed's queue. */
static bool hold_job(struct vg_webhook *w, struct wh_job *j)
{
	struct wh_bed *b = vg_smap_get(&w->beds, j->order_key);
	int err;

	vg_smap_put(&w->held, j->event_id, j, &err);
	if(err){
		return false;
	}
	if(b == NULL){
		size_t klen = strlen(j->order_key);
		b = calloc(1, sizeof(*b) + klen + 1);
		if(b != NULL){
			memcpy(b->key, j->order_key, klen + 1);
			vg_smap_put(&w->beds, b->key, b, &err);
		}
		if(b == NULL || err){
			free(b);
			vg_smap_del(&w->held, j->event_id);
			return false;
		}
		b->prev = w->active_tail;
		if(w->active_tail){
			w->active_tail->next = b;
		}else{
			w->active = b;
		}
		w->active_tail = b;
	}
	j->bed = b;
	j->next = NULL;
	if(b->tail){
		b->tail->next = j;
	}else{
		b->head = j;
	}
	b->tail = j;
	atomic_fetch_add(&w->nheld, 1);
	return true;
}

/* Drops a finished job (delivered or dead: always its bed's head). */
static void unlink_job(struct vg_webhook *w, struct wh_job *j)
{
	struct wh_bed *b = j->bed;
	struct wh_job **pp = &b->head, *prev = NULL;

	vg_smap_del(&w->held, j->event_id);
	atomic_fetch_sub(&w->nheld, 1);
	while(*pp && *pp != j){
		prev = *pp;
		pp = &(*pp)->next;
	}
	if(*pp){
		*pp = j->next;
		if(b->tail == j){
			b->tail = prev;
		}
	}
	if(b->head == NULL){
		if(b->prev){
			b->prev->next = b->next;
		}else{
			w->active = b->next;
		}
		if(b->next){
			b->next->prev = b->prev;
		}else{
			w->active_tail = b->prev;
		}
		vg_smap_del(&w->beds, b->key);
		free(b);
	}
}

enum vg_wh_answer vg_webhook_classify(bool answered, long status)
{
	if(!answered){
		return VG_WH_ANS_RETRY;
	}
	if(status >= 200 && status < 300){
		return VG_WH_ANS_DELIVERED;
	}
	if(status == 410){
		return VG_WH_ANS_GONE;
	}
	/* 408 timeout, 409 busy with the same id (bridge/node), 425 too
	 * early, 429 slow down: not about the event. */
	if(status >= 400 && status < 500 && status != 408 && status != 409 && status != 425 && status != 429){
		return VG_WH_ANS_REFUSED;
	}
	return VG_WH_ANS_RETRY;
}

static const char *channel_what(const struct vg_webhook *w)
{
	return w->o.channel == VG_WH_CHANNEL_MIRROR ? "mirror batch" : "webhook";
}

/* Gives j up (dead letter): operator alarm, final outcome, off its bed's
 * queue. e says why ("HTTP 400", curl's message). */
static void give_up(struct vg_webhook *w, struct wh_job *j, int outcome, long status, const char *e)
{
	long long secs = (long long)((vg_now_ms() - j->since_ms) / 1000);

	if(outcome == VG_WH_REFUSED && w->o.channel == VG_WH_CHANNEL_MIRROR){
		vg_post_log(w->o.completions, VG_LOG_ERR, "Vitalgate ALARM: mirror batch %s refused by the endpoint (%s) on %d "
				"attempts; given up (the samples are in PostgreSQL)", j->event_id, e, j->attempts);
	}else if(outcome == VG_WH_REFUSED){
		vg_post_log(w->o.completions, VG_LOG_ERR, "Vitalgate ALARM: webhook %s refused by the endpoint (%s) on %d "
				"attempts (webhook_max_rejects); dead-lettered so its bed's later events proceed: see the core's log "
				"for why, then `vitalgate-admin webhook redrive %s`", j->event_id, e, j->attempts, j->event_id);
	}else if(w->o.channel == VG_WH_CHANNEL_MIRROR){
		vg_post_log(w->o.completions, VG_LOG_ERR,
				"Vitalgate ALARM: mirror batch %s undelivered after %d attempts over %lld s (%s); given up "
				"(the samples are in PostgreSQL)", j->event_id, j->attempts, secs, e);
	}else{
		vg_post_log(w->o.completions, VG_LOG_ERR,
				"Vitalgate ALARM: webhook %s undelivered after %d attempts over %lld s (%s); dead-lettered, "
				"re-drive it with `vitalgate-admin webhook redrive`", j->event_id, j->attempts, secs, e);
	}
	post_outcome(w, j, outcome, status, e);
	unlink_job(w, j);
	job_free(j);
}

static void finish_attempt(struct vg_webhook *w, CURL *easy, CURLcode res)
{
	const char *why;
	struct wh_job *j = NULL;
	long status = 0;
	int64_t delay;
	enum vg_wh_answer ans;
	char e[96];

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&j);
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	why = j->errbuf[0] ? j->errbuf : curl_easy_strerror(res);
	/* What the outbox and the log say: "HTTP <n>" or curl's message. */
	if(res == CURLE_OK){
		snprintf(e, sizeof(e), "HTTP %ld", status);
	}else{
		vg_strlcpy(e, why, sizeof(e));
	}
	curl_multi_remove_handle(w->multi, easy);
	curl_easy_cleanup(easy);
	curl_slist_free_all(j->hdrs);
	j->easy = NULL;
	j->hdrs = NULL;
	w->inflight--;
	atomic_store(&w->inflight_pub, w->inflight);
	w->last_activity_ms = vg_mono_ms();
	if(res != CURLE_OK){
		set_reach(w, VG_WH_REACH_DOWN, why);
	}else if(status >= 200 && status < 300){
		set_reach(w, VG_WH_REACH_OK, NULL);
	}else{
		set_reach(w, VG_WH_REACH_FAILING, e);
	}

	ans = vg_webhook_classify(res == CURLE_OK, status);
	if(ans == VG_WH_ANS_DELIVERED){
		post_outcome(w, j, VG_WH_DELIVERED, status, NULL);
		unlink_job(w, j);
		job_free(j);
		return;
	}
	if(ans == VG_WH_ANS_GONE){
		if(!w->disabled && w->o.channel == VG_WH_CHANNEL_MIRROR){
			vg_post_log(w->o.completions, VG_LOG_ERR,
					"Vitalgate ALARM: the mirror endpoint answered 410 Gone; mirroring is stopped until the next start");
		}else if(!w->disabled){
			vg_post_log(w->o.completions, VG_LOG_ERR,
					"Vitalgate ALARM: the webhook endpoint answered 410 Gone; webhook delivery is disabled until "
					"`vitalgate-admin webhook enable` (alerts still go to MQTT and stay pending in alert_events)");
		}
		w->disabled = true;
		j->next_ms = 0;
		post_outcome(w, j, VG_WH_GONE, status, "HTTP 410");
		return;
	}
	if(ans == VG_WH_ANS_REFUSED && ++j->rejects >= w->o.max_rejects){
		give_up(w, j, VG_WH_REFUSED, status, e);
		return;
	}
	if(vg_now_ms() - j->since_ms >= w->o.dead_after_ms){
		give_up(w, j, VG_WH_DEAD, status, e);
		return;
	}
	if(ans == VG_WH_ANS_REFUSED){
		/* A few quick tries (a receiver's hiccup), then the dead letter. */
		delay = backoff_ms(j->rejects, w->o.backoff_max_ms);
		vg_post_log(w->o.completions, VG_LOG_WARNING, "Vitalgate: %s %s attempt %d refused (%s; %d of %d); "
				"retrying in %lld ms", channel_what(w), j->event_id, j->attempts, e, j->rejects, w->o.max_rejects,
				(long long)delay);
	}else{
		delay = j->retry_after_ms >= 0 && res == CURLE_OK ? j->retry_after_ms : backoff_ms(j->attempts, w->o.backoff_max_ms);
		if(j->attempts == 1 || j->attempts % 10 == 0){
			vg_post_log(w->o.completions, VG_LOG_WARNING, res != CURLE_OK
					? "Vitalgate: %s %s attempt %d failed (%s); retrying in %lld ms"
					: "Vitalgate: %s %s attempt %d got %s; retrying in %lld ms",
					channel_what(w), j->event_id, j->attempts, e, (long long)delay);
		}
	}
	j->next_ms = vg_mono_ms() + delay;
	post_outcome(w, j, VG_WH_RETRY, status, res != CURLE_OK ? why : NULL);
}

/* Starts every bed's head job that may start now; returns ms until the
 * next one is due (or 1000). O(beds with undelivered events). */
static int start_due(struct vg_webhook *w)
{
	struct wh_bed *b;
	int64_t now = vg_mono_ms(), next = now + 1000;

	if(w->disabled){
		return 1000;
	}
	for(b = w->active; b && w->inflight < w->o.parallel; b = b->next){
		struct wh_job *j = b->head;
		if(j->easy != NULL){
			continue;
		}
		if(j->next_ms <= now){
			if(!start_attempt(w, j)){
				j->next_ms = now + 1000;
			}
		}else if(j->next_ms < next){
			next = j->next_ms;
		}
	}
	if(b != NULL){
		next = now + 50; /* all slots busy: look again soon */
	}
	return next > now ? (int)(next - now) : 0;
}

/* Key rotation without a restart: the secrets file is looked at every 2 s
 * and read again when it changed (an edit or a rename over it). A file that
 * cannot be used keeps the previous secrets in force. */
static void maybe_reload_secrets(struct vg_webhook *w)
{
	struct vg_whsecrets fresh;
	struct stat st;
	char err[256];
	int64_t now = vg_mono_ms();

	bool forced = atomic_exchange(&w->secret_recheck, false);

	if(!forced && now - w->secret_check_ms < 2000){
		return;
	}
	w->secret_check_ms = now;
	if(stat(w->secret_path, &st) != 0 || (!forced && st.st_ino == w->secret_st.st_ino && st.st_size == w->secret_st.st_size
			&& st.st_mtim.tv_sec == w->secret_st.st_mtim.tv_sec && st.st_mtim.tv_nsec == w->secret_st.st_mtim.tv_nsec)){
		return;
	}
	w->secret_st = st;
	if(vg_whsecrets_load(w->secret_path, &fresh, err, sizeof(err)) != 0){
		vg_post_log(w->o.completions, VG_LOG_ERR, "Vitalgate: %s changed but cannot be used (%s); "
				"still signing with the previous secrets",
				w->o.channel == VG_WH_CHANNEL_MIRROR ? "mirror_secret_file" : "webhook_secret_file", err);
		return;
	}
	vg_whsecrets_wipe(&w->secrets);
	w->secrets = fresh;
	vg_whsecrets_wipe(&fresh);
	vg_post_log(w->o.completions, VG_LOG_NOTICE, "Vitalgate: %s secrets reloaded from %s (%d secret(s))",
			w->o.channel == VG_WH_CHANNEL_MIRROR ? "mirror" : "webhook",
			w->secret_path, w->secrets.n);
}

void vg_webhook_recheck_secrets(struct vg_webhook *w)
{
	atomic_store(&w->secret_recheck, true);
	curl_multi_wakeup(w->multi);
}

static void *webhook_main(void *arg)
{
	struct vg_webhook *w = arg;
	struct vg_job *list, *nx;
	CURLMsg *m;
	int running, left, timeout;

	for(;;){
		bool stopping;
		int64_t deadline;

		list = vg_queue_take_all(&w->q, 0);
		for(; list; list = nx){
			struct wh_job *j = (struct wh_job *)list;
			nx = list->next;
			if(list->type == JOB_ENABLE){
				if(w->disabled){
					vg_post_log(w->o.completions, VG_LOG_NOTICE, "Vitalgate: webhook delivery enabled again");
				}
				w->disabled = false;
				job_free(j);
				continue;
			}
			if(vg_smap_get(&w->held, j->event_id) || !hold_job(w, j)){
				job_free(j); /* already held (a redelivery), or no memory: it stays pending in the outbox */
				continue;
			}
		}
		pthread_mutex_lock(&w->lock);
		stopping = w->stopping;
		deadline = w->deadline_ms;
		pthread_mutex_unlock(&w->lock);
		if(stopping && (w->active == NULL || vg_mono_ms() >= deadline || (w->disabled && w->inflight == 0))){
			break;
		}
		maybe_reload_secrets(w);
		atomic_store(&w->disabled_pub, w->disabled);
		timeout = start_due(w);
		if(!stopping && !w->disabled){
			maybe_probe(w);
		}
		curl_multi_perform(w->multi, &running);
		while((m = curl_multi_info_read(w->multi, &left)) != NULL){
			if(m->msg == CURLMSG_DONE && m->easy_handle == w->probe){
				finish_probe(w, m->data.result);
			}else if(m->msg == CURLMSG_DONE){
				finish_attempt(w, m->easy_handle, m->data.result);
				/* timeout was reckoned before this answer: a retry due sooner,
				 * or the bed's next event, starts now, not after it. */
				timeout = 0;
			}
		}
		if(timeout > 1000){
			timeout = 1000;
		}
		if(stopping && timeout > 100){
			timeout = 100;
		}
		curl_multi_poll(w->multi, NULL, 0, timeout, NULL);
	}
	return NULL;
}

int vg_webhook_start(struct vg_webhook **out, const struct vg_webhook_opts *o, char *err, size_t errlen)
{
	struct vg_webhook *w = calloc(1, sizeof(*w));

	*out = NULL;
	if(errlen){
		err[0] = '\0';
	}
	if(w == NULL){
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	w->o = *o;
	if(w->o.max_rejects < 1){
		w->o.max_rejects = 1;
	}
	w->url = strdup(o->url);
	if(w->url == NULL){
		free(w);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	w->secret_path = strdup(o->secret_file);
	if(w->secret_path == NULL || stat(o->secret_file, &w->secret_st) != 0
			|| vg_whsecrets_load(o->secret_file, &w->secrets, err, errlen) != 0){
		if(w->secret_path && err[0] == '\0'){
			snprintf(err, errlen, "%s: %s", o->secret_file, strerror(errno));
		}
		free(w->secret_path);
		free(w->url);
		free(w);
		return -1;
	}
	w->secret_check_ms = vg_mono_ms();
	w->last_activity_ms = w->secret_check_ms - PROBE_IDLE_MS + 500; /* first probe soon after start */
	w->multi = curl_multi_init();
	if(w->multi == NULL || vg_queue_init(&w->q, o->queue_capacity) != 0 || vg_smap_init(&w->held, 1024) != 0
			|| vg_smap_init(&w->beds, 256) != 0){
		snprintf(err, errlen, "cannot initialise libcurl");
		goto error;
	}
	vg_queue_set_wake(&w->q, wake_multi, w);
	pthread_mutex_init(&w->lock, NULL);
	if(pthread_create(&w->thread, NULL, webhook_main, w) != 0){
		snprintf(err, errlen, "cannot start the webhook thread");
		pthread_mutex_destroy(&w->lock);
		vg_queue_destroy(&w->q);
		goto error;
	}
	*out = w;
	return 0;
error:
	if(w->multi){
		curl_multi_cleanup(w->multi);
	}
	vg_whsecrets_wipe(&w->secrets);
	free(w->secret_path);
	free(w->url);
	free(w);
	return -1;
}

bool vg_webhook_has_room(struct vg_webhook *w)
{
	return w != NULL && atomic_load(&w->nheld) + vg_queue_depth(&w->q) <= w->o.queue_capacity / 2;
}

int vg_webhook_enable(struct vg_webhook *w)
{
	struct wh_job *j = calloc(1, sizeof(*j));

	if(j == NULL){
		return -1;
	}
	j->base.type = JOB_ENABLE;
	if(vg_queue_push_force(&w->q, &j->base) != VG_QUEUE_OK){
		job_free(j);
		return -1;
	}
	return 0;
}

int vg_webhook_submit(struct vg_webhook *w, const char *event_id, const char *order_key,
		const char *body, size_t len, int64_t created_ms, int64_t since_ms)
{
	struct wh_job *j = calloc(1, sizeof(*j));
	int rc;

	if(j == NULL){
		return -1;
	}
	j->body = malloc(len + 1);
	if(j->body == NULL){
		free(j);
		return -1;
	}
	memcpy(j->body, body, len);
	j->body[len] = '\0';
	j->len = len;
	j->base.type = JOB_EVENT;
	vg_strlcpy(j->event_id, event_id, sizeof(j->event_id));
	vg_strlcpy(j->order_key, order_key, sizeof(j->order_key));
	j->created_ms = created_ms;
	j->since_ms = since_ms > created_ms ? since_ms : created_ms;
	j->queued_mono_ms = vg_mono_ms();
	j->next_ms = 0;
	/* queue_capacity bounds what the worker holds plus what waits for it:
	 * past it the event stays pending in the outbox (redriven later). */
	if(atomic_load(&w->nheld) + vg_queue_depth(&w->q) >= w->o.queue_capacity){
		job_free(j);
		return VG_QUEUE_FULL;
	}
	rc = vg_queue_push(&w->q, &j->base);
	if(rc != VG_QUEUE_OK){
		job_free(j);
	}
	return rc;
}

void vg_webhook_stop(struct vg_webhook *w, int drain_ms)
{
	struct wh_job *j, *nx;
	struct vg_job *list, *lnx;
	int left = 0;

	if(w == NULL){
		return;
	}
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	w->deadline_ms = vg_mono_ms() + drain_ms;
	pthread_mutex_unlock(&w->lock);
	curl_multi_wakeup(w->multi);
	pthread_join(w->thread, NULL);

	while(w->active){
		struct wh_bed *b = w->active;
		w->active = b->next;
		for(j = b->head; j; j = nx){
			nx = j->next;
			if(j->easy){
				curl_multi_remove_handle(w->multi, j->easy);
				curl_easy_cleanup(j->easy);
				curl_slist_free_all(j->hdrs);
			}
			left++;
			job_free(j);
		}
		free(b);
	}
	for(list = vg_queue_take_all(&w->q, 0); list; list = lnx){
		lnx = list->next;
		if(list->type == JOB_EVENT){
			left++;
		}
		job_free((struct wh_job *)list);
	}
	if(left && w->o.channel == VG_WH_CHANNEL_MIRROR){
		vg_post_log(w->o.completions, VG_LOG_WARNING, "Vitalgate: %d mirror batch(es) undelivered at shutdown "
				"(the samples are in PostgreSQL)", left);
	}else if(left){
		vg_post_log(w->o.completions, VG_LOG_WARNING, "Vitalgate: %d webhook event(s) undelivered at shutdown; "
				"they stay pending in alert_events and are delivered after the next start", left);
	}
	if(w->probe){
		curl_multi_remove_handle(w->multi, w->probe);
		curl_easy_cleanup(w->probe);
	}
	curl_multi_cleanup(w->multi);
	vg_queue_destroy(&w->q);
	vg_smap_destroy(&w->held, NULL);
	vg_smap_destroy(&w->beds, NULL);
	pthread_mutex_destroy(&w->lock);
	vg_whsecrets_wipe(&w->secrets);
	free(w->secret_path);
	free(w->url);
	free(w);
}

int vg_webhook_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void vg_webhook_global_cleanup(void)
{
	curl_global_cleanup();
}
