/*
 * test_schema: the tables generated from schemas/vitals/v1.json, as the C
 * code sees them.
 *
 * Without arguments: their invariants (field ids and vg_field_by_id are
 * inverse, every alert vital and NEWS2 parameter maps to a measurement of
 * the type its reader expects, the FHIR codes and panels name coded
 * measurements, the built-in alert defaults are what vg_alert_cfg_defaults
 * gives). With --dump: the tables as JSON on stdout, which
 * tests/check-schema.mjs compares with v1.json itself (the schema_current
 * test), so a generator bug or a stale build cannot pass unnoticed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vg_alertcfg.h"
#include "vg_news2.h"
#include "vg_schema.h"
#include "vgtest.h"

static void test_ids(void)
{
	int f, id, known = 0;

	for(f = 0; f < VG_FIELD_COUNT; f++){
		CHECK((int)vg_fields[f].id < VG_FIELD_ID_LIMIT);
		CHECK(vg_fields[f].id < 32);   /* a bit of the journal's u32 */
		CHECK_INT(vg_field_by_id[vg_fields[f].id], f);
		CHECK_INT(vg_fields[f].key_len, strlen(vg_fields[f].key));
	}
	for(id = 0; id < VG_FIELD_ID_LIMIT; id++){
		if(vg_field_by_id[id] >= 0){
			known++;
			CHECK_INT(vg_fields[vg_field_by_id[id]].id, id);
		}
	}
	CHECK_INT(known, VG_FIELD_COUNT);
	/* The fields the previous release journalled by position keep those ids. */
	CHECK_INT(vg_fields[VG_F_V].id, 0);
	CHECK_INT(vg_fields[VG_F_SEQ].id, 1);
	CHECK_INT(vg_fields[VG_F_TS].id, 2);
	CHECK_STR(VG_KEY_HR, "hr");
	CHECK_STR(vg_fields[VG_F_HR].key, VG_KEY_HR);
}

static void test_vitals(void)
{
	struct vg_alert_cfg c;
	int v;

	vg_alert_cfg_defaults(&c);
	for(v = 0; v < VG_V_COUNT; v++){
		const struct vg_vital_def *d = &vg_vitals[v];
		const struct vg_field_def *f = &vg_fields[d->field];
		CHECK(f->measurement);
		CHECK(f->type == VG_T_UINT || f->type == VG_T_NUMBER);
		CHECK(f->ucum != NULL);     /* alert events carry it */
		CHECK(d->margin >= 0);
		CHECK(!(d->low_on && d->high_on) || d->low < d->high);
		CHECK_INT(vg_vital_index(f->key), v);
		CHECK_STR(vg_vital_name(v), f->key);
		CHECK(c.def[v].low_on == d->low_on && c.def[v].high_on == d->high_on);
		CHECK(!d->low_on || c.def[v].low == d->low);
		CHECK(!d->high_on || c.def[v].high == d->high);
	}
	CHECK_INT(vg_vital_index("o2"), -1);
	CHECK_INT(vg_vital_index("nonsense"), -1);
	CHECK(vg_vital_name(VG_V_COUNT) == NULL);
}

static void test_news2(void)
{
	static const enum vg_ftype want[VG_N2_COUNT] = {
		[VG_N2_RR] = VG_T_UINT, [VG_N2_SPO2] = VG_T_UINT, [VG_N2_AIR_O2] = VG_T_BOOL, [VG_N2_SBP] = VG_T_UINT,
		[VG_N2_PULSE] = VG_T_UINT, [VG_N2_CONSC] = VG_T_ENUM, [VG_N2_TEMP] = VG_T_NUMBER,
	};
	uint32_t seen = 0;
	int p;

	for(p = 0; p < VG_N2_COUNT; p++){
		int f = vg_news2_field[p];
		CHECK(f > VG_F_TS && f < VG_FIELD_COUNT);
		CHECK(vg_fields[f].measurement);
		CHECK_INT(vg_fields[f].type, want[p]);
		CHECK(!(seen & (1u << f)));
		seen |= 1u << f;
	}
}

static void test_fhir(void)
{
	int i, k;

	CHECK(VG_FHIR_CODE_COUNT > 0);
	for(i = 0; i < VG_FHIR_CODE_COUNT; i++){
		const struct vg_fhir_code *c = &vg_fhir_codes[i];
		const struct vg_field_def *f = &vg_fields[c->field];
		CHECK(f->measurement);
		CHECK_STR(c->loinc, f->loinc);
		CHECK_STR(c->ucum, f->ucum);
		CHECK(c->display && c->display[0]);
		CHECK(c->panel >= -1 && c->panel < VG_FHIR_PANEL_COUNT);
		if(c->panel >= 0){
			const struct vg_fhir_panel *p = &vg_fhir_panels[c->panel];
			int in = 0;
			for(k = 0; k < p->nfields; k++){
				in += p->fields[k] == c->field;
			}
			CHECK_INT(in, 1);
		}
	}
	for(i = 0; i < VG_FHIR_PANEL_COUNT; i++){
		CHECK(vg_fhir_panels[i].nfields >= 2 && vg_fhir_panels[i].nfields <= 4);
	}
}

static void json_str(const char *s)
{
	if(s == NULL){
		fputs("null", stdout);
		return;
	}
	putchar('"');
	for(; *s; s++){
		if(*s == '"' || *s == '\\'){
			putchar('\\');
		}
		putchar(*s);
	}
	putchar('"');
}

static const char *type_name(enum vg_ftype t)
{
	static const char *const names[] = { "uint", "uint64", "int64", "number", "bool", "enum" };
	return names[t];
}

/* The tables as JSON: what check-schema.mjs compares with v1.json. */
static void dump(void)
{
	int f, v, p, i, k;

	printf("{\"version\":%d,\"fields\":[", VG_SCHEMA_VERSION);
	for(f = 0; f < VG_FIELD_COUNT; f++){
		const struct vg_field_def *d = &vg_fields[f];
		printf("%s{\"key\":", f ? "," : "");
		json_str(d->key);
		printf(",\"id\":%u,\"type\":\"%s\",\"required\":%s,\"measurement\":%s,\"min\":%.17g,\"max\":%.17g,\"decimals\":%u,\"values\":",
				d->id, type_name(d->type), d->required ? "true" : "false", d->measurement ? "true" : "false",
				d->min, d->max, d->decimals);
		if(d->values){
			putchar('[');
			for(k = 0; d->values[k]; k++){
				printf("%s", k ? "," : "");
				json_str(d->values[k]);
			}
			putchar(']');
		}else{
			fputs("null", stdout);
		}
		fputs(",\"unit\":", stdout);
		json_str(d->unit);
		fputs(",\"ucum\":", stdout);
		json_str(d->ucum);
		fputs(",\"loinc\":", stdout);
		json_str(d->loinc);
		printf(",\"mdc\":%u}", (unsigned)d->mdc);
	}
	printf("],\"id_limit\":%d,\"vitals\":[", VG_FIELD_ID_LIMIT);
	for(v = 0; v < VG_V_COUNT; v++){
		const struct vg_vital_def *d = &vg_vitals[v];
		printf("%s{\"key\":", v ? "," : "");
		json_str(vg_fields[d->field].key);
		printf(",\"margin\":%.17g,\"low\":", d->margin);
		if(d->low_on){
			printf("%.17g", d->low);
		}else{
			fputs("null", stdout);
		}
		fputs(",\"high\":", stdout);
		if(d->high_on){
			printf("%.17g", d->high);
		}else{
			fputs("null", stdout);
		}
		putchar('}');
	}
	fputs("],\"news2\":{", stdout);
	{
		static const char *const names[VG_N2_COUNT] = {
			[VG_N2_RR] = "rr", [VG_N2_SPO2] = "spo2", [VG_N2_AIR_O2] = "air_o2", [VG_N2_SBP] = "sbp",
			[VG_N2_PULSE] = "pulse", [VG_N2_CONSC] = "consc", [VG_N2_TEMP] = "temp",
		};
		for(p = 0; p < VG_N2_COUNT; p++){
			printf("%s\"%s\":", p ? "," : "", names[p]);
			json_str(vg_fields[vg_news2_field[p]].key);
		}
	}
	fputs("},\"fhir\":[", stdout);
	for(i = 0; i < VG_FHIR_CODE_COUNT; i++){
		const struct vg_fhir_code *c = &vg_fhir_codes[i];
		printf("%s{\"key\":", i ? "," : "");
		json_str(vg_fields[c->field].key);
		fputs(",\"loinc\":", stdout);
		json_str(c->loinc);
		fputs(",\"display\":", stdout);
		json_str(c->display);
		fputs(",\"also\":", stdout);
		json_str(c->loinc_also);
		fputs(",\"ucum\":", stdout);
		json_str(c->ucum);
		fputs(",\"unit\":", stdout);
		json_str(c->unit);
		fputs(",\"panel\":", stdout);
		json_str(c->panel >= 0 ? vg_fhir_panels[c->panel].key : NULL);
		putchar('}');
	}
	fputs("],\"panels\":[", stdout);
	for(i = 0; i < VG_FHIR_PANEL_COUNT; i++){
		const struct vg_fhir_panel *pn = &vg_fhir_panels[i];
		printf("%s{\"key\":", i ? "," : "");
		json_str(pn->key);
		fputs(",\"loinc\":", stdout);
		json_str(pn->loinc);
		fputs(",\"display\":", stdout);
		json_str(pn->display);
		fputs(",\"fields\":[", stdout);
		for(k = 0; k < pn->nfields; k++){
			printf("%s", k ? "," : "");
			json_str(vg_fields[pn->fields[k]].key);
		}
		fputs("]}", stdout);
	}
	fputs("]}\n", stdout);
}

int main(int argc, char **argv)
{
	if(argc == 2 && !strcmp(argv[1], "--dump")){
		dump();
		return 0;
	}
	test_ids();
	test_vitals();
	test_news2();
	test_fhir();
	return vgtest_result("test_schema");
}
