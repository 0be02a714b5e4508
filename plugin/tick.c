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
#include "cells.h"
#include "crl.h"
#include "delivery.h"
#include "devices.h"
#include "httpd.h"
#include "identities.h"
#include "ingest.h"
#include "mirror.h"
#include "occupancy.h"
#include "stations.h"
#include "stats.h"
#include "vg_completion.h"
#include "vg_plugin.h"
#include "vg_util.h"

/* Devices that were streaming before this start and do not come back
 * raise a silent alert too. */
static void last_seen(struct vg_plugin *vg, const struct vg_c_last_seen *c)
{
	size_t i;

	for(i = 0; i < c->n; i++){
		struct vg_ident *e = vg_idtable_find(&vg->ids.table, c->items[i].id);
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

	list = vg_queue_take_all(&vg->workers.completions, 0);
	for(; list; list = next){
		next = list->next;
		switch(list->type){
			case VG_C_LOG: {
				struct vg_c_log *l = (struct vg_c_log *)list;
				mosquitto_log_printf(l->level, "%s", l->msg);
				break;
			}
			case VG_C_IDENTS:
				vg_identities_apply(vg, (struct vg_c_idents *)list);
				break;
			case VG_C_WEBHOOK:
				vg_delivery_outcome(vg, (struct vg_c_webhook *)list);
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
				vg_delivery_redeliver(vg, (struct vg_c_redeliver *)list);
				break;
			case VG_C_WEBHOOK_CMD:
				vg_delivery_command(vg, (struct vg_c_webhook_cmd *)list);
				break;
			case VG_C_LAST_SEEN:
				last_seen(vg, (struct vg_c_last_seen *)list);
				break;
			case VG_C_OCCUPANCY:
				vg_occupancy_restore(vg, (const struct vg_c_occupancy *)list);
				break;
			case VG_C_ALERT_STATE:
				if(vg->cfg.cell){
					/* The first read of the cell's open alerts: remembered,
					 * so the next reads see which ones ended. */
					size_t n;
					free(vg_cells_mirror_diff(vg, (struct vg_c_alert_state *)list, &n));
				}
				vg_alerts_restore_state(vg, (struct vg_c_alert_state *)list, vg_now_ms());
				break;
			case VG_C_MIRROR: {
				struct vg_c_alert_state *m = (struct vg_c_alert_state *)list;
				size_t nclosed = 0;
				struct vg_open_alert *closed = vg_cells_mirror_diff(vg, m, &nclosed);
				vg_alerts_mirror(vg, m, closed, nclosed, vg_now_ms());
				free(closed);
				vg_cells_mirror_done(vg, m);
				break;
			}
			case VG_C_PRESENCE:
				vg_cells_presence(vg, (struct vg_c_presence *)list);
				break;
			case VG_C_WARD_MOVED:
				vg_cells_ward_moved(vg, (struct vg_c_ward_moved *)list);
				break;
			case VG_C_SUPERSEDED:
				vg_alerts_superseded(vg, (struct vg_c_superseded *)list);
				break;
			case VG_C_WRITER_READY:
				vg_cells_writer_ready(vg);
				break;
			case VG_C_CRL:
				vg_crl_apply(vg, (struct vg_c_crl *)list);
				break;
			case VG_C_DB_STATE:
				vg->tick.db_up = ((struct vg_c_db_state *)list)->up;
				break;
			default:
				break;
		}
		vg_completion_free(list);
	}
	pthread_mutex_lock(&vg->workers.completions.lock);
	refused = vg->workers.completions.refused;
	pthread_mutex_unlock(&vg->workers.completions.lock);
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

	vg_journal_get_stats(vg->workers.journal, &st);
	if(st.nospace_errors != vg->tick.jfull_seen){
		uint64_t more = st.nospace_errors - vg->tick.jfull_seen;
		vg->tick.jfull_seen = st.nospace_errors;
		vg->tick.jfull_last_ms = now;
		if(vg->tick.jfull_alarm_ms == 0 || now - vg->tick.jfull_alarm_ms >= 60000){
			mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate ALARM: the journal's filesystem (%s) is full: %" PRIu64
					" journal write(s) refused%s; devices get backpressure and keep their samples", vg->cfg.spool_dir, more,
					vg->tick.jfull_alarm_ms ? " in the last minute" : "");
			vg->tick.jfull_alarm_ms = now;
		}
	}else if(vg->tick.jfull_alarm_ms && now - vg->tick.jfull_last_ms >= 2000){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: the journal's filesystem has room again (no write refused for 2 s)");
		vg->tick.jfull_alarm_ms = 0;
	}
}

int vg_tick_cb(int event, void *event_data, void *userdata)
{
	struct vg_plugin *vg = userdata;
	int64_t now = vg_mono_ms();

	(void)event;
	(void)event_data;
	vg_tick_drain(vg);
	vg_cells_tick(vg, vg_now_ms());
	vg_crl_tick(vg);
	vg_auth_apply_kicks(vg);
	vg_alerts_tick(vg, vg_now_ms());
	vg_stations_tick(vg, vg_now_ms(), now);
	vg_delivery_tick(vg, now);
	vg_audit_tick(vg, now);
	vg_audit_flush(vg);
	vg_journal_tick(vg->workers.journal);
	if(now - vg->tick.rej_summary_ms >= 1000){
		vg->tick.rej_summary_ms = now;
		vg_ingest_rejection_summaries(vg, vg_now_ms(), false);
		journal_disk_watch(vg, now);
	}
	vg_mirror_tick(vg, vg_now_ms());
	vg_httpd_tick(vg->workers.httpd, vg_stats_render, vg);
	if(vg->cfg.stats_interval_s > 0 && now - vg->tick.stats_pub_ms >= vg->cfg.stats_interval_s * 1000){
		vg_stats_publish(vg);
		vg->tick.stats_pub_ms = now;
	}
	if(now - vg->tick.stats_log_ms >= 60000){
		if(vg->tick.stats_log_ms){
			uint64_t rejected = 0;
			int r;
			for(r = 0; r < VG_R__COUNT; r++){
				rejected += vg->stats.rejected[r];
			}
			mosquitto_log_printf(MOSQ_LOG_INFO, "Vitalgate: %" PRIu64 " samples accepted, %" PRIu64
					" rejected messages, %" PRIu64 " duplicates, journal %" PRIu64 " bytes, database %s",
					vg->stats.accepted_samples, rejected, vg->stats.duplicate_samples,
					vg_journal_disk_bytes(vg->workers.journal), vg->tick.db_up ? "up" : "DOWN");
		}
		vg->tick.stats_log_ms = now;
	}
	return MOSQ_ERR_SUCCESS;
}
