/*
 * vg_schema: types of the vitals schema tables. The tables themselves are
 * generated at build time from schemas/vitals/v<N>.json by schemas/gen.mjs
 * into vg_schema_gen.h / vg_schema_gen.c (never edited by hand), so the C
 * validator, the journal, the alert engine, docs/schema-v1.md and the other
 * consumers (docs/adding-a-vital.md) cannot disagree.
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
	unsigned id;                /* names the field in journal records, forever (< VG_FIELD_ID_LIMIT) */
	enum vg_ftype type;
	bool required;
	bool measurement;
	double min;
	double max;
	const char *const *values;  /* VG_T_ENUM: NULL-terminated */
	unsigned decimals;          /* digits after the point when shown (VG_T_NUMBER) */
	const char *unit;           /* as shown to people */
	const char *ucum;           /* UCUM code (alert events carry it) */
	const char *loinc;
	uint32_t mdc;
};

/* A vital that threshold alerts watch. */
struct vg_vital_def {
	int field;        /* enum vg_field */
	double margin;    /* an alert resolves only once the value is back inside by this much */
	bool low_on;      /* built-in default thresholds (the NEWS2 score-3 bands): */
	double low;       /*   alert when value <= low */
	bool high_on;
	double high;      /*   alert when value >= high */
};

/* The FHIR coding of a measurement (for an export: an Observation, category
 * vital-signs, code LOINC, valueQuantity in UCUM). */
struct vg_fhir_code {
	int field;                  /* enum vg_field */
	const char *loinc;          /* Observation.code */
	const char *display;        /* its LOINC display name */
	const char *loinc_also;     /* another code the profile also allows, or NULL */
	const char *ucum;           /* valueQuantity.code (system http://unitsofmeasure.org) */
	const char *unit;           /* valueQuantity.unit */
	int panel;                  /* vg_fhir_panels[] index when a component of a panel, else -1 */
};

/* Measurements exported as one Observation with components (blood pressure). */
struct vg_fhir_panel {
	const char *key;
	const char *loinc;
	const char *display;
	int nfields;
	int fields[4];              /* enum vg_field of the components */
};

#include "vg_schema_gen.h"

extern const struct vg_field_def vg_fields[VG_FIELD_COUNT];
/* enum vg_field of a journal field id, -1 for an id this build does not know. */
extern const signed char vg_field_by_id[VG_FIELD_ID_LIMIT];
extern const struct vg_vital_def vg_vitals[VG_V_COUNT];
/* enum vg_field of each NEWS2 parameter (indexed by enum vg_news2_param). */
extern const int vg_news2_field[];
extern const struct vg_fhir_code vg_fhir_codes[];     /* VG_FHIR_CODE_COUNT of them */
extern const struct vg_fhir_panel vg_fhir_panels[];   /* VG_FHIR_PANEL_COUNT of them */

#endif
