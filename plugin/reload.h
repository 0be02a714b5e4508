/*
 * reload: SIGHUP handling (MOSQ_EVT_RELOAD); see reload.c.
 * Thread: broker thread.
 */
#ifndef VG_RELOAD_H
#define VG_RELOAD_H

struct vg_plugin;

/* At start: remembers the broker's configuration file and this plugin's path. */
void vg_reload_init(struct vg_plugin *vg);
void vg_reload_free(struct vg_plugin *vg);
int vg_reload_cb(int event, void *event_data, void *userdata);

#endif
