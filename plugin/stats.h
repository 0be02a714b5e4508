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
#include "vg_vitals.h"

struct vg_plugin;

/* Counters, broker thread only: every module counts its own events here;
 * stats.c reports them ($SYS, /metrics, /health). */
struct vg_stats {
	uint64_t accepted_msgs;
	uint64_t accepted_samples;
	uint64_t duplicate_samples;
	uint64_t rejected[VG_R__COUNT];
	uint64_t auth_ok;
	uint64_t auth_fail;
	uint64_t acl_denied;
	uint64_t alerts_raised;
	uint64_t alerts_updated;
	uint64_t alerts_resolved;
	uint64_t alerts_coalesced;      /* transitions inside one message folded into its net events */
	uint64_t alerts_acknowledged;   /* alert.acknowledged events */
	uint64_t alerts_escalated;      /* alert.escalated events */
	uint64_t acks_repeated;         /* acks of an alert acknowledged already (accepted, no change) */
	uint64_t acks_refused;          /* acks refused with 0x87 */
	uint64_t webhook_dead;          /* dead-lettered: undelivered for webhook_dead_after_s */
	uint64_t webhook_refused;       /* dead-lettered: refused webhook_max_rejects times */
	uint64_t webhook_gone;
	uint64_t webhook_delivered;
	uint64_t webhook_retries;
	uint64_t webhook_queue_full;
	uint64_t journal_unrecorded_rejections;  /* no room in the journal (or backpressure) */
	uint64_t rejections_rate_limited;        /* over the device's rejection_records_per_min */
	uint64_t rejection_summaries;
	uint64_t auth_throttled;
	uint64_t kicks;
	uint64_t bed_updates;
	uint64_t frames;
	uint64_t frame_bytes;
	uint64_t audit_events;
	uint64_t audit_unrecorded;
	uint64_t completion_refused_reported;
	uint64_t connected[8];          /* gauge, by enum vg_role (live sessions) */
	uint64_t mirror_delivered;
	uint64_t mirror_retries;
	uint64_t mirror_dead;
	uint64_t mirror_dropped;
	uint64_t mirror_samples;
	uint64_t reloads;
	uint64_t reloads_refused;
	uint64_t shadow_passed[VG_R__COUNT]; /* shadow wards: would have been rejected */
	uint64_t occupancy_accepted;    /* adt/<ward>/<bed> messages taken (a change of the bed's state) */
	uint64_t occupancy_refused;     /* adt/<ward>/<bed> messages refused (0x87) */
	uint64_t vacant_samples;        /* samples of beds the core declared vacant (stored, no alert) */
};

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
