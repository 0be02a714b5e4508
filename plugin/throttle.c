/*
 * throttle: fixed-size failure counters (see throttle.h).
 * Thread: broker thread. Memory: one slot array, allocated at init.
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
	t->limit = limit;
	t->window_ms = window_ms;
	t->block_ms = block_ms;
	t->max_block_ms = max_block_ms;
	return 0;
}

void vg_throttle_free(struct vg_throttle *t)
{
	free(t->slots);
	t->slots = NULL;
}

/* Finds the key's slot; with create, takes a free, stale or least recently
 * used slot in the probe window. */
static struct vg_throttle_entry *lookup(struct vg_throttle *t, const char *key, int64_t now_ms, bool create)
{
	uint64_t h;
	size_t mask = t->cap - 1, i, k;
	struct vg_throttle_entry *victim = NULL;

	if(!create && t->used == 0){
		return NULL; /* the common case: nobody is failing */
	}
	h = hash_key(key);
	i = (size_t)h & mask;
	for(k = 0; k < PROBE; k++){
		struct vg_throttle_entry *e = &t->slots[(i + k) & mask];
		if(e->used && e->hash == h && strncmp(e->key, key, VG_THROTTLE_KEY) == 0){
			return e;
		}
		if(!create){
			continue;
		}
		if(!e->used){
			if(victim == NULL || victim->used){
				victim = e;
			}
		}else if(e->blocked_until_ms <= now_ms && now_ms - e->last_ms > t->window_ms){
			if(victim == NULL || (victim->used && e->last_ms < victim->last_ms)){
				victim = e; /* stale: forgettable */
			}
		}else if(victim == NULL || (victim->used && e->last_ms < victim->last_ms)){
			victim = e;
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
		victim->window_start_ms = now_ms;
	}
	return victim;
}

bool vg_throttle_blocked(struct vg_throttle *t, const char *key, int64_t now_ms, int64_t *until_ms)
{
	struct vg_throttle_entry *e = lookup(t, key, now_ms, false);

	if(e && e->blocked_until_ms > now_ms){
		if(until_ms){
			*until_ms = e->blocked_until_ms;
		}
		return true;
	}
	return false;
}

bool vg_throttle_fail(struct vg_throttle *t, const char *key, int64_t now_ms, int64_t *until_ms)
{
	struct vg_throttle_entry *e = lookup(t, key, now_ms, true);
	int64_t len;
	uint8_t i;

	if(e == NULL){
		return false;
	}
	e->last_ms = now_ms;
	if(now_ms - e->window_start_ms > t->window_ms){
		e->window_start_ms = now_ms;
		e->fails = 0;
		if(e->blocked_until_ms <= now_ms && now_ms - e->blocked_until_ms > t->window_ms){
			e->level = 0; /* a quiet window forgives earlier blocks */
		}
	}
	if(e->blocked_until_ms > now_ms){
		return false; /* attempts while blocked were never checked */
	}
	e->fails++;
	if(e->fails < t->limit){
		return false;
	}
	len = t->block_ms;
	for(i = 0; i < e->level && len < t->max_block_ms; i++){
		len *= 2;
	}
	if(len > t->max_block_ms){
		len = t->max_block_ms;
	}
	if(e->level < 30){
		e->level++;
	}
	e->blocked_until_ms = now_ms + len;
	e->fails = 0;
	e->window_start_ms = now_ms;
	if(until_ms){
		*until_ms = e->blocked_until_ms;
	}
	return true;
}

void vg_throttle_ok(struct vg_throttle *t, const char *key)
{
	struct vg_throttle_entry *e = lookup(t, key, 0, false);

	if(e){
		memset(e, 0, sizeof(*e));
		t->used--;
	}
}
