/*
 * vg_migrations: the schema migrations embedded at build time from
 * schemas/sql/NNN_name.sql (see schemas/embed-sql.mjs), in the vg_pg
 * library: `vitalgate-admin migrate` applies them, and the writer checks
 * the database's schema version against them at start.
 *
 * Thread: any (constant data).
 */
#ifndef VG_MIGRATIONS_H
#define VG_MIGRATIONS_H

struct vg_migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct vg_migration vg_migrations[];
extern const int vg_migration_count;

#endif
