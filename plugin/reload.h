/*
 * reload: SIGHUP handling (MOSQ_EVT_RELOAD); see reload.c.
 * Thread: broker thread.
 */
#ifndef VG_RELOAD_H
#define VG_RELOAD_H

#include <stddef.h>

struct vg_plugin;

/* reload.c's state. */
struct vg_reload {
	char *conf_path;                /* the broker's -c file */
	char *so_path;                  /* this plugin's file */
};

/* At start: remembers the broker's configuration file and this plugin's path. */
void vg_reload_init(struct vg_plugin *vg);
void vg_reload_free(struct vg_plugin *vg);
/* At start: refuses a listener configuration Vitalgate cannot defend
 * (vg_config_check_listeners). Returns 0, or -1 with a message in err. */
int vg_reload_check_listeners(struct vg_plugin *vg, char *err, size_t errlen);
int vg_reload_cb(int event, void *event_data, void *userdata);

#endif
