/*
 * vg_alert_rules: the state of one alert through its lifecycle (raised,
 * updated, resolved), shared by the broker's alert engine
 * (plugin/alerts.c), the per-device and per-bed state that hold one
 * (plugin/devices.h, plugin/beds.h).
 *
 * Thread: any. Memory: none owned.
 */
#ifndef VG_ALERT_RULES_H
#define VG_ALERT_RULES_H

#include <stdbool.h>
#include <stdint.h>

/* Per-alert lifecycle state (32 bytes). */
struct vg_alert_st {
	bool active;
	uint8_t level;          /* threshold: 1 low, 2 high; news2: band; silent: 1 */
	uint8_t calm_level;     /* the better level seen since calm_since_ms */
	uint8_t pad;
	uint16_t transitions;   /* events sent so far (event ids derive from it) */
	int64_t calm_since_ms;  /* 0: not calm */
	uint8_t id[12];         /* alert id (96 bits), rendered "al_<hex>" */
};

#endif
