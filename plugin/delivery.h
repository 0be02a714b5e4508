/*
 * delivery: alert events to the webhook sender and their outcomes back to
 * the outbox (see delivery.c).
 *
 * Thread: broker thread.
 */
#ifndef VG_DELIVERY_H
#define VG_DELIVERY_H

#include <stdbool.h>
#include <stdint.h>

#include "vg_ratelimit.h"
#include "vg_rec.h"

struct vg_plugin;

/* delivery.c's state. */
struct vg_delivery {
	bool backlog;                   /* the webhook queue refused events: redrive */
	int64_t redrive_ms;             /* when the last redrive was asked for */
	struct vg_ratelimit full_log;   /* "webhook queue full": once every 10 s */
};

void vg_delivery_init(struct vg_delivery *d);

struct vg_c_webhook;
struct vg_c_redeliver;
struct vg_c_webhook_cmd;

/* An emitted alert event goes to the webhook sender (with webhook_url). A
 * full queue leaves it pending in the outbox: counted, logged at most every
 * 10 s, and asked back later (vg_delivery_tick). */
void vg_delivery_submit(struct vg_plugin *vg, const struct vg_rec_event *ev);
/* TICK: a sender's outcome; a final one is journalled for the outbox. */
void vg_delivery_outcome(struct vg_plugin *vg, const struct vg_c_webhook *w);
/* TICK: pending outbox events read back (at start, on redrive). */
void vg_delivery_redeliver(struct vg_plugin *vg, const struct vg_c_redeliver *c);
/* TICK: a vitalgate-admin webhook command (enable after a 410). */
void vg_delivery_command(struct vg_plugin *vg, const struct vg_c_webhook_cmd *c);
/* TICK: asks for the refused events again once the queue has room. */
void vg_delivery_tick(struct vg_plugin *vg, int64_t now_mono_ms);

#endif
