/*
 * bench_journal: what one journal append costs the broker thread (issue
 * 16). Appends real samples records (one typical sample each, encoded by
 * vg_rec as plugin/ingest.c does) to a journal in a temporary directory,
 * with the journal's syncer running (journal_sync_ms 20) and a consumer
 * thread reading and committing as the PostgreSQL writer does, so segments
 * roll and are deleted as in production. Two ways to append:
 *   - paced: --rate appends/s in bursts every millisecond (the broker's
 *     loop), timing each burst: time per append on the appending thread;
 *   - flat out (--rate 0): as fast as it can.
 * Reports, per round, the appending thread's time per append (wall, µs),
 * its CPU time per append (CLOCK_THREAD_CPUTIME_ID, system calls and page
 * faults included) and its page faults per 1,000 appends; then the median
 * of the rounds, and one JSON line on stdout. Thread: the main thread
 * appends; one consumer thread.
 *
 *   bench_journal [--dir D] [--rate 10000] [--seconds 5] [--rounds 5]
 *                 [--mode auto|write] [--samples 1]
 *
 * --dir: where the journal goes (default a new directory under /var/tmp;
 * use the spool filesystem to measure it). --mode write forces the
 * writev(2) append (what every filesystem had before issue 16). Built with
 * -DBENCH_BASE against an older vg_journal.c, --mode is ignored.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "vg_journal.h"
#include "vg_rec.h"
#include "vg_vitals.h"

struct consumer {
	struct vg_journal *j;
	struct vg_journal_reader *r;
	atomic_bool stop;
	uint64_t records;
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double thread_cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static long thread_faults(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_minflt + ru.ru_majflt;
}

/* The writer's part: read, and commit every 50 ms. */
static void *consumer_main(void *arg)
{
	struct consumer *c = arg;
	struct vg_journal_rec rec;
	struct vg_journal_pos last = { 0, 0 };
	double t = now_us();
	int rc;

	while(!atomic_load(&c->stop)){
		rc = vg_journal_read(c->r, &rec, 5);
		if(rc == 1){
			c->records++;
			last = rec.next;
		}
		if(now_us() - t >= 50000 && last.seg){
			vg_journal_commit(c->j, last);
			t = now_us();
		}
	}
	while(vg_journal_read(c->r, &rec, 0) == 1){
		c->records++;
		last = rec.next;
	}
	if(last.seg){
		vg_journal_commit(c->j, last);
	}
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *mode = "auto";
	char tmpl[] = "/var/tmp/vg-bench-journal-XXXXXX", jdir[4200], err[256];
	double rate = 10000, seconds = 5;
	int rounds = 5, nsamples = 1, i, k, round;
	struct vg_sample s[64];
	uint8_t rec[4096];
	struct vg_wbuf w;
	double wall[64], cpu[64], faults[64];
	bool mapped = false;

	for(i = 1; i + 1 < argc; i += 2){
		if(!strcmp(argv[i], "--dir")) dir = argv[i + 1];
		else if(!strcmp(argv[i], "--rate")) rate = strtod(argv[i + 1], NULL);
		else if(!strcmp(argv[i], "--seconds")) seconds = strtod(argv[i + 1], NULL);
		else if(!strcmp(argv[i], "--rounds")) rounds = (int)strtol(argv[i + 1], NULL, 10);
		else if(!strcmp(argv[i], "--mode")) mode = argv[i + 1];
		else if(!strcmp(argv[i], "--samples")) nsamples = (int)strtol(argv[i + 1], NULL, 10);
		else{
			fprintf(stderr, "unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if(rounds < 1 || rounds > 64 || nsamples < 1 || nsamples > 64){
		fprintf(stderr, "--rounds 1..64, --samples 1..64\n");
		return 2;
	}
	if(dir == NULL){
		dir = mkdtemp(tmpl);
		if(dir == NULL){
			perror("mkdtemp");
			return 2;
		}
	}
	/* One typical sample per message (v, seq, ts, hr, spo2, rr, temp). */
	memset(s, 0, sizeof(s));
	for(k = 0; k < nsamples; k++){
		s[k].present = (1u << VG_F_V) | (1u << VG_F_SEQ) | (1u << VG_F_TS) | (1u << VG_F_HR) | (1u << VG_F_SPO2)
			| (1u << VG_F_RR) | (1u << VG_F_TEMP);
		s[k].val[VG_F_V].u = 1;
		s[k].val[VG_F_SEQ].u = 1000000 + (uint64_t)k;
		s[k].val[VG_F_TS].i = 1767225600000LL + k;
		s[k].val[VG_F_HR].u = 72;
		s[k].val[VG_F_SPO2].u = 97;
		s[k].val[VG_F_RR].u = 16;
		s[k].val[VG_F_TEMP].d = 36.9;
	}
	vg_wbuf_init(&w, rec, sizeof(rec));
	if(!vg_rec_encode_samples(&w, "dev-012345", "W12", "B0345", 1767225600000LL, 0, s, nsamples)){
		fprintf(stderr, "record too large\n");
		return 2;
	}

	for(round = 0; round < rounds; round++){
		struct vg_journal *j = NULL;
		struct vg_journal_opts o;
		struct vg_journal_stats st;
		struct consumer c;
		pthread_t th;
		uint64_t n = 0, failed = 0;
		double t_start, t_end, in_appends = 0, in_cpu = 0, per_ms = rate / 1000.0, owed = 0;
		long f0;
		struct timespec tick;

		snprintf(jdir, sizeof(jdir), "%s/round-%d", dir, round);
		memset(&o, 0, sizeof(o));
		o.dir = jdir;
		o.max_bytes = 4ull << 30;
		o.segment_bytes = 16u << 20;
		o.sync_ms = 20;
#ifndef BENCH_BASE
		if(!strcmp(mode, "write")){
			o.append_mode = VG_JOURNAL_APPEND_WRITE;
		}
#else
		(void)mode;
#endif
		if(vg_journal_open(&j, &o, err, sizeof(err)) != 0){
			fprintf(stderr, "vg_journal_open: %s\n", err);
			return 1;
		}
		memset(&c, 0, sizeof(c));
		c.j = j;
		if(vg_journal_reader_open(j, &c.r) != 0 || pthread_create(&th, NULL, consumer_main, &c) != 0){
			fprintf(stderr, "consumer\n");
			return 1;
		}
		f0 = thread_faults();
		t_start = now_us();
		clock_gettime(CLOCK_MONOTONIC, &tick);
		for(;;){
			double t0, c0;
			int burst;

			t_end = now_us();
			if(t_end - t_start >= seconds * 1e6){
				break;
			}
			if(rate > 0){
				owed += per_ms;
				burst = (int)owed;
				owed -= burst;
			}else{
				burst = 1000;
			}
			c0 = thread_cpu_us();
			t0 = now_us();
			for(k = 0; k < burst; k++){
				if(vg_journal_append(j, VG_REC_SAMPLES, rec, (uint32_t)w.len, NULL) != VG_JOURNAL_OK){
					failed++;
				}
			}
			in_appends += now_us() - t0;
			in_cpu += thread_cpu_us() - c0;
			n += (uint64_t)burst;
			if(rate > 0){
				tick.tv_nsec += 1000000;
				if(tick.tv_nsec >= 1000000000L){
					tick.tv_sec++;
					tick.tv_nsec -= 1000000000L;
				}
				while(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &tick, NULL) == EINTR){
				}
			}
		}
		/* The CPU of the bursts only (the sleeps' system calls are not the
		 * append's); each bracket adds two clock reads, in both modes. */
		cpu[round] = in_cpu / (double)n;
		faults[round] = (double)(thread_faults() - f0) * 1000.0 / (double)n;
		wall[round] = in_appends / (double)n;
		atomic_store(&c.stop, true);
		vg_journal_wake(j);
		pthread_join(th, NULL);
		vg_journal_get_stats(j, &st);
#ifndef BENCH_BASE
		mapped = st.mapped;
#endif
		vg_journal_reader_close(c.r);
		vg_journal_close(j);
		fprintf(stderr, "round %d: %" PRIu64 " appends of %zu bytes in %.1f s (%" PRIu64 " failed, %" PRIu64
				" read back, %" PRIu64 " fdatasyncs): %.3f µs per append on the appending thread, %.3f µs CPU, "
				"%.2f page faults per 1,000\n", round + 1, n, w.len, (t_end - t_start) / 1e6, failed, c.records,
				st.fsyncs, wall[round], cpu[round], faults[round]);
		if(c.records != n - failed){
			fprintf(stderr, "records lost: appended %" PRIu64 ", read %" PRIu64 "\n", n - failed, c.records);
			return 1;
		}
	}
	{
		double mw = median(wall, rounds), mc = median(cpu, rounds), mf = median(faults, rounds);
		fprintf(stderr, "median of %d rounds: %.3f µs per append (wall), %.3f µs CPU, %.2f page faults per 1,000 "
				"(%s)\n", rounds, mw, mc, mf, mapped ? "mapped segment" : "writev");
		printf("{\"mode\":\"%s\",\"rate\":%.0f,\"record_bytes\":%zu,\"rounds\":%d,\"us_per_append\":%.3f,"
				"\"cpu_us_per_append\":%.3f,\"faults_per_1000\":%.2f,\"wall_rounds\":[", mapped ? "mapped" : "writev",
				rate, w.len, rounds, mw, mc, mf);
		for(round = 0; round < rounds; round++){
			printf("%s%.3f", round ? "," : "", wall[round]);
		}
		printf("]}\n");
	}
	return 0;
}
