/*
 * vg_queue: a bounded multi-producer queue of intrusive jobs.
 *
 * Every hand-off between threads in Vitalgate goes through one of these:
 * broker thread -> worker (jobs), worker -> broker thread (completions).
 * Producers never wait: a full queue refuses the push (VG_QUEUE_FULL) and the
 * caller turns that into a visible refusal (a reason code, a counter).
 * Consumers take everything waiting at once (vg_queue_take_all), because
 * wake-ups coalesce.
 *
 * Ownership: a pushed job belongs to the queue until taken; whoever takes it
 * owns it (and frees it). vg_queue_destroy frees nothing: drain it first.
 */
#ifndef VG_QUEUE_H
#define VG_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct vg_job {
	struct vg_job *next;
	int type;
};

typedef void (*vg_queue_wake_fn)(void *arg);

struct vg_queue {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct vg_job *head;
	struct vg_job *tail;
	size_t count;
	size_t capacity;
	size_t high_water;
	unsigned long refused;
	bool closed;
	vg_queue_wake_fn wake;  /* extra wake-up, e.g. curl_multi_wakeup */
	void *wake_arg;
};

enum {
	VG_QUEUE_OK = 0,
	VG_QUEUE_FULL = 1,
	VG_QUEUE_CLOSED = 2,
};

/* Any thread, before use. capacity > 0. Returns 0 or an errno value. */
int vg_queue_init(struct vg_queue *q, size_t capacity);
/* Set an extra wake-up called (outside the lock) after each push. */
void vg_queue_set_wake(struct vg_queue *q, vg_queue_wake_fn fn, void *arg);
/* Any thread, after every producer and consumer has stopped. */
void vg_queue_destroy(struct vg_queue *q);

/* Any thread; never blocks on capacity. VG_QUEUE_FULL leaves the job with
 * the caller. */
int vg_queue_push(struct vg_queue *q, struct vg_job *job);
/* Like vg_queue_push but ignores the bound: only for jobs that must not be
 * lost and are bounded elsewhere (shutdown sentinels, identity snapshots). */
int vg_queue_push_force(struct vg_queue *q, struct vg_job *job);

/* Takes every waiting job in FIFO order (NULL if none). timeout_ms < 0
 * waits until a job arrives or the queue closes, 0 never waits. */
struct vg_job *vg_queue_take_all(struct vg_queue *q, int timeout_ms);

/* Wakes consumers; later pushes return VG_QUEUE_CLOSED. */
void vg_queue_close(struct vg_queue *q);
size_t vg_queue_depth(struct vg_queue *q);

#endif
