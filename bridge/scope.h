/*
 * scope: which identities and wards a broker serves, as the workers that
 * read PostgreSQL for it need to know (docs/scale-out.md):
 *   all   a broker without plugin_opt_cell: every ward, every identity but
 *         the cells' bridge identities;
 *   cell  plugin_opt_cell NAME: the devices of the wards placed on NAME
 *         (ward_cells), the stations bound to one of them, the services;
 *         alert state, NEWS2 inputs and pending events of those wards;
 *   hub   plugin_opt_mode hub: stations, services and cell identities; no
 *         devices, no alert state.
 *
 * Thread: any (a value copied into each worker at start).
 */
#ifndef VG_SCOPE_H
#define VG_SCOPE_H

#include "vg_util.h"

enum vg_scope_kind {
	VG_SCOPE_ALL = 0,
	VG_SCOPE_CELL,
	VG_SCOPE_HUB,
};

struct vg_scope {
	enum vg_scope_kind kind;
	char cell[VG_ID_MAX + 1];   /* VG_SCOPE_CELL: the cell's name */
};

#endif
