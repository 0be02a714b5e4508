/*
 * test_alarm: the alarm lifecycle (common/vg_alarm.c) as a table of
 * (state, event) -> (state, emitted events), one row per pair of the
 * contract's "Alarm lifecycle", including the ack of a latched alert, an
 * ack racing a resolve, and escalation at a restart boundary (a level that
 * fell due while the broker was down is sent once, at the level due now).
 */
#include <stdio.h>
#include <string.h>

#include "vg_alarm.h"
#include "vgtest.h"

#define A VG_ALARM_ACTIVE
#define K VG_ALARM_ACKED
#define L VG_ALARM_LATCHED
#define E VG_ALARM_ENDED
#define HI VG_PRIO_HIGH
#define ME VG_PRIO_MEDIUM
#define LO VG_PRIO_LOW

struct row {
	const char *what;
	uint8_t state, prio, level;     /* before (raised at 0, not acked) */
	enum vg_alarm_event ev;
	int ev_prio;                    /* RAISE/UPDATE */
	int64_t at_ms;
	uint8_t want_state, want_level, want_prio;
	unsigned want_out;
	int64_t want_next;              /* the next escalation's due time after the step */
};

static const struct row rows[] = {
	/* raise: from nothing (ended) */
	{ "raise high", E, 0, 0, VG_ALARM_EV_RAISE, HI, 0, A, 0, HI, VG_ALARM_OUT_RAISED, 60000 },
	{ "raise medium", E, 0, 0, VG_ALARM_EV_RAISE, ME, 0, A, 0, ME, VG_ALARM_OUT_RAISED, 180000 },
	{ "raise low: never escalates", E, 0, 0, VG_ALARM_EV_RAISE, LO, 0, A, 0, LO, VG_ALARM_OUT_RAISED, 0 },
	/* update */
	{ "update active, medium -> high", A, ME, 0, VG_ALARM_EV_UPDATE, HI, 5000, A, 0, HI, VG_ALARM_OUT_UPDATED, 60000 },
	{ "update acked: stays acked", K, ME, 0, VG_ALARM_EV_UPDATE, HI, 5000, K, 0, HI, VG_ALARM_OUT_UPDATED, 0 },
	{ "update latched: nothing", L, HI, 0, VG_ALARM_EV_UPDATE, ME, 5000, L, 0, HI, 0, 60000 },
	{ "update ended: nothing", E, HI, 0, VG_ALARM_EV_UPDATE, ME, 5000, E, 0, HI, 0, 0 },
	/* end of the condition */
	{ "end high unacked: latches", A, HI, 0, VG_ALARM_EV_END, 0, 5000, L, 0, HI, VG_ALARM_OUT_RESOLVED, 60000 },
	{ "end medium unacked: resolves", A, ME, 0, VG_ALARM_EV_END, 0, 5000, E, 0, ME, VG_ALARM_OUT_RESOLVED, 0 },
	{ "end low unacked: resolves", A, LO, 0, VG_ALARM_EV_END, 0, 5000, E, 0, LO, VG_ALARM_OUT_RESOLVED, 0 },
	{ "end high acked: resolves", K, HI, 0, VG_ALARM_EV_END, 0, 5000, E, 0, HI, VG_ALARM_OUT_RESOLVED, 0 },
	{ "end latched: nothing", L, HI, 1, VG_ALARM_EV_END, 0, 5000, L, 1, HI, 0, 120000 },
	{ "end ended: nothing", E, HI, 0, VG_ALARM_EV_END, 0, 5000, E, 0, HI, 0, 0 },
	/* acknowledgement */
	{ "ack active", A, HI, 1, VG_ALARM_EV_ACK, 0, 70000, K, 1, HI, VG_ALARM_OUT_ACKED, 0 },
	{ "ack again: accepted, nothing", K, HI, 1, VG_ALARM_EV_ACK, 0, 71000, K, 1, HI, 0, 0 },
	{ "ack latched: ends it", L, HI, 0, VG_ALARM_EV_ACK, 0, 9000, E, 0, HI, VG_ALARM_OUT_ACKED, 0 },
	{ "ack racing a resolve (arrives after): refused", E, ME, 0, VG_ALARM_EV_ACK, 0, 9000, E, 0, ME,
		VG_ALARM_OUT_REFUSED, 0 },
	/* escalation timer */
	{ "timer before due", A, HI, 0, VG_ALARM_EV_TIMER, 0, 59999, A, 0, HI, 0, 60000 },
	{ "timer at level 1", A, HI, 0, VG_ALARM_EV_TIMER, 0, 60000, A, 1, HI, VG_ALARM_OUT_ESCALATED, 120000 },
	{ "timer at level 2", A, HI, 1, VG_ALARM_EV_TIMER, 0, 120500, A, 2, HI, VG_ALARM_OUT_ESCALATED, 180000 },
	{ "timer at max level: stops", A, HI, 2, VG_ALARM_EV_TIMER, 0, 180000, A, 3, HI, VG_ALARM_OUT_ESCALATED, 0 },
	{ "timer past max: nothing", A, HI, 3, VG_ALARM_EV_TIMER, 0, 900000, A, 3, HI, 0, 0 },
	{ "timer medium level 1", A, ME, 0, VG_ALARM_EV_TIMER, 0, 180000, A, 1, ME, VG_ALARM_OUT_ESCALATED, 360000 },
	{ "timer low: never", A, LO, 0, VG_ALARM_EV_TIMER, 0, 9000000, A, 0, LO, 0, 0 },
	{ "timer latched: escalates", L, HI, 0, VG_ALARM_EV_TIMER, 0, 60000, L, 1, HI, VG_ALARM_OUT_ESCALATED, 120000 },
	{ "timer acked: stopped", K, HI, 0, VG_ALARM_EV_TIMER, 0, 600000, K, 0, HI, 0, 0 },
	{ "timer ended: nothing", E, HI, 0, VG_ALARM_EV_TIMER, 0, 600000, E, 0, HI, 0, 0 },
	/* restore after a restart */
	{ "restore, nothing due", A, HI, 1, VG_ALARM_EV_RESTORE, 0, 100000, A, 1, HI, 0, 120000 },
	{ "restore, level 2 fell due while down: sent once", A, HI, 1, VG_ALARM_EV_RESTORE, 0, 130000, A, 2, HI,
		VG_ALARM_OUT_ESCALATED, 180000 },
	{ "restore, two levels missed: the level due now, once", A, HI, 0, VG_ALARM_EV_RESTORE, 0, 150000, A, 2, HI,
		VG_ALARM_OUT_ESCALATED, 180000 },
	{ "restore acked: nothing", K, HI, 1, VG_ALARM_EV_RESTORE, 0, 500000, K, 1, HI, 0, 0 },
	{ "restore latched: due level", L, HI, 0, VG_ALARM_EV_RESTORE, 0, 61000, L, 1, HI, VG_ALARM_OUT_ESCALATED,
		120000 },
};

int main(void)
{
	struct vg_alarm_policy p;
	size_t i;

	vg_alarm_policy_defaults(&p);
	for(i = 0; i < sizeof(rows) / sizeof(rows[0]); i++){
		const struct row *r = &rows[i];
		struct vg_alarm a;
		unsigned out;
		memset(&a, 0, sizeof(a));
		a.state = r->state;
		a.prio = r->prio;
		a.level = r->level;
		a.raised_ms = 0;
		a.acked_ms = r->state == K ? 1000 : 0;
		out = vg_alarm_step(&a, r->ev, &p, r->ev_prio, VG_CAT_PHYSIOLOGICAL, r->at_ms);
		if(out != r->want_out || a.state != r->want_state || a.level != r->want_level || a.prio != r->want_prio
				|| vg_alarm_next_due(&a, &p) != r->want_next){
			fprintf(stderr, "row %zu (%s): out %#x state %d level %d prio %d next %lld\n", i, r->what, out, a.state,
					a.level, a.prio, (long long)vg_alarm_next_due(&a, &p));
		}
		CHECK_INT(out, r->want_out);
		CHECK_INT(a.state, r->want_state);
		CHECK_INT(a.level, r->want_level);
		CHECK_INT(a.prio, r->want_prio);
		CHECK_INT(vg_alarm_next_due(&a, &p), r->want_next);
		if(r->ev == VG_ALARM_EV_ACK && (r->want_out & VG_ALARM_OUT_ACKED)){
			CHECK_INT(a.acked_ms, r->at_ms);
		}
		if(r->want_state == L && r->state == A){
			CHECK_INT(a.cleared_ms, r->at_ms);
		}
	}
	/* A sequence: raised high, escalates to 1, ack, condition ends: resolved, nothing latched. */
	{
		struct vg_alarm a;
		memset(&a, 0, sizeof(a));
		CHECK_INT(vg_alarm_step(&a, VG_ALARM_EV_RAISE, &p, HI, VG_CAT_TECHNICAL, 1000), VG_ALARM_OUT_RAISED);
		CHECK_INT(a.category, VG_CAT_TECHNICAL);
		CHECK_INT(vg_alarm_step(&a, VG_ALARM_EV_TIMER, &p, 0, 0, 61000), VG_ALARM_OUT_ESCALATED);
		CHECK_INT(vg_alarm_step(&a, VG_ALARM_EV_TIMER, &p, 0, 0, 62000), 0);
		CHECK_INT(vg_alarm_step(&a, VG_ALARM_EV_ACK, &p, 0, 0, 63000), VG_ALARM_OUT_ACKED);
		CHECK_INT(vg_alarm_step(&a, VG_ALARM_EV_END, &p, 0, 0, 64000), VG_ALARM_OUT_RESOLVED);
		CHECK_INT(a.state, E);
		CHECK_INT(vg_alarm_step(&a, VG_ALARM_EV_ACK, &p, 0, 0, 65000), VG_ALARM_OUT_REFUSED);
	}
	CHECK(vg_alarm_by_valid("nurse.jo@5N-1_a", 15));
	CHECK(!vg_alarm_by_valid("", 0));
	CHECK(!vg_alarm_by_valid("a b", 3));
	CHECK(!vg_alarm_by_valid("x\"", 2));
	CHECK(!vg_alarm_by_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 65));
	CHECK_INT(vg_prio_parse("medium"), ME);
	CHECK_INT(vg_prio_parse("urgent"), -1);
	return vgtest_result("alarm");
}
