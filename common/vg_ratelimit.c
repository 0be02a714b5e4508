/*
 * vg_ratelimit: a fixed-window event budget with a count of what it
 * refused (see vg_ratelimit.h). Thread: one owner. Memory: none.
 */
#include "vg_ratelimit.h"

#include <stddef.h>

void vg_ratelimit_init(struct vg_ratelimit *r, unsigned burst, int64_t window_ms)
{
	r->window_ms = window_ms;
	r->burst = burst;
	r->opened = false;
	r->start_ms = 0;
	r->count = 0;
	r->refused = 0;
}

unsigned long vg_ratelimit_roll(struct vg_ratelimit *r, int64_t now_ms)
{
	unsigned long refused;

	if(r->opened && now_ms - r->start_ms < r->window_ms){
		return 0;
	}
	refused = r->refused;
	r->opened = true;
	r->start_ms = now_ms;
	r->count = 0;
	r->refused = 0;
	return refused;
}

bool vg_ratelimit_take(struct vg_ratelimit *r, int64_t now_ms, unsigned long *missed)
{
	unsigned long m = vg_ratelimit_roll(r, now_ms);

	if(missed){
		*missed = m;
	}
	if(r->count < r->burst){
		r->count++;
		return true;
	}
	r->refused++;
	return false;
}
