/*
 * cells: a broker as one instance of a cell, or as the hub (see cells.h
 * and docs/scale-out.md).
 *
 * A cell's instances (primary, standby) never talk to each other: each
 * writes its alert events and samples into PostgreSQL, where the writer
 * keeps one open alert per condition (alert_open) and each device's latest
 * sample with the instance that received it (vitals_seq_hwm), and each
 * reads back what it needs (bridge/cellsync.c). This file decides, on the
 * broker thread, what to do with what it reads:
 *  - the open alerts (every second): alerts.c puts those of devices not
 *    connected here into their devices' and beds' alert states, and closes
 *    the ones that disappeared; this file only remembers the last read (to
 *    see what disappeared) and when this instance itself last emitted an
 *    event about each device and bed (a read older than that is stale);
 *  - a device this instance would call silent is checked first: if its
 *    latest sample went to another instance, it moved there and is
 *    forgotten here (no silent alert); if it came here, the alert is due.
 *
 * Thread: broker thread. Memory: the maps' keys and values (small records
 * allocated here), freed by vg_cells_free.
 */
#include "cells.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "cellsync.h"
#include "devices.h"
#include "vg_completion.h"
#include "vg_plugin.h"

#define PRESENCE_RETRY_MS 5000
#define LOCAL_KEEP_MS 600000

enum presence_state { P_NONE = 0, P_ASKED, P_HERE };

struct presence {
	uint8_t st;
	int64_t basis_ms;      /* max(last seen, disconnected) when asked */
	int64_t asked_ms;      /* monotonic */
};

int vg_cells_init(struct vg_cells *c)
{
	memset(c, 0, sizeof(*c));
	if(vg_smap_init(&c->pending, 16) != 0 || vg_smap_init(&c->local, 256) != 0 || vg_smap_init(&c->seen, 256) != 0
			|| vg_smap_init(&c->presence, 256) != 0){
		return -1;
	}
	return 0;
}

void vg_cells_free(struct vg_cells *c)
{
	vg_smap_destroy(&c->pending, free);
	vg_smap_destroy(&c->local, free);
	vg_smap_destroy(&c->seen, free);
	vg_smap_destroy(&c->presence, free);
}

bool vg_cells_serving(struct vg_plugin *vg, const char **why)
{
	*why = NULL;
	if(!vg->ids.loaded){
		*why = "identities not loaded yet";
	}else if(vg->cells.draining){
		*why = "draining (spool_dir/draining exists)";
	}else if(vg->cfg.mode != VG_MODE_HUB && !vg->cells.writer_ready && vg->tick.db_up){
		/* While PostgreSQL is down nothing can be read back: serve from
		 * the journal rather than leave the cell without a broker. */
		*why = "journal not replayed, or the open alerts not read back yet";
	}
	return *why == NULL;
}

/* The draining file: a planned stop says so a while before (HAProxy moves
 * the devices to the standby). */
static void check_draining(struct vg_plugin *vg, int64_t now_ms)
{
	char path[4200];
	bool d;

	if(now_ms - vg->cells.drain_checked_ms < 1000){
		return;
	}
	vg->cells.drain_checked_ms = now_ms;
	snprintf(path, sizeof(path), "%s/draining", vg->cfg.spool_dir);
	d = access(path, F_OK) == 0;
	if(d != vg->cells.draining){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, d ? "Vitalgate: draining (%s exists): /health says this instance does not "
				"serve, HAProxy moves its clients" : "Vitalgate: no longer draining (%s is gone): serving again", path);
		vg->cells.draining = d;
	}
}

/* Forgets the local event times older than LOCAL_KEEP_MS (once a minute):
 * a mirror read is never that late. */
static void prune_local(struct vg_plugin *vg, int64_t now_ms)
{
	size_t pos = 0, n = 0, i;
	const char *key;
	int64_t *t;
	char **old;

	if(now_ms - vg->cells.pruned_ms < 60000 || vg->cells.local.count == 0){
		return;
	}
	vg->cells.pruned_ms = now_ms;
	old = calloc(vg->cells.local.count, sizeof(*old));
	if(old == NULL){
		return;
	}
	while((t = vg_smap_next(&vg->cells.local, &pos, &key)) != NULL){
		if(now_ms - *t > LOCAL_KEEP_MS && (old[n] = strdup(key)) != NULL){
			n++;
		}
	}
	for(i = 0; i < n; i++){
		free(vg_smap_del(&vg->cells.local, old[i]));
		free(old[i]);
	}
	free(old);
}

void vg_cells_tick(struct vg_plugin *vg, int64_t now_ms)
{
	check_draining(vg, now_ms);
	if(vg->cfg.cell){
		prune_local(vg, now_ms);
	}
}

void vg_cells_writer_ready(struct vg_plugin *vg)
{
	if(!vg->cells.writer_ready){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: journal replayed and the previous state read back%s",
				vg->cfg.cell ? "; serving the cell" : "");
	}
	vg->cells.writer_ready = true;
}

void vg_cells_ward_moved(struct vg_plugin *vg, const struct vg_c_ward_moved *m)
{
	struct vg_cells *c = &vg->cells;

	vg_strlcpy(c->moves[c->moves_next].ward, m->ward, sizeof(c->moves[0].ward));
	vg_strlcpy(c->moves[c->moves_next].cell, m->cell, sizeof(c->moves[0].cell));
	c->moves_next = (c->moves_next + 1) % VG_CELLS_MOVES;
	if(vg->cfg.cell == NULL){
		return;
	}
	if(!strcmp(m->cell, vg->cfg.cell) && vg->workers.cellsync){
		/* Its devices wait (vg_cells_hold) for their identities (the full
		 * snapshot that follows), then for a read of the open alerts made
		 * after those are in (vg_cells_snapshot_applied): they continue
		 * their alerts here. */
		uint64_t *gen = vg_smap_get_or_add(&c->pending, m->ward, sizeof(*gen), NULL);
		if(gen){
			*gen = 0;
		}
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: ward %s placed on this cell (%s): loading its identities and "
				"open alerts", m->ward, vg->cfg.cell);
	}else{
		free(vg_smap_del(&c->pending, m->ward));
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: ward %s placed on %s%s", m->ward,
				m->cell[0] ? "cell " : "no cell", m->cell);
	}
}

void vg_cells_snapshot_applied(struct vg_plugin *vg)
{
	size_t pos = 0;
	const char *key;
	uint64_t *gen, asked = 0;

	while(vg->workers.cellsync && (gen = vg_smap_next(&vg->cells.pending, &pos, &key)) != NULL){
		if(*gen == 0){
			if(asked == 0){
				asked = vg_cellsync_request_poll(vg->workers.cellsync);
			}
			*gen = asked;
		}
	}
}

struct vg_open_alert *vg_cells_mirror_diff(struct vg_plugin *vg, const struct vg_c_alert_state *m, size_t *nclosed)
{
	struct vg_smap fresh;
	struct vg_open_alert *closed = NULL, *o;
	size_t i, pos = 0, n = 0;
	const char *key;

	*nclosed = 0;
	if(vg_smap_init(&fresh, m->nalerts ? m->nalerts : 16) != 0){
		return NULL;
	}
	for(i = 0; i < m->nalerts; i++){
		struct vg_open_alert *copy = malloc(sizeof(*copy));
		int err = 0;
		if(copy == NULL){
			break;
		}
		*copy = m->alerts[i];
		copy->body = NULL;
		free(vg_smap_put(&fresh, copy->alert_id, copy, &err));
		if(err){
			free(copy);
		}
	}
	if(i < m->nalerts){
		/* Out of memory: keep the last read, try again next second. */
		vg_smap_destroy(&fresh, free);
		return NULL;
	}
	if(vg->cells.seen.count){
		closed = calloc(vg->cells.seen.count, sizeof(*closed));
	}
	while(closed && (o = vg_smap_next(&vg->cells.seen, &pos, &key)) != NULL){
		if(vg_smap_get(&fresh, key) == NULL){
			closed[n++] = *o;
		}
	}
	vg_smap_destroy(&vg->cells.seen, free);
	vg->cells.seen = fresh;
	if(n == 0){
		free(closed);
		return NULL;
	}
	*nclosed = n;
	return closed;
}

void vg_cells_mirror_done(struct vg_plugin *vg, const struct vg_c_alert_state *m)
{
	size_t pos = 0, n = 0, i;
	const char *key;
	uint64_t *gen;
	char done[64][VG_ID_MAX + 1];

	while(n < 64 && (gen = vg_smap_next(&vg->cells.pending, &pos, &key)) != NULL){
		if(m->base.type == VG_C_MIRROR && *gen != 0 && *gen <= m->gen){
			vg_strlcpy(done[n++], key, sizeof(done[0]));
		}
	}
	for(i = 0; i < n; i++){
		free(vg_smap_del(&vg->cells.pending, done[i]));
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "Vitalgate: ward %s: open alerts read; its devices are taken here", done[i]);
	}
}

void vg_cells_presence(struct vg_plugin *vg, const struct vg_c_presence *p)
{
	size_t i, moved = 0;

	for(i = 0; i < p->n; i++){
		struct presence *st = vg_smap_get(&vg->cells.presence, p->items[i].id);
		struct vg_device *rt;
		if(st == NULL || st->st != P_ASKED){
			continue;
		}
		if(p->items[i].here || p->items[i].received_ms <= st->basis_ms){
			/* Its latest sample came here (or what the other instance
			 * has is older than what this one saw). */
			st->st = P_HERE;
			continue;
		}
		/* It sent to the other instance of the cell after it left this
		 * one: that instance watches it now. */
		rt = vg_devices_find(&vg->devices, p->items[i].id);
		if(rt){
			rt->last_seen_ms = 0;
			rt->disconnected_ms = 0;
		}
		free(vg_smap_del(&vg->cells.presence, p->items[i].id));
		moved++;
	}
	if(moved){
		mosquitto_log_printf(MOSQ_LOG_INFO, "Vitalgate: %zu device(s) now send to another instance of the cell: not "
				"watched for silence here", moved);
	}
}

bool vg_cells_silent_ok(struct vg_plugin *vg, const char *id, struct vg_device *rt)
{
	int64_t basis = rt->last_seen_ms > rt->disconnected_ms ? rt->last_seen_ms : rt->disconnected_ms;
	int64_t mono = vg_mono_ms();
	struct presence *st;

	if(vg->workers.cellsync == NULL){
		return true;
	}
	st = vg_smap_get_or_add(&vg->cells.presence, id, sizeof(*st), NULL);
	if(st == NULL){
		return false;
	}
	if(st->basis_ms == basis){
		if(st->st == P_HERE){
			return true;
		}
		if(st->st == P_ASKED && mono - st->asked_ms < PRESENCE_RETRY_MS){
			return false;
		}
	}
	if(vg_cellsync_check_presence(vg->workers.cellsync, id)){
		st->st = P_ASKED;
		st->basis_ms = basis;
		st->asked_ms = mono;
	}
	return false;
}

const char *vg_cells_hold(struct vg_plugin *vg, const struct vg_ident *e)
{
	if(vg->cells.pending.count == 0 || e->role != VG_ROLE_DEVICE || e->ward[0] == '\0'
			|| vg_smap_get(&vg->cells.pending, e->ward) == NULL){
		return NULL;
	}
	return "its ward was just placed on this cell; its open alerts are being read (try again)";
}

void vg_cells_unknown(struct vg_plugin *vg, const char *id)
{
	if(vg->workers.cellsync && id){
		vg_cellsync_lookup(vg->workers.cellsync, id);
	}
}

const char *vg_cells_gone_reason(struct vg_plugin *vg, const struct vg_ident *e, char *buf, size_t len)
{
	size_t k;

	if(e->role == VG_ROLE_DEVICE && e->ward[0]){
		for(k = 1; k <= VG_CELLS_MOVES; k++){
			const size_t i = (vg->cells.moves_next + VG_CELLS_MOVES - k) % VG_CELLS_MOVES;
			if(!strcmp(vg->cells.moves[i].ward, e->ward)){
				if(vg->cells.moves[i].cell[0]){
					snprintf(buf, len, "ward %s moved to cell %s", e->ward, vg->cells.moves[i].cell);
				}else{
					snprintf(buf, len, "ward %s is placed on no cell", e->ward);
				}
				return buf;
			}
		}
	}
	snprintf(buf, len, "no longer served by cell %s", vg->cfg.cell ? vg->cfg.cell : "-");
	return buf;
}

/* "t/<dev>", "s/<dev>", "n/<ward>/<bed>". */
static bool local_key(char *key, size_t cap, char kind, const char *a, const char *b)
{
	char k[2] = { kind, '\0' };

	return vg_concat(key, cap, k, "/", a, b ? "/" : "", b ? b : "", (char *)NULL);
}

void vg_cells_note_event(struct vg_plugin *vg, const struct vg_rec_event *ev, int64_t now_ms)
{
	char key[2 * (VG_ID_MAX + 1) + 8];
	int64_t *t;
	bool ok;

	if(vg->cfg.cell == NULL){
		return;
	}
	if(ev->kind == VG_AK_NEWS2){
		ok = ev->ward.n && local_key(key, sizeof(key), 'n', ev->ward.p, ev->bed.p);
	}else{
		ok = ev->device.n && local_key(key, sizeof(key), ev->kind == VG_AK_SILENT ? 's' : 't', ev->device.p, NULL);
	}
	if(ok && (t = vg_smap_get_or_add(&vg->cells.local, key, sizeof(*t), NULL)) != NULL){
		*t = now_ms;
	}
}

int64_t vg_cells_local_ms(struct vg_plugin *vg, char kind, const char *a, const char *b)
{
	char key[2 * (VG_ID_MAX + 1) + 8];
	const int64_t *t;

	if(!local_key(key, sizeof(key), kind, a, b)){
		return 0;
	}
	t = vg_smap_get(&vg->cells.local, key);
	return t ? *t : 0;
}
