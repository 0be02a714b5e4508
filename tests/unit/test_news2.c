/*
 * test_news2: the NEWS2 tables (RCP 2017, docs/news2.md) at every band edge
 * of every parameter, temperature rounding, the aggregate band rule (with
 * the low-medium "single 3" rule), missing parameters, SpO2 scale selection
 * and band names. Expected values are written out from the chart, not
 * computed from the module's tables; sweeps compare against integer-only
 * oracles written independently below.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vg_news2.h"
#include "vgtest.h"

#define BIT(p) (1u << (p))
#define ALL_BITS (BIT(VG_N2_COUNT) - 1u)
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* No air/oxygen reading in the input (o2 field of int_case). */
#define NO_O2 (-1)

/* One parameter alone (plus the air/oxygen reading when o2 is not NO_O2). */
struct int_case {
	enum vg_news2_param p;
	int v;          /* the value; the AVPU char for VG_N2_CONSC, 0/1 for VG_N2_AIR_O2 */
	int scale;      /* spo2_scale */
	int o2;         /* NO_O2, 0 air, 1 oxygen */
	int points;     /* expected points of p; -1: not present */
};

static const struct int_case int_cases[] = {
	/* respiration rate */
	{ VG_N2_RR, 0, 1, NO_O2, 3 }, { VG_N2_RR, 8, 1, NO_O2, 3 }, { VG_N2_RR, 9, 1, NO_O2, 1 },
	{ VG_N2_RR, 11, 1, NO_O2, 1 }, { VG_N2_RR, 12, 1, NO_O2, 0 }, { VG_N2_RR, 20, 1, NO_O2, 0 },
	{ VG_N2_RR, 21, 1, NO_O2, 2 }, { VG_N2_RR, 24, 1, NO_O2, 2 }, { VG_N2_RR, 25, 1, NO_O2, 3 },
	{ VG_N2_RR, 60, 1, NO_O2, 3 },
	/* SpO2 scale 1 (air/oxygen does not matter) */
	{ VG_N2_SPO2, 70, 1, NO_O2, 3 }, { VG_N2_SPO2, 91, 1, NO_O2, 3 }, { VG_N2_SPO2, 92, 1, NO_O2, 2 },
	{ VG_N2_SPO2, 93, 1, NO_O2, 2 }, { VG_N2_SPO2, 94, 1, NO_O2, 1 }, { VG_N2_SPO2, 95, 1, NO_O2, 1 },
	{ VG_N2_SPO2, 96, 1, NO_O2, 0 }, { VG_N2_SPO2, 100, 1, NO_O2, 0 },
	{ VG_N2_SPO2, 91, 1, 1, 3 }, { VG_N2_SPO2, 95, 1, 1, 1 }, { VG_N2_SPO2, 96, 1, 1, 0 },
	{ VG_N2_SPO2, 97, 1, 1, 0 }, { VG_N2_SPO2, 100, 1, 1, 0 }, { VG_N2_SPO2, 93, 1, 0, 2 },
	/* SpO2 scale 2 on air */
	{ VG_N2_SPO2, 70, 2, 0, 3 }, { VG_N2_SPO2, 83, 2, 0, 3 }, { VG_N2_SPO2, 84, 2, 0, 2 },
	{ VG_N2_SPO2, 85, 2, 0, 2 }, { VG_N2_SPO2, 86, 2, 0, 1 }, { VG_N2_SPO2, 87, 2, 0, 1 },
	{ VG_N2_SPO2, 88, 2, 0, 0 }, { VG_N2_SPO2, 92, 2, 0, 0 }, { VG_N2_SPO2, 93, 2, 0, 0 },
	{ VG_N2_SPO2, 94, 2, 0, 0 }, { VG_N2_SPO2, 95, 2, 0, 0 }, { VG_N2_SPO2, 96, 2, 0, 0 },
	{ VG_N2_SPO2, 97, 2, 0, 0 }, { VG_N2_SPO2, 100, 2, 0, 0 },
	/* SpO2 scale 2 on oxygen */
	{ VG_N2_SPO2, 70, 2, 1, 3 }, { VG_N2_SPO2, 83, 2, 1, 3 }, { VG_N2_SPO2, 84, 2, 1, 2 },
	{ VG_N2_SPO2, 85, 2, 1, 2 }, { VG_N2_SPO2, 86, 2, 1, 1 }, { VG_N2_SPO2, 87, 2, 1, 1 },
	{ VG_N2_SPO2, 88, 2, 1, 0 }, { VG_N2_SPO2, 92, 2, 1, 0 }, { VG_N2_SPO2, 93, 2, 1, 1 },
	{ VG_N2_SPO2, 94, 2, 1, 1 }, { VG_N2_SPO2, 95, 2, 1, 2 }, { VG_N2_SPO2, 96, 2, 1, 2 },
	{ VG_N2_SPO2, 97, 2, 1, 3 }, { VG_N2_SPO2, 100, 2, 1, 3 },
	/* SpO2 scale 2 with no air/oxygen reading: scored as on air */
	{ VG_N2_SPO2, 83, 2, NO_O2, 3 }, { VG_N2_SPO2, 84, 2, NO_O2, 2 }, { VG_N2_SPO2, 87, 2, NO_O2, 1 },
	{ VG_N2_SPO2, 88, 2, NO_O2, 0 }, { VG_N2_SPO2, 93, 2, NO_O2, 0 }, { VG_N2_SPO2, 95, 2, NO_O2, 0 },
	{ VG_N2_SPO2, 97, 2, NO_O2, 0 }, { VG_N2_SPO2, 100, 2, NO_O2, 0 },
	/* spo2_scale other than 2 behaves as 1 (88 and 97 on oxygen tell them apart) */
	{ VG_N2_SPO2, 88, 0, NO_O2, 3 }, { VG_N2_SPO2, 88, 3, NO_O2, 3 }, { VG_N2_SPO2, 88, -1, NO_O2, 3 },
	{ VG_N2_SPO2, 88, 12, NO_O2, 3 }, { VG_N2_SPO2, 97, 0, 1, 0 }, { VG_N2_SPO2, 97, 3, 1, 0 },
	{ VG_N2_SPO2, 97, -2, 1, 0 }, { VG_N2_SPO2, 93, 0, 1, 2 }, { VG_N2_SPO2, 95, 22, 1, 1 },
	/* air or oxygen */
	{ VG_N2_AIR_O2, 0, 1, NO_O2, 0 }, { VG_N2_AIR_O2, 1, 1, NO_O2, 2 },
	/* systolic BP */
	{ VG_N2_SBP, 50, 1, NO_O2, 3 }, { VG_N2_SBP, 90, 1, NO_O2, 3 }, { VG_N2_SBP, 91, 1, NO_O2, 2 },
	{ VG_N2_SBP, 100, 1, NO_O2, 2 }, { VG_N2_SBP, 101, 1, NO_O2, 1 }, { VG_N2_SBP, 110, 1, NO_O2, 1 },
	{ VG_N2_SBP, 111, 1, NO_O2, 0 }, { VG_N2_SBP, 219, 1, NO_O2, 0 }, { VG_N2_SBP, 220, 1, NO_O2, 3 },
	{ VG_N2_SBP, 280, 1, NO_O2, 3 },
	/* pulse */
	{ VG_N2_PULSE, 20, 1, NO_O2, 3 }, { VG_N2_PULSE, 40, 1, NO_O2, 3 }, { VG_N2_PULSE, 41, 1, NO_O2, 1 },
	{ VG_N2_PULSE, 50, 1, NO_O2, 1 }, { VG_N2_PULSE, 51, 1, NO_O2, 0 }, { VG_N2_PULSE, 90, 1, NO_O2, 0 },
	{ VG_N2_PULSE, 91, 1, NO_O2, 1 }, { VG_N2_PULSE, 110, 1, NO_O2, 1 }, { VG_N2_PULSE, 111, 1, NO_O2, 2 },
	{ VG_N2_PULSE, 130, 1, NO_O2, 2 }, { VG_N2_PULSE, 131, 1, NO_O2, 3 }, { VG_N2_PULSE, 250, 1, NO_O2, 3 },
	/* consciousness: every ACVPU letter; anything else is not scored */
	{ VG_N2_CONSC, 'A', 1, NO_O2, 0 }, { VG_N2_CONSC, 'C', 1, NO_O2, 3 }, { VG_N2_CONSC, 'V', 1, NO_O2, 3 },
	{ VG_N2_CONSC, 'P', 1, NO_O2, 3 }, { VG_N2_CONSC, 'U', 1, NO_O2, 3 },
	{ VG_N2_CONSC, 'X', 1, NO_O2, -1 }, { VG_N2_CONSC, 'a', 1, NO_O2, -1 }, { VG_N2_CONSC, 'B', 1, NO_O2, -1 },
	{ VG_N2_CONSC, 0, 1, NO_O2, -1 }, { VG_N2_CONSC, ' ', 1, NO_O2, -1 },
};

struct temp_case {
	double t;
	int points;     /* -1: not present */
};

static const struct temp_case temp_cases[] = {
	{ 30.0, 3 }, { 34.9, 3 }, { 35.0, 3 }, { 35.1, 1 }, { 36.0, 1 }, { 36.1, 0 }, { 37.0, 0 },
	{ 38.0, 0 }, { 38.1, 1 }, { 39.0, 1 }, { 39.1, 2 }, { 41.5, 2 },
	/* rounding to 0.1 half away from zero, then the table */
	{ 35.04, 3 }, { 35.05, 1 }, { 35.049, 3 }, { 36.04, 1 }, { 36.05, 0 }, { 38.04, 0 }, { 38.05, 1 },
	{ 39.04, 1 }, { 39.05, 2 }, { 35.0999, 1 }, { 36.0499999, 1 },
	/* anything finite lands in a row; NaN and infinities are not scored */
	{ -40.0, 3 }, { 1e300, 2 }, { -1e300, 3 }, { NAN, -1 }, { INFINITY, -1 }, { -INFINITY, -1 },
};

struct agg_case {
	const char *name;
	uint32_t have;
	int rr, spo2, oxygen, sbp, pulse;
	char avpu;
	double temp;
	int scale;
	int score, parameters, any_three;
	enum vg_news2_band band;
	int points[VG_N2_COUNT];        /* RR, SPO2, AIR_O2, SBP, PULSE, CONSC, TEMP */
};

#define NP (-1)

static const struct agg_case agg_cases[] = {
	{ "all normal", ALL_BITS, 16, 97, 0, 120, 70, 'A', 37.0, 1,
	  0, 7, 0, VG_N2_BAND_NONE, { 0, 0, 0, 0, 0, 0, 0 } },
	{ "total 1", ALL_BITS, 16, 97, 0, 120, 95, 'A', 37.0, 1,
	  1, 7, 0, VG_N2_BAND_LOW, { 0, 0, 0, 0, 1, 0, 0 } },
	{ "total 2", ALL_BITS, 22, 97, 0, 120, 70, 'A', 37.0, 1,
	  2, 7, 0, VG_N2_BAND_LOW, { 2, 0, 0, 0, 0, 0, 0 } },
	{ "total 4 without a 3", ALL_BITS, 22, 97, 0, 120, 95, 'A', 38.5, 1,
	  4, 7, 0, VG_N2_BAND_LOW, { 2, 0, 0, 0, 1, 0, 1 } },
	{ "total 5 without a 3", ALL_BITS, 22, 97, 0, 120, 115, 'A', 38.5, 1,
	  5, 7, 0, VG_N2_BAND_MEDIUM, { 2, 0, 0, 0, 2, 0, 1 } },
	{ "total 6 without a 3", ALL_BITS, 22, 95, 0, 120, 115, 'A', 38.5, 1,
	  6, 7, 0, VG_N2_BAND_MEDIUM, { 2, 1, 0, 0, 2, 0, 1 } },
	{ "total 7 without a 3", ALL_BITS, 22, 97, 1, 120, 115, 'A', 38.5, 1,
	  7, 7, 0, VG_N2_BAND_HIGH, { 2, 0, 2, 0, 2, 0, 1 } },
	{ "single 3, total 3", ALL_BITS, 16, 97, 0, 120, 70, 'V', 37.0, 1,
	  3, 7, 1, VG_N2_BAND_LOW_MEDIUM, { 0, 0, 0, 0, 0, 3, 0 } },
	{ "single 3, total 4", ALL_BITS, 16, 97, 0, 85, 95, 'A', 37.0, 1,
	  4, 7, 1, VG_N2_BAND_LOW_MEDIUM, { 0, 0, 0, 3, 1, 0, 0 } },
	{ "single 3, total 5", ALL_BITS, 26, 97, 0, 120, 70, 'A', 39.5, 1,
	  5, 7, 1, VG_N2_BAND_MEDIUM, { 3, 0, 0, 0, 0, 0, 2 } },
	{ "single 3, total 6", ALL_BITS, 16, 91, 0, 120, 95, 'A', 39.5, 1,
	  6, 7, 1, VG_N2_BAND_MEDIUM, { 0, 3, 0, 0, 1, 0, 2 } },
	{ "a 3, total 7", ALL_BITS, 30, 97, 1, 120, 120, 'A', 37.0, 1,
	  7, 7, 1, VG_N2_BAND_HIGH, { 3, 0, 2, 0, 2, 0, 0 } },
	{ "two 3s, total 6", ALL_BITS, 16, 97, 0, 120, 35, 'U', 37.0, 1,
	  6, 7, 1, VG_N2_BAND_MEDIUM, { 0, 0, 0, 0, 3, 3, 0 } },
	{ "maximum 20", ALL_BITS, 5, 85, 1, 80, 140, 'U', 34.0, 1,
	  20, 7, 1, VG_N2_BAND_HIGH, { 3, 3, 2, 3, 3, 3, 3 } },
	{ "scale 2 on oxygen, 97", ALL_BITS, 16, 97, 1, 120, 70, 'A', 37.0, 2,
	  5, 7, 1, VG_N2_BAND_MEDIUM, { 0, 3, 2, 0, 0, 0, 0 } },
	{ "scale 2 on air, 90", ALL_BITS, 16, 90, 0, 120, 70, 'A', 37.0, 2,
	  0, 7, 0, VG_N2_BAND_NONE, { 0, 0, 0, 0, 0, 0, 0 } },
	{ "scale 2, oxygen flag set but not present: air", ALL_BITS & ~BIT(VG_N2_AIR_O2), 16, 97, 1, 120, 70,
	  'A', 37.0, 2, 0, 6, 0, VG_N2_BAND_NONE, { 0, 0, NP, 0, 0, 0, 0 } },
	{ "scale 9 is scale 1", ALL_BITS, 16, 90, 0, 120, 70, 'A', 37.0, 9,
	  3, 7, 1, VG_N2_BAND_LOW_MEDIUM, { 0, 3, 0, 0, 0, 0, 0 } },
	/* missing parameters count nothing, whatever their fields hold */
	{ "nothing present", 0, 5, 50, 1, 50, 200, 'U', 30.0, 1,
	  0, 0, 0, VG_N2_BAND_NONE, { NP, NP, NP, NP, NP, NP, NP } },
	{ "only RR and pulse", BIT(VG_N2_RR) | BIT(VG_N2_PULSE), 22, 50, 1, 50, 95, 'U', 30.0, 1,
	  3, 2, 0, VG_N2_BAND_LOW, { 2, NP, NP, NP, 1, NP, NP } },
	{ "only temperature", BIT(VG_N2_TEMP), 5, 50, 1, 50, 200, 'U', 34.0, 1,
	  3, 1, 1, VG_N2_BAND_LOW_MEDIUM, { NP, NP, NP, NP, NP, NP, 3 } },
	{ "no oxygen reading, flag ignored", ALL_BITS & ~BIT(VG_N2_AIR_O2), 16, 97, 1, 120, 70, 'A', 37.0, 1,
	  0, 6, 0, VG_N2_BAND_NONE, { 0, 0, NP, 0, 0, 0, 0 } },
	{ "bad AVPU is not present", ALL_BITS, 16, 97, 0, 120, 95, 'Z', 37.0, 1,
	  1, 6, 0, VG_N2_BAND_LOW, { 0, 0, 0, 0, 1, NP, 0 } },
	{ "NaN temperature is not present", ALL_BITS, 22, 97, 0, 120, 70, 'A', NAN, 1,
	  2, 6, 0, VG_N2_BAND_LOW, { 2, 0, 0, 0, 0, 0, NP } },
	{ "bits above the parameters ignored", UINT32_MAX, 16, 97, 0, 120, 70, 'A', 37.0, 1,
	  0, 7, 0, VG_N2_BAND_NONE, { 0, 0, 0, 0, 0, 0, 0 } },
	{ "only high bits", ~ALL_BITS, 5, 50, 1, 50, 200, 'U', 30.0, 1,
	  0, 0, 0, VG_N2_BAND_NONE, { NP, NP, NP, NP, NP, NP, NP } },
};

static const char *param_name(enum vg_news2_param p)
{
	static const char *const names[VG_N2_COUNT] = { "rr", "spo2", "air_o2", "sbp", "pulse", "consc", "temp" };

	return (unsigned)p < VG_N2_COUNT ? names[p] : "?";
}

static void set_param(struct vg_news2_input *in, enum vg_news2_param p, int v)
{
	in->have |= BIT(p);
	switch(p){
	case VG_N2_RR: in->rr = v; break;
	case VG_N2_SPO2: in->spo2 = v; break;
	case VG_N2_AIR_O2: in->oxygen = v != 0; break;
	case VG_N2_SBP: in->sbp = v; break;
	case VG_N2_PULSE: in->pulse = v; break;
	case VG_N2_CONSC: in->avpu = (char)v; break;
	case VG_N2_TEMP: in->temp = v; break;
	case VG_N2_COUNT: break;
	}
}

/* The invariants every result keeps, whatever the input. */
static void check_consistent(const struct vg_news2_result *r)
{
	int p, sum = 0, n = 0, three = 0;

	for(p = 0; p < VG_N2_COUNT; p++){
		if(r->points[p] >= 0){
			sum += r->points[p];
			n++;
			three |= r->points[p] == 3;
		}
	}
	CHECK_INT(r->score, sum);
	CHECK_INT(r->parameters, n);
	CHECK_INT(r->any_three, three);
}

static void test_int_cases(void)
{
	size_t i;
	int p, before;

	for(i = 0; i < NELEM(int_cases); i++){
		const struct int_case *c = &int_cases[i];
		struct vg_news2_input in;
		struct vg_news2_result r;
		int o2_points = 0, expect_n = 0;

		before = vgtest_failures;
		memset(&in, 0, sizeof(in));
		in.spo2_scale = c->scale;
		if(c->o2 != NO_O2){
			set_param(&in, VG_N2_AIR_O2, c->o2);
			o2_points = c->o2 ? 2 : 0;
			expect_n++;
		}
		set_param(&in, c->p, c->v);
		if(c->points >= 0){
			expect_n++;
		}
		memset(&r, 0x5a, sizeof(r));    /* the result must be filled completely */
		vg_news2_score(&in, &r);

		CHECK_INT(r.points[c->p], c->points);
		CHECK_INT(r.score, (c->points > 0 ? c->points : 0) + (c->p == VG_N2_AIR_O2 ? 0 : o2_points));
		CHECK_INT(r.parameters, c->p == VG_N2_AIR_O2 ? 1 : expect_n);
		CHECK_INT(r.any_three, c->points == 3);
		for(p = 0; p < VG_N2_COUNT; p++){
			if(p != (int)c->p && !(p == VG_N2_AIR_O2 && c->o2 != NO_O2)){
				CHECK_INT(r.points[p], -1);
			}
		}
		check_consistent(&r);
		if(vgtest_failures != before){
			fprintf(stderr, "  in case %zu: %s = %d, scale %d, o2 %d, expected %d points\n",
					i, param_name(c->p), c->v, c->scale, c->o2, c->points);
		}
	}
}

static void test_temp_cases(void)
{
	size_t i;
	int before;

	for(i = 0; i < NELEM(temp_cases); i++){
		const struct temp_case *c = &temp_cases[i];
		struct vg_news2_input in;
		struct vg_news2_result r;

		before = vgtest_failures;
		memset(&in, 0, sizeof(in));
		in.have = BIT(VG_N2_TEMP);
		in.temp = c->t;
		vg_news2_score(&in, &r);
		CHECK_INT(r.points[VG_N2_TEMP], c->points);
		CHECK_INT(r.score, c->points > 0 ? c->points : 0);
		CHECK_INT(r.parameters, c->points >= 0 ? 1 : 0);
		check_consistent(&r);
		if(vgtest_failures != before){
			fprintf(stderr, "  in temperature case %zu: %.17g, expected %d points\n", i, c->t, c->points);
		}
	}
}

static void test_agg_cases(void)
{
	size_t i;
	int p, before;

	for(i = 0; i < NELEM(agg_cases); i++){
		const struct agg_case *c = &agg_cases[i];
		struct vg_news2_input in = {
			.have = c->have, .rr = c->rr, .spo2 = c->spo2, .oxygen = c->oxygen != 0, .sbp = c->sbp,
			.pulse = c->pulse, .avpu = c->avpu, .temp = c->temp, .spo2_scale = c->scale,
		};
		struct vg_news2_result r;

		before = vgtest_failures;
		memset(&r, 0xa5, sizeof(r));
		vg_news2_score(&in, &r);
		CHECK_INT(r.score, c->score);
		CHECK_INT(r.parameters, c->parameters);
		CHECK_INT(r.any_three, c->any_three);
		CHECK_INT(r.band, c->band);
		for(p = 0; p < VG_N2_COUNT; p++){
			CHECK_INT(r.points[p], c->points[p]);
		}
		check_consistent(&r);
		if(vgtest_failures != before){
			fprintf(stderr, "  in aggregate case \"%s\"\n", c->name);
		}
	}
}

/* Independent oracles for the sweeps: the chart as plain comparisons. */
static int oracle_rr(int v)
{
	if(v <= 8) return 3;
	if(v <= 11) return 1;
	if(v <= 20) return 0;
	if(v <= 24) return 2;
	return 3;
}

static int oracle_sbp(int v)
{
	if(v <= 90) return 3;
	if(v <= 100) return 2;
	if(v <= 110) return 1;
	if(v <= 219) return 0;
	return 3;
}

static int oracle_pulse(int v)
{
	if(v <= 40) return 3;
	if(v <= 50) return 1;
	if(v <= 90) return 0;
	if(v <= 110) return 1;
	if(v <= 130) return 2;
	return 3;
}

static int oracle_spo2(int v, int scale, bool oxygen)
{
	if(scale != 2){
		if(v <= 91) return 3;
		if(v <= 93) return 2;
		if(v <= 95) return 1;
		return 0;
	}
	if(v <= 83) return 3;
	if(v <= 85) return 2;
	if(v <= 87) return 1;
	if(v <= 92 || !oxygen) return 0;
	if(v <= 94) return 1;
	if(v <= 96) return 2;
	return 3;
}

/* Temperature in hundredths: rounded to tenths half away from zero in
 * integers, then the chart. */
static int oracle_temp_hundredths(int h)
{
	int tenths = h >= 0 ? (h + 5) / 10 : (h - 5) / 10;

	if(tenths <= 350) return 3;
	if(tenths <= 360) return 1;
	if(tenths <= 380) return 0;
	if(tenths <= 390) return 1;
	return 2;
}

static int score_one(enum vg_news2_param p, int v, int scale, bool oxygen)
{
	struct vg_news2_input in;
	struct vg_news2_result r;

	memset(&in, 0, sizeof(in));
	in.spo2_scale = scale;
	in.have = BIT(p);
	in.oxygen = oxygen;
	if(oxygen){
		in.have |= BIT(VG_N2_AIR_O2);
	}
	set_param(&in, p, v);
	vg_news2_score(&in, &r);
	return r.points[p];
}

static void test_sweeps(void)
{
	int v, bad = 0;

	for(v = -10; v <= 300; v++){
		bad += score_one(VG_N2_RR, v, 1, false) != oracle_rr(v);
		bad += score_one(VG_N2_SBP, v, 1, false) != oracle_sbp(v);
		bad += score_one(VG_N2_PULSE, v, 1, false) != oracle_pulse(v);
		bad += score_one(VG_N2_SPO2, v, 1, false) != oracle_spo2(v, 1, false);
		bad += score_one(VG_N2_SPO2, v, 1, true) != oracle_spo2(v, 1, true);
		bad += score_one(VG_N2_SPO2, v, 2, false) != oracle_spo2(v, 2, false);
		bad += score_one(VG_N2_SPO2, v, 2, true) != oracle_spo2(v, 2, true);
	}
	CHECK_INT(bad, 0);

	/* Every two-decimal temperature from 30.00 to 45.00, parsed from its
	 * decimal text as a reading would be. */
	bad = 0;
	for(v = 3000; v <= 4500; v++){
		char buf[32];
		struct vg_news2_input in;
		struct vg_news2_result r;

		snprintf(buf, sizeof(buf), "%d.%02d", v / 100, v % 100);
		memset(&in, 0, sizeof(in));
		in.have = BIT(VG_N2_TEMP);
		in.temp = strtod(buf, NULL);
		vg_news2_score(&in, &r);
		if(r.points[VG_N2_TEMP] != oracle_temp_hundredths(v)){
			if(bad < 5){
				fprintf(stderr, "temperature %s: %d points, expected %d\n", buf,
						r.points[VG_N2_TEMP], oracle_temp_hundredths(v));
			}
			bad++;
		}
	}
	CHECK_INT(bad, 0);
}

static void test_round_temp(void)
{
	int h, bad = 0;

	CHECK(vg_news2_round_temp(35.05) == 35.1);
	CHECK(vg_news2_round_temp(35.04) == 35.0);
	CHECK(vg_news2_round_temp(36.05) == 36.1);
	CHECK(vg_news2_round_temp(38.05) == 38.1);
	CHECK(vg_news2_round_temp(39.05) == 39.1);
	CHECK(vg_news2_round_temp(35.15) == 35.2);
	CHECK(vg_news2_round_temp(36.95) == 37.0);
	CHECK(vg_news2_round_temp(37.0) == 37.0);
	CHECK(vg_news2_round_temp(38.449) == 38.4);
	CHECK(vg_news2_round_temp(38.45) == 38.5);
	CHECK(vg_news2_round_temp(36.6666) == 36.7);
	CHECK(vg_news2_round_temp(-35.05) == -35.1);   /* away from zero */
	CHECK(vg_news2_round_temp(-35.04) == -35.0);
	CHECK(vg_news2_round_temp(0.05) == 0.1);
	CHECK(isnan(vg_news2_round_temp(NAN)));

	/* Every two-decimal value from -200.00 to 200.00, against integer
	 * rounding of its hundredths. */
	for(h = -20000; h <= 20000; h++){
		char buf[32];
		int tenths = h >= 0 ? (h + 5) / 10 : (h - 5) / 10;
		double got;

		snprintf(buf, sizeof(buf), "%s%d.%02d", h < 0 ? "-" : "", abs(h) / 100, abs(h) % 100);
		got = vg_news2_round_temp(strtod(buf, NULL));
		if(got != tenths / 10.0){
			if(bad < 5){
				fprintf(stderr, "round_temp(%s) = %.17g, expected %.17g\n", buf, got, tenths / 10.0);
			}
			bad++;
		}
	}
	CHECK_INT(bad, 0);
}

static void test_band_names(void)
{
	CHECK_STR(vg_news2_band_name(VG_N2_BAND_NONE), "none");
	CHECK_STR(vg_news2_band_name(VG_N2_BAND_LOW), "low");
	CHECK_STR(vg_news2_band_name(VG_N2_BAND_LOW_MEDIUM), "low_medium");
	CHECK_STR(vg_news2_band_name(VG_N2_BAND_MEDIUM), "medium");
	CHECK_STR(vg_news2_band_name(VG_N2_BAND_HIGH), "high");
	CHECK_STR(vg_news2_band_name((enum vg_news2_band)5), "unknown");
	CHECK_STR(vg_news2_band_name((enum vg_news2_band)-1), "unknown");
}

int main(void)
{
	test_int_cases();
	test_temp_cases();
	test_agg_cases();
	test_sweeps();
	test_round_temp();
	test_band_names();
	return vgtest_result("test_news2");
}
