/*
 * tick: the TICK callback. Runs once per pass of the broker's main loop
 * (at least every ~100 ms) and is the only place worker results touch the
 * broker: it takes every waiting completion at once (wake-ups coalesce) and
 * applies each on the broker thread: log lines, identity changes (and the
 * kicks they imply), webhook outcomes, database state.
 *
 * Thread: broker thread. Memory: frees every completion it takes
 * (vg_completion_free), after its consumer took what it keeps.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "alerts.h"
#include "audit.h"
#include "crl.h"
#include "devices.h"
#include "idsync.h"
#include "httpd.h"
#include "mirror.h"
#include "webhook.h"
#include "ingest.h"
#include "pgwriter.h"
#include "sessions.h"
#include "stations.h"
#include "stats.h"
#include "vg_completion.h"
#include "vg_plugin.h"
#include "vg_util.h"

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

static void apply_kicks(struct vg_plugin *vg)
{
	size_t i;

	for(i = 0; i < vg->nkicks; i++){
		/* Never the live session of an identity: whatever was denied came
		 * from an older client with that id (a will checked after its
		 * DISCONNECT or at a takeover), and the id now belongs to a client
		 * that logged in properly. */
		if(vg_auth_is_live(vg, vg->kicks[i].client_id)){
			continue;
		}
		if(mosquitto_kick_client_by_clientid(vg->kicks[i].client_id, false) == MOSQ_ERR_SUCCESS){
			vg->stats.kicks++;
			mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: disconnecting client %s (%s)",
					vg->kicks[i].client_id, vg->kicks[i].why);
			vg_audit(vg, VG_AUDIT_KICK, NULL, vg->kicks[i].client_id, NULL, "%s", vg->kicks[i].why);
		}
	}
	vg->nkicks = 0;
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

/* An identity is about to be removed: its bed no longer shows it. */
static void device_gone(struct vg_plugin *vg, const char *id)
{
	struct vg_ident *e = vg_idtable_find(&vg->ids, id);

	if(e && e->role == VG_ROLE_DEVICE){
		vg_alerts_device_left(vg, e, "deleted", vg_now_ms());
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

static void apply_idents(struct vg_plugin *vg, struct vg_c_idents *c)
{
	size_t i;
	uint32_t gen = 0;

	if(c->full){
		gen = ++vg->ids_gen;
		if(gen == 0){
			gen = ++vg->ids_gen;
		}
	}
	for(i = 0; i < c->n; i++){
		struct vg_ident *nw = c->items[i];
		struct vg_ident *old = vg_idtable_find(&vg->ids, nw->id);
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
			vg->stats.connected[old->role & 3]--;
			vg->stats.connected[nw->role & 3]++;
		}
		if(vg_idtable_put(&vg->ids, nw) != 0){
			mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: out of memory applying identity %s", nw->id);
			continue; /* left in c->items, freed below */
		}
		c->items[i] = NULL;
		/* A change to an identity ends any throttling of its name: a
		 * denial is never kept past the next change. */
		vg_throttle_ok(&vg->thr_user, nw->id);
		vg_auth_reset_throttle(vg, nw->id);
		if(k){
			kick(vg, nw->id, nw->revoked ? "identity revoked" : "credentials changed");
		}else if(old == NULL && vg->cfg.others == VG_OTHERS_DEFER){
			new_identity_kick(vg, nw->id, !c->full);
		}
	}
	if(c->full){
		/* Drop what the snapshot no longer has. Collect first: removal
		 * shifts entries around. */
		size_t nrem = 0, cap = vg->ids.count, s;
		char (*rem)[VG_ID_MAX + 1] = cap ? calloc(cap, VG_ID_MAX + 1) : NULL;

		for(s = 0; rem && s < vg->ids.cap; s++){
			const struct vg_ident *e = vg->ids.slots[s];
			if(e && e->gen != gen && nrem < cap){
				memcpy(rem[nrem++], e->id, VG_ID_MAX + 1);
			}
		}
		for(s = 0; s < nrem; s++){
			device_gone(vg, rem[s]);
			vg_auth_forget_connections(vg, rem[s]);
			vg_idtable_remove(&vg->ids, rem[s]);
			drop_runtime(vg, rem[s]);
			kick(vg, rem[s], "identity deleted");
		}
		free(rem);
		if(!vg->ids_synced){
			mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: identities %s (%zu)",
					vg->ids_loaded ? "synced with PostgreSQL" : "loaded", vg->ids.count);
		}
		vg->ids_loaded = true;
		vg->ids_synced = true;
	}
	for(i = 0; i < c->ndel; i++){
		device_gone(vg, c->deleted[i]);
		vg_auth_forget_connections(vg, c->deleted[i]);
		if(vg_idtable_remove(&vg->ids, c->deleted[i])){
			kick(vg, c->deleted[i], "identity deleted");
		}
		drop_runtime(vg, c->deleted[i]);
	}
}

/* A webhook's final outcome goes to the outbox through the journal. */
static void webhook_outcome(struct vg_plugin *vg, const struct vg_c_webhook *w)
{
	struct vg_rec_delivery d;
	struct vg_wbuf b;

	if(w->channel == VG_WH_CHANNEL_MIRROR){
		vg->stats.mirror_delivered += w->outcome == VG_WH_DELIVERED;
		vg->stats.mirror_retries += w->outcome == VG_WH_RETRY;
		vg->stats.mirror_dead += w->outcome == VG_WH_DEAD || w->outcome == VG_WH_REFUSED;
		return;
	}
	switch(w->outcome){
		case VG_WH_RETRY:
			vg->stats.webhook_retries++;
			return;
		case VG_WH_GONE:
			vg->stats.webhook_gone++;
			return;
		case VG_WH_DELIVERED:
			vg->stats.webhook_delivered++;
			d.status = VG_DS_DELIVERED;
			break;
		case VG_WH_DEAD:
			vg->stats.webhook_dead++;
			d.status = VG_DS_DEAD;
			break;
		case VG_WH_REFUSED:
			/* A dead letter too (redrive works the same); counted apart. */
			vg->stats.webhook_refused++;
			d.status = VG_DS_DEAD;
			break;
		default:
			return;
	}
	d.event_id.p = w->event_id;
	d.event_id.n = strlen(w->event_id);
	d.attempts = (uint32_t)w->attempts;
	d.http = (int32_t)w->http_status;
	d.error.p = w->error;
	d.error.n = strlen(w->error);
	d.at_ms = vg_now_ms();
	if(vg->journal == NULL){
		return; /* shutting down: the event stays pending in the outbox */
	}
	vg_wbuf_init(&b, vg->recbuf, vg->recbuf_cap);
	if(!vg_rec_encode_delivery(&b, &d)
			|| vg_journal_append_class(vg->journal, VG_JOURNAL_CLASS_PRIORITY, VG_REC_DELIVERY, b.p, (uint32_t)b.len, NULL)
				!= VG_JOURNAL_OK){
		/* The event stays pending in the outbox: after a restart it is
		 * delivered again, which the receiver dedupes on webhook-id. */
		mosquitto_log_printf(MOSQ_LOG_WARNING, "Vitalgate: cannot journal the outcome of webhook %s", w->event_id);
	}
}

static void redeliver(struct vg_plugin *vg, const struct vg_c_redeliver *c)
{
	size_t i, queued = 0, refused = 0;

	for(i = 0; i < c->n; i++){
		if(vg->webhook){
			if(vg_webhook_submit(vg->webhook, c->items[i].event_id, c->items[i].order_key,
					c->items[i].body, c->items[i].len, c->items[i].created_ms, c->items[i].since_ms) == 0){
				queued++;
			}else{
				refused++;
			}
		}
	}
	if(refused){
		/* The queue filled up again (the endpoint is still failing): these
		 * stay pending in the outbox; ask again once there is room, or
		 * they would wait for the next restart. */
		vg->stats.webhook_queue_full += refused;
		vg->webhook_backlog = true;
		vg->webhook_redrive_ms = vg_mono_ms();
	}
	if(c->n){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: %zu pending alert event(s) from the outbox queued for delivery%s%s",
				queued, vg->webhook ? "" : " (no webhook_url: they stay pending)",
				refused ? "; the rest waits for room in the queue" : "");
	}
}

/* Devices that were streaming before this start and do not come back
 * raise a silent alert too. */
static void last_seen(struct vg_plugin *vg, const struct vg_c_last_seen *c)
{
	size_t i;

	for(i = 0; i < c->n; i++){
		struct vg_ident *e = vg_idtable_find(&vg->ids, c->items[i].id);
		struct vg_device *dev = e && e->role == VG_ROLE_DEVICE ? vg_devices_get(&vg->devices, e->id) : NULL;
		if(dev && dev->last_seen_ms == 0){
			dev->last_seen_ms = c->items[i].at_ms;
		}
	}
}

void vg_tick_drain(struct vg_plugin *vg)
{
	struct vg_job *list, *next;
	unsigned long refused;

	list = vg_queue_take_all(&vg->completions, 0);
	for(; list; list = next){
		next = list->next;
		switch(list->type){
			case VG_C_LOG: {
				struct vg_c_log *l = (struct vg_c_log *)list;
				mosquitto_log_printf(l->level, "%s", l->msg);
				break;
			}
			case VG_C_IDENTS:
				apply_idents(vg, (struct vg_c_idents *)list);
				break;
			case VG_C_WEBHOOK:
				webhook_outcome(vg, (struct vg_c_webhook *)list);
				break;
			case VG_C_ALERT_CFG: {
				struct vg_c_alert_cfg *c = (struct vg_c_alert_cfg *)list;
				mosquitto_log_printf(MOSQ_LOG_INFO, "Vitalgate: alert thresholds and bed settings loaded (%zu ward override(s), %zu SpO2 scale 2 bed(s))",
						c->cfg->nwards, c->cfg->nscale2);
				vg_alerts_set_config(vg, c->cfg);
				c->cfg = NULL;
				break;
			}
			case VG_C_REDELIVER:
				redeliver(vg, (struct vg_c_redeliver *)list);
				break;
			case VG_C_WEBHOOK_CMD:
				if(((struct vg_c_webhook_cmd *)list)->enable && vg->webhook){
					vg_webhook_enable(vg->webhook);
				}
				break;
			case VG_C_LAST_SEEN:
				last_seen(vg, (struct vg_c_last_seen *)list);
				break;
			case VG_C_ALERT_STATE:
				vg_alerts_restore_state(vg, (struct vg_c_alert_state *)list, vg_now_ms());
				break;
			case VG_C_CRL:
				vg_crl_apply(vg, (struct vg_c_crl *)list);
				break;
			case VG_C_DB_STATE:
				vg->db_up = ((struct vg_c_db_state *)list)->up;
				break;
			default:
				break;
		}
		vg_completion_free(list);
	}
	pthread_mutex_lock(&vg->completions.lock);
	refused = vg->completions.refused;
	pthread_mutex_unlock(&vg->completions.lock);
	if(refused != vg->stats.completion_refused_reported){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "Vitalgate: %lu worker message(s) dropped because the completion queue was full",
				refused - (unsigned long)vg->stats.completion_refused_reported);
		vg->stats.completion_refused_reported = refused;
	}
}

/* The journal's disk: an operator alarm while appends fail for lack of
 * space (at once, then at most every minute), and a line when they work
 * again. (A failed sync has its own alarm, from the journal.) */
static void journal_disk_watch(struct vg_plugin *vg, int64_t now)
{
	struct vg_journal_stats st;

	vg_journal_get_stats(vg->journal, &st);
	if(st.nospace_errors != vg->jfull_seen){
		uint64_t more = st.nospace_errors - vg->jfull_seen;
		vg->jfull_seen = st.nospace_errors;
		vg->jfull_last_ms = now;
		if(vg->jfull_alarm_ms == 0 || now - vg->jfull_alarm_ms >= 60000){
			mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate ALARM: the journal's filesystem (%s) is full: %" PRIu64
					" journal write(s) refused%s; devices get backpressure and keep their samples", vg->cfg.spool_dir, more,
					vg->jfull_alarm_ms ? " in the last minute" : "");
			vg->jfull_alarm_ms = now;
		}
	}else if(vg->jfull_alarm_ms && now - vg->jfull_last_ms >= 2000){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: the journal's filesystem has room again (no write refused for 2 s)");
		vg->jfull_alarm_ms = 0;
	}
}

int vg_tick_cb(int event, void *event_data, void *userdata)
{
	struct vg_plugin *vg = userdata;
	int64_t now = vg_mono_ms();

	(void)event;
	(void)event_data;
	vg_tick_drain(vg);
	vg_crl_tick(vg);
	apply_kicks(vg);
	vg_alerts_tick(vg, vg_now_ms());
	vg_stations_tick(vg, vg_now_ms());
	/* Events the webhook queue refused stay pending in the outbox: once it
	 * has room again, have them read back (at most every 5 s). */
	if(vg->webhook_backlog && now - vg->webhook_redrive_ms >= 5000 && vg_webhook_has_room(vg->webhook)){
		vg->webhook_backlog = false;
		vg->webhook_redrive_ms = now;
		vg_idsync_request_redrive(vg->idsync);
	}
	vg_audit_tick(vg, now);
	vg_audit_flush(vg);
	vg_journal_tick(vg->journal);
	if(now - vg->rej_summary_ms >= 1000){
		vg->rej_summary_ms = now;
		vg_ingest_rejection_summaries(vg, vg_now_ms(), false);
		journal_disk_watch(vg, now);
	}
	vg_mirror_tick(vg, vg_now_ms());
	vg_httpd_tick(vg->metrics, vg_stats_render, vg);
	if(vg->cfg.stats_interval_s > 0 && now - vg->last_stats_pub_ms >= vg->cfg.stats_interval_s * 1000){
		vg_stats_publish(vg);
		vg->last_stats_pub_ms = now;
	}
	if(now - vg->last_stats_log_ms >= 60000){
		if(vg->last_stats_log_ms){
			uint64_t rejected = 0;
			int r;
			for(r = 0; r < VG_R__COUNT; r++){
				rejected += vg->stats.rejected[r];
			}
			mosquitto_log_printf(MOSQ_LOG_INFO, "Vitalgate: %" PRIu64 " samples accepted, %" PRIu64
					" rejected messages, %" PRIu64 " duplicates, journal %" PRIu64 " bytes, database %s",
					vg->stats.accepted_samples, rejected, vg->stats.duplicate_samples,
					vg_journal_disk_bytes(vg->journal), vg->db_up ? "up" : "DOWN");
		}
		vg->last_stats_log_ms = now;
	}
	return MOSQ_ERR_SUCCESS;
}
