/*
 * alerts: alert detection on accepted samples, O(1) per sample from the
 * device's in-memory state, and the alert events it emits (webhook to the
 * Node.js core, MQTT to wards/<ward>/alerts).
 *
 * Thread: broker thread.
 */
#ifndef VG_ALERTS_H
#define VG_ALERTS_H

#include <stdint.h>

#include "idtable.h"
#include "vg_vitals.h"

struct vg_plugin;

void vg_alerts_on_samples(struct vg_plugin *vg, struct vg_ident *e, const struct vg_sample *s, int n, int64_t now_ms);

#endif
