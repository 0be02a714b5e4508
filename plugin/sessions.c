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
	return vg_smap_get_or_add(&s->map, id, sizeof(struct vg_session), NULL);
}

void vg_sessions_drop(struct vg_sessions *s, const char *id)
{
	free(vg_smap_del(&s->map, id));
}

struct vg_session *vg_sessions_next(const struct vg_sessions *s, size_t *pos, const char **id)
{
	return vg_smap_next(&s->map, pos, id);
}
