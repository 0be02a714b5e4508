/*
 * vg_plugin: the one struct holding all of the plugin's state, passed as
 * userdata to every callback (no file-level globals). It is a handful of
 * sub-structs, each defined by the module that owns it (its header) and
 * touched by other modules only through that module's functions or, for
 * reading, its documented fields:
 *
 *   cfg        config.c      the plugin_opt_* options
 *   ids        identities.c  the identity table (records from PostgreSQL)
 *   sessions   sessions.c    per identity: live session, login budgets
 *   devices    devices.c     per device: seq window, last seen, alert states
 *   beds       beds.c        per bed: NEWS2 inputs and alert, shown sample
 *   auth       auth.c        throttle tables, kicks queued for TICK
 *   ingest     ingest.c      the decoder and its output, rejection logging
 *   alerts     alerts.c      thresholds, the event scratch, silent checks
 *   delivery   delivery.c    webhook backlog
 *   stations   stations.c    open alerts per ward
 *   mirror     mirror.c      the batch being built
 *   audit      audit.c       audit records not yet journalled
 *   crl        crl.c         the current CRLs
 *   reload     reload.c      the broker's configuration file, this plugin's
 *   tick       tick.c        what TICK watches between passes
 *   cells      cells.c       serving, wards arriving, the other instance's
 *                            alerts, where devices last sent
 *   workers    plugin.c      the journal, the completion queue and the
 *                            worker threads (bridge/), started and stopped
 *   scratch    plugin.c      buffers reused by every message
 *   stats      stats.c       the counters every module increments
 *
 * Thread: broker thread for everything but the worker handles, which are
 * thread-safe by construction.
 */
#ifndef VG_PLUGIN_H
#define VG_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mosquitto_broker.h>

#include "alarms.h"
#include "alerts.h"
#include "audit.h"
#include "auth.h"
#include "beds.h"
#include "cells.h"
#include "config.h"
#include "crl.h"
#include "delivery.h"
#include "devices.h"
#include "identities.h"
#include "ingest.h"
#include "mirror.h"
#include "reload.h"
#include "sessions.h"
#include "stations.h"
#include "stats.h"
#include "tick.h"
#include "vg_journal.h"
#include "vg_queue.h"
#include "vg_secret.h"

#define VG_RECBUF_BYTES (64 * 1024)

struct vg_pgwriter;
struct vg_idsync;
struct vg_webhook;
struct vg_httpd;
struct vg_cellsync;

/* The journal, the completion queue and the worker threads (plugin.c). */
struct vg_workers {
	struct vg_journal *journal;     /* append: broker thread */
	struct vg_queue completions;    /* workers -> TICK */
	struct vg_pgwriter *writer;
	struct vg_idsync *idsync;
	struct vg_webhook *webhook;     /* NULL without webhook_url */
	struct vg_webhook *mirror;      /* NULL without mirror_url */
	struct vg_httpd *httpd;         /* the /metrics and /health endpoint, NULL without metrics_port */
	struct vg_storage *storage;     /* rollups and retention, NULL with storage_interval_s 0 */
	struct vg_cellsync *cellsync;   /* the cell's instances through PostgreSQL, NULL without plugin_opt_cell */
};

/* Buffers reused by every message (plugin.c allocates them at start). */
struct vg_scratch {
	struct vg_hasher *hasher;       /* SHA-256 (secrets, rejected payloads) */
	uint8_t *recbuf;                /* a journal record being encoded */
	size_t recbuf_cap;
	char *jsonbuf;                  /* a JSON document being written */
	size_t jsonbuf_cap;
};

struct vg_plugin {
	mosquitto_plugin_id_t *pid;
	struct vg_config cfg;
	struct vg_identities ids;
	struct vg_sessions sessions;
	struct vg_devices devices;
	struct vg_beds beds;
	struct vg_auth auth;
	struct vg_ingest ingest;
	struct vg_alerts alerts;
	struct vg_alarms alarms;
	struct vg_delivery delivery;
	struct vg_stations stations;
	struct vg_mirror mirror;
	struct vg_audit audit;
	struct vg_crls crl;
	struct vg_reload reload;
	struct vg_tick tick;
	struct vg_cells cells;
	struct vg_workers workers;
	struct vg_scratch scratch;
	struct vg_stats stats;
};

#endif
