/*
 * ingest: the MESSAGE callback (vitals in) and the rejection path.
 * Thread: broker thread.
 */
#ifndef VG_INGEST_H
#define VG_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "idtable.h"
#include "vg_vitals.h"

struct vg_plugin;

/* Returns the device's runtime state, creating it on first use (NULL when
 * out of memory). */
struct vg_devrt *vg_ingest_devrt(struct vg_ident *e);

/* Publishes the rejection record, journals the audit row, counts and logs.
 * Always returns MOSQ_ERR_ACL_DENIED (what the MESSAGE callback returns). */
int vg_ingest_reject(struct vg_plugin *vg, const char *device, const struct vg_verdict *v,
		const void *payload, size_t len, int64_t now_ms);

#endif
