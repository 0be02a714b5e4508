/*
 * fake_curl: a stand-in for the libcurl calls the webhook sender
 * (bridge/webhook.c) makes, and for its clocks, so its retry logic runs in
 * virtual time against scripted answers. Link the test with
 *   -Wl,--wrap=curl_easy_init,--wrap=curl_easy_setopt,
 *   --wrap=curl_easy_getinfo,--wrap=curl_easy_cleanup,
 *   --wrap=curl_multi_init,--wrap=curl_multi_cleanup,
 *   --wrap=curl_multi_add_handle,--wrap=curl_multi_remove_handle,
 *   --wrap=curl_multi_perform,--wrap=curl_multi_info_read,
 *   --wrap=curl_multi_poll,--wrap=curl_multi_wakeup,
 *   --wrap=vg_mono_ms,--wrap=vg_now_ms
 * (FAKE_CURL_WRAP in tests/CMakeLists.txt). curl_slist_* and
 * curl_easy_strerror stay libcurl's own.
 *
 * Time: vg_mono_ms() is a virtual clock starting at 0 and vg_now_ms() that
 * plus a fixed wall-clock origin. Virtual time moves only in
 * curl_multi_poll (the worker's one sleep): to the end of its timeout or to
 * the next scripted answer, whichever comes first, and never past a
 * horizon the test sets (fake_curl_run). A curl_multi_wakeup (a job
 * submitted) makes the poll return at once without moving time, from the
 * next fake_curl_run on: so jobs submitted together are taken together,
 * whatever the threads' timing. fake_curl_run(ms) plays ms of the worker's
 * life in a few microseconds, deterministically.
 *
 * Requests: each easy handle added to the multi handle (but a CONNECT_ONLY
 * probe, which connects at once) is one request: the fake records it
 * (URL, webhook-* headers, body, TLS and redirect options, when it started
 * and ended) and asks the test's responder for its answer: an HTTP status
 * with header lines, or a transfer error (timeout, connection refused),
 * after some latency. The header lines reach CURLOPT_HEADERFUNCTION, the
 * status CURLINFO_RESPONSE_CODE, the error CURLOPT_ERRORBUFFER and the
 * CURLMsg, as libcurl would.
 *
 * Thread: the worker calls the curl functions; the test thread the
 * fake_curl_* ones (and curl_multi_wakeup through vg_webhook_submit). One
 * mutex. Memory: requests are kept until fake_curl_reset.
 */
#ifndef FAKE_CURL_H
#define FAKE_CURL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fake_curl_answer {
	int status;              /* HTTP status (with result 0) */
	int result;              /* a CURLcode: 0 (an answer), CURLE_OPERATION_TIMEDOUT, CURLE_COULDNT_CONNECT, ... */
	const char *headers;     /* header lines separated by "\n" (NULL: none). "@+N" is sent as the
	                          * HTTP-date N seconds (N may be negative) after the answer */
	int latency_ms;          /* the answer comes this long after the request starts (a timeout: the
	                          * request's CURLOPT_TIMEOUT_MS when 0) */
};

struct fake_curl_request {
	int index;               /* in the order requests started, from 0 */
	int attempt;             /* requests for this webhook-id so far, this one included */
	int64_t start_ms;        /* virtual vg_mono_ms() when it started ... */
	int64_t end_ms;          /* ... and when its answer came */
	int64_t start_wall_ms;   /* vg_now_ms() when it started */
	char url[256];
	char event_id[64];       /* the webhook-id header */
	char timestamp[32];      /* webhook-timestamp */
	char signature[512];     /* webhook-signature */
	char content_type[64];
	char body[512];          /* the POST body (cut at 511 bytes) */
	size_t len;              /* its whole length */
	long verify_peer, verify_host, follow;  /* CURLOPT_SSL_VERIFYPEER, _VERIFYHOST, FOLLOWLOCATION */
	long timeout_ms;
	struct fake_curl_answer answer;
};

/* Decides the answer to a request; runs on the worker thread. */
typedef struct fake_curl_answer (*fake_curl_responder)(const struct fake_curl_request *req, void *arg);

/* Before a worker starts: time 0, horizon 0, no requests. wall0_ms is
 * vg_now_ms() at time 0. */
void fake_curl_reset(int64_t wall0_ms);
void fake_curl_set_responder(fake_curl_responder fn, void *arg);
/* Lets virtual time run ms further and returns once the worker has done
 * everything due by then (it sleeps in curl_multi_poll past the horizon).
 * Call it once after vg_webhook_start, before submitting. */
void fake_curl_run(int64_t ms);
/* Lets time run freely (before vg_webhook_stop, which waits for the
 * worker). */
void fake_curl_free_run(void);
int64_t fake_curl_now(void);
int64_t fake_curl_wall(void);
/* Requests so far, and a copy of request i. */
size_t fake_curl_nrequests(void);
bool fake_curl_request(size_t i, struct fake_curl_request *out);
/* The most requests in flight at once so far. */
size_t fake_curl_max_inflight(void);

#endif
