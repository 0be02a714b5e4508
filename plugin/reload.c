/*
 * reload: MOSQ_EVT_RELOAD (SIGHUP). Mosquitto 2.0 re-reads its own
 * configuration but skips plugin_opt_* lines and passes the plugin no
 * options, so Vitalgate reads its lines from the broker's configuration
 * file itself (the -c argument, resolved at start), validates the whole set
 * like a start would, and only then applies the options marked reloadable.
 * An invalid file changes nothing (one log line names the problem);
 * connections are never touched. It also asks the workers to re-read what
 * they own: identities and alert thresholds (idsync), webhook secrets.
 * At start it also checks the broker's listeners (vg_reload_check_listeners).
 *
 * Thread: broker thread. Memory: the fresh configuration is parsed into a
 * stack struct and freed before returning.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "crl.h"
#include "idsync.h"
#include "reload.h"
#include "vg_plugin.h"
#include "webhook.h"

/* The broker's -c argument, made absolute (the broker may chdir later). */
static char *conf_path_from_cmdline(void)
{
	FILE *f = fopen("/proc/self/cmdline", "r");
	char buf[8192];
	size_t n, i;
	char *path = NULL;

	if(f == NULL){
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for(i = 0; i < n; i += strlen(buf + i) + 1){
		if((!strcmp(buf + i, "-c") || !strcmp(buf + i, "--config-file")) && i + 3 <= n){
			const char *arg = buf + i + strlen(buf + i) + 1;
			if(arg < buf + n){
				path = realpath(arg, NULL);
			}
			break;
		}
	}
	return path;
}

void vg_reload_init(struct vg_plugin *vg)
{
	Dl_info info;

	vg->reload.conf_path = conf_path_from_cmdline();
	if(dladdr((void *)&vg_reload_init, &info) && info.dli_fname){
		vg->reload.so_path = realpath(info.dli_fname, NULL);
	}
}

void vg_reload_free(struct vg_plugin *vg)
{
	free(vg->reload.conf_path);
	free(vg->reload.so_path);
	vg->reload.conf_path = vg->reload.so_path = NULL;
}

int vg_reload_check_listeners(struct vg_plugin *vg, char *err, size_t errlen)
{
	struct vg_listener *l = NULL;
	int n = 0, rc;

	if(vg->reload.conf_path == NULL){
		if(vg->cfg.crl_file){
			snprintf(err, errlen, "plugin_opt_crl_file needs the broker started with -c <file> (to find the listener "
					"whose crlfile it is)");
			return -1;
		}
		return 0; /* Mosquitto's defaults: no TLS listener */
	}
	if(vg_config_read_listeners(vg->reload.conf_path, &l, &n, err, errlen) != 0){
		return -1;
	}
	rc = vg_config_check_listeners(l, n, vg->cfg.crl_file, err, errlen);
	free(l);
	return rc;
}

static void note(const char *name, bool applied, void *arg)
{
	(void)arg;
	if(applied){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: reload: plugin_opt_%s applied", name);
	}else{
		mosquitto_log_printf(MOSQ_LOG_WARNING, "Vitalgate: reload: plugin_opt_%s changed but takes effect only at "
				"the next restart; still using the running value", name);
	}
}

int vg_reload_cb(int event, void *event_data, void *userdata)
{
	struct vg_plugin *vg = userdata;
	struct vg_config fresh;
	char err[512];
	int applied;

	(void)event;
	(void)event_data;
	if(vg_crl_own_reload(vg)){
		/* Raised by crl.c for a new CRL: Mosquitto rebuilds its listeners'
		 * TLS contexts; nothing of Vitalgate's changed. (An operator's
		 * SIGHUP arriving at the same moment is merged into this one by
		 * the broker: send it again.) */
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: listeners reloaded for the new certificate revocation list");
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	/* The URLs in use are the running ones (restart-only): every reload,
	 * whatever the file now says, repeats that they are cleartext. */
	if(vg_config_cleartext_warning(&vg->cfg, err, sizeof(err))){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "Vitalgate: WARNING: %s", err);
	}
	/* Whatever happens to the file, re-read what lives elsewhere. */
	vg_idsync_request_reload(vg->workers.idsync);
	if(vg->workers.webhook){
		vg_webhook_recheck_secrets(vg->workers.webhook);
	}
	if(vg->workers.mirror){
		vg_webhook_recheck_secrets(vg->workers.mirror);
	}
	if(vg->reload.conf_path == NULL || vg->reload.so_path == NULL){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "Vitalgate: reload: the broker was started without -c <file>; "
				"plugin options cannot be re-read (thresholds, identities and webhook secrets were)");
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	if(vg_config_read_file(&fresh, vg->reload.conf_path, vg->reload.so_path, err, sizeof(err)) != 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: reload refused, the running configuration stays: %s", err);
		vg_config_free(&fresh);
		vg->stats.reloads_refused++;
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	applied = vg_config_apply_reloadable(&vg->cfg, &fresh, note, vg);
	vg_config_free(&fresh);
	vg->ingest.dec.time.max_future_ms = vg->cfg.ts_max_future_s * 1000;
	vg->ingest.dec.time.max_past_ms = vg->cfg.ts_max_past_s * 1000;
	vg->stats.reloads++;
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: reloaded %s (%d option(s) changed; identities, thresholds "
			"and webhook secrets re-read)", vg->reload.conf_path, applied);
	/* Other plugins' reload callbacks run too. */
	return MOSQ_ERR_PLUGIN_DEFER;
}
