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
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "migrations.h"
#include "pgconn.h"
#include "vg_secret.h"
#include "vg_util.h"

#define EXIT_USAGE 2

struct args {
	const char *db;
	const char *ward;
	const char *bed;
	const char *wards;
	const char *pos[4];
	int npos;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: vitalgate-admin [--db CONNINFO] <command>\n"
		"  migrate\n"
		"  device add <id> --ward <ward> --bed <bed>   prints the secret once\n"
		"  device assign <id> --ward <ward> --bed <bed>\n"
		"  device unassign <id>\n"
		"  device rotate <id>                          prints the new secret\n"
		"  device revoke <id>\n"
		"  station add <id> --wards <w1,w2>            prints the secret\n"
		"  service add <id>                            prints the secret\n"
		"  list\n"
		"Connection: --db, else $VITALGATE_DB, else libpq's PG* variables.\n");
}

static int fail_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("vitalgate-admin: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (try --help)\n", stderr);
	return EXIT_USAGE;
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("vitalgate-admin: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int parse_args(int argc, char **argv, struct args *a)
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
		}else if(!strcmp(s, "--help") || !strcmp(s, "-h")){
			usage();
			exit(0);
		}else if(s[0] == '-' && s[1] == '-'){
			return fail_usage("unknown option %s", s);
		}else{
			if(a->npos == (int)(sizeof(a->pos) / sizeof(a->pos[0]))){
				return fail_usage("too many arguments");
			}
			a->pos[a->npos++] = s;
			continue;
		}
		if(i + 1 >= argc){
			return fail_usage("%s needs a value", s);
		}
		if(*slot){
			return fail_usage("%s given twice", s);
		}
		*slot = argv[++i];
	}
	return 0;
}

static PGconn *connect_db(const struct args *a)
{
	const char *conninfo = a->db ? a->db : getenv("VITALGATE_DB");
	char err[512];
	PGconn *c;

	c = vg_pg_connect(conninfo ? conninfo : "", "vitalgate-admin", err, sizeof(err));
	if(c == NULL){
		fail("cannot connect to PostgreSQL: %s", err);
		return NULL;
	}
	/* "trigger ... does not exist, skipping" and the like are noise here. */
	PQclear(PQexec(c, "SET client_min_messages = warning"));
	return c;
}

/* Runs a parameterised statement; returns the result if it succeeded with
 * the expected status, else prints a one-line error and returns NULL. */
static PGresult *run(PGconn *c, const char *sql, int n, const char *const *params, ExecStatusType want)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	char line[512];

	if(r == NULL || PQresultStatus(r) != want){
		vg_pg_errline(r ? PQresultErrorMessage(r) : PQerrorMessage(c), line, sizeof(line));
		fail("database error: %s", line);
		PQclear(r);
		return NULL;
	}
	return r;
}

static bool exec_ok(PGconn *c, const char *sql)
{
	char err[512];

	if(!vg_pg_exec(c, sql, err, sizeof(err))){
		fail("database error: %s", err);
		return false;
	}
	return true;
}

static void rollback(PGconn *c)
{
	PGresult *r = PQexec(c, "ROLLBACK");
	PQclear(r);
}

static int cmd_migrate(PGconn *c)
{
	int i, applied = 0;
	char ver[16];
	const char *p[2];
	PGresult *r;

	if(!exec_ok(c, "BEGIN")
			|| !exec_ok(c, "SELECT pg_advisory_xact_lock(727384101)")
			|| !exec_ok(c, "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
				"name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")){
		rollback(c);
		return 1;
	}
	for(i = 0; i < vg_migration_count; i++){
		snprintf(ver, sizeof(ver), "%d", vg_migrations[i].version);
		p[0] = ver;
		r = run(c, "SELECT 1 FROM schema_migrations WHERE version = $1::integer", 1, p, PGRES_TUPLES_OK);
		if(r == NULL){
			rollback(c);
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
				rollback(c);
				return fail("migration %s failed: %s", vg_migrations[i].name, err);
			}
		}
		p[1] = vg_migrations[i].name;
		r = run(c, "INSERT INTO schema_migrations (version, name) VALUES ($1::integer, $2)", 2, p, PGRES_COMMAND_OK);
		if(r == NULL){
			rollback(c);
			return 1;
		}
		PQclear(r);
		note("applied migration %s", vg_migrations[i].name);
		applied++;
	}
	if(!exec_ok(c, "COMMIT")){
		return 1;
	}
	if(applied == 0){
		note("schema is up to date (version %d)", vg_migrations[vg_migration_count - 1].version);
	}
	return 0;
}

static int check_id(const char *what, const char *v)
{
	if(!vg_id_valid(v)){
		return fail_usage("%s \"%s\" must match [A-Za-z0-9_-]{1,64}", what, v);
	}
	return 0;
}

/* Generates a secret and its stored hash. */
static int new_secret(char *secret, size_t slen, char *hash, size_t hlen)
{
	if(vg_secret_generate(secret, slen) != 0 || vg_secret_hash_new(secret, hash, hlen) != 0){
		return fail("cannot generate a secret (no randomness?)");
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
	PGresult *r = run(c, "SELECT role, revoked_at IS NOT NULL FROM identities WHERE id = $1", 1, p, PGRES_TUPLES_OK);

	if(r == NULL){
		return false;
	}
	*exists = PQntuples(r) == 1;
	if(*exists){
		if(role && strcmp(PQgetvalue(r, 0, 0), role) != 0){
			fail("%s is a %s, not a %s", id, PQgetvalue(r, 0, 0), role);
			PQclear(r);
			return false;
		}
		*revoked = !strcmp(PQgetvalue(r, 0, 1), "t");
	}
	PQclear(r);
	return true;
}

static int add_identity(PGconn *c, const char *id, const char *role, const struct args *a)
{
	char secret[VG_SECRET_LEN + 1], hash[VG_SECRET_HASH_STRLEN + 1];
	const char *p[3];
	PGresult *r;
	bool exists = false, revoked = false;

	if(new_secret(secret, sizeof(secret), hash, sizeof(hash)) != 0){
		return 1;
	}
	if(!exec_ok(c, "BEGIN")){
		return 1;
	}
	if(!identity_exists(c, id, NULL, &exists, &revoked)){
		rollback(c);
		return 1;
	}
	if(exists){
		rollback(c);
		return fail("identity %s already exists", id);
	}
	p[0] = id;
	p[1] = role;
	p[2] = hash;
	r = run(c, "INSERT INTO identities (id, role, secret_hash) VALUES ($1, $2, $3)", 3, p, PGRES_COMMAND_OK);
	if(r == NULL){
		rollback(c);
		return 1;
	}
	PQclear(r);
	if(a->ward){
		p[1] = a->ward;
		p[2] = a->bed;
		r = run(c, "INSERT INTO bed_assignments (device_id, ward, bed) VALUES ($1, $2, $3)", 3, p, PGRES_COMMAND_OK);
		if(r == NULL){
			rollback(c);
			return 1;
		}
		PQclear(r);
	}
	if(a->wards){
		p[1] = a->wards;
		r = run(c, "INSERT INTO station_wards (station_id, ward) "
				"SELECT $1, w FROM unnest(string_to_array($2, ',')) AS w ON CONFLICT DO NOTHING", 2, p, PGRES_COMMAND_OK);
		if(r == NULL){
			rollback(c);
			return 1;
		}
		PQclear(r);
	}
	if(!exec_ok(c, "COMMIT")){
		return 1;
	}
	note("added %s %s%s%s%s%s", role, id, a->ward ? " at " : "", a->ward ? a->ward : "", a->bed ? "/" : "", a->bed ? a->bed : "");
	return print_secret(secret);
}

static int check_wards_list(const char *wards)
{
	const char *p = wards;

	if(*p == '\0'){
		return fail_usage("--wards needs at least one ward");
	}
	while(*p){
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if(!vg_id_valid_n(p, n)){
			return fail_usage("--wards: \"%.*s\" must match [A-Za-z0-9_-]{1,64}", (int)n, p);
		}
		p += n + (comma ? 1 : 0);
		if(comma && *p == '\0'){
			return fail_usage("--wards: trailing comma");
		}
	}
	return 0;
}

static int update_device(PGconn *c, const char *id, const char *sql, int n, const char *const *params, const char *done)
{
	PGresult *r;
	bool exists = false, revoked = false;

	if(!exec_ok(c, "BEGIN")){
		return 1;
	}
	if(!identity_exists(c, id, "device", &exists, &revoked)){
		rollback(c);
		return 1;
	}
	if(!exists){
		rollback(c);
		return fail("no device %s", id);
	}
	r = run(c, sql, n, params, PGRES_COMMAND_OK);
	if(r == NULL){
		rollback(c);
		return 1;
	}
	PQclear(r);
	if(!exec_ok(c, "COMMIT")){
		return 1;
	}
	note("%s", done);
	return 0;
}

static int cmd_device(PGconn *c, const struct args *a)
{
	const char *sub = a->pos[1];
	const char *id = a->pos[2];
	const char *p[3];
	char done[256];

	if(!strcmp(sub, "add")){
		return add_identity(c, id, "device", a);
	}
	p[0] = id;
	if(!strcmp(sub, "assign")){
		p[1] = a->ward;
		p[2] = a->bed;
		snprintf(done, sizeof(done), "%s assigned to %s/%s", id, a->ward, a->bed);
		return update_device(c, id,
				"INSERT INTO bed_assignments (device_id, ward, bed) VALUES ($1, $2, $3) "
				"ON CONFLICT (device_id) DO UPDATE SET ward = EXCLUDED.ward, bed = EXCLUDED.bed, assigned_at = now()",
				3, p, done);
	}
	if(!strcmp(sub, "unassign")){
		snprintf(done, sizeof(done), "%s unassigned", id);
		return update_device(c, id, "DELETE FROM bed_assignments WHERE device_id = $1", 1, p, done);
	}
	if(!strcmp(sub, "revoke")){
		snprintf(done, sizeof(done), "%s revoked", id);
		return update_device(c, id, "UPDATE identities SET revoked_at = COALESCE(revoked_at, now()), "
				"updated_at = now() WHERE id = $1", 1, p, done);
	}
	if(!strcmp(sub, "rotate")){
		char secret[VG_SECRET_LEN + 1], hash[VG_SECRET_HASH_STRLEN + 1];
		int rc;
		if(new_secret(secret, sizeof(secret), hash, sizeof(hash)) != 0){
			return 1;
		}
		p[1] = hash;
		snprintf(done, sizeof(done), "%s has a new secret; the old one no longer works", id);
		rc = update_device(c, id, "UPDATE identities SET secret_hash = $2, updated_at = now() WHERE id = $1", 2, p, done);
		if(rc != 0){
			OPENSSL_cleanse(secret, sizeof(secret));
			return rc;
		}
		return print_secret(secret);
	}
	return fail_usage("unknown device command \"%s\"", sub);
}

static int cmd_list(PGconn *c)
{
	PGresult *r = run(c,
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
static int validate(const struct args *a)
{
	const char *cmd = a->pos[0];
	const char *sub = a->npos > 1 ? a->pos[1] : NULL;
	int rc;

	if(cmd == NULL){
		usage();
		return EXIT_USAGE;
	}
	if(!strcmp(cmd, "migrate") || !strcmp(cmd, "list")){
		if(a->npos != 1 || a->ward || a->bed || a->wards){
			return fail_usage("%s takes no arguments", cmd);
		}
		return 0;
	}
	if(strcmp(cmd, "device") && strcmp(cmd, "station") && strcmp(cmd, "service")){
		return fail_usage("unknown command \"%s\"", cmd);
	}
	if(sub == NULL || a->npos != 3){
		return fail_usage("%s needs a subcommand and an id", cmd);
	}
	if((rc = check_id("id", a->pos[2])) != 0){
		return rc;
	}
	if(!strcmp(cmd, "device")){
		bool placed = !strcmp(sub, "add") || !strcmp(sub, "assign");
		if(strcmp(sub, "add") && strcmp(sub, "assign") && strcmp(sub, "unassign") && strcmp(sub, "rotate") && strcmp(sub, "revoke")){
			return fail_usage("unknown device command \"%s\"", sub);
		}
		if(a->wards){
			return fail_usage("--wards is for stations");
		}
		if(!placed && (a->ward || a->bed)){
			return fail_usage("device %s takes no --ward/--bed", sub);
		}
		if(!strcmp(sub, "assign") && (!a->ward || !a->bed)){
			return fail_usage("device assign needs --ward and --bed");
		}
		if((a->ward == NULL) != (a->bed == NULL)){
			return fail_usage("--ward and --bed go together");
		}
		if(a->ward && ((rc = check_id("ward", a->ward)) != 0 || (rc = check_id("bed", a->bed)) != 0)){
			return rc;
		}
		return 0;
	}
	if(strcmp(sub, "add") != 0){
		return fail_usage("unknown %s command \"%s\"", cmd, sub);
	}
	if(a->ward || a->bed){
		return fail_usage("--ward/--bed are for devices");
	}
	if(!strcmp(cmd, "station")){
		if(a->wards == NULL){
			return fail_usage("station add needs --wards <w1,w2>");
		}
		return check_wards_list(a->wards);
	}
	if(a->wards){
		return fail_usage("--wards is for stations");
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct args a;
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
	}else if(!strcmp(a.pos[0], "device")){
		rc = cmd_device(c, &a);
	}else{
		struct args b = a;
		rc = add_identity(c, a.pos[2], a.pos[0], &b);
	}
	PQfinish(c);
	return rc;
}
