/*
 * ingest: vitals in (taken in the ACL WRITE check of vitals/<device>), the
 * MESSAGE callback's gate, and the rejection path.
 * Thread: broker thread.
 */
#ifndef VG_INGEST_H
#define VG_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vg_ident.h"
#include "vg_ratelimit.h"
#include "vg_vitals.h"

struct vg_plugin;
struct mosquitto_evt_acl_check;

/* ingest.c's state. */
struct vg_ingest {
	struct vg_decoder dec;          /* the decoder and its zone, reused */
	struct vg_sample samples[VG_MAX_BATCH]; /* decode output */
	struct vg_ratelimit rej_log;    /* rejections: 20 log lines a second */
	uint64_t rej_pending;           /* devices with rejections to summarise */
};

int vg_ingest_init(struct vg_ingest *in, const struct vg_time_policy *tp);
void vg_ingest_free(struct vg_ingest *in);

/* MOSQ_EVT_MESSAGE (plugin.c registers it): refuses vitals/ from a client
 * no ACL check saw. */
int vg_ingest_message_cb(int event, void *event_data, void *userdata);

/* The ACL WRITE check of a device's own vitals/<id> topic (auth.c): decode
 * and validate, drop seqs already accepted, detect alerts, journal, publish
 * what follows. Returns MOSQ_ERR_SUCCESS (deliver and acknowledge) or
 * MOSQ_ERR_ACL_DENIED (rejected: 0x87 to the device, a will is dropped). e
 * is the device whose live session ed->client is. */
int vg_ingest_acl_write(struct vg_plugin *vg, struct vg_ident *e, const struct mosquitto_evt_acl_check *ed);

/* Publishes the rejection record, journals the audit row (within the
 * device's rejection_records_per_min; beyond it counts it for the device's
 * next summary: its state in devices.c is created if needed), counts and logs,
 * and returns MOSQ_ERR_ACL_DENIED (what the ACL check returns: 0x87); or,
 * for an invalid sample from a device of a ward in shadow mode, only counts
 * and logs, and returns MOSQ_ERR_SUCCESS so the message is delivered. */
int vg_ingest_reject(struct vg_plugin *vg, struct vg_ident *e, const struct vg_verdict *v,
		const void *payload, size_t len, int64_t now_ms);

/* TICK (all = false): journals a summary record for each device whose
 * rejections were counted instead of recorded for 10 s or more; at
 * shutdown (all = true) for every such device. */
void vg_ingest_rejection_summaries(struct vg_plugin *vg, int64_t now_ms, bool all);

/* True when the ward is in shadow mode (plugin_opt_shadow_wards). */
bool vg_ward_in_shadow(const struct vg_plugin *vg, const char *ward);

#endif
