/*
 * vg_ident: one identity as PostgreSQL defines it (identities,
 * bed_assignments, station_wards): id, role, salted secret hash,
 * revocation, a device's bed, a station's wards. Nothing else: what the
 * broker keeps about an identity while it runs is in plugin/sessions.h and
 * plugin/devices.h, keyed by id.
 *
 * Thread: any. The identity sync worker builds records and hands them to
 * the broker thread through the completion queue (vg_c_idents); whoever
 * holds a record owns it. Memory: one allocation per record (the wards
 * follow the struct).
 */
#ifndef VG_IDENT_H
#define VG_IDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vg_secret.h"
#include "vg_util.h"

enum vg_role {
	VG_ROLE_DEVICE = 1,
	VG_ROLE_STATION = 2,
	VG_ROLE_SERVICE = 3,
	VG_ROLE_CELL = 4,     /* a cell's Mosquitto bridge to the hub (wards: the cell's) */
};

struct vg_ident {
	char id[VG_ID_MAX + 1];
	uint8_t role;
	bool revoked;
	uint8_t salt[VG_SALT_LEN];
	uint8_t hash[VG_HASH_LEN];
	char ward[VG_ID_MAX + 1];   /* device: "" when unassigned */
	char bed[VG_ID_MAX + 1];
	uint32_t gen;               /* the broker's snapshot generation that last set it */
	uint16_t nwards;            /* station: its wards; cell: the wards placed on its cell */
	char wards[][VG_ID_MAX + 1];
};

/* Allocates a record with room for nwards wards (zeroed). */
struct vg_ident *vg_ident_new(uint16_t nwards);
/* Copies a record. */
struct vg_ident *vg_ident_clone(const struct vg_ident *e);
void vg_ident_free(struct vg_ident *e);

/* "device", "station", "service", "cell" (the identities table's words). */
const char *vg_role_name(int role);

/* True if the station may read ward (w, n bytes); for a cell identity: if
 * the ward is placed on its cell. */
bool vg_ident_has_ward(const struct vg_ident *e, const char *w, size_t n);

#endif
