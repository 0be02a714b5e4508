/*
 * Unit tests for plugin/throttle.c: blocking after the limit, doubling
 * block periods, forgiveness after a success or a quiet window, keys
 * independent of each other, a bounded table under many keys, a block that
 * failures on other keys can never evict (issue 12, item 11), and a lone
 * budget (what a known identity keeps in its runtime state).
 */
#include <stdio.h>
#include <string.h>

#include "throttle.h"
#include "vgtest.h"

int main(void)
{
	struct vg_throttle t;
	int64_t until = 0, now = 1000000;
	int i;
	char key[32];

	CHECK(vg_throttle_init(&t, 64, 3, 60000, 10000, 40000) == 0);

	/* Below the limit: not blocked. */
	CHECK(!vg_throttle_fail(&t, "dev-a", now, &until));
	CHECK(!vg_throttle_fail(&t, "dev-a", now + 1, &until));
	CHECK(!vg_throttle_blocked(&t, "dev-a", now + 2, NULL));
	/* The limit-th failure starts a 10 s block, reported once. */
	CHECK(vg_throttle_fail(&t, "dev-a", now + 3, &until));
	CHECK_INT(until, now + 3 + 10000);
	CHECK(vg_throttle_blocked(&t, "dev-a", now + 4, &until));
	CHECK(!vg_throttle_fail(&t, "dev-a", now + 5, &until));
	/* Another key is unaffected. */
	CHECK(!vg_throttle_blocked(&t, "dev-b", now + 5, NULL));
	/* After the block, failing again doubles it. */
	now += 3 + 10001;
	CHECK(!vg_throttle_blocked(&t, "dev-a", now, NULL));
	CHECK(!vg_throttle_fail(&t, "dev-a", now, &until));
	CHECK(!vg_throttle_fail(&t, "dev-a", now, &until));
	CHECK(vg_throttle_fail(&t, "dev-a", now, &until));
	CHECK_INT(until - now, 20000);
	now += 20001;
	for(i = 0; i < 3; i++){
		vg_throttle_fail(&t, "dev-a", now, &until);
	}
	CHECK_INT(until - now, 40000);
	now += 40001;
	for(i = 0; i < 3; i++){
		vg_throttle_fail(&t, "dev-a", now, &until);
	}
	CHECK_INT(until - now, 40000); /* capped at max_block_ms */
	/* A success forgives everything. */
	vg_throttle_ok(&t, "dev-a");
	CHECK(!vg_throttle_blocked(&t, "dev-a", now + 1, NULL));
	CHECK(!vg_throttle_fail(&t, "dev-a", now + 1, &until));
	/* Failures spread over more than the window never add up. */
	now += 100000;
	for(i = 0; i < 10; i++){
		CHECK(!vg_throttle_fail(&t, "slow", now + (int64_t)i * 61000, &until));
	}
	/* Many distinct keys: the table stays bounded and keeps working. */
	for(i = 0; i < 10000; i++){
		snprintf(key, sizeof(key), "scan-%d", i);
		vg_throttle_fail(&t, key, now + i, &until);
	}
	for(i = 0; i < 3; i++){
		vg_throttle_fail(&t, "late", now + 20000, &until);
	}
	CHECK(vg_throttle_blocked(&t, "late", now + 20001, NULL));
	vg_throttle_free(&t);

	/* 12.11: a blocked key stays blocked whatever fails around it. With
	 * 64 slots every probe window of 16 is hit by the flood below; before
	 * the fix the least recently used entry, blocked or not, was taken. */
	{
		struct vg_throttle_policy p = { 3, 60000, 10000, 40000 };
		struct vg_throttle_state st;
		memset(&st, 0, sizeof(st));
		now = 5000000;
		CHECK(vg_throttle_init(&t, 64, 3, 60000, 10000, 40000) == 0);
		for(i = 0; i < 3; i++){
			vg_throttle_fail(&t, "victim", now, &until);
		}
		CHECK(vg_throttle_blocked(&t, "victim", now + 1, NULL));
		for(i = 0; i < 5000; i++){
			snprintf(key, sizeof(key), "crafted-%d", i);
			vg_throttle_fail(&t, key, now + 2, &until);
		}
		CHECK(vg_throttle_blocked(&t, "victim", now + 3, &until));
		CHECK_INT(until, now + 10000);
		/* Once its block has ended, it may be forgotten like any other. */
		for(i = 0; i < 5000; i++){
			snprintf(key, sizeof(key), "later-%d", i);
			vg_throttle_fail(&t, key, now + 10001 + 61000, &until);
		}
		CHECK(!vg_throttle_blocked(&t, "victim", now + 10001 + 61001, NULL));
		vg_throttle_free(&t);

		/* A lone budget behaves as a table entry. */
		CHECK(!vg_throttle_state_fail(&p, &st, now, &until));
		CHECK(!vg_throttle_state_fail(&p, &st, now, &until));
		CHECK(vg_throttle_state_fail(&p, &st, now, &until));
		CHECK(vg_throttle_state_blocked(&st, now + 9999, NULL));
		CHECK(!vg_throttle_state_blocked(&st, now + 10000, NULL));
		vg_throttle_state_ok(&st);
		CHECK(!vg_throttle_state_blocked(&st, now + 1, NULL));
	}
	return vgtest_result("test_throttle");
}
