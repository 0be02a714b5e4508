/*
 * identities: the broker's identity table, kept equal to PostgreSQL by
 * applying the identity sync worker's completions on TICK (identities.c).
 *
 * Thread: broker thread.
 */
#ifndef VG_IDENTITIES_H
#define VG_IDENTITIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vg_idtable.h"

struct vg_plugin;
struct vg_c_idents;

struct vg_identities {
	struct vg_idtable table;        /* what auth and ACL checks answer from */
	bool loaded;                    /* identities known (cache or database) */
	bool synced;                    /* a database snapshot applied this run */
	uint32_t gen;                   /* snapshot generation */
};

int vg_identities_init(struct vg_identities *ids);
void vg_identities_free(struct vg_identities *ids);
/* At start: the identities saved by the last run (spool_dir/identities.cache),
 * so the broker authenticates before PostgreSQL answers. */
void vg_identities_load_cache(struct vg_identities *ids, const char *path);

/* TICK: applies a snapshot or a delta (takes the records it keeps; the
 * caller frees the completion). */
void vg_identities_apply(struct vg_plugin *vg, struct vg_c_idents *c);

#endif
