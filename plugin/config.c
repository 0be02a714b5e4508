/*
 * config: option table and strict parser (see config.h).
 * Thread: broker thread at init. Memory: strings in vg_config are heap
 * copies owned by the struct.
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "vg_util.h"

enum opt_type { OPT_STR, OPT_INT, OPT_OTHERS, OPT_URL, OPT_PATH_DIR, OPT_PATH_FILE };

struct opt_def {
	const char *name;
	enum opt_type type;
	size_t offset;
	bool required;
	const char *def;     /* default, as text */
	int64_t min, max;    /* OPT_INT bounds */
	const char *help;
};

#define OFF(f) offsetof(struct vg_config, f)

static const struct opt_def opt_table[] = {
	{ "db_conninfo", OPT_STR, OFF(db_conninfo), true, NULL, 0, 0,
		"libpq connection string of the Vitalgate database" },
	{ "spool_dir", OPT_PATH_DIR, OFF(spool_dir), true, NULL, 0, 0,
		"directory for the durable local journal; must be writable by the broker's user" },
	{ "webhook_url", OPT_URL, OFF(webhook_url), false, NULL, 0, 0,
		"the Node.js core's webhook endpoint (http:// or https://); without it alerts go to MQTT only" },
	{ "webhook_secret_file", OPT_PATH_FILE, OFF(webhook_secret_file), false, NULL, 0, 0,
		"file with one or more whsec_ secrets, one per line (all sign; the first is the newest); re-read within 2 s when it changes (key rotation without a restart); required with webhook_url" },
	{ "others", OPT_OTHERS, OFF(others), false, "deny", 0, 0,
		"deny: identities and topics outside Vitalgate's are refused; defer: left to the broker's other authentication, foreign topics allowed" },
	{ "journal_max_mb", OPT_INT, OFF(journal_max_mb), false, "1024", 1, 1048576,
		"journal size limit in MiB; past it new samples are refused with `backpressure`" },
	{ "journal_segment_mb", OPT_INT, OFF(journal_segment_mb), false, "16", 1, 1024,
		"journal segment size in MiB" },
	{ "journal_sync_ms", OPT_INT, OFF(journal_sync_ms), false, "20", 1, 10000,
		"group fdatasync period of the journal (bounds what a power cut can lose)" },
	{ "ts_max_future_s", OPT_INT, OFF(ts_max_future_s), false, "300", 0, 86400,
		"a sample's ts more than this ahead of the broker clock is `bad_time`" },
	{ "ts_max_past_s", OPT_INT, OFF(ts_max_past_s), false, "86400", 0, 2592000,
		"a sample's ts more than this behind the broker clock is `bad_time`" },
	{ "writer_batch_rows", OPT_INT, OFF(writer_batch_rows), false, "5000", 1, 100000,
		"most rows the PostgreSQL writer commits in one transaction" },
	{ "webhook_timeout_ms", OPT_INT, OFF(webhook_timeout_ms), false, "5000", 100, 120000,
		"timeout of one webhook attempt" },
	{ "webhook_parallel", OPT_INT, OFF(webhook_parallel), false, "8", 1, 256,
		"webhook deliveries in flight at once" },
	{ "queue_capacity", OPT_INT, OFF(queue_capacity), false, "65536", 16, 16777216,
		"bound of each in-memory queue between the broker thread and a worker" },
	{ "silence_s", OPT_INT, OFF(silence_s), false, "30", 1, 86400,
		"an assigned device that sends nothing for this long raises a silent-device alert" },
	{ "disconnect_grace_s", OPT_INT, OFF(disconnect_grace_s), false, "10", 0, 86400,
		"an assigned device that disconnects and is not back within this raises a silent-device alert" },
	{ "news2_max_age_s", OPT_INT, OFF(news2_max_age_s), false, "900", 10, 86400,
		"NEWS2 counts a parameter's latest value only while it is at most this old" },
	{ "alert_hold_s", OPT_INT, OFF(alert_hold_s), false, "30", 0, 3600,
		"an alert de-escalates or resolves only after the better state held this long (hysteresis)" },
	{ "webhook_dead_after_s", OPT_INT, OFF(webhook_dead_after_s), false, "86400", 10, 2592000,
		"a webhook still undelivered after this long is given up (dead letter, re-drivable with vitalgate-admin)" },
	{ "webhook_backoff_max_s", OPT_INT, OFF(webhook_backoff_max_s), false, "300", 1, 86400,
		"longest wait between two attempts of one webhook (exponential backoff from 1 s, with jitter)" },
	{ "stats_interval_s", OPT_INT, OFF(stats_interval_s), false, "10", 0, 3600,
		"how often counters are published (retained) under $SYS/broker/vitalgate/; 0 disables" },
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
	if(cfg->journal_segment_mb > cfg->journal_max_mb){
		snprintf(err, errlen, "plugin_opt_journal_segment_mb: larger than plugin_opt_journal_max_mb");
		return -1;
	}
	return 0;
}

void vg_config_free(struct vg_config *cfg)
{
	free(cfg->db_conninfo);
	free(cfg->spool_dir);
	free(cfg->webhook_url);
	free(cfg->webhook_secret_file);
	memset(cfg, 0, sizeof(*cfg));
}

void vg_config_write_markdown(void *file)
{
	FILE *f = file;
	size_t i;

	fprintf(f, "| option | required | default | meaning |\n| --- | --- | --- | --- |\n");
	for(i = 0; i < OPT_COUNT; i++){
		fprintf(f, "| `plugin_opt_%s` | %s | %s | %s |\n", opt_table[i].name,
				opt_table[i].required ? "yes" : "no",
				opt_table[i].def ? opt_table[i].def : "-", opt_table[i].help);
	}
}
