/*
 * delivery: alert events to the webhook sender (bridge/webhook.c) and what
 * became of them back to the outbox: each final outcome is journalled (a
 * delivery record: the writer marks the event delivered or dead in
 * alert_events), events the sender's full queue refused stay pending and
 * are asked back from the outbox once it has room (redrive, through the
 * identity sync worker), and vitalgate-admin's webhook commands reach the
 * sender. The mirror sender's outcomes are only counted.
 *
 * Thread: broker thread (the ingest path and TICK). Memory: the sender
 * copies what it is given; the journal record is built in the plugin's
 * record scratch.
 */
#include "delivery.h"

#include <inttypes.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "idsync.h"
#include "vg_completion.h"
#include "vg_plugin.h"
#include "vg_util.h"
#include "webhook.h"

void vg_delivery_init(struct vg_delivery *d)
{
	vg_ratelimit_init(&d->full_log, 1, 10000);
}

void vg_delivery_submit(struct vg_plugin *vg, const struct vg_rec_event *ev)
{
	if(vg->workers.webhook == NULL){
		return;
	}
	if(vg_webhook_submit(vg->workers.webhook, ev->event_id.p, ev->order_key.p, ev->body.p, ev->body.n, ev->created_ms,
			ev->created_ms) != 0){
		vg->stats.webhook_queue_full++;
		vg->delivery.backlog = true;
		/* One line per 10 s at most: a storm would flood the log. */
		if(vg_ratelimit_take(&vg->delivery.full_log, vg_mono_ms(), NULL)){
			mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: webhook queue full; %s and any more events "
					"stay pending in alert_events and are redelivered when the queue has room "
					"(%" PRIu64 " so far; webhooks/queue_full)", ev->event_id.p, vg->stats.webhook_queue_full);
		}
	}
}

/* A webhook's final outcome goes to the outbox through the journal. */
void vg_delivery_outcome(struct vg_plugin *vg, const struct vg_c_webhook *w)
{
	struct vg_rec_delivery d;
	struct vg_wbuf b;

	if(w->channel == VG_WH_CHANNEL_MIRROR){
		vg->stats.mirror_delivered += w->outcome == VG_WH_DELIVERED;
		vg->stats.mirror_retries += w->outcome == VG_WH_RETRY;
		vg->stats.mirror_dead += w->outcome == VG_WH_DEAD || w->outcome == VG_WH_REFUSED;
		return;
	}
	switch(w->outcome){
		case VG_WH_RETRY:
			vg->stats.webhook_retries++;
			return;
		case VG_WH_GONE:
			vg->stats.webhook_gone++;
			return;
		case VG_WH_DELIVERED:
			vg->stats.webhook_delivered++;
			d.status = VG_DS_DELIVERED;
			break;
		case VG_WH_DEAD:
			vg->stats.webhook_dead++;
			d.status = VG_DS_DEAD;
			break;
		case VG_WH_REFUSED:
			/* A dead letter too (redrive works the same); counted apart. */
			vg->stats.webhook_refused++;
			d.status = VG_DS_DEAD;
			break;
		default:
			return;
	}
	d.event_id.p = w->event_id;
	d.event_id.n = strlen(w->event_id);
	d.attempts = (uint32_t)w->attempts;
	d.http = (int32_t)w->http_status;
	d.error.p = w->error;
	d.error.n = strlen(w->error);
	d.at_ms = vg_now_ms();
	if(vg->workers.journal == NULL){
		return; /* shutting down: the event stays pending in the outbox */
	}
	vg_wbuf_init(&b, vg->scratch.recbuf, vg->scratch.recbuf_cap);
	if(!vg_rec_encode_delivery(&b, &d)
			|| vg_journal_append_class(vg->workers.journal, VG_JOURNAL_CLASS_PRIORITY, VG_REC_DELIVERY, b.p, (uint32_t)b.len, NULL)
				!= VG_JOURNAL_OK){
		/* The event stays pending in the outbox: after a restart it is
		 * delivered again, which the receiver dedupes on webhook-id. */
		mosquitto_log_printf(MOSQ_LOG_WARNING, "Vitalgate: cannot journal the outcome of webhook %s", w->event_id);
	}
}

void vg_delivery_redeliver(struct vg_plugin *vg, const struct vg_c_redeliver *c)
{
	size_t i, queued = 0, refused = 0;

	for(i = 0; i < c->n; i++){
		if(vg->workers.webhook){
			if(vg_webhook_submit(vg->workers.webhook, c->items[i].event_id, c->items[i].order_key,
					c->items[i].body, c->items[i].len, c->items[i].created_ms, c->items[i].since_ms) == 0){
				queued++;
			}else{
				refused++;
			}
		}
	}
	if(refused){
		/* The queue filled up again (the endpoint is still failing): these
		 * stay pending in the outbox; ask again once there is room, or
		 * they would wait for the next restart. */
		vg->stats.webhook_queue_full += refused;
		vg->delivery.backlog = true;
		vg->delivery.redrive_ms = vg_mono_ms();
	}
	if(c->n){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: %zu pending alert event(s) from the outbox queued for delivery%s%s",
				queued, vg->workers.webhook ? "" : " (no webhook_url: they stay pending)",
				refused ? "; the rest waits for room in the queue" : "");
	}
}

void vg_delivery_command(struct vg_plugin *vg, const struct vg_c_webhook_cmd *c)
{
	if(c->enable && vg->workers.webhook){
		vg_webhook_enable(vg->workers.webhook);
	}
}

void vg_delivery_tick(struct vg_plugin *vg, int64_t now_mono_ms)
{
	/* Events the webhook queue refused stay pending in the outbox: once it
	 * has room again, have them read back (at most every 5 s). */
	if(vg->delivery.backlog && now_mono_ms - vg->delivery.redrive_ms >= 5000 && vg_webhook_has_room(vg->workers.webhook)){
		vg->delivery.backlog = false;
		vg->delivery.redrive_ms = now_mono_ms;
		vg_idsync_request_redrive(vg->workers.idsync);
	}
}
