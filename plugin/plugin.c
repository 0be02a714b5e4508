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
 * Worker threads started here: the PostgreSQL writer (bridge/pgwriter.c),
 * the identity sync (bridge/idsync.c), the webhook sender
 * (bridge/webhook.c), and the journal's syncer (common/vg_journal.c).
 * Start at docs/ARCHITECTURE.md for the whole picture.
 *
 * Thread: broker thread. Memory: the vg_plugin struct owns everything;
 * mosquitto_plugin_cleanup releases it.
 */
#include <errno.h>
#include <pwd.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "audit.h"
#include "crl.h"
#include "idcache.h"
#include "idsync.h"
#include "ingest.h"
#include "metrics.h"
#include "mirror.h"
#include "pgwriter.h"
#include "reload.h"
#include "stations.h"
#include "vg_completion.h"
#include "vg_plugin.h"
#include "webhook.h"

#define VG_EXPORT __attribute__((visibility("default")))

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

	vg_post_log(&vg->completions, level, "%s", msg);
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

static void stop_workers(struct vg_plugin *vg)
{
	vg_metrics_stop(vg->metrics);
	vg->metrics = NULL;
	vg_mirror_stop(vg);
	/* Buffered audit events, and the counts of rejections not recorded one
	 * by one, go to the journal before the writer drains it. */
	if(vg->journal){
		vg_audit_flush(vg);
		vg_ingest_rejection_summaries(vg, vg_now_ms(), true);
	}
	/* Order: the webhook worker delivers what it can (bounded) and its
	 * outcomes are journalled; then the writer drains the journal into
	 * PostgreSQL (bounded); then the journal syncs and closes. */
	if(vg->webhook){
		vg_webhook_stop(vg->webhook, 2000);
		vg->webhook = NULL;
		vg_tick_drain(vg);
	}
	if(vg->idsync){
		vg_idsync_stop(vg->idsync);
		vg->idsync = NULL;
	}
	if(vg->writer){
		vg_pgwriter_stop(vg->writer, 5000);
		vg->writer = NULL;
	}
	if(vg->journal){
		vg_journal_close(vg->journal);
		vg->journal = NULL;
	}
}

static void plugin_free(struct vg_plugin *vg)
{
	stop_workers(vg);
	vg_tick_drain(vg);
	vg_queue_destroy(&vg->completions);
	vg_idtable_destroy(&vg->ids);
	vg_alerts_free(vg);
	vg_stations_free(vg);
	vg_crl_stop(vg);
	vg_throttle_free(&vg->thr_user);
	vg_throttle_free(&vg->thr_addr);
	free(vg->kicks);
	free(vg->audit_buf);
	vg_hasher_free(vg->hasher);
	vg_decoder_free(&vg->dec);
	free(vg->recbuf);
	free(vg->jsonbuf);
	vg_reload_free(vg);
	vg_config_free(&vg->cfg);
	free(vg);
}

VG_EXPORT int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
		struct mosquitto_opt *opts, int opt_count)
{
	struct vg_plugin *vg;
	struct vg_time_policy tp;
	struct vg_journal_opts jo;
	struct vg_pgwriter_opts wo;
	char err[512];
	char jdir[4096];
	char cache[4096];
	long cached;
	int rc = MOSQ_ERR_UNKNOWN;
	bool queue_ready = false;

	vg = calloc(1, sizeof(*vg));
	if(vg == NULL){
		return MOSQ_ERR_NOMEM;
	}
	vg->pid = identifier;
	vg->db_up = true;
	fix_home();
	vg_reload_init(vg);
	if(vg_config_parse(&vg->cfg, opts, opt_count, err, sizeof(err)) != 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: configuration error: %s", err);
		rc = MOSQ_ERR_INVAL;
		goto error;
	}
	if(vg_reload_check_listeners(vg, err, sizeof(err)) != 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: configuration error: %s", err);
		rc = MOSQ_ERR_INVAL;
		goto error;
	}
	if(vg_config_cleartext_warning(&vg->cfg, err, sizeof(err))){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "Vitalgate: WARNING: %s", err);
	}
	if(vg_queue_init(&vg->completions, (size_t)vg->cfg.queue_capacity) != 0){
		goto error;
	}
	queue_ready = true;
	if(vg_crl_start(vg, err, sizeof(err)) != 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: configuration error: %s", err);
		rc = MOSQ_ERR_INVAL;
		goto error;
	}
	if(vg_idtable_init(&vg->ids, 1024) != 0){
		goto error;
	}
	/* Throttling: 5 failures a minute per username, 20 per address, then
	 * refusals for 10 s doubling up to 5 min (docs/security.md). */
	vg->kicks = calloc(VG_MAX_KICKS, sizeof(*vg->kicks));
	vg->audit_buf = malloc(VG_AUDIT_BUF_BYTES);
	if(vg->kicks == NULL || vg->audit_buf == NULL
			|| vg_throttle_init(&vg->thr_user, 8192, 5, 60000, 10000, 300000) != 0
			|| vg_throttle_init(&vg->thr_addr, 8192, 20, 60000, 10000, 300000) != 0){
		rc = MOSQ_ERR_NOMEM;
		goto error;
	}
	vg->hasher = vg_hasher_new();
	if(vg_alerts_init(vg) != 0 || vg_stations_init(vg) != 0){
		rc = MOSQ_ERR_NOMEM;
		goto error;
	}
	tp.max_future_ms = vg->cfg.ts_max_future_s * 1000;
	tp.max_past_ms = vg->cfg.ts_max_past_s * 1000;
	vg->recbuf_cap = VG_RECBUF_BYTES;
	vg->recbuf = malloc(vg->recbuf_cap);
	vg->jsonbuf_cap = 16 * 1024;
	vg->jsonbuf = malloc(vg->jsonbuf_cap);
	if(vg->hasher == NULL || vg->recbuf == NULL || vg->jsonbuf == NULL || vg_decoder_init(&vg->dec, &tp) != 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: out of memory at start");
		rc = MOSQ_ERR_NOMEM;
		goto error;
	}
	if(curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK){
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: cannot initialise libcurl");
		goto error;
	}

	snprintf(jdir, sizeof(jdir), "%s/journal", vg->cfg.spool_dir);
	memset(&jo, 0, sizeof(jo));
	jo.dir = jdir;
	jo.max_bytes = (uint64_t)vg->cfg.journal_max_mb * 1024 * 1024;
	jo.segment_bytes = (uint64_t)vg->cfg.journal_segment_mb * 1024 * 1024;
	jo.sync_ms = (int)vg->cfg.journal_sync_ms;
	jo.log = journal_log;
	jo.log_arg = vg;
	if(vg_journal_open(&vg->journal, &jo, err, sizeof(err)) != 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: plugin_opt_spool_dir: %s", err);
		goto error;
	}

	/* Identities saved by the last run: the broker can authenticate before
	 * PostgreSQL answers (or while it is down). */
	snprintf(cache, sizeof(cache), "%s/identities.cache", vg->cfg.spool_dir);
	cached = vg_idcache_read(cache, &vg->ids, err, sizeof(err));
	if(cached < 0){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "Vitalgate: ignoring the identity cache: %s", err);
	}else if(cached > 0){
		vg->ids_loaded = true;
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: %ld identities loaded from %s until PostgreSQL answers", cached, cache);
	}

	memset(&wo, 0, sizeof(wo));
	wo.conninfo = vg->cfg.db_conninfo;
	wo.journal = vg->journal;
	wo.completions = &vg->completions;
	wo.batch_rows = (int)vg->cfg.writer_batch_rows;
	wo.commit_ms = (int)vg->cfg.writer_commit_ms;
	wo.max_past_s = vg->cfg.ts_max_past_s;
	wo.news2_max_age_s = (int)vg->cfg.news2_max_age_s;
	if(vg_pgwriter_start(&vg->writer, &wo, err, sizeof(err)) != 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: %s", err);
		goto error;
	}
	if(vg_idsync_start(&vg->idsync, vg->cfg.db_conninfo, cache, vg->cfg.crl_file, &vg->completions, err, sizeof(err)) != 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: %s", err);
		goto error;
	}
	if(vg->cfg.webhook_url){
		struct vg_webhook_opts ho;
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
		ho.completions = &vg->completions;
		if(vg_webhook_start(&vg->webhook, &ho, err, sizeof(err)) != 0){
			mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: plugin_opt_webhook_secret_file: %s", err);
			rc = MOSQ_ERR_INVAL;
			goto error;
		}
	}

	if(vg->cfg.mirror_url && vg_mirror_start(vg, err, sizeof(err)) != 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: plugin_opt_mirror_url: %s", err);
		rc = MOSQ_ERR_INVAL;
		goto error;
	}
	if(vg->cfg.metrics_port > 0 && vg_metrics_start(&vg->metrics, vg->cfg.metrics_address, (int)vg->cfg.metrics_port,
			err, sizeof(err)) != 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: %s", err);
		rc = MOSQ_ERR_INVAL;
		goto error;
	}

	if(mosquitto_callback_register(vg->pid, MOSQ_EVT_BASIC_AUTH, vg_auth_basic_cb, NULL, vg)
			|| mosquitto_callback_register(vg->pid, MOSQ_EVT_ACL_CHECK, vg_auth_acl_cb, NULL, vg)
			|| mosquitto_callback_register(vg->pid, MOSQ_EVT_MESSAGE, vg_ingest_message_cb, NULL, vg)
			|| mosquitto_callback_register(vg->pid, MOSQ_EVT_TICK, vg_tick_cb, NULL, vg)
			|| mosquitto_callback_register(vg->pid, MOSQ_EVT_DISCONNECT, vg_auth_disconnect_cb, NULL, vg)
			|| mosquitto_callback_register(vg->pid, MOSQ_EVT_RELOAD, vg_reload_cb, NULL, vg)){
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: cannot register callbacks");
		goto error;
	}
	/* Log what the journal said while opening (replay size, ...). */
	vg_tick_drain(vg);
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: started (journal %s, others=%s, webhooks %s, mirror %s, "
			"metrics %s, %zu shadow ward(s))",
			vg_journal_id(vg->journal), vg->cfg.others == VG_OTHERS_DEFER ? "defer" : "deny",
			vg->webhook ? "on" : "off", vg->mirror ? "on" : "off", vg->metrics ? "on" : "off", vg->cfg.nshadow);
	*userdata = vg;
	return MOSQ_ERR_SUCCESS;

error:
	mosquitto_callback_unregister(vg->pid, MOSQ_EVT_BASIC_AUTH, vg_auth_basic_cb, NULL);
	mosquitto_callback_unregister(vg->pid, MOSQ_EVT_ACL_CHECK, vg_auth_acl_cb, NULL);
	mosquitto_callback_unregister(vg->pid, MOSQ_EVT_MESSAGE, vg_ingest_message_cb, NULL);
	mosquitto_callback_unregister(vg->pid, MOSQ_EVT_TICK, vg_tick_cb, NULL);
	mosquitto_callback_unregister(vg->pid, MOSQ_EVT_DISCONNECT, vg_auth_disconnect_cb, NULL);
	mosquitto_callback_unregister(vg->pid, MOSQ_EVT_RELOAD, vg_reload_cb, NULL);
	if(queue_ready){
		plugin_free(vg);
	}else{
		vg_reload_free(vg);
		vg_config_free(&vg->cfg);
		free(vg);
	}
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
	mosquitto_callback_unregister(vg->pid, MOSQ_EVT_BASIC_AUTH, vg_auth_basic_cb, NULL);
	mosquitto_callback_unregister(vg->pid, MOSQ_EVT_ACL_CHECK, vg_auth_acl_cb, NULL);
	mosquitto_callback_unregister(vg->pid, MOSQ_EVT_MESSAGE, vg_ingest_message_cb, NULL);
	mosquitto_callback_unregister(vg->pid, MOSQ_EVT_TICK, vg_tick_cb, NULL);
	mosquitto_callback_unregister(vg->pid, MOSQ_EVT_DISCONNECT, vg_auth_disconnect_cb, NULL);
	mosquitto_callback_unregister(vg->pid, MOSQ_EVT_RELOAD, vg_reload_cb, NULL);
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: stopping (writing the journal out to PostgreSQL)");
	plugin_free(vg);
	curl_global_cleanup();
	return MOSQ_ERR_SUCCESS;
}
