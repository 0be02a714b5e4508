/*
 * occupancy: the core's adt/<ward>/<bed> messages (docs/patient-context.md),
 * taken in the ACL WRITE check of a service's publish (auth.c calls
 * vg_occupancy_acl_write when vg_acl_decide says VG_ACL_OCCUPANCY): parsed
 * and validated (common/vg_occupancy.c), journalled (VG_REC_OCCUPANCY: the
 * writer keeps the history and re-links stored samples), then applied to
 * the bed (beds.c) and its frame's label (stations.c). A refusal denies
 * the publish (0x87), with a log line and an audit row; nothing changes.
 *
 * Thread: broker thread. Memory: none of its own (the bed owns its
 * occupancy); the record is encoded into the plugin's record scratch.
 */
#ifndef VG_OCCUPANCY_PLUGIN_H
#define VG_OCCUPANCY_PLUGIN_H

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "vg_completion.h"
#include "vg_ident.h"

struct vg_plugin;

/* e: a service (its live session); ed->topic is adt/<ward>/<bed> with
 * both ids valid. Returns MOSQ_ERR_SUCCESS or MOSQ_ERR_ACL_DENIED. */
int vg_occupancy_acl_write(struct vg_plugin *vg, const struct vg_ident *e, const struct mosquitto_evt_acl_check *ed);

/* MESSAGE of adt/...: a service's publish was taken in its ACL check;
 * anything else came through a path with no ACL check (this broker's own
 * outgoing bridge: a cell's bridge bringing the hub's adt/# in) and is
 * validated and taken here, or dropped with a log line. */
int vg_occupancy_message(struct vg_plugin *vg, const struct mosquitto_evt_message *ed);

/* TICK, once at start: the beds' occupancy as PostgreSQL kept it. A bed
 * the core described since this run started keeps what the core said. */
void vg_occupancy_restore(struct vg_plugin *vg, const struct vg_c_occupancy *c);

#endif
