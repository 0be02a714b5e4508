/*
 * crl: client certificates revoked after they were issued, on the broker
 * thread (docs/security.md). The TLS layer refuses them at the handshake
 * (each certificate listener's `crlfile` is plugin_opt_crl_file, which the
 * identity sync keeps equal to the CRLs in PostgreSQL: bridge/crlsync.c);
 * this module covers what the handshake cannot: clients connected before
 * the revocation, and handshakes made with the old CRL while Mosquitto
 * reloads.
 *
 * Thread: broker thread. Memory: the plugin owns the current CRL set
 * (vg->crl.set), replaced whole when a new one arrives.
 */
#ifndef VG_PLUGIN_CRL_H
#define VG_PLUGIN_CRL_H

#include <stdbool.h>
#include <stddef.h>

#include "vg_crl.h"

struct vg_plugin;
struct vg_c_crl;
struct mosquitto;

/* crl.c's state. */
struct vg_crls {
	struct vg_crl_set *set;         /* plugin_opt_crl_file's CRLs, or NULL */
	int kick_in;                    /* TICKs until revoked sessions are kicked */
	bool own_reload;                /* the pending SIGHUP is crl.c's */
};

/* At start, with plugin_opt_crl_file: loads it (it must hold at least one
 * CRL that parses; `vitalgate-admin cert crl --out` makes the first) and
 * checks its folder is writable. Returns 0, or -1 with a message in err. */
int vg_crl_start(struct vg_plugin *vg, char *err, size_t errlen);
void vg_crl_stop(struct vg_plugin *vg);

/* TICK: the identity sync rewrote the file. Takes the set, has Mosquitto
 * reload its listeners (SIGHUP: Mosquitto builds each certificate
 * listener's TLS context again, with the new CRL), and disconnects, on the
 * next TICK (after the reload), every live session whose certificate it
 * revokes. */
void vg_crl_apply(struct vg_plugin *vg, struct vg_c_crl *c);
void vg_crl_tick(struct vg_plugin *vg);

/* A certificate login (BASIC_AUTH, or the ACL check's validation): records
 * what identifies the client's certificate in *id (zeroed without one) and
 * returns true if the current CRLs revoke it. */
bool vg_crl_login_revoked(struct vg_plugin *vg, struct mosquitto *client, struct vg_cert_id *id);

/* MOSQ_EVT_RELOAD: true (once) if this reload is the one vg_crl_apply
 * asked for. */
bool vg_crl_own_reload(struct vg_plugin *vg);

#endif
