/*
 * tick: the TICK callback, where worker results reach the broker (see
 * tick.c).
 *
 * Thread: broker thread.
 */
#ifndef VG_TICK_H
#define VG_TICK_H

#include <stdbool.h>
#include <stdint.h>

struct vg_plugin;

/* tick.c's state: what it watches between passes. */
struct vg_tick {
	bool db_up;                     /* last state the writer reported */
	int64_t rej_summary_ms;         /* last rejection-summary pass */
	uint64_t jfull_seen;            /* the journal's no-space count at the last check */
	int64_t jfull_alarm_ms;         /* when the disk-full alarm was last logged (0: not full) */
	int64_t jfull_last_ms;          /* when the last no-space refusal was seen */
	int64_t stats_log_ms;           /* last figures line in the log */
	int64_t stats_pub_ms;           /* last $SYS publication */
};

int vg_tick_cb(int event, void *event_data, void *userdata);
/* Drains the completion queue now (TICK, and cleanup). */
void vg_tick_drain(struct vg_plugin *vg);

#endif
