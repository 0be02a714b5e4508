/*
 * vg_idcache: the identity table saved in spool_dir/identities.cache, so that
 * a broker restarted while PostgreSQL is unreachable still authenticates
 * the devices it knew (docs/security.md explains the trade-off: a
 * revocation made while both were down takes effect when PostgreSQL is back).
 *
 * Holds secret hashes, never secrets; written 0600 by the identity sync
 * worker (tmp file, fsync, rename), read by the plugin at start.
 *
 * Thread: any (the caller owns the table it passes).
 */
#ifndef VG_IDCACHE_H
#define VG_IDCACHE_H

#include <stddef.h>

#include "vg_idtable.h"

/* Writes every entry of t to path. Returns 0 or -1 with err set. */
int vg_idcache_write(const char *path, const struct vg_idtable *t, char *err, size_t errlen);
/* Loads path into t (entries are added). Returns the number loaded, 0 if
 * the file does not exist, or -1 with err set (corrupt: nothing added). */
long vg_idcache_read(const char *path, struct vg_idtable *t, char *err, size_t errlen);

#endif
