/*
 * vg_news2: the NEWS2 early warning score (Royal College of Physicians,
 * 2017): points per vital sign from one static table per parameter, their
 * sum, and the response band. Pure: no clock, no allocation, no state. The
 * caller decides which readings count (present and fresh); what a band
 * triggers is the alert engine's business (docs/alerts.md). Reference:
 * docs/news2.md.
 *
 * Thread: any (no shared state). Memory: none owned; results are written
 * into the caller's struct.
 */
#ifndef VG_NEWS2_H
#define VG_NEWS2_H

#include <stdbool.h>
#include <stdint.h>

enum vg_news2_param { VG_N2_RR = 0, VG_N2_SPO2, VG_N2_AIR_O2, VG_N2_SBP, VG_N2_PULSE, VG_N2_CONSC, VG_N2_TEMP, VG_N2_COUNT };
enum vg_news2_band { VG_N2_BAND_NONE = 0, VG_N2_BAND_LOW, VG_N2_BAND_LOW_MEDIUM, VG_N2_BAND_MEDIUM, VG_N2_BAND_HIGH };

struct vg_news2_input {
	uint32_t have;          /* bit (1u << enum vg_news2_param) per parameter present and fresh */
	int rr;                 /* breaths/min */
	int spo2;               /* % */
	bool oxygen;            /* on supplemental oxygen (VG_N2_AIR_O2) */
	int sbp;                /* mmHg */
	int pulse;              /* /min */
	char avpu;              /* 'A','C','V','P','U' */
	double temp;            /* degrees C, any precision: rounded as documented */
	int spo2_scale;         /* 1 or 2 (bed flag); anything else is treated as 1 */
};

struct vg_news2_result {
	int score;                      /* sum of points of the parameters present */
	int points[VG_N2_COUNT];        /* -1 for a parameter not present */
	int parameters;                 /* how many were present (0..7) */
	bool any_three;                 /* some single parameter scored 3 */
	enum vg_news2_band band;
};

/* Scores the parameters whose bit is set in in->have; bits at or above
 * VG_N2_COUNT are ignored. A parameter that cannot be scored counts as not
 * present (points -1, not in score or parameters): an AVPU char other than
 * 'A','C','V','P','U' (case-sensitive), or a temperature that is NaN or
 * infinite. SpO2 on scale 2 reads in->oxygen only when VG_N2_AIR_O2 is
 * present; without it the patient is scored as on air. No range checks:
 * plausibility is the decoder's job, and any int lands in some row.
 * Always fills *out completely. */
void vg_news2_score(const struct vg_news2_input *in, struct vg_news2_result *out);

/* "none","low","low_medium","medium","high"; "unknown" for a value outside
 * the enum. A static string: never free it. */
const char *vg_news2_band_name(enum vg_news2_band b);

/* Rounds a temperature to 0.1 °C, half away from zero (35.05 -> 35.1, 35.04 -> 35.0). Exposed for tests/docs. */
double vg_news2_round_temp(double c);

#endif
