/*
 * idtable: the in-memory identity table the broker answers auth and ACL
 * checks from (open addressing, linear probing, backward-shift deletion).
 *
 * Thread: broker thread only. The idsync worker builds vg_ident records and
 * hands them over through the completion queue; TICK applies them here.
 * Memory: the table owns its entries (allocated by vg_ident_new). An entry
 * is the identity as PostgreSQL defines it, nothing else: what the broker
 * keeps about an identity while it runs is in plugin/sessions.h (every
 * role) and plugin/devices.h (devices), keyed by id, so an update that
 * replaces the entry leaves it alone.
 */
#ifndef VG_IDTABLE_H
#define VG_IDTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vg_secret.h"
#include "vg_util.h"

enum vg_role {
	VG_ROLE_DEVICE = 1,
	VG_ROLE_STATION = 2,
	VG_ROLE_SERVICE = 3,
};

struct vg_ident {
	char id[VG_ID_MAX + 1];
	uint8_t role;
	bool revoked;
	uint8_t salt[VG_SALT_LEN];
	uint8_t hash[VG_HASH_LEN];
	char ward[VG_ID_MAX + 1];   /* device: "" when unassigned */
	char bed[VG_ID_MAX + 1];
	uint32_t gen;               /* snapshot generation that last set it */
	uint16_t nwards;            /* station */
	char wards[][VG_ID_MAX + 1];
};

struct vg_idtable {
	struct vg_ident **slots;
	size_t cap;     /* power of two */
	size_t count;
};

/* Any thread: allocates an entry with room for nwards wards. */
struct vg_ident *vg_ident_new(uint16_t nwards);
/* Copies an entry. */
struct vg_ident *vg_ident_clone(const struct vg_ident *e);
void vg_ident_free(struct vg_ident *e);

int vg_idtable_init(struct vg_idtable *t, size_t cap_hint);
void vg_idtable_destroy(struct vg_idtable *t);
struct vg_ident *vg_idtable_find_n(const struct vg_idtable *t, const char *id, size_t n);
struct vg_ident *vg_idtable_find(const struct vg_idtable *t, const char *id);
/* Inserts or replaces (the old entry is freed). Returns 0 or -1 (out of
 * memory; e is not taken). */
int vg_idtable_put(struct vg_idtable *t, struct vg_ident *e);
/* Removes and frees the entry; returns true if it existed. */
bool vg_idtable_remove(struct vg_idtable *t, const char *id);

/* True if the station may read ward (w, n bytes). */
bool vg_ident_has_ward(const struct vg_ident *e, const char *w, size_t n);

#endif
