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
 * consumer, which frees it with vg_c_idents_free after taking the entries
 * it keeps.
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

#include "vg_ident.h"
#include "vg_alertcfg.h"
#include "vg_queue.h"

struct vg_c_idents {
	struct vg_job base;         /* type VG_C_IDENTS */
	bool full;                  /* a complete snapshot: drop what it lacks */
	size_t n;
	struct vg_ident **items;    /* entries (NULL once taken by the consumer) */
	size_t ndel;
	char (*deleted)[VG_ID_MAX + 1];
};

void vg_c_idents_free(struct vg_c_idents *c);

/* Alert thresholds and bed settings (the consumer takes cfg). */
struct vg_c_alert_cfg {
	struct vg_job base;         /* type VG_C_ALERT_CFG */
	struct vg_alert_cfg *cfg;
};

struct vg_idsync;

/* cache_path (may be NULL): where to keep the identity snapshot file
 * (idcache.h), rewritten after changes, at most once a second. crl_file
 * (may be NULL): plugin_opt_crl_file, kept equal to the stored CRLs
 * (crlsync.h). */
int vg_idsync_start(struct vg_idsync **out, const char *conninfo, const char *cache_path, const char *crl_file,
		struct vg_queue *completions, char *err, size_t errlen);
/* Broker thread: asks the worker to hand the pending outbox events over
 * again (after the webhook queue refused some). */
void vg_idsync_request_redrive(struct vg_idsync *s);
/* Any thread: reload identities and alert configuration in full now (SIGHUP). */
void vg_idsync_request_reload(struct vg_idsync *s);
void vg_idsync_stop(struct vg_idsync *s);

#endif
