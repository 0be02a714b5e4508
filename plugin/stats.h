/*
 * stats: the plugin's figures, from one list (vg_stats_each), published
 * under $SYS/broker/vitalgate/... (retained, every stats_interval_s) and
 * rendered as Prometheus text and as the /health document for the metrics
 * endpoint (bridge/httpd.c serves them; vg_stats_render renders them).
 *
 * Thread: broker thread (TICK). Memory: renderers append to the caller's
 * vg_sbuf.
 */
#ifndef VG_STATS_H
#define VG_STATS_H

#include <stdint.h>

#include "vg_sbuf.h"

struct vg_plugin;

enum vg_fig_type { VG_FIG_COUNTER, VG_FIG_GAUGE, VG_FIG_HISTOGRAM };

/* One figure: its $SYS path (under $SYS/broker/vitalgate/), its Prometheus
 * name and optional label, and its value (scale converts it to the
 * Prometheus unit: ms -> s). An empty help continues the previous family. */
struct vg_fig {
	const char *sys;
	const char *prom;
	enum vg_fig_type type;
	const char *help;
	const char *lkey, *lval;
	uint64_t value;
	double scale;
};

void vg_stats_each(struct vg_plugin *vg, void (*fn)(void *ctx, const struct vg_fig *f), void *ctx);
void vg_stats_publish(struct vg_plugin *vg);
void vg_stats_prometheus(struct vg_plugin *vg, struct vg_sbuf *b);
/* Appends the /health JSON; returns the HTTP status (200 ok, 503 degraded). */
int vg_stats_health(struct vg_plugin *vg, struct vg_sbuf *b);
/* The metrics endpoint's render callback (vg_httpd_render_fn; ctx is the
 * plugin): /metrics or /health into b; returns the HTTP status. */
int vg_stats_render(void *ctx, int doc, struct vg_sbuf *b);

#endif
