/*
 * vitalgate-admin: provisions identities and applies the schema.
 *
 *   vitalgate-admin [--db CONNINFO] <command> ...   (see usage())
 *
 * Connection: --db, else $VITALGATE_DB, else libpq's PG* variables.
 * Output: a created or rotated secret is printed alone on stdout (so
 * SECRET=$(vitalgate-admin device add ...) works); everything else goes to
 * stderr, except `list`, whose listing is its output. Exit status: 0 success,
 * 2 usage error, 1 anything else, always with a one-line message on stderr.
 * Changes reach running brokers through NOTIFY (triggers in the schema).
 *
 * Thread: single-threaded program. Memory: freed before exit.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "admin.h"
#include "vg_migrations.h"
#include "vg_pg.h"
#include "vg_secret.h"
#include "vg_util.h"

static void usage(void)
{
	fprintf(stderr,
		"usage: vitalgate-admin [--db CONNINFO] <command>\n"
		"  migrate\n"
		"  device add <id> --ward <ward> --bed <bed>   prints the secret once\n"
		"  device import <file|->                      lines \"<id> [<ward> <bed>]\"; prints \"<id> <secret>\" lines\n"
		"  device assign <id> --ward <ward> --bed <bed>\n"
		"  device unassign <id>\n"
		"  device rotate <id>                          prints the new secret\n"
		"  device revoke <id>\n"
		"  station add <id> --wards <w1,w2>            prints the secret\n"
		"  service add <id>                            prints the secret\n"
		"  cell add <id> --cell <cell>                 the identity a cell's bridge logs in to the hub with; prints the secret\n"
		"  station|service|cell rotate <id>            prints the new secret\n"
		"  station|service|cell revoke <id>\n"
		"  list\n"
		"  audit verify                                checks the audit_log hash chain\n"
		"  audit list [--identity <id>] [--limit <n>]\n"
		"  threshold list [--ward <ward>]              effective alert thresholds\n"
		"  threshold set <vital> [--ward <ward>] [--low <n>|off] [--high <n>|off]\n"
		"  threshold reset <vital>|all [--ward <ward>] back to the default (or built-in) bands\n"
		"  bed scale <1|2> --ward <ward> --bed <bed>   NEWS2 SpO2 scale of a bed\n"
		"  alerts priority list [--ward <ward>]        the priority of each kind of alert (docs/alerts.md)\n"
		"  alerts priority set <alert> high|medium|low [--ward <ward>]\n"
		"                                              alert: threshold, threshold:<vital>, news2:medium, news2:high, silent\n"
		"  alerts priority reset <alert>|all [--ward <ward>]\n"
		"  alerts escalation list [--ward <ward>]      escalation interval and levels of each priority\n"
		"  alerts escalation set high|medium|low --after <s>|never [--max-level <n>] [--ward <ward>]\n"
		"  alerts report --ward <ward> --since <T> [--json]\n"
		"                                              alarm load: raised, acknowledged, escalated, ended before ack, time to ack\n"
		"  webhook list [--status pending|delivered|dead] [--limit <n>]\n"
		"  webhook redrive <event_id>|dead             puts events back to pending; brokers deliver them\n"
		"  webhook enable                              resumes delivery after the endpoint answered 410\n"
		"  cert revoke --cert <file>                   revokes a client certificate (by its issuer and serial)\n"
		"  cert revoke --serial <hex> --ca-cert <file> the same, by serial, under that CA\n"
		"  cert crl --ca-cert <file> --ca-key <file> [--days <n>] [--out <file>]\n"
		"                                              signs the CA's CRL (default 30 days); brokers apply it\n"
		"  cert list                                   revoked certificates and stored CRLs\n"
		"  export fhir --since <T> [--until <T>] [--ward <ward> | --patient <id>] [--news2-max-age <s>] [--out <file>]\n"
		"                                              FHIR R4 Observations as NDJSON (T: RFC 3339, or 24h, 30m, 7d back)\n"
		"  storage                                     bytes and oldest row kept per table; rollup progress\n"
		"  ward place <ward> --cell <cell>             the cell that serves the ward (docs/scale-out.md)\n"
		"  ward unplace <ward>                         served by no cell\n"
		"  cells list                                  cells, their wards, devices and stations\n"
		"  cells haproxy-map [--hub <name>]            \"<client id> <cell>\" lines for HAProxy's map\n"
		"Connection: --db, else $VITALGATE_DB, else libpq's PG* variables.\n");
}

static int parse_args(int argc, char **argv, struct vg_admin_args *a)
{
	int i;

	memset(a, 0, sizeof(*a));
	for(i = 1; i < argc; i++){
		const char *s = argv[i];
		const char **slot = NULL;

		if(!strcmp(s, "--db")){
			slot = &a->db;
		}else if(!strcmp(s, "--ward")){
			slot = &a->ward;
		}else if(!strcmp(s, "--bed")){
			slot = &a->bed;
		}else if(!strcmp(s, "--wards")){
			slot = &a->wards;
		}else if(!strcmp(s, "--identity")){
			slot = &a->identity;
		}else if(!strcmp(s, "--limit")){
			slot = &a->limit;
		}else if(!strcmp(s, "--low")){
			slot = &a->low;
		}else if(!strcmp(s, "--high")){
			slot = &a->high;
		}else if(!strcmp(s, "--status")){
			slot = &a->status;
		}else if(!strcmp(s, "--cert")){
			slot = &a->cert;
		}else if(!strcmp(s, "--serial")){
			slot = &a->serial;
		}else if(!strcmp(s, "--ca-cert")){
			slot = &a->ca_cert;
		}else if(!strcmp(s, "--ca-key")){
			slot = &a->ca_key;
		}else if(!strcmp(s, "--days")){
			slot = &a->days;
		}else if(!strcmp(s, "--out")){
			slot = &a->out;
		}else if(!strcmp(s, "--since")){
			slot = &a->since;
		}else if(!strcmp(s, "--until")){
			slot = &a->until;
		}else if(!strcmp(s, "--patient")){
			slot = &a->patient;
		}else if(!strcmp(s, "--news2-max-age")){
			slot = &a->news2_max_age;
		}else if(!strcmp(s, "--cell")){
			slot = &a->cell;
		}else if(!strcmp(s, "--hub")){
			slot = &a->hub;
		}else if(!strcmp(s, "--after")){
			slot = &a->after;
		}else if(!strcmp(s, "--max-level")){
			slot = &a->max_level;
		}else if(!strcmp(s, "--json")){
			a->json = true;
			continue;
		}else if(!strcmp(s, "--help") || !strcmp(s, "-h")){
			usage();
			exit(0);
		}else if(s[0] == '-' && s[1] == '-'){
			return vg_admin_fail_usage("unknown option %s", s);
		}else{
			if(a->npos == (int)(sizeof(a->pos) / sizeof(a->pos[0]))){
				return vg_admin_fail_usage("too many arguments");
			}
			a->pos[a->npos++] = s;
			continue;
		}
		if(i + 1 >= argc){
			return vg_admin_fail_usage("%s needs a value", s);
		}
		if(*slot){
			return vg_admin_fail_usage("%s given twice", s);
		}
		*slot = argv[++i];
	}
	return 0;
}

static PGconn *connect_db(const struct vg_admin_args *a)
{
	const char *conninfo = a->db ? a->db : getenv("VITALGATE_DB");
	char err[512];
	PGconn *c;

	c = vg_pg_connect(conninfo ? conninfo : "", "vitalgate-admin", err, sizeof(err));
	if(c == NULL){
		vg_admin_fail("cannot connect to PostgreSQL: %s", err);
		return NULL;
	}
	/* "trigger ... does not exist, skipping" and the like are noise here. */
	PQclear(PQexec(c, "SET client_min_messages = warning"));
	return c;
}

static int cmd_migrate(PGconn *c)
{
	int i, applied = 0;
	char ver[16];
	const char *p[2];
	PGresult *r;

	if(!vg_admin_exec(c, "BEGIN")
			|| !vg_admin_exec(c, "SELECT pg_advisory_xact_lock(727384101)")
			|| !vg_admin_exec(c, "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
				"name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")){
		vg_admin_rollback(c);
		return 1;
	}
	for(i = 0; i < vg_migration_count; i++){
		snprintf(ver, sizeof(ver), "%d", vg_migrations[i].version);
		p[0] = ver;
		r = vg_admin_run(c, "SELECT 1 FROM schema_migrations WHERE version = $1::integer", 1, p, PGRES_TUPLES_OK);
		if(r == NULL){
			vg_admin_rollback(c);
			return 1;
		}
		if(PQntuples(r) == 1){
			PQclear(r);
			continue;
		}
		PQclear(r);
		{
			char err[512];
			if(!vg_pg_exec(c, vg_migrations[i].sql, err, sizeof(err))){
				vg_admin_rollback(c);
				return vg_admin_fail("migration %s failed: %s", vg_migrations[i].name, err);
			}
		}
		p[1] = vg_migrations[i].name;
		r = vg_admin_run(c, "INSERT INTO schema_migrations (version, name) VALUES ($1::integer, $2)", 2, p, PGRES_COMMAND_OK);
		if(r == NULL){
			vg_admin_rollback(c);
			return 1;
		}
		PQclear(r);
		vg_admin_note("applied migration %s", vg_migrations[i].name);
		applied++;
	}
	if(!vg_admin_exec(c, "COMMIT")){
		return 1;
	}
	if(applied == 0){
		vg_admin_note("schema is up to date (version %d)", vg_migrations[vg_migration_count - 1].version);
	}
	return 0;
}

/* Generates a secret and its stored hash. */
static int new_secret(char *secret, size_t slen, char *hash, size_t hlen)
{
	if(vg_secret_generate(secret, slen) != 0 || vg_secret_hash_new(secret, hash, hlen) != 0){
		return vg_admin_fail("cannot generate a secret (no randomness?)");
	}
	return 0;
}

static int print_secret(char *secret)
{
	printf("%s\n", secret);
	fflush(stdout);
	OPENSSL_cleanse(secret, strlen(secret));
	return 0;
}

static bool identity_exists(PGconn *c, const char *id, const char *role, bool *exists, bool *revoked)
{
	const char *p[1] = { id };
	PGresult *r = vg_admin_run(c, "SELECT role, revoked_at IS NOT NULL FROM identities WHERE id = $1", 1, p, PGRES_TUPLES_OK);

	if(r == NULL){
		return false;
	}
	*exists = PQntuples(r) == 1;
	if(*exists){
		if(role && strcmp(PQgetvalue(r, 0, 0), role) != 0){
			vg_admin_fail("%s is a %s, not a %s", id, PQgetvalue(r, 0, 0), role);
			PQclear(r);
			return false;
		}
		*revoked = !strcmp(PQgetvalue(r, 0, 1), "t");
	}
	PQclear(r);
	return true;
}

static int add_identity(PGconn *c, const char *id, const char *role, const struct vg_admin_args *a)
{
	char secret[VG_SECRET_LEN + 1], hash[VG_SECRET_HASH_STRLEN + 1];
	const char *p[3];
	PGresult *r;
	bool exists = false, revoked = false;

	if(new_secret(secret, sizeof(secret), hash, sizeof(hash)) != 0){
		return 1;
	}
	if(!vg_admin_exec(c, "BEGIN")){
		return 1;
	}
	if(!identity_exists(c, id, NULL, &exists, &revoked)){
		vg_admin_rollback(c);
		return 1;
	}
	if(exists){
		vg_admin_rollback(c);
		return vg_admin_fail("identity %s already exists", id);
	}
	p[0] = id;
	p[1] = role;
	p[2] = hash;
	r = vg_admin_run(c, "INSERT INTO identities (id, role, secret_hash) VALUES ($1, $2, $3)", 3, p, PGRES_COMMAND_OK);
	if(r == NULL){
		vg_admin_rollback(c);
		return 1;
	}
	PQclear(r);
	if(a->ward){
		p[1] = a->ward;
		p[2] = a->bed;
		r = vg_admin_run(c, "INSERT INTO bed_assignments (device_id, ward, bed) VALUES ($1, $2, $3)", 3, p, PGRES_COMMAND_OK);
		if(r == NULL){
			vg_admin_rollback(c);
			return 1;
		}
		PQclear(r);
	}
	if(a->cell){
		p[1] = a->cell;
		r = vg_admin_run(c, "INSERT INTO cell_identities (identity_id, cell) VALUES ($1, $2)", 2, p, PGRES_COMMAND_OK);
		if(r == NULL){
			vg_admin_rollback(c);
			return 1;
		}
		PQclear(r);
	}
	if(a->wards){
		p[1] = a->wards;
		r = vg_admin_run(c, "INSERT INTO station_wards (station_id, ward) "
				"SELECT $1, w FROM unnest(string_to_array($2, ',')) AS w ON CONFLICT DO NOTHING", 2, p, PGRES_COMMAND_OK);
		if(r == NULL){
			vg_admin_rollback(c);
			return 1;
		}
		PQclear(r);
	}
	{
		char event[32], detail[256];
		snprintf(event, sizeof(event), "%s.add", role);
		if(a->ward){
			snprintf(detail, sizeof(detail), "ward=%s bed=%s", a->ward, a->bed);
		}else if(a->wards){
			snprintf(detail, sizeof(detail), "wards=%s", a->wards);
		}else if(a->cell){
			snprintf(detail, sizeof(detail), "cell=%s", a->cell);
		}else{
			detail[0] = '\0';
		}
		if(!vg_admin_audit(c, event, id, detail)){
			vg_admin_rollback(c);
			return 1;
		}
	}
	if(!vg_admin_exec(c, "COMMIT")){
		return 1;
	}
	vg_admin_note("added %s %s%s%s%s%s", role, id, a->ward ? " at " : "", a->ward ? a->ward : "", a->bed ? "/" : "", a->bed ? a->bed : "");
	return print_secret(secret);
}

static int check_wards_list(const char *wards)
{
	const char *p = wards;

	if(*p == '\0'){
		return vg_admin_fail_usage("--wards needs at least one ward");
	}
	while(*p){
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if(!vg_id_valid_n(p, n)){
			return vg_admin_fail_usage("--wards: \"%.*s\" must match [A-Za-z0-9_-]{1,64}", (int)n, p);
		}
		p += n + (comma ? 1 : 0);
		if(comma && *p == '\0'){
			return vg_admin_fail_usage("--wards: trailing comma");
		}
	}
	return 0;
}

static int update_identity(PGconn *c, const char *role, const char *id, const char *sql, int n,
		const char *const *params, const char *event, const char *detail, const char *done)
{
	PGresult *r;
	bool exists = false, revoked = false;
	char ev[48];

	if(!vg_admin_exec(c, "BEGIN")){
		return 1;
	}
	if(!identity_exists(c, id, role, &exists, &revoked)){
		vg_admin_rollback(c);
		return 1;
	}
	if(!exists){
		vg_admin_rollback(c);
		return vg_admin_fail("no %s %s", role, id);
	}
	r = vg_admin_run(c, sql, n, params, PGRES_COMMAND_OK);
	if(r == NULL){
		vg_admin_rollback(c);
		return 1;
	}
	PQclear(r);
	snprintf(ev, sizeof(ev), "%s.%s", role, event);
	if(!vg_admin_audit(c, ev, id, detail)){
		vg_admin_rollback(c);
		return 1;
	}
	if(!vg_admin_exec(c, "COMMIT")){
		return 1;
	}
	vg_admin_note("%s", done);
	return 0;
}

/* Bulk provisioning in one transaction: all or nothing. Reads
 * "<id> [<ward> <bed>]" lines (blank lines and # comments ignored) and
 * prints "<id> <secret>" for each, in input order, only after the commit. */
static int cmd_import(PGconn *c, const char *file)
{
	FILE *in = strcmp(file, "-") ? fopen(file, "re") : stdin;
	char line[512];
	char (*out)[80 + VG_SECRET_LEN + 2] = NULL;
	size_t n = 0, cap = 0;
	int lineno = 0, rc = 1;
	PGresult *r;

	if(in == NULL){
		return vg_admin_fail("cannot open %s", file);
	}
	if(!vg_admin_exec(c, "BEGIN")){
		goto done;
	}
	while(fgets(line, sizeof(line), in)){
		char id[80] = "", ward[80] = "", bed[80] = "", extra[8] = "";
		char secret[VG_SECRET_LEN + 1], hash[VG_SECRET_HASH_STRLEN + 1];
		const char *p[4];
		int k;

		lineno++;
		if(line[0] == '#' || strspn(line, " \t\r\n") == strlen(line)){
			continue;
		}
		k = sscanf(line, "%79s %79s %79s %7s", id, ward, bed, extra);
		if(k == 4 || k == 2 || !vg_id_valid(id) || (k == 3 && (!vg_id_valid(ward) || !vg_id_valid(bed)))){
			vg_admin_fail("%s:%d: expected \"<id> [<ward> <bed>]\" with ids matching [A-Za-z0-9_-]{1,64}", file, lineno);
			vg_admin_rollback(c);
			goto done;
		}
		if(new_secret(secret, sizeof(secret), hash, sizeof(hash)) != 0){
			vg_admin_rollback(c);
			goto done;
		}
		p[0] = id;
		p[1] = hash;
		p[2] = k == 3 ? ward : NULL;
		p[3] = k == 3 ? bed : NULL;
		r = vg_admin_run(c, "WITH i AS (INSERT INTO identities (id, role, secret_hash) VALUES ($1, 'device', $2) RETURNING id) "
				"INSERT INTO bed_assignments (device_id, ward, bed) SELECT id, $3, $4 FROM i WHERE $3::text IS NOT NULL",
				4, p, PGRES_COMMAND_OK);
		if(r == NULL){
			vg_admin_fail("%s:%d: device %s not added", file, lineno, id);
			vg_admin_rollback(c);
			goto done;
		}
		PQclear(r);
		if(n == cap){
			void *grown;
			cap = cap ? cap * 2 : 256;
			grown = realloc(out, cap * sizeof(*out));
			if(grown == NULL){
				vg_admin_fail("out of memory");
				vg_admin_rollback(c);
				goto done;
			}
			out = grown;
		}
		snprintf(out[n++], sizeof(out[0]), "%s %s", id, secret);
		OPENSSL_cleanse(secret, sizeof(secret));
	}
	{
		char detail[64];
		snprintf(detail, sizeof(detail), "%zu devices", n);
		if(!vg_admin_audit(c, "device.import", NULL, detail)){
			vg_admin_rollback(c);
			goto done;
		}
	}
	if(!vg_admin_exec(c, "COMMIT")){
		goto done;
	}
	for(size_t i = 0; i < n; i++){
		printf("%s\n", out[i]);
	}
	fflush(stdout);
	vg_admin_note("imported %zu devices", n);
	rc = 0;
done:
	if(out){
		OPENSSL_cleanse(out, cap * sizeof(*out));
		free(out);
	}
	if(in != stdin){
		fclose(in);
	}
	return rc;
}

static int cmd_identity(PGconn *c, const struct vg_admin_args *a)
{
	const char *role = a->pos[0];
	const char *sub = a->pos[1];
	const char *id = a->pos[2];
	const char *p[3];
	char done[256], detail[160];

	if(!strcmp(sub, "add")){
		return add_identity(c, id, role, a);
	}
	if(!strcmp(sub, "import")){
		return cmd_import(c, id);
	}
	p[0] = id;
	if(!strcmp(sub, "assign")){
		p[1] = a->ward;
		p[2] = a->bed;
		snprintf(done, sizeof(done), "%s assigned to %s/%s", id, a->ward, a->bed);
		snprintf(detail, sizeof(detail), "ward=%s bed=%s", a->ward, a->bed);
		return update_identity(c, role, id,
				"INSERT INTO bed_assignments (device_id, ward, bed) VALUES ($1, $2, $3) "
				"ON CONFLICT (device_id) DO UPDATE SET ward = EXCLUDED.ward, bed = EXCLUDED.bed, assigned_at = now()",
				3, p, "assign", detail, done);
	}
	if(!strcmp(sub, "unassign")){
		snprintf(done, sizeof(done), "%s unassigned", id);
		return update_identity(c, role, id, "DELETE FROM bed_assignments WHERE device_id = $1", 1, p,
				"unassign", "", done);
	}
	if(!strcmp(sub, "revoke")){
		snprintf(done, sizeof(done), "%s revoked; a connected client is disconnected", id);
		return update_identity(c, role, id, "UPDATE identities SET revoked_at = COALESCE(revoked_at, now()), "
				"updated_at = now() WHERE id = $1", 1, p, "revoke", "", done);
	}
	if(!strcmp(sub, "rotate")){
		char secret[VG_SECRET_LEN + 1], hash[VG_SECRET_HASH_STRLEN + 1];
		int rc;
		if(new_secret(secret, sizeof(secret), hash, sizeof(hash)) != 0){
			return 1;
		}
		p[1] = hash;
		snprintf(done, sizeof(done), "%s has a new secret; the old one no longer works", id);
		rc = update_identity(c, role, id, "UPDATE identities SET secret_hash = $2, updated_at = now() WHERE id = $1",
				2, p, "rotate", "", done);
		if(rc != 0){
			OPENSSL_cleanse(secret, sizeof(secret));
			return rc;
		}
		return print_secret(secret);
	}
	return vg_admin_fail_usage("unknown %s command \"%s\"", role, sub);
}

/* Recomputes the hash chain; names the first row that does not hold. */
static int cmd_audit_verify(PGconn *c)
{
	PGresult *r;
	char prev[65] = "0000000000000000000000000000000000000000000000000000000000000000";
	char last_id[24] = "-";
	long long rows = 0;
	int i, n;

	if(!vg_admin_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ")
			|| !vg_admin_exec(c, "DECLARE vg_audit NO SCROLL CURSOR FOR SELECT id, at, encode(hash, 'hex'), "
				"encode(prev_hash, 'hex'), encode(sha256(prev_hash || vitalgate_audit_canonical(a)), 'hex') "
				"FROM audit_log a ORDER BY id")){
		vg_admin_rollback(c);
		return 1;
	}
	for(;;){
		r = vg_admin_run(c, "FETCH 5000 FROM vg_audit", 0, NULL, PGRES_TUPLES_OK);
		if(r == NULL){
			vg_admin_rollback(c);
			return 1;
		}
		n = PQntuples(r);
		for(i = 0; i < n; i++){
			const char *id = PQgetvalue(r, i, 0);
			if(strcmp(PQgetvalue(r, i, 3), prev) != 0){
				vg_admin_fail("audit chain broken at row %s (%s): its prev_hash does not match the row before it "
						"(a row was removed, inserted or reordered)", id, PQgetvalue(r, i, 1));
				PQclear(r);
				vg_admin_rollback(c);
				return 1;
			}
			if(strcmp(PQgetvalue(r, i, 2), PQgetvalue(r, i, 4)) != 0){
				vg_admin_fail("audit chain broken at row %s (%s): its content does not match its hash (the row was altered)",
						id, PQgetvalue(r, i, 1));
				PQclear(r);
				vg_admin_rollback(c);
				return 1;
			}
			vg_strlcpy(prev, PQgetvalue(r, i, 2), sizeof(prev));
			vg_strlcpy(last_id, id, sizeof(last_id));
			rows++;
		}
		PQclear(r);
		if(n == 0){
			break;
		}
	}
	vg_admin_rollback(c);
	vg_admin_note("audit chain intact: %lld rows; last row %s, hash %s", rows, last_id, prev);
	return 0;
}

static int cmd_audit_list(PGconn *c, const struct vg_admin_args *a)
{
	const char *p[2] = { a->identity, a->limit ? a->limit : "50" };
	PGresult *r = vg_admin_run(c,
			"SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), source, event, "
			"COALESCE(identity, '-'), COALESCE(address, '-'), COALESCE(actor, ''), detail FROM ("
			"SELECT * FROM audit_log WHERE $1::text IS NULL OR identity = $1 ORDER BY id DESC LIMIT $2::integer"
			") t ORDER BY id", 2, p, PGRES_TUPLES_OK);
	int i;

	if(r == NULL){
		return 1;
	}
	for(i = 0; i < PQntuples(r); i++){
		printf("%s %s %-6s %-16s %-20s %-15s %s%s%s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
				PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), PQgetvalue(r, i, 5), PQgetvalue(r, i, 7),
				PQgetvalue(r, i, 6)[0] ? " by " : "", PQgetvalue(r, i, 6));
	}
	PQclear(r);
	return 0;
}

static int cmd_list(PGconn *c)
{
	PGresult *r = vg_admin_run(c,
			"SELECT i.id, i.role, CASE WHEN i.revoked_at IS NULL THEN 'active' ELSE 'revoked' END, "
			"COALESCE(b.ward || '/' || b.bed, (SELECT string_agg(s.ward, ',' ORDER BY s.ward) FROM station_wards s "
			"WHERE s.station_id = i.id), '-') "
			"FROM identities i LEFT JOIN bed_assignments b ON b.device_id = i.id ORDER BY i.role, i.id",
			0, NULL, PGRES_TUPLES_OK);
	int i;

	if(r == NULL){
		return 1;
	}
	printf("%-24s %-8s %-8s %s\n", "ID", "ROLE", "STATUS", "WARD/BED OR WARDS");
	for(i = 0; i < PQntuples(r); i++){
		printf("%-24s %-8s %-8s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
	}
	PQclear(r);
	return 0;
}

/* Validates the command line fully before touching the database. */
static int validate(const struct vg_admin_args *a)
{
	const char *cmd = a->pos[0];
	const char *sub = a->npos > 1 ? a->pos[1] : NULL;
	int rc;

	if(cmd == NULL){
		usage();
		return VG_ADMIN_EXIT_USAGE;
	}
	if(!strcmp(cmd, "alerts")){
		return vg_admin_alarms_validate(a);
	}
	if(a->after || a->max_level || a->json){
		return vg_admin_fail_usage("--after, --max-level and --json are for alerts commands");
	}
	if(a->hub && !vg_admin_cells_is_command(cmd)){
		return vg_admin_fail_usage("--hub is for cells haproxy-map");
	}
	if(a->cell && !vg_admin_cells_is_command(cmd) && strcmp(cmd, "cell")){
		return vg_admin_fail_usage("--cell is for ward place and cell add");
	}
	if(vg_admin_cert_is_command(cmd)){
		return vg_admin_cert_validate(a);
	}
	if(!strcmp(cmd, "export")){
		if(a->cert || a->serial || a->ca_cert || a->ca_key || a->days || a->low || a->high || a->status
				|| a->identity || a->limit){
			return vg_admin_fail_usage("export fhir takes --since, --until, --ward or --patient, --news2-max-age, --out");
		}
		return vg_admin_fhir_validate(a);
	}
	if(a->since || a->until || a->patient || a->news2_max_age){
		return vg_admin_fail_usage("--since, --until, --patient and --news2-max-age are for export fhir");
	}
	if(a->cert || a->serial || a->ca_cert || a->ca_key || a->days || a->out){
		return vg_admin_fail_usage("--cert, --serial, --ca-cert, --ca-key, --days and --out are for cert commands");
	}
	if(vg_admin_alerts_is_command(cmd)){
		return vg_admin_alerts_validate(a);
	}
	if(vg_admin_cells_is_command(cmd)){
		return vg_admin_cells_validate(a);
	}
	if(a->low || a->high || a->status){
		return vg_admin_fail_usage("--low, --high and --status are for threshold and webhook commands");
	}
	if(!strcmp(cmd, "storage")){
		if(a->identity || a->limit){
			return vg_admin_fail_usage("storage takes no options");
		}
		return vg_admin_storage_validate(a);
	}
	if(!strcmp(cmd, "migrate") || !strcmp(cmd, "list")){
		if(a->npos != 1 || a->ward || a->bed || a->wards){
			return vg_admin_fail_usage("%s takes no arguments", cmd);
		}
		return 0;
	}
	if(!strcmp(cmd, "audit")){
		int64_t lim;
		if(sub == NULL || a->npos != 2 || (strcmp(sub, "verify") && strcmp(sub, "list"))){
			return vg_admin_fail_usage("audit needs verify or list");
		}
		if(!strcmp(sub, "verify") && (a->identity || a->limit)){
			return vg_admin_fail_usage("audit verify takes no options");
		}
		if(a->identity && (rc = vg_admin_check_id("--identity", a->identity)) != 0){
			return rc;
		}
		if(a->limit && !vg_parse_i64(a->limit, 1, 1000000, &lim)){
			return vg_admin_fail_usage("--limit must be a number between 1 and 1000000");
		}
		if(a->ward || a->bed || a->wards){
			return vg_admin_fail_usage("audit takes no --ward/--bed/--wards");
		}
		return 0;
	}
	if(a->identity || a->limit){
		return vg_admin_fail_usage("--identity and --limit are for audit list");
	}
	if(strcmp(cmd, "device") && strcmp(cmd, "station") && strcmp(cmd, "service") && strcmp(cmd, "cell")){
		return vg_admin_fail_usage("unknown command \"%s\"", cmd);
	}
	if(sub == NULL || a->npos != 3){
		return vg_admin_fail_usage("%s needs a subcommand and an id", cmd);
	}
	if(!strcmp(cmd, "device") && !strcmp(sub, "import")){
		if(a->ward || a->bed || a->wards){
			return vg_admin_fail_usage("device import takes wards and beds from the file");
		}
		return 0;
	}
	if((rc = vg_admin_check_id("id", a->pos[2])) != 0){
		return rc;
	}
	if(!strcmp(cmd, "device")){
		bool placed = !strcmp(sub, "add") || !strcmp(sub, "assign");
		if(strcmp(sub, "add") && strcmp(sub, "assign") && strcmp(sub, "unassign") && strcmp(sub, "rotate") && strcmp(sub, "revoke")){
			return vg_admin_fail_usage("unknown device command \"%s\"", sub);
		}
		if(a->wards){
			return vg_admin_fail_usage("--wards is for stations");
		}
		if(!placed && (a->ward || a->bed)){
			return vg_admin_fail_usage("device %s takes no --ward/--bed", sub);
		}
		if(!strcmp(sub, "assign") && (!a->ward || !a->bed)){
			return vg_admin_fail_usage("device assign needs --ward and --bed");
		}
		if((a->ward == NULL) != (a->bed == NULL)){
			return vg_admin_fail_usage("--ward and --bed go together");
		}
		if(a->ward && ((rc = vg_admin_check_id("ward", a->ward)) != 0 || (rc = vg_admin_check_id("bed", a->bed)) != 0)){
			return rc;
		}
		return 0;
	}
	if(strcmp(sub, "add") && strcmp(sub, "rotate") && strcmp(sub, "revoke")){
		return vg_admin_fail_usage("unknown %s command \"%s\"", cmd, sub);
	}
	if(a->ward || a->bed){
		return vg_admin_fail_usage("--ward/--bed are for devices");
	}
	if(strcmp(sub, "add") != 0){
		if(a->wards || a->cell){
			return vg_admin_fail_usage("%s %s takes no --wards or --cell", cmd, sub);
		}
		return 0;
	}
	if(!strcmp(cmd, "cell")){
		if(a->wards){
			return vg_admin_fail_usage("--wards is for stations");
		}
		if(a->cell == NULL){
			return vg_admin_fail_usage("cell add needs --cell <cell>");
		}
		return vg_admin_check_id("--cell", a->cell);
	}
	if(!strcmp(cmd, "station")){
		if(a->wards == NULL){
			return vg_admin_fail_usage("station add needs --wards <w1,w2>");
		}
		return check_wards_list(a->wards);
	}
	if(a->wards){
		return vg_admin_fail_usage("--wards is for stations");
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct vg_admin_args a;
	PGconn *c;
	int rc;

	rc = parse_args(argc, argv, &a);
	if(rc == 0){
		rc = validate(&a);
	}
	if(rc != 0){
		return rc;
	}
	c = connect_db(&a);
	if(c == NULL){
		return 1;
	}
	if(!strcmp(a.pos[0], "migrate")){
		rc = cmd_migrate(c);
	}else if(!strcmp(a.pos[0], "list")){
		rc = cmd_list(c);
	}else if(!strcmp(a.pos[0], "audit")){
		rc = !strcmp(a.pos[1], "verify") ? cmd_audit_verify(c) : cmd_audit_list(c, &a);
	}else if(!strcmp(a.pos[0], "alerts")){
		rc = vg_admin_alarms_run(c, &a);
	}else if(vg_admin_alerts_is_command(a.pos[0])){
		rc = vg_admin_alerts_run(c, &a);
	}else if(vg_admin_cert_is_command(a.pos[0])){
		rc = vg_admin_cert_run(c, &a);
	}else if(!strcmp(a.pos[0], "export")){
		rc = vg_admin_fhir_run(c, &a);
	}else if(!strcmp(a.pos[0], "storage")){
		rc = vg_admin_storage_run(c, &a);
	}else if(vg_admin_cells_is_command(a.pos[0])){
		rc = vg_admin_cells_run(c, &a);
	}else{
		rc = cmd_identity(c, &a);
	}
	PQfinish(c);
	return rc;
}
