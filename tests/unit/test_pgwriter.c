/*
 * test_pgwriter: the PostgreSQL writer (bridge/pgwriter.c) with a fake
 * libpq (fake_pq.c) and allocation failures injected on its thread
 * (-Wl,--wrap=malloc,calloc,realloc). Whatever allocation fails, and when,
 * the journal position the writer commits never passes a record that is
 * not in the (fake) database: every vg_journal_commit is intercepted
 * (-Wl,--wrap=vg_journal_commit) and the records it would release are
 * looked up among the rows of committed transactions first (writer_rig.c).
 * Once memory is back, everything is stored. (Issue 12, item 13.)
 *
 * Two passes: the k-th allocation of the writer thread fails (and the two
 * after it), for every k up to SWEEP (its connection, first batches and
 * first commits), on a fresh journal each time; then about a fifth of its
 * allocations fail for two seconds while records keep arriving.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>

#include "fake_pq.h"
#include "vg_completion.h"
#include "vg_rec.h"
#include "vg_schema.h"
#include "writer_rig.h"
#include "vg_util.h"
#include "vgtest.h"

#define SWEEP 20

/* ---- allocation failures ------------------------------------------------ */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

enum { FAIL_NONE, FAIL_WINDOW, FAIL_RANDOM };

static _Atomic int fail_mode;
static _Atomic long alloc_no;         /* allocations of non-immune threads */
static _Atomic long window_from;      /* FAIL_WINDOW: these fail ... */
static _Atomic long window_to;        /* ... up to this one, inclusive */
static _Atomic long failed;

static bool should_fail(void)
{
	long n;
	int mode = atomic_load(&fail_mode);

	if(rig_immune || mode == FAIL_NONE){
		return false;
	}
	n = atomic_fetch_add(&alloc_no, 1) + 1;
	if(mode == FAIL_WINDOW){
		return n >= atomic_load(&window_from) && n <= atomic_load(&window_to);
	}
	/* FAIL_RANDOM: one in five, from a fixed sequence. */
	return ((uint64_t)n * 0x9e3779b97f4a7c15ull >> 60) < 3;
}

void *__wrap_malloc(size_t n)
{
	if(should_fail()){
		atomic_fetch_add(&failed, 1);
		return NULL;
	}
	return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
	if(should_fail()){
		atomic_fetch_add(&failed, 1);
		return NULL;
	}
	return __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
	if(should_fail()){
		atomic_fetch_add(&failed, 1);
		return NULL;
	}
	return __real_realloc(p, n);
}

/* ---- tests ------------------------------------------------------------------ */

static void test_each_allocation_fails(void)
{
	int k, stuck = 0, missing = 0, bad = 0;
	long failures = 0;

	for(k = 1; k <= SWEEP; k++){
		struct rig g;
		if(!rig_open(&g, 40, true)){
			CHECK(false);
			return;
		}
		fake_pq_reset();
		atomic_store(&rig_violations, 0);
		atomic_store(&alloc_no, 0);
		atomic_store(&failed, 0);
		atomic_store(&window_from, k);
		atomic_store(&window_to, k + 2);
		atomic_store(&fail_mode, FAIL_WINDOW);
		if(!rig_start(&g, 7)){
			CHECK(false);
			rig_close(&g);
			return;
		}
		if(!rig_wait_all(&g, 15000)){
			stuck++;
			fprintf(stderr, "k=%d: the writer did not commit everything\n", k);
		}
		atomic_store(&fail_mode, FAIL_NONE);
		rig_close(&g);
		failures += atomic_load(&failed);
		missing += rig_missing(&g);
		if(atomic_load(&rig_violations)){
			bad++;
			fprintf(stderr, "k=%d: %s\n", k, rig_first_violation);
		}
	}
	CHECK_INT(bad, 0);
	CHECK_INT(stuck, 0);
	CHECK_INT(missing, 0);
	CHECK(failures >= SWEEP);   /* the failures really happened */
}

static void test_random_failures_while_records_arrive(void)
{
	struct rig g;
	int i;

	if(!rig_open(&g, 30, true)){
		CHECK(false);
		return;
	}
	fake_pq_reset();
	atomic_store(&rig_violations, 0);
	atomic_store(&rig_commits_checked, 0);
	atomic_store(&failed, 0);
	atomic_store(&alloc_no, 0);
	atomic_store(&fail_mode, FAIL_RANDOM);
	if(!rig_start(&g, 7)){
		CHECK(false);
		rig_close(&g);
		return;
	}
	for(i = 0; i < 100; i++){
		CHECK(rig_append(&g, 6));
		rig_drain(&g);
		rig_sleep_ms(20);
	}
	atomic_store(&fail_mode, FAIL_NONE);
	CHECK(rig_wait_all(&g, 20000));
	rig_close(&g);
	if(atomic_load(&rig_violations)){
		fprintf(stderr, "random: %s\n", rig_first_violation);
	}
	CHECK_INT(atomic_load(&rig_violations), 0);
	CHECK_INT(rig_missing(&g), 0);
	CHECK(atomic_load(&failed) >= 5);
	CHECK(atomic_load(&rig_commits_checked) > 5);
}

/* ---- a record naming a field this build does not know ------------------- */

/* A samples record of a newer schema (a field id this build lacks) is
 * neither stored nor skipped: the writer stores everything before it,
 * stops there, and raises an ALARM naming the record and the id (issue 13:
 * never misread). */
static void test_unknown_field_id_stops_the_writer(void)
{
	struct rig g;
	struct vg_journal_pos before, now;
	uint8_t rec[128];
	size_t len;
	uint64_t first_after, lsn = 0, s;
	bool alarmed = false, reached = false;
	int unknown = -1, id, k, waited, stored_before = 0, stored_after = 0;
	char key[32], want[64], want_id[32];

	for(id = 0; id < 32 && unknown < 0; id++){
		if(id >= VG_FIELD_ID_LIMIT || vg_field_by_id[id] < 0){
			unknown = id;
		}
	}
	if(!rig_open(&g, 10, false)){
		CHECK(false);
		return;
	}
	fake_pq_reset();
	atomic_store(&rig_violations, 0);
	atomic_store(&fail_mode, FAIL_NONE);
	before = rig_journal_end(g.j);
	{
		const uint8_t head[] = { 1, 5, 'd', 'e', 'v', '-', 'n', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
		uint32_t ids = 0x7u | (1u << unknown);
		memcpy(rec, head, sizeof(head));
		len = sizeof(head);
		for(k = 0; k < 4; k++){
			rec[len++] = (uint8_t)(ids >> (8 * k));
		}
		for(k = 0; k < 4; k++){           /* v 1, seq 999, ts 0, the unknown field 38 */
			memset(rec + len, 0, 8);
			rec[len] = (uint8_t)(k == 0 ? 1 : k == 3 ? 38 : 0);
			if(k == 1){
				rec[len] = 999 & 0xff;
				rec[len + 1] = 999 >> 8;
			}
			len += 8;
		}
	}
	CHECK_INT(vg_journal_append(g.j, VG_REC_SAMPLES, rec, (uint32_t)len, &lsn), VG_JOURNAL_OK);
	first_after = g.next_seq;
	CHECK(rig_append(&g, 5));
	if(!rig_start(&g, 500)){
		CHECK(false);
		rig_close(&g);
		return;
	}
	snprintf(want, sizeof(want), "journal record lsn %" PRIu64 " ", lsn);
	snprintf(want_id, sizeof(want_id), "field id %d,", unknown);
	for(waited = 0; waited < 10000 && !(reached && alarmed); waited += 10){
		now = rig_committed(&g);
		reached = now.seg == before.seg && now.off == before.off;
		rig_drain(&g);
		for(k = 0; k < g.nnotes; k++){
			if(g.notes[k].type == VG_C_LOG && strstr(g.notes[k].msg, "Vitalgate ALARM")
					&& strstr(g.notes[k].msg, want) && strstr(g.notes[k].msg, want_id)){
				alarmed = true;
			}
		}
		rig_sleep_ms(10);
	}
	CHECK(reached);
	CHECK(alarmed);
	rig_sleep_ms(300);   /* and it stays there */
	now = rig_committed(&g);
	CHECK(now.seg == before.seg && now.off == before.off);
	rig_close(&g);
	for(s = RIG_SEQ_BASE; s < g.next_seq; s++){
		snprintf(key, sizeof(key), "%" PRIu64, s);
		if(fake_pq_committed_has("vitals", 1, key)){
			*(s < first_after ? &stored_before : &stored_after) += 1;
		}
	}
	CHECK_INT(stored_before, (int)(first_after - RIG_SEQ_BASE));
	CHECK_INT(stored_after, 0);
	CHECK(!fake_pq_committed_has("vitals", 1, "999"));
	CHECK_INT(atomic_load(&rig_violations), 0);
}

/* ---- cadence (issue 16) ----------------------------------------------------- */

/* One samples record of one sample, received by the broker now. */
static void append_now(struct rig *g)
{
	uint8_t buf[512];
	struct vg_wbuf w;
	struct vg_sample s;

	memset(&s, 0, sizeof(s));
	s.present = (1u << VG_F_V) | (1u << VG_F_SEQ) | (1u << VG_F_TS) | (1u << VG_F_HR);
	s.val[VG_F_V].u = 1;
	s.val[VG_F_SEQ].u = g->next_seq++;
	s.val[VG_F_TS].i = vg_now_ms();
	s.val[VG_F_HR].u = 70;
	vg_wbuf_init(&w, buf, sizeof(buf));
	CHECK(vg_rec_encode_samples(&w, "dev-c", "3W", "7", vg_now_ms(), 0, &s, 1));
	CHECK_INT(vg_journal_append(g->j, VG_REC_SAMPLES, w.p, (uint32_t)w.len, NULL), VG_JOURNAL_OK);
	g->nrecs++;
}

/* 16.3: under a steady light load the writer commits once per budget
 * (commit_ms), not once per poll, and every sample is committed within the
 * budget (plus the commit itself) of its reception: the histogram on
 * /metrics says so. */
static void test_cadence_steady(void)
{
	struct rig g;
	struct vg_pgwriter_stats st;
	size_t commits0, commits;
	uint64_t n = 0, within = 0;
	int i;

	if(!rig_open(&g, 0, false)){
		CHECK(false);
		return;
	}
	fake_pq_reset();
	atomic_store(&fail_mode, FAIL_NONE);
	if(!rig_start_with(&g, 5000, 100)){
		CHECK(false);
		rig_close(&g);
		return;
	}
	rig_sleep_ms(200);   /* connected, migrations checked */
	commits0 = fake_pq_commits();
	for(i = 0; i < 750; i++){   /* 500 samples/s for 1.5 s */
		append_now(&g);
		rig_sleep_ms(2);
	}
	CHECK(rig_wait_all(&g, 5000));
	commits = fake_pq_commits() - commits0;
	/* ~15 budgets (the loop takes a little longer than 1.5 s); one commit
	 * per 5-ms poll would be hundreds. */
	CHECK(commits >= 8 && commits <= 30);
	vg_pgwriter_get_stats(g.w, &st);
	for(i = 0; i < VG_COMMIT_BUCKETS; i++){
		n += st.commit_ms_bucket[i];
		if(i < VG_COMMIT_BUCKETS - 1 && vg_commit_bucket_ms[i] <= 250){
			within += st.commit_ms_bucket[i];
		}
	}
	CHECK_INT(n, 750);
	CHECK_INT(within, 750);
	/* They did wait for their batch: about half the budget on average. */
	CHECK(n > 0 && st.commit_ms_sum / n >= 20 && st.commit_ms_sum / n <= 150);
	fprintf(stderr, "cadence: %zu commits for 750 samples in 1.5 s, mean reception-to-commit %" PRIu64 " ms\n",
			commits, n ? st.commit_ms_sum / n : 0);
	rig_close(&g);
	CHECK_INT(rig_missing(&g), 0);
}

/* 16.3: a backlog (more than batch_rows waiting) is written in full
 * batches back to back: no batch waits for its budget. */
static void test_cadence_backlog(void)
{
	struct rig g;
	size_t commits0, commits;
	int64_t t0, took;
	int i;

	if(!rig_open(&g, 0, false)){
		CHECK(false);
		return;
	}
	fake_pq_reset();
	for(i = 0; i < 2000; i++){
		append_now(&g);
	}
	commits0 = fake_pq_commits();
	t0 = vg_mono_ms();
	if(!rig_start_with(&g, 100, 3000)){
		CHECK(false);
		rig_close(&g);
		return;
	}
	CHECK(rig_wait_all(&g, 15000));
	took = vg_mono_ms() - t0;
	commits = fake_pq_commits() - commits0;
	CHECK_INT(commits, 20);   /* 2,000 rows, 100 a batch, every batch full */
	CHECK(took < 2500);       /* waiting the budget even once would take 3 s */
	fprintf(stderr, "backlog: 2000 rows in %zu commits, %" PRId64 " ms\n", commits, took);
	rig_close(&g);
	CHECK_INT(rig_missing(&g), 0);
}

/* 16.3: at shutdown the batch waiting for its budget is written at once,
 * and so is what follows it (more than a batch: no batch waits). */
static void test_cadence_shutdown_drains(void)
{
	struct rig g;
	int64_t t0, took;
	int i;

	if(!rig_open(&g, 0, false)){
		CHECK(false);
		return;
	}
	fake_pq_reset();
	if(!rig_start_with(&g, 30, 4000)){
		CHECK(false);
		rig_close(&g);
		return;
	}
	rig_sleep_ms(200);
	for(i = 0; i < 10; i++){
		append_now(&g);
	}
	rig_sleep_ms(100);   /* read, and waiting for the rest of its 4 s */
	for(i = 0; i < 40; i++){
		append_now(&g);   /* too few bytes to wake it */
	}
	CHECK_INT(rig_missing(&g), 50);
	t0 = vg_mono_ms();
	vg_pgwriter_stop(g.w, 5000);
	took = vg_mono_ms() - t0;
	g.w = NULL;
	CHECK(took < 2000);
	CHECK_INT(rig_missing(&g), 0);
	rig_close(&g);
}

int main(void)
{
	rig_immune = true;
	test_each_allocation_fails();
	test_random_failures_while_records_arrive();
	test_unknown_field_id_stops_the_writer();
	test_cadence_steady();
	test_cadence_backlog();
	test_cadence_shutdown_drains();
	return vgtest_result("test_pgwriter");
}
