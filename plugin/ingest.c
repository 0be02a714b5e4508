/*
 * ingest: samples published on vitals/<device>, taken in the ACL WRITE
 * check of the device's own topic (auth.c calls vg_ingest_acl_write): every
 * client publish and every will goes through that check, while Mosquitto
 * never calls MESSAGE for a will (docs/security.md). The MESSAGE callback
 * only refuses vitals/ from a client no ACL check saw.
 *
 * For each message: decode and validate (vg_vitals), drop what was already
 * accepted (per-device seq window), append the new samples to the journal
 * (a write(2) into the page cache: this is what makes the PUBACK safe), then
 * run alert detection. A rejected message returns MOSQ_ERR_ACL_DENIED, which
 * the device sees as reason 0x87 (QoS 1/2), and gets a JSON record on
 * devices/<device>/rejections plus a journalled row for the rejections
 * table. Nothing here waits on the database or the network.
 *
 * What a rejection costs the journal and the database is bounded per
 * device: a record keeps the first 512 bytes of the payload, its length and
 * SHA-256; each device may have rejection_records_per_min records a minute
 * (GCRA in its struct vg_device); beyond that its rejections are counted and
 * written as one summary record per device every 10 s; and rejection
 * records have their own journal budget (VG_JOURNAL_CLASS_REJECTION), so
 * no amount of invalid traffic takes the room samples and alerts need.
 *
 * Thread: broker thread. Memory: decode output, record and JSON buffers are
 * the plugin's reused scratch space; the only allocation is a device's
 * runtime state (devices.c) on its first sample (or first rejection).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "alerts.h"
#include "devices.h"
#include "ingest.h"
#include "mirror.h"
#include "occupancy.h"
#include "sessions.h"
#include "stations.h"
#include "vg_json.h"
#include "vg_plugin.h"
#include "vg_rec.h"
#include "vg_secret.h"
#include "vg_util.h"

#define REJ_SUMMARY_MS 10000   /* a device's uncounted rejections are summarised this often */

/* A message's record (its samples and every alert event they cause) always
 * fits the record scratch: a message is never refused for its alerts. */
_Static_assert(VG_MAX_BATCH * (4 + VG_FIELD_COUNT * 8) + 3 * (VG_ID_MAX + 2) + 16
		+ 1 + VG_ALERTS_MAX_PER_MESSAGE * (VG_ALERT_EVENT_MAX_BYTES + 32) <= VG_RECBUF_BYTES,
		"VG_RECBUF_BYTES holds any message with its alert events");

/* Logging every rejection of a misbehaving device would flood the log: at
 * most 20 lines a second, then one summary line. */
static bool log_budget(struct vg_plugin *vg, int64_t now_ms)
{
	unsigned long missed;
	bool take = vg_ratelimit_take(&vg->ingest.rej_log, now_ms, &missed);

	if(missed){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: %lu more rejection(s) not logged in the last second", missed);
	}
	return take;
}

int vg_ingest_init(struct vg_ingest *in, const struct vg_time_policy *tp)
{
	vg_ratelimit_init(&in->rej_log, 20, 1000);
	return vg_decoder_init(&in->dec, tp);
}

void vg_ingest_free(struct vg_ingest *in)
{
	vg_decoder_free(&in->dec);
}

bool vg_ward_in_shadow(const struct vg_plugin *vg, const char *ward)
{
	size_t i;

	for(i = 0; i < vg->cfg.nshadow; i++){
		if(!strcmp(vg->cfg.shadow[i], ward)){
			return true;
		}
	}
	return false;
}

/* The device's budget of rejection records (GCRA): rejection_records_per_min
 * a minute, in bursts of as many. */
static bool rejection_budget_take(const struct vg_plugin *vg, struct vg_device *dev, int64_t mono_ms)
{
	int64_t rate = vg->cfg.rejection_records_per_min;
	int64_t t = 60000 / rate, tau = (rate - 1) * t;
	int64_t tat = dev->rej_tat_ms > mono_ms ? dev->rej_tat_ms : mono_ms;

	if(t < 1){
		t = 1;
	}
	if(tat - mono_ms > tau){
		return false;
	}
	dev->rej_tat_ms = tat + t;
	return true;
}

static void count_unrecorded(struct vg_plugin *vg, struct vg_device *dev, enum vg_reason reason, int64_t now_ms)
{
	if(dev->rej_unrecorded == 0){
		dev->rej_unrecorded_ms = now_ms;
		vg->ingest.rej_pending++;
	}
	if(dev->rej_unrecorded < UINT32_MAX){
		dev->rej_unrecorded++;
	}
	dev->rej_reasons |= 1u << reason;
}

/* The rejections table's row for this rejection, through the journal:
 * within the device's budget, a record with the first bytes of the
 * payload, its length and hash (rejection class); otherwise a count for
 * the device's next summary. */
static void record_rejection(struct vg_plugin *vg, struct vg_ident *e, const struct vg_verdict *v,
		const void *payload, size_t len, int64_t now_ms)
{
	struct vg_device *dev = vg_devices_get(&vg->devices, e->id);
	uint8_t sha[VG_HASH_LEN];
	struct vg_wbuf w;
	int rc = VG_JOURNAL_TOOBIG;

	if(dev != NULL && !rejection_budget_take(vg, dev, vg_mono_ms())){
		vg->stats.rejections_rate_limited++;
		if(dev->rej_unrecorded == 0 && log_budget(vg, now_ms)){
			mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: %s sends more than %" PRId64 " rejected messages a minute; "
					"further rejections are counted and summarised every %d s", e->id,
					vg->cfg.rejection_records_per_min, REJ_SUMMARY_MS / 1000);
		}
		count_unrecorded(vg, dev, v->reason, now_ms);
		return;
	}
	vg_wbuf_init(&w, vg->scratch.recbuf, vg->scratch.recbuf_cap);
	if(vg_hasher_sha256(vg->scratch.hasher, payload, len, sha) == 0
			&& vg_rec_encode_rejection(&w, e->id, now_ms, v, payload, len, sha)){
		rc = vg_journal_append_class(vg->workers.journal, VG_JOURNAL_CLASS_REJECTION, VG_REC_REJECTION, w.p,
				(uint32_t)w.len, NULL);
	}
	if(rc != VG_JOURNAL_OK){
		vg->stats.journal_unrecorded_rejections++;
		if(dev != NULL){
			count_unrecorded(vg, dev, v->reason, now_ms);
		}
	}
}

void vg_ingest_rejection_summaries(struct vg_plugin *vg, int64_t now_ms, bool all)
{
	struct vg_rec_rejection_summary sum;
	struct vg_wbuf w;
	struct vg_device *dev;
	const char *id;
	size_t pos = 0;
	uint64_t pending = 0;

	if(vg->ingest.rej_pending == 0 || vg->workers.journal == NULL){
		return;
	}
	while((dev = vg_devices_next(&vg->devices, &pos, &id)) != NULL){
		if(dev->rej_unrecorded == 0){
			continue;
		}
		if(!all && now_ms - dev->rej_unrecorded_ms < REJ_SUMMARY_MS){
			pending++;
			continue;
		}
		sum.device.p = id;
		sum.device.n = strlen(id);
		sum.from_ms = dev->rej_unrecorded_ms;
		sum.to_ms = now_ms;
		sum.count = dev->rej_unrecorded;
		sum.reasons = dev->rej_reasons;
		vg_wbuf_init(&w, vg->scratch.recbuf, vg->scratch.recbuf_cap);
		if(!vg_rec_encode_rejection_summary(&w, &sum)
				|| vg_journal_append_class(vg->workers.journal, VG_JOURNAL_CLASS_REJECTION, VG_REC_REJECTION_SUMMARY, w.p,
					(uint32_t)w.len, NULL) != VG_JOURNAL_OK){
			pending++;   /* no room yet: counted on, tried again */
			continue;
		}
		vg->stats.rejection_summaries++;
		dev->rej_unrecorded = 0;
		dev->rej_reasons = 0;
	}
	/* Recounted: a device removed with its count pending stops counting. */
	vg->ingest.rej_pending = pending;
}

int vg_ingest_reject(struct vg_plugin *vg, struct vg_ident *e, const struct vg_verdict *v,
		const void *payload, size_t len, int64_t now_ms)
{
	const char *device = e->id;
	struct vg_json j;
	char topic[VG_ID_MAX + 32];
	char ts[32];

	/* Cutover (docs/cutover.md): a ward in shadow mode sees what enforcing
	 * would refuse, without refusing it. Backpressure and internal errors
	 * are not verdicts on the sample: the device must still keep and resend. */
	if(e->ward[0] && v->reason != VG_R_BACKPRESSURE && v->reason != VG_R_INTERNAL && vg_ward_in_shadow(vg, e->ward)){
		vg->stats.shadow_passed[v->reason]++;
		if(log_budget(vg, now_ms)){
			mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: shadow ward %s: would have rejected message from %s: %s%s%s "
					"(delivered, not stored)", e->ward, device, vg_reason_name(v->reason),
					v->field_name[0] ? " field " : "", v->field_name[0] ? v->field_name : "");
		}
		return MOSQ_ERR_SUCCESS;
	}
	vg->stats.rejected[v->reason]++;

	vg_json_init(&j, vg->scratch.jsonbuf, vg->scratch.jsonbuf_cap);
	vg_json_obj_open(&j);
	if(v->has_seq){
		vg_json_u64(&j, "seq", v->seq);
	}else{
		vg_json_null(&j, "seq");
	}
	vg_json_str(&j, "reason", vg_reason_name(v->reason));
	if(v->field_name[0]){
		vg_json_str(&j, "field", v->field_name);
	}else{
		vg_json_null(&j, "field");
	}
	vg_json_str(&j, "detail", v->detail);
	if(v->index >= 0){
		vg_json_i64(&j, "batch_index", v->index);
	}
	vg_rfc3339(now_ms, ts, sizeof(ts));
	vg_json_str(&j, "received_at", ts);
	vg_json_obj_close(&j);
	snprintf(topic, sizeof(topic), "devices/%s/rejections", device);
	if(vg_json_ok(&j)){
		/* QoS 1 so a connected device does not miss the reason. */
		mosquitto_broker_publish_copy(NULL, topic, (int)j.len, j.buf, 1, false, NULL);
	}

	/* Audit row in the rejections table, through the journal, within the
	 * device's budget. When the journal itself is the problem
	 * (backpressure) there is nowhere durable to put it: count it. */
	if(v->reason != VG_R_BACKPRESSURE){
		record_rejection(vg, e, v, payload, len, now_ms);
	}else{
		vg->stats.journal_unrecorded_rejections++;
	}
	if(log_budget(vg, now_ms)){
		/* No detail here: it may quote measured values, and logs carry ids
		 * only (docs/security.md). */
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: rejected message from %s: %s%s%s", device,
				vg_reason_name(v->reason), v->field_name[0] ? " field " : "", v->field_name[0] ? v->field_name : "");
	}
	return MOSQ_ERR_ACL_DENIED;
}

/* Why the journal refused the samples. Everything but an encoding error is
 * `backpressure`: the device keeps the sample and sends it again later. */
static void append_refusal(struct vg_verdict *v, int rc)
{
	v->reason = VG_R_BACKPRESSURE;
	switch(rc){
		case VG_JOURNAL_FULL:
			snprintf(v->detail, sizeof(v->detail), "the broker's journal is full (database unreachable?); keep the sample and retry");
			break;
		case VG_JOURNAL_NOSPACE:
			snprintf(v->detail, sizeof(v->detail), "the broker's journal disk is full; keep the sample and retry");
			break;
		case VG_JOURNAL_UNSAFE:
			snprintf(v->detail, sizeof(v->detail), "the broker's journal disk failed to sync; nothing is accepted until "
					"it is safe again: keep the sample and retry");
			break;
		default:
			v->reason = VG_R_INTERNAL;
			snprintf(v->detail, sizeof(v->detail), "the broker could not journal the sample; keep it and retry");
			break;
	}
}

int vg_ingest_message_cb(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_message *ed = event_data;
	struct vg_plugin *vg = userdata;
	const struct vg_ident *e;
	const struct vg_session *ses;

	(void)event;
	if(!strncmp(ed->topic, "adt/", 4)){
		return vg_occupancy_message(vg, ed);
	}
	if(strncmp(ed->topic, "vitals/", 7) != 0){
		return MOSQ_ERR_SUCCESS; /* not ours; ACL decided whether it may pass */
	}
	/* The sample was ingested by the ACL check (vg_ingest_acl_write),
	 * which every client publish passes. Only a client Mosquitto exempts
	 * from ACL checks (an outgoing bridge of this broker) gets here
	 * otherwise: it is no device's live session. */
	e = vg_idtable_find(&vg->ids.table, ed->topic + 7);
	ses = e ? vg_sessions_find(&vg->sessions, e->id) : NULL;
	if(e == NULL || e->role != VG_ROLE_DEVICE || ses == NULL || ses->live != ed->client){
		return MOSQ_ERR_ACL_DENIED;
	}
	return MOSQ_ERR_SUCCESS;
}

int vg_ingest_acl_write(struct vg_plugin *vg, struct vg_ident *e, const struct mosquitto_evt_acl_check *ed)
{
	struct vg_device *dev;
	struct vg_verdict v;
	struct vg_wbuf w;
	enum vg_reason r;
	int n = 0, i, nnew = 0;
	uint8_t flags = 0;
	int64_t now_ms;
	int rc, arc;
	struct vg_alert_snap snap;

	now_ms = vg_now_ms();
	r = vg_vitals_decode(&vg->ingest.dec, ed->payload, ed->payloadlen, now_ms, vg->ingest.samples, &n, &v);
	if(r != VG_R_OK){
		return vg_ingest_reject(vg, e, &v, ed->payload, ed->payloadlen, now_ms);
	}
	dev = vg_devices_get(&vg->devices, e->id);
	if(dev == NULL){
		memset(&v, 0, sizeof(v));
		v.reason = VG_R_INTERNAL;
		v.field = -1;
		v.index = -1;
		snprintf(v.detail, sizeof(v.detail), "broker out of memory; retry later");
		return vg_ingest_reject(vg, e, &v, ed->payload, ed->payloadlen, now_ms);
	}

	/* Keep only samples not accepted before; a QoS retransmit or a device
	 * resend is acknowledged and stored once. */
	for(i = 0; i < n; i++){
		enum vg_seq_class c = vg_device_seq_classify(dev, vg->ingest.samples[i].val[VG_F_SEQ].u);
		if(c == VG_SEQ_DUP){
			continue;
		}
		if(c == VG_SEQ_UNPROVEN){
			flags |= VG_REC_F_NEEDS_CHECK;
		}
		if(nnew != i){
			vg->ingest.samples[nnew] = vg->ingest.samples[i];
		}
		nnew++;
	}
	if(nnew == 0){
		vg->stats.duplicate_samples += (uint64_t)n;
		return MOSQ_ERR_SUCCESS;
	}

	/* Alerts first, on a snapshot: the samples that raise, update or
	 * resolve an alert are journalled together with those events (and in
	 * the priority class, so alerts and their inputs are not the first
	 * thing a full journal refuses). If evaluation or the append fails,
	 * nothing happened: the state goes back to the snapshot and the device
	 * keeps the message and resends it. */
	vg_alerts_snapshot(vg, e, dev, &snap);
	dev->last_seen_ms = now_ms;
	dev->disconnected_ms = 0;
	arc = vg_alerts_on_samples(vg, e, dev, vg->ingest.samples, nnew, now_ms);

	rc = VG_JOURNAL_OK;
	if(arc == MOSQ_ERR_SUCCESS){
		vg_wbuf_init(&w, vg->scratch.recbuf, vg->scratch.recbuf_cap);
		rc = vg_rec_encode_samples_events(&w, e->id, e->ward, e->bed, now_ms, flags, vg->ingest.samples, nnew, vg->alerts.ev, vg->alerts.nev)
			? vg_journal_append_class(vg->workers.journal, vg->alerts.nev ? VG_JOURNAL_CLASS_PRIORITY : VG_JOURNAL_CLASS_BULK,
					VG_REC_SAMPLES, w.p, (uint32_t)w.len, NULL)
			: VG_JOURNAL_TOOBIG;
	}
	if(arc != MOSQ_ERR_SUCCESS || rc != VG_JOURNAL_OK){
		vg_alerts_restore(vg, e, dev, &snap);
		memset(&v, 0, sizeof(v));
		v.field = -1;
		v.index = -1;
		v.has_seq = true;
		v.seq = vg->ingest.samples[0].val[VG_F_SEQ].u;
		if(arc != MOSQ_ERR_SUCCESS){
			v.reason = VG_R_INTERNAL;
			snprintf(v.detail, sizeof(v.detail), "the broker could not record this message's alerts; keep it and retry");
			if(log_budget(vg, now_ms)){
				mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: cannot record the alert events of a message from %s (%s); "
						"refused, the device resends it", e->id, arc == MOSQ_ERR_NOMEM ? "out of memory" : "event scratch full");
			}
		}else{
			append_refusal(&v, rc);
		}
		return vg_ingest_reject(vg, e, &v, ed->payload, ed->payloadlen, now_ms);
	}

	vg_device_seq_accept(dev, vg->ingest.samples, nnew);
	vg->stats.accepted_msgs++;
	vg->stats.accepted_samples += (uint64_t)nnew;
	vg->stats.duplicate_samples += (uint64_t)(n - nnew);
	vg_alerts_emit(vg);
	vg_alerts_note_cleared(vg, e, dev, &snap);
	vg_stations_on_samples(vg, e, &dev->bed, vg->ingest.samples, nnew, now_ms);
	vg_mirror_on_samples(vg, e, vg->ingest.samples, nnew, now_ms);
	return MOSQ_ERR_SUCCESS;
}
