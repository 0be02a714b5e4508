/*
 * throttle: in-memory throttling of repeated authentication failures, per
 * key (a username, or a client address).
 *
 * A key that fails `limit` times within `window_ms` is blocked for a
 * period that starts at `block_ms` and doubles each time it is blocked
 * again (up to `max_block_ms`); a success clears it. While blocked, attempts
 * are refused at once without checking the secret: cheaper than a real
 * check, so a brute-force attempt slows nobody else. The table has a fixed
 * number of slots (no allocation after init); when full, the least
 * recently used entry in the probe window is forgotten.
 *
 * Thread: broker thread only. Memory: owns its slot array.
 */
#ifndef VG_THROTTLE_H
#define VG_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VG_THROTTLE_KEY 72

struct vg_throttle_entry {
	uint64_t hash;      /* compared before the key: most probes miss */
	char key[VG_THROTTLE_KEY];
	int64_t window_start_ms;
	int64_t blocked_until_ms;
	int64_t last_ms;
	uint32_t fails;
	uint8_t level;      /* how many times it was blocked in a row */
	bool used;
};

struct vg_throttle {
	struct vg_throttle_entry *slots;
	size_t cap;         /* power of two */
	uint32_t limit;
	int64_t window_ms;
	int64_t block_ms;
	int64_t max_block_ms;
	size_t used;        /* entries in use: an empty table answers at once */
};

int vg_throttle_init(struct vg_throttle *t, size_t cap, uint32_t limit, int64_t window_ms,
		int64_t block_ms, int64_t max_block_ms);
void vg_throttle_free(struct vg_throttle *t);

/* True if key is blocked at now_ms (*until_ms says until when). */
bool vg_throttle_blocked(struct vg_throttle *t, const char *key, int64_t now_ms, int64_t *until_ms);
/* Records a failure; returns true if this failure started a block (the
 * caller logs it once), with its end in *until_ms. */
bool vg_throttle_fail(struct vg_throttle *t, const char *key, int64_t now_ms, int64_t *until_ms);
/* Clears the key after a success. */
void vg_throttle_ok(struct vg_throttle *t, const char *key);

#endif
