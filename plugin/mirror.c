/*
 * mirror: batches accepted samples for the legacy Node.js ingest endpoint.
 *
 * The broker thread appends each accepted sample as a JSON object (the
 * bed-vitals shape, common/vg_sample_json.c) to one preallocated buffer; TICK sends
 * the batch when it is 200 ms old (or at once when the buffer is full) as
 *   {"type":"vitals.batch","timestamp":...,"data":{"samples":[...]}}
 * through a second webhook sender (bridge/webhook.c, channel "mirror"):
 * signed with the mirror secrets, retried with backoff, given up after
 * webhook_dead_after_s, in order (one lane). The mirror is a migration aid,
 * not the record: PostgreSQL is. When its queue is full (the endpoint has
 * been down long enough to fill queue_capacity batches) a batch is dropped,
 * counted (mirror/dropped) and logged at most every 10 s; nothing is kept
 * past a restart.
 *
 * Thread: broker thread; the sender's worker owns what is submitted.
 * Memory: one buffer of MIRROR_BUF bytes while mirroring.
 */
#include "mirror.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "vg_json.h"
#include "vg_plugin.h"
#include "vg_sample_json.h"
#include "webhook.h"

#define MIRROR_BUF (512 * 1024)
#define MIRROR_AGE_MS 200
#define MIRROR_TAIL "]}}"

int vg_mirror_start(struct vg_plugin *vg, char *err, size_t errlen)
{
	struct vg_webhook_opts o;

	vg->mirror.buf = malloc(MIRROR_BUF);
	if(vg->mirror.buf == NULL){
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memset(&o, 0, sizeof(o));
	o.url = vg->cfg.mirror_url;
	o.secret_file = vg->cfg.mirror_secret_file ? vg->cfg.mirror_secret_file : vg->cfg.webhook_secret_file;
	o.ca_file = vg->cfg.webhook_ca_file;
	o.timeout_ms = (long)vg->cfg.webhook_timeout_ms;
	o.parallel = 1;
	o.queue_capacity = (size_t)vg->cfg.queue_capacity;
	o.dead_after_ms = vg->cfg.webhook_dead_after_s * 1000;
	o.backoff_max_ms = vg->cfg.webhook_backoff_max_s * 1000;
	o.max_rejects = (int)vg->cfg.webhook_max_rejects;
	o.completions = &vg->workers.completions;
	o.channel = VG_WH_CHANNEL_MIRROR;
	return vg_webhook_start(&vg->workers.mirror, &o, err, errlen);
}

static void flush(struct vg_plugin *vg, int64_t now_ms)
{
	char id[64];
	int rc;

	if(vg->mirror.count == 0){
		return;
	}
	memcpy(vg->mirror.buf + vg->mirror.len, MIRROR_TAIL, sizeof(MIRROR_TAIL)); /* room kept by append */
	vg->mirror.len += sizeof(MIRROR_TAIL) - 1;
	snprintf(id, sizeof(id), "msg_mirror_%" PRIx64 "_%" PRIu64, (uint64_t)vg->mirror.start_wall_ms, ++vg->mirror.seq);
	rc = vg_webhook_submit(vg->workers.mirror, id, "mirror", vg->mirror.buf, vg->mirror.len, now_ms, now_ms);
	if(rc != VG_QUEUE_OK){
		vg->stats.mirror_dropped++;
		if(vg_ratelimit_take(&vg->mirror.drop_log, now_ms, NULL)){
			mosquitto_log_printf(MOSQ_LOG_WARNING, "Vitalgate: mirror queue full (the legacy endpoint is not keeping "
					"up); dropped a batch of %d sample(s) (%" PRIu64 " batches dropped so far; the samples are in PostgreSQL)",
					vg->mirror.count, vg->stats.mirror_dropped);
		}
	}
	vg->mirror.len = 0;
	vg->mirror.count = 0;
}

/* Starts a batch: the envelope up to the samples array. */
static void open_batch(struct vg_plugin *vg, int64_t now_ms)
{
	char ts[32];

	vg_rfc3339(now_ms, ts, sizeof(ts));
	vg->mirror.len = (size_t)snprintf(vg->mirror.buf, MIRROR_BUF, "{\"type\":\"vitals.batch\",\"timestamp\":\"%s\",\"data\":{\"samples\":[", ts);
	vg->mirror.start_ms = vg_mono_ms();
	vg->mirror.start_wall_ms = now_ms;
}

static bool append(struct vg_plugin *vg, const struct vg_ident *e, const struct vg_sample *s, int64_t now_ms)
{
	struct vg_json j;
	size_t comma = vg->mirror.count > 0 ? 1 : 0;

	if(vg->mirror.count == 0){
		open_batch(vg, now_ms);
	}
	/* Room for a comma, this sample, the closing tail and its NUL. */
	vg_json_init(&j, vg->mirror.buf + vg->mirror.len + comma, MIRROR_BUF - vg->mirror.len - comma - sizeof(MIRROR_TAIL));
	vg_json_obj_open(&j);
	vg_sample_json_write(&j, e->id, e->ward, e->bed, s, now_ms);
	vg_json_obj_close(&j);
	if(!vg_json_ok(&j)){
		return false;
	}
	if(comma){
		vg->mirror.buf[vg->mirror.len] = ',';
	}
	vg->mirror.len += comma + j.len;
	vg->mirror.count++;
	return true;
}

void vg_mirror_on_samples(struct vg_plugin *vg, const struct vg_ident *e, const struct vg_sample *s, int n,
		int64_t now_ms)
{
	int i;

	if(vg->workers.mirror == NULL){
		return;
	}
	for(i = 0; i < n; i++){
		if(!append(vg, e, &s[i], now_ms)){
			flush(vg, now_ms);
			if(!append(vg, e, &s[i], now_ms)){
				continue; /* cannot happen: one sample is far below the buffer */
			}
		}
		vg->stats.mirror_samples++;
	}
}

void vg_mirror_tick(struct vg_plugin *vg, int64_t now_ms)
{
	if(vg->workers.mirror && vg->mirror.count > 0 && vg_mono_ms() - vg->mirror.start_ms >= MIRROR_AGE_MS){
		flush(vg, now_ms);
	}
}

void vg_mirror_stop(struct vg_plugin *vg)
{
	if(vg->workers.mirror){
		flush(vg, vg_now_ms());
		vg_webhook_stop(vg->workers.mirror, 2000);
		vg->workers.mirror = NULL;
	}
	free(vg->mirror.buf);
	vg->mirror.buf = NULL;
}
