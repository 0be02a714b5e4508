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
	vg_alarm_policy_defaults(&c->pol);
}

const struct vg_alarm_policy *vg_alert_cfg_policy(const struct vg_alert_cfg *c, const char *ward)
{
	size_t i;

	for(i = 0; ward && ward[0] && i < c->nwards; i++){
		if(!strcmp(c->wards[i].ward, ward)){
			return &c->wards[i].pol;
		}
	}
	return &c->pol;
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

void vg_alert_policy_apply(struct vg_alarm_policy *pol, const char *alert, int prio)
{
	int v;

	if(prio <= 0){
		return;
	}
	if(!strcmp(alert, "threshold")){
		for(v = 0; v < VG_V_COUNT; v++){
			pol->thr[v] = (uint8_t)prio;
		}
	}else if(!strncmp(alert, "threshold:", 10) && (v = vg_vital_index(alert + 10)) >= 0){
		pol->thr[v] = (uint8_t)prio;
	}else if(!strcmp(alert, "news2:medium")){
		pol->news2_medium = (uint8_t)prio;
	}else if(!strcmp(alert, "news2:high")){
		pol->news2_high = (uint8_t)prio;
	}else if(!strcmp(alert, "silent")){
		pol->silent = (uint8_t)prio;
	}
}
