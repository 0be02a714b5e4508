/*
 * test_pgwriter: the PostgreSQL writer (bridge/pgwriter.c) with a fake
 * libpq (fake_pq.c) and allocation failures injected on its thread
 * (-Wl,--wrap=malloc,calloc,realloc). Whatever allocation fails, and when,
 * the journal position the writer commits never passes a record that is
 * not in the (fake) database: every vg_journal_commit is intercepted
 * (-Wl,--wrap=vg_journal_commit) and the records it would release are
 * looked up among the rows of committed transactions first. Once memory
 * is back, everything is stored. (Issue 12, item 13.)
 *
 * Two passes: the k-th allocation of the writer thread fails (and the two
 * after it), for every k up to SWEEP (its connection, first batches and
 * first commits), on a fresh journal each time; then about a fifth of its
 * allocations fail for two seconds while records keep arriving.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "fake_pq.h"
#include "outbox.h"
#include "pgwriter.h"
#include "vg_completion.h"
#include "vg_journal.h"
#include "vg_rec.h"
#include "vg_util.h"
#include "vgtest.h"

#define SWEEP 20
#define SEQ_BASE 777000000ull

/* ---- allocation failures ------------------------------------------------ */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
int __real_vg_journal_commit(struct vg_journal *j, struct vg_journal_pos upto);
int __wrap_vg_journal_commit(struct vg_journal *j, struct vg_journal_pos upto);

enum { FAIL_NONE, FAIL_WINDOW, FAIL_RANDOM };

static _Atomic int fail_mode;
static _Atomic long alloc_no;         /* allocations of non-immune threads */
static _Atomic long window_from;      /* FAIL_WINDOW: these fail ... */
static _Atomic long window_to;        /* ... up to this one, inclusive */
static _Atomic long failed;
static __thread bool immune;          /* the test's own threads never fail */

static bool should_fail(void)
{
	long n;
	int mode = atomic_load(&fail_mode);

	if(immune || mode == FAIL_NONE){
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

/* ---- the invariant, checked at every commit ------------------------------ */

static _Atomic int violations;
static _Atomic int commits_checked;
static char first_violation[256];

static bool pos_le(struct vg_journal_pos a, struct vg_journal_pos b)
{
	return a.seg < b.seg || (a.seg == b.seg && a.off <= b.off);
}

/* Is this journal record in the database (in a committed transaction)? */
static bool stored(const struct vg_journal_rec *rec, char *what, size_t whatlen)
{
	static __thread struct vg_rec_samples rs;
	char key[32];
	int i;

	snprintf(key, sizeof(key), "%" PRIu64, rec->lsn);
	switch(rec->type){
		case VG_REC_SAMPLES:
			if(!vg_rec_decode_samples(rec->payload, rec->len, &rs)){
				if(rs.unknown_ids){
					/* Fields this build does not know: never stored, and
					 * never committed past either. */
					snprintf(what, whatlen, "samples naming unknown field ids (lsn %" PRIu64 ")", rec->lsn);
					return false;
				}
				return true;   /* undecodable: never stored, by design */
			}
			for(i = 0; i < rs.n; i++){
				snprintf(key, sizeof(key), "%" PRIu64, rs.s[i].val[VG_F_SEQ].u);
				if(!fake_pq_committed_has("vg_stage_vitals", -1, key)){
					snprintf(what, whatlen, "sample seq %s (lsn %" PRIu64 ")", key, rec->lsn);
					return false;
				}
			}
			return true;
		case VG_REC_REJECTION:
			snprintf(what, whatlen, "rejection lsn %s", key);
			return fake_pq_committed_has("vg_stage_rejections", 9, key);
		case VG_REC_AUDIT:
			snprintf(what, whatlen, "audit lsn %s", key);
			return fake_pq_committed_has("audit_log", 10, key);
		default:
			return true;
	}
}

int __wrap_vg_journal_commit(struct vg_journal *j, struct vg_journal_pos upto)
{
	struct vg_journal_reader *r = NULL;
	struct vg_journal_rec rec;
	char what[128];

	immune = true;
	/* A second reader starts where the last commit left off: the records
	 * this commit releases are the ones before upto. */
	if(vg_journal_reader_open(j, &r) == 0){
		while(vg_journal_read(r, &rec, 0) == 1 && pos_le(rec.next, upto)){
			if(!stored(&rec, what, sizeof(what))){
				if(atomic_fetch_add(&violations, 1) == 0){
					snprintf(first_violation, sizeof(first_violation), "committed past %s, not in the database", what);
				}
			}
		}
		vg_journal_reader_close(r);
	}
	atomic_fetch_add(&commits_checked, 1);
	immune = false;
	return __real_vg_journal_commit(j, upto);
}

/* ---- a journal and a writer ----------------------------------------------- */

struct rig {
	char dir[64];
	struct vg_journal *j;
	struct vg_queue completions;
	struct vg_pgwriter *w;
	int nrecs;
	uint64_t next_seq;
	struct vg_journal_pos end;
};

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[512];

	if(d == NULL){
		return;
	}
	while((de = readdir(d)) != NULL){
		if(strcmp(de->d_name, ".") && strcmp(de->d_name, "..")){
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
	}
	closedir(d);
	rmdir(dir);
}

/* Record i: samples (1 to 3, unique seqs), with an audit event every third
 * and a rejection every fifth. */
static void append_records(struct rig *g, int n)
{
	uint8_t buf[4096];
	struct vg_wbuf w;
	struct vg_sample s[3];
	struct vg_verdict v;
	uint8_t sha[32] = { 0 };
	int i, k, m;

	for(i = 0; i < n; i++, g->nrecs++){
		m = 1 + g->nrecs % 3;
		memset(s, 0, sizeof(s));
		for(k = 0; k < m; k++){
			s[k].present = (1u << VG_F_V) | (1u << VG_F_SEQ) | (1u << VG_F_TS) | (1u << VG_F_HR);
			s[k].val[VG_F_V].u = 1;
			s[k].val[VG_F_SEQ].u = g->next_seq++;
			s[k].val[VG_F_TS].i = 1700000000000LL + g->nrecs;
			s[k].val[VG_F_HR].u = 70;
		}
		vg_wbuf_init(&w, buf, sizeof(buf));
		CHECK(vg_rec_encode_samples(&w, g->nrecs % 2 ? "dev-a" : "dev-b", "3W", "7", 1700000000000LL, 0, s, m));
		CHECK_INT(vg_journal_append(g->j, VG_REC_SAMPLES, w.p, (uint32_t)w.len, NULL), VG_JOURNAL_OK);
		if(g->nrecs % 3 == 0){
			vg_wbuf_init(&w, buf, sizeof(buf));
			CHECK(vg_rec_encode_audit(&w, 1700000000000LL, VG_AUDIT_CONNECT, "dev-a", "dev-a", "127.0.0.1", "ok"));
			CHECK_INT(vg_journal_append_class(g->j, VG_JOURNAL_CLASS_PRIORITY, VG_REC_AUDIT, w.p, (uint32_t)w.len, NULL),
					VG_JOURNAL_OK);
		}
		if(g->nrecs % 5 == 0){
			memset(&v, 0, sizeof(v));
			v.reason = VG_R_MALFORMED;
			v.index = -1;
			v.field = -1;
			snprintf(v.detail, sizeof(v.detail), "bad");
			vg_wbuf_init(&w, buf, sizeof(buf));
			CHECK(vg_rec_encode_rejection(&w, "dev-a", 1700000000000LL, &v, "xyz", 3, sha));
			CHECK_INT(vg_journal_append_class(g->j, VG_JOURNAL_CLASS_REJECTION, VG_REC_REJECTION, w.p, (uint32_t)w.len,
					NULL), VG_JOURNAL_OK);
		}
	}
}

/* Position after the last record (a throwaway reader from the start). */
static struct vg_journal_pos journal_end(struct vg_journal *j)
{
	struct vg_journal_reader *r = NULL;
	struct vg_journal_rec rec;
	struct vg_journal_pos end = { 0, 0 };

	if(vg_journal_reader_open(j, &r) == 0){
		end = vg_journal_reader_pos(r);
		while(vg_journal_read(r, &rec, 0) == 1){
			end = rec.next;
		}
		vg_journal_reader_close(r);
	}
	return end;
}

static void drain(struct rig *g)
{
	struct vg_job *job = vg_queue_take_all(&g->completions, 0);

	while(job){
		struct vg_job *next = job->next;
		if(job->type == VG_C_ALERT_STATE){
			vg_alert_state_free((struct vg_c_alert_state *)job);
		}else{
			free(job);
		}
		job = next;
	}
}

static bool rig_open(struct rig *g, int nrecs)
{
	struct vg_journal_opts o = { .dir = g->dir, .max_bytes = 1u << 30, .segment_bytes = 16384, .sync_ms = 0 };
	char err[256];

	memset(g, 0, sizeof(*g));
	snprintf(g->dir, sizeof(g->dir), "/tmp/vg-test-pgwriter-XXXXXX");
	if(mkdtemp(g->dir) == NULL){
		return false;
	}
	o.dir = g->dir;
	g->next_seq = SEQ_BASE;
	if(vg_journal_open(&g->j, &o, err, sizeof(err)) != 0 || vg_queue_init(&g->completions, 1u << 16) != 0){
		fprintf(stderr, "rig: %s\n", err);
		return false;
	}
	append_records(g, nrecs);
	return true;
}

static bool rig_start_with(struct rig *g, int batch_rows, int commit_ms)
{
	struct vg_pgwriter_opts wo = {
		.conninfo = "dbname=fake",
		.journal = g->j,
		.completions = &g->completions,
		.batch_rows = batch_rows,
		.commit_ms = commit_ms,
		.max_past_s = 86400,
		.news2_max_age_s = 900,
	};
	char err[256];

	if(vg_pgwriter_start(&g->w, &wo, err, sizeof(err)) != 0){
		fprintf(stderr, "vg_pgwriter_start: %s\n", err);
		return false;
	}
	return true;
}

static bool rig_start(struct rig *g)
{
	return rig_start_with(g, 7, 0);
}

/* Waits until the writer committed everything appended; true if it did. */
static bool rig_wait_all(struct rig *g, int ms)
{
	struct vg_journal_stats st;
	int waited;

	g->end = journal_end(g->j);
	for(waited = 0; waited < ms; waited += 10){
		vg_journal_get_stats(g->j, &st);
		if(st.committed.seg == g->end.seg && st.committed.off == g->end.off){
			return true;
		}
		drain(g);
		sleep_ms(10);
	}
	return false;
}

static void rig_close(struct rig *g)
{
	if(g->w){
		vg_pgwriter_stop(g->w, 0);
	}
	drain(g);
	vg_queue_destroy(&g->completions);
	vg_journal_close(g->j);
	remove_dir(g->dir);
}

/* Every record appended is in the database. */
static int count_missing(struct rig *g)
{
	char key[32];
	uint64_t s;
	int missing = 0;

	for(s = SEQ_BASE; s < g->next_seq; s++){
		snprintf(key, sizeof(key), "%" PRIu64, s);
		missing += !fake_pq_committed_has("vg_stage_vitals", -1, key);
	}
	return missing;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_each_allocation_fails(void)
{
	int k, stuck = 0, missing = 0, bad = 0;
	long failures = 0;

	for(k = 1; k <= SWEEP; k++){
		struct rig g;
		if(!rig_open(&g, 40)){
			CHECK(false);
			return;
		}
		fake_pq_reset();
		atomic_store(&violations, 0);
		atomic_store(&alloc_no, 0);
		atomic_store(&failed, 0);
		atomic_store(&window_from, k);
		atomic_store(&window_to, k + 2);
		atomic_store(&fail_mode, FAIL_WINDOW);
		if(!rig_start(&g)){
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
		missing += count_missing(&g);
		if(atomic_load(&violations)){
			bad++;
			fprintf(stderr, "k=%d: %s\n", k, first_violation);
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

	if(!rig_open(&g, 30)){
		CHECK(false);
		return;
	}
	fake_pq_reset();
	atomic_store(&violations, 0);
	atomic_store(&commits_checked, 0);
	atomic_store(&failed, 0);
	atomic_store(&alloc_no, 0);
	atomic_store(&fail_mode, FAIL_RANDOM);
	if(!rig_start(&g)){
		CHECK(false);
		rig_close(&g);
		return;
	}
	for(i = 0; i < 100; i++){
		append_records(&g, 6);
		drain(&g);
		sleep_ms(20);
	}
	atomic_store(&fail_mode, FAIL_NONE);
	CHECK(rig_wait_all(&g, 20000));
	rig_close(&g);
	if(atomic_load(&violations)){
		fprintf(stderr, "random: %s\n", first_violation);
	}
	CHECK_INT(atomic_load(&violations), 0);
	CHECK_INT(count_missing(&g), 0);
	CHECK(atomic_load(&failed) >= 5);
	CHECK(atomic_load(&commits_checked) > 5);
}

/* Frees the completions, remembering whether an ALARM naming lsn and id
 * was logged. */
static void drain_logs(struct rig *g, uint64_t lsn, int id, bool *alarmed)
{
	struct vg_job *job = vg_queue_take_all(&g->completions, 0);
	char want[64], want_id[32];

	snprintf(want, sizeof(want), "journal record lsn %" PRIu64 " ", lsn);
	snprintf(want_id, sizeof(want_id), "field id %d,", id);
	while(job){
		struct vg_job *next = job->next;
		if(job->type == VG_C_LOG){
			const struct vg_c_log *l = (const struct vg_c_log *)job;
			if(strstr(l->msg, "Vitalgate ALARM") && strstr(l->msg, want) && strstr(l->msg, want_id)){
				*alarmed = true;
			}
			free(job);
		}else if(job->type == VG_C_ALERT_STATE){
			vg_alert_state_free((struct vg_c_alert_state *)job);
		}else{
			free(job);
		}
		job = next;
	}
}

/* A samples record naming a field id this build does not know (written by
 * a build with a newer schema) is neither skipped nor stored without that
 * field: the writer stores everything before it, commits up to it and no
 * further, and raises an ALARM naming the record and the id; the records
 * after it wait (nothing is lost). */
static void test_unknown_field_id_stops_the_writer(void)
{
	struct rig g;
	struct vg_journal_stats st;
	struct vg_journal_pos before;
	uint8_t rec[128];
	size_t len;
	uint64_t first_after, lsn = 0;
	bool alarmed = false, reached = false;
	int unknown = -1, id, k, waited, stored_before = 0, stored_after = 0;
	char key[32];

	for(id = 0; id < 32 && unknown < 0; id++){
		if(id >= VG_FIELD_ID_LIMIT || vg_field_by_id[id] < 0){
			unknown = id;
		}
	}
	if(!rig_open(&g, 10)){
		CHECK(false);
		return;
	}
	fake_pq_reset();
	atomic_store(&violations, 0);
	atomic_store(&fail_mode, FAIL_NONE);
	before = journal_end(g.j);
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
	append_records(&g, 5);
	if(!rig_start(&g)){
		CHECK(false);
		rig_close(&g);
		return;
	}
	for(waited = 0; waited < 10000 && !(reached && alarmed); waited += 10){
		vg_journal_get_stats(g.j, &st);
		reached = st.committed.seg == before.seg && st.committed.off == before.off;
		drain_logs(&g, lsn, unknown, &alarmed);
		sleep_ms(10);
	}
	CHECK(reached);
	CHECK(alarmed);
	sleep_ms(300);   /* and it stays there */
	vg_journal_get_stats(g.j, &st);
	CHECK(st.committed.seg == before.seg && st.committed.off == before.off);
	drain_logs(&g, lsn, unknown, &alarmed);
	rig_close(&g);
	for(uint64_t s = SEQ_BASE; s < g.next_seq; s++){
		snprintf(key, sizeof(key), "%" PRIu64, s);
		if(fake_pq_committed_has("vg_stage_vitals", -1, key)){
			*(s < first_after ? &stored_before : &stored_after) += 1;
		}
	}
	CHECK_INT(stored_before, (int)(first_after - SEQ_BASE));
	CHECK_INT(stored_after, 0);
	CHECK(!fake_pq_committed_has("vg_stage_vitals", -1, "999"));
	CHECK_INT(atomic_load(&violations), 0);
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

	if(!rig_open(&g, 0)){
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
	sleep_ms(200);   /* connected, migrations checked */
	commits0 = fake_pq_commits();
	for(i = 0; i < 750; i++){   /* 500 samples/s for 1.5 s */
		append_now(&g);
		sleep_ms(2);
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
	CHECK_INT(count_missing(&g), 0);
}

/* 16.3: a backlog (more than batch_rows waiting) is written in full
 * batches back to back: no batch waits for its budget. */
static void test_cadence_backlog(void)
{
	struct rig g;
	size_t commits0, commits;
	int64_t t0, took;
	int i;

	if(!rig_open(&g, 0)){
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
	CHECK_INT(count_missing(&g), 0);
}

/* 16.3: at shutdown the batch waiting for its budget is written at once,
 * and so is what follows it (more than a batch: no batch waits). */
static void test_cadence_shutdown_drains(void)
{
	struct rig g;
	int64_t t0, took;
	int i;

	if(!rig_open(&g, 0)){
		CHECK(false);
		return;
	}
	fake_pq_reset();
	if(!rig_start_with(&g, 30, 4000)){
		CHECK(false);
		rig_close(&g);
		return;
	}
	sleep_ms(200);
	for(i = 0; i < 10; i++){
		append_now(&g);
	}
	sleep_ms(100);   /* read, and waiting for the rest of its 4 s */
	for(i = 0; i < 40; i++){
		append_now(&g);   /* too few bytes to wake it */
	}
	CHECK_INT(count_missing(&g), 50);
	t0 = vg_mono_ms();
	vg_pgwriter_stop(g.w, 5000);
	took = vg_mono_ms() - t0;
	g.w = NULL;
	CHECK(took < 2000);
	CHECK_INT(count_missing(&g), 0);
	rig_close(&g);
}

int main(void)
{
	immune = true;
	test_each_allocation_fails();
	test_random_failures_while_records_arrive();
	test_unknown_field_id_stops_the_writer();
	test_cadence_steady();
	test_cadence_backlog();
	test_cadence_shutdown_drains();
	return vgtest_result("test_pgwriter");
}
