/*
 * Runs every payload of tests/fixtures/vitals (see vitals-cases.mjs) through
 * the decoder with the clock the fixtures were made for, and checks the
 * reason, field, batch index, sample count and the seq a rejection carries
 * (12.14: every rejection carries its sample's seq when it had a valid one,
 * wherever the key was) that their MANIFEST expects. Also
 * proves that decoding allocates nothing once the decoder is warm: this
 * executable defines malloc, calloc and realloc, so every allocation in the
 * process (msgpack-c's included) is counted.
 *
 *   test_fixtures <fixtures dir>
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vg_util.h"
#include "vg_vitals.h"
#include "vgtest.h"

#define FIXTURE_NOW_MS 1767225600000LL

static long allocs;

/* Counting every allocation of the process, msgpack-c's included, needs
 * the executable to define malloc itself (symbol interposition): a
 * -Wl,--wrap would only see this file's own calls. Sanitizer builds bring
 * their own allocator, so there the count is not checked. */
#if defined(__SANITIZE_ADDRESS__)
#define COUNT_ALLOCS 0
#else
#define COUNT_ALLOCS 1
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t a, size_t b);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);

__attribute__((visibility("default"))) void *malloc(size_t n)
{
	allocs++;
	return __libc_malloc(n);
}

__attribute__((visibility("default"))) void *calloc(size_t a, size_t b)
{
	allocs++;
	return __libc_calloc(a, b);
}

__attribute__((visibility("default"))) void *realloc(void *p, size_t n)
{
	allocs++;
	return __libc_realloc(p, n);
}

__attribute__((visibility("default"))) void free(void *p)
{
	__libc_free(p);
}
#endif

static size_t slurp(const char *path, unsigned char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if(f == NULL){
		return (size_t)-1;
	}
	n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	static unsigned char buf[1 << 16];
	static struct vg_sample out[VG_MAX_BATCH];
	struct vg_decoder d;
	struct vg_verdict v;
	char line[512], path[1024], name[256], reason[64], field[64], seq[32];
	int64_t want_seq;
	int index, nsamples, n, cases = 0, seen_reason[VG_R__COUNT] = { 0 };
	long before;
	FILE *m;
	size_t len;
	enum vg_reason r;

	if(argc != 2){
		fprintf(stderr, "usage: test_fixtures <fixtures dir>\n");
		return 2;
	}
	CHECK(vg_decoder_init(&d, NULL) == 0);
	snprintf(path, sizeof(path), "%s/MANIFEST", argv[1]);
	m = fopen(path, "r");
	CHECK(m != NULL);
	if(m == NULL){
		return vgtest_result("test_fixtures");
	}
	while(fgets(line, sizeof(line), m)){
		if(line[0] == '#'){
			continue;
		}
		if(sscanf(line, "%255s %63s %63s %d %d %31s", name, reason, field, &index, &nsamples, seq) != 6){
			fprintf(stderr, "MANIFEST: unreadable line: %s", line);
			CHECK(0);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s.msgpack", argv[1], name);
		len = slurp(path, buf, sizeof(buf));
		CHECK(len != (size_t)-1);
		/* Warm-up run, then the measured one must not allocate. */
		vg_vitals_decode(&d, buf, len, FIXTURE_NOW_MS, out, &n, &v);
		before = allocs;
		r = vg_vitals_decode(&d, buf, len, FIXTURE_NOW_MS, out, &n, &v);
		if(COUNT_ALLOCS){
			if(allocs != before){
				fprintf(stderr, "%s: decoding allocated %ld times\n", name, allocs - before);
			}
			CHECK_INT(allocs - before, 0);
		}
		cases++;
		seen_reason[r]++;
		if(strcmp(vg_reason_name(r), reason) != 0){
			fprintf(stderr, "%s: got %s (%s), expected %s\n", name, vg_reason_name(r), v.detail, reason);
		}
		CHECK_STR(vg_reason_name(r), reason);
		if(r == VG_R_OK){
			CHECK_INT(n, nsamples);
			continue;
		}
		CHECK_STR(v.field_name[0] ? v.field_name : "-", field);
		CHECK_INT(v.index, index);
		CHECK(v.detail[0] != '\0');
		if(!strcmp(seq, "-")){
			if(v.has_seq){
				fprintf(stderr, "%s: the rejection carries seq %llu, expected none\n", name, (unsigned long long)v.seq);
			}
			CHECK(!v.has_seq);
		}else{
			CHECK(vg_parse_i64(seq, 0, INT64_MAX, &want_seq));
			if(!v.has_seq || v.seq != (uint64_t)want_seq){
				fprintf(stderr, "%s: the rejection carries %s %llu, expected seq %s\n", name,
						v.has_seq ? "seq" : "no seq, stale value", (unsigned long long)v.seq, seq);
			}
			CHECK(v.has_seq);
			CHECK_INT(v.seq, want_seq);
		}
	}
	fclose(m);
	CHECK(cases >= 60);
	/* The counter works: the decoder's own set-up allocates. */
	if(COUNT_ALLOCS){
		struct vg_decoder d2;
		before = allocs;
		CHECK(vg_decoder_init(&d2, NULL) == 0);
		CHECK(allocs > before);
		vg_decoder_free(&d2);
	}
	/* Every reason a payload alone can produce is in the fixtures. */
	for(r = VG_R_OK; r < VG_R__COUNT; r++){
		if(r == VG_R_BACKPRESSURE || r == VG_R_INTERNAL){
			continue; /* states of the broker, not of a payload */
		}
		if(seen_reason[r] == 0){
			fprintf(stderr, "no fixture for %s\n", vg_reason_name(r));
		}
		CHECK(seen_reason[r] > 0);
	}
	vg_decoder_free(&d);
	return vgtest_result("test_fixtures");
}
