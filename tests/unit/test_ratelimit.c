/*
 * test_ratelimit: the one log/audit rate limiter (common/vg_ratelimit.c),
 * from a table of events: when each is taken or refused, and what the
 * next window reports as refused.
 */
#include <stdint.h>
#include <stdio.h>

#include "vg_ratelimit.h"
#include "vgtest.h"

struct step {
	char op;            /* 't': take, 'r': roll */
	int64_t at_ms;
	int ok;             /* take: 1 taken, 0 refused */
	unsigned long missed; /* what the roll (or the take's roll) reported */
};

static void run(const char *what, unsigned burst, int64_t window_ms, const struct step *st, size_t n)
{
	struct vg_ratelimit r;
	size_t i;

	vg_ratelimit_init(&r, burst, window_ms);
	for(i = 0; i < n; i++){
		unsigned long missed = 12345;
		int ok = 1;
		if(st[i].op == 't'){
			ok = vg_ratelimit_take(&r, st[i].at_ms, &missed);
		}else{
			missed = vg_ratelimit_roll(&r, st[i].at_ms);
		}
		if(ok != st[i].ok || missed != st[i].missed){
			fprintf(stderr, "%s, step %zu (%c at %lld): got ok %d missed %lu, want ok %d missed %lu\n", what, i,
					st[i].op, (long long)st[i].at_ms, ok, missed, st[i].ok, st[i].missed);
		}
		CHECK_INT(ok, st[i].ok);
		CHECK_INT(missed, st[i].missed);
	}
}

int main(void)
{
	/* 2 a second: the third in the window is refused, reported when the
	 * next window opens (at the first event 1 s or more after it opened). */
	static const struct step two_per_s[] = {
		{ 't', 5000, 1, 0 }, { 't', 5100, 1, 0 }, { 't', 5200, 0, 0 }, { 't', 5999, 0, 0 },
		{ 't', 6000, 1, 2 }, { 't', 6001, 1, 0 }, { 't', 6002, 0, 0 },
		{ 'r', 6500, 1, 0 },                     /* not over: nothing to report */
		{ 'r', 7000, 1, 1 },                     /* TICK closes it: 1 refused */
		{ 'r', 7100, 1, 0 },
		{ 't', 9000, 1, 0 },                     /* a quiet window reports nothing */
	};
	/* Once every 10 s (the operator warnings): the window opens with the
	 * line that was logged. */
	static const struct step once_per_10s[] = {
		{ 't', 100, 1, 0 }, { 't', 9000, 0, 0 }, { 't', 10099, 0, 0 }, { 't', 10100, 1, 2 },
		{ 't', 20099, 0, 0 }, { 't', 30000, 1, 1 },
	};
	/* The first event opens the first window whatever the clock says
	 * (a monotonic clock may be small; a zero time too). */
	static const struct step first[] = {
		{ 't', 0, 1, 0 }, { 't', 0, 0, 0 }, { 't', 999, 0, 0 }, { 't', 1000, 1, 2 },
	};

	run("2 a second", 2, 1000, two_per_s, sizeof(two_per_s) / sizeof(two_per_s[0]));
	run("once every 10 s", 1, 10000, once_per_10s, sizeof(once_per_10s) / sizeof(once_per_10s[0]));
	run("first window", 1, 1000, first, sizeof(first) / sizeof(first[0]));
	return vgtest_result("test_ratelimit");
}
