/*
 * idsync: keeps the broker's identity table, alert thresholds and bed
 * settings current from PostgreSQL, and relays vitalgate-admin's webhook
 * commands (redrive, enable).
 *
 * A worker thread with its own PGconn loads every identity (role, secret
 * hash, revocation, bed or wards) at start and after any reconnect, then
 * LISTENs on `vitalgate_identity` and reloads just the identities named by
 * each notification. Results go to the broker thread as VG_C_IDENTS
 * completions that TICK applies, so BASIC_AUTH and ACL checks read memory
 * only. While PostgreSQL is unreachable nothing is posted and the broker
 * keeps the last state it had: a database error never becomes a denial.
 *
 * Thread: start/stop on the broker thread; the worker owns its PGconn.
 * Memory: each posted vg_c_idents (and the entries in it) belongs to the
 * consumer, which frees it with vg_completion_free after taking the
 * entries it keeps (common/vg_completion.h defines every completion).
 *
 * Channels: vitalgate_identity (payload: an identity id), vitalgate_crl
 * (with plugin_opt_crl_file: certificate revocation lists), vitalgate_config
 * (thresholds or bed settings changed: all are reloaded), vitalgate_webhook
 * (payload "redrive": pending outbox events are handed to the broker again;
 * "enable": the endpoint is re-enabled after a 410).
 */
#ifndef VG_IDSYNC_H
#define VG_IDSYNC_H

#include <stdbool.h>
#include <stddef.h>

#include "scope.h"
#include "vg_queue.h"

struct vg_idsync;

/* scope: which identities the broker serves (every one, a cell's, the
 * hub's: scope.h); a cell or hub also LISTENs on vitalgate_cells, posts
 * each ward placement (VG_C_WARD_MOVED) and loads everything again.
 * cache_path (may be NULL): where to keep the identity snapshot file
 * (common/vg_idcache.h), rewritten after changes, at most once a second. crl_file
 * (may be NULL): plugin_opt_crl_file, kept equal to the stored CRLs
 * (crlsync.h). */
int vg_idsync_start(struct vg_idsync **out, const char *conninfo, const struct vg_scope *scope, const char *cache_path,
		const char *crl_file, struct vg_queue *completions, char *err, size_t errlen);
/* Broker thread: asks the worker to hand the pending outbox events over
 * again (after the webhook queue refused some). */
void vg_idsync_request_redrive(struct vg_idsync *s);
/* Any thread: reload identities and alert configuration in full now (SIGHUP). */
void vg_idsync_request_reload(struct vg_idsync *s);
void vg_idsync_stop(struct vg_idsync *s);

#endif
