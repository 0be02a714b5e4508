/*
 * vg_completion: messages from worker threads back to the broker thread.
 *
 * Workers never call into the broker (not even its logger, which may
 * publish to $SYS topics): they push completions, and the TICK callback
 * drains the queue on the broker thread and acts on each one.
 *
 * Every completion type is defined here, so the broker thread (plugin/)
 * reads worker results without including worker headers.
 *
 * Thread: vg_post_* from any worker; consumers on the broker thread.
 * Memory: the poster allocates, the consumer (TICK) frees with
 * vg_completion_free, after taking (and NULLing) what it keeps.
 */
#ifndef VG_COMPLETION_H
#define VG_COMPLETION_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vg_alertcfg.h"
#include "vg_crl.h"
#include "vg_ident.h"
#include "vg_queue.h"

enum vg_completion_type {
	VG_C_LOG = 1,          /* struct vg_c_log */
	VG_C_IDENTS,           /* struct vg_c_idents */
	VG_C_WEBHOOK,          /* struct vg_c_webhook */
	VG_C_DB_STATE,         /* struct vg_c_db_state */
	VG_C_ALERT_CFG,        /* struct vg_c_alert_cfg */
	VG_C_REDELIVER,        /* struct vg_c_redeliver: pending outbox events */
	VG_C_WEBHOOK_CMD,      /* struct vg_c_webhook_cmd */
	VG_C_LAST_SEEN,        /* struct vg_c_last_seen: devices active before a restart */
	VG_C_ALERT_STATE,      /* struct vg_c_alert_state: open alerts, NEWS2 inputs */
	VG_C_CRL,              /* struct vg_c_crl: plugin_opt_crl_file was rewritten */
	VG_C_WARD_MOVED,       /* struct vg_c_ward_moved: a ward was placed on a cell */
	VG_C_MIRROR,           /* struct vg_c_alert_state: the cell's open alerts (cellsync) */
	VG_C_PRESENCE,         /* struct vg_c_presence: where devices last sent (cellsync) */
	VG_C_SUPERSEDED,       /* struct vg_c_superseded: alerts the writer closed */
	VG_C_WRITER_READY,     /* struct vg_job: journal replayed, previous state posted */
	VG_C_OCCUPANCY,        /* struct vg_c_occupancy: beds' current occupancy at start */
};

/* Identities from PostgreSQL (bridge/idsync.c): a full snapshot or the
 * changes named by notifications. */
struct vg_c_idents {
	struct vg_job base;         /* type VG_C_IDENTS */
	bool full;                  /* a complete snapshot: drop what it lacks */
	size_t n;
	struct vg_ident **items;    /* entries (NULL once taken by the consumer) */
	size_t ndel;
	char (*deleted)[VG_ID_MAX + 1];
};

/* Alert thresholds and bed settings (bridge/idsync.c; the consumer takes
 * cfg and sets it to NULL). */
struct vg_c_alert_cfg {
	struct vg_job base;         /* type VG_C_ALERT_CFG */
	struct vg_alert_cfg *cfg;
};

/* plugin_opt_crl_file was rewritten (bridge/crlsync.c); the consumer takes
 * set and sets it to NULL. */
struct vg_c_crl {
	struct vg_job base;         /* type VG_C_CRL */
	struct vg_crl_set *set;     /* what the file now holds */
};

/* Alert state from before a restart, read from PostgreSQL once the journal
 * is replayed: the open alerts (so a running alert continues, and resolves,
 * under its own id) and the latest fresh NEWS2 inputs of each bed. */
struct vg_c_alert_state {
	struct vg_job base;
	uint64_t gen;              /* VG_C_MIRROR: the poll request it answers (bridge/cellsync.h) */
	int64_t at_ms;             /* VG_C_MIRROR: when it was read */
	size_t nalerts;
	struct vg_open_alert {
		char alert_id[32];     /* "al_<24 hex>" */
		char device[65];
		char ward[65];
		char bed[65];
		char vital[8];         /* threshold alerts */
		uint8_t kind;          /* enum vg_alert_kind */
		uint8_t level;         /* threshold: 1 low, 2 high; news2: band; silent: 1 */
		uint16_t transitions;  /* events of the alert so far */
		int64_t updated_ms;    /* its last event's time */
		char *body;            /* its last event (JSON), owned; may be NULL */
		/* its alarm lifecycle (migration 010; docs/alerts.md), from body */
		char severity[8];
		uint8_t prio;          /* enum vg_prio, 0: not in the body */
		uint8_t esc_level;
		uint8_t latched;       /* resolved while unacknowledged, held until acked */
		int64_t raised_ms;
		int64_t acked_ms;      /* 0: not acknowledged */
		int64_t cleared_ms;
		char by[65];
		char via[65];
	} *alerts;
	size_t nparams;
	struct vg_bed_param {
		char ward[65];
		char bed[65];
		int param;             /* enum vg_news2_param */
		double v;
		int64_t at_ms;         /* measured_at */
	} *params;
};

/* Outbox events to (re)submit to the webhook worker. */
struct vg_c_redeliver {
	struct vg_job base;
	size_t n;
	struct vg_redeliver_item {
		char event_id[64];
		char order_key[2 * 65 + 8];
		int64_t created_ms;
		int64_t since_ms;  /* starts the dead-letter clock (creation or redrive) */
		char *body;        /* owned by the completion */
		size_t len;
	} items[];
};

struct vg_c_webhook_cmd {
	struct vg_job base;
	int enable;            /* 1: re-enable after a 410 */
};

/* Devices that sent data shortly before this broker started, and when. */
/* Each bed's current occupancy as PostgreSQL keeps it (migration 011),
 * read by the writer at start after the journal replay (the broker keeps
 * only what the core says while it runs; docs/patient-context.md). */
struct vg_c_occupancy {
	struct vg_job base;
	size_t n;
	struct {
		char ward[65];
		char bed[65];
		char patient[65];      /* "" when vacant */
		char encounter[65];
		char label[33];
		int64_t since_ms;
	} items[];
};

struct vg_c_last_seen {
	struct vg_job base;
	size_t n;
	struct {
		char id[65];
		int64_t at_ms;
	} items[];
};

/* A ward was placed on a cell (bridge/idsync.c, from vitalgate_cells):
 * cell is "" when the ward was unplaced. */
struct vg_c_ward_moved {
	struct vg_job base;
	char ward[65];
	char cell[65];
};

/* Where devices last sent a sample (bridge/cellsync.c): here is true when
 * this broker received the latest one (its journal id), received_ms when
 * (0: never). */
struct vg_c_presence {
	struct vg_job base;
	size_t n;
	struct {
		char id[65];
		bool here;
		int64_t received_ms;
	} items[];
};

/* Alerts the writer closed (an older alert of a condition that has a newer
 * one: two instances of a cell raised it): their alert.resolved events,
 * stored already, to publish and deliver. */
struct vg_c_superseded {
	struct vg_job base;
	size_t n;
	struct vg_superseded_item {
		char event_id[64];
		char alert_id[32];
		uint8_t kind;          /* enum vg_alert_kind */
		char vital[8];         /* threshold alerts */
		char ward[65];
		char bed[65];
		char device[65];
		char order_key[2 * 65 + 8];
		int64_t created_ms;
		char *body;            /* owned */
	} items[];
};

struct vg_c_log {
	struct vg_job base;
	int level;             /* VG_LOG_* (vg_log.h) */
	char msg[];
};

enum vg_webhook_outcome {
	VG_WH_DELIVERED = 1,
	VG_WH_RETRY,
	VG_WH_GONE,            /* 410: endpoint disabled */
	VG_WH_DEAD,            /* gave up (dead-letter): undelivered for dead_after */
	VG_WH_REFUSED,         /* gave up (dead-letter): refused max_rejects times */
};

struct vg_c_webhook {
	struct vg_job base;
	int outcome;           /* enum vg_webhook_outcome */
	int channel;           /* VG_WH_CHANNEL_* of the sender */
	long http_status;
	int attempts;
	int64_t latency_ms;    /* event created -> this outcome */
	char event_id[64];
	char error[96];        /* curl's message or "HTTP <n>" */
};

struct vg_c_db_state {
	struct vg_job base;
	bool up;
	int64_t lag_ms;        /* writer: oldest uncommitted record age */
};

/* Frees a completion of any type and what it still owns. */
void vg_completion_free(struct vg_job *job);
/* The same for one type. */
void vg_c_idents_free(struct vg_c_idents *c);
void vg_c_alert_state_free(struct vg_c_alert_state *c);

/* Worker threads: posts a log line (formatted now, logged on TICK). Never
 * blocks; when the queue is full the line is dropped and counted in the
 * queue's `refused` counter. */
void vg_post_log(struct vg_queue *q, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void vg_post_logv(struct vg_queue *q, int level, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

#endif
