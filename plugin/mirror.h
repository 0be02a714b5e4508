/*
 * mirror: during a migration, accepted samples are also sent to the legacy
 * Node.js ingest endpoint (plugin_opt_mirror_url), in signed batches
 * (Standard Webhooks, type "vitals.batch"), retried like webhooks. See
 * mirror.c and docs/cutover.md.
 *
 * Thread: broker thread.
 */
#ifndef VG_MIRROR_H
#define VG_MIRROR_H

#include <stdint.h>

#include "vg_ident.h"
#include "vg_ratelimit.h"
#include "vg_vitals.h"

struct vg_plugin;

/* mirror.c's state (the sender itself is a worker: vg_plugin.workers). */
struct vg_mirror {
	char *buf;                      /* the batch being built */
	size_t len;
	int count;
	int64_t start_ms;               /* monotonic start of the batch */
	int64_t start_wall_ms;
	uint64_t seq;
	struct vg_ratelimit drop_log;   /* "mirror queue full": once every 10 s */
};

/* At start, when mirror_url is set: the batch buffer and the sender.
 * Returns 0, or -1 with a message in err. */
int vg_mirror_start(struct vg_plugin *vg, char *err, size_t errlen);
/* Ingest, after the samples were journalled. */
void vg_mirror_on_samples(struct vg_plugin *vg, const struct vg_ident *e, const struct vg_sample *s, int n,
		int64_t now_ms);
/* TICK: sends the batch once it is 200 ms old. */
void vg_mirror_tick(struct vg_plugin *vg, int64_t now_ms);
/* Cleanup: sends what is buffered, then stops the sender (bounded). */
void vg_mirror_stop(struct vg_plugin *vg);

#endif
