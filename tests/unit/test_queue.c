/*
 * test_queue: vg_queue FIFO order, the capacity bound and its refusal
 * counter, push_force, timed and blocking take_all, close, and a
 * multi-producer stress run.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "vg_queue.h"
#include "vgtest.h"

struct tjob {
	struct vg_job job;   /* first member: a vg_job * is a tjob * */
	int producer;
	int n;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int list_len(const struct vg_job *j)
{
	int n = 0;

	for(; j; j = j->next){
		n++;
	}
	return n;
}

static void test_init_rejects_zero(void)
{
	struct vg_queue q;

	CHECK_INT(vg_queue_init(&q, 0), EINVAL);
}

static void test_fifo(void)
{
	struct vg_queue q;
	struct tjob jobs[10];
	struct vg_job *list, *p;
	int i;

	CHECK_INT(vg_queue_init(&q, 16), 0);
	CHECK(vg_queue_take_all(&q, 0) == NULL);
	for(i = 0; i < 10; i++){
		jobs[i].n = i;
		jobs[i].job.type = 100 + i;
		CHECK_INT(vg_queue_push(&q, &jobs[i].job), VG_QUEUE_OK);
	}
	CHECK_INT(vg_queue_depth(&q), 10);
	CHECK_INT(q.high_water, 10);
	list = vg_queue_take_all(&q, 0);
	CHECK_INT(list_len(list), 10);
	for(i = 0, p = list; p; p = p->next, i++){
		CHECK_INT(((struct tjob *)p)->n, i);
		CHECK_INT(p->type, 100 + i);
	}
	CHECK_INT(vg_queue_depth(&q), 0);
	CHECK(vg_queue_take_all(&q, 0) == NULL);

	/* Interleaved push / take keeps order across batches. */
	CHECK_INT(vg_queue_push(&q, &jobs[0].job), VG_QUEUE_OK);
	CHECK_INT(vg_queue_push(&q, &jobs[1].job), VG_QUEUE_OK);
	list = vg_queue_take_all(&q, 0);
	CHECK(list == &jobs[0].job);
	CHECK(list && list->next == &jobs[1].job);
	CHECK(list && list->next && list->next->next == NULL);
	CHECK_INT(vg_queue_push(&q, &jobs[2].job), VG_QUEUE_OK);
	list = vg_queue_take_all(&q, 0);
	CHECK(list == &jobs[2].job);
	CHECK(list && list->next == NULL);
	vg_queue_destroy(&q);
}

static void test_capacity(void)
{
	struct vg_queue q;
	struct tjob jobs[6];
	struct vg_job *list;
	int i;

	CHECK_INT(vg_queue_init(&q, 3), 0);
	for(i = 0; i < 3; i++){
		CHECK_INT(vg_queue_push(&q, &jobs[i].job), VG_QUEUE_OK);
	}
	CHECK_INT(q.refused, 0);
	CHECK_INT(vg_queue_push(&q, &jobs[3].job), VG_QUEUE_FULL);
	CHECK_INT(q.refused, 1);
	CHECK_INT(vg_queue_push(&q, &jobs[4].job), VG_QUEUE_FULL);
	CHECK_INT(q.refused, 2);
	CHECK_INT(vg_queue_depth(&q), 3);

	/* push_force ignores the bound and does not count as refused. */
	CHECK_INT(vg_queue_push_force(&q, &jobs[5].job), VG_QUEUE_OK);
	CHECK_INT(vg_queue_depth(&q), 4);
	CHECK_INT(q.refused, 2);
	CHECK_INT(q.high_water, 4);

	list = vg_queue_take_all(&q, 0);
	CHECK_INT(list_len(list), 4);
	CHECK(list == &jobs[0].job);
	CHECK(list && list->next && list->next->next && list->next->next->next == &jobs[5].job);

	/* Room again after draining. */
	CHECK_INT(vg_queue_push(&q, &jobs[3].job), VG_QUEUE_OK);
	CHECK(vg_queue_take_all(&q, 0) == &jobs[3].job);
	CHECK_INT(q.refused, 2);
	vg_queue_destroy(&q);
}

static int wake_calls;

static void count_wake(void *arg)
{
	(void)arg;
	wake_calls++;
}

static void test_wake_hook_and_close(void)
{
	struct vg_queue q;
	struct tjob a, b;

	CHECK_INT(vg_queue_init(&q, 4), 0);
	vg_queue_set_wake(&q, count_wake, NULL);
	CHECK_INT(vg_queue_push(&q, &a.job), VG_QUEUE_OK);
	CHECK_INT(wake_calls, 1);
	CHECK_INT(vg_queue_push_force(&q, &b.job), VG_QUEUE_OK);
	CHECK_INT(wake_calls, 2);
	vg_queue_close(&q);
	CHECK_INT(wake_calls, 3);
	/* Pushes after close are refused, jobs still queued can be taken. */
	CHECK_INT(vg_queue_push(&q, &a.job), VG_QUEUE_CLOSED);
	CHECK_INT(vg_queue_push_force(&q, &a.job), VG_QUEUE_CLOSED);
	CHECK(vg_queue_take_all(&q, -1) == &a.job);
	/* Closed and empty: an infinite wait returns at once. */
	CHECK(vg_queue_take_all(&q, -1) == NULL);
	vg_queue_destroy(&q);
}

static void test_timeout(void)
{
	struct vg_queue q;
	int64_t t0, dt;

	CHECK_INT(vg_queue_init(&q, 4), 0);
	t0 = now_ms();
	CHECK(vg_queue_take_all(&q, 150) == NULL);
	dt = now_ms() - t0;
	CHECK(dt >= 140);    /* waited (allow clock granularity) */
	CHECK(dt < 5000);    /* and did not hang */

	t0 = now_ms();
	CHECK(vg_queue_take_all(&q, 0) == NULL);
	CHECK(now_ms() - t0 < 100);

	/* More than a second: the nanosecond carry of the deadline. */
	t0 = now_ms();
	CHECK(vg_queue_take_all(&q, 1050) == NULL);
	dt = now_ms() - t0;
	CHECK(dt >= 1040);
	CHECK(dt < 6000);
	vg_queue_destroy(&q);
}

struct waiter {
	struct vg_queue *q;
	int timeout_ms;
	struct vg_job *got;
	atomic_int started;
	atomic_int done;
	int64_t waited_ms;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	int64_t t0 = now_ms();

	atomic_store(&w->started, 1);
	w->got = vg_queue_take_all(w->q, w->timeout_ms);
	w->waited_ms = now_ms() - t0;
	atomic_store(&w->done, 1);
	return NULL;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void test_close_wakes_consumer(void)
{
	struct vg_queue q;
	struct waiter w = { .timeout_ms = -1 };
	pthread_t th;

	CHECK_INT(vg_queue_init(&q, 4), 0);
	w.q = &q;
	CHECK_INT(pthread_create(&th, NULL, waiter_main, &w), 0);
	while(!atomic_load(&w.started)){
		sched_yield();
	}
	sleep_ms(100);
	CHECK_INT(atomic_load(&w.done), 0);   /* still blocked: nothing queued */
	vg_queue_close(&q);
	pthread_join(th, NULL);
	CHECK_INT(atomic_load(&w.done), 1);
	CHECK(w.got == NULL);
	CHECK(w.waited_ms >= 90);
	vg_queue_destroy(&q);
}

static void test_push_wakes_consumer(void)
{
	struct vg_queue q;
	struct waiter w = { .timeout_ms = 10000 };
	struct tjob job;
	pthread_t th;

	CHECK_INT(vg_queue_init(&q, 4), 0);
	w.q = &q;
	CHECK_INT(pthread_create(&th, NULL, waiter_main, &w), 0);
	while(!atomic_load(&w.started)){
		sched_yield();
	}
	sleep_ms(50);
	CHECK_INT(vg_queue_push(&q, &job.job), VG_QUEUE_OK);
	pthread_join(th, NULL);
	CHECK(w.got == &job.job);
	CHECK(w.waited_ms < 5000);   /* woken by the push, not the timeout */
	vg_queue_destroy(&q);
}

#define PRODUCERS 4
#define JOBS_EACH 10000

struct producer {
	struct vg_queue *q;
	int id;
	struct tjob *jobs;
	unsigned long full_retries;
};

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	int i, rc;

	for(i = 0; i < JOBS_EACH; i++){
		p->jobs[i].producer = p->id;
		p->jobs[i].n = i;
		while((rc = vg_queue_push(p->q, &p->jobs[i].job)) == VG_QUEUE_FULL){
			p->full_retries++;
			sched_yield();
		}
		if(rc != VG_QUEUE_OK){
			break;
		}
	}
	return NULL;
}

static void test_stress(void)
{
	struct vg_queue q;
	struct producer prod[PRODUCERS];
	pthread_t th[PRODUCERS];
	static unsigned char seen[PRODUCERS][JOBS_EACH];
	int last[PRODUCERS];
	long received = 0, dup = 0, order_errors = 0, bad = 0;
	unsigned long retries = 0;
	int i, idle = 0;

	CHECK_INT(vg_queue_init(&q, 64), 0);   /* small: exercises refusals */
	memset(seen, 0, sizeof(seen));
	for(i = 0; i < PRODUCERS; i++){
		last[i] = -1;
		prod[i].q = &q;
		prod[i].id = i;
		prod[i].full_retries = 0;
		prod[i].jobs = calloc(JOBS_EACH, sizeof(struct tjob));
		CHECK(prod[i].jobs != NULL);
	}
	for(i = 0; i < PRODUCERS; i++){
		CHECK_INT(pthread_create(&th[i], NULL, producer_main, &prod[i]), 0);
	}
	while(received < (long)PRODUCERS * JOBS_EACH && idle < 50){
		struct vg_job *list = vg_queue_take_all(&q, 100);
		if(list == NULL){
			idle++;   /* 50 empty 100 ms waits in a row: give up */
			continue;
		}
		idle = 0;
		for(; list; list = list->next){
			struct tjob *t = (struct tjob *)list;
			if(t->producer < 0 || t->producer >= PRODUCERS || t->n < 0 || t->n >= JOBS_EACH){
				bad++;
				continue;
			}
			if(seen[t->producer][t->n]){
				dup++;
			}
			seen[t->producer][t->n] = 1;
			/* Per producer, FIFO means strictly increasing n. */
			if(t->n <= last[t->producer]){
				order_errors++;
			}
			last[t->producer] = t->n;
			received++;
		}
	}
	for(i = 0; i < PRODUCERS; i++){
		pthread_join(th[i], NULL);
		retries += prod[i].full_retries;
	}
	CHECK_INT(received, (long)PRODUCERS * JOBS_EACH);
	CHECK_INT(dup, 0);
	CHECK_INT(bad, 0);
	CHECK_INT(order_errors, 0);
	{
		long missing = 0;
		int p, n;
		for(p = 0; p < PRODUCERS; p++){
			for(n = 0; n < JOBS_EACH; n++){
				missing += !seen[p][n];
			}
		}
		CHECK_INT(missing, 0);
	}
	CHECK(vg_queue_take_all(&q, 0) == NULL);
	CHECK_INT(vg_queue_depth(&q), 0);
	CHECK(q.high_water <= 64);
	/* Every FULL seen by a producer was counted as refused. */
	CHECK_INT(q.refused, retries);
	for(i = 0; i < PRODUCERS; i++){
		free(prod[i].jobs);
	}
	vg_queue_destroy(&q);
}

int main(void)
{
	test_init_rejects_zero();
	test_fifo();
	test_capacity();
	test_wake_hook_and_close();
	test_timeout();
	test_close_wakes_consumer();
	test_push_wakes_consumer();
	test_stress();
	return vgtest_result("test_queue");
}
