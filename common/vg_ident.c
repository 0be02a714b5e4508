/*
 * vg_ident: the identity record (see vg_ident.h).
 * Thread: any. Memory: allocates and frees records.
 */
#include "vg_ident.h"

#include <stdlib.h>
#include <string.h>

struct vg_ident *vg_ident_new(uint16_t nwards)
{
	return calloc(1, sizeof(struct vg_ident) + (size_t)nwards * (VG_ID_MAX + 1));
}

struct vg_ident *vg_ident_clone(const struct vg_ident *e)
{
	size_t sz = sizeof(struct vg_ident) + (size_t)e->nwards * (VG_ID_MAX + 1);
	struct vg_ident *c = malloc(sz);

	if(c){
		memcpy(c, e, sz);
	}
	return c;
}

void vg_ident_free(struct vg_ident *e)
{
	free(e);
}

bool vg_ident_has_ward(const struct vg_ident *e, const char *w, size_t n)
{
	uint16_t i;

	for(i = 0; i < e->nwards; i++){
		if(strncmp(e->wards[i], w, n) == 0 && e->wards[i][n] == '\0'){
			return true;
		}
	}
	return false;
}

const char *vg_role_name(int role)
{
	switch(role){
		case VG_ROLE_DEVICE: return "device";
		case VG_ROLE_STATION: return "station";
		case VG_ROLE_SERVICE: return "service";
		case VG_ROLE_CELL: return "cell";
	}
	return "unknown";
}
