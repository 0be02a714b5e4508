/*
 * vg_queue: bounded intrusive job queue (see vg_queue.h).
 *
 * DESIGN
 * - One mutex and one condition variable per queue. Producers append under
 *   the lock and signal; consumers swap the whole list out under the lock
 *   and process it outside (Redis bio.c style), so lock hold times are a few
 *   pointer writes.
 * - The bound is on the number of jobs, checked at push. A full queue is a
 *   refusal, never a wait: the broker thread must not block.
 * - Thread: any. Memory: owns no jobs beyond the list pointers.
 */
#include "vg_queue.h"

#include <errno.h>
#include <time.h>

int vg_queue_init(struct vg_queue *q, size_t capacity)
{
	pthread_condattr_t attr;
	int rc;

	if(capacity == 0){
		return EINVAL;
	}
	q->head = NULL;
	q->tail = NULL;
	q->count = 0;
	q->capacity = capacity;
	q->high_water = 0;
	q->refused = 0;
	q->closed = false;
	q->wake = NULL;
	q->wake_arg = NULL;
	rc = pthread_mutex_init(&q->lock, NULL);
	if(rc){
		return rc;
	}
	pthread_condattr_init(&attr);
	/* Timed waits measure against the monotonic clock, immune to NTP steps. */
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	rc = pthread_cond_init(&q->cond, &attr);
	pthread_condattr_destroy(&attr);
	if(rc){
		pthread_mutex_destroy(&q->lock);
	}
	return rc;
}

void vg_queue_set_wake(struct vg_queue *q, vg_queue_wake_fn fn, void *arg)
{
	pthread_mutex_lock(&q->lock);
	q->wake = fn;
	q->wake_arg = arg;
	pthread_mutex_unlock(&q->lock);
}

void vg_queue_destroy(struct vg_queue *q)
{
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
}

static int queue_push(struct vg_queue *q, struct vg_job *job, bool force)
{
	vg_queue_wake_fn wake;
	void *wake_arg;

	job->next = NULL;
	pthread_mutex_lock(&q->lock);
	if(q->closed){
		pthread_mutex_unlock(&q->lock);
		return VG_QUEUE_CLOSED;
	}
	if(!force && q->count >= q->capacity){
		q->refused++;
		pthread_mutex_unlock(&q->lock);
		return VG_QUEUE_FULL;
	}
	if(q->tail){
		q->tail->next = job;
	}else{
		q->head = job;
	}
	q->tail = job;
	q->count++;
	if(q->count > q->high_water){
		q->high_water = q->count;
	}
	wake = q->wake;
	wake_arg = q->wake_arg;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	if(wake){
		wake(wake_arg);
	}
	return VG_QUEUE_OK;
}

int vg_queue_push(struct vg_queue *q, struct vg_job *job)
{
	return queue_push(q, job, false);
}

int vg_queue_push_force(struct vg_queue *q, struct vg_job *job)
{
	return queue_push(q, job, true);
}

struct vg_job *vg_queue_take_all(struct vg_queue *q, int timeout_ms)
{
	struct vg_job *list;
	struct timespec deadline;

	pthread_mutex_lock(&q->lock);
	if(q->head == NULL && !q->closed && timeout_ms != 0){
		if(timeout_ms < 0){
			while(q->head == NULL && !q->closed){
				pthread_cond_wait(&q->cond, &q->lock);
			}
		}else{
			clock_gettime(CLOCK_MONOTONIC, &deadline);
			deadline.tv_sec += timeout_ms / 1000;
			deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
			if(deadline.tv_nsec >= 1000000000L){
				deadline.tv_sec++;
				deadline.tv_nsec -= 1000000000L;
			}
			while(q->head == NULL && !q->closed){
				if(pthread_cond_timedwait(&q->cond, &q->lock, &deadline) == ETIMEDOUT){
					break;
				}
			}
		}
	}
	list = q->head;
	q->head = NULL;
	q->tail = NULL;
	q->count = 0;
	pthread_mutex_unlock(&q->lock);
	return list;
}

void vg_queue_close(struct vg_queue *q)
{
	vg_queue_wake_fn wake;
	void *wake_arg;

	pthread_mutex_lock(&q->lock);
	q->closed = true;
	wake = q->wake;
	wake_arg = q->wake_arg;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	if(wake){
		wake(wake_arg);
	}
}

size_t vg_queue_depth(struct vg_queue *q)
{
	size_t n;

	pthread_mutex_lock(&q->lock);
	n = q->count;
	pthread_mutex_unlock(&q->lock);
	return n;
}
