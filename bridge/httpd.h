/*
 * httpd: the HTTP endpoint serving /metrics (Prometheus) and /health, from
 * a server thread of its own; see httpd.c. The documents themselves are
 * rendered on the broker thread (TICK) by the callback given to
 * vg_httpd_tick, so this thread never reads the broker's figures.
 *
 * Thread: start/stop/tick on the broker thread.
 */
#ifndef VG_HTTPD_H
#define VG_HTTPD_H

#include <stddef.h>

#include "vg_sbuf.h"

struct vg_httpd;

/* The documents served. */
enum vg_httpd_doc { VG_HTTPD_METRICS = 0, VG_HTTPD_HEALTH = 1 };

/* Broker thread: appends document doc to b and returns its HTTP status. */
typedef int (*vg_httpd_render_fn)(void *ctx, int doc, struct vg_sbuf *b);

/* Binds addr:port and starts the server thread. Returns 0, or -1 with a
 * message naming the option in err. */
int vg_httpd_start(struct vg_httpd **out, const char *addr, int port, char *err, size_t errlen);
/* TICK: renders, with render(ctx, ...), the documents a request is
 * waiting for (or that are kept warm). */
void vg_httpd_tick(struct vg_httpd *m, vg_httpd_render_fn render, void *ctx);
void vg_httpd_stop(struct vg_httpd *m);

#endif
