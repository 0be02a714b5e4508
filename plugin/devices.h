/*
 * devices: what the broker keeps about each device while it runs, apart
 * from the identity record (struct vg_ident, which PostgreSQL defines):
 *  - the seq window: which seqs were accepted, so a QoS retransmit or a
 *    resend is acknowledged and stored once (docs/ARCHITECTURE.md "Exactly
 *    once");
 *  - when it last sent data and when it disconnected (silent-device alerts);
 *  - its alert states (alerts.c allocates the block on its first alert);
 *  - its budget of rejection records and what it counted instead (ingest.c).
 *
 * Keyed by device id. An identity update (a rotated secret, a new bed)
 * replaces the record and leaves this state alone, so seq history and
 * alert state survive a rotate or reassign; deleting the identity drops it
 * (identities.c).
 *
 * Thread: broker thread. Memory: owns its entries and their alert blocks.
 */
#ifndef VG_DEVICES_H
#define VG_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vg_smap.h"

struct vg_dev_alerts;
struct vg_bed;
struct vg_ident;
struct vg_sample;

struct vg_device {
	bool seq_known;        /* seq_hwm/seq_window describe what was accepted */
	uint64_t seq_hwm;      /* highest seq accepted */
	uint64_t seq_window;   /* bit i set: seq_hwm - i was accepted */
	uint64_t seq_floor;    /* seq_hwm after the first message accepted this run: a
	                        * seq at or below it may have been stored before */
	int64_t last_seen_ms;      /* last accepted sample (0: none since start) */
	int64_t disconnected_ms;   /* when it disconnected (0: connected or unknown) */
	struct vg_dev_alerts *alerts; /* alert states (alerts.h), NULL until the first alert */
	struct vg_bed *bed;        /* the bed its samples went to last: a lookup cache (vg_beds_find_cached) */
	/* Rejection records (ingest.c): the rate limit (GCRA: when the next
	 * record is due, monotonic ms) and what it counted instead. */
	int64_t rej_tat_ms;
	int64_t rej_unrecorded_ms; /* wall clock of the first one not recorded */
	uint32_t rej_unrecorded;   /* rejections not recorded since the last summary */
	uint32_t rej_reasons;      /* their reasons, bit (1 << enum vg_reason) */
};

struct vg_devices {
	struct vg_smap map;         /* device id -> struct vg_device */
};

int vg_devices_init(struct vg_devices *d, size_t cap_hint);
void vg_devices_free(struct vg_devices *d);
/* The device's state, or NULL when it has none yet. No allocation. */
struct vg_device *vg_devices_find(const struct vg_devices *d, const char *id);
/* The device's state, created on first use (NULL when out of memory). */
struct vg_device *vg_devices_get(struct vg_devices *d, const char *id);
/* The identity was deleted: its state (and alert block) goes. */
void vg_devices_drop(struct vg_devices *d, const char *id);
/* Iteration: the next entry at or after *pos (start at 0), its id in *id;
 * NULL at the end. Entries may change, the map must not. */
struct vg_device *vg_devices_next(const struct vg_devices *d, size_t *pos, const char **id);

/* Connection events of an identity (a device's silent-alert grace time
 * starts at its disconnect). */
void vg_devices_on_connect(struct vg_devices *d, const struct vg_ident *e);
void vg_devices_on_disconnect(struct vg_devices *d, const struct vg_ident *e, int64_t now_ms);

/* The seq window. */
enum vg_seq_class {
	VG_SEQ_NEW,          /* provably never accepted */
	VG_SEQ_DUP,          /* accepted before: acknowledge, store nothing */
	VG_SEQ_UNPROVEN,     /* no history (fresh start), at or below what the first
	                      * message of this run reached, or older than the window */
};
enum vg_seq_class vg_device_seq_classify(const struct vg_device *dev, uint64_t seq);
/* Marks the seqs of an accepted message's samples; the first message of
 * the run sets the floor. */
void vg_device_seq_accept(struct vg_device *dev, const struct vg_sample *s, int n);

#endif
