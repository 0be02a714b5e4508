/*
 * vg_plugin: the one struct holding all of the plugin's state, passed as
 * userdata to every callback (no file-level globals).
 *
 * Thread: fields marked (broker) are touched only on the broker thread;
 * queues and worker handles are thread-safe by construction.
 */
#ifndef VG_PLUGIN_H
#define VG_PLUGIN_H

#include <stdbool.h>
#include <stdint.h>

#include <mosquitto_broker.h>

#include "config.h"
#include "alerts.h"
#include "beds.h"
#include "devices.h"
#include "vg_idtable.h"
#include "sessions.h"
#include "throttle.h"
#include "vg_rec.h"
#include "vg_smap.h"
#include "vg_crl.h"
#include "vg_journal.h"
#include "vg_queue.h"
#include "vg_ratelimit.h"
#include "vg_secret.h"
#include "vg_vitals.h"

#define VG_MAX_KICKS 1024
#define VG_AUDIT_BUF_BYTES (64 * 1024)
#define VG_AUDIT_BUF_RECORDS 256
#define VG_EVBUF_BYTES (96 * 1024)
#define VG_RECBUF_BYTES (64 * 1024)

struct vg_kick {
	char client_id[VG_ID_MAX + 1];
	char why[64];
};

struct vg_pgwriter;
struct vg_idsync;
struct vg_webhook;
struct vg_httpd;

/* Counters, broker thread only (reported by TICK and, later, metrics). */
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
	uint64_t audit_events;
	uint64_t audit_unrecorded;
	uint64_t completion_refused_reported;
	uint64_t connected[4];          /* gauge, by enum vg_role (live sessions) */
	uint64_t mirror_delivered;
	uint64_t mirror_retries;
	uint64_t mirror_dead;
	uint64_t mirror_dropped;
	uint64_t mirror_samples;
	uint64_t reloads;
	uint64_t reloads_refused;
	uint64_t shadow_passed[VG_R__COUNT]; /* shadow wards: would have been rejected */
};

struct vg_plugin {
	mosquitto_plugin_id_t *pid;
	struct vg_config cfg;

	struct vg_idtable ids;          /* (broker) */
	bool ids_loaded;                /* (broker) identities known (cache or database) */
	bool ids_synced;                /* (broker) a database snapshot applied this run */
	struct vg_sessions sessions;    /* (broker) per identity: live session, login budgets */
	struct vg_devices devices;      /* (broker) per device: seq window, last seen, alert states */
	struct vg_hasher *hasher;       /* (broker) */
	struct vg_decoder dec;          /* (broker) */
	struct vg_sample samples[VG_MAX_BATCH]; /* (broker) decode output */
	uint8_t *recbuf;                /* (broker) journal record scratch */
	size_t recbuf_cap;
	char *jsonbuf;                  /* (broker) JSON scratch */
	size_t jsonbuf_cap;

	struct vg_journal *journal;     /* append: broker thread */
	struct vg_queue completions;    /* workers -> TICK */
	struct vg_pgwriter *writer;
	struct vg_idsync *idsync;
	struct vg_webhook *webhook;     /* NULL without webhook_url */
	struct vg_webhook *mirror;      /* NULL without mirror_url */
	struct vg_httpd *metrics;       /* the /metrics and /health endpoint, NULL without metrics_port */
	char *mbuf;                     /* (broker) mirror batch being built */
	size_t mlen;
	int mcount;
	int64_t mstart_ms;              /* (broker) monotonic start of the batch */
	int64_t mstart_wall_ms;
	uint64_t mseq;
	struct vg_ratelimit mdrop_log;  /* (broker) "mirror queue full": once every 10 s */
	char *conf_path;                /* the broker's -c file (reload) */
	char *so_path;                  /* this plugin's file (reload) */

	struct vg_crl_set *crls;        /* (broker) plugin_opt_crl_file's CRLs, or NULL (crl.c) */
	int crl_kick_in;                /* (broker) TICKs until revoked sessions are kicked */
	bool crl_own_reload;            /* (broker) the pending SIGHUP is crl.c's */

	struct vg_throttle thr_user;     /* (broker) failures per unknown username */
	struct vg_throttle thr_addr;     /* (broker) failures per client address */
	struct vg_kick *kicks;          /* (broker) clients to disconnect on TICK */
	size_t nkicks;
	uint8_t *audit_buf;             /* (broker) audit records not yet journalled */
	size_t audit_len;
	uint32_t audit_offs[VG_AUDIT_BUF_RECORDS];
	uint32_t audit_lens[VG_AUDIT_BUF_RECORDS];
	int audit_n;
	struct vg_ratelimit audit_noisy; /* (broker) noisy audit events: 50 a second */
	struct vg_ratelimit auth_log;   /* (broker) refused logins: 20 log lines a second */

	struct vg_alert_cfg *acfg;      /* (broker) thresholds, SpO2 scale 2 beds */
	struct vg_beds beds;            /* (broker) per bed: NEWS2 inputs and alert, shown sample */
	struct vg_rec_event ev[VG_REC_MAX_EVENTS]; /* (broker) events of this message */
	int nev;
	char *evbuf;                    /* (broker) their strings and bodies */
	size_t evbuf_len;
	uint32_t ev_coalesced;          /* (broker) transitions these events coalesced */
	const char *ev_coalesced_from;  /* (broker) the device whose message it was (until emitted) */
	struct vg_ratelimit coalesce_log; /* (broker) "coalesced": once every 10 s */
	int64_t alerts_tick_ms;         /* (broker) last silent-device check */
	struct vg_smap ward_alerts;     /* (broker) ward -> open alerts (stations.c) */
	bool ward_alerts_dirty;         /* (broker) a ward's list changed since TICK */
	bool webhook_backlog;           /* (broker) the webhook queue refused events: redrive */
	int64_t webhook_redrive_ms;     /* (broker) when the last redrive was asked for */
	struct vg_ratelimit wh_full_log; /* (broker) "webhook queue full": once every 10 s */

	bool db_up;                     /* (broker) last state the writer reported */
	uint32_t ids_gen;               /* (broker) identity snapshot generation */
	struct vg_ratelimit rej_log;    /* (broker) rejections: 20 log lines a second */
	uint64_t rej_pending;           /* (broker) devices with rejections to summarise */
	int64_t rej_summary_ms;         /* (broker) last summary pass */
	uint64_t jfull_seen;            /* (broker) the journal's no-space count at the last check */
	int64_t jfull_alarm_ms;         /* (broker) when the disk-full alarm was last logged (0: not full) */
	int64_t jfull_last_ms;          /* (broker) when the last no-space refusal was seen */
	int64_t last_stats_log_ms;      /* (broker) */
	int64_t last_stats_pub_ms;      /* (broker) */
	struct vg_stats stats;          /* (broker) */
};

/* Callbacks (plugin.c registers them). All run on the broker thread. */
int vg_auth_basic_cb(int event, void *event_data, void *userdata);
int vg_auth_acl_cb(int event, void *event_data, void *userdata);
int vg_ingest_message_cb(int event, void *event_data, void *userdata);
int vg_tick_cb(int event, void *event_data, void *userdata);
int vg_auth_disconnect_cb(int event, void *event_data, void *userdata);

/* Queues a client for disconnection on the next TICK (never kick from
 * inside an auth callback). */
void vg_kick_later(struct vg_plugin *vg, const char *client_id, const char *why);

/* Before an identity leaves the table: its live session stops counting. */
void vg_auth_forget_connections(struct vg_plugin *vg, const char *id);

/* After an identity changed: its login failures are forgotten. */
void vg_auth_reset_throttle(struct vg_plugin *vg, const char *id);

/* True if identity id has a live session (a client that logged in as it
 * through Vitalgate and is still connected). */
bool vg_auth_is_live(const struct vg_plugin *vg, const char *id);

/* Drains the completion queue now (TICK, and cleanup). */
void vg_tick_drain(struct vg_plugin *vg);

#endif
