/*
 * crlsync: keeps plugin_opt_crl_file equal to the CRLs stored in PostgreSQL
 * (certificate_crls, signed by `vitalgate-admin cert crl`), for the
 * identity sync worker (idsync.c), which runs it at start, after every
 * reconnect and full reload, and on each NOTIFY vitalgate_crl.
 *
 * When the stored CRLs differ from the file: every one must parse and none
 * may have expired (a file Mosquitto cannot load would make its reload drop
 * CRL checking; an expired CRL would fail every certificate handshake), then
 * the file is replaced atomically (temporary file, fsync, rename) and a
 * VG_C_CRL completion tells TICK, which has Mosquitto reload its listeners
 * and disconnects clients whose certificate is now revoked (plugin/crl.c).
 *
 * Thread: the identity sync worker. Memory: the posted vg_c_crl
 * (vg_completion.h) and its set belong to the consumer.
 */
#ifndef VG_CRLSYNC_H
#define VG_CRLSYNC_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "vg_crl.h"
#include "vg_queue.h"

struct vg_crlsync {
	const char *path;           /* plugin_opt_crl_file */
	int64_t warned_ms;          /* last "expires soon" warning (monotonic) */
};

/* Returns false only on a database error (the caller reconnects). */
bool vg_crlsync_run(struct vg_crlsync *cs, PGconn *c, struct vg_queue *completions);

#endif
