/*
 * test_idtable: the identity hash table: insert, find (also with a
 * length-delimited id), replace, remove with backward shift, growth, and
 * station wards. (What the broker keeps about an identity while it runs,
 * and how it survives a replacement: test_devices.c.)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vg_idtable.h"
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

static void test_basic(void)
{
	struct vg_idtable t;
	struct vg_ident *a = mk("dev-1", VG_ROLE_DEVICE), *b = mk("dev-10", VG_ROLE_DEVICE);
	struct vg_ident *c = mk("svc", VG_ROLE_SERVICE);

	CHECK_INT(vg_idtable_init(&t, 0), 0);
	CHECK_INT(t.cap, 64);
	CHECK_INT(t.count, 0);
	CHECK(vg_idtable_find(&t, "dev-1") == NULL);
	CHECK_INT(vg_idtable_put(&t, a), 0);
	CHECK_INT(vg_idtable_put(&t, b), 0);
	CHECK_INT(vg_idtable_put(&t, c), 0);
	CHECK_INT(t.count, 3);
	CHECK(vg_idtable_find(&t, "dev-1") == a);
	CHECK(vg_idtable_find(&t, "dev-10") == b);
	CHECK(vg_idtable_find(&t, "svc") == c);
	CHECK(vg_idtable_find(&t, "svc")->role == VG_ROLE_SERVICE);
	CHECK(vg_idtable_find(&t, "dev-") == NULL);
	CHECK(vg_idtable_find(&t, "dev-100") == NULL);
	CHECK(vg_idtable_find(&t, "DEV-1") == NULL);
	CHECK(vg_idtable_find(&t, "") == NULL);
	CHECK(vg_idtable_find(&t, NULL) == NULL);

	/* Length-delimited lookups: the id inside a topic, not terminated. */
	{
		const char topic[] = "vitals/dev-10/extra";
		char raw[5] = { 'd', 'e', 'v', '-', '1' };   /* no NUL anywhere */
		CHECK(vg_idtable_find_n(&t, topic + 7, 6) == b);
		CHECK(vg_idtable_find_n(&t, topic + 7, 5) == a);
		CHECK(vg_idtable_find_n(&t, topic + 7, 4) == NULL);
		CHECK(vg_idtable_find_n(&t, raw, sizeof(raw)) == a);
		CHECK(vg_idtable_find_n(&t, "svc", 0) == NULL);
		CHECK(vg_idtable_find_n(&t, "svcXXXXX", 3) == c);
	}
	/* Longer than any id may be: not found, and not read past. */
	{
		char big[VG_ID_MAX + 10];
		memset(big, 'a', sizeof(big));
		CHECK(vg_idtable_find_n(&t, big, VG_ID_MAX + 1) == NULL);
		big[VG_ID_MAX + 9] = '\0';
		CHECK(vg_idtable_find(&t, big) == NULL);
	}

	CHECK(vg_idtable_remove(&t, "dev-1"));
	CHECK_INT(t.count, 2);
	CHECK(vg_idtable_find(&t, "dev-1") == NULL);
	CHECK(vg_idtable_find(&t, "dev-10") == b);
	CHECK(!vg_idtable_remove(&t, "dev-1"));
	CHECK(!vg_idtable_remove(&t, "nobody"));
	CHECK_INT(t.count, 2);
	vg_idtable_destroy(&t);
	CHECK(t.slots == NULL);
	CHECK_INT(t.count, 0);
	vg_idtable_destroy(&t);   /* twice is harmless */
	CHECK(vg_idtable_find(&t, "svc") == NULL);
	CHECK(!vg_idtable_remove(&t, "svc"));

	CHECK_INT(vg_idtable_init(&t, 1000), 0);
	CHECK_INT(t.cap, 2048);
	vg_idtable_destroy(&t);
}

/* A replacement takes the old entry's place (the old one is freed: LSan). */
static void test_replace(void)
{
	struct vg_idtable t;
	struct vg_ident *e1 = mk("dev-7", VG_ROLE_DEVICE), *e2, *e3;

	CHECK_INT(vg_idtable_init(&t, 4), 0);
	snprintf(e1->ward, sizeof(e1->ward), "3W");
	CHECK_INT(vg_idtable_put(&t, e1), 0);
	e2 = mk("dev-7", VG_ROLE_DEVICE);
	snprintf(e2->ward, sizeof(e2->ward), "4E");
	e2->gen = 2;
	CHECK_INT(vg_idtable_put(&t, e2), 0);   /* e1 is freed here */
	CHECK_INT(t.count, 1);
	CHECK(vg_idtable_find(&t, "dev-7") == e2);
	CHECK_STR(vg_idtable_find(&t, "dev-7")->ward, "4E");
	e3 = mk("dev-7", VG_ROLE_DEVICE);
	CHECK_INT(vg_idtable_put(&t, e3), 0);
	CHECK(vg_idtable_find(&t, "dev-7") == e3);
	CHECK_INT(t.count, 1);
	CHECK(vg_idtable_remove(&t, "dev-7"));
	CHECK_INT(t.count, 0);
	vg_idtable_destroy(&t);
}

/* Small deterministic PRNG (xorshift64*). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

#define NIDS 5000

static void id_of(int i, char *buf, size_t len)
{
	/* Similar ids, as real fleets have. */
	snprintf(buf, len, "%s-%d", (i % 3 == 0) ? "dev" : (i % 3 == 1) ? "bed" : "st", i);
}

static void test_growth_and_removal(void)
{
	struct vg_idtable t;
	static int order[NIDS];
	static bool present[NIDS];
	char id[32];
	int i, k, missing = 0, wrong = 0, stale = 0;

	CHECK_INT(vg_idtable_init(&t, 0), 0);
	for(i = 0; i < NIDS; i++){
		struct vg_ident *e;
		id_of(i, id, sizeof(id));
		e = mk(id, VG_ROLE_DEVICE);
		e->gen = (uint32_t)i;
		CHECK(e != NULL);
		if(vg_idtable_put(&t, e) != 0){
			vg_ident_free(e);
			wrong++;
		}
		present[i] = true;
	}
	CHECK_INT(wrong, 0);
	CHECK_INT(t.count, NIDS);
	CHECK(t.cap >= 2 * NIDS);
	CHECK_INT(t.cap & (t.cap - 1), 0);   /* power of two */
	for(i = 0; i < NIDS; i++){
		struct vg_ident *e;
		id_of(i, id, sizeof(id));
		e = vg_idtable_find(&t, id);
		if(e == NULL){
			missing++;
		}else if(e->gen != (uint32_t)i || strcmp(e->id, id) != 0){
			wrong++;
		}
	}
	CHECK_INT(missing, 0);
	CHECK_INT(wrong, 0);

	/* Remove half in random order; everything else stays findable. */
	for(i = 0; i < NIDS; i++){
		order[i] = i;
	}
	for(i = NIDS - 1; i > 0; i--){
		int j = (int)(rnd() % (uint64_t)(i + 1)), tmp = order[i];
		order[i] = order[j];
		order[j] = tmp;
	}
	for(k = 0; k < NIDS / 2; k++){
		id_of(order[k], id, sizeof(id));
		if(!vg_idtable_remove(&t, id)){
			wrong++;
		}
		present[order[k]] = false;
	}
	CHECK_INT(wrong, 0);
	CHECK_INT(t.count, NIDS - NIDS / 2);
	for(i = 0; i < NIDS; i++){
		struct vg_ident *e;
		id_of(i, id, sizeof(id));
		e = vg_idtable_find(&t, id);
		if(present[i] && (e == NULL || e->gen != (uint32_t)i)){
			missing++;
		}
		if(!present[i] && e != NULL){
			stale++;
		}
	}
	CHECK_INT(missing, 0);
	CHECK_INT(stale, 0);
	/* Slots hold exactly count entries. */
	{
		size_t s, used = 0;
		for(s = 0; s < t.cap; s++){
			used += t.slots[s] != NULL;
		}
		CHECK_INT(used, t.count);
	}
	vg_idtable_destroy(&t);
}

/* Random inserts and removals in a table that never grows (so probe runs
 * wrap around its end), checked against a reference after every step. */
static void test_churn_fixed_capacity(void)
{
	struct vg_idtable t;
	enum { POOL = 40, STEPS = 20000 };
	bool in[POOL] = { false };
	char id[32];
	int step, i, n = 0, errors = 0;
	size_t cap;

	CHECK_INT(vg_idtable_init(&t, 0), 0);
	cap = t.cap;   /* 64: at most 31 entries before it would grow */
	for(step = 0; step < STEPS; step++){
		int k = (int)(rnd() % POOL);
		snprintf(id, sizeof(id), "c%d", k);
		if(in[k]){
			if(!vg_idtable_remove(&t, id)){
				errors++;
			}
			in[k] = false;
			n--;
		}else if(n < 31){
			struct vg_ident *e = mk(id, VG_ROLE_STATION);
			if(vg_idtable_put(&t, e) != 0){
				vg_ident_free(e);
				errors++;
			}
			in[k] = true;
			n++;
		}
		if((size_t)n != t.count){
			errors++;
		}
		for(i = 0; i < POOL; i++){
			struct vg_ident *e;
			snprintf(id, sizeof(id), "c%d", i);
			e = vg_idtable_find(&t, id);
			if((e != NULL) != in[i] || (e && strcmp(e->id, id) != 0)){
				errors++;
			}
		}
	}
	CHECK_INT(errors, 0);
	CHECK_INT(t.cap, cap);
	vg_idtable_destroy(&t);
}

static void test_wards(void)
{
	struct vg_ident *st = vg_ident_new(3), *dev = mk("dev-1", VG_ROLE_DEVICE);
	const char topic[] = "wards/ICU/beds/4/vitals";

	CHECK(st != NULL);
	snprintf(st->id, sizeof(st->id), "station-1");
	st->role = VG_ROLE_STATION;
	st->nwards = 3;
	snprintf(st->wards[0], sizeof(st->wards[0]), "3W");
	snprintf(st->wards[1], sizeof(st->wards[1]), "ICU");
	snprintf(st->wards[2], sizeof(st->wards[2]), "3W-annex");

	CHECK(vg_ident_has_ward(st, "3W", 2));
	CHECK(vg_ident_has_ward(st, "ICU", 3));
	CHECK(vg_ident_has_ward(st, topic + 6, 3));     /* "ICU" inside a topic */
	CHECK(!vg_ident_has_ward(st, topic + 6, 2));    /* "IC" */
	CHECK(!vg_ident_has_ward(st, topic + 6, 4));    /* "ICU/" */
	CHECK(vg_ident_has_ward(st, "3W-annex", 8));
	CHECK(!vg_ident_has_ward(st, "3W-", 3));
	CHECK(!vg_ident_has_ward(st, "3", 1));
	CHECK(!vg_ident_has_ward(st, "4W", 2));
	CHECK(!vg_ident_has_ward(st, "icu", 3));
	CHECK(!vg_ident_has_ward(st, "", 0));
	/* A device has no wards of its own to read. */
	CHECK(!vg_ident_has_ward(dev, "3W", 2));
	vg_ident_free(st);
	vg_ident_free(dev);
	vg_ident_free(NULL);
}

int main(void)
{
	test_basic();
	test_replace();
	test_growth_and_removal();
	test_churn_fixed_capacity();
	test_wards();
	return vgtest_result("test_idtable");
}
