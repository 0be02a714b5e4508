/*
 * identities: applies what the identity sync worker reads from PostgreSQL
 * (VG_C_IDENTS completions, on TICK) to the identity table the broker
 * answers from: a full snapshot (what it lacks is removed) or the
 * identities named by notifications. What a change ends happens here:
 * sessions whose credentials no longer hold are disconnected, a device
 * that left its bed has its silent alert resolved and its retained bed
 * sample cleared, a deleted identity's runtime state (sessions.c,
 * devices.c) is dropped; an update keeps it.
 *
 * Thread: broker thread (TICK). Memory: takes the records of each
 * completion it applies.
 */
#include "identities.h"

#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "alerts.h"
#include "audit.h"
#include "cells.h"
#include "devices.h"
#include "sessions.h"
#include "stations.h"
#include "auth.h"
#include "vg_completion.h"
#include "vg_idcache.h"
#include "vg_plugin.h"
#include "vg_util.h"

int vg_identities_init(struct vg_identities *ids)
{
	return vg_idtable_init(&ids->table, 1024);
}

void vg_identities_free(struct vg_identities *ids)
{
	vg_idtable_destroy(&ids->table);
}

void vg_identities_load_cache(struct vg_identities *ids, const char *path)
{
	char err[512];
	long cached = vg_idcache_read(path, &ids->table, err, sizeof(err));

	if(cached < 0){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "Vitalgate: ignoring the identity cache: %s", err);
	}else if(cached > 0){
		ids->loaded = true;
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: %ld identities loaded from %s until PostgreSQL answers", cached, path);
	}
}

/* A connected client whose credentials no longer hold is disconnected. */
static bool must_kick(const struct vg_ident *old, const struct vg_ident *nw)
{
	if(old == NULL){
		return false;
	}
	return (nw->revoked && !old->revoked)
		|| nw->role != old->role
		|| memcmp(nw->hash, old->hash, sizeof(nw->hash)) != 0
		|| memcmp(nw->salt, old->salt, sizeof(nw->salt)) != 0;
}

/* Identities are usernames; a client id kick covers certificate logins
 * whose client id is wrong. Both are safe only here, on TICK. */
static void kick(struct vg_plugin *vg, const char *id, const char *why)
{
	if(mosquitto_kick_client_by_username(id, false) == MOSQ_ERR_SUCCESS){
		vg->stats.kicks++;
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: disconnecting %s (%s)", id, why);
		vg_audit(vg, VG_AUDIT_KICK, id, NULL, NULL, "%s", why);
	}
}

/* others=defer: a new identity's name may already be in use by a client
 * of another application (a password_file or anonymous session). It never
 * has the identity's rights (auth.c: not its live session), and it goes:
 * by client id always (O(1)); by username in a delta (O(clients) each, so
 * not for each of the thousands of ids of a full snapshot: those sessions
 * are denied everything and disconnected at their first action). */
static void new_identity_kick(struct vg_plugin *vg, const char *id, bool by_username)
{
	/* (2.0.11's kick by username reports success whether or not it found
	 * anyone: only the client id kick is logged.) */
	bool found = mosquitto_kick_client_by_clientid(id, false) == MOSQ_ERR_SUCCESS;

	if(by_username){
		mosquitto_kick_client_by_username(id, false);
	}
	if(found){
		vg->stats.kicks++;
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: disconnecting the client named %s (it did not log in as the new identity)", id);
		vg_audit(vg, VG_AUDIT_KICK, id, id, NULL, "a client of another application used the new identity's name");
	}
}

/* An identity is about to be removed: its bed no longer shows it. On a
 * cell an identity leaves because the cell no longer serves it (its ward
 * moved; PostgreSQL says no more than that): its alerts are not ended
 * here, the cell that serves it now continues them. */
static void device_gone(struct vg_plugin *vg, const char *id)
{
	struct vg_ident *e = vg_idtable_find(&vg->ids.table, id);

	if(e && e->role == VG_ROLE_DEVICE){
		if(vg->cfg.cell == NULL){
			vg_alerts_device_left(vg, e, "deleted", vg_now_ms());
		}
		vg_stations_device_left(vg, e->id, e->ward, e->bed);
	}
}

/* An identity was deleted: what the broker kept about it goes too (its
 * seq history, alert states, session and login budgets). An update keeps
 * them: they are keyed by id, apart from the identity record. */
static void drop_runtime(struct vg_plugin *vg, const char *id)
{
	vg_sessions_drop(&vg->sessions, id);
	vg_devices_drop(&vg->devices, id);
}

/* Applies one new or changed identity (taken from *slot unless out of
 * memory): what its change ends (a device leaving its bed, a session whose
 * credentials no longer hold, throttling of its name) happens first. */
static void apply_one(struct vg_plugin *vg, struct vg_ident **slot, uint32_t gen, bool full)
{
	struct vg_ident *nw = *slot;
	struct vg_ident *old = vg_idtable_find(&vg->ids.table, nw->id);
	bool k = must_kick(old, nw);
	bool moved = old && nw->role == VG_ROLE_DEVICE && (strcmp(old->ward, nw->ward) || strcmp(old->bed, nw->bed));
	const struct vg_session *ses;

	if(moved){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: %s now at %s/%s", nw->id,
				nw->ward[0] ? nw->ward : "-", nw->bed[0] ? nw->bed : "-");
	}
	if(old && old->role == VG_ROLE_DEVICE && (moved || (nw->revoked && !old->revoked))){
		vg_alerts_device_left(vg, old, nw->revoked && !old->revoked ? "revoked"
				: nw->ward[0] ? "moved" : "unassigned", vg_now_ms());
		/* Its bed no longer shows it (before old is replaced). */
		vg_stations_device_left(vg, old->id, old->ward, old->bed);
	}
	nw->gen = gen;
	if(old && old->role != nw->role && (ses = vg_sessions_find(&vg->sessions, old->id)) != NULL && ses->live){
		vg->stats.connected[old->role & 7]--;
		vg->stats.connected[nw->role & 7]++;
	}
	if(vg_idtable_put(&vg->ids.table, nw) != 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: out of memory applying identity %s", nw->id);
		return; /* left in the completion, freed with it */
	}
	*slot = NULL;
	/* A change to an identity ends any throttling of its name: a denial is
	 * never kept past the next change. */
	vg_throttle_ok(&vg->auth.thr_user, nw->id);
	vg_auth_reset_throttle(vg, nw->id);
	if(k){
		kick(vg, nw->id, nw->revoked ? "identity revoked" : "credentials changed");
	}else if(old == NULL && vg->cfg.others == VG_OTHERS_DEFER){
		new_identity_kick(vg, nw->id, !full);
	}
}

/* Removes an identity PostgreSQL no longer has (a cell: no longer serves),
 * and everything the broker kept about it, and disconnects it; returns
 * true if it was in the table. */
static bool remove_one(struct vg_plugin *vg, const char *id)
{
	bool had;
	char why[160];
	const struct vg_ident *e = vg_idtable_find(&vg->ids.table, id);

	if(e == NULL){
		return false;
	}
	/* Before it goes: why (on a cell, where its ward went). */
	if(vg->cfg.cell){
		vg_cells_gone_reason(vg, e, why, sizeof(why));
	}else{
		vg_strlcpy(why, "identity deleted", sizeof(why));
	}
	device_gone(vg, id);
	vg_auth_forget_connections(vg, id);
	had = vg_idtable_remove(&vg->ids.table, id);
	drop_runtime(vg, id);
	kick(vg, id, why);
	return had;
}

/* After a full snapshot of generation gen: removes what it no longer has.
 * Collects first: removal shifts entries around. */
static void remove_missing(struct vg_plugin *vg, uint32_t gen)
{
	size_t nrem = 0, cap = vg->ids.table.count, s;
	char (*rem)[VG_ID_MAX + 1] = cap ? calloc(cap, VG_ID_MAX + 1) : NULL;

	for(s = 0; rem && s < vg->ids.table.cap; s++){
		const struct vg_ident *e = vg->ids.table.slots[s];
		if(e && e->gen != gen && nrem < cap){
			memcpy(rem[nrem++], e->id, VG_ID_MAX + 1);
		}
	}
	for(s = 0; s < nrem; s++){
		remove_one(vg, rem[s]);
	}
	free(rem);
}

void vg_identities_apply(struct vg_plugin *vg, struct vg_c_idents *c)
{
	size_t i;
	uint32_t gen = 0;

	if(c->full){
		gen = ++vg->ids.gen;
		if(gen == 0){
			gen = ++vg->ids.gen;
		}
	}
	for(i = 0; i < c->n; i++){
		apply_one(vg, &c->items[i], gen, c->full);
	}
	if(c->full){
		remove_missing(vg, gen);
		if(!vg->ids.synced){
			mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: identities %s (%zu)",
					vg->ids.loaded ? "synced with PostgreSQL" : "loaded", vg->ids.table.count);
		}
		vg->ids.loaded = true;
		vg->ids.synced = true;
		vg_cells_snapshot_applied(vg);
	}
	for(i = 0; i < c->ndel; i++){
		remove_one(vg, c->deleted[i]);
	}
}
