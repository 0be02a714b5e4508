/*
 * cmd_storage: `vitalgate-admin storage`: per table, the bytes it takes on
 * disk (every partition, its indexes and TOAST), its partitions, its
 * estimated rows and the oldest row it keeps (vitalgate_storage_report(),
 * migration 008). Retention and rollups themselves run in the brokers
 * (bridge/storage.c, docs/operations.md#storage-retention-and-rollups).
 *
 * Thread: single-threaded program. Memory: the result is freed before
 * returning.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "vg_util.h"

/* "12.3 GiB" */
static void human(const char *bytes, char *out, size_t cap)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	int64_t v = 0;
	double d;
	int u = 0;

	vg_parse_i64(bytes, 0, INT64_MAX, &v);
	d = (double)v;
	while(d >= 1024 && u < 5){
		d /= 1024;
		u++;
	}
	snprintf(out, cap, u ? "%.1f %s" : "%.0f %s", d, unit[u]);
}

int vg_admin_storage_validate(const struct vg_admin_args *a)
{
	if(a->npos > 2 || (a->npos == 2 && strcmp(a->pos[1], "report") != 0)){
		return vg_admin_fail_usage("storage takes no arguments (or: storage report)");
	}
	if(a->ward || a->bed || a->wards){
		return vg_admin_fail_usage("storage takes no --ward/--bed/--wards");
	}
	return 0;
}

int vg_admin_storage_run(PGconn *c, const struct vg_admin_args *a)
{
	PGresult *r;
	char size[32];
	int i;

	(void)a;
	r = vg_admin_run(c, "SELECT name, partitions, bytes, rows_estimate, "
			"COALESCE(to_char(oldest AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '-'), "
			"(SELECT until FROM vitalgate_rollup_state WHERE name = 'rolled') "
			"FROM vitalgate_storage_report()", 0, NULL, PGRES_TUPLES_OK);
	if(r == NULL){
		return 1;
	}
	printf("%-20s %10s %12s %14s %s\n", "TABLE", "PARTITIONS", "SIZE", "ROWS (EST.)", "OLDEST ROW KEPT");
	for(i = 0; i < PQntuples(r); i++){
		human(PQgetvalue(r, i, 2), size, sizeof(size));
		printf("%-20s %10s %12s %14s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), size, PQgetvalue(r, i, 3),
				PQgetvalue(r, i, 4));
	}
	if(PQntuples(r) > 0){
		printf("rollups complete up to %s\n", PQgetisnull(r, 0, 5) ? "- (not started)" : PQgetvalue(r, 0, 5));
	}
	PQclear(r);
	return 0;
}
