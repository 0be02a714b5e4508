/*
 * webhook: delivers alert events to the Node.js core as signed HTTP POSTs
 * (Standard Webhooks v1), from one worker thread that owns one CURLM.
 *
 * Thread: vg_webhook_start/stop on the broker thread (init, cleanup);
 * vg_webhook_submit on the broker thread; the worker owns the CURLM and
 * every job once submitted.
 * Memory: submit copies what it is given.
 */
#ifndef VG_WEBHOOK_H
#define VG_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vg_queue.h"

struct vg_webhook;

struct vg_webhook_opts {
	const char *url;
	const char *secret_file;
	const char *ca_file;        /* NULL: the system's trust store */
	long timeout_ms;
	int parallel;
	size_t queue_capacity;
	int64_t dead_after_ms;      /* give up (dead letter) this long after the event */
	int64_t backoff_max_ms;     /* longest wait between attempts */
	int max_rejects;            /* give up after this many refusals (vg_webhook_classify); >= 1 */
	struct vg_queue *completions;
	/* 0: alert webhooks (outcomes go to the outbox; undelivered events stay
	 * pending in alert_events). 1: the sample mirror (best effort with
	 * retries; nothing is kept past a restart). Names the log lines and is
	 * copied into each outcome's channel. */
	int channel;
};

#define VG_WH_CHANNEL_ALERTS 0
#define VG_WH_CHANNEL_MIRROR 1

/* What an attempt's answer means for its event. */
enum vg_wh_answer {
	VG_WH_ANS_DELIVERED = 1,   /* 2xx */
	VG_WH_ANS_GONE,            /* 410: the endpoint is disabled */
	VG_WH_ANS_REFUSED,         /* 4xx but 408, 409, 410, 425, 429: the endpoint refuses this event;
	                            * retried max_rejects times in all, then dead-lettered, so it does
	                            * not hold back its bed's later events */
	VG_WH_ANS_RETRY,           /* not now: no answer (timeout, connection refused or reset, TLS),
	                            * 3xx (redirects are not followed: a property of the endpoint, not
	                            * of the event), 408, 409, 425, 429, 5xx, anything else; retried in
	                            * order until dead_after */
};

/* Any thread, pure. answered: the transfer completed (else status is
 * meaningless). */
enum vg_wh_answer vg_webhook_classify(bool answered, long status);

/* Broker thread, at init before any sender starts (and cleanup after the
 * last one stopped): libcurl's global state. Returns 0 or -1. */
int vg_webhook_global_init(void);
void vg_webhook_global_cleanup(void);

int vg_webhook_start(struct vg_webhook **out, const struct vg_webhook_opts *o, char *err, size_t errlen);
/* Broker thread. Queues one event; order_key groups events that must be
 * delivered in order (one bed); created_ms (wall clock) is when the event
 * was raised; the dead-letter clock starts at the later of created_ms and
 * since_ms (an operator's redrive). An event id already held by the worker is ignored
 * (redeliveries are idempotent). Returns VG_QUEUE_OK, VG_QUEUE_FULL or -1
 * (out of memory). */
int vg_webhook_submit(struct vg_webhook *w, const char *event_id, const char *order_key,
		const char *body, size_t len, int64_t created_ms, int64_t since_ms);
/* Broker thread: true when the job queue is at most half full. */
bool vg_webhook_has_room(struct vg_webhook *w);
/* Broker thread: re-enables an endpoint that answered 410. */
int vg_webhook_enable(struct vg_webhook *w);
/* What /health says about the endpoint. */
enum vg_wh_reach {
	VG_WH_REACH_UNKNOWN = 0,   /* nothing tried yet */
	VG_WH_REACH_OK = 1,        /* last delivery answered 2xx, or the idle probe connected */
	VG_WH_REACH_FAILING = 2,   /* the endpoint answers, with an error status */
	VG_WH_REACH_DOWN = 3,      /* no answer: connection, TLS or timeout error */
};

struct vg_webhook_health {
	enum vg_wh_reach reach;
	int64_t checked_ms;        /* wall clock of that observation (0: never) */
	char error[96];            /* curl's message or "HTTP <n>" when not OK */
	size_t held;               /* undelivered events the worker holds */
	size_t queued;             /* submitted, not yet taken by the worker */
	int inflight;
	bool disabled;             /* 410 Gone: delivery stopped */
};

/* Any thread: a copy of the endpoint's health. */
void vg_webhook_get_health(struct vg_webhook *w, struct vg_webhook_health *h);

/* Any thread: re-read the secrets file now, changed or not (SIGHUP). */
void vg_webhook_recheck_secrets(struct vg_webhook *w);
/* Delivers what it can within drain_ms, then stops and frees. */
void vg_webhook_stop(struct vg_webhook *w, int drain_ms);

#endif
