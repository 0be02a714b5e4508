/*
 * throttle: in-memory throttling of repeated authentication failures.
 *
 * One budget (struct vg_throttle_state) counts the failures of one key: a
 * key that fails `limit` times within `window_ms` is blocked for a period
 * that starts at `block_ms` and doubles each time it is blocked again (up to
 * `max_block_ms`); a success clears it. While blocked, attempts are refused
 * at once without checking the secret: cheaper than a real check, so a
 * brute-force attempt slows nobody else.
 *
 * Budgets live in two places:
 *  - a known identity keeps its own two in its session state (sessions.h),
 *    found in O(1) with the identity and never forgotten;
 *  - everything else (client addresses, usernames Vitalgate does not know)
 *    lives in a table (struct vg_throttle) with a fixed number of slots (no
 *    allocation after init). When a probe window is full, the least recently
 *    used entry that is NOT blocked is forgotten: failures on other keys
 *    (e.g. crafted names that hash next to a blocked one) can never lift a
 *    block. When every slot of the window is blocked, the new key's failure
 *    is not counted (the address budget still counts it).
 *
 * Thread: broker thread only. Memory: a table owns its slot array.
 */
#ifndef VG_THROTTLE_H
#define VG_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VG_THROTTLE_KEY 72

struct vg_throttle_policy {
	uint32_t limit;
	int64_t window_ms;
	int64_t block_ms;
	int64_t max_block_ms;
};

/* One key's failures (all zero: none). */
struct vg_throttle_state {
	int64_t window_start_ms;
	int64_t blocked_until_ms;
	uint32_t fails;
	uint8_t level;      /* how many times it was blocked in a row */
};

struct vg_throttle_entry {
	uint64_t hash;      /* compared before the key: most probes miss */
	char key[VG_THROTTLE_KEY];
	struct vg_throttle_state st;
	int64_t last_ms;
	bool used;
};

struct vg_throttle {
	struct vg_throttle_entry *slots;
	size_t cap;         /* power of two */
	struct vg_throttle_policy policy;
	size_t used;        /* entries in use: an empty table answers at once */
};

/* One budget. blocked: true if blocked at now_ms (*until_ms says until
 * when). fail: records a failure; true if it started a block (the caller
 * logs it once), its end in *until_ms. ok: clears it after a success. */
bool vg_throttle_state_blocked(const struct vg_throttle_state *s, int64_t now_ms, int64_t *until_ms);
bool vg_throttle_state_fail(const struct vg_throttle_policy *p, struct vg_throttle_state *s, int64_t now_ms,
		int64_t *until_ms);
void vg_throttle_state_ok(struct vg_throttle_state *s);

int vg_throttle_init(struct vg_throttle *t, size_t cap, uint32_t limit, int64_t window_ms,
		int64_t block_ms, int64_t max_block_ms);
void vg_throttle_free(struct vg_throttle *t);

/* The same three for a key of the table. */
bool vg_throttle_blocked(struct vg_throttle *t, const char *key, int64_t now_ms, int64_t *until_ms);
bool vg_throttle_fail(struct vg_throttle *t, const char *key, int64_t now_ms, int64_t *until_ms);
void vg_throttle_ok(struct vg_throttle *t, const char *key);

#endif
