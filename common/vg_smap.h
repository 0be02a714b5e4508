/*
 * vg_smap: a string-keyed hash map (open addressing, linear probing,
 * backward-shift deletion) from short keys to caller-owned pointers.
 * Used for the per-bed alert state.
 *
 * Thread: one owner. Memory: owns copies of the keys and its slot array;
 * values belong to the caller (vg_smap_destroy can free them).
 */
#ifndef VG_SMAP_H
#define VG_SMAP_H

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

#endif
