/*
 * auth: BASIC_AUTH, ACL_CHECK and DISCONNECT, answered from the in-memory
 * identity table (identities.c) and sessions (sessions.c) without blocking.
 *
 * Topic rules (docs/security.md, from the contract) are the pure function
 * vg_acl_decide (common/vg_acl.c): vitals/<device> is written by that
 * device and read by services, devices/<device>/... read by that device
 * and services, wards/<ward>/... by that ward's stations and services,
 * $SYS/broker/vitalgate/... by services. The broker itself publishes
 * rejections, ward topics and the figures (no ACL applies to its own
 * publishes). Everything else is foreign: refused with others=deny,
 * allowed with others=defer (Mosquitto 2.0.11 denies a check that every
 * plugin defers, so defer mode must grant foreign topics itself). This
 * file decides what that function cannot see: which identity the client
 * is, whether it is revoked, whether the client is its live session.
 *
 * Live sessions. Each identity has at most one client that logged in as it
 * through Vitalgate (struct vg_session.live, sessions.h): set when
 * BASIC_AUTH accepts it (a newer login replaces it: a takeover), or, on a
 * listener with use_identity_as_username (Mosquitto 2.0.11 skips
 * BASIC_AUTH there), when the ACL check first validates its certificate;
 * cleared by its DISCONNECT. Every grant of an identity's rights requires ed->client to
 * be that live session, one pointer compare. So a client that merely
 * carries an identity's name never has its rights: a password_file or
 * anonymous session from before the identity existed (others=defer), a
 * taken-over session, or a client whose will Mosquitto checks after its
 * DISCONNECT or at a takeover (wills never reach the MESSAGE callback).
 *
 * A device's publish to vitals/<itself> is ingested here, in the ACL WRITE
 * check (ingest.c): every client publish and every will passes through it,
 * including the wills Mosquitto sends at shutdown for clients still
 * connected, with no DISCONNECT before them. A rejected sample is denied:
 * the device sees 0x87, a will is dropped.
 *
 * The per-message read check (every message, every subscriber) is two hash
 * lookups (the identity, its session), one pointer compare and a few byte
 * compares: O(1), no allocation.
 *
 * Authentication (BASIC_AUTH): by secret, or on a TLS listener with
 * require_certificate, by the client certificate's CN (no password). Either
 * way the client id must equal the identity. With others=defer a CONNECT
 * that Vitalgate would leave to other authentication is refused when its
 * client id names a Vitalgate identity. Repeated failures are throttled: a
 * known identity's budgets live in its session state, others' and every
 * address's in the tables of throttle.c; every decision is audited
 * (audit.c).
 *
 * Thread: broker thread. Memory: an identity's session state on its first
 * login (sessions.c); nothing per message (the certificate's CN is copied
 * into a stack buffer).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "alerts.h"
#include "auth.h"
#include "audit.h"
#include "cells.h"
#include "crl.h"
#include "devices.h"
#include "ingest.h"
#include "occupancy.h"
#include "sessions.h"
#include "vg_acl.h"
#include "vg_plugin.h"

_Static_assert(VG_ACL_READ == MOSQ_ACL_READ && VG_ACL_WRITE == MOSQ_ACL_WRITE && VG_ACL_SUBSCRIBE == MOSQ_ACL_SUBSCRIBE
		&& VG_ACL_UNSUBSCRIBE == MOSQ_ACL_UNSUBSCRIBE, "vg_acl's access kinds are Mosquitto's");

static const char *access_name(int access)
{
	switch(access){
		case MOSQ_ACL_WRITE: return "publish";
		case MOSQ_ACL_SUBSCRIBE: return "subscribe";
		case MOSQ_ACL_READ: return "read";
	}
	return "access";
}

int vg_auth_init(struct vg_auth *a)
{
	vg_ratelimit_init(&a->log, 20, 1000);
	/* Throttling: 5 failures a minute per username, 20 per address, then
	 * refusals for 10 s doubling up to 5 min (docs/security.md). */
	a->kicks = calloc(VG_MAX_KICKS, sizeof(*a->kicks));
	if(a->kicks == NULL
			|| vg_throttle_init(&a->thr_user, 8192, 5, 60000, 10000, 300000) != 0
			|| vg_throttle_init(&a->thr_addr, 8192, 20, 60000, 10000, 300000) != 0){
		return -1;
	}
	return 0;
}

void vg_auth_free(struct vg_auth *a)
{
	vg_throttle_free(&a->thr_user);
	vg_throttle_free(&a->thr_addr);
	free(a->kicks);
	a->kicks = NULL;
}

void vg_kick_later(struct vg_plugin *vg, const char *client_id, const char *why)
{
	size_t i;

	if(client_id == NULL || vg->auth.nkicks >= VG_MAX_KICKS){
		return;
	}
	for(i = 0; i < vg->auth.nkicks; i++){
		if(!strncmp(vg->auth.kicks[i].client_id, client_id, VG_ID_MAX)){
			return;
		}
	}
	vg_sanitize(vg->auth.kicks[vg->auth.nkicks].client_id, sizeof(vg->auth.kicks[0].client_id), client_id);
	vg_strlcpy(vg->auth.kicks[vg->auth.nkicks].why, why, sizeof(vg->auth.kicks[0].why));
	vg->auth.nkicks++;
}

static int deny(struct vg_plugin *vg, const struct mosquitto_evt_acl_check *ed, const char *identity, const char *why)
{
	const char *cid = mosquitto_client_id(ed->client);

	vg->stats.acl_denied++;
	vg_audit_noisy(vg, VG_AUDIT_ACL_DENIED, identity, cid, mosquitto_client_address(ed->client),
			"%s %s: %s", access_name(ed->access), ed->topic, why);
	if(ed->access != MOSQ_ACL_READ){
		char topic[128], who[VG_ID_MAX + 8];
		vg_sanitize(topic, sizeof(topic), ed->topic);
		vg_sanitize(who, sizeof(who), identity ? identity : "(unknown)");
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: denied %s of \"%s\" to %s: %s",
				access_name(ed->access), topic, who, why);
	}
	return MOSQ_ERR_ACL_DENIED;
}

/* Counts a client as the identity's live session (a takeover replaces
 * the previous one, which stays counted once). */
static void live_set(struct vg_plugin *vg, const struct vg_ident *e, struct vg_session *ses, const struct mosquitto *client)
{
	if(ses->live == NULL){
		vg->stats.connected[e->role & 7]++;
	}
	ses->live = client;
}

static bool live_clear(struct vg_plugin *vg, const struct vg_ident *e, struct vg_session *ses)
{
	if(ses == NULL || ses->live == NULL){
		return false;
	}
	ses->live = NULL;
	vg->stats.connected[e->role & 7]--;
	return true;
}

static bool cert_cn(struct mosquitto *client, char *cn, size_t len, bool *bad);

/* A client that carries e's name but is not its live session: on a
 * listener with use_identity_as_username (no BASIC_AUTH), its first ACL
 * check validates its certificate and makes it the live session. Returns
 * NULL when it did, else why not. Only when e has no live session: a
 * taken-over client (whose will Mosquitto checks while the new session
 * already holds the name) never comes back this way; nor does a client
 * whose will Mosquitto checks after its DISCONNECT: its TLS session is
 * gone by then (net__socket_close), so it shows no certificate. */
static const char *adopt_cert_login(struct vg_plugin *vg, struct vg_ident *e, struct mosquitto *client, const char *cid)
{
	char cn[VG_ID_MAX + 1];
	bool bad = false;
	struct vg_session *ses = vg_sessions_find(&vg->sessions, e->id);
	struct vg_cert_id certid;

	if(ses && ses->live){
		return "session did not log in as this identity";
	}
	if(!cert_cn(client, cn, sizeof(cn), &bad) || bad || strcmp(cn, e->id) != 0){
		return "session did not log in as this identity";
	}
	if(cid == NULL || strcmp(cid, e->id) != 0){
		return "client id differs from identity";
	}
	if(vg_crl_login_revoked(vg, client, &certid)){
		return "certificate revoked (CRL)";
	}
	ses = vg_sessions_get(&vg->sessions, e->id);
	if(ses == NULL){
		return "out of memory";
	}
	ses->cert = certid;
	live_set(vg, e, ses, client);
	vg->stats.auth_ok++;
	vg_devices_on_connect(&vg->devices, e);
	vg_audit(vg, VG_AUDIT_CONNECT, e->id, cid, mosquitto_client_address(client), "%s by certificate (listener without login check)",
			vg_role_name(e->role));
	return NULL;
}

int vg_auth_acl_cb(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;
	struct vg_plugin *vg = userdata;
	const char *user;
	struct vg_ident *e;
	const struct vg_session *ses;
	const char *cid;
	const char *why;
	bool defer = vg->cfg.others == VG_OTHERS_DEFER;

	(void)event;
	if(ed->access == MOSQ_ACL_UNSUBSCRIBE){
		return MOSQ_ERR_SUCCESS;
	}
	user = mosquitto_client_username(ed->client);
	e = user ? vg_idtable_find(&vg->ids.table, user) : NULL;
	if(e == NULL){
		if(!defer){
			/* Deny mode: only a certificate login (use_identity_as_username,
			 * which skips BASIC_AUTH) can get here with an unknown name. */
			vg_kick_later(vg, mosquitto_client_id(ed->client), "unknown identity");
		}
	}else if(e->revoked){
		vg_kick_later(vg, mosquitto_client_id(ed->client), "identity revoked");
		return deny(vg, ed, e->id, "identity revoked");
	}else{
		ses = vg_sessions_find(&vg->sessions, e->id);
		if(ses == NULL || ses->live != ed->client){
			/* The rare path: the hot one is the pointer compare above. */
			cid = mosquitto_client_id(ed->client);
			why = adopt_cert_login(vg, e, ed->client, cid);
			if(why){
				/* TICK spares the live session of that client id, if any. */
				vg_kick_later(vg, cid, why);
				return deny(vg, ed, e->id, why);
			}
		}
	}
	switch(vg_acl_decide(e, defer, ed->access, ed->topic, ed->retain, &why)){
		case VG_ACL_ALLOW:
			return MOSQ_ERR_SUCCESS;
		case VG_ACL_INGEST:
			/* A device's own vitals topic: the sample is ingested now (see
			 * the header); a rejection denies the publish. */
			return vg_ingest_acl_write(vg, e, ed);
		case VG_ACL_ACK:
			/* An alert's ack by a station of its ward or a service. */
			return vg_alerts_ack(vg, e, mosquitto_client_id(ed->client), ed);
		case VG_ACL_OCCUPANCY:
			/* A service's adt/<ward>/<bed>: the bed's occupancy is taken
			 * now (occupancy.h); a refusal denies the publish. */
			return vg_occupancy_acl_write(vg, e, ed);
		default:
			return deny(vg, ed, e ? e->id : user, why);
	}
}

/* Copies the CN of the client's certificate into cn; false if there is no
 * certificate. *bad is set when there is one but its CN is unusable. */
static bool cert_cn(struct mosquitto *client, char *cn, size_t len, bool *bad)
{
	X509 *cert = mosquitto_client_certificate(client);
	X509_NAME *name;
	int i, n;
	const unsigned char *data;
	X509_NAME_ENTRY *entry;
	ASN1_STRING *str;

	*bad = false;
	if(cert == NULL){
		return false;
	}
	name = X509_get_subject_name(cert);
	i = name ? X509_NAME_get_index_by_NID(name, NID_commonName, -1) : -1;
	entry = i >= 0 ? X509_NAME_get_entry(name, i) : NULL;
	str = entry ? X509_NAME_ENTRY_get_data(entry) : NULL;
	if(str == NULL){
		*bad = true;
		X509_free(cert);
		return true;
	}
	data = ASN1_STRING_get0_data(str);
	n = ASN1_STRING_length(str);
	if(n <= 0 || (size_t)n >= len || memchr(data, 0, (size_t)n)){
		*bad = true;
	}else{
		memcpy(cn, data, (size_t)n);
		cn[n] = '\0';
	}
	X509_free(cert);
	return true;
}

static uint64_t addr_hash(const char *addr)
{
	return addr ? vg_fnv1a(addr, strlen(addr)) : vg_fnv1a("", 0);
}

/* At most 20 refusal lines a second in the log; the audit trail has all. */
static bool auth_log_budget(struct vg_plugin *vg)
{
	unsigned long missed;
	bool take = vg_ratelimit_take(&vg->auth.log, vg_mono_ms(), &missed);

	if(missed){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: %lu more refused connection(s) not logged in the last second",
				missed);
	}
	return take;
}

/* The budget a login attempt under known identity e from addr is counted
 * in: the device's own last good address has its own, so a stranger
 * elsewhere cannot lock it out, and its own address is still throttled. */
static struct vg_throttle_state *user_budget(struct vg_session *ses, const char *addr, bool proxied, bool *home)
{
	/* Behind a proxy every client has the proxy's address: none of them
	 * is "home", or an attacker there would share a device's exemption. */
	*home = !proxied && addr && ses->last_ok_addr_hash && ses->last_ok_addr_hash == addr_hash(addr);
	return *home ? &ses->thr_home : &ses->thr_away;
}

/* One login attempt, as BASIC_AUTH sees it. */
struct login {
	struct mosquitto *client;
	const char *clientid;
	const char *addr;
	const char *identity;              /* the username, or the certificate's CN */
	struct vg_ident *e;                /* the identity, when known */
	struct vg_session *ses;            /* its session state */
	struct vg_throttle_state *budget;  /* the identity's budget this attempt counts in */
	bool home;                         /* from the identity's last good address */
	bool again;                        /* the live session asked again (SIGHUP) */
	bool proxied;                      /* from a trusted proxy: addr is the proxy's, shared by everyone */
	bool count_failure;                /* a refusal counts towards throttling */
	int64_t now;                       /* monotonic */
};

/* Refuses the attempt: audited (noisy budget), logged (20 a second), and
 * unless it is not to count, counted towards throttling its name and its
 * address. Returns MOSQ_ERR_AUTH. */
static int refuse(struct vg_plugin *vg, const struct login *l, const char *why)
{
	char u[VG_ID_MAX + 1], c[VG_ID_MAX + 1];
	const char *who = l->e ? l->e->id : l->identity;
	const char *from = l->home ? " from its last good address" : "";
	int64_t until = 0;

	vg->stats.auth_fail++;
	vg_sanitize(u, sizeof(u), who);
	vg_sanitize(c, sizeof(c), l->clientid);
	vg_audit_noisy(vg, VG_AUDIT_REFUSED, who, l->clientid, l->addr, "%s", why);
	if(auth_log_budget(vg)){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: refused connection of \"%s\" (client id \"%s\") from %s: %s",
				who ? u : "(none)", c, l->addr ? l->addr : "?", why);
	}
	if(!l->count_failure || l->again){
		return MOSQ_ERR_AUTH;
	}
	/* A known identity's budget is its own (never evicted); an unknown
	 * name's is in the table. */
	if(l->budget ? vg_throttle_state_fail(&vg->auth.thr_user.policy, l->budget, l->now, &until)
			: (who && vg_throttle_fail(&vg->auth.thr_user, u, l->now, &until))){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "Vitalgate: throttling username \"%s\"%s for %lld s after repeated failures",
				u, from, (long long)((until - l->now + 999) / 1000));
		vg_audit(vg, VG_AUDIT_THROTTLE, who, NULL, l->addr, "username throttled%s for %lld s",
				from, (long long)((until - l->now + 999) / 1000));
	}
	if(l->addr && !l->proxied && vg_throttle_fail(&vg->auth.thr_addr, l->addr, l->now, &until)){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "Vitalgate: throttling address %s for %lld s after repeated failures",
				l->addr, (long long)((until - l->now + 999) / 1000));
		vg_audit(vg, VG_AUDIT_THROTTLE, NULL, NULL, l->addr, "address throttled for %lld s",
				(long long)((until - l->now + 999) / 1000));
	}
	return MOSQ_ERR_AUTH;
}

/* Accepts the attempt: the client becomes the identity's live session. */
static int accept_login(struct vg_plugin *vg, const struct login *l, bool by_cert, const struct vg_cert_id *certid)
{
	struct vg_session *ses = l->ses;
	const struct vg_ident *e = l->e;

	if(l->addr && !l->home && !l->proxied){
		/* A new good address: its budget starts afresh. */
		ses->last_ok_addr_hash = addr_hash(l->addr);
		vg_throttle_state_ok(&ses->thr_home);
	}
	vg_throttle_state_ok(l->home ? &ses->thr_home : &ses->thr_away);
	ses->cert = *certid;
	vg_devices_on_connect(&vg->devices, e);
	vg->stats.auth_ok++;
	/* The live session from now on (a takeover: the previous one loses
	 * every right before Mosquitto even disconnects it). */
	live_set(vg, e, ses, l->client);
	vg_audit(vg, VG_AUDIT_CONNECT, e->id, l->clientid, l->addr, "%s by %s", vg_role_name(e->role),
			by_cert ? "certificate" : "secret");
	return MOSQ_ERR_SUCCESS;
}

int vg_auth_basic_cb(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ed = event_data;
	struct vg_plugin *vg = userdata;
	struct login l;
	struct vg_cert_id certid;
	char cn[VG_ID_MAX + 1];
	bool by_cert, bad_cert = false;
	int64_t until = 0;
	const char *hold;

	(void)event;
	memset(&l, 0, sizeof(l));
	l.client = ed->client;
	l.clientid = mosquitto_client_id(ed->client);
	l.addr = mosquitto_client_address(ed->client);
	l.identity = ed->username;
	l.count_failure = true;
	l.now = vg_mono_ms();
	l.proxied = vg_netlist_contains(&vg->cfg.proxies, l.addr);
	by_cert = cert_cn(ed->client, cn, sizeof(cn), &bad_cert);
	if(by_cert && !bad_cert){
		l.identity = cn;
	}
	l.e = l.identity && (!by_cert || !bad_cert) ? vg_idtable_find(&vg->ids.table, l.identity) : NULL;
	/* Mosquitto asks again for every connected client on a reload
	 * (SIGHUP): the live session is checked, not counted, throttled or
	 * audited a second time. */
	l.ses = l.e ? vg_sessions_find(&vg->sessions, l.e->id) : NULL;
	l.again = l.ses && l.ses->live == ed->client;
	if(!l.again && l.addr && !l.proxied && vg_throttle_blocked(&vg->auth.thr_addr, l.addr, l.now, &until)){
		l.count_failure = false;
		vg->stats.auth_throttled++;
		return refuse(vg, &l, "address throttled after repeated failures");
	}
	if(by_cert && bad_cert){
		return refuse(vg, &l, "client certificate has no usable CN");
	}
	if(by_cert && ed->username && strcmp(ed->username, cn) != 0){
		return refuse(vg, &l, "username differs from the certificate CN");
	}
	if(l.e == NULL && vg->cfg.others == VG_OTHERS_DEFER && !by_cert){
		/* Left to the broker's other authentication, unless the client id
		 * is one of ours: that CONNECT would take over the identity's
		 * session whatever the other authentication says. */
		if(l.clientid && vg_idtable_find(&vg->ids.table, l.clientid)){
			return refuse(vg, &l, "client id belongs to a Vitalgate identity (session takeover refused)");
		}
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	if(l.identity == NULL){
		return refuse(vg, &l, "no username");
	}
	if(l.e == NULL){
		l.count_failure = vg->ids.loaded;
		if(vg->cfg.cell && vg->ids.loaded){
			/* A cell holds only its own identities: the log will say
			 * where this one belongs (looked up off the broker thread). */
			vg_cells_unknown(vg, l.identity);
			return refuse(vg, &l, "unknown identity (not served by this cell)");
		}
		return refuse(vg, &l, vg->ids.loaded ? "unknown identity" : "identities not loaded yet");
	}
	l.ses = vg_sessions_get(&vg->sessions, l.e->id);
	if(l.ses == NULL){
		l.count_failure = false;
		return refuse(vg, &l, "out of memory");
	}
	l.budget = user_budget(l.ses, l.addr, l.proxied, &l.home);
	if(!l.again && vg_throttle_state_blocked(l.budget, l.now, &until)){
		l.count_failure = false;
		vg->stats.auth_throttled++;
		return refuse(vg, &l, l.home ? "username throttled after repeated failures from its last good address"
				: "username throttled after repeated failures");
	}
	if(l.e->revoked){
		return refuse(vg, &l, "identity revoked");
	}
	if(l.clientid == NULL || strcmp(l.clientid, l.e->id) != 0){
		/* Otherwise a holder of any valid secret could take over another
		 * identity's session by reusing its client id. */
		return refuse(vg, &l, "client id differs from the identity (session takeover refused)");
	}
	if(!by_cert && (ed->password == NULL
			|| !vg_secret_verify(vg->scratch.hasher, l.e->salt, l.e->hash, ed->password, strlen(ed->password)))){
		return refuse(vg, &l, "wrong secret");
	}
	if(l.again){
		return MOSQ_ERR_SUCCESS;
	}
	if((hold = vg_cells_hold(vg, l.e)) != NULL){
		l.count_failure = false;
		return refuse(vg, &l, hold);
	}
	memset(&certid, 0, sizeof(certid));
	if(by_cert && vg_crl_login_revoked(vg, ed->client, &certid)){
		/* The handshake checks the CRL too; this covers one made with the
		 * previous CRL while Mosquitto reloads its listeners. */
		return refuse(vg, &l, "certificate revoked (CRL)");
	}
	if(by_cert && ed->username == NULL && mosquitto_set_username(ed->client, l.e->id) != MOSQ_ERR_SUCCESS){
		/* ACL checks look the identity up by username. */
		l.count_failure = false;
		return refuse(vg, &l, "out of memory setting the username");
	}
	return accept_login(vg, &l, by_cert, &certid);
}

void vg_auth_apply_kicks(struct vg_plugin *vg)
{
	size_t i;

	for(i = 0; i < vg->auth.nkicks; i++){
		/* Never the live session of an identity: whatever was denied came
		 * from an older client with that id (a will checked after its
		 * DISCONNECT or at a takeover), and the id now belongs to a client
		 * that logged in properly. */
		if(vg_auth_is_live(vg, vg->auth.kicks[i].client_id)){
			continue;
		}
		if(mosquitto_kick_client_by_clientid(vg->auth.kicks[i].client_id, false) == MOSQ_ERR_SUCCESS){
			vg->stats.kicks++;
			mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: disconnecting client %s (%s)",
					vg->auth.kicks[i].client_id, vg->auth.kicks[i].why);
			vg_audit(vg, VG_AUDIT_KICK, NULL, vg->auth.kicks[i].client_id, NULL, "%s", vg->auth.kicks[i].why);
		}
	}
	vg->auth.nkicks = 0;
}

void vg_auth_forget_connections(struct vg_plugin *vg, const char *id)
{
	struct vg_ident *e = vg_idtable_find(&vg->ids.table, id);

	if(e){
		live_clear(vg, e, vg_sessions_find(&vg->sessions, e->id));
	}
}

void vg_auth_reset_throttle(struct vg_plugin *vg, const char *id)
{
	struct vg_session *ses = vg_sessions_find(&vg->sessions, id);

	if(ses){
		vg_throttle_state_ok(&ses->thr_home);
		vg_throttle_state_ok(&ses->thr_away);
	}
}

bool vg_auth_is_live(const struct vg_plugin *vg, const char *id)
{
	const struct vg_ident *e = vg_idtable_find(&vg->ids.table, id);
	const struct vg_session *ses = e ? vg_sessions_find(&vg->sessions, e->id) : NULL;

	return ses && ses->live;
}

int vg_auth_disconnect_cb(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_disconnect *ed = event_data;
	struct vg_plugin *vg = userdata;
	const char *cid = mosquitto_client_id(ed->client);
	const char *user = mosquitto_client_username(ed->client);
	struct vg_ident *e;
	struct vg_session *ses;

	(void)event;
	/* A live session always has its identity as username; look by client
	 * id too in case Mosquitto already dropped the username. */
	e = vg_idtable_find(&vg->ids.table, user ? user : cid);
	ses = e ? vg_sessions_find(&vg->sessions, e->id) : NULL;
	if(ses == NULL || ses->live != ed->client){
		/* Not a Vitalgate session (a client refused at CONNECT, another
		 * application's, a taken-over one): nothing to record. */
		return MOSQ_ERR_SUCCESS;
	}
	live_clear(vg, e, ses);
	vg_audit(vg, VG_AUDIT_DISCONNECT, e->id, e->id, mosquitto_client_address(ed->client), "disconnected");
	/* Starts the disconnect grace time of a silent-device alert. (2.0.11
	 * reports no reason, so a clean DISCONNECT counts too: a device off
	 * the network monitors nobody; unassign it to take it out of use.) */
	vg_devices_on_disconnect(&vg->devices, e, vg_now_ms());
	return MOSQ_ERR_SUCCESS;
}
