/*
 * test_config: plugin option parsing: defaults, strict integers, enums,
 * paths, cross-option rules, and error messages naming the option.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "config.h"
#include "vgtest.h"

#define O(k, v) { (char *)(k), (char *)(v) }
#define NOPTS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static char spool[64];
static char secret_file[96];
static char plain_file[96];

/* Parses opts; returns the rc and leaves the message in err. */
static int parse(const struct mosquitto_opt *opts, int n, char *err, size_t errlen)
{
	struct vg_config cfg;
	int rc;

	err[0] = '\0';
	rc = vg_config_parse(&cfg, opts, n, err, errlen);
	vg_config_free(&cfg);
	return rc;
}

/* Expects a failure whose message contains both needles. */
static void expect_error(const struct mosquitto_opt *opts, int n, const char *needle1, const char *needle2, int line)
{
	char err[512];
	int rc = parse(opts, n, err, sizeof(err));

	CHECK_INT(rc, -1);
	CHECK(strstr(err, needle1) != NULL);
	if(needle2){
		CHECK(strstr(err, needle2) != NULL);
	}
	if(rc != -1 || !strstr(err, needle1) || (needle2 && !strstr(err, needle2))){
		fprintf(stderr, "  ^ expectation at line %d, message was: %s\n", line, err);
	}
}

#define EXPECT_ERROR(opts, n1, n2) expect_error((opts), NOPTS(opts), (n1), (n2), __LINE__)

static void test_defaults(void)
{
	struct mosquitto_opt opts[] = { O("db_conninfo", "host=db dbname=vitalgate"), O("spool_dir", spool) };
	struct vg_config cfg;
	char err[256] = "";

	CHECK_INT(vg_config_parse(&cfg, opts, NOPTS(opts), err, sizeof(err)), 0);
	CHECK_STR(err, "");
	CHECK_STR(cfg.db_conninfo, "host=db dbname=vitalgate");
	CHECK_STR(cfg.spool_dir, spool);
	CHECK(cfg.spool_dir != spool);   /* a copy */
	CHECK(cfg.webhook_url == NULL);
	CHECK(cfg.webhook_secret_file == NULL);
	CHECK(!cfg.allow_cleartext);
	CHECK_INT(cfg.others, VG_OTHERS_DENY);
	CHECK_INT(cfg.journal_max_mb, 1024);
	CHECK_INT(cfg.journal_segment_mb, 16);
	CHECK_INT(cfg.journal_sync_ms, 20);
	CHECK_INT(cfg.ts_max_future_s, 300);
	CHECK_INT(cfg.ts_max_past_s, 86400);
	CHECK_INT(cfg.writer_batch_rows, 5000);
	CHECK_INT(cfg.webhook_timeout_ms, 5000);
	CHECK_INT(cfg.webhook_parallel, 8);
	CHECK_INT(cfg.queue_capacity, 65536);
	CHECK_INT(cfg.silence_s, 30);
	CHECK_INT(cfg.disconnect_grace_s, 10);
	CHECK_INT(cfg.news2_max_age_s, 900);
	CHECK_INT(cfg.alert_hold_s, 30);
	CHECK_INT(cfg.webhook_dead_after_s, 86400);
	CHECK_INT(cfg.webhook_backoff_max_s, 300);
	CHECK_INT(cfg.stats_interval_s, 10);
	vg_config_free(&cfg);
	CHECK(cfg.db_conninfo == NULL && cfg.spool_dir == NULL);
	vg_config_free(&cfg);   /* twice is harmless */
}

static void test_all_options(void)
{
	struct mosquitto_opt opts[] = {
		O("spool_dir", spool),                      /* order does not matter */
		O("db_conninfo", "postgresql:///vg"),
		O("webhook_url", "https://core.example/hooks/vitalgate"),
		O("webhook_secret_file", secret_file),
		O("others", "defer"),
		O("journal_max_mb", "2048"),
		O("journal_segment_mb", "32"),
		O("journal_sync_ms", "1"),
		O("ts_max_future_s", "0"),
		O("ts_max_past_s", "2592000"),
		O("writer_batch_rows", "100000"),
		O("webhook_timeout_ms", "100"),
		O("webhook_parallel", "256"),
		O("queue_capacity", "16"),
		O("silence_s", "45"),
		O("alert_hold_s", "0"),
	};
	struct vg_config cfg;
	char err[256] = "";

	CHECK_INT(vg_config_parse(&cfg, opts, NOPTS(opts), err, sizeof(err)), 0);
	CHECK_STR(err, "");
	CHECK_STR(cfg.db_conninfo, "postgresql:///vg");
	CHECK_STR(cfg.webhook_url, "https://core.example/hooks/vitalgate");
	CHECK_STR(cfg.webhook_secret_file, secret_file);
	CHECK_INT(cfg.others, VG_OTHERS_DEFER);
	CHECK_INT(cfg.journal_max_mb, 2048);
	CHECK_INT(cfg.journal_segment_mb, 32);
	CHECK_INT(cfg.journal_sync_ms, 1);
	CHECK_INT(cfg.ts_max_future_s, 0);
	CHECK_INT(cfg.ts_max_past_s, 2592000);
	CHECK_INT(cfg.writer_batch_rows, 100000);
	CHECK_INT(cfg.webhook_timeout_ms, 100);
	CHECK_INT(cfg.webhook_parallel, 256);
	CHECK_INT(cfg.queue_capacity, 16);
	CHECK_INT(cfg.silence_s, 45);
	CHECK_INT(cfg.alert_hold_s, 0);
	vg_config_free(&cfg);

	/* http:// is accepted too; others=deny explicitly. */
	{
		struct mosquitto_opt o2[] = { O("db_conninfo", "x"), O("spool_dir", spool),
			O("webhook_url", "http://127.0.0.1:8080/h"), O("webhook_secret_file", secret_file), O("others", "deny") };
		CHECK_INT(vg_config_parse(&cfg, o2, NOPTS(o2), err, sizeof(err)), 0);
		CHECK_INT(cfg.others, VG_OTHERS_DENY);
		CHECK_STR(cfg.webhook_url, "http://127.0.0.1:8080/h");
		vg_config_free(&cfg);
	}
	/* A secret file without a URL is allowed (kept for later). */
	{
		struct mosquitto_opt o3[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("webhook_secret_file", secret_file) };
		CHECK_INT(vg_config_parse(&cfg, o3, NOPTS(o3), err, sizeof(err)), 0);
		CHECK(cfg.webhook_url == NULL);
		vg_config_free(&cfg);
	}
}

static void test_unknown_and_missing(void)
{
	char err[512];
	struct mosquitto_opt unknown[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("spool_dri", "/tmp") };
	struct mosquitto_opt unknown_first[] = { O("bogus_option", "1"), O("db_conninfo", "x"), O("spool_dir", spool) };
	struct mosquitto_opt prefixed[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("plugin_opt_others", "deny") };
	struct mosquitto_opt no_db[] = { O("spool_dir", spool) };
	struct mosquitto_opt no_spool[] = { O("db_conninfo", "x") };
	struct mosquitto_opt twice[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("db_conninfo", "y") };
	struct mosquitto_opt null_value[] = { O("db_conninfo", NULL), O("spool_dir", spool) };
	struct mosquitto_opt empty_db[] = { O("db_conninfo", ""), O("spool_dir", spool) };

	EXPECT_ERROR(unknown, "plugin_opt_spool_dri", "unknown option");
	EXPECT_ERROR(unknown_first, "plugin_opt_bogus_option", "unknown");
	EXPECT_ERROR(prefixed, "plugin_opt_plugin_opt_others", "unknown");
	EXPECT_ERROR(no_db, "plugin_opt_db_conninfo", "required");
	EXPECT_ERROR(no_spool, "plugin_opt_spool_dir", "required");
	EXPECT_ERROR(twice, "plugin_opt_db_conninfo", "twice");
	EXPECT_ERROR(null_value, "plugin_opt_db_conninfo", "missing value");
	EXPECT_ERROR(empty_db, "plugin_opt_db_conninfo", "empty");
	CHECK_INT(parse(NULL, 0, err, sizeof(err)), -1);
	CHECK(strstr(err, "plugin_opt_db_conninfo") != NULL);
}

/* One integer option with a given value on top of the required ones. */
static int parse_int(const char *name, const char *value, char *err, size_t errlen)
{
	struct mosquitto_opt opts[] = { O("db_conninfo", "x"), O("spool_dir", spool), { (char *)name, (char *)value } };

	return parse(opts, NOPTS(opts), err, errlen);
}

static void test_integers(void)
{
	static const char *const bad[] = { "", "abc", "12abc", "1.5", "1e3", "0x10", "--1", "99999999999999999999",
		"-99999999999999999999", "10 MB" };
	static const struct { const char *name; const char *ok_lo; const char *ok_hi; const char *below; const char *above; } bounds[] = {
		{ "journal_max_mb", "16", "1048576", "0", "1048577" },
		{ "journal_segment_mb", "1", "1024", "0", "1025" },
		{ "journal_sync_ms", "1", "10000", "0", "10001" },
		{ "ts_max_future_s", "0", "86400", "-1", "86401" },
		{ "ts_max_past_s", "0", "2592000", "-1", "2592001" },
		{ "writer_batch_rows", "1", "100000", "0", "100001" },
		{ "webhook_timeout_ms", "100", "120000", "99", "120001" },
		{ "webhook_parallel", "1", "256", "0", "257" },
		{ "queue_capacity", "16", "16777216", "15", "16777217" },
		{ "silence_s", "1", "86400", "0", "86401" },
		{ "disconnect_grace_s", "0", "86400", "-1", "86401" },
		{ "news2_max_age_s", "10", "86400", "9", "86401" },
		{ "alert_hold_s", "0", "3600", "-1", "3601" },
		{ "webhook_dead_after_s", "10", "2592000", "9", "2592001" },
		{ "webhook_backoff_max_s", "1", "86400", "0", "86401" },
		{ "stats_interval_s", "0", "3600", "-1", "3601" },
	};
	char err[512], name[64];
	size_t i, k;

	for(i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++){
		snprintf(name, sizeof(name), "plugin_opt_%s", bounds[i].name);
		CHECK_INT(parse_int(bounds[i].name, bounds[i].ok_lo, err, sizeof(err)), 0);
		CHECK_INT(parse_int(bounds[i].name, bounds[i].ok_hi, err, sizeof(err)), 0);
		CHECK_INT(parse_int(bounds[i].name, bounds[i].below, err, sizeof(err)), -1);
		CHECK(strstr(err, name) != NULL);
		CHECK_INT(parse_int(bounds[i].name, bounds[i].above, err, sizeof(err)), -1);
		CHECK(strstr(err, name) != NULL);
		for(k = 0; k < sizeof(bad) / sizeof(bad[0]); k++){
			int rc = parse_int(bounds[i].name, bad[k], err, sizeof(err));
			CHECK_INT(rc, -1);
			CHECK(strstr(err, name) != NULL);
			if(rc != -1){
				fprintf(stderr, "  ^ %s accepted \"%s\"\n", bounds[i].name, bad[k]);
			}
		}
	}
	/* The message quotes the value and the allowed range. */
	CHECK_INT(parse_int("webhook_parallel", "12abc", err, sizeof(err)), -1);
	CHECK(strstr(err, "\"12abc\"") != NULL);
	CHECK(strstr(err, "1 and 256") != NULL);
}

static void test_others(void)
{
	struct mosquitto_opt bogus[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("others", "bogus") };
	struct mosquitto_opt upper[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("others", "Deny") };
	struct mosquitto_opt empty[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("others", "") };
	struct mosquitto_opt allow[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("others", "allow") };

	EXPECT_ERROR(bogus, "plugin_opt_others", "bogus");
	EXPECT_ERROR(upper, "plugin_opt_others", "deny, defer");
	EXPECT_ERROR(empty, "plugin_opt_others", NULL);
	EXPECT_ERROR(allow, "plugin_opt_others", NULL);
}

static void test_webhook(void)
{
	struct mosquitto_opt no_secret[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("webhook_url", "https://h/x") };
	struct mosquitto_opt ftp[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("webhook_url", "ftp://h/x"),
		O("webhook_secret_file", secret_file) };
	struct mosquitto_opt bare[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("webhook_url", "core:8080"),
		O("webhook_secret_file", secret_file) };
	struct mosquitto_opt space[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("webhook_url", "https://h/a b"),
		O("webhook_secret_file", secret_file) };
	struct mosquitto_opt rel_secret[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("webhook_url", "https://h/x"),
		O("webhook_secret_file", "secrets.txt") };
	struct mosquitto_opt missing_secret[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("webhook_url", "https://h/x"),
		O("webhook_secret_file", "/nonexistent-vg-dir/secrets.txt") };

	EXPECT_ERROR(no_secret, "plugin_opt_webhook_secret_file", "webhook_url");
	EXPECT_ERROR(ftp, "plugin_opt_webhook_url", "http");
	EXPECT_ERROR(bare, "plugin_opt_webhook_url", NULL);
	EXPECT_ERROR(space, "plugin_opt_webhook_url", "whitespace");
	EXPECT_ERROR(rel_secret, "plugin_opt_webhook_secret_file", "absolute");
	EXPECT_ERROR(missing_secret, "plugin_opt_webhook_secret_file", "/nonexistent-vg-dir/secrets.txt");
}

/* 12.15: cleartext to a host that is not loopback is refused at start
 * (naming the option and why), unless allow_cleartext, which then asks for
 * a warning; loopback stays allowed without ceremony. */
static void test_12_15_cleartext(void)
{
	static const struct { const char *url; bool loopback; } hosts[] = {
		{ "http://127.0.0.1:8080/h", true },
		{ "http://127.9.8.7/h", true },
		{ "http://localhost:3000/vitalgate/webhooks", true },
		{ "http://LOCALHOST/h", true },
		{ "http://[::1]:8080/h", true },
		{ "http://[::ffff:127.0.0.1]/h", true },
		{ "http://user:pw@127.0.0.1:9/h", true },
		{ "http://127.0.0.1", true },
		{ "http://127.0.0.1?x=1", true },
		{ "http://core.example.internal:3000/vitalgate/webhooks", false },
		{ "http://10.0.0.5/h", false },
		{ "http://128.0.0.1/h", false },
		{ "http://[2001:db8::1]:80/h", false },
		{ "http://[::2]/h", false },
		{ "http://localhost.example.com/h", false },
		{ "http://127.0.0.1.nip.io/h", false },
		{ "http://127.0.0.1@evil.example/h", false },          /* userinfo, then the real host */
		{ "http://evil.example/127.0.0.1", false },
		{ "http://[::ffff:10.0.0.1]/h", false },
	};
	struct mosquitto_opt wh_remote[] = { O("db_conninfo", "x"), O("spool_dir", spool),
		O("webhook_url", "http://core.example.internal:3000/vitalgate/webhooks"), O("webhook_secret_file", secret_file) };
	struct mosquitto_opt wh_userinfo[] = { O("db_conninfo", "x"), O("spool_dir", spool),
		O("webhook_url", "http://svc:hunter2@10.1.2.3/h"), O("webhook_secret_file", secret_file) };
	struct mosquitto_opt mirror_remote[] = { O("db_conninfo", "x"), O("spool_dir", spool),
		O("mirror_url", "http://legacy.example/ingest"), O("mirror_secret_file", secret_file) };
	struct mosquitto_opt bad_bool[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("allow_cleartext", "yes") };
	struct mosquitto_opt allowed[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("allow_cleartext", "true"),
		O("webhook_url", "http://core.example.internal:3000/vitalgate/webhooks"), O("webhook_secret_file", secret_file),
		O("mirror_url", "http://user:pw@legacy.example/ingest") };
	struct mosquitto_opt local[] = { O("db_conninfo", "x"), O("spool_dir", spool),
		O("webhook_url", "http://127.0.0.1:8080/h"), O("webhook_secret_file", secret_file), O("mirror_url", "http://[::1]/m") };
	struct mosquitto_opt tls[] = { O("db_conninfo", "x"), O("spool_dir", spool),
		O("webhook_url", "https://core.example.internal/h"), O("webhook_secret_file", secret_file),
		O("mirror_url", "https://legacy.example/ingest"), O("allow_cleartext", "false") };
	struct vg_config cfg;
	const char *names[2];
	char err[512], msg[512];
	size_t i;

	for(i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++){
		if(vg_config_loopback_url(hosts[i].url) != hosts[i].loopback){
			fprintf(stderr, "  12.15: %s should%s be loopback\n", hosts[i].url, hosts[i].loopback ? "" : " not");
		}
		CHECK(vg_config_loopback_url(hosts[i].url) == hosts[i].loopback);
	}

	/* Refused at start: the option, the host and why; never the URL's
	 * credentials. */
	EXPECT_ERROR(wh_remote, "plugin_opt_webhook_url: http:// would send alerts in cleartext to core.example.internal",
			"plugin_opt_allow_cleartext true");
	EXPECT_ERROR(mirror_remote, "plugin_opt_mirror_url: http:// would send vital signs in cleartext to legacy.example",
			"not a loopback address");
	EXPECT_ERROR(wh_userinfo, "plugin_opt_webhook_url", "10.1.2.3");
	CHECK_INT(parse(wh_userinfo, NOPTS(wh_userinfo), err, sizeof(err)), -1);
	CHECK(strstr(err, "hunter2") == NULL && strstr(err, "svc") == NULL);
	EXPECT_ERROR(bad_bool, "plugin_opt_allow_cleartext", "true or false");

	/* Allowed explicitly: accepted, with a warning naming both. */
	CHECK_INT(vg_config_parse(&cfg, allowed, NOPTS(allowed), err, sizeof(err)), 0);
	CHECK(cfg.allow_cleartext);
	CHECK_INT(vg_config_cleartext(&cfg, names), 2);
	CHECK_STR(names[0], "webhook_url");
	CHECK_STR(names[1], "mirror_url");
	CHECK(vg_config_cleartext_warning(&cfg, msg, sizeof(msg)));
	CHECK(strstr(msg, "plugin_opt_webhook_url sends alerts unencrypted (http://) to core.example.internal") != NULL);
	CHECK(strstr(msg, "plugin_opt_mirror_url sends vital signs unencrypted (http://) to legacy.example") != NULL);
	CHECK(strstr(msg, "plugin_opt_allow_cleartext true") != NULL);
	CHECK(strstr(msg, "pw@") == NULL);
	vg_config_free(&cfg);

	/* Loopback and https: no ceremony, nothing to warn about. */
	CHECK_INT(vg_config_parse(&cfg, local, NOPTS(local), err, sizeof(err)), 0);
	CHECK(!cfg.allow_cleartext);
	CHECK_INT(vg_config_cleartext(&cfg, names), 0);
	CHECK(!vg_config_cleartext_warning(&cfg, msg, sizeof(msg)));
	vg_config_free(&cfg);
	CHECK_INT(vg_config_parse(&cfg, tls, NOPTS(tls), err, sizeof(err)), 0);
	CHECK(!vg_config_cleartext_warning(&cfg, msg, sizeof(msg)));
	vg_config_free(&cfg);
}

static void test_spool_dir(void)
{
	struct mosquitto_opt relative[] = { O("db_conninfo", "x"), O("spool_dir", "spool") };
	struct mosquitto_opt dotrel[] = { O("db_conninfo", "x"), O("spool_dir", "./spool") };
	struct mosquitto_opt missing[] = { O("db_conninfo", "x"), O("spool_dir", "/nonexistent-vg-dir/spool") };
	struct mosquitto_opt file[] = { O("db_conninfo", "x"), O("spool_dir", plain_file) };
	struct mosquitto_opt empty[] = { O("db_conninfo", "x"), O("spool_dir", "") };

	EXPECT_ERROR(relative, "plugin_opt_spool_dir", "absolute");
	EXPECT_ERROR(dotrel, "plugin_opt_spool_dir", "absolute");
	EXPECT_ERROR(missing, "plugin_opt_spool_dir", "not an existing directory");
	EXPECT_ERROR(file, "plugin_opt_spool_dir", "not an existing directory");
	EXPECT_ERROR(empty, "plugin_opt_spool_dir", NULL);

	/* Not writable: only meaningful when not root. */
	if(geteuid() != 0){
		char ro[96];
		struct mosquitto_opt readonly[] = { O("db_conninfo", "x"), O("spool_dir", ro) };
		snprintf(ro, sizeof(ro), "%s/ro", spool);
		CHECK_INT(mkdir(ro, 0500), 0);
		EXPECT_ERROR(readonly, "plugin_opt_spool_dir", "not writable");
		rmdir(ro);
	}
}

static void test_cross_rules(void)
{
	struct mosquitto_opt seg_over_max[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("journal_max_mb", "8") };
	struct mosquitto_opt seg_eq_max[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("journal_max_mb", "16"),
		O("journal_segment_mb", "16") };
	char err[512];

	EXPECT_ERROR(seg_over_max, "plugin_opt_journal_segment_mb", "journal_max_mb");
	CHECK_INT(parse(seg_eq_max, NOPTS(seg_eq_max), err, sizeof(err)), 0);
}

static void test_markdown(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	static const char *const names[] = { "db_conninfo", "spool_dir", "webhook_url", "webhook_secret_file", "others",
		"journal_max_mb", "journal_segment_mb", "journal_sync_ms", "ts_max_future_s", "ts_max_past_s",
		"writer_batch_rows", "webhook_timeout_ms", "webhook_parallel", "queue_capacity", "stats_interval_s",
		"silence_s", "disconnect_grace_s", "news2_max_age_s", "alert_hold_s", "webhook_dead_after_s",
		"webhook_backoff_max_s" };
	size_t i;
	char needle[64];

	CHECK(f != NULL);
	if(f == NULL){
		return;
	}
	vg_config_write_markdown(f);
	fclose(f);
	CHECK(text != NULL && strncmp(text, "| option |", 10) == 0);
	for(i = 0; i < sizeof(names) / sizeof(names[0]); i++){
		snprintf(needle, sizeof(needle), "| `plugin_opt_%s` |", names[i]);
		CHECK(text && strstr(text, needle) != NULL);
	}
	CHECK(text && strstr(text, "| `plugin_opt_db_conninfo` | yes | - |") != NULL);
	CHECK(text && strstr(text, "| `plugin_opt_others` | no | deny |") != NULL);
	free(text);
}

static void test_ops_options(void)
{
	struct mosquitto_opt shadow[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("shadow_wards", "3W,ICU-2,a_b") };
	struct mosquitto_opt shadow_bad[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("shadow_wards", "3W,,ICU") };
	struct mosquitto_opt shadow_sp[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("shadow_wards", "3W, ICU") };
	struct mosquitto_opt addr_bad[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("metrics_address", "localhost") };
	struct mosquitto_opt port_bad[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("metrics_port", "70000") };
	struct mosquitto_opt mirror_nosecret[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("mirror_url", "http://127.0.0.1:1/x") };
	struct mosquitto_opt mirror_secret_alone[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("mirror_secret_file", secret_file) };
	struct mosquitto_opt ca_alone[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("webhook_ca_file", secret_file) };
	struct vg_config cfg;
	char err[512];

	CHECK_INT(vg_config_parse(&cfg, shadow, NOPTS(shadow), err, sizeof(err)), 0);
	CHECK_INT((int)cfg.nshadow, 3);
	CHECK_STR(cfg.shadow[0], "3W");
	CHECK_STR(cfg.shadow[1], "ICU-2");
	CHECK_STR(cfg.shadow[2], "a_b");
	CHECK_STR(cfg.metrics_address, "127.0.0.1");
	CHECK_INT((int)cfg.metrics_port, 0);
	vg_config_free(&cfg);
	EXPECT_ERROR(shadow_bad, "plugin_opt_shadow_wards", "comma-separated list of ward ids");
	EXPECT_ERROR(shadow_sp, "plugin_opt_shadow_wards", "3W, ICU");
	EXPECT_ERROR(addr_bad, "plugin_opt_metrics_address", "not an IPv4 or IPv6 address");
	EXPECT_ERROR(port_bad, "plugin_opt_metrics_port", "between 0 and 65535");
	EXPECT_ERROR(mirror_nosecret, "plugin_opt_mirror_secret_file", "required");
	EXPECT_ERROR(mirror_secret_alone, "plugin_opt_mirror_secret_file", "without plugin_opt_mirror_url");
	EXPECT_ERROR(ca_alone, "plugin_opt_webhook_ca_file", "without plugin_opt_webhook_url");
}

/* Cells (docs/scale-out.md): the cell's name, the hub, the trusted
 * proxies, and what excludes what. */
static void test_cells_options(void)
{
	struct mosquitto_opt cell[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("cell", "east-1"),
		O("trusted_proxies", "10.20.0.5,10.30.0.0/24,fd00::/8,::1") };
	struct mosquitto_opt hub[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("mode", "hub") };
	struct mosquitto_opt hub_cell[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("mode", "hub"), O("cell", "a") };
	struct mosquitto_opt cell_bad[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("cell", "east;1") };
	struct mosquitto_opt mode_bad[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("mode", "cell") };
	struct mosquitto_opt prox_bad[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("trusted_proxies", "10.0.0.1,haproxy") };
	struct mosquitto_opt prox_len[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("trusted_proxies", "10.0.0.0/33") };
	struct mosquitto_opt prox_empty[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("trusted_proxies", "10.0.0.1,") };
	struct vg_config cfg;
	char err[512];

	CHECK_INT(vg_config_parse(&cfg, cell, NOPTS(cell), err, sizeof(err)), 0);
	CHECK_STR(cfg.cell, "east-1");
	CHECK_INT(cfg.mode, VG_MODE_BROKER);
	CHECK_INT((int)cfg.proxies.n, 4);
	CHECK(vg_netlist_contains(&cfg.proxies, "10.20.0.5"));
	CHECK(!vg_netlist_contains(&cfg.proxies, "10.20.0.6"));
	CHECK(vg_netlist_contains(&cfg.proxies, "10.30.0.255"));
	CHECK(vg_netlist_contains(&cfg.proxies, "::ffff:10.30.0.7"));   /* an IPv4 client on a dual-stack listener */
	CHECK(!vg_netlist_contains(&cfg.proxies, "10.30.1.0"));
	CHECK(vg_netlist_contains(&cfg.proxies, "fd12:3456::1"));
	CHECK(vg_netlist_contains(&cfg.proxies, "::1"));
	CHECK(!vg_netlist_contains(&cfg.proxies, "fe80::1"));
	CHECK(!vg_netlist_contains(&cfg.proxies, "not an address"));
	CHECK(!vg_netlist_contains(&cfg.proxies, NULL));
	vg_config_free(&cfg);
	CHECK_INT(vg_config_parse(&cfg, hub, NOPTS(hub), err, sizeof(err)), 0);
	CHECK_INT(cfg.mode, VG_MODE_HUB);
	CHECK(cfg.cell == NULL);
	CHECK_INT((int)cfg.proxies.n, 0);
	CHECK(!vg_netlist_contains(&cfg.proxies, "127.0.0.1"));
	vg_config_free(&cfg);
	EXPECT_ERROR(hub_cell, "plugin_opt_cell", "serves no wards");
	EXPECT_ERROR(cell_bad, "plugin_opt_cell", "[A-Za-z0-9_-]{1,64}");
	EXPECT_ERROR(mode_bad, "plugin_opt_mode", "not one of broker, hub");
	EXPECT_ERROR(prox_bad, "plugin_opt_trusted_proxies", "\"haproxy\" is not an IPv4 or IPv6 address");
	EXPECT_ERROR(prox_len, "plugin_opt_trusted_proxies", "prefix length must be 0..32");
	EXPECT_ERROR(prox_empty, "plugin_opt_trusted_proxies", "is not an address or network");
	{
		/* A /0 holds everything of its family; a /25 splits a byte. */
		struct vg_netlist l;
		CHECK_INT(vg_netlist_parse("0.0.0.0/0", &l, err, sizeof(err)), 0);
		CHECK(vg_netlist_contains(&l, "203.0.113.9"));
		CHECK(!vg_netlist_contains(&l, "2001:db8::1"));
		CHECK_INT(vg_netlist_parse("192.168.1.128/25", &l, err, sizeof(err)), 0);
		CHECK(vg_netlist_contains(&l, "192.168.1.200"));
		CHECK(!vg_netlist_contains(&l, "192.168.1.127"));
	}
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	if(f){
		fputs(text, f);
		fclose(f);
	}
}

static char noted[512];

static void note_cb(const char *name, bool applied, void *arg)
{
	(void)arg;
	snprintf(noted + strlen(noted), sizeof(noted) - strlen(noted), "%s%s:%s", noted[0] ? " " : "", name,
			applied ? "applied" : "restart");
}

static void test_read_file_and_reload(void)
{
	char conf[128], dir[128], inc[160], so[128], other[128], text[1024], err[512];
	struct vg_config cur, fresh;
	struct mosquitto_opt start[] = { O("db_conninfo", "x"), O("spool_dir", spool), O("silence_s", "30") };

	snprintf(conf, sizeof(conf), "%s/mosquitto.conf", spool);
	snprintf(dir, sizeof(dir), "%s/conf.d", spool);
	snprintf(inc, sizeof(inc), "%s/10-vitalgate.conf", dir);
	snprintf(so, sizeof(so), "%s/vitalgate.so", spool);
	snprintf(other, sizeof(other), "%s/other.so", spool);
	mkdir(dir, 0700);
	write_file(so, "");
	write_file(other, "");
	/* Another plugin's options, comments and blank lines are not ours; our
	 * block continues in an include_dir file. */
	snprintf(text, sizeof(text), "# broker\nlistener 1883\n\nplugin %s\nplugin_opt_db_conninfo other\n"
			"plugin_opt_foo bar\ninclude_dir %s\n", other, dir);
	write_file(conf, text);
	snprintf(text, sizeof(text), "plugin %s\n  plugin_opt_db_conninfo host=/tmp dbname=v  \nplugin_opt_spool_dir %s\n"
			"# plugin_opt_silence_s 1\nplugin_opt_silence_s 45\nplugin_opt_writer_batch_rows 10\n"
			"plugin_opt_shadow_wards 5N\n", so, spool);
	write_file(inc, text);

	CHECK_INT(vg_config_read_file(&fresh, conf, so, err, sizeof(err)), 0);
	CHECK_STR(fresh.db_conninfo, "host=/tmp dbname=v");
	CHECK_INT((int)fresh.silence_s, 45);
	CHECK_INT((int)fresh.nshadow, 1);

	/* Apply: reloadable ones change, restart-only ones are only noted. */
	CHECK_INT(vg_config_parse(&cur, start, NOPTS(start), err, sizeof(err)), 0);
	noted[0] = '\0';
	CHECK_INT(vg_config_apply_reloadable(&cur, &fresh, note_cb, NULL), 2);
	CHECK_STR(noted, "db_conninfo:restart writer_batch_rows:restart silence_s:applied shadow_wards:applied");
	CHECK_INT((int)cur.silence_s, 45);
	CHECK_INT((int)cur.writer_batch_rows, 5000);
	CHECK_STR(cur.db_conninfo, "x");
	CHECK_INT((int)cur.nshadow, 1);
	CHECK_STR(cur.shadow[0], "5N");
	CHECK_STR(cur.shadow_wards, "5N");
	vg_config_free(&fresh);
	vg_config_free(&cur);

	/* A bad value anywhere refuses the whole file, naming it. */
	snprintf(text, sizeof(text), "plugin %s\nplugin_opt_db_conninfo x\nplugin_opt_spool_dir %s\nplugin_opt_silence_s soon\n", so, spool);
	write_file(inc, text);
	CHECK_INT(vg_config_read_file(&fresh, conf, so, err, sizeof(err)), -1);
	CHECK(strstr(err, "plugin_opt_silence_s") != NULL);
	vg_config_free(&fresh);

	/* Our plugin line gone: refused. */
	write_file(inc, "");
	CHECK_INT(vg_config_read_file(&fresh, conf, so, err, sizeof(err)), -1);
	CHECK(strstr(err, "no longer loads") != NULL);
	vg_config_free(&fresh);
	CHECK_INT(vg_config_read_file(&fresh, "/nonexistent/mosquitto.conf", so, err, sizeof(err)), -1);
	CHECK(strstr(err, "cannot read /nonexistent/mosquitto.conf") != NULL);
	vg_config_free(&fresh);
	unlink(inc);
	rmdir(dir);
	unlink(conf);
	unlink(so);
	unlink(other);
}

int main(void)
{
	FILE *f;

	snprintf(spool, sizeof(spool), "/tmp/vg-test-config-XXXXXX");
	if(mkdtemp(spool) == NULL){
		perror("mkdtemp");
		return 2;
	}
	snprintf(secret_file, sizeof(secret_file), "%s/whsec.txt", spool);
	snprintf(plain_file, sizeof(plain_file), "%s/plain", spool);
	f = fopen(secret_file, "w");
	if(f){
		fputs("whsec_AAECAwQFBgcICQoLDA0ODw==\n", f);
		fclose(f);
	}
	f = fopen(plain_file, "w");
	if(f){
		fclose(f);
	}

	test_defaults();
	test_cells_options();
	test_all_options();
	test_unknown_and_missing();
	test_integers();
	test_others();
	test_webhook();
	test_12_15_cleartext();
	test_spool_dir();
	test_cross_rules();
	test_markdown();
	test_ops_options();
	test_read_file_and_reload();

	unlink(secret_file);
	unlink(plain_file);
	rmdir(spool);
	return vgtest_result("test_config");
}
