/*
 * config: the plugin's options (plugin_opt_* lines in mosquitto.conf).
 *
 * One table (config.c) lists every option with its type, default and
 * bounds; parsing is strict: an unknown option, a missing required one or a
 * malformed value fails plugin start with a message naming the option.
 *
 * Thread: broker thread at init. Memory: vg_config owns its strings;
 * vg_config_free releases them.
 */
#ifndef VG_CONFIG_H
#define VG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mosquitto_opt;

enum vg_others_mode {
	VG_OTHERS_DENY = 0,
	VG_OTHERS_DEFER = 1,
};

/* What this broker is in a hospital network of cells (docs/scale-out.md):
 * a broker (with plugin_opt_cell: a cell, serving the wards placed on it;
 * without: every ward), or the hub (identities and ACLs only, no ingest). */
enum vg_mode {
	VG_MODE_BROKER = 0,
	VG_MODE_HUB = 1,
};

#include "vg_netlist.h"
#include "vg_util.h"

#define VG_MAX_SHADOW_WARDS 64

struct vg_config {
	char *db_conninfo;
	char *spool_dir;
	char *webhook_url;
	char *webhook_secret_file;
	char *webhook_ca_file;
	char *shadow_wards;          /* as given; parsed into shadow[] */
	char shadow[VG_MAX_SHADOW_WARDS][VG_ID_MAX + 1];
	size_t nshadow;
	char *mirror_url;
	char *mirror_secret_file;
	char *metrics_address;
	char *crl_file;
	int64_t metrics_port;
	int64_t health_max_lag_s;
	enum vg_others_mode others;
	int64_t journal_max_mb;
	int64_t journal_segment_mb;
	int64_t journal_sync_ms;
	int64_t ts_max_future_s;
	int64_t ts_max_past_s;
	int64_t writer_batch_rows;
	int64_t writer_commit_ms;
	int64_t webhook_timeout_ms;
	int64_t webhook_parallel;
	int64_t queue_capacity;
	int64_t stats_interval_s;
	int64_t station_frame_ms;
	bool bed_topics;             /* v1's wards/<ward>/beds/<bed>/vitals as well */
	int64_t silence_s;
	int64_t disconnect_grace_s;
	int64_t news2_max_age_s;
	int64_t alert_hold_s;
	int64_t webhook_dead_after_s;
	int64_t webhook_backoff_max_s;
	int64_t webhook_max_rejects;
	bool allow_cleartext;        /* http:// webhook_url / mirror_url beyond loopback */
	int64_t rejection_records_per_min;
	int64_t retention_days;       /* raw vitals partitions older are dropped; 0: never */
	int64_t rollup_retention_days; /* per-minute rollups older are dropped; 0: never */
	int64_t storage_interval_s;   /* the storage worker's period; 0: this broker runs none */
	char *cell;                  /* plugin_opt_cell: the cell served (NULL: every ward) */
	enum vg_mode mode;
	char *trusted_proxies;       /* as given; parsed into proxies */
	struct vg_netlist proxies;
};

/* Parses options into cfg (defaults first). Returns 0, or -1 with a
 * one-line message naming the option in err. */
int vg_config_parse(struct vg_config *cfg, const struct mosquitto_opt *opts, int count, char *err, size_t errlen);
void vg_config_free(struct vg_config *cfg);

/* Reload support (Mosquitto 2.0 passes no options on reload): reads the
 * plugin_opt_* lines that belong to the plugin at so_path from the broker's
 * configuration file conf_path (following include_dir) and parses them into
 * cfg. Returns 0, or -1 with a one-line message in err. */
int vg_config_read_file(struct vg_config *cfg, const char *conf_path, const char *so_path, char *err, size_t errlen);

/* A listener of the broker's configuration, as far as Vitalgate cares. */
struct vg_listener {
	char name[96];                  /* "listener 8883 0.0.0.0", "the default listener" */
	bool require_certificate;
	bool use_identity_as_username;
	bool use_subject_as_username;
	bool use_username_as_clientid;
	char cafile[4096];
	char crlfile[4096];
};

/* Reads every listener of the broker's configuration file (following
 * include_dir) into *out (malloc'd, *n entries; the caller frees it).
 * Returns 0, or -1 with a one-line message in err. */
int vg_config_read_listeners(const char *conf_path, struct vg_listener **out, int *n, char *err, size_t errlen);

/* What Vitalgate requires of the listeners (docs/security.md): none with
 * use_identity_as_username (or use_subject_as_username) unless it also has
 * use_username_as_clientid; with crl_file, some listener's crlfile is it.
 * Returns 0, or -1 with a message naming the listener in err. */
int vg_config_check_listeners(const struct vg_listener *l, int n, const char *crl_file, char *err, size_t errlen);

/* Applies the options marked reloadable from fresh to cur. For each option
 * whose value differs, calls note(name, applied, arg): applied is false for
 * an option that only takes effect at restart. Returns how many were applied. */
int vg_config_apply_reloadable(struct vg_config *cur, const struct vg_config *fresh,
		void (*note)(const char *name, bool applied, void *arg), void *arg);

/* True if the URL's host is a loopback address: 127.0.0.0/8, ::1 (also
 * IPv4-mapped) or "localhost". */
bool vg_config_loopback_url(const char *url);

/* The URL options of cfg that send cleartext (http://) to a host that is
 * not loopback, by name ("webhook_url", "mirror_url") in names; returns how
 * many. The parser refuses them unless allow_cleartext; with it, the caller
 * logs a warning at start and on reload. */
size_t vg_config_cleartext(const struct vg_config *cfg, const char *names[2]);

/* The warning to log (at start and on every reload) when such options are
 * accepted through allow_cleartext: one line naming each option and host,
 * never the URL (it may carry credentials). False if there is none. */
bool vg_config_cleartext_warning(const struct vg_config *cfg, char *msg, size_t len);

/* Writes the option reference as a Markdown table (docs generator). */
void vg_config_write_markdown(void *file);

#endif
