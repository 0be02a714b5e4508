/*
 * alerts: threshold alerts on heart rate (the walking skeleton's alert):
 * raised when hr reaches the NEWS2 score-3 band (>= alert_hr_high or <=
 * alert_hr_low, defaults 131 and 40), resolved when hr is back inside the
 * band by a hysteresis margin of 5 /min, so a value wobbling at the edge
 * does not flap. One event per transition, never one per sample.
 *
 * An event is a JSON body {"type", "timestamp", "data"} sent to the webhook
 * worker (signed there) and published on wards/<ward>/alerts. Its
 * webhook-id is derived from the alert and the transition, so it is the
 * same on every retry.
 *
 * Thread: broker thread. Memory: builds JSON in the plugin's scratch
 * buffer; the webhook worker copies it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "alerts.h"
#include "ingest.h"
#include "vg_json.h"
#include "vg_plugin.h"
#include "vg_secret.h"
#include "vg_util.h"
#include "webhook.h"

#define HR_HYSTERESIS 5

static void emit(struct vg_plugin *vg, const struct vg_ident *e, const char *type, const char *alert_id,
		const struct vg_sample *s, const char *direction, int64_t threshold, int64_t now_ms)
{
	struct vg_json j;
	char ts[32], measured[32], key[160], event_id[40], digest[33];
	char topic[VG_ID_MAX + 16];
	bool assigned = e->ward[0] != '\0';
	int rc;

	snprintf(key, sizeof(key), "%s:%s", alert_id, type);
	if(vg_digest_hex(key, strlen(key), digest, 32) != 0){
		return;
	}
	snprintf(event_id, sizeof(event_id), "evt_%s", digest);
	vg_rfc3339(now_ms, ts, sizeof(ts));
	vg_rfc3339(s->val[VG_F_TS].i, measured, sizeof(measured));

	vg_json_init(&j, vg->jsonbuf, vg->jsonbuf_cap);
	vg_json_obj_open(&j);
	vg_json_str(&j, "type", type);
	vg_json_str(&j, "timestamp", ts);
	vg_json_obj_open_key(&j, "data");
	vg_json_str(&j, "alert_id", alert_id);
	vg_json_str(&j, "kind", "threshold");
	vg_json_str(&j, "vital", "hr");
	vg_json_u64(&j, "value", s->val[VG_F_HR].u);
	vg_json_str(&j, "unit", "/min");
	vg_json_str(&j, "direction", direction);
	vg_json_i64(&j, "threshold", threshold);
	vg_json_str(&j, "severity", strcmp(type, "alert.resolved") ? "high" : "none");
	vg_json_str(&j, "device_id", e->id);
	vg_json_str(&j, "ward", assigned ? e->ward : NULL);
	vg_json_str(&j, "bed", assigned ? e->bed : NULL);
	vg_json_u64(&j, "seq", s->val[VG_F_SEQ].u);
	vg_json_str(&j, "measured_at", measured);
	vg_json_obj_close(&j);
	vg_json_obj_close(&j);
	if(!vg_json_ok(&j)){
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: alert event for %s too large, not sent", e->id);
		return;
	}
	if(assigned){
		snprintf(topic, sizeof(topic), "wards/%s/alerts", e->ward);
		mosquitto_broker_publish_copy(NULL, topic, (int)j.len, j.buf, 1, false, NULL);
	}
	if(vg->webhook){
		snprintf(key, sizeof(key), "%s/%s", assigned ? e->ward : "-", assigned ? e->bed : e->id);
		rc = vg_webhook_submit(vg->webhook, event_id, key, j.buf, j.len);
		if(rc != 0){
			vg->stats.webhook_queue_full++;
			mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: webhook queue full, %s %s not queued", type, event_id);
		}
	}
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: %s %s for %s (%s)", type, alert_id, e->id, event_id);
}

void vg_alerts_on_samples(struct vg_plugin *vg, struct vg_ident *e, const struct vg_sample *s, int n, int64_t now_ms)
{
	struct vg_devrt *rt = e->rt;
	int i;

	if(rt == NULL){
		return;
	}
	for(i = 0; i < n; i++){
		uint64_t hr;
		bool high, low;

		if(!VG_SAMPLE_HAS(&s[i], VG_F_HR)){
			continue;
		}
		hr = s[i].val[VG_F_HR].u;
		high = hr >= (uint64_t)vg->cfg.alert_hr_high;
		low = hr <= (uint64_t)vg->cfg.alert_hr_low;
		if(!rt->hr_alert_active && (high || low)){
			rt->hr_alert_active = true;
			rt->hr_alert_seq = s[i].val[VG_F_SEQ].u;
			snprintf(rt->hr_alert_id, sizeof(rt->hr_alert_id), "%s-hr-%" PRIu64, e->id, rt->hr_alert_seq);
			vg->stats.alerts_raised++;
			emit(vg, e, "alert.raised", rt->hr_alert_id, &s[i], high ? "high" : "low",
					high ? vg->cfg.alert_hr_high : vg->cfg.alert_hr_low, now_ms);
		}else if(rt->hr_alert_active
				&& hr + HR_HYSTERESIS < (uint64_t)vg->cfg.alert_hr_high
				&& hr > (uint64_t)vg->cfg.alert_hr_low + HR_HYSTERESIS){
			rt->hr_alert_active = false;
			vg->stats.alerts_resolved++;
			emit(vg, e, "alert.resolved", rt->hr_alert_id, &s[i], "none", 0, now_ms);
		}
	}
}
