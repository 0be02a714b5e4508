/*
 * test_acl_rules: the contract's topic rules (common/vg_acl.c), one row
 * per case: who asks (a device, a station of 3W and 4E, a service, or a
 * client Vitalgate does not know), others=defer or deny, the access, the
 * topic or filter, retained or not -> allow, allow-and-ingest or deny (and
 * why). Every role x namespace x access (a cell's bridge identity on the
 * hub: the wards of its cell, 3W and 4E), and the edge cases: wildcards
 * above and inside a namespace, $share, $SYS, retained publishes, ids that
 * are prefixes of one another, bare namespace roots.
 */
#include <stdio.h>
#include <string.h>

#include "vg_acl.h"
#include "vg_util.h"
#include "vgtest.h"

enum who { NOBODY, DEV, STA, SVC, CELL };

#define R VG_ACL_READ
#define W VG_ACL_WRITE
#define S VG_ACL_SUBSCRIBE
#define U VG_ACL_UNSUBSCRIBE
#define ALLOW VG_ACL_ALLOW
#define DENY VG_ACL_DENY
#define INGEST VG_ACL_INGEST
#define ACK VG_ACL_ACK
#define OCC VG_ACL_OCCUPANCY

static const struct row {
	enum who who;
	int defer;               /* others=defer */
	int access;
	const char *topic;
	int retain;
	enum vg_acl_verdict want;
	const char *why;         /* for DENY: the reason given */
} rows[] = {
	/* ---- a device (dev-1, in 3W) ---- */
	{ DEV, 0, W, "vitals/dev-1", 0, INGEST, NULL },
	{ DEV, 1, W, "vitals/dev-1", 0, INGEST, NULL },
	{ DEV, 0, W, "vitals/dev-1", 1, DENY, "retained publish or topic outside the role's scope" },
	{ DEV, 0, W, "vitals/dev-2", 0, DENY, "topic outside the role's scope" },
	{ DEV, 0, W, "vitals/dev-10", 0, DENY, "topic outside the role's scope" },
	{ DEV, 0, W, "vitals/dev-", 0, DENY, "topic outside the role's scope" },
	{ DEV, 0, W, "vitals/dev-1/x", 0, DENY, "topic outside the role's scope" },
	{ DEV, 0, W, "vitals", 0, DENY, "topic outside the role's scope" },
	{ DEV, 0, W, "devices/dev-1/rejections", 0, DENY, "topic outside the role's scope" },
	{ DEV, 0, W, "wards/3W/alerts", 0, DENY, "topic outside the role's scope" },
	{ DEV, 0, W, "$SYS/broker/vitalgate/x", 0, DENY, "topic outside the role's scope" },
	{ DEV, 0, W, "lab/x", 0, DENY, "topic outside the role's scope" },
	{ DEV, 1, W, "lab/x", 0, ALLOW, NULL },
	{ DEV, 1, W, "lab/x", 1, ALLOW, NULL },
	{ DEV, 0, R, "devices/dev-1/rejections", 0, ALLOW, NULL },
	{ DEV, 0, R, "devices/dev-1", 0, DENY, "topic outside the role's scope" },
	{ DEV, 0, R, "devices/dev-10/rejections", 0, DENY, "topic outside the role's scope" },
	{ DEV, 0, R, "devices/dev-2/rejections", 0, DENY, "topic outside the role's scope" },
	{ DEV, 0, R, "vitals/dev-1", 0, DENY, "topic outside the role's scope" },
	{ DEV, 0, R, "wards/3W/alerts", 0, DENY, "topic outside the role's scope" },
	{ DEV, 0, R, "wards/3W/vitals", 0, DENY, "topic outside the role's scope" },
	{ DEV, 0, W, "wards/3W/vitals", 0, DENY, "topic outside the role's scope" },
	{ DEV, 0, R, "$SYS/broker/vitalgate/samples/accepted", 0, DENY, "topic outside the role's scope" },
	{ DEV, 0, R, "$SYS/broker/uptime", 0, DENY, "topic outside the role's scope" },
	{ DEV, 1, R, "$SYS/broker/uptime", 0, ALLOW, NULL },
	{ DEV, 1, R, "lab/x", 0, ALLOW, NULL },
	{ DEV, 0, R, "lab/x", 0, DENY, "topic outside the role's scope" },
	{ DEV, 0, S, "devices/dev-1/rejections", 0, ALLOW, NULL },
	{ DEV, 0, S, "devices/dev-1/#", 0, ALLOW, NULL },
	{ DEV, 0, S, "devices/dev-1/+", 0, ALLOW, NULL },
	{ DEV, 0, S, "devices/+/rejections", 0, DENY, "topic outside the role's scope" },
	{ DEV, 0, S, "devices/#", 0, DENY, "topic outside the role's scope" },
	{ DEV, 0, S, "#", 0, DENY, "topic outside the role's scope" },
	{ DEV, 1, S, "#", 0, DENY, "topic outside the role's scope" },
	{ DEV, 1, S, "+/dev-1/rejections", 0, DENY, "topic outside the role's scope" },
	{ DEV, 0, S, "$share/g/devices/dev-1/rejections", 0, ALLOW, NULL },
	{ DEV, 0, S, "$share/g/devices/dev-2/rejections", 0, DENY, "topic outside the role's scope" },
	{ DEV, 1, S, "$share/g/#", 0, DENY, "topic outside the role's scope" },
	{ DEV, 1, S, "lab/#", 0, ALLOW, NULL },
	{ DEV, 0, S, "lab/#", 0, DENY, "topic outside the role's scope" },
	{ DEV, 0, U, "anything/#", 0, ALLOW, NULL },

	/* ---- a station (st-1, wards 3W and 4E) ---- */
	{ STA, 0, R, "wards/3W/alerts", 0, ALLOW, NULL },
	{ STA, 0, R, "wards/4E/beds/12/vitals", 0, ALLOW, NULL },
	{ STA, 0, R, "wards/3W", 0, ALLOW, NULL },
	/* The ward frames (issue 16): its wards', nothing wider. */
	{ STA, 0, R, "wards/3W/vitals", 0, ALLOW, NULL },
	{ STA, 0, R, "wards/4E/vitals", 0, ALLOW, NULL },
	{ STA, 0, R, "wards/5N/vitals", 0, DENY, "topic outside the role's scope" },
	{ STA, 0, S, "wards/3W/vitals", 0, ALLOW, NULL },
	{ STA, 0, S, "wards/+/vitals", 0, DENY, "topic outside the role's scope" },
	{ STA, 0, S, "$share/desk/wards/5N/vitals", 0, DENY, "topic outside the role's scope" },
	{ STA, 0, W, "wards/3W/vitals", 1, DENY, "retained publish or topic outside the role's scope" },
	{ STA, 1, W, "wards/3W/vitals", 0, DENY, "topic outside the role's scope" },
	{ STA, 0, R, "wards/5N/alerts", 0, DENY, "topic outside the role's scope" },
	{ STA, 0, R, "wards/3WX/alerts", 0, DENY, "topic outside the role's scope" },
	{ STA, 0, R, "wards/3/alerts", 0, DENY, "topic outside the role's scope" },
	{ STA, 0, R, "wards//alerts", 0, DENY, "topic outside the role's scope" },
	{ STA, 0, R, "wards", 0, DENY, "topic outside the role's scope" },
	{ STA, 0, R, "vitals/dev-1", 0, DENY, "topic outside the role's scope" },
	{ STA, 0, R, "devices/dev-1/rejections", 0, DENY, "topic outside the role's scope" },
	{ STA, 0, R, "$SYS/broker/vitalgate/identities", 0, DENY, "topic outside the role's scope" },
	{ STA, 1, R, "lab/x", 0, ALLOW, NULL },
	{ STA, 0, R, "lab/x", 0, DENY, "topic outside the role's scope" },
	{ STA, 0, S, "wards/3W/#", 0, ALLOW, NULL },
	{ STA, 0, S, "wards/3W/beds/+/vitals", 0, ALLOW, NULL },
	{ STA, 0, S, "wards/+/alerts", 0, DENY, "topic outside the role's scope" },
	{ STA, 0, S, "wards/#", 0, DENY, "topic outside the role's scope" },
	{ STA, 0, S, "wards/3W+/alerts", 0, DENY, "topic outside the role's scope" },
	{ STA, 0, S, "wards/3#", 0, DENY, "topic outside the role's scope" },
	{ STA, 0, S, "#", 0, DENY, "topic outside the role's scope" },
	{ STA, 1, S, "+/3W/alerts", 0, DENY, "topic outside the role's scope" },
	{ STA, 0, S, "$share/desk/wards/4E/alerts/active", 0, ALLOW, NULL },
	{ STA, 0, S, "$share/desk/wards/5N/alerts", 0, DENY, "topic outside the role's scope" },
	{ STA, 0, S, "$share/desk", 0, DENY, "topic outside the role's scope" },
	{ STA, 1, S, "$share/desk", 0, ALLOW, NULL },
	{ STA, 0, W, "wards/3W/alerts", 0, DENY, "topic outside the role's scope" },
	/* Acks (issue 15): a station of the ward, not retained, one alert id level. */
	{ STA, 0, W, "wards/3W/alerts/al_0123456789abcdef01234567/ack", 0, ACK, NULL },
	{ STA, 1, W, "wards/4E/alerts/al_x/ack", 0, ACK, NULL },
	{ STA, 0, W, "wards/5N/alerts/al_x/ack", 0, DENY, "topic outside the role's scope" },
	{ STA, 0, W, "wards/3W/alerts/al_x/ack", 1, DENY, "retained publish or topic outside the role's scope" },
	{ STA, 0, W, "wards/3W/alerts/+/ack", 0, DENY, "topic outside the role's scope" },
	{ STA, 0, W, "wards/3W/alerts//ack", 0, DENY, "topic outside the role's scope" },
	{ STA, 0, W, "wards/3W/alerts/al_x/ack/x", 0, DENY, "topic outside the role's scope" },
	{ STA, 0, W, "wards/3W/alerts/al_x/y/ack", 0, DENY, "topic outside the role's scope" },
	{ STA, 0, W, "wards/3W/alerts/active", 0, DENY, "topic outside the role's scope" },
	{ STA, 0, W, "wards/3W/vitals/al_x/ack", 0, DENY, "topic outside the role's scope" },
	{ STA, 0, W, "wards/3W/alerts/al_x/ack", 0, ACK, NULL },
	{ DEV, 0, W, "wards/3W/alerts/al_x/ack", 0, DENY, "topic outside the role's scope" },
	{ DEV, 1, W, "wards/3W/alerts/al_x/ack", 0, DENY, "topic outside the role's scope" },
	{ SVC, 0, W, "wards/5N/alerts/al_x/ack", 0, ACK, NULL },
	{ SVC, 0, W, "wards/5N/alerts/al_x/ack", 1, DENY, "retained publish or topic outside the role's scope" },
	{ NOBODY, 1, W, "wards/3W/alerts/al_x/ack", 0, DENY, "not a Vitalgate identity" },
	{ STA, 0, W, "vitals/dev-1", 0, DENY, "topic outside the role's scope" },
	{ STA, 0, W, "wards/3W/alerts", 1, DENY, "retained publish or topic outside the role's scope" },
	{ STA, 1, W, "lab/x", 0, ALLOW, NULL },
	{ STA, 0, W, "lab/x", 0, DENY, "topic outside the role's scope" },
	{ STA, 0, U, "wards/5N/#", 0, ALLOW, NULL },

	/* ---- a service (core) ---- */
	{ SVC, 0, R, "vitals/dev-1", 0, ALLOW, NULL },
	{ SVC, 0, R, "devices/dev-1/rejections", 0, ALLOW, NULL },
	{ SVC, 0, R, "wards/3W/alerts", 0, ALLOW, NULL },
	{ SVC, 0, R, "wards/3W/vitals", 0, ALLOW, NULL },
	{ SVC, 0, W, "wards/3W/vitals", 0, DENY, "topic outside the role's scope" },
	{ SVC, 0, R, "$SYS/broker/vitalgate/samples/accepted", 0, ALLOW, NULL },
	{ SVC, 0, R, "$SYS/broker/uptime", 0, ALLOW, NULL },
	{ SVC, 0, R, "lab/x", 0, DENY, "topic outside the role's scope" },
	{ SVC, 1, R, "lab/x", 0, ALLOW, NULL },
	{ SVC, 0, S, "#", 0, ALLOW, NULL },
	{ SVC, 0, S, "vitals/+", 0, ALLOW, NULL },
	{ SVC, 0, S, "+/+/alerts", 0, ALLOW, NULL },
	{ SVC, 0, S, "$SYS/#", 0, ALLOW, NULL },
	{ SVC, 0, S, "$SYS/broker/vitalgate/#", 0, ALLOW, NULL },
	{ SVC, 0, S, "$share/core/vitals/#", 0, ALLOW, NULL },
	{ SVC, 0, S, "lab/#", 0, DENY, "topic outside the role's scope" },
	{ SVC, 0, W, "vitals/dev-1", 0, DENY, "topic outside the role's scope" },
	{ SVC, 0, W, "wards/3W/alerts", 0, DENY, "topic outside the role's scope" },
	{ SVC, 0, W, "devices/dev-1/rejections", 1, DENY, "retained publish or topic outside the role's scope" },
	{ SVC, 0, W, "$SYS/broker/vitalgate/x", 0, DENY, "topic outside the role's scope" },
	{ SVC, 1, W, "lab/x", 0, ALLOW, NULL },
	{ SVC, 0, W, "lab/x", 0, DENY, "topic outside the role's scope" },

	/* ---- a client Vitalgate does not know ---- */
	{ NOBODY, 1, R, "lab/x", 0, ALLOW, NULL },
	{ NOBODY, 1, R, "wards/3W/vitals", 0, DENY, "not a Vitalgate identity" },
	{ NOBODY, 1, W, "wards/3W/vitals", 1, DENY, "not a Vitalgate identity" },
	{ NOBODY, 1, W, "lab/x", 1, ALLOW, NULL },
	{ NOBODY, 1, R, "$SYS/broker/uptime", 0, ALLOW, NULL },
	{ NOBODY, 1, R, "$SYS/broker/vitalgateway", 0, ALLOW, NULL },
	{ NOBODY, 1, R, "$SYS/broker/vitalgate", 0, DENY, "Vitalgate's figures are for services" },
	{ NOBODY, 1, R, "$SYS/broker/vitalgate/samples/accepted", 0, DENY, "Vitalgate's figures are for services" },
	{ NOBODY, 1, S, "$SYS/broker/vitalgate/#", 0, DENY, "Vitalgate's figures are for services" },
	{ NOBODY, 1, S, "$SYS/#", 0, ALLOW, NULL },
	{ NOBODY, 1, S, "#", 0, ALLOW, NULL },
	{ NOBODY, 1, S, "+/dev-1", 0, ALLOW, NULL },
	{ NOBODY, 1, S, "$share/g/#", 0, ALLOW, NULL },
	{ NOBODY, 1, S, "$share/g/vitals/#", 0, DENY, "not a Vitalgate identity" },
	{ NOBODY, 1, R, "vitals/dev-1", 0, DENY, "not a Vitalgate identity" },
	{ NOBODY, 1, W, "vitals/dev-1", 0, DENY, "not a Vitalgate identity" },
	{ NOBODY, 1, R, "devices/dev-1/rejections", 0, DENY, "not a Vitalgate identity" },
	{ NOBODY, 1, R, "wards/3W/alerts", 0, DENY, "not a Vitalgate identity" },
	{ NOBODY, 1, S, "wards", 0, DENY, "not a Vitalgate identity" },
	{ NOBODY, 1, S, "vitals", 0, DENY, "not a Vitalgate identity" },
	{ NOBODY, 0, R, "lab/x", 0, DENY, "unknown identity" },
	{ NOBODY, 0, S, "#", 0, DENY, "unknown identity" },
	{ NOBODY, 0, W, "vitals/dev-1", 0, DENY, "unknown identity" },
	{ NOBODY, 0, U, "lab/#", 0, ALLOW, NULL },

	/* ---- a cell's bridge identity (cell-a, its cell has 3W and 4E) ---- */
	{ CELL, 0, W, "wards/3W/alerts", 0, ALLOW, NULL },
	{ CELL, 0, W, "wards/4E/beds/12/vitals", 1, ALLOW, NULL },
	{ CELL, 0, W, "wards/3W/vitals", 1, ALLOW, NULL },
	{ CELL, 0, W, "wards/5S/alerts", 0, DENY, "topic outside the role's scope" },
	{ CELL, 0, W, "wards/5S/alerts", 1, DENY, "retained publish or topic outside the role's scope" },
	{ CELL, 0, W, "wards/3W", 0, DENY, "topic outside the role's scope" },
	{ CELL, 0, W, "wards/3", 0, DENY, "topic outside the role's scope" },
	{ CELL, 0, W, "wards/3WX/alerts", 0, DENY, "topic outside the role's scope" },
	{ CELL, 0, W, "wards//alerts", 0, DENY, "topic outside the role's scope" },
	{ CELL, 0, W, "vitals/dev-1", 0, DENY, "topic outside the role's scope" },
	{ CELL, 0, W, "devices/dev-1/rejections", 0, DENY, "topic outside the role's scope" },
	{ CELL, 0, W, "$SYS/broker/connection/x/state", 0, DENY, "topic outside the role's scope" },
	{ CELL, 0, W, "lab/x", 0, DENY, "topic outside the role's scope" },
	{ CELL, 1, W, "lab/x", 0, ALLOW, NULL },
	{ CELL, 0, R, "wards/3W/alerts", 0, DENY, "topic outside the role's scope" },
	{ CELL, 0, S, "wards/3W/#", 0, DENY, "topic outside the role's scope" },
	{ CELL, 0, S, "#", 0, DENY, "topic outside the role's scope" },
	{ CELL, 0, U, "wards/3W/#", 0, ALLOW, NULL },
	/* ---- occupancy: adt/<ward>/<bed> (docs/patient-context.md) ---- */
	{ SVC, 0, W, "adt/3W/bed-1", 1, OCC, NULL },
	{ SVC, 0, W, "adt/3W/bed-1", 0, OCC, NULL },
	{ SVC, 1, W, "adt/3W/bed-1", 1, OCC, NULL },
	{ SVC, 0, W, "adt/3W", 1, DENY, "occupancy topic is adt/<ward>/<bed>, both ids [A-Za-z0-9_-]{1,64}" },
	{ SVC, 0, W, "adt/3W/", 1, DENY, "occupancy topic is adt/<ward>/<bed>, both ids [A-Za-z0-9_-]{1,64}" },
	{ SVC, 0, W, "adt//bed-1", 1, DENY, "occupancy topic is adt/<ward>/<bed>, both ids [A-Za-z0-9_-]{1,64}" },
	{ SVC, 0, W, "adt/3W/bed-1/x", 1, DENY, "occupancy topic is adt/<ward>/<bed>, both ids [A-Za-z0-9_-]{1,64}" },
	{ SVC, 0, W, "adt/3W/bed 1", 1, DENY, "occupancy topic is adt/<ward>/<bed>, both ids [A-Za-z0-9_-]{1,64}" },
	{ SVC, 0, W, "adt/3.W/bed-1", 1, DENY, "occupancy topic is adt/<ward>/<bed>, both ids [A-Za-z0-9_-]{1,64}" },
	{ SVC, 0, W, "adt", 1, DENY, "retained publish or topic outside the role's scope" },
	{ SVC, 0, W, "adt/3W/x12345678901234567890123456789012345678901234567890123456789012345", 1, DENY,
		"occupancy topic is adt/<ward>/<bed>, both ids [A-Za-z0-9_-]{1,64}" },
	{ SVC, 0, R, "adt/3W/bed-1", 0, ALLOW, NULL },
	{ SVC, 0, S, "adt/#", 0, ALLOW, NULL },
	{ DEV, 0, W, "adt/3W/bed-1", 1, DENY, "occupancy is published by services only" },
	{ DEV, 1, W, "adt/3W/bed-1", 0, DENY, "occupancy is published by services only" },
	{ DEV, 0, R, "adt/3W/bed-1", 0, DENY, "topic outside the role's scope" },
	{ DEV, 1, S, "adt/#", 0, DENY, "topic outside the role's scope" },
	{ STA, 0, W, "adt/3W/bed-1", 1, DENY, "occupancy is published by services only" },
	{ STA, 1, W, "adt/3W/bed-1", 0, DENY, "occupancy is published by services only" },
	{ STA, 0, R, "adt/3W/bed-1", 0, DENY, "topic outside the role's scope" },
	{ STA, 1, S, "adt/3W/#", 0, DENY, "topic outside the role's scope" },
	{ CELL, 0, W, "adt/3W/bed-1", 1, DENY, "occupancy is published by services only" },
	{ CELL, 0, S, "adt/#", 0, ALLOW, NULL },
	{ CELL, 0, R, "adt/3W/bed-1", 0, ALLOW, NULL },
	{ CELL, 0, R, "adt/4E/bed-1", 0, ALLOW, NULL },
	{ CELL, 0, R, "adt/5N/bed-1", 0, DENY, "topic outside the role's scope" },
	{ CELL, 0, R, "adt/3W", 0, DENY, "topic outside the role's scope" },
	{ CELL, 0, R, "adt/3W/bed-1/x", 0, DENY, "topic outside the role's scope" },
	{ CELL, 0, S, "wards/#", 0, DENY, "topic outside the role's scope" },
	{ NOBODY, 1, W, "adt/3W/bed-1", 1, DENY, "not a Vitalgate identity" },
	{ NOBODY, 1, R, "adt/3W/bed-1", 0, DENY, "not a Vitalgate identity" },
	{ NOBODY, 0, W, "adt/3W/bed-1", 0, DENY, "unknown identity" },
};

static const char *name(enum vg_acl_verdict v)
{
	return v == VG_ACL_ALLOW ? "allow" : v == VG_ACL_INGEST ? "ingest" : v == VG_ACL_ACK ? "ack" : "deny";
}

int main(void)
{
	struct {
		struct vg_ident e;
		char wards[2][VG_ID_MAX + 1];
	} st;
	struct vg_ident dev, svc;
	struct {
		struct vg_ident e;
		char wards[2][VG_ID_MAX + 1];
	} cell;
	size_t i;

	memset(&dev, 0, sizeof(dev));
	vg_strlcpy(dev.id, "dev-1", sizeof(dev.id));
	dev.role = VG_ROLE_DEVICE;
	vg_strlcpy(dev.ward, "3W", sizeof(dev.ward));
	vg_strlcpy(dev.bed, "12", sizeof(dev.bed));
	memset(&st, 0, sizeof(st));
	vg_strlcpy(st.e.id, "st-1", sizeof(st.e.id));
	st.e.role = VG_ROLE_STATION;
	st.e.nwards = 2;
	vg_strlcpy(st.e.wards[0], "3W", VG_ID_MAX + 1);
	vg_strlcpy(st.e.wards[1], "4E", VG_ID_MAX + 1);
	memset(&svc, 0, sizeof(svc));
	vg_strlcpy(svc.id, "core", sizeof(svc.id));
	svc.role = VG_ROLE_SERVICE;
	memset(&cell, 0, sizeof(cell));
	vg_strlcpy(cell.e.id, "cell-a", sizeof(cell.e.id));
	cell.e.role = VG_ROLE_CELL;
	cell.e.nwards = 2;
	vg_strlcpy(cell.e.wards[0], "3W", VG_ID_MAX + 1);
	vg_strlcpy(cell.e.wards[1], "4E", VG_ID_MAX + 1);

	for(i = 0; i < sizeof(rows) / sizeof(rows[0]); i++){
		const struct row *r = &rows[i];
		const struct vg_ident *e = r->who == DEV ? &dev : r->who == STA ? &st.e : r->who == SVC ? &svc
			: r->who == CELL ? &cell.e : NULL;
		const char *why = "unset";
		enum vg_acl_verdict got = vg_acl_decide(e, r->defer, r->access, r->topic, r->retain, &why);
		int ok = got == r->want && (r->want != VG_ACL_DENY || (why && r->why && !strcmp(why, r->why)))
			&& (r->want == VG_ACL_DENY || why == NULL);

		if(!ok){
			fprintf(stderr, "row %zu: %s, others=%s, access %d, \"%s\"%s: got %s (%s), want %s (%s)\n", i,
					r->who == DEV ? "device" : r->who == STA ? "station" : r->who == SVC ? "service"
					: r->who == CELL ? "cell" : "unknown client",
					r->defer ? "defer" : "deny", r->access, r->topic, r->retain ? " retained" : "", name(got),
					why ? why : "-", name(r->want), r->why ? r->why : "-");
		}
		CHECK(ok);
	}
	printf("test_acl_rules: %zu rows\n", sizeof(rows) / sizeof(rows[0]));
	return vgtest_result("test_acl_rules");
}
