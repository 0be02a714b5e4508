/*
 * vg_idtable: a hash table of identity records by id (open addressing,
 * linear probing, backward-shift deletion). The broker answers auth and ACL
 * checks from one (plugin/, applied on TICK); the identity sync worker
 * keeps its own copy for the cache file (vg_idcache.h).
 *
 * Thread: one owner per table. Memory: the table owns its entries
 * (vg_ident_new); replacing or removing an entry frees it.
 */
#ifndef VG_IDTABLE_H
#define VG_IDTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vg_ident.h"

struct vg_idtable {
	struct vg_ident **slots;
	size_t cap;     /* power of two */
	size_t count;
};

int vg_idtable_init(struct vg_idtable *t, size_t cap_hint);
void vg_idtable_destroy(struct vg_idtable *t);
struct vg_ident *vg_idtable_find_n(const struct vg_idtable *t, const char *id, size_t n);
struct vg_ident *vg_idtable_find(const struct vg_idtable *t, const char *id);
/* Inserts or replaces (the old entry is freed). Returns 0 or -1 (out of
 * memory; e is not taken). */
int vg_idtable_put(struct vg_idtable *t, struct vg_ident *e);
/* Removes and frees the entry; returns true if it existed. */
bool vg_idtable_remove(struct vg_idtable *t, const char *id);

#endif
