/*
 * plugin: Vitalgate's entry points for Mosquitto 2.0 (plugin API v5).
 *
 * What is registered (all callbacks run on the broker's single thread and
 * answer from memory only):
 *   MOSQ_EVT_BASIC_AUTH  auth.c    who may connect (and becomes the
 *                                  identity's live session)
 *   MOSQ_EVT_ACL_CHECK   auth.c    who may publish, subscribe, read what;
 *                        ingest.c  a device's own vitals/ publish (or will):
 *                                  validate, journal, detect alerts
 *   MOSQ_EVT_DISCONNECT  auth.c    ends the live session, audit trail
 *   MOSQ_EVT_MESSAGE     ingest.c  refuses vitals/ from clients no ACL
 *                                  check saw (an outgoing bridge)
 *   MOSQ_EVT_TICK        tick.c    apply worker results (identities, logs)
 *   MOSQ_EVT_RELOAD      reload.c  SIGHUP: re-read the reloadable options
 * Worker threads started here: the PostgreSQL writer (bridge/pgwriter.c),
 * the identity sync (bridge/idsync.c), the storage upkeep (rollups and
 * retention, bridge/storage.c), the webhook and mirror senders
 * (bridge/webhook.c), the metrics endpoint (bridge/httpd.c), with
 * plugin_opt_cell the cell sync (bridge/cellsync.c), and the journal's
 * syncer (common/vg_journal.c). Start at docs/ARCHITECTURE.md
 * for the whole picture; vg_plugin.h says which module owns which state.
 *
 * Thread: broker thread. Memory: the vg_plugin struct owns everything;
 * mosquitto_plugin_cleanup releases it (state_free, each module's free).
 */
#include <errno.h>
#include <pwd.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "cellsync.h"
#include "httpd.h"
#include "idsync.h"
#include "pgwriter.h"
#include "storage.h"
#include "vg_completion.h"
#include "vg_log.h"
#include "vg_plugin.h"
#include "webhook.h"

#define VG_EXPORT __attribute__((visibility("default")))

/* Lines from workers and the journal carry VG_LOG_* levels (common/vg_log.h)
 * and are logged as they are: the two sets must agree. */
_Static_assert(VG_LOG_INFO == MOSQ_LOG_INFO && VG_LOG_NOTICE == MOSQ_LOG_NOTICE && VG_LOG_WARNING == MOSQ_LOG_WARNING
		&& VG_LOG_ERR == MOSQ_LOG_ERR && VG_LOG_DEBUG == MOSQ_LOG_DEBUG, "VG_LOG_* are MOSQ_LOG_*");

/* Mosquitto started as root drops to its own user but keeps HOME=/root;
 * libpq then fails every TLS connection on ~/.postgresql/postgresql.crt
 * ("Permission denied") instead of skipping the missing client
 * certificate. Point HOME at this user's home when the inherited one is not
 * ours to read. Runs at init, before any worker thread exists. */
static void fix_home(void)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if(home && access(home, R_OK | X_OK) == 0){
		return;
	}
	pw = getpwuid(geteuid());
	if(pw && pw->pw_dir && access(pw->pw_dir, X_OK) == 0){
		setenv("HOME", pw->pw_dir, 1);
		mosquitto_log_printf(MOSQ_LOG_INFO, "Vitalgate: HOME set to %s (the inherited one is not readable by uid %d)",
				pw->pw_dir, (int)geteuid());
	}else{
		/* No usable home at all: libpq then looks for nothing there. */
		setenv("HOME", "/nonexistent", 1);
	}
}

/* Journal log hook: may run on any thread, so it posts a completion. */
static void journal_log(void *arg, int level, const char *msg)
{
	struct vg_plugin *vg = arg;

	vg_post_log(&vg->workers.completions, level, "%s", msg);
}

VG_EXPORT int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	int i;

	for(i = 0; i < supported_version_count; i++){
		if(supported_versions[i] == 5){
			return 5;
		}
	}
	return -1;
}

/* The callbacks plugin.c registers, all on the broker thread. */
static const struct {
	int event;
	MOSQ_FUNC_generic_callback cb;
} callbacks[] = {
	{ MOSQ_EVT_BASIC_AUTH, vg_auth_basic_cb },
	{ MOSQ_EVT_ACL_CHECK, vg_auth_acl_cb },
	{ MOSQ_EVT_MESSAGE, vg_ingest_message_cb },
	{ MOSQ_EVT_TICK, vg_tick_cb },
	{ MOSQ_EVT_DISCONNECT, vg_auth_disconnect_cb },
	{ MOSQ_EVT_RELOAD, vg_reload_cb },
};

static int register_callbacks(struct vg_plugin *vg)
{
	size_t i;

	for(i = 0; i < sizeof(callbacks) / sizeof(callbacks[0]); i++){
		if(mosquitto_callback_register(vg->pid, callbacks[i].event, callbacks[i].cb, NULL, vg) != MOSQ_ERR_SUCCESS){
			mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: cannot register callbacks");
			return MOSQ_ERR_UNKNOWN;
		}
	}
	return MOSQ_ERR_SUCCESS;
}

static void unregister_callbacks(struct vg_plugin *vg)
{
	size_t i;

	for(i = 0; i < sizeof(callbacks) / sizeof(callbacks[0]); i++){
		mosquitto_callback_unregister(vg->pid, callbacks[i].event, callbacks[i].cb, NULL);
	}
}

static void stop_workers(struct vg_plugin *vg)
{
	vg_httpd_stop(vg->workers.httpd);
	vg->workers.httpd = NULL;
	vg_mirror_stop(vg);
	/* Buffered audit events, and the counts of rejections not recorded one
	 * by one, go to the journal before the writer drains it. */
	if(vg->workers.journal){
		vg_audit_flush(vg);
		vg_ingest_rejection_summaries(vg, vg_now_ms(), true);
	}
	/* Order: the webhook worker delivers what it can (bounded) and its
	 * outcomes are journalled; then the writer drains the journal into
	 * PostgreSQL (bounded); then the journal syncs and closes. */
	if(vg->workers.webhook){
		vg_webhook_stop(vg->workers.webhook, 2000);
		vg->workers.webhook = NULL;
		vg_tick_drain(vg);
	}
	vg_storage_stop(vg->workers.storage);
	vg->workers.storage = NULL;
	if(vg->workers.idsync){
		vg_idsync_stop(vg->workers.idsync);
		vg->workers.idsync = NULL;
	}
	vg_cellsync_stop(vg->workers.cellsync);
	vg->workers.cellsync = NULL;
	if(vg->workers.writer){
		vg_pgwriter_stop(vg->workers.writer, 5000);
		vg->workers.writer = NULL;
	}
	if(vg->workers.journal){
		vg_journal_close(vg->workers.journal);
		vg->workers.journal = NULL;
	}
}

/* Frees what state_init allocated (safe on a zeroed struct, and after a
 * partial state_init). */
static void state_free(struct vg_plugin *vg)
{
	vg_identities_free(&vg->ids);
	vg_sessions_free(&vg->sessions);
	vg_devices_free(&vg->devices);
	vg_beds_free(&vg->beds);
	vg_auth_free(&vg->auth);
	vg_audit_free(&vg->audit);
	vg_alerts_free(&vg->alerts);
	vg_alarms_free(&vg->alarms);
	vg_stations_free(&vg->stations);
	vg_ingest_free(&vg->ingest);
	vg_cells_free(&vg->cells);
	vg_crl_stop(vg);
	vg_hasher_free(vg->scratch.hasher);
	free(vg->scratch.recbuf);
	free(vg->scratch.jsonbuf);
}

static void plugin_free(struct vg_plugin *vg)
{
	stop_workers(vg);
	vg_tick_drain(vg);
	vg_queue_destroy(&vg->workers.completions);
	state_free(vg);
	vg_reload_free(vg);
	vg_config_free(&vg->cfg);
	free(vg);
}

/* The plugin_opt_* options and the listeners they must go with. */
static int configure(struct vg_plugin *vg, struct mosquitto_opt *opts, int opt_count)
{
	char err[512];

	vg_reload_init(vg);
	if(vg_config_parse(&vg->cfg, opts, opt_count, err, sizeof(err)) != 0
			|| vg_reload_check_listeners(vg, err, sizeof(err)) != 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: configuration error: %s", err);
		return MOSQ_ERR_INVAL;
	}
	if(vg_config_cleartext_warning(&vg->cfg, err, sizeof(err))){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "Vitalgate: WARNING: %s", err);
	}
	return MOSQ_ERR_SUCCESS;
}

/* Every module's state on the broker thread, and the scratch buffers. */
static int state_init(struct vg_plugin *vg)
{
	struct vg_time_policy tp;
	char err[512];

	if(vg_crl_start(vg, err, sizeof(err)) != 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: configuration error: %s", err);
		return MOSQ_ERR_INVAL;
	}
	tp.max_future_ms = vg->cfg.ts_max_future_s * 1000;
	tp.max_past_ms = vg->cfg.ts_max_past_s * 1000;
	vg->tick.db_up = true;
	vg_delivery_init(&vg->delivery);
	vg->scratch.hasher = vg_hasher_new();
	vg->scratch.recbuf_cap = VG_RECBUF_BYTES;
	vg->scratch.recbuf = malloc(vg->scratch.recbuf_cap);
	vg->scratch.jsonbuf_cap = 16 * 1024;
	vg->scratch.jsonbuf = malloc(vg->scratch.jsonbuf_cap);
	if(vg->scratch.hasher == NULL || vg->scratch.recbuf == NULL || vg->scratch.jsonbuf == NULL
			|| vg_identities_init(&vg->ids) != 0 || vg_sessions_init(&vg->sessions, 1024) != 0
			|| vg_devices_init(&vg->devices, 1024) != 0 || vg_beds_init(&vg->beds, 256) != 0
			|| vg_auth_init(&vg->auth) != 0 || vg_audit_init(&vg->audit) != 0 || vg_alerts_init(&vg->alerts) != 0
			|| vg_alarms_init(&vg->alarms) != 0
			|| vg_stations_init(&vg->stations) != 0 || vg_ingest_init(&vg->ingest, &tp) != 0
			|| vg_cells_init(&vg->cells) != 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: out of memory at start");
		return MOSQ_ERR_NOMEM;
	}
	return MOSQ_ERR_SUCCESS;
}

/* spool_dir/journal: opened (locked, replayed position found) before any
 * worker that reads it starts. */
static int journal_open(struct vg_plugin *vg)
{
	struct vg_journal_opts jo;
	char err[512], jdir[4096];

	snprintf(jdir, sizeof(jdir), "%s/journal", vg->cfg.spool_dir);
	memset(&jo, 0, sizeof(jo));
	jo.dir = jdir;
	jo.max_bytes = (uint64_t)vg->cfg.journal_max_mb * 1024 * 1024;
	jo.segment_bytes = (uint64_t)vg->cfg.journal_segment_mb * 1024 * 1024;
	jo.sync_ms = (int)vg->cfg.journal_sync_ms;
	jo.log = journal_log;
	jo.log_arg = vg;
	if(vg_journal_open(&vg->workers.journal, &jo, err, sizeof(err)) != 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: plugin_opt_spool_dir: %s", err);
		return MOSQ_ERR_UNKNOWN;
	}
	return MOSQ_ERR_SUCCESS;
}

static int start_webhook(struct vg_plugin *vg)
{
	struct vg_webhook_opts ho;
	char err[512];

	memset(&ho, 0, sizeof(ho));
	ho.url = vg->cfg.webhook_url;
	ho.secret_file = vg->cfg.webhook_secret_file;
	ho.ca_file = vg->cfg.webhook_ca_file;
	ho.timeout_ms = (long)vg->cfg.webhook_timeout_ms;
	ho.parallel = (int)vg->cfg.webhook_parallel;
	ho.queue_capacity = (size_t)vg->cfg.queue_capacity;
	ho.dead_after_ms = vg->cfg.webhook_dead_after_s * 1000;
	ho.backoff_max_ms = vg->cfg.webhook_backoff_max_s * 1000;
	ho.max_rejects = (int)vg->cfg.webhook_max_rejects;
	ho.completions = &vg->workers.completions;
	if(vg_webhook_start(&vg->workers.webhook, &ho, err, sizeof(err)) != 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: plugin_opt_webhook_secret_file: %s", err);
		return MOSQ_ERR_INVAL;
	}
	return MOSQ_ERR_SUCCESS;
}

/* Which identities and wards this broker serves (bridge/scope.h). */
static void scope_of(const struct vg_config *cfg, struct vg_scope *sc)
{
	memset(sc, 0, sizeof(*sc));
	if(cfg->mode == VG_MODE_HUB){
		sc->kind = VG_SCOPE_HUB;
	}else if(cfg->cell){
		sc->kind = VG_SCOPE_CELL;
		vg_strlcpy(sc->cell, cfg->cell, sizeof(sc->cell));
	}
}

/* The worker threads (bridge/): the writer, the identity sync (which keeps
 * cache_path), and with their options the storage upkeep, the webhook and
 * mirror senders, the metrics endpoint and the cell sync. */
static int start_workers(struct vg_plugin *vg, const char *cache_path)
{
	struct vg_pgwriter_opts wo;
	struct vg_scope scope;
	char err[512];

	scope_of(&vg->cfg, &scope);
	memset(&wo, 0, sizeof(wo));
	wo.conninfo = vg->cfg.db_conninfo;
	wo.journal = vg->workers.journal;
	wo.completions = &vg->workers.completions;
	wo.batch_rows = (int)vg->cfg.writer_batch_rows;
	wo.commit_ms = (int)vg->cfg.writer_commit_ms;
	wo.max_past_s = vg->cfg.ts_max_past_s;
	wo.news2_max_age_s = (int)vg->cfg.news2_max_age_s;
	wo.scope = scope;
	if(vg_pgwriter_start(&vg->workers.writer, &wo, err, sizeof(err)) != 0
			|| vg_idsync_start(&vg->workers.idsync, vg->cfg.db_conninfo, &scope, cache_path, vg->cfg.crl_file,
				&vg->workers.completions, err, sizeof(err)) != 0
			|| (scope.kind == VG_SCOPE_CELL && vg_cellsync_start(&vg->workers.cellsync, vg->cfg.db_conninfo, &scope,
				vg_journal_id(vg->workers.journal), &vg->workers.completions, err, sizeof(err)) != 0)){
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: %s", err);
		return MOSQ_ERR_UNKNOWN;
	}
	if(vg->cfg.storage_interval_s > 0){
		/* Samples may be ts_max_past_s old: their partition must outlive that. */
		int64_t floor_days = (vg->cfg.ts_max_past_s + 2 * 86400 + 86399) / 86400;
		if(vg->cfg.retention_days > 0 && vg->cfg.retention_days < floor_days){
			mosquitto_log_printf(MOSQ_LOG_WARNING, "Vitalgate: plugin_opt_retention_days %lld raised to %lld: samples may "
					"be plugin_opt_ts_max_past_s (%lld s) old, and retention must not drop a partition the writer still fills",
					(long long)vg->cfg.retention_days, (long long)floor_days, (long long)vg->cfg.ts_max_past_s);
			vg->cfg.retention_days = floor_days;
		}
		struct vg_storage_opts so = {
			.conninfo = vg->cfg.db_conninfo, .completions = &vg->workers.completions,
			.interval_s = vg->cfg.storage_interval_s, .retention_days = vg->cfg.retention_days,
			.rollup_retention_days = vg->cfg.rollup_retention_days,
		};
		if(vg_storage_start(&vg->workers.storage, &so, err, sizeof(err)) != 0){
			mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: %s", err);
			return MOSQ_ERR_UNKNOWN;
		}
	}
	if(vg->cfg.webhook_url && start_webhook(vg) != MOSQ_ERR_SUCCESS){
		return MOSQ_ERR_INVAL;
	}
	if(vg->cfg.mirror_url && vg_mirror_start(vg, err, sizeof(err)) != 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: plugin_opt_mirror_url: %s", err);
		return MOSQ_ERR_INVAL;
	}
	if(vg->cfg.metrics_port > 0 && vg_httpd_start(&vg->workers.httpd, vg->cfg.metrics_address, (int)vg->cfg.metrics_port,
			err, sizeof(err)) != 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: %s", err);
		return MOSQ_ERR_INVAL;
	}
	return MOSQ_ERR_SUCCESS;
}

VG_EXPORT int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
		struct mosquitto_opt *opts, int opt_count)
{
	struct vg_plugin *vg;
	char cache[4096];
	int rc;

	vg = calloc(1, sizeof(*vg));
	if(vg == NULL){
		return MOSQ_ERR_NOMEM;
	}
	vg->pid = identifier;
	fix_home();
	rc = configure(vg, opts, opt_count);
	if(rc != MOSQ_ERR_SUCCESS){
		vg_reload_free(vg);
		vg_config_free(&vg->cfg);
		free(vg);
		return rc;
	}
	if(vg_queue_init(&vg->workers.completions, (size_t)vg->cfg.queue_capacity) != 0){
		vg_reload_free(vg);
		vg_config_free(&vg->cfg);
		free(vg);
		return MOSQ_ERR_UNKNOWN;
	}
	rc = state_init(vg);
	if(rc != MOSQ_ERR_SUCCESS){
		goto error;
	}
	if(vg_webhook_global_init() != 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: cannot initialise libcurl");
		rc = MOSQ_ERR_UNKNOWN;
		goto error;
	}
	rc = journal_open(vg);
	if(rc != MOSQ_ERR_SUCCESS){
		goto error;
	}
	/* Identities saved by the last run: the broker can authenticate before
	 * PostgreSQL answers (or while it is down). */
	snprintf(cache, sizeof(cache), "%s/identities.cache", vg->cfg.spool_dir);
	vg_identities_load_cache(&vg->ids, cache);
	rc = start_workers(vg, cache);
	if(rc != MOSQ_ERR_SUCCESS){
		goto error;
	}
	rc = register_callbacks(vg);
	if(rc != MOSQ_ERR_SUCCESS){
		goto error;
	}
	/* Log what the journal said while opening (replay size, ...). */
	vg_tick_drain(vg);
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: started (journal %s, others=%s, webhooks %s, mirror %s, "
			"metrics %s, %zu shadow ward(s), %s%s)",
			vg_journal_id(vg->workers.journal), vg->cfg.others == VG_OTHERS_DEFER ? "defer" : "deny",
			vg->workers.webhook ? "on" : "off", vg->workers.mirror ? "on" : "off", vg->workers.httpd ? "on" : "off",
			vg->cfg.nshadow, vg->cfg.mode == VG_MODE_HUB ? "hub" : vg->cfg.cell ? "cell " : "every ward",
			vg->cfg.cell ? vg->cfg.cell : "");
	*userdata = vg;
	return MOSQ_ERR_SUCCESS;

error:
	unregister_callbacks(vg);
	plugin_free(vg);
	return rc;
}

VG_EXPORT int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *opts, int opt_count)
{
	struct vg_plugin *vg = userdata;

	(void)opts;
	(void)opt_count;
	if(vg == NULL){
		return MOSQ_ERR_SUCCESS;
	}
	unregister_callbacks(vg);
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: stopping (writing the journal out to PostgreSQL)");
	plugin_free(vg);
	vg_webhook_global_cleanup();
	return MOSQ_ERR_SUCCESS;
}
