/*
 * cellsync: what the instances of one cell (a primary and its standby,
 * docs/scale-out.md) learn of each other through PostgreSQL, for a broker
 * with plugin_opt_cell:
 *  - the cell's open alerts (alert_open, one per condition, written by
 *    every instance's writer), read once a second and whenever the broker
 *    asks (a ward placed on the cell): VG_C_MIRROR. A device arriving from
 *    the other instance continues its alerts under their ids;
 *  - where devices last sent a sample (vitals_seq_hwm: when, by which
 *    journal), for the devices the broker is about to call silent:
 *    VG_C_PRESENCE. Only the instance a device last sent to raises its
 *    silent alert;
 *  - for a client refused as unknown here, where it belongs (its ward and
 *    that ward's cell): a log line, so the operator sees a device knocking
 *    on the wrong cell without the cell holding the hospital's identities.
 *
 * Thread: start/stop/request_*, vg_cellsync_check_presence and
 * vg_cellsync_lookup on the broker thread (they take a mutex for a few
 * copies, never wait for the database); one worker thread owns the PGconn.
 * Memory: completions it posts belong to the broker thread.
 */
#ifndef VG_CELLSYNC_H
#define VG_CELLSYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scope.h"
#include "vg_queue.h"

struct vg_cellsync;

/* scope: a cell's (scope.h); journal_id: this broker's journal (a device
 * whose latest sample carries it was last received here). */
int vg_cellsync_start(struct vg_cellsync **out, const char *conninfo, const struct vg_scope *scope, const char *journal_id,
		struct vg_queue *completions, char *err, size_t errlen);
void vg_cellsync_stop(struct vg_cellsync *s);

/* Asks for a read of the open alerts now; returns the request's number,
 * which the VG_C_MIRROR that answers it (or a later one) carries in gen. */
uint64_t vg_cellsync_request_poll(struct vg_cellsync *s);
/* Asks where device id last sent (answered by VG_C_PRESENCE). False when
 * the worker already holds as many as it checks at once: ask again later. */
bool vg_cellsync_check_presence(struct vg_cellsync *s, const char *id);
/* Asks where identity id belongs (answered by a log line). Ids asked about
 * within the last minute, and asks beyond 20 a second, are dropped. */
void vg_cellsync_lookup(struct vg_cellsync *s, const char *id);

#endif
