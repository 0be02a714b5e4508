/*
 * stats: $SYS publication of the counters in struct vg_stats (see
 * stats.h). Thread: broker thread. Memory: small stack buffers; payloads
 * are copied by mosquitto_broker_publish_copy.
 */
#include "stats.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "pgwriter.h"
#include "vg_plugin.h"

static void put(const char *topic, uint64_t value)
{
	char t[128], v[24];
	int n;

	snprintf(t, sizeof(t), "$SYS/broker/vitalgate/%s", topic);
	n = snprintf(v, sizeof(v), "%" PRIu64, value);
	mosquitto_broker_publish_copy(NULL, t, n, v, 0, true, NULL);
}

void vg_stats_publish(struct vg_plugin *vg)
{
	const struct vg_stats *s = &vg->stats;
	char topic[64];
	int r;

	put("samples/accepted", s->accepted_samples);
	put("samples/duplicate", s->duplicate_samples);
	put("messages/accepted", s->accepted_msgs);
	for(r = VG_R_OK + 1; r < VG_R__COUNT; r++){
		snprintf(topic, sizeof(topic), "rejected/%s", vg_reason_name((enum vg_reason)r));
		put(topic, s->rejected[r]);
	}
	put("auth/ok", s->auth_ok);
	put("auth/failed", s->auth_fail);
	put("auth/throttled", s->auth_throttled);
	put("acl/denied", s->acl_denied);
	put("clients/kicked", s->kicks);
	put("stations/bed_updates", s->bed_updates);
	put("alerts/raised", s->alerts_raised);
	put("alerts/updated", s->alerts_updated);
	put("alerts/resolved", s->alerts_resolved);
	put("webhooks/delivered", s->webhook_delivered);
	put("webhooks/retries", s->webhook_retries);
	put("webhooks/dead", s->webhook_dead);
	put("webhooks/gone", s->webhook_gone);
	put("webhooks/queue_full", s->webhook_queue_full);
	put("audit/events", s->audit_events);
	put("audit/unrecorded", s->audit_unrecorded);
	put("journal/bytes", vg_journal_disk_bytes(vg->journal));
	if(vg->writer){
		struct vg_pgwriter_stats w;
		vg_pgwriter_get_stats(vg->writer, &w);
		put("writer/rows", w.rows_committed);
		put("writer/duplicates", w.rows_duplicate);
		put("writer/rejections", w.rejections_committed);
		put("writer/audit", w.audit_committed);
		put("writer/batches", w.batches);
		put("writer/failures", w.batch_failures);
		put("writer/last_batch_ms", (uint64_t)(w.last_batch_ms > 0 ? w.last_batch_ms : 0));
		put("writer/lag_ms", (uint64_t)(w.lag_ms > 0 ? w.lag_ms : 0));
	}
	put("database/up", vg->db_up ? 1 : 0);
	put("identities", vg->ids.count);
}
