/*
 * test_occupancy: the occupancy message's parser (common/vg_occupancy.c)
 * and its journal record (common/vg_rec.c), from tables: what is taken and
 * what is refused, with why; RFC 3339 edges (offsets, fractions, leap
 * years); a record round-trips and every truncation of it is refused.
 */
#include <stdio.h>
#include <string.h>

#include "vg_occupancy.h"
#include "vg_rec.h"
#include "vgtest.h"

#define NOW 1764979200000LL   /* 2025-12-06T00:00:00Z */

static const struct { const char *s; long long ms; } times[] = {
	{ "2025-12-06T00:00:00Z", NOW },
	{ "2025-12-06T00:00:00.5Z", NOW + 500 },
	{ "2025-12-06T00:00:00.123456Z", NOW + 123 },
	{ "2025-12-06t00:00:00z", NOW },
	{ "2025-12-06T01:30:00+01:30", NOW },
	{ "2025-12-05T22:00:00-02:00", NOW },
	{ "2024-02-29T00:00:00Z", 1709164800000LL },
	{ "1970-01-01T00:00:00Z", 0 },
};

static const char *const bad_times[] = {
	"2025-12-06", "2025-12-06T00:00Z", "2025-13-01T00:00:00Z", "2025-02-29T00:00:00Z", "2025-12-06T24:00:00Z",
	"2025-12-06T00:00:00", "2025-12-06T00:00:00.Z", "2025-12-06T00:00:00+0100", "2025-12-06T00:00:00Zx",
	"2025-12-06 00:00:00Z", "yesterday", "",
};

static const struct { const char *payload; const char *why; } refused[] = {
	{ "{", "malformed JSON (members are \"patient\", \"encounter\", \"since\", \"label\")" },
	{ "[]", "not a JSON object" },
	{ "{\"patient\":\"p-1\",\"encounter\":\"e-1\"}", "patient, encounter and since are required (an empty payload says the bed is vacant)" },
	{ "{\"patient\":\"p 1\",\"encounter\":\"e-1\",\"since\":\"2025-12-06T00:00:00Z\"}", "patient: not an id (1 to 64 of A-Z a-z 0-9 . _ -)" },
	{ "{\"patient\":\"p-1\",\"encounter\":\"\",\"since\":\"2025-12-06T00:00:00Z\"}", "encounter: not an id (1 to 64 of A-Z a-z 0-9 . _ -)" },
	{ "{\"patient\":\"p-1\",\"encounter\":\"e-1\",\"since\":\"2025-12-06\"}", "since: not an RFC 3339 date-time" },
	{ "{\"patient\":\"p-1\",\"encounter\":\"e-1\",\"since\":\"2025-12-06T00:02:00Z\"}", "since: in the future" },
	{ "{\"patient\":\"p-1\",\"encounter\":\"e-1\",\"since\":\"2025-12-04T23:59:59Z\"}", "since: more than a day ago" },
	{ "{\"patient\":\"p-1\",\"patient\":\"p-2\",\"encounter\":\"e-1\",\"since\":\"2025-12-06T00:00:00Z\"}", "a member given twice" },
	{ "{\"patient\":\"p-1\",\"encounter\":\"e-1\",\"since\":\"2025-12-06T00:00:00Z\",\"name\":\"x\"}", "unknown member (members are \"patient\", \"encounter\", \"since\", \"label\")" },
	{ "{\"patient\":1,\"encounter\":\"e-1\",\"since\":\"2025-12-06T00:00:00Z\"}", "patient: not an id" },
	{ "{\"patient\":\"p-1\",\"encounter\":\"e-1\",\"since\":\"2025-12-06T00:00:00Z\",\"label\":\"a\\\"b\"}", "label: 1 to 32 printable ASCII characters, no '\"' or '\\'" },
	{ "{\"patient\":\"p-1\",\"encounter\":\"e-1\",\"since\":\"2025-12-06T00:00:00Z\",\"label\":\"\\u00e9\"}", "label: 1 to 32 printable ASCII characters" },
	{ "{\"patient\":\"p-1\",\"encounter\":\"e-1\",\"since\":\"2025-12-06T00:00:00Z\"} x", "malformed JSON (bytes after the object)" },
};

int main(void)
{
	struct vg_occupancy o;
	const char *why;
	size_t i;
	int64_t ms;

	for(i = 0; i < sizeof(times) / sizeof(times[0]); i++){
		ms = -1;
		CHECK(vg_rfc3339_parse(times[i].s, strlen(times[i].s), &ms));
		CHECK_INT(ms, times[i].ms);
	}
	for(i = 0; i < sizeof(bad_times) / sizeof(bad_times[0]); i++){
		if(vg_rfc3339_parse(bad_times[i], strlen(bad_times[i]), &ms)){
			fprintf(stderr, "taken: \"%s\"\n", bad_times[i]);
			CHECK(false);
		}
	}
	why = vg_occupancy_parse("", 0, NOW, &o);
	CHECK(why == NULL && o.vacant && o.since_ms == NOW && o.patient[0] == '\0');
	{
		static const char ok[] = " {\"since\": \"2025-12-05T23:59:00Z\", \"encounter\":\"enc.7\", \"patient\":\"P_1\","
			" \"label\":\"J.D. \\/ 12\"} ";
		why = vg_occupancy_parse(ok, sizeof(ok) - 1, NOW, &o);
	}
	CHECK(why == NULL);
	CHECK(!o.vacant && o.since_ms == NOW - 60000 && !strcmp(o.patient, "P_1") && !strcmp(o.encounter, "enc.7")
			&& !strcmp(o.label, "J.D. / 12"));
	for(i = 0; i < sizeof(refused) / sizeof(refused[0]); i++){
		why = vg_occupancy_parse(refused[i].payload, strlen(refused[i].payload), NOW, &o);
		if(why == NULL || strncmp(why, refused[i].why, strlen(refused[i].why)) != 0){
			fprintf(stderr, "%s: got %s\n", refused[i].payload, why ? why : "(taken)");
			CHECK(false);
		}
	}

	/* The record. */
	{
		uint8_t buf[512];
		struct vg_wbuf w;
		struct vg_rec_occupancy in, out;
		size_t k;
		int accepted = 0;

		memset(&in, 0, sizeof(in));
		in.ward = (struct vg_str){ "7A", 2 };
		in.bed = (struct vg_str){ "b1", 2 };
		in.by = (struct vg_str){ "core", 4 };
		in.since_ms = NOW - 5;
		in.received_ms = NOW;
		in.patient = (struct vg_str){ "p-1", 3 };
		in.encounter = (struct vg_str){ "e-1", 3 };
		in.label = (struct vg_str){ "A.B.", 4 };
		vg_wbuf_init(&w, buf, sizeof(buf));
		CHECK(vg_rec_encode_occupancy(&w, &in));
		CHECK(vg_rec_decode_occupancy(buf, w.len, &out));
		CHECK(out.since_ms == NOW - 5 && out.received_ms == NOW && !out.vacant && out.patient.n == 3
				&& !memcmp(out.encounter.p, "e-1", 3) && out.label.n == 4 && out.by.n == 4);
		for(k = 0; k < w.len; k++){
			accepted += vg_rec_decode_occupancy(buf, k, &out);
		}
		CHECK_INT(accepted, 0);
		in.vacant = true;   /* vacant with a patient: not a record */
		vg_wbuf_init(&w, buf, sizeof(buf));
		CHECK(vg_rec_encode_occupancy(&w, &in));
		CHECK(!vg_rec_decode_occupancy(buf, w.len, &out));
		in.patient.n = in.encounter.n = in.label.n = 0;
		vg_wbuf_init(&w, buf, sizeof(buf));
		CHECK(vg_rec_encode_occupancy(&w, &in));
		CHECK(vg_rec_decode_occupancy(buf, w.len, &out) && out.vacant);
	}
	return vgtest_result("test_occupancy");
}
