/*
 * test_alertnet: the net transition of one alert slot over one message
 * (common/vg_alertnet.h), from a table of step sequences written out by
 * hand, then exhaustively: every sequence of up to 8 transitions from every
 * starting state must give at most VG_ALERTNET_MAX events that a receiver
 * can apply as a consistent history ending in the slot's real state, never
 * drop a condition that was off before and came up, and count everything
 * else as coalesced.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "vg_alertnet.h"
#include "vg_rec.h"
#include "vgtest.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define RAISED VG_AT_RAISED
#define UPDATED VG_AT_UPDATED
#define RESOLVED VG_AT_RESOLVED
#define PRIOR true
#define CUR false

struct want {
	uint8_t type;
	bool prior;
	uint8_t level;
	uint8_t previous;
	int tag;
};

struct ncase {
	const char *name;
	bool active;            /* the slot before the message */
	uint8_t level;
	const char *steps;      /* "R1 L2 X": raise at 1, level 2, resolve; a step's tag is its position */
	int nwant;
	struct want want[VG_ALERTNET_MAX];
	uint32_t coalesced;
};

static const struct ncase cases[] = {
	{ "no transition", false, 0, "", 0, { { 0 } }, 0 },
	{ "no transition, open alert", true, 2, "", 0, { { 0 } }, 0 },
	{ "raise", false, 0, "R1", 1, { { RAISED, CUR, 1, 0, 0 } }, 0 },
	{ "raise, then flapping low/high: the final level, from the step that set it", false, 0, "R1 L2 L1 L2", 1,
		{ { RAISED, CUR, 2, 0, 3 } }, 3 },
	{ "update", true, 1, "L2", 1, { { UPDATED, CUR, 2, 1, 0 } }, 0 },
	{ "updates: the last level against the one last sent", true, 1, "L2 L1 L2", 1, { { UPDATED, CUR, 2, 1, 2 } }, 2 },
	{ "a level that came and went: nothing new to say", true, 1, "L2 L1", 0, { { 0 } }, 2 },
	{ "resolve", true, 2, "X", 1, { { RESOLVED, PRIOR, 0, 2, 0 } }, 0 },
	{ "update then resolve: previous is what was sent", true, 1, "L2 X", 1, { { RESOLVED, PRIOR, 0, 1, 1 } }, 1 },
	{ "ended and a new one began", true, 1, "X R2", 2, { { RESOLVED, PRIOR, 0, 1, 0 }, { RAISED, CUR, 2, 0, 1 } }, 0 },
	{ "ended, began, changed level", true, 1, "X R1 L2", 2, { { RESOLVED, PRIOR, 0, 1, 0 }, { RAISED, CUR, 2, 0, 2 } }, 1 },
	{ "ended; others came and went at the same instant", true, 1, "X R2 X", 1, { { RESOLVED, PRIOR, 0, 1, 0 } }, 2 },
	{ "ended; came and went; began", true, 2, "X R1 X R2", 2, { { RESOLVED, PRIOR, 0, 2, 0 }, { RAISED, CUR, 2, 0, 3 } }, 2 },
	{ "came and went inside the message: still said", false, 0, "R1 X", 2,
		{ { RAISED, CUR, 1, 0, 0 }, { RESOLVED, CUR, 0, 1, 1 } }, 0 },
	{ "came and went three times: the last one, at its last level", false, 0, "R1 X R2 X R1 L2 X", 2,
		{ { RAISED, CUR, 2, 0, 5 }, { RESOLVED, CUR, 0, 2, 6 } }, 5 },
	{ "came, went, came back: raised once", false, 0, "R1 X R1", 1, { { RAISED, CUR, 1, 0, 2 } }, 2 },
	{ "steps that do not fit the state are ignored", false, 0, "L2 X", 0, { { 0 } }, 0 },
	{ "a raise while open is ignored", true, 1, "R2", 0, { { 0 } }, 0 },
};

static void feed(struct vg_alertnet *n, const char *steps)
{
	int tag = 0;
	const char *p;

	for(p = steps; *p; p++){
		if(*p == ' '){
			continue;
		}
		if(*p == 'R'){
			vg_alertnet_raise(n, (uint8_t)(p[1] - '0'), tag);
			p++;
		}else if(*p == 'L'){
			vg_alertnet_level(n, (uint8_t)(p[1] - '0'), tag);
			p++;
		}else{
			vg_alertnet_resolve(n, tag);
		}
		tag++;
	}
}

static void table(void)
{
	size_t i;
	int k;

	for(i = 0; i < NELEM(cases); i++){
		const struct ncase *c = &cases[i];
		struct vg_alertnet n;
		struct vg_alertnet_event out[VG_ALERTNET_MAX];
		int got;
		int before = vgtest_failures;

		vg_alertnet_begin(&n, c->active, c->level);
		feed(&n, c->steps);
		got = vg_alertnet_plan(&n, out);
		CHECK_INT(got, c->nwant);
		for(k = 0; k < got && k < c->nwant; k++){
			CHECK_INT(out[k].type, c->want[k].type);
			CHECK_INT(out[k].prior, c->want[k].prior);
			CHECK_INT(out[k].level, c->want[k].level);
			CHECK_INT(out[k].previous, c->want[k].previous);
			CHECK_INT(out[k].tag, c->want[k].tag);
		}
		CHECK_INT(vg_alertnet_coalesced(&n, got), c->coalesced);
		if(vgtest_failures != before){
			fprintf(stderr, "  in case \"%s\"\n", c->name);
		}
	}
}

/* The batch of the red team's report: 64 samples alternating low/high. */
static void batch64(void)
{
	struct vg_alertnet n;
	struct vg_alertnet_event out[VG_ALERTNET_MAX];
	int i, got;

	vg_alertnet_begin(&n, false, 0);
	vg_alertnet_raise(&n, 1, 0);
	for(i = 1; i < 64; i++){
		vg_alertnet_level(&n, i % 2 ? 2 : 1, i);
	}
	got = vg_alertnet_plan(&n, out);
	CHECK_INT(got, 1);
	CHECK_INT(out[0].type, RAISED);
	CHECK_INT(out[0].level, 2);
	CHECK_INT(out[0].tag, 63);
	CHECK_INT(vg_alertnet_coalesced(&n, got), 63);
}

/* Every valid sequence of up to MAXLEN transitions from off, on at 1 and on
 * at 2: the plan, applied by a receiver that only knows what it was sent,
 * is a consistent history that ends in the slot's real state. */
#define MAXLEN 8

struct model {
	bool active;
	uint8_t level;
	bool began;         /* an alert began (raise) in the sequence */
};

static unsigned long sequences;

static void check_plan(bool active0, uint8_t level0, const struct vg_alertnet *n, const struct model *end)
{
	struct vg_alertnet_event out[VG_ALERTNET_MAX];
	bool rx_active = active0;
	uint8_t rx_level = active0 ? level0 : 0;
	int got = vg_alertnet_plan(n, out), k;

	sequences++;
	CHECK(got >= 0 && got <= VG_ALERTNET_MAX);
	for(k = 0; k < got; k++){
		switch(out[k].type){
			case RAISED:
				CHECK(!rx_active);
				CHECK(!out[k].prior);
				CHECK(out[k].level > 0);
				rx_active = true;
				rx_level = out[k].level;
				break;
			case UPDATED:
				CHECK(rx_active);
				CHECK(out[k].previous == rx_level);
				CHECK(out[k].level != rx_level);
				rx_level = out[k].level;
				break;
			case RESOLVED:
				CHECK(rx_active);
				CHECK(out[k].previous == rx_level);
				rx_active = false;
				break;
			default:
				CHECK(0);
		}
		CHECK(out[k].tag >= 0 && (uint32_t)out[k].tag < n->steps);
	}
	/* The receiver ends where the slot is. */
	CHECK(rx_active == end->active);
	if(end->active){
		CHECK(rx_level == end->level);
	}
	/* A condition that was off before and came up is never hidden. */
	if(!active0 && end->began){
		CHECK(got >= 1 && out[0].type == RAISED);
	}
	/* An alert open before that ended is resolved first. */
	if(active0 && n->prior_ended){
		CHECK(got >= 1 && out[0].type == RESOLVED && out[0].prior);
	}
	CHECK(vg_alertnet_coalesced(n, got) + (uint32_t)got == n->steps);
}

static void walk(bool active0, uint8_t level0, const struct vg_alertnet *n, const struct model *m, int depth)
{
	struct vg_alertnet next;
	struct model nm;
	uint8_t l;

	check_plan(active0, level0, n, m);
	if(depth == MAXLEN){
		return;
	}
	if(!m->active){
		for(l = 1; l <= 2; l++){
			next = *n;
			nm = *m;
			vg_alertnet_raise(&next, l, depth);
			nm.active = true;
			nm.level = l;
			nm.began = true;
			walk(active0, level0, &next, &nm, depth + 1);
		}
		return;
	}
	next = *n;
	nm = *m;
	l = m->level == 1 ? 2 : 1;
	vg_alertnet_level(&next, l, depth);
	nm.level = l;
	walk(active0, level0, &next, &nm, depth + 1);
	next = *n;
	nm = *m;
	vg_alertnet_resolve(&next, depth);
	nm.active = false;
	walk(active0, level0, &next, &nm, depth + 1);
}

static void exhaustive(void)
{
	static const struct { bool active; uint8_t level; } starts[] = { { false, 0 }, { true, 1 }, { true, 2 } };
	size_t i;

	for(i = 0; i < NELEM(starts); i++){
		struct vg_alertnet n;
		struct model m = { starts[i].active, starts[i].level, false };
		vg_alertnet_begin(&n, starts[i].active, starts[i].level);
		walk(starts[i].active, starts[i].level, &n, &m, 0);
	}
	CHECK(sequences > 1000);
}

int main(void)
{
	table();
	batch64();
	exhaustive();
	return vgtest_result("test_alertnet");
}
