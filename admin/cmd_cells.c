/*
 * cmd_cells: vitalgate-admin's cell commands (docs/scale-out.md):
 *
 *   ward place <ward> --cell <cell>   where a ward is served (brokers with
 *                                     plugin_opt_cell reload at once: the
 *                                     losing cell disconnects the ward's
 *                                     devices, the gaining one takes them)
 *   ward unplace <ward>               served by no cell
 *   cells list                        cells, their wards, devices, stations
 *   cells haproxy-map [--hub <name>]  "<client id> <cell>" lines for HAProxy
 *
 * (`cell add <id> --cell <cell>`, the identity a cell's bridge logs in to
 * the hub with, is an identity command: vitalgate-admin.c.)
 *
 * Thread: single-threaded program. Memory: results cleared before return.
 */
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "vg_util.h"

bool vg_admin_cells_is_command(const char *cmd)
{
	return !strcmp(cmd, "ward") || !strcmp(cmd, "cells");
}

int vg_admin_cells_validate(const struct vg_admin_args *a)
{
	const char *cmd = a->pos[0];
	const char *sub = a->npos > 1 ? a->pos[1] : NULL;
	int rc;

	if(a->ward || a->bed || a->wards || a->identity || a->limit){
		return vg_admin_fail_usage("%s takes no --ward, --bed, --wards, --identity or --limit", cmd);
	}
	if(!strcmp(cmd, "ward")){
		if(sub == NULL || a->npos != 3 || (strcmp(sub, "place") && strcmp(sub, "unplace"))){
			return vg_admin_fail_usage("ward needs place <ward> --cell <cell>, or unplace <ward>");
		}
		if((rc = vg_admin_check_id("ward", a->pos[2])) != 0){
			return rc;
		}
		if(a->hub){
			return vg_admin_fail_usage("--hub is for cells haproxy-map");
		}
		if(!strcmp(sub, "place")){
			if(a->cell == NULL){
				return vg_admin_fail_usage("ward place needs --cell <cell>");
			}
			return vg_admin_check_id("--cell", a->cell);
		}
		return a->cell ? vg_admin_fail_usage("ward unplace takes no --cell") : 0;
	}
	if(sub == NULL || a->npos != 2 || (strcmp(sub, "list") && strcmp(sub, "haproxy-map"))){
		return vg_admin_fail_usage("cells needs list or haproxy-map");
	}
	if(a->cell){
		return vg_admin_fail_usage("cells %s takes no --cell", sub);
	}
	if(a->hub && strcmp(sub, "haproxy-map")){
		return vg_admin_fail_usage("--hub is for cells haproxy-map");
	}
	return a->hub ? vg_admin_check_id("--hub", a->hub) : 0;
}

static int ward_place(PGconn *c, const char *ward, const char *cell)
{
	const char *p[2] = { ward, cell };
	PGresult *r;
	char was[VG_ID_MAX + 1] = "", detail[160];

	if(!vg_admin_exec(c, "BEGIN")){
		return 1;
	}
	r = vg_admin_run(c, "SELECT cell FROM ward_cells WHERE ward = $1 FOR UPDATE", 1, p, PGRES_TUPLES_OK);
	if(r == NULL){
		vg_admin_rollback(c);
		return 1;
	}
	if(PQntuples(r) == 1){
		vg_strlcpy(was, PQgetvalue(r, 0, 0), sizeof(was));
	}
	PQclear(r);
	if(cell){
		r = vg_admin_run(c, "INSERT INTO ward_cells (ward, cell) VALUES ($1, $2) ON CONFLICT (ward) DO UPDATE "
				"SET cell = EXCLUDED.cell, placed_at = now()", 2, p, PGRES_COMMAND_OK);
		snprintf(detail, sizeof(detail), "ward=%s cell=%s%s%s", ward, cell, was[0] ? " was=" : "", was);
	}else{
		r = vg_admin_run(c, "DELETE FROM ward_cells WHERE ward = $1", 1, p, PGRES_COMMAND_OK);
		snprintf(detail, sizeof(detail), "ward=%s%s%s", ward, was[0] ? " was=" : "", was);
	}
	if(r == NULL){
		vg_admin_rollback(c);
		return 1;
	}
	PQclear(r);
	if(!vg_admin_audit(c, cell ? "ward.place" : "ward.unplace", NULL, detail) || !vg_admin_exec(c, "COMMIT")){
		vg_admin_rollback(c);
		return 1;
	}
	if(cell){
		vg_admin_note("ward %s placed on cell %s%s%s%s; now push HAProxy's map (vitalgate-admin cells haproxy-map, "
				"docs/scale-out.md)", ward, cell, was[0] ? " (was on " : "", was, was[0] ? ")" : "");
	}else{
		vg_admin_note("ward %s is served by no cell%s%s%s", ward, was[0] ? " (was on " : "", was, was[0] ? ")" : "");
	}
	return 0;
}

static int cells_list(PGconn *c)
{
	PGresult *r = vg_admin_run(c,
			"SELECT w.cell, count(*), "
			"(SELECT count(*) FROM bed_assignments b JOIN ward_cells x ON x.ward = b.ward WHERE x.cell = w.cell), "
			"(SELECT count(DISTINCT s.station_id) FROM station_wards s JOIN ward_cells x ON x.ward = s.ward WHERE x.cell = w.cell), "
			"(SELECT count(*) FROM cell_identities ci WHERE ci.cell = w.cell), "
			"string_agg(w.ward, ',' ORDER BY w.ward) FROM ward_cells w GROUP BY w.cell ORDER BY w.cell",
			0, NULL, PGRES_TUPLES_OK);
	int i;

	if(r == NULL){
		return 1;
	}
	printf("%-20s %6s %8s %9s %8s  %s\n", "CELL", "WARDS", "DEVICES", "STATIONS", "BRIDGES", "WARD LIST");
	for(i = 0; i < PQntuples(r); i++){
		printf("%-20s %6s %8s %9s %8s  %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
				PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), PQgetvalue(r, i, 5));
	}
	PQclear(r);
	r = vg_admin_run(c, "SELECT (SELECT count(*) FROM bed_assignments b WHERE NOT EXISTS (SELECT 1 FROM ward_cells w "
			"WHERE w.ward = b.ward)), (SELECT count(*) FROM identities i WHERE i.role = 'device' AND NOT EXISTS "
			"(SELECT 1 FROM bed_assignments b WHERE b.device_id = i.id))", 0, NULL, PGRES_TUPLES_OK);
	if(r == NULL){
		return 1;
	}
	vg_admin_note("%s assigned device(s) in wards placed on no cell, %s device(s) with no ward: no cell serves them",
			PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
	PQclear(r);
	return 0;
}

/* The map HAProxy routes by (tools/haproxy-cells.mjs push): a device goes
 * to the cell of its ward; a station to the cell of its wards, or to the
 * hub when they are on several cells; services and the cells' bridge
 * identities to the hub. Devices without a ward, wards placed on no cell
 * and stations with no placed ward are left out (HAProxy refuses them). */
static int cells_map(PGconn *c, const char *hub)
{
	const char *p[1] = { hub ? hub : "hub" };
	PGresult *r = vg_admin_run(c,
			"SELECT id, cell FROM ("
			"SELECT b.device_id AS id, w.cell FROM bed_assignments b JOIN ward_cells w ON w.ward = b.ward "
			"UNION ALL "
			"SELECT s.station_id, CASE WHEN count(DISTINCT w.cell) = 1 THEN min(w.cell) ELSE $1 END "
			"FROM station_wards s JOIN ward_cells w ON w.ward = s.ward GROUP BY s.station_id "
			"UNION ALL "
			"SELECT i.id, $1 FROM identities i WHERE i.role IN ('service', 'cell')"
			") m ORDER BY id", 1, p, PGRES_TUPLES_OK);
	int i;

	if(r == NULL){
		return 1;
	}
	printf("# client id -> cell, for HAProxy (vitalgate-admin cells haproxy-map; docs/scale-out.md)\n");
	for(i = 0; i < PQntuples(r); i++){
		printf("%s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
	}
	fflush(stdout);
	vg_admin_note("%d client id(s) mapped", PQntuples(r));
	PQclear(r);
	return 0;
}

int vg_admin_cells_run(PGconn *c, const struct vg_admin_args *a)
{
	const char *cmd = a->pos[0], *sub = a->pos[1];

	if(!strcmp(cmd, "ward")){
		return ward_place(c, a->pos[2], !strcmp(sub, "place") ? a->cell : NULL);
	}
	return !strcmp(sub, "list") ? cells_list(c) : cells_map(c, a->hub);
}
