/*
 * sessions: what the broker keeps about each identity while it runs, for
 * every role (devices, stations, services), apart from the identity record
 * itself (struct vg_ident, which PostgreSQL defines):
 *  - the live session: the one client that logged in as the identity
 *    through Vitalgate (auth.c; docs/security.md "Live sessions"), and its
 *    certificate;
 *  - the login-failure budgets under the identity's name (throttle.h), and
 *    the address of its last good login.
 *
 * Keyed by identity id. An identity update (a rotated secret, a new bed)
 * replaces the record and leaves this state alone; deleting the identity
 * drops it (identities.c).
 *
 * Thread: broker thread. Memory: owns its entries; a lookup allocates
 * nothing (the ACL read check runs one per subscriber per message).
 */
#ifndef VG_SESSIONS_H
#define VG_SESSIONS_H

#include <stddef.h>
#include <stdint.h>

#include "throttle.h"
#include "vg_crl.h"
#include "vg_smap.h"

struct mosquitto;

struct vg_session {
	/* The live session, NULL when none: client id = identity, so there is
	 * at most one. Every ACL decision that grants the identity's rights
	 * compares the client with it (auth.c). Only compared, never
	 * dereferenced; cleared by the client's DISCONNECT and before the
	 * identity leaves the table. */
	const struct mosquitto *live;
	struct vg_cert_id cert;     /* the live session's certificate (serial_len 0: a secret login) */
	uint64_t last_ok_addr_hash; /* address of the last successful login */
	/* Login failures under this identity's name: from its last good
	 * address, and from anywhere else. Two budgets, so a stranger cannot
	 * lock the identity out and its own address is still throttled. */
	struct vg_throttle_state thr_home;
	struct vg_throttle_state thr_away;
};

struct vg_sessions {
	struct vg_smap map;         /* identity id -> struct vg_session */
};

int vg_sessions_init(struct vg_sessions *s, size_t cap_hint);
void vg_sessions_free(struct vg_sessions *s);
/* The identity's state, or NULL when it has none yet. O(1), no allocation. */
struct vg_session *vg_sessions_find(const struct vg_sessions *s, const char *id);
/* The identity's state, created on first use (NULL when out of memory). */
struct vg_session *vg_sessions_get(struct vg_sessions *s, const char *id);
/* The identity was deleted: its state goes. */
void vg_sessions_drop(struct vg_sessions *s, const char *id);
/* Iteration: the next entry at or after *pos (start at 0), its id in *id;
 * NULL at the end. The map must not change during an iteration. */
struct vg_session *vg_sessions_next(const struct vg_sessions *s, size_t *pos, const char **id);

#endif
