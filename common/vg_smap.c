/*
 * vg_smap: string-keyed open-addressing map (see vg_smap.h).
 * Thread: one owner. Memory: owns keys and slots.
 */
#include "vg_smap.h"
#include "vg_util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_str(const char *s)
{
	uint64_t h = vg_fnv1a(s, strlen(s));

	return h ^ (h >> 29);
}

int vg_smap_init(struct vg_smap *m, size_t cap_hint)
{
	size_t cap = 16;

	while(cap < cap_hint * 2){
		cap <<= 1;
	}
	m->slots = calloc(cap, sizeof(*m->slots));
	m->cap = m->slots ? cap : 0;
	m->count = 0;
	return m->slots ? 0 : -1;
}

void vg_smap_destroy(struct vg_smap *m, void (*free_val)(void *))
{
	size_t i;

	for(i = 0; i < m->cap; i++){
		if(m->slots[i].key){
			free(m->slots[i].key);
			if(free_val){
				free_val(m->slots[i].val);
			}
		}
	}
	free(m->slots);
	m->slots = NULL;
	m->cap = 0;
	m->count = 0;
}

static size_t find(const struct vg_smap *m, const char *key, int *found)
{
	size_t mask = m->cap - 1, i = (size_t)hash_str(key) & mask;

	while(m->slots[i].key){
		if(!strcmp(m->slots[i].key, key)){
			*found = 1;
			return i;
		}
		i = (i + 1) & mask;
	}
	*found = 0;
	return i;
}

void *vg_smap_get(const struct vg_smap *m, const char *key)
{
	int found;
	size_t i;

	if(m->cap == 0){
		return NULL;
	}
	i = find(m, key, &found);
	return found ? m->slots[i].val : NULL;
}

static int grow(struct vg_smap *m)
{
	struct vg_smap_slot *old = m->slots;
	size_t oldcap = m->cap, i, j;
	int found;

	m->slots = calloc(oldcap * 2, sizeof(*m->slots));
	if(m->slots == NULL){
		m->slots = old;
		return -1;
	}
	m->cap = oldcap * 2;
	for(i = 0; i < oldcap; i++){
		if(old[i].key){
			j = find(m, old[i].key, &found);
			m->slots[j] = old[i];
		}
	}
	free(old);
	return 0;
}

void *vg_smap_put(struct vg_smap *m, const char *key, void *val, int *err)
{
	int found;
	size_t i;
	void *prev;

	*err = 0;
	if((m->count + 1) * 2 > m->cap && grow(m) != 0){
		*err = 1;
		return NULL;
	}
	i = find(m, key, &found);
	if(found){
		prev = m->slots[i].val;
		m->slots[i].val = val;
		return prev;
	}
	m->slots[i].key = strdup(key);
	if(m->slots[i].key == NULL){
		*err = 1;
		return NULL;
	}
	m->slots[i].val = val;
	m->count++;
	return NULL;
}

void *vg_smap_del(struct vg_smap *m, const char *key)
{
	int found;
	size_t mask, i, j, k;
	void *val;

	if(m->cap == 0){
		return NULL;
	}
	mask = m->cap - 1;
	i = find(m, key, &found);
	if(!found){
		return NULL;
	}
	val = m->slots[i].val;
	free(m->slots[i].key);
	m->slots[i].key = NULL;
	m->slots[i].val = NULL;
	m->count--;
	j = i;
	for(;;){
		j = (j + 1) & mask;
		if(m->slots[j].key == NULL){
			break;
		}
		k = (size_t)hash_str(m->slots[j].key) & mask;
		if((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))){
			m->slots[i] = m->slots[j];
			m->slots[j].key = NULL;
			m->slots[j].val = NULL;
			i = j;
		}
	}
	return val;
}

void *vg_smap_get_or_add(struct vg_smap *m, const char *key, size_t size, bool *added)
{
	void *val = vg_smap_get(m, key);
	int err;

	if(added){
		*added = false;
	}
	if(val){
		return val;
	}
	val = calloc(1, size);
	if(val == NULL){
		return NULL;
	}
	vg_smap_put(m, key, val, &err);
	if(err){
		free(val);
		return NULL;
	}
	if(added){
		*added = true;
	}
	return val;
}

void *vg_smap_next(const struct vg_smap *m, size_t *pos, const char **key)
{
	for(; *pos < m->cap; (*pos)++){
		if(m->slots[*pos].key){
			*key = m->slots[*pos].key;
			return m->slots[(*pos)++].val;
		}
	}
	return NULL;
}
