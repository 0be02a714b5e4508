/*
 * vg_news2: see vg_news2.h and docs/news2.md. Each parameter has one static
 * table of rows {lowest, highest (inclusive), points}, covering every int in
 * order; rows_points() finds the row holding a value. AVPU and air/oxygen use
 * the same rows, one row per accepted value, so an unknown letter matches
 * nothing and is not scored. Temperatures are compared in whole tenths of a
 * degree after rounding, never as doubles.
 *
 * Thread: any (tables are const). Memory: none.
 */
#include "vg_news2.h"

#include <limits.h>
#include <math.h>
#include <stddef.h>

struct n2_row {
	int lo;         /* inclusive */
	int hi;         /* inclusive */
	int points;
};

#define N2_ROWS(t) (t), sizeof(t) / sizeof((t)[0])

/* RCP 2017 NEWS2 chart; see docs/news2.md. */
static const struct n2_row rr_rows[] = {
	{ INT_MIN, 8, 3 }, { 9, 11, 1 }, { 12, 20, 0 }, { 21, 24, 2 }, { 25, INT_MAX, 3 },
};
static const struct n2_row spo2_scale1_rows[] = {
	{ INT_MIN, 91, 3 }, { 92, 93, 2 }, { 94, 95, 1 }, { 96, INT_MAX, 0 },
};
/* Scale 2: the same below 88; from 88 up, 0 on air, rising again on oxygen
 * (over-oxygenation of a patient with a target of 88-92%). */
static const struct n2_row spo2_scale2_air_rows[] = {
	{ INT_MIN, 83, 3 }, { 84, 85, 2 }, { 86, 87, 1 }, { 88, INT_MAX, 0 },
};
static const struct n2_row spo2_scale2_o2_rows[] = {
	{ INT_MIN, 83, 3 }, { 84, 85, 2 }, { 86, 87, 1 }, { 88, 92, 0 },
	{ 93, 94, 1 }, { 95, 96, 2 }, { 97, INT_MAX, 3 },
};
/* Keyed by the oxygen flag: 0 air, 1 oxygen. */
static const struct n2_row air_o2_rows[] = {
	{ 0, 0, 0 }, { 1, 1, 2 },
};
static const struct n2_row sbp_rows[] = {
	{ INT_MIN, 90, 3 }, { 91, 100, 2 }, { 101, 110, 1 }, { 111, 219, 0 }, { 220, INT_MAX, 3 },
};
static const struct n2_row pulse_rows[] = {
	{ INT_MIN, 40, 3 }, { 41, 50, 1 }, { 51, 90, 0 }, { 91, 110, 1 }, { 111, 130, 2 },
	{ 131, INT_MAX, 3 },
};
/* Keyed by the AVPU letter (ACVPU: C is new confusion). Nothing else matches. */
static const struct n2_row avpu_rows[] = {
	{ 'A', 'A', 0 }, { 'C', 'C', 3 }, { 'V', 'V', 3 }, { 'P', 'P', 3 }, { 'U', 'U', 3 },
};
/* Tenths of a degree C, after rounding. */
static const struct n2_row temp_rows[] = {
	{ INT_MIN, 350, 3 }, { 351, 360, 1 }, { 361, 380, 0 }, { 381, 390, 1 }, { 391, INT_MAX, 2 },
};
/* Total score to band; LOW is raised to LOW_MEDIUM when a single parameter
 * scored 3 (a total of 3 or 4: from 5 up the total already decides). */
static const struct n2_row band_rows[] = {
	{ INT_MIN, 0, VG_N2_BAND_NONE }, { 1, 4, VG_N2_BAND_LOW }, { 5, 6, VG_N2_BAND_MEDIUM },
	{ 7, INT_MAX, VG_N2_BAND_HIGH },
};

static const char *const band_names[] = {
	[VG_N2_BAND_NONE] = "none",
	[VG_N2_BAND_LOW] = "low",
	[VG_N2_BAND_LOW_MEDIUM] = "low_medium",
	[VG_N2_BAND_MEDIUM] = "medium",
	[VG_N2_BAND_HIGH] = "high",
};

/* Points of the row holding v, or -1 if no row does. */
static int rows_points(const struct n2_row *rows, size_t n, int v)
{
	size_t i;

	for(i = 0; i < n; i++){
		if(v >= rows[i].lo && v <= rows[i].hi){
			return rows[i].points;
		}
	}
	return -1;
}

/* Beyond +-1000 degrees every temperature scores the same as at the bound:
 * the clamp keeps the conversion to int defined for any finite double. */
static int temp_tenths(double c)
{
	if(c > 1000.0){
		c = 1000.0;
	}else if(c < -1000.0){
		c = -1000.0;
	}
	return (int)round(c * 10.0);
}

static bool has(const struct vg_news2_input *in, enum vg_news2_param p)
{
	return (in->have & (1u << p)) != 0;
}

/* Records one parameter's points; -1 (not scorable) leaves it not present. */
static void put(struct vg_news2_result *out, enum vg_news2_param p, int points)
{
	if(points < 0){
		return;
	}
	out->points[p] = points;
	out->score += points;
	out->parameters++;
	if(points == 3){
		out->any_three = true;
	}
}

double vg_news2_round_temp(double c)
{
	/* round() is half away from zero. 35.05 is stored as 35.04999...; its
	 * product with 10 still rounds to 350.5, and that holds for every
	 * two-decimal value from -200 to 200 (checked exhaustively), so no
	 * epsilon is needed. */
	return round(c * 10.0) / 10.0;
}

void vg_news2_score(const struct vg_news2_input *in, struct vg_news2_result *out)
{
	const struct n2_row *spo2_rows = spo2_scale1_rows;
	size_t spo2_n = sizeof(spo2_scale1_rows) / sizeof(spo2_scale1_rows[0]);
	int p;

	out->score = 0;
	out->parameters = 0;
	out->any_three = false;
	for(p = 0; p < VG_N2_COUNT; p++){
		out->points[p] = -1;
	}

	if(in->spo2_scale == 2){
		/* Without an air/oxygen reading, scale 2 assumes air: the lower
		 * score, so a missing reading never invents points. */
		if(has(in, VG_N2_AIR_O2) && in->oxygen){
			spo2_rows = spo2_scale2_o2_rows;
			spo2_n = sizeof(spo2_scale2_o2_rows) / sizeof(spo2_scale2_o2_rows[0]);
		}else{
			spo2_rows = spo2_scale2_air_rows;
			spo2_n = sizeof(spo2_scale2_air_rows) / sizeof(spo2_scale2_air_rows[0]);
		}
	}

	if(has(in, VG_N2_RR)){
		put(out, VG_N2_RR, rows_points(N2_ROWS(rr_rows), in->rr));
	}
	if(has(in, VG_N2_SPO2)){
		put(out, VG_N2_SPO2, rows_points(spo2_rows, spo2_n, in->spo2));
	}
	if(has(in, VG_N2_AIR_O2)){
		put(out, VG_N2_AIR_O2, rows_points(N2_ROWS(air_o2_rows), in->oxygen ? 1 : 0));
	}
	if(has(in, VG_N2_SBP)){
		put(out, VG_N2_SBP, rows_points(N2_ROWS(sbp_rows), in->sbp));
	}
	if(has(in, VG_N2_PULSE)){
		put(out, VG_N2_PULSE, rows_points(N2_ROWS(pulse_rows), in->pulse));
	}
	if(has(in, VG_N2_CONSC)){
		put(out, VG_N2_CONSC, rows_points(N2_ROWS(avpu_rows), in->avpu));
	}
	if(has(in, VG_N2_TEMP) && isfinite(in->temp)){
		put(out, VG_N2_TEMP, rows_points(N2_ROWS(temp_rows), temp_tenths(in->temp)));
	}

	out->band = (enum vg_news2_band)rows_points(N2_ROWS(band_rows), out->score);
	if(out->band == VG_N2_BAND_LOW && out->any_three){
		out->band = VG_N2_BAND_LOW_MEDIUM;
	}
}

const char *vg_news2_band_name(enum vg_news2_band b)
{
	if((unsigned)b >= sizeof(band_names) / sizeof(band_names[0])){
		return "unknown";
	}
	return band_names[b];
}
