/*
 * vg_schema: types of the vitals schema tables. The tables themselves are
 * generated at build time from schemas/vitals/v<N>.json by schemas/gen.mjs
 * into vg_schema_gen.h / vg_schema_gen.c (never edited by hand), so the C
 * validator and docs/schema-v1.md cannot disagree.
 *
 * Thread: read-only data, any thread.
 */
#ifndef VG_SCHEMA_H
#define VG_SCHEMA_H

#include <stdbool.h>
#include <stdint.h>

enum vg_ftype {
	VG_T_UINT,    /* non-negative integer within [min, max] */
	VG_T_UINT64,  /* non-negative integer up to 2^63-1 (PostgreSQL bigint) */
	VG_T_INT64,   /* any signed 64-bit integer */
	VG_T_NUMBER,  /* integer or float within [min, max], finite */
	VG_T_BOOL,
	VG_T_ENUM,    /* string, one of values[] */
};

struct vg_field_def {
	const char *key;
	unsigned key_len;
	enum vg_ftype type;
	bool required;
	bool measurement;
	double min;
	double max;
	const char *const *values;  /* VG_T_ENUM: NULL-terminated */
	const char *unit;
	const char *ucum;
	const char *loinc;
	uint32_t mdc;
};

#include "vg_schema_gen.h"

extern const struct vg_field_def vg_fields[VG_FIELD_COUNT];

#endif
