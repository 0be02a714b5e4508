/*
 * idtable: the in-memory identity table the broker answers auth and ACL
 * checks from (open addressing, linear probing, backward-shift deletion).
 *
 * Thread: broker thread only. The idsync worker builds vg_ident records and
 * hands them over through the completion queue; TICK applies them here.
 * Memory: the table owns its entries (allocated by vg_ident_new) and each
 * device's runtime state (vg_devrt), which moves to the replacement entry
 * when an identity is updated, so seq history and alert state survive a
 * rotate or reassign.
 */
#ifndef VG_IDTABLE_H
#define VG_IDTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "throttle.h"
#include "vg_crl.h"
#include "vg_secret.h"
#include "vg_util.h"

enum vg_role {
	VG_ROLE_DEVICE = 1,
	VG_ROLE_STATION = 2,
	VG_ROLE_SERVICE = 3,
};

struct vg_dev_alerts;
struct mosquitto;

/* Per-identity runtime state kept by the broker thread (created on first
 * use; survives identity updates). */
struct vg_devrt {
	/* The one client that logged in as this identity through Vitalgate
	 * (BASIC_AUTH, or a certificate login the ACL check validated), NULL
	 * when none: client id = identity, so there is at most one. Every ACL
	 * decision that grants this identity's rights compares ed->client with
	 * it (auth.c). Only compared, never dereferenced; cleared by the
	 * client's DISCONNECT and before the identity leaves the table. */
	const struct mosquitto *live;
	uint64_t last_ok_addr_hash; /* address of the last successful login */
	struct vg_cert_id cert;     /* the live session's certificate (serial_len 0: a secret login) */
	/* Login failures under this identity's name (auth.c): from its last
	 * good address, and from anywhere else. Two budgets, so a stranger
	 * cannot lock the device out and its own address is still throttled. */
	struct vg_throttle_state thr_home;
	struct vg_throttle_state thr_away;
	bool seq_known;        /* seq_hwm/seq_window describe what was accepted */
	uint64_t seq_hwm;      /* highest seq accepted */
	uint64_t seq_window;   /* bit i set: seq_hwm - i was accepted */
	uint64_t seq_floor;    /* seq_hwm after the first message accepted this run: a
	                        * seq at or below it may have been stored before */
	int64_t last_seen_ms;      /* last accepted sample (0: none since start) */
	int64_t disconnected_ms;   /* when it disconnected (0: connected or unknown) */
	struct vg_dev_alerts *alerts; /* alert states, allocated on first alert */
	/* Rejection records (plugin/ingest.c): the rate limit (GCRA: when the
	 * next record is due, monotonic ms) and what it counted instead. */
	int64_t rej_tat_ms;
	int64_t rej_unrecorded_ms; /* wall clock of the first one not recorded */
	uint32_t rej_unrecorded;   /* rejections not recorded since the last summary */
	uint32_t rej_reasons;      /* their reasons, bit (1 << enum vg_reason) */
};

struct vg_dev_alerts;

struct vg_ident {
	char id[VG_ID_MAX + 1];
	uint8_t role;
	bool revoked;
	uint8_t salt[VG_SALT_LEN];
	uint8_t hash[VG_HASH_LEN];
	char ward[VG_ID_MAX + 1];   /* device: "" when unassigned */
	char bed[VG_ID_MAX + 1];
	struct vg_devrt *rt;        /* device runtime state, NULL until needed */
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
/* Copies an entry's identity fields (not its runtime state). */
struct vg_ident *vg_ident_clone(const struct vg_ident *e);
/* Frees an entry and its runtime state. */
void vg_ident_free(struct vg_ident *e);

int vg_idtable_init(struct vg_idtable *t, size_t cap_hint);
void vg_idtable_destroy(struct vg_idtable *t);
struct vg_ident *vg_idtable_find_n(const struct vg_idtable *t, const char *id, size_t n);
struct vg_ident *vg_idtable_find(const struct vg_idtable *t, const char *id);
/* Inserts or replaces (the old entry's runtime state moves to e and the old
 * entry is freed). Returns 0 or -1 (out of memory; e is not taken). */
int vg_idtable_put(struct vg_idtable *t, struct vg_ident *e);
/* Removes and frees the entry; returns true if it existed. */
bool vg_idtable_remove(struct vg_idtable *t, const char *id);

/* True if the station may read ward (w, n bytes). */
bool vg_ident_has_ward(const struct vg_ident *e, const char *w, size_t n);

#endif
