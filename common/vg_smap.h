/*
 * vg_smap: a string-keyed hash map (open addressing, linear probing,
 * backward-shift deletion) from short keys to caller-owned pointers.
 * Used for the broker's per-identity, per-device, per-bed and per-ward
 * state, and the webhook sender's bookkeeping.
 *
 * Thread: one owner. Memory: owns copies of the keys and its slot array;
 * values belong to the caller (vg_smap_destroy can free them).
 */
#ifndef VG_SMAP_H
#define VG_SMAP_H

#include <stdbool.h>
#include <stddef.h>

struct vg_smap_slot {
	char *key;
	void *val;
};

struct vg_smap {
	struct vg_smap_slot *slots;
	size_t cap;     /* power of two */
	size_t count;
};

int vg_smap_init(struct vg_smap *m, size_t cap_hint);
/* Frees keys and slots; calls free_val on every value when not NULL. */
void vg_smap_destroy(struct vg_smap *m, void (*free_val)(void *));
void *vg_smap_get(const struct vg_smap *m, const char *key);
/* Inserts or replaces; returns the previous value (or NULL), or sets *err on
 * out of memory. */
void *vg_smap_put(struct vg_smap *m, const char *key, void *val, int *err);
void *vg_smap_del(struct vg_smap *m, const char *key);
/* The value of key; when there is none, a new zeroed one of size bytes is
 * allocated (calloc) and added, and *added (may be NULL) says so. NULL when
 * out of memory. The map's values are then freed by the caller (usually
 * through vg_smap_destroy's free_val). */
void *vg_smap_get_or_add(struct vg_smap *m, const char *key, size_t size, bool *added);
/* Iteration: the value of the next entry at or after *pos (start at 0), its
 * key in *key; NULL at the end. The map must not change meanwhile. */
void *vg_smap_next(const struct vg_smap *m, size_t *pos, const char **key);

#endif
