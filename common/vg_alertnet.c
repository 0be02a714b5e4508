/*
 * vg_alertnet: the net transition of one alert slot over one message (see
 * vg_alertnet.h for the table it implements).
 *
 * Thread: any. Memory: none.
 */
#include "vg_alertnet.h"

#include <string.h>

#include "vg_rec.h"

void vg_alertnet_begin(struct vg_alertnet *n, bool active, uint8_t level)
{
	memset(n, 0, sizeof(*n));
	n->was_active = active;
	n->was_level = active ? level : 0;
	n->active = active;
	n->level = n->was_level;
	n->prior_end_tag = -1;
	n->set_tag = -1;
	n->end_tag = -1;
}

void vg_alertnet_raise(struct vg_alertnet *n, uint8_t level, int tag)
{
	if(n->active){
		return;
	}
	n->active = true;
	n->started = true;
	n->level = level;
	n->set_tag = tag;
	n->end_tag = -1;
	n->steps++;
}

void vg_alertnet_level(struct vg_alertnet *n, uint8_t level, int tag)
{
	if(!n->active){
		return;
	}
	n->level = level;
	n->set_tag = tag;
	n->steps++;
}

void vg_alertnet_resolve(struct vg_alertnet *n, int tag)
{
	if(!n->active){
		return;
	}
	n->active = false;
	n->end_tag = tag;
	if(n->was_active && !n->prior_ended){
		n->prior_ended = true;
		n->prior_end_tag = tag;
	}
	n->steps++;
}

static struct vg_alertnet_event ev(uint8_t type, bool prior, uint8_t level, uint8_t previous, int tag)
{
	struct vg_alertnet_event e;

	e.type = type;
	e.prior = prior;
	e.level = level;
	e.previous = previous;
	e.tag = tag;
	return e;
}

int vg_alertnet_plan(const struct vg_alertnet *n, struct vg_alertnet_event *out)
{
	int k = 0;

	if(n->steps == 0){
		return 0;
	}
	if(n->was_active && !n->prior_ended){
		/* The same alert throughout: only a changed level is news. */
		if(n->level != n->was_level){
			out[k++] = ev(VG_AT_UPDATED, false, n->level, n->was_level, n->set_tag);
		}
		return k;
	}
	if(n->was_active){
		out[k++] = ev(VG_AT_RESOLVED, true, 0, n->was_level, n->prior_end_tag);
		if(n->active){
			out[k++] = ev(VG_AT_RAISED, false, n->level, 0, n->set_tag);
		}
		/* Alerts that came and went after it ended, at the same instant,
		 * are the condition its resolve ends: coalesced. */
		return k;
	}
	if(n->active){
		out[k++] = ev(VG_AT_RAISED, false, n->level, 0, n->set_tag);
	}else if(n->started){
		/* Came and went inside the message: still said. */
		out[k++] = ev(VG_AT_RAISED, false, n->level, 0, n->set_tag);
		out[k++] = ev(VG_AT_RESOLVED, false, 0, n->level, n->end_tag);
	}
	return k;
}

uint32_t vg_alertnet_coalesced(const struct vg_alertnet *n, int planned)
{
	return planned >= 0 && (uint32_t)planned < n->steps ? n->steps - (uint32_t)planned : 0;
}
