/*
 * vg_idtable: open-addressing hash table of identities (see vg_idtable.h).
 * Thread: one owner per table. Memory: owns its entries.
 */
#include "vg_idtable.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_id(const char *s, size_t n)
{
	uint64_t h = vg_fnv1a(s, n);

	return h ^ (h >> 29);
}

int vg_idtable_init(struct vg_idtable *t, size_t cap_hint)
{
	size_t cap = 64;

	while(cap < cap_hint * 2){
		cap <<= 1;
	}
	t->slots = calloc(cap, sizeof(*t->slots));
	if(t->slots == NULL){
		return -1;
	}
	t->cap = cap;
	t->count = 0;
	return 0;
}

void vg_idtable_destroy(struct vg_idtable *t)
{
	size_t i;

	if(t->slots == NULL){
		return;
	}
	for(i = 0; i < t->cap; i++){
		vg_ident_free(t->slots[i]);
	}
	free(t->slots);
	t->slots = NULL;
	t->cap = 0;
	t->count = 0;
}

static size_t slot_of(const struct vg_idtable *t, const char *id, size_t n, bool *found)
{
	size_t mask = t->cap - 1;
	size_t i = (size_t)hash_id(id, n) & mask;

	for(;;){
		const struct vg_ident *e = t->slots[i];
		if(e == NULL){
			*found = false;
			return i;
		}
		if(strncmp(e->id, id, n) == 0 && e->id[n] == '\0'){
			*found = true;
			return i;
		}
		i = (i + 1) & mask;
	}
}

struct vg_ident *vg_idtable_find_n(const struct vg_idtable *t, const char *id, size_t n)
{
	bool found;
	size_t i;

	if(t->cap == 0 || n == 0 || n > VG_ID_MAX){
		return NULL;
	}
	i = slot_of(t, id, n, &found);
	return found ? t->slots[i] : NULL;
}

struct vg_ident *vg_idtable_find(const struct vg_idtable *t, const char *id)
{
	if(id == NULL){
		return NULL;
	}
	return vg_idtable_find_n(t, id, strnlen(id, VG_ID_MAX + 1));
}

static int grow(struct vg_idtable *t)
{
	struct vg_ident **old = t->slots;
	size_t oldcap = t->cap, i, j;
	bool found;

	t->slots = calloc(oldcap * 2, sizeof(*t->slots));
	if(t->slots == NULL){
		t->slots = old;
		return -1;
	}
	t->cap = oldcap * 2;
	for(i = 0; i < oldcap; i++){
		if(old[i]){
			j = slot_of(t, old[i]->id, strlen(old[i]->id), &found);
			t->slots[j] = old[i];
		}
	}
	free(old);
	return 0;
}

int vg_idtable_put(struct vg_idtable *t, struct vg_ident *e)
{
	bool found;
	size_t i, n = strlen(e->id);

	if((t->count + 1) * 2 > t->cap && grow(t) != 0){
		return -1;
	}
	i = slot_of(t, e->id, n, &found);
	if(found){
		vg_ident_free(t->slots[i]);
	}else{
		t->count++;
	}
	t->slots[i] = e;
	return 0;
}

bool vg_idtable_remove(struct vg_idtable *t, const char *id)
{
	bool found;
	size_t mask, i, j, k;

	if(t->cap == 0){
		return false;
	}
	mask = t->cap - 1;
	i = slot_of(t, id, strnlen(id, VG_ID_MAX + 1), &found);
	if(!found){
		return false;
	}
	vg_ident_free(t->slots[i]);
	t->slots[i] = NULL;
	t->count--;
	/* Backward-shift: pull later entries of the probe run into the gap. */
	j = i;
	for(;;){
		j = (j + 1) & mask;
		if(t->slots[j] == NULL){
			break;
		}
		k = (size_t)hash_id(t->slots[j]->id, strlen(t->slots[j]->id)) & mask;
		if((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))){
			t->slots[i] = t->slots[j];
			t->slots[j] = NULL;
			i = j;
		}
	}
	return true;
}
