/*
 * auth: BASIC_AUTH and ACL_CHECK, answered from the in-memory identity
 * table (idtable.c) without blocking.
 *
 * Topic rules (docs/security.md, from the contract):
 *   vitals/<device>                    write: that device (not retained)
 *                                      read/subscribe: service
 *   devices/<device>/...               read/subscribe: that device, service
 *                                      (today: .../rejections)
 *   wards/<ward>/...                   read/subscribe: stations of <ward>, service
 * The broker itself publishes rejections and ward topics (no ACL applies to
 * its own publishes); clients never write into devices/ or wards/.
 * Everything else is foreign: refused with others=deny, allowed with
 * others=defer (Mosquitto 2.0.11 denies a check that every plugin defers, so
 * defer mode must grant foreign topics itself).
 *
 * The per-message read check (every message, every subscriber) is one hash
 * lookup and a few byte compares: O(1), no allocation.
 *
 * Thread: broker thread. Memory: none allocated.
 */
#include <stdio.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "vg_plugin.h"

enum ns {
	NS_FOREIGN = 0,
	NS_VITALS,
	NS_DEVICES,
	NS_WARDS,
};

/* Which of Vitalgate's namespaces a topic (or filter) belongs to. A filter
 * whose first level is a wildcard may match any namespace: NS_WARDS is
 * returned as the strictest answer by the caller's choice (see
 * filter_reaches_ours). */
static enum ns topic_ns(const char *t, const char **rest)
{
	if(!strncmp(t, "vitals/", 7)){
		*rest = t + 7;
		return NS_VITALS;
	}
	if(!strncmp(t, "devices/", 8)){
		*rest = t + 8;
		return NS_DEVICES;
	}
	if(!strncmp(t, "wards/", 6)){
		*rest = t + 6;
		return NS_WARDS;
	}
	*rest = t;
	if(!strcmp(t, "vitals") || !strcmp(t, "devices") || !strcmp(t, "wards")){
		return NS_WARDS; /* the bare namespace root: treat as ours */
	}
	return NS_FOREIGN;
}

/* A subscription filter that starts with a wildcard ("#", "+/...") can
 * match Vitalgate's topics. */
static bool filter_starts_wild(const char *f)
{
	return f[0] == '#' || (f[0] == '+' && (f[1] == '/' || f[1] == '\0'));
}

/* Length of the first topic level of s. */
static size_t level_len(const char *s)
{
	const char *slash = strchr(s, '/');

	return slash ? (size_t)(slash - s) : strlen(s);
}

/* True if rest is "<id>/..." (the identity's own subtree). */
static bool is_under(const char *rest, const char *id)
{
	size_t n = strlen(id);

	return !strncmp(rest, id, n) && rest[n] == '/';
}

static int foreign(const struct vg_plugin *vg)
{
	return vg->cfg.others == VG_OTHERS_DEFER ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ACL_DENIED;
}

/* Strips "$share/<group>/" from a shared subscription filter. */
static const char *strip_share(const char *t)
{
	const char *p;

	if(strncmp(t, "$share/", 7) != 0){
		return t;
	}
	p = strchr(t + 7, '/');
	return p ? p + 1 : t + strlen(t);
}

static int check_device(const struct vg_plugin *vg, const struct vg_ident *e, int access, const char *topic, bool retain)
{
	const char *rest;
	enum ns ns = topic_ns(topic, &rest);

	switch(access){
		case MOSQ_ACL_WRITE:
			if(ns == NS_VITALS){
				return (!retain && !strcmp(rest, e->id)) ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ACL_DENIED;
			}
			return ns == NS_FOREIGN ? foreign(vg) : MOSQ_ERR_ACL_DENIED;
		case MOSQ_ACL_SUBSCRIBE:
			if(filter_starts_wild(topic)){
				return MOSQ_ERR_ACL_DENIED;
			}
			/* A device's filter must name its own subtree, as a read does. */
			__attribute__((fallthrough));
		case MOSQ_ACL_READ:
			if(ns == NS_DEVICES){
				return is_under(rest, e->id) ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ACL_DENIED;
			}
			return ns == NS_FOREIGN ? foreign(vg) : MOSQ_ERR_ACL_DENIED;
	}
	return MOSQ_ERR_ACL_DENIED;
}

static int check_station(const struct vg_plugin *vg, const struct vg_ident *e, int access, const char *topic)
{
	const char *rest;
	enum ns ns = topic_ns(topic, &rest);
	size_t n;

	switch(access){
		case MOSQ_ACL_WRITE:
			return ns == NS_FOREIGN ? foreign(vg) : MOSQ_ERR_ACL_DENIED;
		case MOSQ_ACL_SUBSCRIBE:
			if(filter_starts_wild(topic)){
				return MOSQ_ERR_ACL_DENIED;
			}
			/* wards/<one of mine>/..., the ward level literal, as a read. */
			__attribute__((fallthrough));
		case MOSQ_ACL_READ:
			if(ns != NS_WARDS){
				return ns == NS_FOREIGN ? foreign(vg) : MOSQ_ERR_ACL_DENIED;
			}
			n = level_len(rest);
			if(n == 0 || memchr(rest, '+', n) || memchr(rest, '#', n)){
				return MOSQ_ERR_ACL_DENIED;
			}
			return vg_ident_has_ward(e, rest, n) ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ACL_DENIED;
	}
	return MOSQ_ERR_ACL_DENIED;
}

static int check_service(const struct vg_plugin *vg, int access, const char *topic)
{
	const char *rest;
	enum ns ns = topic_ns(topic, &rest);

	switch(access){
		case MOSQ_ACL_WRITE:
			return ns == NS_FOREIGN ? foreign(vg) : MOSQ_ERR_ACL_DENIED;
		case MOSQ_ACL_SUBSCRIBE:
		case MOSQ_ACL_READ:
			if(ns != NS_FOREIGN || filter_starts_wild(topic) || !strncmp(topic, "$SYS/", 5)){
				return MOSQ_ERR_SUCCESS;
			}
			return foreign(vg);
	}
	return MOSQ_ERR_ACL_DENIED;
}

int vg_auth_acl_cb(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;
	struct vg_plugin *vg = userdata;
	const char *user = mosquitto_client_username(ed->client);
	const struct vg_ident *e;
	const char *topic = ed->topic;
	const char *rest;
	int rc;

	(void)event;
	if(ed->access == MOSQ_ACL_UNSUBSCRIBE){
		return MOSQ_ERR_SUCCESS;
	}
	if(ed->access == MOSQ_ACL_SUBSCRIBE){
		topic = strip_share(topic);
	}
	e = user ? vg_idtable_find(&vg->ids, user) : NULL;
	if(e == NULL || e->revoked){
		/* Not one of ours (anonymous or another plugin's client): only
		 * foreign topics, and only in defer mode. Read checks keep our
		 * namespaces closed even under a wide "#" subscription. */
		if(topic_ns(topic, &rest) == NS_FOREIGN && vg->cfg.others == VG_OTHERS_DEFER){
			return MOSQ_ERR_SUCCESS;
		}
		if(ed->access == MOSQ_ACL_SUBSCRIBE && filter_starts_wild(topic) && vg->cfg.others == VG_OTHERS_DEFER){
			return MOSQ_ERR_SUCCESS;
		}
		vg->stats.acl_denied++;
		return MOSQ_ERR_ACL_DENIED;
	}
	switch(e->role){
		case VG_ROLE_DEVICE:
			rc = check_device(vg, e, ed->access, topic, ed->retain);
			break;
		case VG_ROLE_STATION:
			rc = check_station(vg, e, ed->access, topic);
			break;
		case VG_ROLE_SERVICE:
			rc = check_service(vg, ed->access, topic);
			break;
		default:
			rc = MOSQ_ERR_ACL_DENIED;
	}
	if(rc != MOSQ_ERR_SUCCESS){
		vg->stats.acl_denied++;
		if(ed->access != MOSQ_ACL_READ){
			mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: denied %s of \"%s\" to %s",
					ed->access == MOSQ_ACL_WRITE ? "publish" : "subscribe", ed->topic, e->id);
		}
	}
	return rc;
}

int vg_auth_basic_cb(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ed = event_data;
	struct vg_plugin *vg = userdata;
	const char *clientid = mosquitto_client_id(ed->client);
	const char *addr = mosquitto_client_address(ed->client);
	const struct vg_ident *e;
	const char *why;

	(void)event;
	if(ed->username == NULL){
		if(vg->cfg.others == VG_OTHERS_DEFER){
			return MOSQ_ERR_PLUGIN_DEFER;
		}
		why = "no username";
		goto refuse;
	}
	e = vg_idtable_find(&vg->ids, ed->username);
	if(e == NULL){
		if(vg->cfg.others == VG_OTHERS_DEFER){
			return MOSQ_ERR_PLUGIN_DEFER;
		}
		why = vg->ids_loaded ? "unknown identity" : "identities not loaded yet";
		goto refuse;
	}
	if(e->revoked){
		why = "identity revoked";
		goto refuse;
	}
	if(clientid == NULL || strcmp(clientid, e->id) != 0){
		/* Otherwise a holder of any valid secret could take over another
		 * identity's session by reusing its client id. */
		why = "client id differs from username";
		goto refuse;
	}
	if(ed->password == NULL || !vg_secret_verify(vg->hasher, e->salt, e->hash, ed->password, strlen(ed->password))){
		why = "wrong secret";
		goto refuse;
	}
	vg->stats.auth_ok++;
	return MOSQ_ERR_SUCCESS;

refuse:
	vg->stats.auth_fail++;
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: refused connection of \"%s\" (client id \"%s\") from %s: %s",
			vg_id_valid(ed->username) ? ed->username : "(invalid username)",
			vg_id_valid(clientid) ? clientid : "(invalid client id)",
			addr ? addr : "?", why);
	return MOSQ_ERR_AUTH;
}
