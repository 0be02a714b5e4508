/*
 * stats: the plugin's counters published under $SYS/broker/vitalgate/...
 * (retained, every stats_interval_s), so operators and tests can read them
 * with any MQTT client allowed to read $SYS (services).
 *
 * Thread: broker thread (TICK).
 */
#ifndef VG_STATS_H
#define VG_STATS_H

#include <stdint.h>

struct vg_plugin;

void vg_stats_publish(struct vg_plugin *vg);

#endif
