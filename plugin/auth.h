/*
 * auth: BASIC_AUTH, ACL_CHECK and DISCONNECT, answered from memory (see
 * auth.c): who may connect, who may publish, subscribe and read what, and
 * the live session of each identity.
 *
 * Thread: broker thread.
 */
#ifndef VG_AUTH_H
#define VG_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "throttle.h"
#include "vg_ratelimit.h"
#include "vg_util.h"

#define VG_MAX_KICKS 1024

struct vg_plugin;

struct vg_kick {
	char client_id[VG_ID_MAX + 1];
	char why[64];
};

/* auth.c's state. */
struct vg_auth {
	struct vg_throttle thr_user;    /* failures per unknown username */
	struct vg_throttle thr_addr;    /* failures per client address */
	struct vg_kick *kicks;          /* clients to disconnect on TICK */
	size_t nkicks;
	struct vg_ratelimit log;        /* refused logins: 20 log lines a second */
};

int vg_auth_init(struct vg_auth *a);
void vg_auth_free(struct vg_auth *a);

/* Callbacks (plugin.c registers them). */
int vg_auth_basic_cb(int event, void *event_data, void *userdata);
int vg_auth_acl_cb(int event, void *event_data, void *userdata);
int vg_auth_disconnect_cb(int event, void *event_data, void *userdata);

/* Queues a client for disconnection on the next TICK (never kick from
 * inside an auth callback). */
void vg_kick_later(struct vg_plugin *vg, const char *client_id, const char *why);
/* TICK: disconnects the queued clients (but the live session of their id). */
void vg_auth_apply_kicks(struct vg_plugin *vg);

/* Before an identity leaves the table: its live session stops counting. */
void vg_auth_forget_connections(struct vg_plugin *vg, const char *id);

/* After an identity changed: its login failures are forgotten. */
void vg_auth_reset_throttle(struct vg_plugin *vg, const char *id);

/* True if identity id has a live session (a client that logged in as it
 * through Vitalgate and is still connected). */
bool vg_auth_is_live(const struct vg_plugin *vg, const char *id);

#endif
