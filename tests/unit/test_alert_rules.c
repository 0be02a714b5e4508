/*
 * test_alert_rules: the alert lifecycle rules (common/vg_alert_rules.c),
 * from tables: a threshold alert through its level, margin and hold time;
 * a bed's NEWS2 alert through band escalation, de-escalation and
 * resolution; when a device is due a silent alert. Each scenario is a
 * list of (time, input) -> (step, active, level) rows run in order on one
 * alert.
 */
#include <stdio.h>
#include <string.h>

#include "vg_alert_rules.h"
#include "vg_news2.h"
#include "vgtest.h"

#define NONE VG_ALERT_NONE
#define RAISE VG_ALERT_RAISE
#define LEVEL VG_ALERT_LEVEL
#define RESOLVE VG_ALERT_RESOLVE

struct row {
	int64_t at_ms;
	double in;              /* threshold: the value; news2: the band */
	enum vg_alert_step step;
	int active;
	int level;
};

struct scenario {
	const char *what;
	int news2;              /* 0: threshold, 1: news2 */
	struct vg_thr thr;      /* threshold */
	double margin;
	int64_t hold_ms;
	struct row rows[10];    /* until at_ms < 0 */
};

#define END { -1, 0, NONE, 0, 0 }
#define HR { true, true, 40, 130 }

static const struct scenario scenarios[] = {
	{ "inside the thresholds: nothing", 0, HR, 5, 60000, {
		{ 1000, 41, NONE, 0, 0 }, { 2000, 129, NONE, 0, 0 }, { 3000, 80, NONE, 0, 0 }, END } },
	{ "at the low bound: raised low at once", 0, HR, 5, 60000, {
		{ 1000, 40, RAISE, 1, 1 }, { 2000, 35, NONE, 1, 1 }, END } },
	{ "at the high bound: raised high", 0, HR, 5, 60000, {
		{ 1000, 130, RAISE, 1, 2 }, END } },
	{ "low straight to high: a level change, at once", 0, HR, 5, 60000, {
		{ 1000, 38, RAISE, 1, 1 }, { 2000, 150, LEVEL, 1, 2 }, { 3000, 39, LEVEL, 1, 1 }, END } },
	{ "back inside but within the margin: stays open", 0, HR, 5, 60000, {
		{ 1000, 40, RAISE, 1, 1 }, { 2000, 45, NONE, 1, 1 }, { 200000, 44, NONE, 1, 1 }, END } },
	{ "inside by the margin for the hold time: resolved", 0, HR, 5, 60000, {
		{ 1000, 40, RAISE, 1, 1 }, { 2000, 46, NONE, 1, 1 }, { 61999, 80, NONE, 1, 1 },
		{ 62000, 80, RESOLVE, 0, 1 }, { 63000, 80, NONE, 0, 1 }, END } },
	{ "a relapse into the margin restarts the hold", 0, HR, 5, 60000, {
		{ 0, 131, RAISE, 1, 2 }, { 1000, 120, NONE, 1, 2 }, { 30000, 126, NONE, 1, 2 },
		{ 40000, 124, NONE, 1, 2 }, { 99999, 124, NONE, 1, 2 }, { 100000, 124, RESOLVE, 0, 2 }, END } },
	{ "a relapse out of bounds restarts the hold", 0, HR, 5, 60000, {
		{ 0, 30, RAISE, 1, 1 }, { 1000, 60, NONE, 1, 1 }, { 50000, 30, NONE, 1, 1 },
		{ 60000, 60, NONE, 1, 1 }, { 119999, 60, NONE, 1, 1 }, { 120000, 60, RESOLVE, 0, 1 }, END } },
	{ "raised again after resolving: a new alert", 0, HR, 5, 0, {
		{ 0, 30, RAISE, 1, 1 }, { 1000, 60, RESOLVE, 0, 1 }, { 2000, 30, RAISE, 1, 1 }, END } },
	{ "a switched-off bound never fires", 0, { false, true, 40, 130 }, 5, 60000, {
		{ 0, 10, NONE, 0, 0 }, { 1000, 140, RAISE, 1, 2 }, END } },
	{ "no bounds: calm at once (a threshold switched off meanwhile)", 0, { false, false, 40, 130 }, 5, 60000, {
		{ 0, 10, NONE, 0, 0 }, END } },
	{ "fractional margin (temperature)", 0, { true, false, 35.0, 0 }, 0.3, 1000, {
		{ 0, 35.0, RAISE, 1, 1 }, { 100, 35.3, NONE, 1, 1 }, { 200, 35.31, NONE, 1, 1 },
		{ 1199, 35.4, NONE, 1, 1 }, { 1200, 35.4, RESOLVE, 0, 1 }, END } },

	{ "NEWS2 low and low-medium bands: no alert", 1, HR, 0, 60000, {
		{ 0, VG_N2_BAND_NONE, NONE, 0, 0 }, { 1000, VG_N2_BAND_LOW, NONE, 0, 0 },
		{ 2000, VG_N2_BAND_LOW_MEDIUM, NONE, 0, 0 }, END } },
	{ "NEWS2 medium raised, high escalates at once", 1, HR, 0, 60000, {
		{ 0, VG_N2_BAND_MEDIUM, RAISE, 1, VG_N2_BAND_MEDIUM }, { 1000, VG_N2_BAND_HIGH, LEVEL, 1, VG_N2_BAND_HIGH }, END } },
	{ "NEWS2 high straight away", 1, HR, 0, 60000, {
		{ 0, VG_N2_BAND_HIGH, RAISE, 1, VG_N2_BAND_HIGH }, END } },
	{ "NEWS2 de-escalates after the hold", 1, HR, 0, 60000, {
		{ 0, VG_N2_BAND_HIGH, RAISE, 1, VG_N2_BAND_HIGH }, { 1000, VG_N2_BAND_MEDIUM, NONE, 1, VG_N2_BAND_HIGH },
		{ 60999, VG_N2_BAND_MEDIUM, NONE, 1, VG_N2_BAND_HIGH }, { 61000, VG_N2_BAND_MEDIUM, LEVEL, 1, VG_N2_BAND_MEDIUM },
		END } },
	{ "NEWS2 resolves after the hold below medium", 1, HR, 0, 60000, {
		{ 0, VG_N2_BAND_MEDIUM, RAISE, 1, VG_N2_BAND_MEDIUM }, { 1000, VG_N2_BAND_LOW_MEDIUM, NONE, 1, VG_N2_BAND_MEDIUM },
		{ 61000, VG_N2_BAND_LOW, RESOLVE, 0, VG_N2_BAND_MEDIUM }, END } },
	{ "NEWS2 settles at the highest band seen while calm", 1, HR, 0, 60000, {
		{ 0, VG_N2_BAND_HIGH, RAISE, 1, VG_N2_BAND_HIGH }, { 1000, VG_N2_BAND_LOW, NONE, 1, VG_N2_BAND_HIGH },
		{ 30000, VG_N2_BAND_MEDIUM, NONE, 1, VG_N2_BAND_HIGH }, { 40000, VG_N2_BAND_LOW, NONE, 1, VG_N2_BAND_HIGH },
		{ 61000, VG_N2_BAND_LOW, LEVEL, 1, VG_N2_BAND_MEDIUM }, END } },
	{ "NEWS2 back at its band restarts the hold", 1, HR, 0, 60000, {
		{ 0, VG_N2_BAND_HIGH, RAISE, 1, VG_N2_BAND_HIGH }, { 1000, VG_N2_BAND_LOW, NONE, 1, VG_N2_BAND_HIGH },
		{ 20000, VG_N2_BAND_HIGH, NONE, 1, VG_N2_BAND_HIGH }, { 21000, VG_N2_BAND_LOW, NONE, 1, VG_N2_BAND_HIGH },
		{ 80999, VG_N2_BAND_LOW, NONE, 1, VG_N2_BAND_HIGH }, { 81000, VG_N2_BAND_NONE, RESOLVE, 0, VG_N2_BAND_HIGH },
		END } },
};

static const char *step_name(enum vg_alert_step s)
{
	return s == RAISE ? "raise" : s == LEVEL ? "level" : s == RESOLVE ? "resolve" : "none";
}

static void run_scenario(const struct scenario *sc)
{
	struct vg_alert_st a;
	int i;

	memset(&a, 0, sizeof(a));
	for(i = 0; sc->rows[i].at_ms >= 0; i++){
		const struct row *r = &sc->rows[i];
		enum vg_alert_step got = sc->news2 ? vg_alert_news2_step(&a, (int)r->in, r->at_ms, sc->hold_ms)
			: vg_alert_threshold_step(&a, &sc->thr, sc->margin, r->in, r->at_ms, sc->hold_ms);
		int ok = got == r->step && a.active == (r->active != 0) && (!a.active || a.level == r->level)
			&& (a.active || r->step != RESOLVE || a.level == r->level);

		if(!ok){
			fprintf(stderr, "%s, row %d (at %lld, %g): got %s active %d level %d, want %s active %d level %d\n",
					sc->what, i, (long long)r->at_ms, r->in, step_name(got), a.active, a.level, step_name(r->step),
					r->active, r->level);
		}
		CHECK(ok);
		if(got == RAISE){
			CHECK_INT(a.transitions, 0);
			CHECK_INT(a.calm_since_ms, 0);
		}
	}
}

/* Silent devices: (last seen, disconnected, now) with silence 300 s and a
 * disconnect grace of 60 s. */
static void test_silent(void)
{
	static const struct {
		int64_t last_seen, disconnected, now;
		const char *want;
	} rows[] = {
		{ 0, 0, 10000000, NULL },                 /* never seen, never gone: nothing to miss */
		{ 1000, 0, 300999, NULL },
		{ 1000, 0, 301000, "no data" },
		{ 0, 5000, 64999, NULL },
		{ 0, 5000, 65000, "disconnected" },
		{ 1000, 5000, 400000, "disconnected" },   /* both due: the disconnect says more */
		{ 390000, 5000, 400000, "disconnected" }, /* gone for long, whatever it sent before */
		{ 390000, 380000, 400000, NULL },         /* within the grace time, data recent */
	};
	size_t i;

	for(i = 0; i < sizeof(rows) / sizeof(rows[0]); i++){
		const char *got = vg_alert_silent_due(rows[i].last_seen, rows[i].disconnected, rows[i].now, 300000, 60000);
		int ok = (got == NULL && rows[i].want == NULL) || (got && rows[i].want && !strcmp(got, rows[i].want));
		if(!ok){
			fprintf(stderr, "silent row %zu: got %s, want %s\n", i, got ? got : "(none)",
					rows[i].want ? rows[i].want : "(none)");
		}
		CHECK(ok);
	}
}

int main(void)
{
	size_t i;

	for(i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++){
		run_scenario(&scenarios[i]);
	}
	test_silent();
	return vgtest_result("test_alert_rules");
}
