/*
 * stats: one list of figures (vg_stats_each) behind both $SYS publication
 * and the Prometheus exposition, so the two can never disagree. Thread:
 * broker thread (TICK). Memory: small stack buffers; $SYS payloads are
 * copied by mosquitto_broker_publish_copy; the Prometheus text goes into
 * the caller's vg_sbuf.
 */
#include "stats.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "cells.h"
#include "httpd.h"
#include "pgwriter.h"
#include "storage.h"
#include "vg_json.h"
#include "vg_plugin.h"
#include "webhook.h"

static const char *const role_name[5] = { "none", "device", "station", "service", "cell" };

struct emitter {
	void (*fn)(void *ctx, const struct vg_fig *f);
	void *ctx;
};

static void fig(const struct emitter *em, const char *sys, const char *prom, enum vg_fig_type type, const char *help,
		const char *lkey, const char *lval, uint64_t value, double scale)
{
	struct vg_fig f = { sys, prom, type, help, lkey, lval, value, scale };

	em->fn(em->ctx, &f);
}

/* A histogram as Prometheus wants it (cumulative buckets ending in +Inf,
 * _sum, _count) and under $SYS (<sys>/le_<bound>, le_inf, sum, count):
 * bounds[n - 1] upper bounds in the unit of sum, scale converts it to the
 * Prometheus unit. */
static void histogram(const struct emitter *em, const char *sys, const char *prom, const char *help,
		const int64_t *bounds, const uint64_t *counts, int n, uint64_t sum, double scale)
{
	char st[96], pn[96], le[32];
	uint64_t cum = 0;
	int i;

	vg_concat(pn, sizeof(pn), prom, "_bucket", (char *)NULL);
	for(i = 0; i < n; i++){
		cum += counts[i];
		if(i < n - 1){
			snprintf(st, sizeof(st), "%s/le_%" PRId64, sys, bounds[i]);
			snprintf(le, sizeof(le), "%g", (double)bounds[i] * scale);
		}else{
			snprintf(st, sizeof(st), "%s/le_inf", sys);
			snprintf(le, sizeof(le), "+Inf");
		}
		fig(em, st, pn, VG_FIG_HISTOGRAM, help, "le", le, cum, 1);
	}
	snprintf(st, sizeof(st), "%s/sum", sys);
	vg_concat(pn, sizeof(pn), prom, "_sum", (char *)NULL);
	fig(em, st, pn, VG_FIG_HISTOGRAM, "", NULL, NULL, sum, scale);
	snprintf(st, sizeof(st), "%s/count", sys);
	vg_concat(pn, sizeof(pn), prom, "_count", (char *)NULL);
	fig(em, st, pn, VG_FIG_HISTOGRAM, "", NULL, NULL, cum, 1);
}

#define COUNTER(sys, prom, help, v) fig(&em, sys, prom, VG_FIG_COUNTER, help, NULL, NULL, v, 1)
#define GAUGE(sys, prom, help, v) fig(&em, sys, prom, VG_FIG_GAUGE, help, NULL, NULL, v, 1)

void vg_stats_each(struct vg_plugin *vg, void (*fn)(void *ctx, const struct vg_fig *f), void *ctx)
{
	const struct vg_stats *s = &vg->stats;
	struct emitter em = { fn, ctx };
	char sys[96];
	int r;

	COUNTER("samples/accepted", "vitalgate_samples_accepted_total", "Samples accepted (journalled, PUBACKed)", s->accepted_samples);
	COUNTER("samples/duplicate", "vitalgate_samples_duplicate_total", "Samples received again and acknowledged without storing", s->duplicate_samples);
	COUNTER("messages/accepted", "vitalgate_messages_accepted_total", "Vitals messages accepted", s->accepted_msgs);
	COUNTER("samples/vacant_bed", "vitalgate_samples_vacant_bed_total",
			"Samples from beds the core declared vacant (stored, raising no alert)", s->vacant_samples);
	COUNTER("occupancy/accepted", "vitalgate_occupancy_accepted_total",
			"Occupancy messages (adt/<ward>/<bed>) that changed a bed's state", s->occupancy_accepted);
	COUNTER("occupancy/refused", "vitalgate_occupancy_refused_total",
			"Occupancy messages refused (0x87)", s->occupancy_refused);
	for(r = VG_R_OK + 1; r < VG_R__COUNT; r++){
		snprintf(sys, sizeof(sys), "rejected/%s", vg_reason_name((enum vg_reason)r));
		fig(&em, sys, "vitalgate_messages_rejected_total", VG_FIG_COUNTER, "Vitals messages refused (0x87), by reason",
				"reason", vg_reason_name((enum vg_reason)r), s->rejected[r], 1);
	}
	for(r = VG_R_OK + 1; r < VG_R__COUNT; r++){
		snprintf(sys, sizeof(sys), "shadow/%s", vg_reason_name((enum vg_reason)r));
		fig(&em, sys, "vitalgate_shadow_would_reject_total", VG_FIG_COUNTER,
				"Messages from shadow-mode wards delivered although enforcing would refuse them, by reason",
				"reason", vg_reason_name((enum vg_reason)r), s->shadow_passed[r], 1);
	}
	fig(&em, "reload/applied", "vitalgate_reloads_total", VG_FIG_COUNTER, "Configuration reloads (SIGHUP), by result",
			"result", "applied", s->reloads, 1);
	fig(&em, "reload/refused", "vitalgate_reloads_total", VG_FIG_COUNTER, "", "result", "refused", s->reloads_refused, 1);
	fig(&em, "auth/ok", "vitalgate_auth_total", VG_FIG_COUNTER, "Authentication decisions, by result", "result", "ok", s->auth_ok, 1);
	fig(&em, "auth/failed", "vitalgate_auth_total", VG_FIG_COUNTER, "", "result", "failed", s->auth_fail, 1);
	fig(&em, "auth/throttled", "vitalgate_auth_total", VG_FIG_COUNTER, "", "result", "throttled", s->auth_throttled, 1);
	COUNTER("acl/denied", "vitalgate_acl_denied_total", "Publishes and subscriptions denied by the ACL", s->acl_denied);
	COUNTER("clients/kicked", "vitalgate_clients_kicked_total", "Clients disconnected (revoked, rotated, deleted)", s->kicks);
	for(r = VG_ROLE_DEVICE; r <= VG_ROLE_CELL; r++){
		snprintf(sys, sizeof(sys), "clients/connected/%s", role_name[r]);
		fig(&em, sys, "vitalgate_clients_connected", VG_FIG_GAUGE, "Clients connected with a secret, by role",
				"role", role_name[r], s->connected[r], 1);
	}
	COUNTER("stations/frames", "vitalgate_ward_frames_total", "Ward frames (wards/<ward>/vitals) published for stations", s->frames);
	COUNTER("stations/frame_bytes", "vitalgate_ward_frame_bytes_total", "Bytes of the ward frames published", s->frame_bytes);
	COUNTER("stations/bed_updates", "vitalgate_bed_updates_total", "Retained v1 bed vitals published for stations (bed_topics)", s->bed_updates);
	fig(&em, "alerts/raised", "vitalgate_alert_events_total", VG_FIG_COUNTER, "Alert events, by type", "type", "raised", s->alerts_raised, 1);
	fig(&em, "alerts/updated", "vitalgate_alert_events_total", VG_FIG_COUNTER, "", "type", "updated", s->alerts_updated, 1);
	fig(&em, "alerts/resolved", "vitalgate_alert_events_total", VG_FIG_COUNTER, "", "type", "resolved", s->alerts_resolved, 1);
	fig(&em, "alerts/acknowledged", "vitalgate_alert_events_total", VG_FIG_COUNTER, "", "type", "acknowledged",
			s->alerts_acknowledged, 1);
	fig(&em, "alerts/escalated", "vitalgate_alert_events_total", VG_FIG_COUNTER, "", "type", "escalated", s->alerts_escalated, 1);
	fig(&em, "alerts/acks_repeated", "vitalgate_alert_acks_total", VG_FIG_COUNTER,
			"Acks (wards/<ward>/alerts/<id>/ack) that changed nothing or were refused (0x87), by outcome", "outcome",
			"repeated", s->acks_repeated, 1);
	fig(&em, "alerts/acks_refused", "vitalgate_alert_acks_total", VG_FIG_COUNTER, "", "outcome", "refused", s->acks_refused, 1);
	COUNTER("alerts/coalesced", "vitalgate_alert_transitions_coalesced_total",
			"Alert transitions inside one message folded into its net alert events", s->alerts_coalesced);
	fig(&em, "webhooks/delivered", "vitalgate_webhooks_total", VG_FIG_COUNTER, "Webhook outcomes", "outcome", "delivered", s->webhook_delivered, 1);
	fig(&em, "webhooks/retries", "vitalgate_webhooks_total", VG_FIG_COUNTER, "", "outcome", "retry", s->webhook_retries, 1);
	fig(&em, "webhooks/dead", "vitalgate_webhooks_total", VG_FIG_COUNTER, "", "outcome", "dead", s->webhook_dead, 1);
	fig(&em, "webhooks/refused", "vitalgate_webhooks_total", VG_FIG_COUNTER, "", "outcome", "refused", s->webhook_refused, 1);
	fig(&em, "webhooks/gone", "vitalgate_webhooks_total", VG_FIG_COUNTER, "", "outcome", "gone", s->webhook_gone, 1);
	fig(&em, "webhooks/queue_full", "vitalgate_webhooks_total", VG_FIG_COUNTER, "", "outcome", "queue_full", s->webhook_queue_full, 1);
	fig(&em, "mirror/delivered", "vitalgate_mirror_batches_total", VG_FIG_COUNTER, "Mirrored sample batches to the legacy endpoint, by outcome",
			"outcome", "delivered", s->mirror_delivered, 1);
	fig(&em, "mirror/retries", "vitalgate_mirror_batches_total", VG_FIG_COUNTER, "", "outcome", "retry", s->mirror_retries, 1);
	fig(&em, "mirror/dead", "vitalgate_mirror_batches_total", VG_FIG_COUNTER, "", "outcome", "dead", s->mirror_dead, 1);
	fig(&em, "mirror/dropped", "vitalgate_mirror_batches_total", VG_FIG_COUNTER, "", "outcome", "dropped", s->mirror_dropped, 1);
	COUNTER("mirror/samples", "vitalgate_mirror_samples_total", "Samples handed to the mirror", s->mirror_samples);
	COUNTER("audit/events", "vitalgate_audit_events_total", "Audit events recorded", s->audit_events);
	COUNTER("audit/unrecorded", "vitalgate_audit_unrecorded_total", "Audit events that could not be journalled", s->audit_unrecorded);
	fig(&em, "rejections/unrecorded/rate_limited", "vitalgate_rejections_unrecorded_total", VG_FIG_COUNTER,
			"Rejected messages not recorded one by one, by why: over the device's rejection_records_per_min "
			"(counted in summary rows), or no room in the journal", "why", "rate_limited", s->rejections_rate_limited, 1);
	fig(&em, "rejections/unrecorded/journal", "vitalgate_rejections_unrecorded_total", VG_FIG_COUNTER, "",
			"why", "journal", s->journal_unrecorded_rejections, 1);
	COUNTER("rejections/summaries", "vitalgate_rejection_summaries_total",
			"Summary rows journalled for rejections counted instead of recorded", s->rejection_summaries);
	{
		struct vg_journal_stats js;
		vg_journal_get_stats(vg->workers.journal, &js);
		GAUGE("journal/bytes", "vitalgate_journal_bytes", "Bytes in the local journal (not yet released)", js.disk_bytes);
		GAUGE("journal/rejection_bytes", "vitalgate_journal_rejection_bytes",
				"Of those, bytes of rejection records (their own budget)", js.rejection_bytes);
		GAUGE("journal/unsafe", "vitalgate_journal_unsafe",
				"1 while every append is refused after a failed fdatasync", js.unsafe ? 1 : 0);
		COUNTER("journal/sync_failures", "vitalgate_journal_sync_failures_total", "fdatasync/fsync calls of the journal that failed",
				js.sync_failures);
		COUNTER("journal/nospace", "vitalgate_journal_nospace_total", "Journal writes refused because its filesystem was full",
				js.nospace_errors);
		fig(&em, "journal/fdatasync_max_us", "vitalgate_journal_fdatasync_max_seconds", VG_FIG_GAUGE,
				"Longest fdatasync of the journal since start (the power-loss window is journal_sync_ms plus fdatasyncs)",
				NULL, NULL, js.sync_max_us, 1e-6);
	}
	{
		struct vg_webhook_health wh, mh;
		if(vg->workers.webhook){
			vg_webhook_get_health(vg->workers.webhook, &wh);
		}
		if(vg->workers.mirror){
			vg_webhook_get_health(vg->workers.mirror, &mh);
		}
		/* One family's series stay together (the exposition format). */
		fig(&em, "queue/completions", "vitalgate_queue_depth", VG_FIG_GAUGE, "Items waiting in an in-memory queue",
				"queue", "completions", vg_queue_depth(&vg->workers.completions), 1);
		if(vg->workers.webhook){
			fig(&em, "queue/webhook", "vitalgate_queue_depth", VG_FIG_GAUGE, "", "queue", "webhook", wh.held + wh.queued, 1);
		}
		if(vg->workers.mirror){
			fig(&em, "queue/mirror", "vitalgate_queue_depth", VG_FIG_GAUGE, "", "queue", "mirror", mh.held + mh.queued, 1);
		}
		if(vg->workers.webhook){
			fig(&em, "webhooks/reachable", "vitalgate_endpoint_reachable", VG_FIG_GAUGE,
					"1 when the endpoint's last answer or idle probe succeeded", "endpoint", "webhook",
					wh.reach == VG_WH_REACH_OK, 1);
		}
		if(vg->workers.mirror){
			fig(&em, "mirror/reachable", "vitalgate_endpoint_reachable", VG_FIG_GAUGE,
					vg->workers.webhook ? "" : "1 when the endpoint's last answer or idle probe succeeded", "endpoint", "mirror",
					mh.reach == VG_WH_REACH_OK, 1);
		}
	}
	if(vg->workers.writer){
		struct vg_pgwriter_stats w;
		vg_pgwriter_get_stats(vg->workers.writer, &w);
		COUNTER("writer/rows", "vitalgate_writer_rows_total", "Sample rows committed to PostgreSQL", w.rows_committed);
		COUNTER("writer/duplicates", "vitalgate_writer_duplicate_rows_total", "Rows PostgreSQL already had (replays)", w.rows_duplicate);
		COUNTER("writer/occupancy", "vitalgate_writer_occupancy_total", "Occupancy messages stored in the bed history", w.occupancy_applied);
		COUNTER("writer/relinked", "vitalgate_writer_relinked_samples_total",
				"Stored samples an occupancy message linked to another occupant (or none)", w.occupancy_relinked);
		COUNTER("writer/rejections", "vitalgate_writer_rejection_rows_total", "Rejection rows committed", w.rejections_committed);
		COUNTER("writer/audit", "vitalgate_writer_audit_rows_total", "Audit rows committed", w.audit_committed);
		COUNTER("writer/batches", "vitalgate_writer_batches_total", "Transactions committed", w.batches);
		COUNTER("writer/failures", "vitalgate_writer_batch_failures_total", "Transactions that failed (retried)", w.batch_failures);
		fig(&em, "writer/last_batch_ms", "vitalgate_writer_last_batch_seconds", VG_FIG_GAUGE, "Duration of the last commit",
				NULL, NULL, (uint64_t)(w.last_batch_ms > 0 ? w.last_batch_ms : 0), 1e-3);
		fig(&em, "writer/lag_ms", "vitalgate_writer_lag_seconds", VG_FIG_GAUGE, "Age of the oldest record not yet in PostgreSQL",
				NULL, NULL, (uint64_t)(w.lag_ms > 0 ? w.lag_ms : 0), 1e-3);
		/* Commit latency of the transactions, and each sample's time from
		 * its reception by the broker to its COMMIT. */
		histogram(&em, "writer/batch_us", "vitalgate_writer_batch_duration_seconds",
				"Commit latency of the writer's transactions", vg_batch_bucket_us, w.batch_us_bucket, VG_BATCH_BUCKETS,
				w.batch_us_sum, 1e-6);
		histogram(&em, "writer/commit_ms", "vitalgate_writer_sample_commit_seconds",
				"Time from a sample's reception by the broker to its COMMIT in PostgreSQL", vg_commit_bucket_ms,
				w.commit_ms_bucket, VG_COMMIT_BUCKETS, w.commit_ms_sum, 1e-3);
	}
	if(vg->workers.storage){
		struct vg_storage_stats st;
		vg_storage_get_stats(vg->workers.storage, &st);
		GAUGE("storage/leader", "vitalgate_storage_leader",
				"1 while this broker does the rollups and retention (one broker per database at a time)", st.leader ? 1 : 0);
		fig(&em, "storage/passes", "vitalgate_storage_passes_total", VG_FIG_COUNTER,
				"Storage upkeep passes (rollups, then retention), by result", "result", "ok", st.runs, 1);
		fig(&em, "storage/errors", "vitalgate_storage_passes_total", VG_FIG_COUNTER, "", "result", "error", st.errors, 1);
		fig(&em, "storage/last_run_ms", "vitalgate_storage_last_pass_timestamp_seconds", VG_FIG_GAUGE,
				"Wall-clock time of the last completed storage upkeep pass", NULL, NULL,
				(uint64_t)(st.last_run_ms > 0 ? st.last_run_ms : 0), 1e-3);
		COUNTER("storage/rollup_minutes", "vitalgate_rollup_minutes_total", "Minutes rolled up into vitals_rollup_1m",
				st.rollup_minutes);
		COUNTER("storage/rollup_rows", "vitalgate_rollup_rows_total", "Rows written to vitals_rollup_1m", st.rollup_rows);
		COUNTER("storage/rollup_recomputed", "vitalgate_rollup_recomputed_total",
				"Device-minutes rolled up again after late samples", st.rollup_recomputed);
		fig(&em, "storage/rollup_lag_ms", "vitalgate_rollup_lag_seconds", VG_FIG_GAUGE,
				"How far behind the clock the rolled-up minutes end (about 60 to 60 + storage_interval_s when current)",
				NULL, NULL, (uint64_t)(st.rollup_lag_ms > 0 ? st.rollup_lag_ms : 0), 1e-3);
		COUNTER("storage/partitions_dropped", "vitalgate_retention_partitions_dropped_total",
				"Partitions dropped by retention (raw vitals days, rollup months)", st.partitions_dropped);
		COUNTER("storage/rows_deleted", "vitalgate_retention_rows_deleted_total",
				"Rows past retention deleted from the default partitions", st.rows_deleted);
		COUNTER("storage/busy", "vitalgate_retention_busy_total",
				"Partition drops put off because another session used the partition", st.busy);
	}
	GAUGE("database/up", "vitalgate_database_up", "1 while the writer reaches PostgreSQL", vg->tick.db_up ? 1 : 0);
	GAUGE("identities", "vitalgate_identities", "Identities loaded", vg->ids.table.count);
}

static void put_sys(void *ctx, const struct vg_fig *f)
{
	char t[160], v[24];
	int n;

	(void)ctx;
	snprintf(t, sizeof(t), "$SYS/broker/vitalgate/%s", f->sys);
	n = snprintf(v, sizeof(v), "%" PRIu64, f->value);
	mosquitto_broker_publish_copy(NULL, t, n, v, 0, true, NULL);
}

void vg_stats_publish(struct vg_plugin *vg)
{
	vg_stats_each(vg, put_sys, NULL);
}

struct prom_ctx {
	struct vg_sbuf *b;
	char family[96];    /* metric family of the previous figure */
};

static void put_prom(void *ctx, const struct vg_fig *f)
{
	struct prom_ctx *p = ctx;
	static const char *const type_name[] = { "counter", "gauge", "histogram" };
	static const char *const suffixes[] = { "_bucket", "_sum", "_count" };
	char family[96];
	size_t len = strlen(f->prom), i;

	/* HELP/TYPE once per family (a histogram's series share one). */
	snprintf(family, sizeof(family), "%s", f->prom);
	for(i = 0; f->type == VG_FIG_HISTOGRAM && i < 3; i++){
		size_t sl = strlen(suffixes[i]);
		if(len > sl && len < sizeof(family) && !strcmp(f->prom + len - sl, suffixes[i])){
			family[len - sl] = '\0';
			break;
		}
	}
	if(strcmp(p->family, family) != 0){
		if(f->help[0]){
			vg_sbuf_printf(p->b, "# HELP %s %s\n", family, f->help);
		}
		vg_sbuf_printf(p->b, "# TYPE %s %s\n", family, type_name[f->type]);
		snprintf(p->family, sizeof(p->family), "%s", family);
	}
	vg_sbuf_puts(p->b, f->prom);
	if(f->lkey){
		vg_sbuf_printf(p->b, "{%s=\"%s\"}", f->lkey, f->lval);
	}
	if(f->scale == 1){
		vg_sbuf_printf(p->b, " %" PRIu64 "\n", f->value);
	}else{
		vg_sbuf_printf(p->b, " %.6f\n", (double)f->value * f->scale);
	}
}

void vg_stats_prometheus(struct vg_plugin *vg, struct vg_sbuf *b)
{
	struct prom_ctx p;

	memset(&p, 0, sizeof(p));
	p.b = b;
	vg_stats_each(vg, put_prom, &p);
}

static const char *reach_name(enum vg_wh_reach r)
{
	switch(r){
		case VG_WH_REACH_OK: return "reachable";
		case VG_WH_REACH_FAILING: return "failing";
		case VG_WH_REACH_DOWN: return "unreachable";
		default: return "unknown";
	}
}

static void health_endpoint(struct vg_json *j, const char *key, struct vg_webhook *w, bool *ok)
{
	struct vg_webhook_health h;
	char ts[32];

	vg_json_obj_open_key(j, key);
	if(w == NULL){
		vg_json_bool(j, "configured", false);
		vg_json_obj_close(j);
		return;
	}
	vg_webhook_get_health(w, &h);
	vg_json_bool(j, "configured", true);
	vg_json_str(j, "state", h.disabled ? "disabled" : reach_name(h.reach));
	if(h.checked_ms){
		vg_rfc3339(h.checked_ms, ts, sizeof(ts));
		vg_json_str(j, "checked_at", ts);
	}
	if(h.error[0]){
		vg_json_str(j, "error", h.error);
	}
	vg_json_u64(j, "pending", h.held + h.queued);
	vg_json_obj_close(j);
	if(h.disabled || h.reach == VG_WH_REACH_DOWN || h.reach == VG_WH_REACH_FAILING){
		*ok = false;
	}
}

int vg_stats_health(struct vg_plugin *vg, struct vg_sbuf *b)
{
	struct vg_pgwriter_stats w;
	struct vg_json j;
	char buf[2560];
	bool ok = true, db_ok = vg->tick.db_up;
	int64_t lag = 0;

	memset(&w, 0, sizeof(w));
	if(vg->workers.writer){
		vg_pgwriter_get_stats(vg->workers.writer, &w);
		lag = w.lag_ms > 0 ? w.lag_ms : 0;
	}
	vg_json_init(&j, buf, sizeof(buf));
	vg_json_obj_open(&j);
	{
		/* Whether HAProxy may send clients here (docs/scale-out.md): a
		 * separate question from "ok", which is for people. */
		const char *why;
		bool serving = vg_cells_serving(vg, &why);
		vg_json_bool(&j, "serving", serving);
		if(!serving){
			vg_json_str(&j, "serving_reason", why);
		}
		vg_json_str(&j, "mode", vg->cfg.mode == VG_MODE_HUB ? "hub" : vg->cfg.cell ? "cell" : "broker");
		if(vg->cfg.cell){
			vg_json_str(&j, "cell", vg->cfg.cell);
		}
	}
	vg_json_obj_open_key(&j, "database");
	vg_json_bool(&j, "reachable", db_ok);
	vg_json_obj_close(&j);
	vg_json_obj_open_key(&j, "writer");
	vg_json_fixed(&j, "lag_seconds", (double)lag / 1000.0, 3);
	vg_json_i64(&j, "max_lag_seconds", vg->cfg.health_max_lag_s);
	vg_json_u64(&j, "journal_bytes", vg_journal_disk_bytes(vg->workers.journal));
	vg_json_obj_close(&j);
	{
		/* The journal refuses samples: after a failed sync, or while its
		 * filesystem is full. */
		struct vg_journal_stats js;
		vg_journal_get_stats(vg->workers.journal, &js);
		vg_json_obj_open_key(&j, "journal");
		if(js.unsafe){
			vg_json_str(&j, "state", "unsafe");
			vg_json_str(&j, "error", js.unsafe_error);
			ok = false;
		}else if(vg->tick.jfull_alarm_ms){
			vg_json_str(&j, "state", "disk_full");
			ok = false;
		}else{
			vg_json_str(&j, "state", "ok");
		}
		vg_json_obj_close(&j);
	}
	health_endpoint(&j, "webhook", vg->workers.webhook, &ok);
	health_endpoint(&j, "mirror", vg->workers.mirror, &ok);
	if(!db_ok || lag > vg->cfg.health_max_lag_s * 1000){
		ok = false;
	}
	vg_json_str(&j, "status", ok ? "ok" : "degraded");
	vg_json_obj_close(&j);
	if(vg_json_ok(&j)){
		vg_sbuf_put(b, j.buf, j.len);
		vg_sbuf_putc(b, '\n');
	}
	return ok ? 200 : 503;
}

int vg_stats_render(void *ctx, int doc, struct vg_sbuf *b)
{
	struct vg_plugin *vg = ctx;

	if(doc == VG_HTTPD_METRICS){
		vg_stats_prometheus(vg, b);
		vg_alarms_metrics(vg, b); /* the alarm load per ward */
		return 200;
	}
	return vg_stats_health(vg, b);
}
