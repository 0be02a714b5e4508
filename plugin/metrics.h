/*
 * metrics: HTTP endpoint serving /metrics (Prometheus) and /health; see
 * metrics.c. Thread: start/stop/tick on the broker thread.
 */
#ifndef VG_METRICS_H
#define VG_METRICS_H

#include <stddef.h>

struct vg_metrics;
struct vg_plugin;

/* Binds addr:port and starts the server thread. Returns 0, or -1 with a
 * message naming the option in err. */
int vg_metrics_start(struct vg_metrics **out, const char *addr, int port, char *err, size_t errlen);
/* TICK: renders the documents when a request is waiting for them. */
void vg_metrics_tick(struct vg_metrics *m, struct vg_plugin *vg);
void vg_metrics_stop(struct vg_metrics *m);

#endif
