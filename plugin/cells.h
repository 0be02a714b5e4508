/*
 * cells: this broker as one instance of a cell, or as the hub
 * (docs/scale-out.md), on the broker thread:
 *  - whether it serves (/health "serving": identities loaded, the journal
 *    replayed and the previous state read back, the cell's open alerts
 *    read from PostgreSQL, not draining): HAProxy sends devices only to an
 *    instance that serves;
 *  - wards placed on the cell a moment ago: their devices are refused
 *    (not counted as failures) until the open alerts of the ward are read,
 *    so that none of them raises its alert a second time here;
 *  - why an identity left (a ward moved to cell C), for the kick's reason;
 *  - the open alerts the cell's other instance holds (VG_C_MIRROR): which
 *    of those read last time are gone (alerts.c applies the rest);
 *  - the last alert event this instance emitted per device and per bed, so
 *    that a mirror older than it does not undo it;
 *  - before a silent-device alert, where the device last sent (VG_C_PRESENCE):
 *    only the instance that received its latest sample raises it, and an
 *    instance it left for the other one forgets it;
 *  - clients refused as unknown here: looked up (bridge/cellsync.c), so the
 *    log names the cell they belong to.
 * Without plugin_opt_cell (and on a hub) only the serving flag applies.
 *
 * Thread: broker thread. Memory: owns its maps (keys and small records).
 */
#ifndef VG_CELLS_H
#define VG_CELLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vg_smap.h"
#include "vg_util.h"

struct vg_plugin;
struct vg_ident;
struct vg_device;
struct vg_rec_event;
struct vg_c_alert_state;
struct vg_c_ward_moved;
struct vg_c_presence;
struct vg_open_alert;

#define VG_CELLS_MOVES 32

/* cells.c's state. */
struct vg_cells {
	bool writer_ready;           /* the journal is replayed, the previous state posted */
	struct vg_smap pending;      /* ward -> uint64_t *gen: placed here, alerts not read yet */
	struct {
		char ward[VG_ID_MAX + 1];
		char cell[VG_ID_MAX + 1];
	} moves[VG_CELLS_MOVES];      /* recent placements, a ring */
	size_t moves_next;
	struct vg_smap local;        /* "t/<dev>", "s/<dev>", "n/<ward>/<bed>" -> int64_t *: last event emitted here */
	struct vg_smap seen;         /* alert id -> struct vg_open_alert * (body NULL): the last mirror */
	struct vg_smap presence;     /* device id -> struct presence: silent-alert checks */
	bool draining;               /* spool_dir/draining exists */
	int64_t drain_checked_ms;
	int64_t pruned_ms;
};

int vg_cells_init(struct vg_cells *c);
void vg_cells_free(struct vg_cells *c);

/* /health: true when HAProxy may send clients here; else *why says why. */
bool vg_cells_serving(struct vg_plugin *vg, const char **why);

/* TICK: the draining file (once a second), stale presence checks, pruning. */
void vg_cells_tick(struct vg_plugin *vg, int64_t now_ms);
/* TICK: the writer replayed the journal and posted the previous state. */
void vg_cells_writer_ready(struct vg_plugin *vg);
/* TICK: a ward was placed on a cell (before the identity snapshot that
 * follows it): a ward placed here is pending until its alerts are read. */
void vg_cells_ward_moved(struct vg_plugin *vg, const struct vg_c_ward_moved *m);
/* TICK: a full identity snapshot was applied: the wards waiting for their
 * identities now wait for a read of their alerts. */
void vg_cells_snapshot_applied(struct vg_plugin *vg);
/* TICK: a read of the cell's open alerts. Returns the alerts of the last
 * read that this one no longer has (*nclosed, malloc'd: the caller frees
 * it; NULL when none), for alerts.c to close; vg_cells_mirror_done after. */
struct vg_open_alert *vg_cells_mirror_diff(struct vg_plugin *vg, const struct vg_c_alert_state *m, size_t *nclosed);
void vg_cells_mirror_done(struct vg_plugin *vg, const struct vg_c_alert_state *m);
/* TICK: where devices last sent. */
void vg_cells_presence(struct vg_plugin *vg, const struct vg_c_presence *p);

/* BASIC_AUTH: a known identity this cell may not take yet (its ward was
 * placed here and its alerts are not read): why, else NULL. */
const char *vg_cells_hold(struct vg_plugin *vg, const struct vg_ident *e);
/* BASIC_AUTH: a client refused as unknown here; the log will say where it
 * belongs. */
void vg_cells_unknown(struct vg_plugin *vg, const char *id);
/* TICK: why identity e is no longer served here (for the kick). */
const char *vg_cells_gone_reason(struct vg_plugin *vg, const struct vg_ident *e, char *buf, size_t len);

/* An alert event was emitted here (alerts.c). */
void vg_cells_note_event(struct vg_plugin *vg, const struct vg_rec_event *ev, int64_t now_ms);
/* The last alert event emitted here about this device (kind 't' threshold,
 * 's' silent) or bed ('n'), 0 if none. */
int64_t vg_cells_local_ms(struct vg_plugin *vg, char kind, const char *a, const char *b);
/* The silent alert of device id (runtime state rt) is due here: true when
 * this instance received its latest sample. Otherwise asks where it last
 * sent (false until answered; a device that went to the other instance is
 * forgotten here). */
bool vg_cells_silent_ok(struct vg_plugin *vg, const char *id, struct vg_device *rt);

#endif
