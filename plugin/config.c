/*
 * config: option table and strict parser (see config.h).
 * Thread: broker thread at init. Memory: strings in vg_config are heap
 * copies owned by the struct.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "vg_netlist.h"
#include "vg_util.h"

enum opt_type { OPT_STR, OPT_INT, OPT_OTHERS, OPT_URL, OPT_PATH_DIR, OPT_PATH_FILE, OPT_WARDS, OPT_ADDR, OPT_BOOL, OPT_ID,
	OPT_MODE, OPT_NETS };

struct opt_def {
	const char *name;
	enum opt_type type;
	size_t offset;
	bool required;
	const char *def;     /* default, as text */
	int64_t min, max;    /* OPT_INT bounds */
	const char *help;
	bool reloadable;     /* re-read on SIGHUP (MOSQ_EVT_RELOAD) */
};

#define OFF(f) offsetof(struct vg_config, f)

static const struct opt_def opt_table[] = {
	{ "db_conninfo", OPT_STR, OFF(db_conninfo), true, NULL, 0, 0,
		"libpq connection string of the Vitalgate database", false },
	{ "spool_dir", OPT_PATH_DIR, OFF(spool_dir), true, NULL, 0, 0,
		"directory for the durable local journal; must be writable by the broker's user", false },
	{ "webhook_url", OPT_URL, OFF(webhook_url), false, NULL, 0, 0,
		"the Node.js core's webhook endpoint (https://; http:// only to a loopback address unless allow_cleartext); without it alerts go to MQTT only", false },
	{ "webhook_secret_file", OPT_PATH_FILE, OFF(webhook_secret_file), false, NULL, 0, 0,
		"file with one or more whsec_ secrets, one per line (all sign; the first is the newest); re-read within 2 s when it changes (key rotation without a restart); required with webhook_url", false },
	{ "webhook_ca_file", OPT_PATH_FILE, OFF(webhook_ca_file), false, NULL, 0, 0,
		"PEM bundle of the CAs that may sign the https:// webhook endpoint's certificate (default: the system's trust store); verification is always on", false },
	{ "others", OPT_OTHERS, OFF(others), false, "deny", 0, 0,
		"deny: identities and topics outside Vitalgate's are refused; defer: left to the broker's other authentication, foreign topics allowed", false },
	{ "journal_max_mb", OPT_INT, OFF(journal_max_mb), false, "1024", 1, 1048576,
		"journal size limit in MiB; past it new samples are refused with `backpressure`", false },
	{ "journal_segment_mb", OPT_INT, OFF(journal_segment_mb), false, "16", 1, 1024,
		"journal segment size in MiB", false },
	{ "journal_sync_ms", OPT_INT, OFF(journal_sync_ms), false, "20", 1, 10000,
		"group fdatasync period of the journal (bounds what a power cut can lose)", false },
	{ "ts_max_future_s", OPT_INT, OFF(ts_max_future_s), false, "300", 0, 86400,
		"a sample's ts more than this ahead of the broker clock is `bad_time`", true },
	{ "ts_max_past_s", OPT_INT, OFF(ts_max_past_s), false, "86400", 0, 2592000,
		"a sample's ts more than this behind the broker clock is `bad_time`", true },
	{ "writer_batch_rows", OPT_INT, OFF(writer_batch_rows), false, "5000", 1, 100000,
		"most rows the PostgreSQL writer commits in one transaction", false },
	{ "writer_commit_ms", OPT_INT, OFF(writer_commit_ms), false, "100", 0, 5000,
		"latency budget of the PostgreSQL writer: a transaction closes at `writer_batch_rows` rows or this long after its oldest sample reached the broker, whichever comes first (a backlog is written in full batches without waiting); 0 closes it as soon as the journal has nothing more", false },
	{ "webhook_timeout_ms", OPT_INT, OFF(webhook_timeout_ms), false, "5000", 100, 120000,
		"timeout of one webhook attempt", false },
	{ "webhook_parallel", OPT_INT, OFF(webhook_parallel), false, "8", 1, 256,
		"webhook deliveries in flight at once", false },
	{ "queue_capacity", OPT_INT, OFF(queue_capacity), false, "65536", 16, 16777216,
		"bound of each in-memory queue between the broker thread and a worker", false },
	{ "silence_s", OPT_INT, OFF(silence_s), false, "30", 1, 86400,
		"an assigned device that sends nothing for this long raises a silent-device alert", true },
	{ "disconnect_grace_s", OPT_INT, OFF(disconnect_grace_s), false, "10", 0, 86400,
		"an assigned device that disconnects and is not back within this raises a silent-device alert", true },
	{ "news2_max_age_s", OPT_INT, OFF(news2_max_age_s), false, "900", 10, 86400,
		"NEWS2 counts a parameter's latest value only while it is at most this old", true },
	{ "alert_hold_s", OPT_INT, OFF(alert_hold_s), false, "30", 0, 3600,
		"an alert de-escalates or resolves only after the better state held this long (hysteresis)", true },
	{ "webhook_dead_after_s", OPT_INT, OFF(webhook_dead_after_s), false, "86400", 10, 2592000,
		"a webhook still undelivered after this long is given up (dead letter, re-drivable with vitalgate-admin)", false },
	{ "webhook_backoff_max_s", OPT_INT, OFF(webhook_backoff_max_s), false, "300", 1, 86400,
		"longest wait between two attempts of one webhook (exponential backoff from 1 s, with jitter)", false },
	{ "webhook_max_rejects", OPT_INT, OFF(webhook_max_rejects), false, "3", 1, 100,
		"a webhook the endpoint refuses (4xx but 408, 409, 410, 425, 429) is tried this many times in all (1 s, 2 s, ... apart), then dead-lettered with an operator alarm so its bed's later events proceed; timeouts, 3xx, 5xx and the other answers are retried until webhook_dead_after_s", false },
	{ "rejection_records_per_min", OPT_INT, OFF(rejection_records_per_min), false, "10", 1, 60000,
		"rejected messages of one device recorded one by one (rejections table) per minute, in bursts of as many; beyond it they are counted and summarised every 10 s (the device still gets 0x87 and its rejection record)", true },
	{ "station_frame_ms", OPT_INT, OFF(station_frame_ms), false, "1000", 100, 60000,
		"a ward's frame (wards/<ward>/vitals, every bed in one retained message) is republished at most this often, and only when something in the ward changed; alerts are never held back (docs/stations.md)", true },
	{ "bed_topics", OPT_BOOL, OFF(bed_topics), false, "false", 0, 0,
		"true: also publish v1's retained per-bed topic wards/<ward>/beds/<bed>/vitals for every accepted message (stations built against v1; costs a retained message per bed and a second message per sample)", false },
	{ "shadow_wards", OPT_WARDS, OFF(shadow_wards), false, NULL, 0, 0,
		"comma-separated wards in shadow mode (cutover, docs/cutover.md): their devices' invalid samples are delivered to subscribers and only logged and counted, not refused; every other ward enforces", true },
	{ "mirror_url", OPT_URL, OFF(mirror_url), false, NULL, 0, 0,
		"the legacy Node.js ingest endpoint: accepted samples are mirrored to it in signed batches during a migration (docs/cutover.md); https://, or http:// only to a loopback address unless allow_cleartext", false },
	{ "allow_cleartext", OPT_BOOL, OFF(allow_cleartext), false, "false", 0, 0,
		"true: accept http:// webhook_url and mirror_url to hosts other than loopback (alerts and samples cross the network unencrypted; a WARNING is logged at start and on every reload); false: the broker refuses to start with them", false },
	{ "mirror_secret_file", OPT_PATH_FILE, OFF(mirror_secret_file), false, NULL, 0, 0,
		"whsec_ secrets that sign mirrored batches (default: plugin_opt_webhook_secret_file)", false },
	{ "metrics_port", OPT_INT, OFF(metrics_port), false, "0", 0, 65535,
		"TCP port of the HTTP endpoint serving /metrics (Prometheus text) and /health; 0 disables it", false },
	{ "metrics_address", OPT_ADDR, OFF(metrics_address), false, "127.0.0.1", 0, 0,
		"IP address the metrics endpoint listens on", false },
	{ "health_max_lag_s", OPT_INT, OFF(health_max_lag_s), false, "30", 1, 86400,
		"/health answers 503 when the oldest sample not yet in PostgreSQL is older than this", true },
	{ "stats_interval_s", OPT_INT, OFF(stats_interval_s), false, "10", 0, 3600,
		"how often counters are published (retained) under $SYS/broker/vitalgate/; 0 disables", true },
	{ "retention_days", OPT_INT, OFF(retention_days), false, "30", 0, 36500,
		"raw `vitals` day partitions that ended this many days ago are dropped (0: kept forever); raised, with a warning, to ts_max_past_s plus 2 days when shorter, so retention never drops a partition the writer still fills (docs/operations.md#storage-retention-and-rollups)", false },
	{ "rollup_retention_days", OPT_INT, OFF(rollup_retention_days), false, "400", 0, 36500,
		"per-minute rollups (`vitals_rollup_1m`: count, min, max, mean per device, minute and vital) are kept this many days, dropped by whole months (0: kept forever)", false },
	{ "storage_interval_s", OPT_INT, OFF(storage_interval_s), false, "60", 0, 86400,
		"how often the storage worker rolls up the closed minutes and applies retention; with several brokers on one database one of them does it at a time; 0: this broker does none", false },
	{ "crl_file", OPT_PATH_FILE, OFF(crl_file), false, NULL, 0, 0,
		"the certificate revocation list a certificate listener's `crlfile` names: kept equal to the CRLs `vitalgate-admin cert crl` stores in PostgreSQL (written atomically, then the broker reloads its listeners, and clients on a newly revoked certificate are disconnected); its folder must be writable by the broker's user (docs/security.md)", false },
	{ "cell", OPT_ID, OFF(cell), false, NULL, 0, 0,
		"the cell this broker serves (docs/scale-out.md): it keeps in memory only the identities of the wards placed on the cell (`vitalgate-admin ward place`: their devices, the stations bound to one of them) and the services, and refuses other devices at CONNECT; a standby runs with the same name and its own spool_dir. Without it the broker serves every ward", false },
	{ "mode", OPT_MODE, OFF(mode), false, "broker", 0, 0,
		"broker: ingests samples (of every ward, or of its plugin_opt_cell); hub: identities and ACLs only, no ingest, for the whole hospital's wards/# which every cell's Mosquitto bridge publishes to it (identities of role cell, each allowed only the wards of its cell), read by services and stations of several wards (docs/scale-out.md)", false },
	{ "trusted_proxies", OPT_NETS, OFF(trusted_proxies), false, NULL, 0, 0,
		"comma-separated addresses or networks (CIDR) of the proxies in front of this broker (HAProxy): connections from them are left out of the per-address login throttle and never count as an identity's last good address, since every client behind a proxy shares its address (throttle by the real address in HAProxy, docs/scale-out.md)", false },
};

#define OPT_COUNT (sizeof(opt_table) / sizeof(opt_table[0]))

static const struct opt_def *find_opt(const char *name)
{
	size_t i;

	for(i = 0; i < OPT_COUNT; i++){
		if(!strcmp(opt_table[i].name, name)){
			return &opt_table[i];
		}
	}
	return NULL;
}

/* Splits a comma-separated ward list; with out, stores up to cap ids. */
static int parse_wards(const char *s, char (*out)[VG_ID_MAX + 1], size_t *n)
{
	size_t count = 0;
	const char *p = s;

	for(;;){
		const char *c = strchr(p, ',');
		size_t len = c ? (size_t)(c - p) : strlen(p);
		if(!vg_id_valid_n(p, len)){
			return -1;
		}
		if(out){
			memcpy(out[count], p, len);
			out[count][len] = '\0';
		}
		if(++count > VG_MAX_SHADOW_WARDS){
			return -1;
		}
		if(c == NULL){
			break;
		}
		p = c + 1;
	}
	if(n){
		*n = count;
	}
	return 0;
}

static void url_host(const char *url, char *host, size_t cap);

static int set_opt(struct vg_config *cfg, const struct opt_def *d, const char *value, char *err, size_t errlen)
{
	char *base = (char *)cfg;
	char **sp;
	int64_t v;
	struct stat st;

	switch(d->type){
		case OPT_INT:
			if(!vg_parse_i64(value, d->min, d->max, &v)){
				snprintf(err, errlen, "plugin_opt_%s: \"%s\" is not an integer between %lld and %lld",
						d->name, value, (long long)d->min, (long long)d->max);
				return -1;
			}
			*(int64_t *)(base + d->offset) = v;
			return 0;
		case OPT_OTHERS:
			if(!strcmp(value, "deny")){
				cfg->others = VG_OTHERS_DENY;
			}else if(!strcmp(value, "defer")){
				cfg->others = VG_OTHERS_DEFER;
			}else{
				snprintf(err, errlen, "plugin_opt_%s: \"%s\" is not one of deny, defer", d->name, value);
				return -1;
			}
			return 0;
		case OPT_URL:
			if(strncmp(value, "http://", 7) != 0 && strncmp(value, "https://", 8) != 0){
				snprintf(err, errlen, "plugin_opt_%s: \"%s\" must start with http:// or https://", d->name, value);
				return -1;
			}
			if(strpbrk(value, " \t\r\n")){
				snprintf(err, errlen, "plugin_opt_%s: URL contains whitespace", d->name);
				return -1;
			}
			break;
		case OPT_PATH_DIR:
			if(value[0] != '/'){
				snprintf(err, errlen, "plugin_opt_%s: \"%s\" must be an absolute path", d->name, value);
				return -1;
			}
			if(stat(value, &st) != 0 || !S_ISDIR(st.st_mode)){
				snprintf(err, errlen, "plugin_opt_%s: \"%s\" is not an existing directory", d->name, value);
				return -1;
			}
			if(access(value, W_OK | X_OK) != 0){
				snprintf(err, errlen, "plugin_opt_%s: directory \"%s\" is not writable by this user (uid %d)",
						d->name, value, (int)getuid());
				return -1;
			}
			break;
		case OPT_PATH_FILE:
			if(value[0] != '/'){
				snprintf(err, errlen, "plugin_opt_%s: \"%s\" must be an absolute path", d->name, value);
				return -1;
			}
			if(access(value, R_OK) != 0){
				snprintf(err, errlen, "plugin_opt_%s: file \"%s\" is not readable by this user (uid %d)",
						d->name, value, (int)getuid());
				return -1;
			}
			break;
		case OPT_WARDS:
			if(parse_wards(value, NULL, NULL) != 0){
				snprintf(err, errlen, "plugin_opt_%s: \"%s\" is not a comma-separated list of ward ids", d->name, value);
				return -1;
			}
			break;
		case OPT_ADDR: {
			unsigned char a[16];
			if(inet_pton(AF_INET, value, a) != 1 && inet_pton(AF_INET6, value, a) != 1){
				snprintf(err, errlen, "plugin_opt_%s: \"%s\" is not an IPv4 or IPv6 address", d->name, value);
				return -1;
			}
			break;
		}
		case OPT_BOOL:
			if(!strcmp(value, "true")){
				*(bool *)(base + d->offset) = true;
			}else if(!strcmp(value, "false")){
				*(bool *)(base + d->offset) = false;
			}else{
				snprintf(err, errlen, "plugin_opt_%s: \"%s\" is not true or false", d->name, value);
				return -1;
			}
			return 0;
		case OPT_ID:
			if(!vg_id_valid(value)){
				snprintf(err, errlen, "plugin_opt_%s: \"%s\" must match [A-Za-z0-9_-]{1,64}", d->name, value);
				return -1;
			}
			break;
		case OPT_MODE:
			if(!strcmp(value, "broker")){
				cfg->mode = VG_MODE_BROKER;
			}else if(!strcmp(value, "hub")){
				cfg->mode = VG_MODE_HUB;
			}else{
				snprintf(err, errlen, "plugin_opt_%s: \"%s\" is not one of broker, hub", d->name, value);
				return -1;
			}
			return 0;
		case OPT_NETS: {
			char why[160];
			if(vg_netlist_parse(value, &cfg->proxies, why, sizeof(why)) != 0){
				snprintf(err, errlen, "plugin_opt_%s: %s", d->name, why);
				return -1;
			}
			break;
		}
		case OPT_STR:
			if(value[0] == '\0'){
				snprintf(err, errlen, "plugin_opt_%s: empty value", d->name);
				return -1;
			}
			break;
	}
	sp = (char **)(base + d->offset);
	free(*sp);
	*sp = strdup(value);
	if(*sp == NULL){
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int vg_config_parse(struct vg_config *cfg, const struct mosquitto_opt *opts, int count, char *err, size_t errlen)
{
	bool seen[OPT_COUNT] = { false };
	size_t i;
	int k;

	memset(cfg, 0, sizeof(*cfg));
	for(i = 0; i < OPT_COUNT; i++){
		if(opt_table[i].def && set_opt(cfg, &opt_table[i], opt_table[i].def, err, errlen) != 0){
			return -1;
		}
	}
	for(k = 0; k < count; k++){
		const struct opt_def *d = find_opt(opts[k].key);
		if(d == NULL){
			snprintf(err, errlen, "plugin_opt_%s: unknown option (see docs/configuration.md)", opts[k].key);
			return -1;
		}
		if(seen[d - opt_table]){
			snprintf(err, errlen, "plugin_opt_%s: given twice", d->name);
			return -1;
		}
		seen[d - opt_table] = true;
		if(opts[k].value == NULL || set_opt(cfg, d, opts[k].value, err, errlen) != 0){
			if(opts[k].value == NULL){
				snprintf(err, errlen, "plugin_opt_%s: missing value", d->name);
			}
			return -1;
		}
	}
	for(i = 0; i < OPT_COUNT; i++){
		if(opt_table[i].required && !seen[i]){
			snprintf(err, errlen, "plugin_opt_%s: required option missing", opt_table[i].name);
			return -1;
		}
	}
	if(cfg->webhook_url && !cfg->webhook_secret_file){
		snprintf(err, errlen, "plugin_opt_webhook_secret_file: required when plugin_opt_webhook_url is set");
		return -1;
	}
	if(cfg->webhook_ca_file && !cfg->webhook_url){
		snprintf(err, errlen, "plugin_opt_webhook_ca_file: set without plugin_opt_webhook_url");
		return -1;
	}
	if(cfg->mirror_secret_file && !cfg->mirror_url){
		snprintf(err, errlen, "plugin_opt_mirror_secret_file: set without plugin_opt_mirror_url");
		return -1;
	}
	if(cfg->mirror_url && !cfg->mirror_secret_file && !cfg->webhook_secret_file){
		snprintf(err, errlen, "plugin_opt_mirror_secret_file: required when plugin_opt_mirror_url is set without plugin_opt_webhook_secret_file");
		return -1;
	}
	if(cfg->shadow_wards){
		parse_wards(cfg->shadow_wards, cfg->shadow, &cfg->nshadow);
	}
	if(cfg->mode == VG_MODE_HUB && cfg->cell){
		snprintf(err, errlen, "plugin_opt_cell: a hub (plugin_opt_mode hub) serves no wards of its own");
		return -1;
	}
	if(cfg->journal_segment_mb > cfg->journal_max_mb){
		snprintf(err, errlen, "plugin_opt_journal_segment_mb: larger than plugin_opt_journal_max_mb");
		return -1;
	}
	if(!cfg->allow_cleartext){
		const char *names[2];
		if(vg_config_cleartext(cfg, names) > 0){
			bool wh = !strcmp(names[0], "webhook_url");
			char host[256];
			/* The host only: a URL may carry credentials (user:pass@). */
			url_host(wh ? cfg->webhook_url : cfg->mirror_url, host, sizeof(host));
			snprintf(err, errlen, "plugin_opt_%s: http:// would send %s in cleartext to %s, which is not a loopback "
					"address; use https://, or set plugin_opt_allow_cleartext true to accept that risk",
					names[0], wh ? "alerts" : "vital signs", host);
			return -1;
		}
	}
	return 0;
}

/* The host of an http(s) URL (userinfo and port removed, IPv6 without its
 * brackets), cut to cap. */
static void url_host(const char *url, char *host, size_t cap)
{
	const char *a = strstr(url, "://"), *end, *at, *h;
	size_t n;

	host[0] = '\0';
	if(a == NULL || cap == 0){
		return;
	}
	a += 3;
	end = a + strcspn(a, "/?#");
	at = memchr(a, '@', (size_t)(end - a));
	while(at){   /* the last '@' before the path ends the userinfo */
		a = at + 1;
		at = memchr(a, '@', (size_t)(end - a));
	}
	if(*a == '['){
		h = a + 1;
		n = strcspn(h, "]");
		if(h + n > end){
			n = 0;
		}
	}else{
		h = a;
		n = strcspn(h, ":/?#");
		if(h + n > end){
			n = (size_t)(end - h);
		}
	}
	if(n >= cap){
		n = cap - 1;
	}
	memcpy(host, h, n);
	host[n] = '\0';
}

bool vg_config_loopback_url(const char *url)
{
	char host[256];
	unsigned char a[16];

	url_host(url, host, sizeof(host));
	if(!strcasecmp(host, "localhost")){
		return true;
	}
	if(inet_pton(AF_INET, host, a) == 1){
		return a[0] == 127;
	}
	if(inet_pton(AF_INET6, host, a) == 1){
		static const unsigned char lo[16] = { [15] = 1 };
		static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };
		return !memcmp(a, lo, 16) || (!memcmp(a, mapped, 12) && a[12] == 127);
	}
	return false;
}

bool vg_config_cleartext_warning(const struct vg_config *cfg, char *msg, size_t len)
{
	const char *names[2];
	size_t n = vg_config_cleartext(cfg, names), i, used = 0;

	if(n == 0 || len == 0){
		return false;
	}
	msg[0] = '\0';
	for(i = 0; i < n; i++){
		bool wh = !strcmp(names[i], "webhook_url");
		char host[256];
		int k;
		url_host(wh ? cfg->webhook_url : cfg->mirror_url, host, sizeof(host));
		k = snprintf(msg + used, len - used, "%splugin_opt_%s sends %s unencrypted (http://) to %s", i ? "; " : "",
				names[i], wh ? "alerts" : "vital signs", host);
		if(k < 0 || (size_t)k >= len - used){
			break;
		}
		used += (size_t)k;
	}
	snprintf(msg + used, len - used, " (plugin_opt_allow_cleartext true): anyone on the network path can read %s; "
			"use https://", n > 1 ? "them" : "it");
	return true;
}

size_t vg_config_cleartext(const struct vg_config *cfg, const char *names[2])
{
	size_t n = 0;

	if(cfg->webhook_url && !strncmp(cfg->webhook_url, "http://", 7) && !vg_config_loopback_url(cfg->webhook_url)){
		names[n++] = "webhook_url";
	}
	if(cfg->mirror_url && !strncmp(cfg->mirror_url, "http://", 7) && !vg_config_loopback_url(cfg->mirror_url)){
		names[n++] = "mirror_url";
	}
	return n;
}

void vg_config_free(struct vg_config *cfg)
{
	free(cfg->db_conninfo);
	free(cfg->spool_dir);
	free(cfg->webhook_url);
	free(cfg->webhook_secret_file);
	free(cfg->webhook_ca_file);
	free(cfg->shadow_wards);
	free(cfg->mirror_url);
	free(cfg->mirror_secret_file);
	free(cfg->metrics_address);
	free(cfg->crl_file);
	free(cfg->cell);
	free(cfg->trusted_proxies);
	memset(cfg, 0, sizeof(*cfg));
}

void vg_config_write_markdown(void *file)
{
	FILE *f = file;
	size_t i;

	fprintf(f, "| option | required | default | reload | meaning |\n| --- | --- | --- | --- | --- |\n");
	for(i = 0; i < OPT_COUNT; i++){
		fprintf(f, "| `plugin_opt_%s` | %s | %s | %s | %s |\n", opt_table[i].name,
				opt_table[i].required ? "yes" : "no",
				opt_table[i].def ? opt_table[i].def : "-", opt_table[i].reloadable ? "SIGHUP" : "restart",
				opt_table[i].help);
	}
}

/* ---- reload: the plugin's own lines of mosquitto.conf ---- */

struct conf_scan {
	const char *so_real;       /* realpath of this plugin */
	bool in_ours;              /* the last plugin line named this plugin */
	bool found;
	struct mosquitto_opt *opts;
	int n, cap;
	int depth;
	bool lst_wanted;           /* collect listeners (vg_config_read_listeners) */
	struct vg_listener *lst;   /* every listener seen */
	int nlst, caplst;
};

static bool conf_true(const char *v)
{
	return v && !strcmp(v, "true");
}

/* Listener settings (mosquitto.conf): lines before the first `listener`
 * belong to the default listener. */
static int scan_listener_line(struct conf_scan *sc, const char *key, const char *val, char *err, size_t errlen)
{
	struct vg_listener *l;
	bool start = !strcmp(key, "listener");

	if(!start && strcmp(key, "use_identity_as_username") && strcmp(key, "use_subject_as_username")
			&& strcmp(key, "use_username_as_clientid") && strcmp(key, "require_certificate")
			&& strcmp(key, "crlfile") && strcmp(key, "cafile")){
		return 0;
	}
	if(start || sc->nlst == 0){
		if(sc->nlst == sc->caplst){
			struct vg_listener *nl = realloc(sc->lst, (size_t)(sc->caplst = sc->caplst ? sc->caplst * 2 : 8) * sizeof(*nl));
			if(nl == NULL){
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			sc->lst = nl;
		}
		l = &sc->lst[sc->nlst++];
		memset(l, 0, sizeof(*l));
		if(start){
			snprintf(l->name, sizeof(l->name), "listener %s", val ? val : "");
		}else{
			snprintf(l->name, sizeof(l->name), "the default listener");
		}
		if(start){
			return 0;
		}
	}
	l = &sc->lst[sc->nlst - 1];
	if(!strcmp(key, "use_identity_as_username")){
		l->use_identity_as_username = conf_true(val);
	}else if(!strcmp(key, "use_subject_as_username")){
		l->use_subject_as_username = conf_true(val);
	}else if(!strcmp(key, "use_username_as_clientid")){
		l->use_username_as_clientid = conf_true(val);
	}else if(!strcmp(key, "require_certificate")){
		l->require_certificate = conf_true(val);
	}else if(!strcmp(key, "crlfile")){
		snprintf(l->crlfile, sizeof(l->crlfile), "%s", val ? val : "");
	}else{
		snprintf(l->cafile, sizeof(l->cafile), "%s", val ? val : "");
	}
	return 0;
}

static int scan_file(struct conf_scan *sc, const char *path, char *err, size_t errlen);

static int include_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* include_dir: every *.conf in the folder, in name order (as mosquitto). */
static int scan_dir(struct conf_scan *sc, const char *dir, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	int rc = 0;

	if(d == NULL){
		snprintf(err, errlen, "include_dir %s: %s", dir, strerror(errno));
		return -1;
	}
	while((de = readdir(d)) != NULL){
		size_t len = strlen(de->d_name);
		if(len > 5 && !strcmp(de->d_name + len - 5, ".conf")){
			if(n == cap){
				char **nn = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*names));
				if(nn == NULL){
					rc = -1;
					break;
				}
				names = nn;
			}
			size_t sz = strlen(dir) + len + 2;
			names[n] = malloc(sz);
			if(names[n] == NULL){
				rc = -1;
				break;
			}
			snprintf(names[n], sz, "%s/%s", dir, de->d_name);
			n++;
		}
	}
	closedir(d);
	if(rc != 0){
		snprintf(err, errlen, "out of memory");
	}else{
		qsort(names, n, sizeof(*names), include_cmp);
		for(i = 0; i < n && rc == 0; i++){
			rc = scan_file(sc, names[i], err, errlen);
		}
	}
	for(i = 0; i < n; i++){
		free(names[i]);
	}
	free(names);
	return rc;
}

static int scan_line(struct conf_scan *sc, char *line, char *err, size_t errlen)
{
	char *key, *val, *end;
	char real[PATH_MAX];

	while(*line == ' ' || *line == '\t'){
		line++;
	}
	end = line + strlen(line);
	while(end > line && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t')){
		*--end = '\0';
	}
	if(line[0] == '#' || line[0] == '\0'){
		return 0;
	}
	key = line;
	val = strpbrk(line, " \t");
	if(val){
		*val++ = '\0';
		while(*val == ' ' || *val == '\t'){
			val++;
		}
	}
	if(sc->lst_wanted && scan_listener_line(sc, key, val, err, errlen) != 0){
		return -1;
	}
	if(!strcmp(key, "plugin") || !strcmp(key, "auth_plugin")){
		sc->in_ours = sc->so_real && val && realpath(val, real) && !strcmp(real, sc->so_real);
		sc->found |= sc->in_ours;
	}else if(!strcmp(key, "include_dir") && val){
		return scan_dir(sc, val, err, errlen);
	}else if(sc->in_ours && !strncmp(key, "plugin_opt_", 11)){
		if(sc->n == sc->cap){
			struct mosquitto_opt *no = realloc(sc->opts, (size_t)(sc->cap = sc->cap ? sc->cap * 2 : 32) * sizeof(*no));
			if(no == NULL){
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			sc->opts = no;
		}
		sc->opts[sc->n].key = strdup(key + 11);
		sc->opts[sc->n].value = val && val[0] ? strdup(val) : NULL;
		if(sc->opts[sc->n].key == NULL){
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		sc->n++;
	}
	return 0;
}

static int scan_file(struct conf_scan *sc, const char *path, char *err, size_t errlen)
{
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	int rc = 0;

	if(++sc->depth > 8){
		snprintf(err, errlen, "%s: include_dir nested too deep", path);
		return -1;
	}
	f = fopen(path, "r");
	if(f == NULL){
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		sc->depth--;
		return -1;
	}
	while(rc == 0 && getline(&line, &cap, f) >= 0){
		rc = scan_line(sc, line, err, errlen);
	}
	free(line);
	fclose(f);
	sc->depth--;
	return rc;
}

int vg_config_read_file(struct vg_config *cfg, const char *conf_path, const char *so_path, char *err, size_t errlen)
{
	struct conf_scan sc;
	char so_real[PATH_MAX];
	int rc, i;

	memset(&sc, 0, sizeof(sc));
	memset(cfg, 0, sizeof(*cfg));
	if(realpath(so_path, so_real) == NULL){
		snprintf(err, errlen, "cannot resolve the plugin's path %s: %s", so_path, strerror(errno));
		return -1;
	}
	sc.so_real = so_real;
	rc = scan_file(&sc, conf_path, err, errlen);
	if(rc == 0 && !sc.found){
		snprintf(err, errlen, "%s no longer loads %s", conf_path, so_real);
		rc = -1;
	}
	if(rc == 0){
		rc = vg_config_parse(cfg, sc.opts, sc.n, err, errlen);
	}
	for(i = 0; i < sc.n; i++){
		free(sc.opts[i].key);
		free(sc.opts[i].value);
	}
	free(sc.opts);
	return rc;
}

int vg_config_read_listeners(const char *conf_path, struct vg_listener **out, int *n, char *err, size_t errlen)
{
	struct conf_scan sc;
	int rc, i;

	memset(&sc, 0, sizeof(sc));
	sc.lst_wanted = true;
	rc = scan_file(&sc, conf_path, err, errlen);
	for(i = 0; i < sc.n; i++){
		free(sc.opts[i].key);
		free(sc.opts[i].value);
	}
	free(sc.opts);
	if(rc != 0){
		free(sc.lst);
		return -1;
	}
	*out = sc.lst;
	*n = sc.nlst;
	return 0;
}

static bool same_file(const char *a, const char *b)
{
	char ra[PATH_MAX], rb[PATH_MAX];

	return realpath(a, ra) && realpath(b, rb) && !strcmp(ra, rb);
}

int vg_config_check_listeners(const struct vg_listener *l, int n, const char *crl_file, char *err, size_t errlen)
{
	int i;
	bool crl_used = false;

	for(i = 0; i < n; i++){
		if((l[i].use_identity_as_username || l[i].use_subject_as_username) && !l[i].use_username_as_clientid){
			snprintf(err, errlen, "%s has %s true without use_username_as_clientid true: Mosquitto 2.0.11 skips the "
					"login check there, so any CA-signed certificate could take over any client id (every "
					"device's session) before Vitalgate sees it; add `use_username_as_clientid true` to it, or use "
					"use_identity_as_username false (recommended, docs/security.md)", l[i].name,
					l[i].use_identity_as_username ? "use_identity_as_username" : "use_subject_as_username");
			return -1;
		}
		if(crl_file && l[i].crlfile[0] && same_file(l[i].crlfile, crl_file)){
			crl_used = true;
		}
	}
	if(crl_file && !crl_used){
		snprintf(err, errlen, "plugin_opt_crl_file %s is the crlfile of no listener: a certificate listener's "
				"`crlfile` must name it, or revoked certificates would still be accepted", crl_file);
		return -1;
	}
	return 0;
}

static bool opt_equal(const struct opt_def *d, const struct vg_config *a, const struct vg_config *b)
{
	const char *pa = (const char *)a + d->offset, *pb = (const char *)b + d->offset;

	switch(d->type){
		case OPT_INT:
			return *(const int64_t *)pa == *(const int64_t *)pb;
		case OPT_OTHERS:
			return a->others == b->others;
		case OPT_MODE:
			return a->mode == b->mode;
		case OPT_BOOL:
			return *(const bool *)pa == *(const bool *)pb;
		default: {
			const char *sa = *(char *const *)pa, *sb = *(char *const *)pb;
			return (sa == NULL && sb == NULL) || (sa && sb && !strcmp(sa, sb));
		}
	}
}

int vg_config_apply_reloadable(struct vg_config *cur, const struct vg_config *fresh,
		void (*note)(const char *name, bool applied, void *arg), void *arg)
{
	size_t i;
	int applied = 0;

	for(i = 0; i < OPT_COUNT; i++){
		const struct opt_def *d = &opt_table[i];
		if(opt_equal(d, cur, fresh)){
			continue;
		}
		if(!d->reloadable){
			note(d->name, false, arg);
			continue;
		}
		if(d->type == OPT_INT){
			*(int64_t *)((char *)cur + d->offset) = *(const int64_t *)((const char *)fresh + d->offset);
		}else if(d->type == OPT_WARDS){
			char **sp = (char **)((char *)cur + d->offset);
			const char *nv = *(char *const *)((const char *)fresh + d->offset);
			char *copy = nv ? strdup(nv) : NULL;
			if(nv && copy == NULL){
				continue; /* out of memory: keep the old value */
			}
			free(*sp);
			*sp = copy;
			memcpy(cur->shadow, fresh->shadow, sizeof(cur->shadow));
			cur->nshadow = fresh->nshadow;
		}else{
			continue; /* no reloadable option of another type yet */
		}
		note(d->name, true, arg);
		applied++;
	}
	return applied;
}
