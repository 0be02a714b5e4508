/*
 * vg_ratelimit: at most `burst` events per window of `window_ms`; the
 * events a window refuses are counted and handed back when the next window
 * opens, for one summary line (or audit row). The log lines of rejections
 * and refused logins, the audit trail's noisy events, and the "once every
 * 10 s" operator warnings all go through one.
 *
 * A window opens at the first event (or roll) at least window_ms after the
 * previous window opened; the first window at the first event.
 *
 * Thread: one owner per limiter. Memory: none owned.
 */
#ifndef VG_RATELIMIT_H
#define VG_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct vg_ratelimit {
	int64_t window_ms;           /* set by vg_ratelimit_init */
	unsigned burst;
	bool opened;                 /* a window was opened */
	int64_t start_ms;            /* when the current window opened */
	unsigned count;              /* events taken in it */
	unsigned long refused;       /* events refused in it */
};

void vg_ratelimit_init(struct vg_ratelimit *r, unsigned burst, int64_t window_ms);
/* Opens a new window if the current one is over; returns how many events
 * the window that closed refused (0 if none, or if it is not over). */
unsigned long vg_ratelimit_roll(struct vg_ratelimit *r, int64_t now_ms);
/* Rolls as above (the closed window's refusals go to *missed, which may be
 * NULL), then takes one event: true if the window's budget allows it, else
 * false and the event is counted as refused. */
bool vg_ratelimit_take(struct vg_ratelimit *r, int64_t now_ms, unsigned long *missed);

#endif
