/*
 * throttle: failure budgets and the fixed-size table of them (see
 * throttle.h). Thread: broker thread. Memory: one slot array per table,
 * allocated at init.
 */
#include "throttle.h"

#include <stdlib.h>
#include <string.h>

#include "vg_util.h"

#define PROBE 16

static uint64_t hash_key(const char *s)
{
	uint64_t h = vg_fnv1a(s, strlen(s));

	return h ^ (h >> 31);
}

bool vg_throttle_state_blocked(const struct vg_throttle_state *s, int64_t now_ms, int64_t *until_ms)
{
	if(s->blocked_until_ms > now_ms){
		if(until_ms){
			*until_ms = s->blocked_until_ms;
		}
		return true;
	}
	return false;
}

bool vg_throttle_state_fail(const struct vg_throttle_policy *p, struct vg_throttle_state *s, int64_t now_ms,
		int64_t *until_ms)
{
	int64_t len;
	uint8_t i;

	if(now_ms - s->window_start_ms > p->window_ms){
		s->window_start_ms = now_ms;
		s->fails = 0;
		if(s->blocked_until_ms <= now_ms && now_ms - s->blocked_until_ms > p->window_ms){
			s->level = 0; /* a quiet window forgives earlier blocks */
		}
	}
	if(s->blocked_until_ms > now_ms){
		return false; /* attempts while blocked were never checked */
	}
	s->fails++;
	if(s->fails < p->limit){
		return false;
	}
	len = p->block_ms;
	for(i = 0; i < s->level && len < p->max_block_ms; i++){
		len *= 2;
	}
	if(len > p->max_block_ms){
		len = p->max_block_ms;
	}
	if(s->level < 30){
		s->level++;
	}
	s->blocked_until_ms = now_ms + len;
	s->fails = 0;
	s->window_start_ms = now_ms;
	if(until_ms){
		*until_ms = s->blocked_until_ms;
	}
	return true;
}

void vg_throttle_state_ok(struct vg_throttle_state *s)
{
	memset(s, 0, sizeof(*s));
}

int vg_throttle_init(struct vg_throttle *t, size_t cap, uint32_t limit, int64_t window_ms,
		int64_t block_ms, int64_t max_block_ms)
{
	size_t c = 64;

	while(c < cap){
		c <<= 1;
	}
	t->slots = calloc(c, sizeof(*t->slots));
	if(t->slots == NULL){
		return -1;
	}
	t->cap = c;
	t->used = 0;
	t->policy.limit = limit;
	t->policy.window_ms = window_ms;
	t->policy.block_ms = block_ms;
	t->policy.max_block_ms = max_block_ms;
	return 0;
}

void vg_throttle_free(struct vg_throttle *t)
{
	free(t->slots);
	t->slots = NULL;
}

/* Finds the key's slot; with create, takes a free slot, else the least
 * recently used slot of the probe window that is not blocked (stale ones
 * first). A blocked entry is never taken: that is what keeps failures on
 * other keys from lifting a block. */
static struct vg_throttle_entry *lookup(struct vg_throttle *t, const char *key, int64_t now_ms, bool create)
{
	uint64_t h;
	size_t mask = t->cap - 1, i, k;
	struct vg_throttle_entry *victim = NULL;
	bool victim_stale = false;

	if(!create && t->used == 0){
		return NULL; /* the common case: nobody is failing */
	}
	h = hash_key(key);
	i = (size_t)h & mask;
	for(k = 0; k < PROBE; k++){
		struct vg_throttle_entry *e = &t->slots[(i + k) & mask];
		bool stale;
		if(e->used && e->hash == h && strncmp(e->key, key, VG_THROTTLE_KEY) == 0){
			return e;
		}
		if(!create || (victim && !victim->used)){
			continue;
		}
		if(!e->used){
			victim = e;
			continue;
		}
		if(e->st.blocked_until_ms > now_ms){
			continue; /* never forget a block */
		}
		stale = now_ms - e->last_ms > t->policy.window_ms;
		if(victim == NULL || (stale && !victim_stale) || (stale == victim_stale && e->last_ms < victim->last_ms)){
			victim = e;
			victim_stale = stale;
		}
	}
	if(victim){
		if(!victim->used){
			t->used++;
		}
		memset(victim, 0, sizeof(*victim));
		strncpy(victim->key, key, VG_THROTTLE_KEY - 1);
		victim->hash = h;
		victim->used = true;
		victim->st.window_start_ms = now_ms;
	}
	return victim;
}

bool vg_throttle_blocked(struct vg_throttle *t, const char *key, int64_t now_ms, int64_t *until_ms)
{
	struct vg_throttle_entry *e = lookup(t, key, now_ms, false);

	return e && vg_throttle_state_blocked(&e->st, now_ms, until_ms);
}

bool vg_throttle_fail(struct vg_throttle *t, const char *key, int64_t now_ms, int64_t *until_ms)
{
	struct vg_throttle_entry *e = lookup(t, key, now_ms, true);

	if(e == NULL){
		return false;
	}
	e->last_ms = now_ms;
	return vg_throttle_state_fail(&t->policy, &e->st, now_ms, until_ms);
}

void vg_throttle_ok(struct vg_throttle *t, const char *key)
{
	struct vg_throttle_entry *e = lookup(t, key, 0, false);

	if(e){
		memset(e, 0, sizeof(*e));
		t->used--;
	}
}
