/*
 * test_json: the fixed-buffer JSON writer: structure and commas, escaping,
 * numbers, and sticky overflow.
 */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <stdio.h>
#include <time.h>

#include "vg_json.h"
#include "vg_util.h"
#include "vgtest.h"

static void test_structure(void)
{
	char buf[512];
	struct vg_json j;

	vg_json_init(&j, buf, sizeof(buf));
	CHECK_STR(vg_json_cstr(&j), "");
	vg_json_obj_open(&j);
	vg_json_obj_close(&j);
	CHECK(vg_json_ok(&j));
	CHECK_STR(vg_json_cstr(&j), "{}");
	CHECK_INT(j.len, 2);

	vg_json_init(&j, buf, sizeof(buf));
	vg_json_obj_open(&j);
	vg_json_str(&j, "device", "bed-7");
	vg_json_u64(&j, "seq", 42);
	vg_json_obj_open_key(&j, "vitals");
	vg_json_u64(&j, "hr", 72);
	vg_json_fixed(&j, "temp", 37.04, 1);
	vg_json_bool(&j, "o2", true);
	vg_json_bool(&j, "alert", false);
	vg_json_obj_close(&j);
	vg_json_arr_open(&j, "list");
	vg_json_u64(&j, NULL, 1);
	vg_json_str(&j, NULL, "two");
	vg_json_null(&j, NULL);
	vg_json_obj_open_key(&j, NULL);
	vg_json_i64(&j, "n", -3);
	vg_json_obj_close(&j);
	vg_json_arr_open(&j, NULL);
	vg_json_arr_close(&j);
	vg_json_arr_open(&j, NULL);
	vg_json_bool(&j, NULL, true);
	vg_json_arr_close(&j);
	vg_json_arr_close(&j);
	vg_json_arr_open(&j, "empty");
	vg_json_arr_close(&j);
	vg_json_obj_open_key(&j, "eobj");
	vg_json_obj_close(&j);
	vg_json_null(&j, "field");
	vg_json_str(&j, "nullstr", NULL);
	vg_json_raw(&j, "data", "{\"a\":[1,2]}", 11);
	vg_json_obj_close(&j);
	CHECK(vg_json_ok(&j));
	CHECK_STR(vg_json_cstr(&j),
			"{\"device\":\"bed-7\",\"seq\":42,\"vitals\":{\"hr\":72,\"temp\":37.0,\"o2\":true,\"alert\":false},"
			"\"list\":[1,\"two\",null,{\"n\":-3},[],[true]],\"empty\":[],\"eobj\":{},\"field\":null,"
			"\"nullstr\":null,\"data\":{\"a\":[1,2]}}");
	CHECK_INT(j.len, strlen(buf));

	/* A top-level array. */
	vg_json_init(&j, buf, sizeof(buf));
	vg_json_arr_open(&j, NULL);
	vg_json_u64(&j, NULL, 1);
	vg_json_u64(&j, NULL, 2);
	vg_json_arr_close(&j);
	CHECK_STR(vg_json_cstr(&j), "[1,2]");
}

static void test_escaping(void)
{
	char buf[512];
	struct vg_json j;

	vg_json_init(&j, buf, sizeof(buf));
	vg_json_str(&j, NULL, "say \"hi\"");
	CHECK_STR(vg_json_cstr(&j), "\"say \\\"hi\\\"\"");

	vg_json_init(&j, buf, sizeof(buf));
	vg_json_str(&j, NULL, "C:\\path\\");
	CHECK_STR(vg_json_cstr(&j), "\"C:\\\\path\\\\\"");

	vg_json_init(&j, buf, sizeof(buf));
	vg_json_str(&j, NULL, "a\nb\tc\rd\x01\x1f\x08\x0c");
	CHECK_STR(vg_json_cstr(&j), "\"a\\nb\\tc\\u000dd\\u0001\\u001f\\u0008\\u000c\"");

	/* DEL and every byte >= 0x80 (e.g. UTF-8 of e-acute, a stray 0xff). */
	vg_json_init(&j, buf, sizeof(buf));
	vg_json_str(&j, NULL, "\x7f" "caf\xc3\xa9" "\xff");
	CHECK_STR(vg_json_cstr(&j), "\"\\u007fcaf\\u00c3\\u00a9\\u00ff\"");

	/* strn: explicit length, embedded NUL, not past n. */
	vg_json_init(&j, buf, sizeof(buf));
	vg_json_strn(&j, NULL, "a\0b-ignored", 3);
	CHECK_STR(vg_json_cstr(&j), "\"a\\u0000b\"");
	vg_json_init(&j, buf, sizeof(buf));
	vg_json_strn(&j, NULL, "xyz", 0);
	CHECK_STR(vg_json_cstr(&j), "\"\"");

	/* Keys are escaped too. */
	vg_json_init(&j, buf, sizeof(buf));
	vg_json_obj_open(&j);
	vg_json_u64(&j, "k\"\\\n\x80", 1);
	vg_json_obj_close(&j);
	CHECK_STR(vg_json_cstr(&j), "{\"k\\\"\\\\\\n\\u0080\":1}");

	/* Every byte value: the output holds only printable ASCII. */
	{
		char in[256], big[2048];
		int i;
		bool clean = true;
		for(i = 0; i < 256; i++){
			in[i] = (char)i;
		}
		vg_json_init(&j, big, sizeof(big));
		vg_json_strn(&j, NULL, in, sizeof(in));
		CHECK(vg_json_ok(&j));
		for(i = 0; big[i]; i++){
			unsigned char c = (unsigned char)big[i];
			if(c < 0x20 || c >= 0x7f){
				clean = false;
			}
		}
		CHECK(clean);
		/* 2 quotes + 95 printable (2 of them escaped to 2 chars) + \n \t
		 * as 2 chars + 159 others as 6 chars. */
		CHECK_INT(j.len, 2 + 93 + 2 * 2 + 2 * 2 + 159 * 6);
	}
}

static void test_numbers(void)
{
	char buf[256];
	struct vg_json j;

	vg_json_init(&j, buf, sizeof(buf));
	vg_json_arr_open(&j, NULL);
	vg_json_u64(&j, NULL, 0);
	vg_json_u64(&j, NULL, UINT64_MAX);
	vg_json_i64(&j, NULL, INT64_MIN);
	vg_json_i64(&j, NULL, INT64_MAX);
	vg_json_i64(&j, NULL, -1);
	vg_json_fixed(&j, NULL, 36.55, 2);
	vg_json_fixed(&j, NULL, 38.96, 1);
	vg_json_fixed(&j, NULL, 37.0, 0);
	vg_json_fixed(&j, NULL, -0.25, 1);
	vg_json_fixed(&j, NULL, 1e300, 1);    /* does not fit the scratch: null */
	vg_json_fixed(&j, NULL, NAN, 1);
	vg_json_fixed(&j, NULL, INFINITY, 1);
	vg_json_fixed(&j, NULL, -INFINITY, 1);
	vg_json_arr_close(&j);
	CHECK(vg_json_ok(&j));
	CHECK_STR(vg_json_cstr(&j),
			"[0,18446744073709551615,-9223372036854775808,9223372036854775807,-1,36.55,39.0,37,-0.2,null,null,null,null]");

	/* Non-finite values under a key. */
	vg_json_init(&j, buf, sizeof(buf));
	vg_json_obj_open(&j);
	vg_json_fixed(&j, "temp", NAN, 1);
	vg_json_fixed(&j, "t2", 36.6, 1);
	vg_json_obj_close(&j);
	CHECK_STR(vg_json_cstr(&j), "{\"temp\":null,\"t2\":36.6}");
}

static void test_overflow(void)
{
	char buf[64];
	struct vg_json j;
	const char *want = "{\"a\":\"xyz\"}";   /* 11 characters */
	size_t cap;

	/* Exactly enough room (text + NUL) fits; one byte less overflows. */
	memset(buf, '#', sizeof(buf));
	vg_json_init(&j, buf, 12);
	vg_json_obj_open(&j);
	vg_json_str(&j, "a", "xyz");
	vg_json_obj_close(&j);
	CHECK(vg_json_ok(&j));
	CHECK_STR(vg_json_cstr(&j), want);
	CHECK(buf[12] == '#');

	for(cap = 1; cap < 12; cap++){
		memset(buf, '#', sizeof(buf));
		vg_json_init(&j, buf, cap);
		vg_json_obj_open(&j);
		vg_json_str(&j, "a", "xyz");
		vg_json_obj_close(&j);
		CHECK(!vg_json_ok(&j));
		/* Never writes past cap, always terminated within it. */
		CHECK(buf[cap] == '#');
		CHECK(memchr(buf, '\0', cap) != NULL);
		CHECK(j.len < cap);
	}

	/* Sticky: a later small write that would fit does not clear it or
	 * append after the gap. */
	memset(buf, '#', sizeof(buf));
	vg_json_init(&j, buf, 8);
	vg_json_obj_open(&j);
	vg_json_str(&j, "long", "value that does not fit");
	CHECK(!vg_json_ok(&j));
	{
		size_t len = j.len;
		vg_json_obj_close(&j);
		vg_json_u64(&j, NULL, 1);
		CHECK(!vg_json_ok(&j));
		CHECK_INT(j.len, len);
	}
	CHECK(j.overflow);

	/* Zero capacity is overflowed from the start, nothing written. */
	buf[0] = '#';
	vg_json_init(&j, buf, 0);
	CHECK(!vg_json_ok(&j));
	vg_json_obj_open(&j);
	CHECK(buf[0] == '#');

	/* A long escaped string stops cleanly at the limit. */
	{
		char small[20];
		memset(small, '#', sizeof(small));
		vg_json_init(&j, small, 16);
		vg_json_str(&j, NULL, "\x01\x02\x03\x04");
		CHECK(!vg_json_ok(&j));
		CHECK(small[16] == '#');
		CHECK(memchr(small, '\0', 16) != NULL);
	}
}

/* The hand-rolled number paths agree with printf for every value a vital
 * can take, and for integer edges. */
static void test_numbers_match_printf(void)
{
	static const int64_t ints[] = { 0, 1, -1, 9, 10, -10, 123456789, INT64_MAX, INT64_MIN, INT64_MIN + 1 };
	char buf[128], want[64];
	struct vg_json j;
	size_t i;
	int d;
	uint32_t x = 12345;

	for(i = 0; i < sizeof(ints) / sizeof(ints[0]); i++){
		vg_json_init(&j, buf, sizeof(buf));
		vg_json_i64(&j, NULL, ints[i]);
		snprintf(want, sizeof(want), "%" PRId64, ints[i]);
		CHECK_STR(vg_json_cstr(&j), want);
	}
	vg_json_init(&j, buf, sizeof(buf));
	vg_json_u64(&j, NULL, UINT64_MAX);
	CHECK_STR(vg_json_cstr(&j), "18446744073709551615");
	for(i = 0; i < 20000; i++){
		double v;
		x = x * 1103515245u + 12345u;
		/* 0.0 .. 400.0 in steps of 0.001 (decimal halves that are not exact
		 * in binary), exact binary halves (x.25, x.125), random signs */
		v = (x & 3) == 0 ? (double)(x % 3201) / 8.0 : (double)(x % 400001) / 1000.0;
		v *= (x >> 20) & 1 ? -1 : 1;
		for(d = 0; d <= 3; d++){
			vg_json_init(&j, buf, sizeof(buf));
			vg_json_fixed(&j, NULL, v, d);
			snprintf(want, sizeof(want), "%.*f", d, v);
			if(!strcmp(want, "-0") || !strcmp(want, "-0.0") || !strcmp(want, "-0.00") || !strcmp(want, "-0.000")){
				memmove(want, want + 1, strlen(want)); /* we print 0, not -0 */
			}
			CHECK_STR(vg_json_cstr(&j), want);
		}
	}
}

static void test_concat(void)
{
	char buf[8];

	CHECK(vg_concat(buf, sizeof(buf), "3W", "/", "B2", (char *)NULL));
	CHECK_STR(buf, "3W/B2");
	CHECK(vg_concat(buf, sizeof(buf), (char *)NULL));
	CHECK_STR(buf, "");
	CHECK(vg_concat(buf, sizeof(buf), "1234567", (char *)NULL));
	CHECK_STR(buf, "1234567");
	CHECK(!vg_concat(buf, sizeof(buf), "1234", "5678", "9", (char *)NULL));
	CHECK_STR(buf, "1234567");
	CHECK(!vg_concat(buf, 1, "x", (char *)NULL));
	CHECK_STR(buf, "");
}

/* vg_rfc3339 (cached per second) agrees with a from-scratch format. */
static void test_rfc3339(void)
{
	static const int64_t ms[] = { 0, 999, 1000, 1763807703412LL, 1763807703999LL, 1763807704000LL, 1763807703412LL,
		-1, -1000, 951782400000LL, 4102444799999LL };
	char got[96], want[96];
	size_t i;

	for(i = 0; i < sizeof(ms) / sizeof(ms[0]); i++){
		time_t secs = (time_t)(ms[i] / 1000);
		int64_t rem = ms[i] % 1000;
		struct tm tm;
		if(rem < 0){
			rem += 1000;
			secs -= 1;
		}
		gmtime_r(&secs, &tm);
		snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
				tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)rem);
		vg_rfc3339(ms[i], got, sizeof(got));
		CHECK_STR(got, want);
	}
	vg_rfc3339(1763807703412LL, got, 10);
	CHECK_STR(got, "");
	/* Alternating seconds, days and years (the per-day cache). */
	for(i = 0; i < 20000; i++){
		int64_t t = 1763807703412LL + (int64_t)(i % 2 ? 1 : -1) * (int64_t)(i * 7919) * 997 + (int64_t)(i % 3) * 86399999;
		time_t secs = (time_t)(t / 1000);
		struct tm tm;
		gmtime_r(&secs, &tm);
		snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
				tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(t % 1000));
		vg_rfc3339(t, got, sizeof(got));
		if(strcmp(got, want) != 0){
			CHECK_STR(got, want);
			break;
		}
	}
}

int main(void)
{
	test_structure();
	test_escaping();
	test_numbers();
	test_numbers_match_printf();
	test_rfc3339();
	test_concat();
	test_overflow();
	return vgtest_result("test_json");
}
