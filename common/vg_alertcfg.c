/*
 * vg_alertcfg: see vg_alertcfg.h. Thread: any. Memory: frees what it owns.
 */
#include "vg_alertcfg.h"

#include <stdlib.h>
#include <string.h>

static const char *const vital_names[VG_V_COUNT] = {
	[VG_V_HR] = "hr", [VG_V_SPO2] = "spo2", [VG_V_RR] = "rr", [VG_V_SBP] = "sbp",
	[VG_V_DBP] = "dbp", [VG_V_MAP] = "map", [VG_V_TEMP] = "temp",
};

void vg_alert_cfg_defaults(struct vg_alert_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->def[VG_V_HR] = (struct vg_thr){ true, true, 40, 131 };
	c->def[VG_V_SPO2] = (struct vg_thr){ true, false, 91, 0 };
	c->def[VG_V_RR] = (struct vg_thr){ true, true, 8, 25 };
	c->def[VG_V_SBP] = (struct vg_thr){ true, true, 90, 220 };
	c->def[VG_V_TEMP] = (struct vg_thr){ true, false, 35.0, 0 };
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
		if(!strcmp(vital_names[i], name)){
			return i;
		}
	}
	return -1;
}

const char *vg_vital_name(int v)
{
	return v >= 0 && v < VG_V_COUNT ? vital_names[v] : NULL;
}
