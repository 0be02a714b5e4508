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
 *   attempt's time) with the same webhook-id. 2xx is delivered. 410 disables
 *   the endpoint (operator alarm, nothing more is sent until restart).
 *   Anything else, a timeout or a refused connection is retried after an
 *   exponential backoff (1 s doubling to 5 min, +-20 % jitter), or after
 *   Retry-After when the receiver sends one. Redirects are not followed.
 * - Results go back to the broker thread as VG_C_WEBHOOK completions.
 * - Shutdown: stop() closes the queue; the worker keeps delivering until
 *   nothing is pending or the deadline passes.
 */
#include "webhook.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <openssl/rand.h>

#include "vg_completion.h"
#include "vg_util.h"
#include "whsign.h"

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS (5 * 60 * 1000)

struct wh_job {
	struct vg_job base;
	struct wh_job *next;     /* pending list */
	char event_id[64];
	char order_key[2 * 65 + 2];
	char *body;
	size_t len;
	int attempts;
	int64_t created_ms;
	int64_t next_ms;
	int64_t retry_after_ms;
	CURL *easy;
	struct curl_slist *hdrs;
	char sig[VG_WH_MAX_SECRETS * 50];
};

struct vg_webhook {
	struct vg_webhook_opts o;
	char *url;
	struct vg_whsecrets secrets;
	struct vg_queue q;
	CURLM *multi;
	pthread_t thread;
	pthread_mutex_t lock;
	bool stopping;
	int64_t deadline_ms;
	bool disabled;           /* endpoint answered 410 */
	struct wh_job *head, *tail;
	int inflight;
};

static void wake_multi(void *arg)
{
	struct vg_webhook *w = arg;

	curl_multi_wakeup(w->multi);
}

static void post_outcome(struct vg_webhook *w, const struct wh_job *j, int outcome, long status)
{
	struct vg_c_webhook *c = calloc(1, sizeof(*c));

	if(c == NULL){
		return;
	}
	c->base.type = VG_C_WEBHOOK;
	c->outcome = outcome;
	c->http_status = status;
	c->attempts = j->attempts;
	c->latency_ms = vg_mono_ms() - j->created_ms;
	vg_strlcpy(c->event_id, j->event_id, sizeof(c->event_id));
	if(vg_queue_push(w->o.completions, &c->base) != VG_QUEUE_OK){
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
	int64_t secs;
	char val[32];
	size_t k;

	if(len > 12 && strncasecmp(p, "Retry-After:", 12) == 0){
		const char *v = p + 12;
		size_t vn = len - 12;
		while(vn && (*v == ' ' || *v == '\t')){
			v++;
			vn--;
		}
		for(k = 0; k < vn && k < sizeof(val) - 1 && v[k] >= '0' && v[k] <= '9'; k++){
			val[k] = v[k];
		}
		val[k] = '\0';
		/* Only delta-seconds; an HTTP-date falls back to our backoff. */
		if(k && vg_parse_i64(val, 0, 86400, &secs)){
			j->retry_after_ms = secs * 1000;
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
	return true;
}

static int64_t backoff_ms(int attempts)
{
	int64_t b = BACKOFF_FIRST_MS;
	uint32_t r = 0;
	int i;

	for(i = 1; i < attempts && b < BACKOFF_MAX_MS; i++){
		b *= 2;
	}
	if(b > BACKOFF_MAX_MS){
		b = BACKOFF_MAX_MS;
	}
	RAND_bytes((unsigned char *)&r, sizeof(r));
	/* +-20 % jitter so a receiver coming back is not hit by every retry at
	 * once. */
	return b * 8 / 10 + (int64_t)(r % (uint32_t)(b * 4 / 10 + 1));
}

static void unlink_job(struct vg_webhook *w, struct wh_job *j)
{
	struct wh_job **pp = &w->head, *prev = NULL;

	while(*pp && *pp != j){
		prev = *pp;
		pp = &(*pp)->next;
	}
	if(*pp){
		*pp = j->next;
		if(w->tail == j){
			w->tail = prev;
		}
	}
}

static void finish_attempt(struct vg_webhook *w, CURL *easy, CURLcode res)
{
	struct wh_job *j = NULL;
	long status = 0;
	int64_t delay;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&j);
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	curl_multi_remove_handle(w->multi, easy);
	curl_easy_cleanup(easy);
	curl_slist_free_all(j->hdrs);
	j->easy = NULL;
	j->hdrs = NULL;
	w->inflight--;

	if(res == CURLE_OK && status >= 200 && status < 300){
		post_outcome(w, j, VG_WH_DELIVERED, status);
		unlink_job(w, j);
		job_free(j);
		return;
	}
	if(res == CURLE_OK && status == 410){
		if(!w->disabled){
			vg_post_log(w->o.completions, MOSQ_LOG_ERR,
					"Vitalgate ALARM: the webhook endpoint answered 410 Gone; webhook delivery is disabled until "
					"the broker is restarted with a valid webhook_url (alerts still go to MQTT)");
		}
		w->disabled = true;
		post_outcome(w, j, VG_WH_GONE, status);
		return;
	}
	delay = backoff_ms(j->attempts);
	if(j->retry_after_ms >= 0 && (status == 429 || status == 503 || status == 502 || status == 504)){
		delay = j->retry_after_ms;
	}
	j->next_ms = vg_mono_ms() + delay;
	if(j->attempts == 1 || j->attempts % 10 == 0){
		if(res != CURLE_OK){
			vg_post_log(w->o.completions, MOSQ_LOG_WARNING, "Vitalgate: webhook %s attempt %d failed (%s); retrying in %lld ms",
					j->event_id, j->attempts, curl_easy_strerror(res), (long long)delay);
		}else{
			vg_post_log(w->o.completions, MOSQ_LOG_WARNING, "Vitalgate: webhook %s attempt %d got HTTP %ld; retrying in %lld ms",
					j->event_id, j->attempts, status, (long long)delay);
		}
	}
	post_outcome(w, j, VG_WH_RETRY, status);
}

/* Starts every job that may start now; returns ms until the next one is
 * due (or 1000). */
static int start_due(struct vg_webhook *w)
{
	const char *blocked[256];
	int nblocked = 0, i;
	struct wh_job *j;
	int64_t now = vg_mono_ms(), next = now + 1000;

	if(w->disabled){
		return 1000;
	}
	for(j = w->head; j; j = j->next){
		bool is_blocked = false;
		for(i = 0; i < nblocked; i++){
			if(!strcmp(blocked[i], j->order_key)){
				is_blocked = true;
				break;
			}
		}
		if(!is_blocked && j->easy == NULL && w->inflight < w->o.parallel){
			if(j->next_ms <= now){
				if(!start_attempt(w, j)){
					j->next_ms = now + 1000;
				}
			}else if(j->next_ms < next){
				next = j->next_ms;
			}
		}
		/* Later jobs of this bed wait for this one. */
		if(!is_blocked && nblocked < (int)(sizeof(blocked) / sizeof(blocked[0]))){
			blocked[nblocked++] = j->order_key;
		}
	}
	return next > now ? (int)(next - now) : 0;
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
			j->next = NULL;
			if(w->tail){
				w->tail->next = j;
			}else{
				w->head = j;
			}
			w->tail = j;
		}
		pthread_mutex_lock(&w->lock);
		stopping = w->stopping;
		deadline = w->deadline_ms;
		pthread_mutex_unlock(&w->lock);
		if(stopping && (w->head == NULL || vg_mono_ms() >= deadline || (w->disabled && w->inflight == 0))){
			break;
		}
		timeout = start_due(w);
		curl_multi_perform(w->multi, &running);
		while((m = curl_multi_info_read(w->multi, &left)) != NULL){
			if(m->msg == CURLMSG_DONE){
				finish_attempt(w, m->easy_handle, m->data.result);
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
	if(w == NULL){
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	w->o = *o;
	w->url = strdup(o->url);
	if(w->url == NULL){
		free(w);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if(vg_whsecrets_load(o->secret_file, &w->secrets, err, errlen) != 0){
		free(w->url);
		free(w);
		return -1;
	}
	w->multi = curl_multi_init();
	if(w->multi == NULL || vg_queue_init(&w->q, o->queue_capacity) != 0){
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
	free(w->url);
	free(w);
	return -1;
}

int vg_webhook_submit(struct vg_webhook *w, const char *event_id, const char *order_key,
		const char *body, size_t len)
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
	j->base.type = 1;
	vg_strlcpy(j->event_id, event_id, sizeof(j->event_id));
	vg_strlcpy(j->order_key, order_key, sizeof(j->order_key));
	j->created_ms = vg_mono_ms();
	j->next_ms = 0;
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

	for(j = w->head; j; j = nx){
		nx = j->next;
		if(j->easy){
			curl_multi_remove_handle(w->multi, j->easy);
			curl_easy_cleanup(j->easy);
			curl_slist_free_all(j->hdrs);
		}
		left++;
		job_free(j);
	}
	for(list = vg_queue_take_all(&w->q, 0); list; list = lnx){
		lnx = list->next;
		left++;
		job_free((struct wh_job *)list);
	}
	if(left){
		vg_post_log(w->o.completions, MOSQ_LOG_WARNING, "Vitalgate: %d webhook event(s) undelivered at shutdown", left);
	}
	curl_multi_cleanup(w->multi);
	vg_queue_destroy(&w->q);
	pthread_mutex_destroy(&w->lock);
	vg_whsecrets_wipe(&w->secrets);
	free(w->url);
	free(w);
}
