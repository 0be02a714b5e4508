/*
 * vg_alertcfg: see vg_alertcfg.h. Thread: any. Memory: frees what it owns.
 */
#include "vg_alertcfg.h"

#include <stdlib.h>
#include <string.h>

void vg_alert_cfg_defaults(struct vg_alert_cfg *c)
{
	int v;

	memset(c, 0, sizeof(*c));
	for(v = 0; v < VG_V_COUNT; v++){
		c->def[v] = (struct vg_thr){ vg_vitals[v].low_on, vg_vitals[v].high_on, vg_vitals[v].low, vg_vitals[v].high };
	}
}

void vg_alert_cfg_free(struct vg_alert_cfg *c)
{
	if(c){
		free(c->wards);
		free(c->scale2);
		free(c);
	}
}

int vg_vital_index(const char *name)
{
	int i;

	for(i = 0; i < VG_V_COUNT; i++){
		if(!strcmp(vg_fields[vg_vitals[i].field].key, name)){
			return i;
		}
	}
	return -1;
}

const char *vg_vital_name(int v)
{
	return v >= 0 && v < VG_V_COUNT ? vg_fields[vg_vitals[v].field].key : NULL;
}
