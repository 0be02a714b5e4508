/*
 * vg_acl: the topic rules (see vg_acl.h). Thread: any. Memory: none.
 */
#include "vg_acl.h"

#include <stddef.h>
#include <string.h>

enum ns {
	NS_FOREIGN = 0,
	NS_VITALS,
	NS_DEVICES,
	NS_WARDS,
	NS_SYS,         /* $SYS/broker/vitalgate[/...]: services only */
	NS_ADT,         /* adt/<ward>/<bed>: the core's occupancy */
};

#define VG_SYS_ROOT "$SYS/broker/vitalgate"

/* Which of Vitalgate's namespaces a topic (or filter) belongs to. A filter
 * whose first level is a wildcard is foreign here: each role's check
 * decides what such a filter may do (filter_starts_wild). */
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
	if(!strncmp(t, "adt/", 4)){
		*rest = t + 4;
		return NS_ADT;
	}
	*rest = t;
	if(!strncmp(t, VG_SYS_ROOT, sizeof(VG_SYS_ROOT) - 1)
			&& (t[sizeof(VG_SYS_ROOT) - 1] == '/' || t[sizeof(VG_SYS_ROOT) - 1] == '\0')){
		/* A filter with a wildcard above this level ("$SYS/#") is foreign:
		 * granted, and the read check keeps these topics from it. */
		return NS_SYS;
	}
	if(!strcmp(t, "vitals") || !strcmp(t, "devices") || !strcmp(t, "wards") || !strcmp(t, "adt")){
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

/* rest (after "wards/") is "<ward>/alerts/<alert id>/ack", levels without
 * wildcards; *wn: the ward's length. */
static bool is_ack_topic(const char *rest, size_t *wn)
{
	const char *a;
	size_t n = level_len(rest), an;

	if(n == 0 || memchr(rest, '+', n) || memchr(rest, '#', n) || strncmp(rest + n, "/alerts/", 8) != 0){
		return false;
	}
	a = rest + n + 8;
	an = level_len(a);
	if(an == 0 || memchr(a, '+', an) || memchr(a, '#', an) || strcmp(a + an, "/ack") != 0){
		return false;
	}
	*wn = n;
	return true;
}

/* Each role's rules; ns and rest are topic's namespace and what follows
 * its root (topic_ns). */
static bool check_device(bool defer, const struct vg_ident *e, int access, const char *topic, enum ns ns,
		const char *rest, bool retain)
{
	switch(access){
		case VG_ACL_WRITE:
			if(ns == NS_VITALS){
				return !retain && !strcmp(rest, e->id);
			}
			return ns == NS_FOREIGN && defer;
		case VG_ACL_SUBSCRIBE:
			if(filter_starts_wild(topic)){
				return false;
			}
			/* A device's filter must name its own subtree, as a read does. */
			__attribute__((fallthrough));
		case VG_ACL_READ:
			if(ns == NS_DEVICES){
				return is_under(rest, e->id);
			}
			return ns == NS_FOREIGN && defer;
	}
	return false;
}

static bool check_station(bool defer, const struct vg_ident *e, int access, const char *topic, enum ns ns,
		const char *rest)
{
	size_t n;

	switch(access){
		case VG_ACL_WRITE:
			return ns == NS_FOREIGN && defer;
		case VG_ACL_SUBSCRIBE:
			if(filter_starts_wild(topic)){
				return false;
			}
			/* wards/<one of mine>/..., the ward level literal, as a read. */
			__attribute__((fallthrough));
		case VG_ACL_READ:
			if(ns != NS_WARDS){
				return ns == NS_FOREIGN && defer;
			}
			n = level_len(rest);
			if(n == 0 || memchr(rest, '+', n) || memchr(rest, '#', n)){
				return false;
			}
			return vg_ident_has_ward(e, rest, n);
	}
	return false;
}

/* rest is "<ward>/<bed>", both valid ids (the contract's syntax). */
static bool is_ward_bed(const char *rest)
{
	size_t n = level_len(rest);

	return rest[n] == '/' && vg_id_valid_n(rest, n) && vg_id_valid_n(rest + n + 1, strlen(rest + n + 1));
}

/* A cell's bridge (on the hub): publishes, retained or not, under
 * wards/<ward>/ of the wards placed on its cell; subscribes under adt/
 * and reads adt/<ward>/<bed> of its wards only (the core's occupancy,
 * carried to the cell: docs/patient-context.md); reads nothing else. */
static bool check_cell(bool defer, const struct vg_ident *e, int access, enum ns ns, const char *rest)
{
	size_t n;

	if(ns == NS_ADT && access == VG_ACL_SUBSCRIBE){
		return true;   /* the read check below filters each message */
	}
	if(ns == NS_ADT && access == VG_ACL_READ){
		return is_ward_bed(rest) && vg_ident_has_ward(e, rest, level_len(rest));
	}
	if(access != VG_ACL_WRITE || ns != NS_WARDS){
		return ns == NS_FOREIGN && defer;
	}
	n = level_len(rest);
	if(n == 0 || rest[n] != '/' || memchr(rest, '+', n) || memchr(rest, '#', n)){
		return false;
	}
	return vg_ident_has_ward(e, rest, n);
}

static bool check_service(bool defer, int access, const char *topic, enum ns ns, const char *rest)
{
	switch(access){
		case VG_ACL_WRITE:
			if(ns == NS_ADT){
				return is_ward_bed(rest);
			}
			return ns == NS_FOREIGN && defer;
		case VG_ACL_SUBSCRIBE:
		case VG_ACL_READ:
			if(ns != NS_FOREIGN || filter_starts_wild(topic) || !strncmp(topic, "$SYS/", 5)){
				return true;
			}
			return defer;
	}
	return false;
}

enum vg_acl_verdict vg_acl_decide(const struct vg_ident *e, bool others_defer, int access, const char *topic,
		bool retain, const char **why)
{
	const char *rest;
	enum ns ns;
	bool ok;

	*why = NULL;
	if(access == VG_ACL_UNSUBSCRIBE){
		return VG_ACL_ALLOW;
	}
	if(access == VG_ACL_SUBSCRIBE){
		topic = strip_share(topic);
	}
	ns = topic_ns(topic, &rest);
	if(e == NULL){
		/* Not one of ours (anonymous or another plugin's client): only
		 * foreign topics, and only in defer mode. Read checks keep our
		 * namespaces closed even under a wide "#" or "$SYS/#". */
		if(!others_defer){
			*why = "unknown identity";
			return VG_ACL_DENY;
		}
		if(ns == NS_FOREIGN || (access == VG_ACL_SUBSCRIBE && filter_starts_wild(topic))){
			return VG_ACL_ALLOW;
		}
		*why = ns == NS_SYS ? "Vitalgate's figures are for services" : "not a Vitalgate identity";
		return VG_ACL_DENY;
	}
	if(access == VG_ACL_WRITE && ns == NS_WARDS && (e->role == VG_ROLE_STATION || e->role == VG_ROLE_SERVICE)){
		size_t wn;
		if(is_ack_topic(rest, &wn) && !retain && (e->role == VG_ROLE_SERVICE || vg_ident_has_ward(e, rest, wn))){
			return VG_ACL_ACK;
		}
	}
	switch(e->role){
		case VG_ROLE_DEVICE:
			ok = check_device(others_defer, e, access, topic, ns, rest, retain);
			if(ok && access == VG_ACL_WRITE && ns == NS_VITALS){
				/* Its own vitals topic: the sample is ingested (plugin/ingest.c). */
				return VG_ACL_INGEST;
			}
			break;
		case VG_ROLE_STATION:
			ok = check_station(others_defer, e, access, topic, ns, rest);
			break;
		case VG_ROLE_SERVICE:
			ok = check_service(others_defer, access, topic, ns, rest);
			if(ok && access == VG_ACL_WRITE && ns == NS_ADT){
				/* A bed's occupancy: validated and taken (plugin/occupancy.c). */
				return VG_ACL_OCCUPANCY;
			}
			break;
		case VG_ROLE_CELL:
			ok = check_cell(others_defer, e, access, ns, rest);
			break;
		default:
			ok = false;
	}
	if(!ok && ns == NS_ADT && access == VG_ACL_WRITE){
		*why = e->role == VG_ROLE_SERVICE ? "occupancy topic is adt/<ward>/<bed>, both ids [A-Za-z0-9_-]{1,64}"
			: "occupancy is published by services only";
		return VG_ACL_DENY;
	}
	if(!ok){
		*why = retain && access == VG_ACL_WRITE ? "retained publish or topic outside the role's scope"
			: "topic outside the role's scope";
		return VG_ACL_DENY;
	}
	return VG_ACL_ALLOW;
}
