/*
 * Unit tests for plugin/auth.c's ACL check, with the broker faked: the
 * decisions that rest on live sessions (issue 12, items 4, 6, 12), and the
 * proof that the per-message read check stays O(1) without allocating:
 * one million read checks allocate nothing (this executable defines
 * malloc, as test_fixtures does), and a check costs about the same with
 * 1,000 and with 100,000 identities in the table.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "audit.h"
#include "crl.h"
#include "ingest.h"
#include "occupancy.h"
#include "vg_plugin.h"
#include "vgtest.h"

static long allocs;

#if defined(__SANITIZE_ADDRESS__)
#define COUNT_ALLOCS 0
#else
#define COUNT_ALLOCS 1
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t a, size_t b);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);

__attribute__((visibility("default"))) void *malloc(size_t n)
{
	allocs++;
	return __libc_malloc(n);
}

__attribute__((visibility("default"))) void *calloc(size_t a, size_t b)
{
	allocs++;
	return __libc_calloc(a, b);
}

__attribute__((visibility("default"))) void *realloc(void *p, size_t n)
{
	allocs++;
	return __libc_realloc(p, n);
}

__attribute__((visibility("default"))) void free(void *p)
{
	__libc_free(p);
}
#endif

/* ---- the broker, faked: a client is its username and client id ---- */
struct fake_client {
	const char *username;
	const char *id;
};

const char *mosquitto_client_username(const struct mosquitto *client)
{
	return ((const struct fake_client *)(const void *)client)->username;
}

const char *mosquitto_client_id(const struct mosquitto *client)
{
	return ((const struct fake_client *)(const void *)client)->id;
}

const char *mosquitto_client_address(const struct mosquitto *client)
{
	(void)client;
	return "127.0.0.1";
}

void *mosquitto_client_certificate(const struct mosquitto *client)
{
	(void)client;
	return NULL;
}

int mosquitto_set_username(struct mosquitto *client, const char *username)
{
	(void)client;
	(void)username;
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_kick_client_by_clientid(const char *client_id, bool with_will)
{
	(void)client_id, (void)with_will;
	return MOSQ_ERR_SUCCESS;
}

void mosquitto_log_printf(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

/* ---- the rest of the plugin, stubbed ---- */
static int denials;

void vg_audit(struct vg_plugin *vg, enum vg_audit_event ev, const char *identity, const char *client_id,
		const char *address, const char *fmt, ...)
{
	(void)vg, (void)ev, (void)identity, (void)client_id, (void)address, (void)fmt;
}

void vg_audit_noisy(struct vg_plugin *vg, enum vg_audit_event ev, const char *identity, const char *client_id,
		const char *address, const char *fmt, ...)
{
	(void)vg, (void)ev, (void)identity, (void)client_id, (void)address, (void)fmt;
	denials++;
}

bool vg_crl_login_revoked(struct vg_plugin *vg, struct mosquitto *client, struct vg_cert_id *id)
{
	(void)vg, (void)client;
	memset(id, 0, sizeof(*id));
	return false;
}

static int ingested;

int vg_ingest_acl_write(struct vg_plugin *vg, struct vg_ident *e, const struct mosquitto_evt_acl_check *ed)
{
	(void)vg, (void)e, (void)ed;
	ingested++;
	return MOSQ_ERR_SUCCESS;
}

static int acked;
int vg_alerts_ack(struct vg_plugin *vg, const struct vg_ident *e, const char *client_id,
		const struct mosquitto_evt_acl_check *ed)
{
	(void)vg, (void)e, (void)client_id, (void)ed;
	acked++;
	return MOSQ_ERR_SUCCESS;
}

static int occupancies;

int vg_occupancy_acl_write(struct vg_plugin *vg, const struct vg_ident *e, const struct mosquitto_evt_acl_check *ed)
{
	(void)vg, (void)e, (void)ed;
	occupancies++;
	return MOSQ_ERR_SUCCESS;
}

/* ---- helpers ---- */
static struct vg_ident *add(struct vg_plugin *vg, const char *id, int role, const char *ward)
{
	struct vg_ident *e = vg_ident_new(ward && role == VG_ROLE_STATION ? 1 : 0);

	vg_strlcpy(e->id, id, sizeof(e->id));
	e->role = (uint8_t)role;
	if(ward && role == VG_ROLE_STATION){
		e->nwards = 1;
		vg_strlcpy(e->wards[0], ward, sizeof(e->wards[0]));
	}else if(ward){
		vg_strlcpy(e->ward, ward, sizeof(e->ward));
		vg_strlcpy(e->bed, "B1", sizeof(e->bed));
	}
	CHECK(vg_idtable_put(&vg->ids.table, e) == 0);
	return e;
}

/* Makes client the identity's live session (what BASIC_AUTH does). */
static void go_live(struct vg_plugin *vg, struct vg_ident *e, struct fake_client *client)
{
	vg_sessions_get(&vg->sessions, e->id)->live = (const struct mosquitto *)(void *)client;
}

static void plugin_init(struct vg_plugin *vg, size_t n)
{
	CHECK(vg_idtable_init(&vg->ids.table, n) == 0);
	CHECK(vg_sessions_init(&vg->sessions, 16) == 0);
	CHECK(vg_devices_init(&vg->devices, 16) == 0);
}

static void plugin_free(struct vg_plugin *vg)
{
	vg_idtable_destroy(&vg->ids.table);
	vg_sessions_free(&vg->sessions);
	vg_devices_free(&vg->devices);
	free(vg);
}

static int acl(struct vg_plugin *vg, struct fake_client *client, int access, const char *topic)
{
	struct mosquitto_evt_acl_check ed;

	memset(&ed, 0, sizeof(ed));
	ed.client = (struct mosquitto *)(void *)client;
	ed.access = access;
	ed.topic = topic;
	return vg_auth_acl_cb(MOSQ_EVT_ACL_CHECK, &ed, vg);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ns per read check (service reading vitals/, station reading its ward)
 * with n identities in the table. */
static double read_cost(size_t n, long rounds, long *allocated)
{
	struct vg_plugin *vg = calloc(1, sizeof(*vg));
	struct fake_client svc = { "core", "core" }, st = { "st-3w", "st-3w" };
	char id[32], topics[64][48];
	size_t i;
	long k, before;
	double t0, t1;
	int bad = 0;

	plugin_init(vg, 1024);
	for(i = 0; i < n; i++){
		snprintf(id, sizeof(id), "dev-%zu", i);
		add(vg, id, VG_ROLE_DEVICE, "3W");
	}
	go_live(vg, add(vg, "core", VG_ROLE_SERVICE, NULL), &svc);
	go_live(vg, add(vg, "st-3w", VG_ROLE_STATION, "3W"), &st);
	for(i = 0; i < 64; i++){
		snprintf(topics[i], sizeof(topics[i]), "vitals/dev-%zu", (i * 7919) % n);
	}
	before = allocs;
	t0 = now_ns();
	for(k = 0; k < rounds; k++){
		bad += acl(vg, &svc, MOSQ_ACL_READ, topics[k & 63]) != MOSQ_ERR_SUCCESS;
		bad += acl(vg, &st, MOSQ_ACL_READ, "wards/3W/alerts") != MOSQ_ERR_SUCCESS;
	}
	t1 = now_ns();
	*allocated = allocs - before;
	CHECK_INT(bad, 0);
	plugin_free(vg);
	return (t1 - t0) / (double)(rounds * 2);
}

int main(void)
{
	struct vg_plugin *vg = calloc(1, sizeof(*vg));
	struct fake_client dev = { "dev-a", "dev-a" }, older = { "dev-a", "dev-a" };
	struct fake_client labuser = { "dev-new", "dev-new" }, anon = { NULL, "anon-1" };
	struct fake_client svc = { "core", "core" }, stale_svc = { "core", "core" };
	struct vg_ident *a;
	long alloc_small, alloc_big;
	double small, big;

	plugin_init(vg, 64);
	vg->auth.kicks = calloc(VG_MAX_KICKS, sizeof(*vg->auth.kicks));
	vg->cfg.others = VG_OTHERS_DEFER;
	a = add(vg, "dev-a", VG_ROLE_DEVICE, "3W");
	add(vg, "core", VG_ROLE_SERVICE, NULL);
	go_live(vg, a, &dev);
	go_live(vg, vg_idtable_find(&vg->ids.table, "core"), &svc);

	/* The live session has the identity's rights; its publish is ingested
	 * by the ACL check itself. */
	CHECK_INT(acl(vg, &dev, MOSQ_ACL_WRITE, "vitals/dev-a"), MOSQ_ERR_SUCCESS);
	CHECK_INT(ingested, 1);
	CHECK_INT(acl(vg, &dev, MOSQ_ACL_SUBSCRIBE, "devices/dev-a/rejections"), MOSQ_ERR_SUCCESS);
	/* 12.4: another client with the same name and id (a taken-over session,
	 * or a will Mosquitto checks after the DISCONNECT) has none of them. */
	CHECK_INT(acl(vg, &older, MOSQ_ACL_WRITE, "vitals/dev-a"), MOSQ_ERR_ACL_DENIED);
	CHECK_INT(ingested, 1);
	CHECK_INT(acl(vg, &older, MOSQ_ACL_READ, "devices/dev-a/rejections"), MOSQ_ERR_ACL_DENIED);
	CHECK_INT(acl(vg, &stale_svc, MOSQ_ACL_READ, "vitals/dev-a"), MOSQ_ERR_ACL_DENIED);
	/* The core's occupancy (issue 17): taken in the ACL check of its live
	 * session's publish only; a stale session, a device never. */
	CHECK_INT(acl(vg, &svc, MOSQ_ACL_WRITE, "adt/3W/B1"), MOSQ_ERR_SUCCESS);
	CHECK_INT(occupancies, 1);
	CHECK_INT(acl(vg, &stale_svc, MOSQ_ACL_WRITE, "adt/3W/B1"), MOSQ_ERR_ACL_DENIED);
	CHECK_INT(acl(vg, &dev, MOSQ_ACL_WRITE, "adt/3W/B1"), MOSQ_ERR_ACL_DENIED);
	CHECK_INT(acl(vg, &svc, MOSQ_ACL_WRITE, "adt/3W/B 1"), MOSQ_ERR_ACL_DENIED);
	CHECK_INT(occupancies, 1);
	/* ...and the kick it queues spares the live session of that id. */
	CHECK(vg->auth.nkicks >= 1 && !strcmp(vg->auth.kicks[0].client_id, "dev-a"));
	CHECK(vg_auth_is_live(vg, "dev-a"));
	/* 12.6: a password_file session named like an identity created after
	 * it logged in never gains its rights, foreign topics included. */
	add(vg, "dev-new", VG_ROLE_DEVICE, "3W");
	CHECK_INT(acl(vg, &labuser, MOSQ_ACL_WRITE, "vitals/dev-new"), MOSQ_ERR_ACL_DENIED);
	CHECK_INT(acl(vg, &labuser, MOSQ_ACL_WRITE, "lab/x"), MOSQ_ERR_ACL_DENIED);
	/* 12.12: Vitalgate's $SYS figures are for services only. */
	CHECK_INT(acl(vg, &anon, MOSQ_ACL_SUBSCRIBE, "$SYS/broker/vitalgate/#"), MOSQ_ERR_ACL_DENIED);
	CHECK_INT(acl(vg, &anon, MOSQ_ACL_SUBSCRIBE, "$SYS/#"), MOSQ_ERR_SUCCESS);
	CHECK_INT(acl(vg, &anon, MOSQ_ACL_READ, "$SYS/broker/vitalgate/samples/accepted"), MOSQ_ERR_ACL_DENIED);
	CHECK_INT(acl(vg, &anon, MOSQ_ACL_READ, "$SYS/broker/vitalgateway"), MOSQ_ERR_SUCCESS);
	CHECK_INT(acl(vg, &anon, MOSQ_ACL_READ, "$SYS/broker/uptime"), MOSQ_ERR_SUCCESS);
	CHECK_INT(acl(vg, &dev, MOSQ_ACL_READ, "$SYS/broker/vitalgate/samples/accepted"), MOSQ_ERR_ACL_DENIED);
	CHECK_INT(acl(vg, &svc, MOSQ_ACL_READ, "$SYS/broker/vitalgate/samples/accepted"), MOSQ_ERR_SUCCESS);
	CHECK_INT(acl(vg, &svc, MOSQ_ACL_SUBSCRIBE, "$SYS/broker/vitalgate/#"), MOSQ_ERR_SUCCESS);
	/* Deny mode keeps $SYS from everyone but services, as any foreign topic. */
	vg->cfg.others = VG_OTHERS_DENY;
	CHECK_INT(acl(vg, &dev, MOSQ_ACL_SUBSCRIBE, "$SYS/#"), MOSQ_ERR_ACL_DENIED);
	CHECK_INT(acl(vg, &svc, MOSQ_ACL_READ, "$SYS/broker/vitalgate/samples/accepted"), MOSQ_ERR_SUCCESS);
	CHECK(denials > 0);
	free(vg->auth.kicks);
	plugin_free(vg);

	/* O(1) read checks, no allocation: a million checks (after a warm-up)
	 * with 1,000 and with 100,000 identities. */
	read_cost(1000, 1000, &alloc_small);
	small = read_cost(1000, 500000, &alloc_small);
	big = read_cost(100000, 500000, &alloc_big);
	printf("read check: %.1f ns with 1,000 identities, %.1f ns with 100,000; %ld and %ld allocations in 1,000,000 checks\n",
			small, big, alloc_small, alloc_big);
	if(COUNT_ALLOCS){
		CHECK_INT(alloc_small, 0);
		CHECK_INT(alloc_big, 0);
	}
#if !defined(__SANITIZE_ADDRESS__)
	/* Constant time: a 100-fold table costs no more than a few cache misses. */
	CHECK(big < small * 4 + 50);
#endif
	return vgtest_result("test_acl");
}
