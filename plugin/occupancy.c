/*
 * occupancy: a bed's occupant from the core (see occupancy.h and
 * docs/patient-context.md).
 *
 * What the broker keeps is the bed's current state only (beds.c); the
 * history with its validity intervals is PostgreSQL's (migration 011,
 * vitalgate_occupancy_apply), written by the writer from the journal in
 * order, so the history, the samples' links and what the broker did agree
 * after any crash or outage.
 *
 * Thread: broker thread. Memory: none owned.
 */
#include "occupancy.h"

#include <stdio.h>
#include <string.h>

#include "alerts.h"
#include "audit.h"
#include "beds.h"
#include "config.h"
#include "sessions.h"
#include "stations.h"
#include "vg_occupancy.h"
#include "vg_plugin.h"
#include "vg_rec.h"
#include "vg_util.h"

static struct vg_str view(const char *s)
{
	struct vg_str v = { s, strlen(s) };

	return v;
}

/* Splits "adt/<ward>/<bed>" (both valid ids); false when it is not that. */
static bool ward_bed(const char *topic, char ward[VG_ID_MAX + 1], char bed[VG_ID_MAX + 1])
{
	const char *rest = topic + 4, *slash;

	if(strncmp(topic, "adt/", 4) != 0 || (slash = strchr(rest, '/')) == NULL || !vg_id_valid_n(rest, (size_t)(slash - rest))
			|| !vg_id_valid(slash + 1)){
		return false;
	}
	memcpy(ward, rest, (size_t)(slash - rest));
	ward[slash - rest] = '\0';
	vg_strlcpy(bed, slash + 1, VG_ID_MAX + 1);
	return true;
}

static void refused(struct vg_plugin *vg, const char *by, const char *ward, const char *bed, const char *why)
{
	vg->stats.occupancy_refused++;
	/* The payload is never quoted: it names a patient. */
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: refused occupancy of %s/%s from %s: %s", ward, bed, by, why);
}

/* Takes one occupancy message for ward/bed (by: who published it, for the
 * record). Returns NULL, or why it was refused (nothing changed). */
static const char *take(struct vg_plugin *vg, const char *by, const char *ward, const char *bed, const void *payload,
		size_t len)
{
	char since[32];
	const char *why;
	struct vg_occupancy o;
	struct vg_rec_occupancy r;
	struct vg_bed *b;
	struct vg_wbuf w;
	int64_t now_ms = vg_now_ms();
	int rc;

	why = vg_occupancy_parse(payload, len, now_ms, &o);
	if(why || vg->cfg.mode == VG_MODE_HUB){
		/* The hub validates and keeps nothing (it ingests nothing): the
		 * message stays retained there for the cells' bridges. */
		return why;
	}
	if(vg_bed_occupancy_same(vg_beds_find(&vg->beds, ward, bed), &o)){
		/* What the bed already has (the core sent its retained state
		 * again): nothing to journal. */
		return NULL;
	}
	b = vg_beds_get(&vg->beds, ward, bed, vg->alerts.cfg);
	if(b == NULL){
		return "broker out of memory; publish again";
	}

	memset(&r, 0, sizeof(r));
	r.ward = view(ward);
	r.bed = view(bed);
	r.by = view(by);
	r.since_ms = o.since_ms;
	r.received_ms = now_ms;
	r.vacant = o.vacant;
	r.patient = view(o.patient);
	r.encounter = view(o.encounter);
	r.label = view(o.label);
	vg_wbuf_init(&w, vg->scratch.recbuf, vg->scratch.recbuf_cap);
	rc = vg_rec_encode_occupancy(&w, &r)
		? vg_journal_append_class(vg->workers.journal, VG_JOURNAL_CLASS_PRIORITY, VG_REC_OCCUPANCY, w.p, (uint32_t)w.len, NULL)
		: VG_JOURNAL_TOOBIG;
	if(rc != VG_JOURNAL_OK){
		return "the broker's journal refused it (full or unsafe); publish again";
	}
	if(b->occ && !b->occ->vacant && (o.vacant || strcmp(b->occ->patient, o.patient) != 0)){
		/* The alerts were about the occupant who left. */
		vg_alerts_occupant_left(vg, b, o.vacant ? "bed vacant (the core's occupancy)"
				: "another patient in the bed (the core's occupancy)", now_ms);
	}
	if(vg_bed_set_occupancy(b, &o) < 0){
		/* Journalled (the history and the samples' links will be right);
		 * the broker keeps the bed's previous state until the next one. */
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: out of memory keeping the occupancy of %s/%s", ward, bed);
	}
	vg->stats.occupancy_accepted++;
	vg_stations_on_occupancy(vg, b);
	vg_rfc3339(o.since_ms, since, sizeof(since));
	/* Ids of beds only: which patient is PostgreSQL's to say. */
	mosquitto_log_printf(MOSQ_LOG_INFO, "Vitalgate: bed %s/%s %s since %s (from %s)", ward, bed,
			o.vacant ? "vacant" : "occupied", since, by);
	return NULL;
}

int vg_occupancy_acl_write(struct vg_plugin *vg, const struct vg_ident *e, const struct mosquitto_evt_acl_check *ed)
{
	char ward[VG_ID_MAX + 1], bed[VG_ID_MAX + 1];
	const char *why;

	/* vg_acl_decide checked adt/<ward>/<bed>, both valid ids. */
	if(!ward_bed(ed->topic, ward, bed)){
		return MOSQ_ERR_ACL_DENIED;
	}
	why = take(vg, e->id, ward, bed, ed->payload, ed->payloadlen);
	if(why == NULL){
		return MOSQ_ERR_SUCCESS;
	}
	refused(vg, e->id, ward, bed, why);
	vg_audit_noisy(vg, VG_AUDIT_ACL_DENIED, e->id, mosquitto_client_id(ed->client), mosquitto_client_address(ed->client),
			"write adt/%s/%s: %s", ward, bed, why);
	return MOSQ_ERR_ACL_DENIED;
}

int vg_occupancy_message(struct vg_plugin *vg, const struct mosquitto_evt_message *ed)
{
	char ward[VG_ID_MAX + 1], bed[VG_ID_MAX + 1];
	const char *user = mosquitto_client_username(ed->client), *why;
	const struct vg_ident *e = user ? vg_idtable_find(&vg->ids.table, user) : NULL;
	const struct vg_session *ses = e ? vg_sessions_find(&vg->sessions, e->id) : NULL;

	if(e && e->role == VG_ROLE_SERVICE && ses && ses->live == ed->client){
		return MOSQ_ERR_SUCCESS;   /* taken (or refused) in its ACL check */
	}
	/* No ACL check saw it: Mosquitto exempts this broker's own outgoing
	 * bridges (a cell's bridge bringing the hub's adt/ in; the hub's ACL
	 * let it read only its wards'). Validated the same way; a refusal
	 * drops it (nobody to answer 0x87 to). */
	if(vg->cfg.mode == VG_MODE_HUB || !ward_bed(ed->topic, ward, bed)){
		char topic[128];
		vg_sanitize(topic, sizeof(topic), ed->topic);
		vg->stats.occupancy_refused++;
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: refused occupancy on \"%s\" from a client no ACL check saw", topic);
		return MOSQ_ERR_ACL_DENIED;
	}
	why = take(vg, "the hub (bridge)", ward, bed, ed->payload, ed->payloadlen);
	if(why){
		refused(vg, "the hub (bridge)", ward, bed, why);
		return MOSQ_ERR_ACL_DENIED;
	}
	return MOSQ_ERR_SUCCESS;
}

void vg_occupancy_restore(struct vg_plugin *vg, const struct vg_c_occupancy *c)
{
	struct vg_occupancy o;
	struct vg_bed *b;
	size_t i, taken = 0;

	for(i = 0; i < c->n; i++){
		b = vg_beds_get(&vg->beds, c->items[i].ward, c->items[i].bed, vg->alerts.cfg);
		if(b == NULL || b->occ != NULL){
			continue;
		}
		memset(&o, 0, sizeof(o));
		o.vacant = c->items[i].patient[0] == '\0';
		o.since_ms = c->items[i].since_ms;
		vg_strlcpy(o.patient, c->items[i].patient, sizeof(o.patient));
		vg_strlcpy(o.encounter, c->items[i].encounter, sizeof(o.encounter));
		vg_strlcpy(o.label, c->items[i].label, sizeof(o.label));
		if(vg_bed_set_occupancy(b, &o) > 0){
			taken++;
			vg_stations_on_occupancy(vg, b);
		}
	}
	mosquitto_log_printf(MOSQ_LOG_INFO, "Vitalgate: occupancy of %zu bed(s) restored from the database", taken);
}
