/*
 * test_devices: what the broker keeps about a device and an identity while
 * it runs (plugin/devices.c, plugin/sessions.c), apart from the identity
 * record: it survives the record's replacement (a rotated secret, a new
 * bed), goes with a deletion, and the seq window classifies seqs as the
 * ingest path needs (new, duplicate, unproven), row by row.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices.h"
#include "vg_idtable.h"
#include "sessions.h"
#include "vg_vitals.h"
#include "vgtest.h"

static struct vg_ident *mk(const char *id, uint8_t role)
{
	struct vg_ident *e = vg_ident_new(0);

	if(e){
		snprintf(e->id, sizeof(e->id), "%s", id);
		e->role = role;
	}
	return e;
}

/* Reassigned or rotated: the record is replaced, the runtime state is not
 * touched (it is keyed by id); deleted: both go (LSan checks the frees). */
static void test_update_keeps_runtime(void)
{
	struct vg_idtable t;
	struct vg_devices devs;
	struct vg_sessions sess;
	struct vg_ident *e1 = mk("dev-7", VG_ROLE_DEVICE), *e2;
	struct vg_device *rt;
	struct vg_session *ses;
	int marker;

	CHECK_INT(vg_idtable_init(&t, 4), 0);
	CHECK_INT(vg_devices_init(&devs, 4), 0);
	CHECK_INT(vg_sessions_init(&sess, 4), 0);
	CHECK(vg_devices_find(&devs, "dev-7") == NULL);
	rt = vg_devices_get(&devs, "dev-7");
	CHECK(rt != NULL);
	CHECK(vg_devices_get(&devs, "dev-7") == rt);
	rt->seq_known = true;
	rt->seq_hwm = 99;
	rt->last_seen_ms = 12345;
	rt->disconnected_ms = 678;
	rt->alerts = calloc(1, 64);   /* the alert block: freed with the device */
	ses = vg_sessions_get(&sess, "dev-7");
	CHECK(ses != NULL);
	ses->live = (const struct mosquitto *)(const void *)&marker;
	ses->thr_away.fails = 3;
	snprintf(e1->ward, sizeof(e1->ward), "3W");
	CHECK_INT(vg_idtable_put(&t, e1), 0);

	/* Reassigned: a new record without any runtime state. */
	e2 = mk("dev-7", VG_ROLE_DEVICE);
	snprintf(e2->ward, sizeof(e2->ward), "4E");
	e2->gen = 2;
	CHECK_INT(vg_idtable_put(&t, e2), 0);   /* e1 is freed here */
	CHECK_INT(t.count, 1);
	CHECK(vg_idtable_find(&t, "dev-7") == e2);
	CHECK_STR(vg_idtable_find(&t, "dev-7")->ward, "4E");
	rt = vg_devices_find(&devs, "dev-7");
	CHECK(rt && rt->seq_hwm == 99 && rt->last_seen_ms == 12345 && rt->disconnected_ms == 678);
	ses = vg_sessions_find(&sess, "dev-7");
	CHECK(ses && ses->live == (const void *)&marker && ses->thr_away.fails == 3);

	/* Connection events reach the device's state. */
	vg_devices_on_connect(&devs, e2);
	CHECK_INT(vg_devices_find(&devs, "dev-7")->disconnected_ms, 0);
	vg_devices_on_disconnect(&devs, e2, 999);
	CHECK_INT(vg_devices_find(&devs, "dev-7")->disconnected_ms, 999);
	/* An unassigned device starts no grace time (and gets no state). */
	e1 = mk("dev-8", VG_ROLE_DEVICE);
	vg_devices_on_disconnect(&devs, e1, 999);
	CHECK(vg_devices_find(&devs, "dev-8") == NULL);
	vg_ident_free(e1);

	/* Deleted: the record and the runtime state go. */
	CHECK(vg_idtable_remove(&t, "dev-7"));
	vg_devices_drop(&devs, "dev-7");
	vg_sessions_drop(&sess, "dev-7");
	CHECK_INT(t.count, 0);
	CHECK(vg_devices_find(&devs, "dev-7") == NULL);
	CHECK(vg_sessions_find(&sess, "dev-7") == NULL);
	vg_idtable_destroy(&t);
	vg_devices_free(&devs);
	vg_sessions_free(&sess);
}

/* Iteration sees every entry once. */
static void test_iterate(void)
{
	struct vg_devices devs;
	struct vg_device *d;
	const char *id;
	char name[16];
	size_t pos = 0;
	int i, n = 0, sum = 0;

	CHECK_INT(vg_devices_init(&devs, 2), 0);
	for(i = 0; i < 100; i++){
		snprintf(name, sizeof(name), "d-%d", i);
		d = vg_devices_get(&devs, name);
		CHECK(d != NULL);
		if(d){
			d->rej_unrecorded = (uint32_t)i;
		}
	}
	while((d = vg_devices_next(&devs, &pos, &id)) != NULL){
		n++;
		sum += (int)d->rej_unrecorded;
		CHECK_INT(strtol(id + 2, NULL, 10), d->rej_unrecorded);
	}
	CHECK_INT(n, 100);
	CHECK_INT(sum, 99 * 100 / 2);
	vg_devices_free(&devs);
}

/* The seq window, one row per case: the seqs accepted before (in
 * messages, in order), then the seq asked about and its class. */
static void test_seq_window(void)
{
	static const struct {
		const char *what;
		int nmsg;
		uint64_t msg[3][3];  /* up to 3 messages of up to 3 seqs, 0 ends */
		uint64_t seq;
		enum vg_seq_class want;
	} rows[] = {
		{ "no history: unproven", 0, {{0}}, 5, VG_SEQ_UNPROVEN },
		{ "the same seq again: duplicate", 1, {{10}}, 10, VG_SEQ_DUP },
		{ "above the high-water mark: new", 1, {{10}}, 11, VG_SEQ_NEW },
		{ "at or below the first message's highest: unproven", 1, {{10, 12}}, 11, VG_SEQ_UNPROVEN },
		{ "below the floor, never seen: unproven", 2, {{10}, {20}}, 9, VG_SEQ_UNPROVEN },
		{ "a gap above the floor, inside the window: new", 2, {{10}, {20}}, 15, VG_SEQ_NEW },
		{ "accepted after the floor: duplicate", 2, {{10}, {20, 15}}, 15, VG_SEQ_DUP },
		{ "63 below the mark, seen: duplicate", 2, {{1}, {100, 37}}, 37, VG_SEQ_DUP },
		{ "64 below the mark: out of the window, unproven", 2, {{1}, {100}}, 36, VG_SEQ_UNPROVEN },
		{ "a jump past the window forgets it: unproven", 3, {{1}, {10}, {200}}, 10, VG_SEQ_UNPROVEN },
		{ "a retransmitted batch: duplicate", 2, {{1}, {5, 6, 7}}, 6, VG_SEQ_DUP },
	};
	size_t r;

	for(r = 0; r < sizeof(rows) / sizeof(rows[0]); r++){
		struct vg_device dev;
		struct vg_sample s[3];
		int m, k;
		enum vg_seq_class got;

		memset(&dev, 0, sizeof(dev));
		for(m = 0; m < rows[r].nmsg; m++){
			memset(s, 0, sizeof(s));
			for(k = 0; k < 3 && rows[r].msg[m][k]; k++){
				s[k].val[VG_F_SEQ].u = rows[r].msg[m][k];
			}
			vg_device_seq_accept(&dev, s, k);
		}
		got = vg_device_seq_classify(&dev, rows[r].seq);
		if(got != rows[r].want){
			fprintf(stderr, "seq window row \"%s\": got %d, want %d\n", rows[r].what, (int)got, (int)rows[r].want);
		}
		CHECK_INT(got, rows[r].want);
	}
}

int main(void)
{
	test_update_keeps_runtime();
	test_iterate();
	test_seq_window();
	return vgtest_result("test_devices");
}
