/*
 * cmd_fhir: `vitalgate-admin export fhir --since T [--until T]
 * [--ward W | --patient P] [--news2-max-age S] [--out FILE]`: the stored
 * samples as FHIR R4 Observations, one per line (NDJSON, FHIR Bulk Data),
 * on stdout or into FILE. docs/fhir.md says what each resource holds and
 * why; the codes come from schemas/vitals/v1.json (vg_fhir_codes[],
 * vg_fhir_panels[]) and the ids from common/vg_fhir.h.
 *
 * - Per sample: one Observation per coded measurement it carries (vital
 *   signs profile: category vital-signs, LOINC code, UCUM valueQuantity),
 *   the measurements of a panel (blood pressure 85354-9) together as its
 *   components, a component the sample lacks with a dataAbsentReason.
 * - NEWS2: one Observation per sample that carries a NEWS2 parameter, the
 *   score of its bed's latest values measured within --news2-max-age
 *   (default 900 s, the broker's news2_max_age_s) before it, exactly as
 *   common/vg_news2.c scores them: total (SNOMED CT 1104051000000101),
 *   sub-scores as components, derivedFrom the Observations that supplied
 *   the vital signs. The bed's values are replayed from the samples
 *   (ordered by bed and time, read from --news2-max-age before T on), so
 *   nothing but the samples needs storing.
 * - Subject: the patient when the sample names one; otherwise the bed (a
 *   Location) or, for a device without a bed, the device: such resources
 *   are plain R4 Observations and do not claim the vital signs profile,
 *   which requires a Patient.
 * - One read-only REPEATABLE READ transaction and a cursor: a consistent
 *   snapshot, memory bounded by one FETCH.
 *
 * Thread: single-threaded program. Memory: query results are freed as
 * each FETCH is consumed; the bed-settings map is freed before returning.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "vg_fhir.h"
#include "vg_json.h"
#include "vg_news2.h"
#include "vg_sbuf.h"
#include "vg_schema.h"
#include "vg_smap.h"
#include "vg_util.h"

#define FETCH_ROWS 5000
#define COL_FIRST_MEASUREMENT 8

static const char OBS_CATEGORY[] = "http://terminology.hl7.org/CodeSystem/observation-category";
static const char LOINC[] = "http://loinc.org";
static const char UCUM[] = "http://unitsofmeasure.org";
static const char SNOMED[] = "http://snomed.info/sct";
static const char ABSENT[] = "http://terminology.hl7.org/CodeSystem/data-absent-reason";
static const char VITALSIGNS[] = "http://hl7.org/fhir/StructureDefinition/vitalsigns";

/* NEWS2 in SNOMED CT (UK edition): the total and each sub-score, as
 * England's NEWS2 Observations code them. */
static const char NEWS2_TOTAL[] = "1104051000000101";
static const struct {
	const char *code;
	const char *display;
} news2_sub[VG_N2_COUNT] = {
	[VG_N2_RR] = { "1104301000000104", "Royal College of Physicians NEWS2 (National Early Warning Score 2) - respiration rate score" },
	[VG_N2_SPO2] = { "1104311000000102", "Royal College of Physicians NEWS2 (National Early Warning Score 2) - oxygen saturation scale 1 score" },
	[VG_N2_AIR_O2] = { "1104331000000105", "Royal College of Physicians NEWS2 (National Early Warning Score 2) - air or oxygen score" },
	[VG_N2_SBP] = { "1104341000000101", "Royal College of Physicians NEWS2 (National Early Warning Score 2) - systolic blood pressure score" },
	[VG_N2_PULSE] = { "1104351000000103", "Royal College of Physicians NEWS2 (National Early Warning Score 2) - pulse score" },
	[VG_N2_CONSC] = { "1104361000000100", "Royal College of Physicians NEWS2 (National Early Warning Score 2) - consciousness score" },
	[VG_N2_TEMP] = { "1104371000000107", "Royal College of Physicians NEWS2 (National Early Warning Score 2) - temperature score" },
};
static const char NEWS2_SPO2_SCALE2[] = "1104321000000108";
static const char NEWS2_SPO2_SCALE2_DISPLAY[] =
	"Royal College of Physicians NEWS2 (National Early Warning Score 2) - oxygen saturation scale 2 score";

/* One stored sample (a row of the cursor). */
struct row {
	const char *device;
	uint64_t seq;
	int64_t measured_ms;
	int64_t received_ms;
	const char *ward;          /* NULL when the device had no bed */
	const char *bed;
	const char *patient;       /* NULL when unknown */
	const char *encounter;
	const char *val[VG_FIELD_COUNT]; /* text of each measurement, NULL when absent */
};

/* The bed whose samples are being read: its latest NEWS2 values. */
struct bed_state {
	char ward[VG_ID_MAX + 1];
	char bed[VG_ID_MAX + 1];
	bool open;
	int scale;
	struct {
		bool has;
		int64_t at_ms;
		double v;
		char device[VG_ID_MAX + 1];
		uint64_t seq;
	} p[VG_N2_COUNT];
};

struct export {
	FILE *out;
	int64_t since_ms;
	int64_t max_age_ms;
	struct vg_smap scales;     /* "ward/bed" -> (int *) 2, for beds on SpO2 scale 2 */
	struct bed_state bed;
	uint64_t samples, vitals, news2;
	bool write_failed;
};

/* ---- references --------------------------------------------------------- */

/* A FHIR id: [A-Za-z0-9.-]{1,64}. */
static bool fhir_id_ok(const char *s)
{
	size_t n = 0;

	for(; s[n]; n++){
		if(!isalnum((unsigned char)s[n]) && s[n] != '-' && s[n] != '.'){
			return false;
		}
	}
	return n >= 1 && n <= 64;
}

/* A reference to a resource of the core's (Patient, Encounter): literal
 * when the id is a FHIR id, else by identifier. */
static void ref_core(struct vg_json *j, const char *key, const char *type, const char *system, const char *id)
{
	char lit[96];

	vg_json_obj_open_key(j, key);
	if(fhir_id_ok(id)){
		snprintf(lit, sizeof(lit), "%s/%s", type, id);
		vg_json_str(j, "reference", lit);
	}else{
		vg_json_str(j, "type", type);
		vg_json_obj_open_key(j, "identifier");
		vg_json_str(j, "system", system);
		vg_json_str(j, "value", id);
		vg_json_obj_close(j);
	}
	vg_json_obj_close(j);
}

/* A logical reference to something Vitalgate names (a device, a bed). */
static void ref_ident(struct vg_json *j, const char *key, const char *type, const char *system, const char *value,
		const char *display)
{
	vg_json_obj_open_key(j, key);
	vg_json_str(j, "type", type);
	vg_json_obj_open_key(j, "identifier");
	vg_json_str(j, "system", system);
	vg_json_str(j, "value", value);
	vg_json_obj_close(j);
	vg_json_str(j, "display", display);
	vg_json_obj_close(j);
}

static void coding(struct vg_json *j, const char *system, const char *code, const char *display)
{
	vg_json_obj_open_key(j, NULL);
	vg_json_str(j, "system", system);
	vg_json_str(j, "code", code);
	if(display){
		vg_json_str(j, "display", display);
	}
	vg_json_obj_close(j);
}

static void concept(struct vg_json *j, const char *key, const char *system, const char *code, const char *display,
		const char *also)
{
	vg_json_obj_open_key(j, key);
	vg_json_arr_open(j, "coding");
	coding(j, system, code, display);
	if(also){
		coding(j, system, also, NULL);
	}
	vg_json_arr_close(j);
	if(display){
		vg_json_str(j, "text", display);
	}
	vg_json_obj_close(j);
}

/* What every Observation of a sample starts with: id, profile (only with a
 * patient), status, category, code. */
static void obs_head(struct vg_json *j, const struct row *r, const char *key, bool vital_sign)
{
	char id[VG_FHIR_ID_MAX + 1];

	vg_fhir_observation_id(id, r->device, r->seq, key);
	vg_json_obj_open(j);
	vg_json_str(j, "resourceType", "Observation");
	vg_json_str(j, "id", id);
	if(vital_sign && r->patient){
		vg_json_obj_open_key(j, "meta");
		vg_json_arr_open(j, "profile");
		vg_json_str(j, NULL, VITALSIGNS);
		vg_json_arr_close(j);
		vg_json_obj_close(j);
	}
	vg_json_str(j, "status", "final");
	vg_json_arr_open(j, "category");
	vg_json_obj_open_key(j, NULL);
	vg_json_arr_open(j, "coding");
	coding(j, OBS_CATEGORY, vital_sign ? "vital-signs" : "survey", vital_sign ? "Vital Signs" : "Survey");
	vg_json_arr_close(j);
	vg_json_obj_close(j);
	vg_json_arr_close(j);
}

/* subject, encounter, effectiveDateTime, issued, device. */
static void obs_context(struct vg_json *j, const struct row *r)
{
	char t[40], bed[2 * (VG_ID_MAX + 1) + 8], display[2 * (VG_ID_MAX + 1) + 16];

	if(r->patient){
		ref_core(j, "subject", "Patient", "urn:vitalgate:patient", r->patient);
	}else if(r->ward){
		snprintf(bed, sizeof(bed), "%s/%s", r->ward, r->bed);
		snprintf(display, sizeof(display), "bed %s, ward %s", r->bed, r->ward);
		ref_ident(j, "subject", "Location", "urn:vitalgate:bed", bed, display);
	}else{
		ref_ident(j, "subject", "Device", "urn:vitalgate:device", r->device, r->device);
	}
	if(r->encounter){
		ref_core(j, "encounter", "Encounter", "urn:vitalgate:encounter", r->encounter);
	}
	vg_rfc3339(r->measured_ms, t, sizeof(t));
	vg_json_str(j, "effectiveDateTime", t);
	vg_rfc3339(r->received_ms, t, sizeof(t));
	vg_json_str(j, "issued", t);
	ref_ident(j, "device", "Device", "urn:vitalgate:device", r->device, r->device);
}

/* A JSON string of UTF-8 text (vg_json escapes each byte above 0x7f on its
 * own, for text that may not be UTF-8; the units are: "°C"). */
static void utf8_str(struct vg_json *j, const char *key, const char *s)
{
	char out[128];
	size_t n = 0;
	const unsigned char *p = (const unsigned char *)s;

	out[n++] = '"';
	while(*p && n < sizeof(out) - 8){
		unsigned cp = *p++;
		if(cp >= 0xc0 && cp < 0xe0 && (*p & 0xc0) == 0x80){
			cp = ((cp & 0x1f) << 6) | (*p++ & 0x3f);
		}else if(cp >= 0xe0 && cp < 0xf0 && (p[0] & 0xc0) == 0x80 && (p[1] & 0xc0) == 0x80){
			cp = ((cp & 0x0f) << 12) | ((unsigned)(p[0] & 0x3f) << 6) | (p[1] & 0x3f);
			p += 2;
		}
		if(cp < 0x20 || cp > 0x7e || cp == '"' || cp == '\\'){
			n += (size_t)snprintf(out + n, sizeof(out) - n, "\\u%04x", cp);
		}else{
			out[n++] = (char)cp;
		}
	}
	out[n++] = '"';
	vg_json_raw(j, key, out, n);
}

static void quantity(struct vg_json *j, const struct vg_fhir_code *c, const char *text)
{
	vg_json_obj_open_key(j, "valueQuantity");
	vg_json_raw(j, "value", text, strlen(text));
	utf8_str(j, "unit", c->unit);
	vg_json_str(j, "system", UCUM);
	vg_json_str(j, "code", c->ucum);
	vg_json_obj_close(j);
}

static void absent(struct vg_json *j, const char *code)
{
	vg_json_obj_open_key(j, "dataAbsentReason");
	vg_json_arr_open(j, "coding");
	coding(j, ABSENT, code, NULL);
	vg_json_arr_close(j);
	vg_json_obj_close(j);
}

static void emit(struct export *e, struct vg_json *j)
{
	if(!vg_json_ok(j)){
		vg_admin_fail("a resource did not fit its buffer (skipped)");
		e->write_failed = true;
		return;
	}
	if(fwrite(j->buf, 1, j->len, e->out) != j->len || fputc('\n', e->out) == EOF){
		e->write_failed = true;
	}
}

/* ---- vital signs ---------------------------------------------------------- */

static void vital_obs(struct export *e, const struct row *r, const struct vg_fhir_code *c)
{
	char buf[4096];
	struct vg_json j;

	vg_json_init(&j, buf, sizeof(buf));
	obs_head(&j, r, vg_fields[c->field].key, true);
	concept(&j, "code", LOINC, c->loinc, c->display, c->loinc_also);
	obs_context(&j, r);
	quantity(&j, c, r->val[c->field]);
	vg_json_obj_close(&j);
	emit(e, &j);
	e->vitals++;
}

static void panel_obs(struct export *e, const struct row *r, const struct vg_fhir_panel *p)
{
	char buf[6144];
	struct vg_json j;
	int k;

	vg_json_init(&j, buf, sizeof(buf));
	obs_head(&j, r, p->key, true);
	concept(&j, "code", LOINC, p->loinc, p->display, NULL);
	obs_context(&j, r);
	vg_json_arr_open(&j, "component");
	for(k = 0; k < p->nfields; k++){
		const struct vg_fhir_code *c = vg_fhir_code_of(p->fields[k]);
		vg_json_obj_open_key(&j, NULL);
		concept(&j, "code", LOINC, c->loinc, c->display, c->loinc_also);
		if(r->val[c->field]){
			quantity(&j, c, r->val[c->field]);
		}else{
			absent(&j, "not-performed"); /* this sample did not measure it */
		}
		vg_json_obj_close(&j);
	}
	vg_json_arr_close(&j);
	vg_json_obj_close(&j);
	emit(e, &j);
	e->vitals++;
}

static void vital_signs(struct export *e, const struct row *r)
{
	int i, k;

	for(i = 0; i < VG_FHIR_CODE_COUNT; i++){
		if(vg_fhir_codes[i].panel < 0 && r->val[vg_fhir_codes[i].field]){
			vital_obs(e, r, &vg_fhir_codes[i]);
		}
	}
	for(i = 0; i < VG_FHIR_PANEL_COUNT; i++){
		for(k = 0; k < vg_fhir_panels[i].nfields; k++){
			if(r->val[vg_fhir_panels[i].fields[k]]){
				panel_obs(e, r, &vg_fhir_panels[i]);
				break;
			}
		}
	}
}

/* ---- NEWS2 ------------------------------------------------------------------ */

static void bed_enter(struct export *e, const struct row *r)
{
	char key[2 * (VG_ID_MAX + 1) + 2];
	struct bed_state *b = &e->bed;

	if(r->ward == NULL){
		b->open = false;
		return;
	}
	if(b->open && !strcmp(b->ward, r->ward) && !strcmp(b->bed, r->bed)){
		return;
	}
	memset(b, 0, sizeof(*b));
	b->open = true;
	vg_strlcpy(b->ward, r->ward, sizeof(b->ward));
	vg_strlcpy(b->bed, r->bed, sizeof(b->bed));
	vg_concat(key, sizeof(key), r->ward, "/", r->bed, (char *)NULL);
	b->scale = vg_smap_get(&e->scales, key) ? 2 : 1;
}

/* Takes the sample's NEWS2 parameters as the bed's latest values (rows
 * come in time order); true when it carried one. */
static bool bed_take(struct bed_state *b, const struct row *r)
{
	bool any = false;
	int p;

	for(p = 0; p < VG_N2_COUNT; p++){
		int f = vg_news2_field[p];
		const char *t = r->val[f];
		if(t == NULL){
			continue;
		}
		any = true;
		b->p[p].has = true;
		b->p[p].at_ms = r->measured_ms;
		switch(vg_fields[f].type){
			case VG_T_BOOL: b->p[p].v = t[0] == 't' ? 1 : 0; break;
			case VG_T_ENUM: b->p[p].v = (unsigned char)t[0]; break;
			default: b->p[p].v = strtod(t, NULL); break;
		}
		vg_strlcpy(b->p[p].device, r->device, sizeof(b->p[p].device));
		b->p[p].seq = r->seq;
	}
	return any;
}

static void news2_obs(struct export *e, const struct row *r)
{
	struct bed_state *b = &e->bed;
	struct vg_news2_input in;
	struct vg_news2_result res;
	char buf[8192], id[VG_FHIR_ID_MAX + 1], ref[VG_FHIR_ID_MAX + 16], seen[VG_N2_COUNT][VG_FHIR_ID_MAX + 1];
	struct vg_json j;
	int p, q, nseen = 0;

	memset(&in, 0, sizeof(in));
	for(p = 0; p < VG_N2_COUNT; p++){
		if(b->p[p].has && r->measured_ms - b->p[p].at_ms <= e->max_age_ms){
			in.have |= 1u << p;
		}
	}
	in.rr = (int)b->p[VG_N2_RR].v;
	in.spo2 = (int)b->p[VG_N2_SPO2].v;
	in.oxygen = b->p[VG_N2_AIR_O2].v != 0;
	in.sbp = (int)b->p[VG_N2_SBP].v;
	in.pulse = (int)b->p[VG_N2_PULSE].v;
	in.avpu = (char)b->p[VG_N2_CONSC].v;
	in.temp = b->p[VG_N2_TEMP].v;
	in.spo2_scale = b->scale;
	vg_news2_score(&in, &res);

	vg_json_init(&j, buf, sizeof(buf));
	obs_head(&j, r, VG_FHIR_NEWS2_KEY, false);
	concept(&j, "code", SNOMED, NEWS2_TOTAL,
			"Royal College of Physicians NEWS2 (National Early Warning Score 2) total score", NULL);
	obs_context(&j, r);
	vg_json_i64(&j, "valueInteger", res.score);
	vg_json_arr_open(&j, "interpretation");
	vg_json_obj_open_key(&j, NULL);
	vg_json_str(&j, "text", vg_news2_band_name(res.band));
	vg_json_obj_close(&j);
	vg_json_arr_close(&j);
	if(res.parameters < VG_N2_COUNT){
		char note[96];
		snprintf(note, sizeof(note), "partial score: %d of %d parameters measured within %" PRId64 " s",
				res.parameters, VG_N2_COUNT, e->max_age_ms / 1000);
		vg_json_arr_open(&j, "note");
		vg_json_obj_open_key(&j, NULL);
		vg_json_str(&j, "text", note);
		vg_json_obj_close(&j);
		vg_json_arr_close(&j);
	}
	/* derivedFrom: the vital-sign Observations whose values were scored. */
	vg_json_arr_open(&j, "derivedFrom");
	for(p = 0; p < VG_N2_COUNT; p++){
		const char *key = vg_fhir_obs_key(vg_news2_field[p]);
		bool dup = false;
		if(!(in.have & (1u << p)) || res.points[p] < 0 || key == NULL
				|| !vg_fhir_observation_id(id, b->p[p].device, b->p[p].seq, key)){
			continue;
		}
		for(q = 0; q < nseen; q++){
			dup |= !strcmp(seen[q], id);
		}
		if(dup){
			continue;
		}
		memcpy(seen[nseen++], id, sizeof(id));
		vg_json_obj_open_key(&j, NULL);
		snprintf(ref, sizeof(ref), "Observation/%s", id);
		vg_json_str(&j, "reference", ref);
		vg_json_obj_close(&j);
	}
	vg_json_arr_close(&j);
	vg_json_arr_open(&j, "component");
	for(p = 0; p < VG_N2_COUNT; p++){
		bool scale2 = p == VG_N2_SPO2 && b->scale == 2;
		vg_json_obj_open_key(&j, NULL);
		vg_json_obj_open_key(&j, "code");
		vg_json_arr_open(&j, "coding");
		coding(&j, SNOMED, scale2 ? NEWS2_SPO2_SCALE2 : news2_sub[p].code,
				scale2 ? NEWS2_SPO2_SCALE2_DISPLAY : news2_sub[p].display);
		vg_json_arr_close(&j);
		vg_json_obj_close(&j);
		if(res.points[p] >= 0){
			vg_json_i64(&j, "valueInteger", res.points[p]);
		}else{
			absent(&j, "unknown"); /* no value measured within the window */
		}
		vg_json_obj_close(&j);
	}
	vg_json_arr_close(&j);
	vg_json_obj_close(&j);
	emit(e, &j);
	e->news2++;
}

/* ---- rows --------------------------------------------------------------------- */

static int64_t int_col(PGresult *res, int i, int c)
{
	int64_t v = 0;

	vg_parse_i64(PQgetvalue(res, i, c), INT64_MIN, INT64_MAX, &v);
	return v;
}

static const char *opt_col(PGresult *res, int i, int c)
{
	return PQgetisnull(res, i, c) ? NULL : PQgetvalue(res, i, c);
}

static void one_row(struct export *e, PGresult *res, int i)
{
	struct row r;
	int f, col = COL_FIRST_MEASUREMENT;
	int64_t seq;
	bool n2;

	memset(&r, 0, sizeof(r));
	r.device = PQgetvalue(res, i, 0);
	seq = int_col(res, i, 1);
	r.seq = (uint64_t)seq;
	r.measured_ms = int_col(res, i, 2);
	r.received_ms = int_col(res, i, 3);
	r.ward = opt_col(res, i, 4);
	r.bed = opt_col(res, i, 5);
	if(r.ward == NULL || r.bed == NULL){
		r.ward = r.bed = NULL;
	}
	r.patient = opt_col(res, i, 6);
	r.encounter = opt_col(res, i, 7);
	for(f = 0; f < VG_FIELD_COUNT; f++){
		if(vg_fields[f].measurement){
			r.val[f] = opt_col(res, i, col++);
		}
	}
	bed_enter(e, &r);
	n2 = e->bed.open && bed_take(&e->bed, &r);
	if(r.measured_ms < e->since_ms){
		return; /* read only for the bed's NEWS2 values */
	}
	e->samples++;
	vital_signs(e, &r);
	if(n2){
		news2_obs(e, &r);
	}
}

/* ---- the command ------------------------------------------------------------- */

/* "24h", "30m", "7d", "90s": a duration back from now. */
bool vg_admin_is_duration(const char *s)
{
	size_t n = strspn(s, "0123456789");

	return n > 0 && n < 10 && s[n] && strchr("smhd", s[n]) && s[n + 1] == '\0';
}

/* An RFC 3339 date-time or date (checked here for its shape; PostgreSQL
 * parses it). */
bool vg_admin_is_timestamp(const char *s)
{
	size_t i;

	for(i = 0; i < 10; i++){
		if(s[i] == '\0' || (i == 4 || i == 7 ? s[i] != '-' : !isdigit((unsigned char)s[i]))){
			return false;
		}
	}
	return strlen(s) < 64;
}

/* The time a --since/--until value names, in ms since the epoch. */
bool vg_admin_resolve_time(PGconn *c, const char *v, int64_t *ms)
{
	char iv[32];
	const char *p[1] = { v };
	PGresult *r;

	if(vg_admin_is_duration(v)){
		static const char *const unit[] = { "seconds", "minutes", "hours", "days" };
		size_t n = strlen(v) - 1;
		snprintf(iv, sizeof(iv), "%.*s %s", (int)n, v, unit[strchr("smhd", v[n]) - "smhd"]);
		p[0] = iv;
		r = vg_admin_run(c, "SELECT (extract(epoch FROM now() - $1::interval) * 1000)::bigint", 1, p, PGRES_TUPLES_OK);
	}else{
		r = vg_admin_run(c, "SELECT (extract(epoch FROM $1::timestamptz) * 1000)::bigint", 1, p, PGRES_TUPLES_OK);
	}
	if(r == NULL){
		return false;
	}
	*ms = int_col(r, 0, 0);
	PQclear(r);
	return true;
}

static bool load_scales(PGconn *c, struct vg_smap *m)
{
	static int two = 2;
	PGresult *r = vg_admin_run(c, "SELECT ward || '/' || bed FROM bed_settings WHERE spo2_scale = 2", 0, NULL,
			PGRES_TUPLES_OK);
	int i, err = 0;

	if(r == NULL){
		return false;
	}
	for(i = 0; i < PQntuples(r) && err == 0; i++){
		vg_smap_put(m, PQgetvalue(r, i, 0), &two, &err);
	}
	PQclear(r);
	if(err){
		vg_admin_fail("out of memory");
	}
	return err == 0;
}

/* DECLARE ... CURSOR: the samples from the NEWS2 warm-up on, by bed and time. */
static bool declare(PGconn *c, const struct vg_admin_args *a, int64_t from_ms, int64_t until_ms)
{
	char from[24], until[24];
	const char *p[3] = { from, until, a->ward ? a->ward : a->patient };
	struct vg_sbuf s;
	PGresult *r;
	int f;

	snprintf(from, sizeof(from), "%" PRId64, from_ms);
	snprintf(until, sizeof(until), "%" PRId64, until_ms);
	vg_sbuf_init(&s);
	vg_sbuf_puts(&s, "DECLARE vg_export NO SCROLL CURSOR FOR SELECT device_id, seq, "
			"(extract(epoch FROM measured_at) * 1000)::bigint, (extract(epoch FROM received_at) * 1000)::bigint, "
			"ward, bed, patient_id, encounter_id");
	for(f = 0; f < VG_FIELD_COUNT; f++){
		if(vg_fields[f].measurement){
			vg_sbuf_printf(&s, ", %s", vg_fields[f].key);
		}
	}
	vg_sbuf_puts(&s, " FROM vitals WHERE measured_at >= timestamptz 'epoch' + $1::bigint * interval '1 millisecond' "
			"AND measured_at < timestamptz 'epoch' + $2::bigint * interval '1 millisecond'");
	if(a->ward){
		vg_sbuf_puts(&s, " AND ward = $3");
	}else if(a->patient){
		vg_sbuf_puts(&s, " AND patient_id = $3");
	}
	/* The order of the vitals_bed_time index read backwards. */
	vg_sbuf_puts(&s, " ORDER BY ward DESC, bed DESC, measured_at, device_id, seq");
	if(!vg_sbuf_ok(&s)){
		vg_sbuf_free(&s);
		vg_admin_fail("out of memory");
		return false;
	}
	r = vg_admin_run(c, s.p, a->ward || a->patient ? 3 : 2, p, PGRES_COMMAND_OK);
	vg_sbuf_free(&s);
	PQclear(r);
	return r != NULL;
}

static int export_rows(PGconn *c, struct export *e)
{
	for(;;){
		PGresult *r = vg_admin_run(c, "FETCH 5000 FROM vg_export", 0, NULL, PGRES_TUPLES_OK);
		int i, n;
		if(r == NULL){
			return 1;
		}
		n = PQntuples(r);
		for(i = 0; i < n && !e->write_failed; i++){
			one_row(e, r, i);
		}
		PQclear(r);
		if(e->write_failed){
			return vg_admin_fail("cannot write the export: %s", strerror(errno));
		}
		if(n < FETCH_ROWS){
			return 0;
		}
	}
}

static int run_export(PGconn *c, const struct vg_admin_args *a, struct export *e)
{
	int64_t since_ms, until_ms = 253402300799999; /* 9999-12-31T23:59:59.999Z */
	int rc;

	if(!vg_admin_resolve_time(c, a->since, &since_ms) || (a->until && !vg_admin_resolve_time(c, a->until, &until_ms))){
		return 1;
	}
	e->since_ms = since_ms;
	if(!vg_admin_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") || !load_scales(c, &e->scales)
			|| !declare(c, a, since_ms - e->max_age_ms, until_ms)){
		vg_admin_rollback(c);
		return 1;
	}
	rc = export_rows(c, e);
	vg_admin_rollback(c);
	return rc;
}

int vg_admin_fhir_validate(const struct vg_admin_args *a)
{
	int64_t v;
	int rc;

	if(a->npos != 2 || strcmp(a->pos[1], "fhir") != 0){
		return vg_admin_fail_usage("export needs fhir (export fhir --since T [--until T] [--ward W | --patient P] [--out FILE])");
	}
	if(a->since == NULL){
		return vg_admin_fail_usage("export fhir needs --since (an RFC 3339 time, or a duration back from now: 24h, 30m, 7d)");
	}
	if(!vg_admin_is_duration(a->since) && !vg_admin_is_timestamp(a->since)){
		return vg_admin_fail_usage("--since: \"%s\" is neither an RFC 3339 time nor a duration such as 24h", a->since);
	}
	if(a->until && !vg_admin_is_duration(a->until) && !vg_admin_is_timestamp(a->until)){
		return vg_admin_fail_usage("--until: \"%s\" is neither an RFC 3339 time nor a duration such as 24h", a->until);
	}
	if(a->ward && a->patient){
		return vg_admin_fail_usage("--ward and --patient exclude each other");
	}
	if(a->bed || a->wards){
		return vg_admin_fail_usage("export fhir takes --ward or --patient, not --bed/--wards");
	}
	if(a->ward && (rc = vg_admin_check_id("ward", a->ward)) != 0){
		return rc;
	}
	if(a->patient && (a->patient[0] == '\0' || strlen(a->patient) > 256)){
		return vg_admin_fail_usage("--patient: 1 to 256 characters");
	}
	if(a->news2_max_age && !vg_parse_i64(a->news2_max_age, 10, 86400, &v)){
		return vg_admin_fail_usage("--news2-max-age must be a number of seconds between 10 and 86400");
	}
	return 0;
}

int vg_admin_fhir_run(PGconn *c, const struct vg_admin_args *a)
{
	struct export e;
	int64_t age = 900;
	int rc;

	memset(&e, 0, sizeof(e));
	if(a->news2_max_age){
		vg_parse_i64(a->news2_max_age, 10, 86400, &age);
	}
	e.max_age_ms = age * 1000;
	if(vg_smap_init(&e.scales, 64) != 0){
		return vg_admin_fail("out of memory");
	}
	e.out = stdout;
	if(a->out && (e.out = fopen(a->out, "w")) == NULL){
		vg_smap_destroy(&e.scales, NULL);
		return vg_admin_fail("cannot write %s: %s", a->out, strerror(errno));
	}
	rc = run_export(c, a, &e);
	if(fflush(e.out) != 0 && rc == 0){
		rc = vg_admin_fail("cannot write %s: %s", a->out ? a->out : "stdout", strerror(errno));
	}
	if(a->out && fclose(e.out) != 0 && rc == 0){
		rc = vg_admin_fail("cannot write %s: %s", a->out, strerror(errno));
	}
	vg_smap_destroy(&e.scales, NULL);
	if(rc == 0){
		vg_admin_note("exported %" PRIu64 " Observation(s): %" PRIu64 " vital signs and %" PRIu64 " NEWS2, from %" PRIu64
				" sample(s)", e.vitals + e.news2, e.vitals, e.news2, e.samples);
	}
	return rc;
}
