/*
 * vg_acl: the contract's topic rules as one pure function: given who asks
 * (an identity's role, id and wards, or nobody Vitalgate knows), what kind
 * of access, which topic (or filter) and whether retained, the answer
 * (allow, deny with why, or allow-and-ingest) and nothing else: no clock,
 * no state, no allocation. plugin/auth.c decides first what this cannot
 * see (is the client the identity's live session, is the identity revoked)
 * and acts on the answer (denial audit and log, ingest, kicks).
 *
 * The rules (docs/security.md):
 *   vitals/<device>            write: that device (not retained), ingested
 *                              read/subscribe: services
 *   devices/<device>/...       read/subscribe: that device, services
 *   wards/<ward>/...           read/subscribe: stations of <ward> (the ward
 *                              level literal), services
 *   adt/<ward>/<bed>           write (retained or not): services, the
 *                              occupancy the core publishes, taken by
 *                              the plugin (docs/patient-context.md);
 *                              read/subscribe: services (stations see
 *                              only the label, in the ward's frame); on
 *                              the hub a cell's bridge, of its wards
 *   $SYS/broker/vitalgate/...  read/subscribe: services
 *   wards/<ward>/alerts/<alert_id>/ack
 *                              write (not retained): stations of <ward>,
 *                              services; applied as an ack (plugin/alerts.c)
 * Clients never write anywhere else into devices/ or wards/ (the broker
 * publishes there). Everything else is foreign: allowed with others=defer, denied
 * with others=deny. Subscriptions: "$share/<group>/" is stripped first; a
 * filter starting with a wildcard may reach every namespace, so devices and
 * stations may not subscribe to one, services and (in defer mode) clients
 * Vitalgate does not know may: the per-message read check then keeps
 * Vitalgate's topics from whoever may not read them. Unsubscribing is
 * always allowed.
 *
 * Thread: any. Memory: none; *why is a static string.
 */
#ifndef VG_ACL_H
#define VG_ACL_H

#include <stdbool.h>

#include "vg_ident.h"

/* Kinds of access: the values of Mosquitto's MOSQ_ACL_* (plugin/auth.c
 * asserts they agree). */
#define VG_ACL_READ 0x01
#define VG_ACL_WRITE 0x02
#define VG_ACL_SUBSCRIBE 0x04
#define VG_ACL_UNSUBSCRIBE 0x08

enum vg_acl_verdict {
	VG_ACL_DENY = 0,
	VG_ACL_ALLOW,
	VG_ACL_INGEST,       /* allowed: a device's publish to its own vitals/ topic, to be ingested */
	VG_ACL_ACK,          /* allowed: a station's (of that ward) or a service's ack of an alert, to be applied */
	VG_ACL_OCCUPANCY,    /* allowed: a service's publish to adt/<ward>/<bed> (both valid ids), to be taken */
};

/* e: the identity the client is (already checked to be its live session
 * and not revoked), or NULL for a client Vitalgate does not know.
 * others_defer: plugin_opt_others defer. On VG_ACL_DENY *why says why. */
enum vg_acl_verdict vg_acl_decide(const struct vg_ident *e, bool others_defer, int access, const char *topic,
		bool retain, const char **why);

#endif
