/*
 * bench_validate: the validation micro-benchmark (issue 4, scenario 6 of
 * issue 8). Decodes and validates prepared payloads in a loop with one
 * warm decoder, exactly as the MESSAGE callback does, and prints
 * nanoseconds per sample (median of 7 rounds) for:
 *   - a typical single sample (v, seq, ts, hr, spo2, rr, temp),
 *   - a sample with every field,
 *   - a batch of 64 samples (per sample),
 *   - a rejected sample (out of range),
 * plus one JSON line on stdout. Thread: single-threaded program.
 *
 *   bench_validate [iterations per round, default 200000]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <msgpack.h>

#include "vg_vitals.h"

#define NOW_MS 1767225600000LL

static void pack_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

static void pack_sample(msgpack_packer *pk, uint64_t seq, int full, int bad)
{
	msgpack_pack_map(pk, full ? 12 : 7);
	pack_str(pk, "v"); msgpack_pack_uint8(pk, 1);
	pack_str(pk, "seq"); msgpack_pack_uint64(pk, seq);
	pack_str(pk, "ts"); msgpack_pack_int64(pk, NOW_MS - 1000);
	pack_str(pk, "hr"); msgpack_pack_uint8(pk, 72);
	pack_str(pk, "spo2"); msgpack_pack_uint8(pk, bad ? 140 : 97);
	pack_str(pk, "rr"); msgpack_pack_uint8(pk, 16);
	pack_str(pk, "temp"); msgpack_pack_double(pk, 36.9);
	if(full){
		pack_str(pk, "sbp"); msgpack_pack_uint8(pk, 122);
		pack_str(pk, "dbp"); msgpack_pack_uint8(pk, 78);
		pack_str(pk, "map"); msgpack_pack_uint8(pk, 93);
		pack_str(pk, "o2"); msgpack_pack_false(pk);
		pack_str(pk, "avpu"); pack_str(pk, "A");
	}
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* ns per sample, median of 7 rounds of iters decodes. */
static double run(struct vg_decoder *d, const msgpack_sbuffer *buf, int per_msg, long iters, enum vg_reason want)
{
	static struct vg_sample out[VG_MAX_BATCH];
	struct vg_verdict v;
	double rounds[7];
	int n, r;
	long i;

	for(r = 0; r < 7; r++){
		double t0 = now_ns();
		for(i = 0; i < iters; i++){
			if(vg_vitals_decode(d, buf->data, buf->size, NOW_MS, out, &n, &v) != want){
				fprintf(stderr, "bench_validate: unexpected verdict %s (%s)\n", vg_reason_name(v.reason), v.detail);
				exit(1);
			}
		}
		rounds[r] = (now_ns() - t0) / (double)iters / per_msg;
	}
	qsort(rounds, 7, sizeof(rounds[0]), cmp);
	return rounds[3];
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
	msgpack_sbuffer typical, full, batch, bad;
	msgpack_packer pk;
	struct vg_decoder d;
	double t_typ, t_full, t_batch, t_bad;
	int i;

	if(iters <= 0 || vg_decoder_init(&d, NULL) != 0){
		fprintf(stderr, "usage: bench_validate [iterations]\n");
		return 2;
	}
	msgpack_sbuffer_init(&typical);
	msgpack_packer_init(&pk, &typical, msgpack_sbuffer_write);
	pack_sample(&pk, 1, 0, 0);
	msgpack_sbuffer_init(&full);
	msgpack_packer_init(&pk, &full, msgpack_sbuffer_write);
	pack_sample(&pk, 1, 1, 0);
	msgpack_sbuffer_init(&batch);
	msgpack_packer_init(&pk, &batch, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, VG_MAX_BATCH);
	for(i = 0; i < VG_MAX_BATCH; i++){
		pack_sample(&pk, (uint64_t)i + 1, 0, 0);
	}
	msgpack_sbuffer_init(&bad);
	msgpack_packer_init(&pk, &bad, msgpack_sbuffer_write);
	pack_sample(&pk, 1, 0, 1);

	t_typ = run(&d, &typical, 1, iters, VG_R_OK);
	t_full = run(&d, &full, 1, iters, VG_R_OK);
	t_batch = run(&d, &batch, VG_MAX_BATCH, iters / VG_MAX_BATCH + 1, VG_R_OK);
	t_bad = run(&d, &bad, 1, iters, VG_R_OUT_OF_RANGE);

	fprintf(stderr, "validation, ns per sample (median of 7 rounds):\n");
	fprintf(stderr, "  typical sample (7 fields, %zu bytes): %8.1f ns\n", typical.size, t_typ);
	fprintf(stderr, "  every field (12 fields, %zu bytes):   %8.1f ns\n", full.size, t_full);
	fprintf(stderr, "  batch of 64 (%zu bytes), per sample:  %8.1f ns\n", batch.size, t_batch);
	fprintf(stderr, "  rejected (out_of_range, with detail):  %8.1f ns\n", t_bad);
	printf("{\"bench\":\"validate\",\"typical_ns\":%.1f,\"full_ns\":%.1f,\"batch64_ns_per_sample\":%.1f,\"rejected_ns\":%.1f}\n",
			t_typ, t_full, t_batch, t_bad);
	msgpack_sbuffer_destroy(&typical);
	msgpack_sbuffer_destroy(&full);
	msgpack_sbuffer_destroy(&batch);
	msgpack_sbuffer_destroy(&bad);
	vg_decoder_free(&d);
	return 0;
}
