/*
 * devices: per-device runtime state (see devices.h).
 *
 * The seq window: the broker knows only what it accepted since it
 * started, so a seq at or below the floor (the first message's highest)
 * may have been stored by an earlier run and is not "new" even when its
 * window bit is clear. The writer checks every such row against the table
 * (and enforces (device, seq) uniqueness by itself anyway:
 * bridge/pgwriter.c).
 *
 * Thread: broker thread. Memory: one allocation per device that sent data,
 * was rejected or disconnected (and its key in the map), plus its alert
 * block; freed when the identity is deleted or at cleanup.
 */
#include "devices.h"

#include <stdlib.h>

#include "vg_ident.h"
#include "vg_vitals.h"

#define SEQ_WINDOW 64

static void free_device(void *p)
{
	struct vg_device *dev = p;

	if(dev){
		free(dev->alerts);
		free(dev);
	}
}

int vg_devices_init(struct vg_devices *d, size_t cap_hint)
{
	return vg_smap_init(&d->map, cap_hint);
}

void vg_devices_free(struct vg_devices *d)
{
	vg_smap_destroy(&d->map, free_device);
}

struct vg_device *vg_devices_find(const struct vg_devices *d, const char *id)
{
	return vg_smap_get(&d->map, id);
}

struct vg_device *vg_devices_get(struct vg_devices *d, const char *id)
{
	return vg_smap_get_or_add(&d->map, id, sizeof(struct vg_device), NULL);
}

void vg_devices_drop(struct vg_devices *d, const char *id)
{
	free_device(vg_smap_del(&d->map, id));
}

struct vg_device *vg_devices_next(const struct vg_devices *d, size_t *pos, const char **id)
{
	return vg_smap_next(&d->map, pos, id);
}

void vg_devices_on_connect(struct vg_devices *d, const struct vg_ident *e)
{
	struct vg_device *dev = vg_devices_find(d, e->id);

	if(dev){
		dev->disconnected_ms = 0;
	}
}

void vg_devices_on_disconnect(struct vg_devices *d, const struct vg_ident *e, int64_t now_ms)
{
	struct vg_device *dev;

	if(e->role != VG_ROLE_DEVICE || e->ward[0] == '\0'){
		return;
	}
	dev = vg_devices_get(d, e->id);
	if(dev){
		dev->disconnected_ms = now_ms;
	}
}

enum vg_seq_class vg_device_seq_classify(const struct vg_device *dev, uint64_t seq)
{
	uint64_t diff;

	if(!dev->seq_known){
		return VG_SEQ_UNPROVEN;
	}
	if(seq > dev->seq_hwm){
		return VG_SEQ_NEW;
	}
	diff = dev->seq_hwm - seq;
	if(diff < SEQ_WINDOW && ((dev->seq_window >> diff) & 1u)){
		return VG_SEQ_DUP;
	}
	if(diff >= SEQ_WINDOW || seq <= dev->seq_floor){
		return VG_SEQ_UNPROVEN;
	}
	return VG_SEQ_NEW;
}

static void seq_mark(struct vg_device *dev, uint64_t seq)
{
	uint64_t shift, diff;

	if(!dev->seq_known){
		dev->seq_known = true;
		dev->seq_hwm = seq;
		dev->seq_window = 1;
		return;
	}
	if(seq > dev->seq_hwm){
		shift = seq - dev->seq_hwm;
		dev->seq_window = shift >= SEQ_WINDOW ? 1 : (dev->seq_window << shift) | 1u;
		dev->seq_hwm = seq;
		return;
	}
	diff = dev->seq_hwm - seq;
	if(diff < SEQ_WINDOW){
		dev->seq_window |= (uint64_t)1 << diff;
	}
}

void vg_device_seq_accept(struct vg_device *dev, const struct vg_sample *s, int n)
{
	bool first = !dev->seq_known;
	int i;

	for(i = 0; i < n; i++){
		seq_mark(dev, s[i].val[VG_F_SEQ].u);
	}
	if(first && dev->seq_known){
		dev->seq_floor = dev->seq_hwm;
	}
}
