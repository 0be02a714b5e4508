/*
 * sessions: per-identity runtime state (see sessions.h).
 *
 * Thread: broker thread. Memory: one allocation per identity that ever
 * logged in or failed to (and its key in the map), freed when the identity
 * is deleted or at cleanup.
 */
#include "sessions.h"

#include <stdlib.h>

static void free_session(void *p)
{
	free(p);
}

int vg_sessions_init(struct vg_sessions *s, size_t cap_hint)
{
	return vg_smap_init(&s->map, cap_hint);
}

void vg_sessions_free(struct vg_sessions *s)
{
	vg_smap_destroy(&s->map, free_session);
}

struct vg_session *vg_sessions_find(const struct vg_sessions *s, const char *id)
{
	return vg_smap_get(&s->map, id);
}

struct vg_session *vg_sessions_get(struct vg_sessions *s, const char *id)
{
	struct vg_session *ses = vg_smap_get(&s->map, id);
	int err;

	if(ses){
		return ses;
	}
	ses = calloc(1, sizeof(*ses));
	if(ses == NULL){
		return NULL;
	}
	vg_smap_put(&s->map, id, ses, &err);
	if(err){
		free(ses);
		return NULL;
	}
	return ses;
}

void vg_sessions_drop(struct vg_sessions *s, const char *id)
{
	free(vg_smap_del(&s->map, id));
}

struct vg_session *vg_sessions_next(const struct vg_sessions *s, size_t *pos, const char **id)
{
	for(; *pos < s->map.cap; (*pos)++){
		if(s->map.slots[*pos].key){
			*id = s->map.slots[*pos].key;
			return s->map.slots[(*pos)++].val;
		}
	}
	return NULL;
}
