/*
 * crl: revoked client certificates on the broker thread (see crl.h).
 * Thread: broker thread. Memory: vg->crl.set, owned; a certificate fetched
 * from Mosquitto is released before returning.
 */
#include "crl.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "audit.h"
#include "sessions.h"
#include "vg_completion.h"
#include "vg_plugin.h"

int vg_crl_start(struct vg_plugin *vg, char *err, size_t errlen)
{
	const char *path = vg->cfg.crl_file;
	char dir[PATH_MAX];
	FILE *f;
	char *buf = NULL;
	long n = -1;

	if(path == NULL){
		return 0;
	}
	f = fopen(path, "r");
	if(f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n < 64L * 1024 * 1024 && fseek(f, 0, SEEK_SET) == 0){
		buf = malloc((size_t)n + 1);
		if(buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n){
			n = -1;
		}else{
			buf[n] = '\0';
		}
	}
	if(f){
		fclose(f);
	}
	if(n >= 0){
		char why[256];
		vg->crl.set = vg_crl_parse(buf, (size_t)n, why, sizeof(why));
		if(vg->crl.set == NULL){
			snprintf(err, errlen, "plugin_opt_crl_file %s: %s (create it with `vitalgate-admin cert crl --ca-cert F "
					"--ca-key F --out %s`)", path, why, path);
		}
	}else{
		snprintf(err, errlen, "plugin_opt_crl_file %s cannot be read", path);
	}
	free(buf);
	if(vg->crl.set == NULL){
		return -1;
	}
	vg_strlcpy(dir, path, sizeof(dir));
	if(access(dirname(dir), W_OK | X_OK) != 0){
		snprintf(err, errlen, "plugin_opt_crl_file %s: its folder is not writable by this user (uid %d), so revocations "
				"could not reach it", path, (int)getuid());
		vg_crl_free(vg->crl.set);
		vg->crl.set = NULL;
		return -1;
	}
	if(vg->crl.set->next_update_s > 0 && vg->crl.set->next_update_s - (int64_t)time(NULL) < 7 * 86400){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "Vitalgate: the CRL in %s expires in %lld hour(s): sign a new one with "
				"`vitalgate-admin cert crl` (certificate logins fail once it has expired)", path,
				(long long)((vg->crl.set->next_update_s - (int64_t)time(NULL)) / 3600));
	}
	mosquitto_log_printf(MOSQ_LOG_INFO, "Vitalgate: %d certificate revocation list(s) in %s, %d revoked certificate(s)",
			sk_X509_CRL_num(vg->crl.set->crls), path, vg->crl.set->revoked);
	return 0;
}

void vg_crl_stop(struct vg_plugin *vg)
{
	vg_crl_free(vg->crl.set);
	vg->crl.set = NULL;
}

void vg_crl_apply(struct vg_plugin *vg, struct vg_c_crl *c)
{
	vg_crl_free(vg->crl.set);
	vg->crl.set = c->set;
	c->set = NULL;
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: new certificate revocation list in %s (%d revoked certificate(s)); "
			"reloading the broker's listeners", vg->cfg.crl_file, vg->crl.set->revoked);
	/* Mosquitto's SIGHUP handler only sets a flag; the main loop reloads
	 * before the next TICK, building each listener that has a crlfile and
	 * require_certificate a new TLS context (security_default.c
	 * mosquitto_security_apply_default): new handshakes get the new CRL. */
	vg->crl.own_reload = true;
	vg->crl.kick_in = 2;
	raise(SIGHUP);
}

void vg_crl_tick(struct vg_plugin *vg)
{
	size_t pos = 0;
	const struct vg_session *ses;
	const char *id;

	if(vg->crl.kick_in == 0 || --vg->crl.kick_in > 0){
		return;
	}
	/* After the reload: clients still on a certificate the CRL revokes go
	 * (their handshake is not repeated). O(identities), once per CRL. */
	while((ses = vg_sessions_next(&vg->sessions, &pos, &id)) != NULL){
		if(ses->live && vg_crl_id_revoked(vg->crl.set, &ses->cert)
				&& mosquitto_kick_client_by_clientid(id, false) == MOSQ_ERR_SUCCESS){
			vg->stats.kicks++;
			mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: disconnecting %s (certificate revoked)", id);
			vg_audit(vg, VG_AUDIT_KICK, id, id, NULL, "certificate revoked (CRL)");
		}
	}
}

bool vg_crl_login_revoked(struct vg_plugin *vg, struct mosquitto *client, struct vg_cert_id *id)
{
	X509 *cert = mosquitto_client_certificate(client);
	bool revoked;

	vg_crl_cert_id(cert, id);
	revoked = vg_crl_cert_revoked(vg->crl.set, cert);
	X509_free(cert);
	return revoked;
}

bool vg_crl_own_reload(struct vg_plugin *vg)
{
	bool own = vg->crl.own_reload;

	vg->crl.own_reload = false;
	return own;
}
