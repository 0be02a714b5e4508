// The vitals schema (schemas/vitals/v<N>.json) as a library: loads and
// checks it, and renders everything generated from it. Used by gen.mjs
// (the build and `--update-tree`), by the tests that check committed files
// and C tables against the schema (tests/check-schema.mjs), the migration
// check (tests/check-migrations.mjs), the fixtures (tests/fixtures) and the
// device simulator. Pure: no file is written here.
import { readFileSync } from 'node:fs';

export const TYPES = { uint: 'VG_T_UINT', uint64: 'VG_T_UINT64', int64: 'VG_T_INT64',
  number: 'VG_T_NUMBER', bool: 'VG_T_BOOL', enum: 'VG_T_ENUM' };

// The NEWS2 parameters (RCP 2017), as common/vg_news2.h names them
// (VG_N2_<NAME>): fixed by the standard, each mapped to exactly one field,
// of the type the scorer reads.
export const NEWS2_PARAMS = { rr: 'uint', spo2: 'uint', air_o2: 'bool', sbp: 'uint', pulse: 'uint', consc: 'enum', temp: 'number' };

// The journal's samples record names fields by bits of a u32 (common/vg_rec.c).
export const MAX_FIELD_ID = 31;

const idRe = /^[a-z][a-z0-9_]{0,15}$/;
const loincRe = /^[0-9]{1,7}-[0-9]$/;

// PostgreSQL column types (as format_type() prints them) a field type may use.
function sqlFits(f) {
  const t = f.sql;
  if (f.type === 'uint') {
    const max = { smallint: 32767, integer: 2147483647, bigint: Number.MAX_SAFE_INTEGER }[t];
    return max !== undefined && f.max <= max;
  }
  if (f.type === 'number') return t === 'real' || t === 'double precision';
  if (f.type === 'bool') return t === 'boolean';
  if (f.type === 'enum') return t === 'character(1)';
  return false;
}

function exampleFits(f) {
  const x = f.example;
  if (f.type === 'uint') return Number.isInteger(x) && x >= f.min && x <= f.max;
  if (f.type === 'number') return typeof x === 'number' && x >= f.min && x <= f.max;
  if (f.type === 'bool') return typeof x === 'boolean';
  if (f.type === 'enum') return f.values.includes(x);
  return false;
}

/** Parses and checks a schema; throws an Error saying what is wrong. */
export function parseSchema(text, name = 'schema') {
  let s;
  try {
    s = JSON.parse(text);
  } catch (e) {
    throw new Error(`${name}: ${e.message}`);
  }
  const fail = (msg) => { throw new Error(`${name}: ${msg}`); };
  if (!Number.isInteger(s.version) || s.version < 1) fail('version must be a positive integer');
  for (const k of ['max_payload_bytes', 'max_batch', 'max_map_entries', 'max_str_bytes', 'max_depth']) {
    if (!Number.isInteger(s.limits?.[k]) || s.limits[k] < 1) fail(`limits.${k} must be a positive integer`);
  }
  for (const k of ['max_future_ms', 'max_past_ms']) {
    if (!Number.isInteger(s.time?.[k]) || s.time[k] < 0) fail(`time.${k} must be a non-negative integer`);
  }
  if (!Array.isArray(s.fields) || s.fields.length === 0 || s.fields.length > 32) fail('fields: 1..32 entries');
  s.retired_fields ??= [];
  s.groups ??= [];
  s.rules ??= [];
  if (!Array.isArray(s.retired_fields)) fail('retired_fields must be an array');
  const retired = new Map();
  for (const r of s.retired_fields) {
    if (!Number.isInteger(r.id) || r.id < 0 || r.id > MAX_FIELD_ID) fail(`retired field ${JSON.stringify(r)}: id 0..${MAX_FIELD_ID}`);
    if (!idRe.test(r.key ?? '') || !TYPES[r.type]) fail(`retired field id ${r.id}: needs its key and type`);
    if (retired.has(r.id)) fail(`retired id ${r.id} listed twice`);
    retired.set(r.id, r);
  }
  const seen = new Set();
  const ids = new Map();
  const n2 = new Map();
  for (const f of s.fields) {
    if (!idRe.test(f.key ?? '')) fail(`field key ${JSON.stringify(f.key)} is not a C-friendly identifier`);
    if (seen.has(f.key)) fail(`duplicate field ${f.key}`);
    seen.add(f.key);
    if (!TYPES[f.type]) fail(`field ${f.key}: unknown type ${f.type}`);
    if (!Number.isInteger(f.id) || f.id < 0 || f.id > MAX_FIELD_ID) {
      fail(`field ${f.key}: id must be an integer 0..${MAX_FIELD_ID} (journal records name fields by it); the next free one is ${nextId(s)}`);
    }
    if (ids.has(f.id)) fail(`field ${f.key}: id ${f.id} is already ${ids.get(f.id)}'s`);
    if (retired.has(f.id)) {
      fail(`field ${f.key}: id ${f.id} belonged to the removed field ${retired.get(f.id).key}: ids are never reused (the next free one is ${nextId(s)})`);
    }
    ids.set(f.id, f.key);
    if ((f.type === 'uint' || f.type === 'number') && (typeof f.min !== 'number' || typeof f.max !== 'number' || f.min > f.max)) {
      fail(`field ${f.key}: ${f.type} needs min <= max`);
    }
    if (f.type === 'uint' && (!Number.isInteger(f.min) || !Number.isInteger(f.max) || f.min < 0)) {
      fail(`field ${f.key}: uint bounds are non-negative integers`);
    }
    if (f.type === 'enum' && (!Array.isArray(f.values) || f.values.length === 0 || f.values.some((v) => typeof v !== 'string'))) {
      fail(`field ${f.key}: enum needs values (non-empty strings)`);
    }
    if (f.type === 'enum' && (f.values.some((v) => v.length !== 1) || new Set(f.values).size !== f.values.length)) {
      // The decoder, the journal and the column keep an enum value as one
      // character (vg_value.c in common/vg_vitals.h; a character(1) column).
      fail(`field ${f.key}: enum values are distinct single characters`);
    }
    if (f.key.length > s.limits.max_str_bytes) fail(`field ${f.key}: key longer than limits.max_str_bytes`);
    if (!f.required === !f.measurement) fail(`field ${f.key}: either required (v, seq, ts) or a measurement`);
    if (!f.measurement) continue;
    if (f.type === 'uint64' || f.type === 'int64') fail(`field ${f.key}: a measurement is uint, number, bool or enum`);
    if (!sqlFits(f)) fail(`field ${f.key}: sql ${JSON.stringify(f.sql)} is not a PostgreSQL column type that holds a ${f.type}${f.max !== undefined ? ` up to ${f.max}` : ''} (uint: smallint, integer or bigint; number: real or double precision; bool: boolean; enum: character(1))`);
    for (const k of ['label', 'name', 'meaning']) {
      if (typeof f[k] !== 'string' || f[k].length === 0) fail(`field ${f.key}: ${k} (text) is required`);
    }
    if (typeof f.station !== 'boolean') fail(`field ${f.key}: station (true/false: a row of its own on the station page) is required`);
    if (f.type === 'uint' || f.type === 'number') {
      if (!Number.isInteger(f.decimals) || f.decimals < 0 || f.decimals > 3 || (f.type === 'uint' && f.decimals !== 0)) {
        fail(`field ${f.key}: decimals (0 for uint, 0..3 for number) is required`);
      }
      if (typeof f.unit !== 'string' || typeof f.ucum !== 'string') fail(`field ${f.key}: unit and ucum are required`);
    }
    if (!exampleFits(f)) fail(`field ${f.key}: example must be a valid ${f.type} value`);
    if (f.loinc !== undefined) {
      if (!loincRe.test(f.loinc) || typeof f.loinc_display !== 'string') fail(`field ${f.key}: loinc needs the form NNNN-N and a loinc_display`);
      if (f.loinc_also !== undefined && !loincRe.test(f.loinc_also)) fail(`field ${f.key}: loinc_also needs the form NNNN-N`);
      if (typeof f.ucum !== 'string') fail(`field ${f.key}: a LOINC-coded measurement needs its UCUM unit`);
    }
    if (f.alert !== undefined) {
      const a = f.alert;
      if (f.type !== 'uint' && f.type !== 'number') fail(`field ${f.key}: only numeric measurements have threshold alerts`);
      if (typeof a.margin !== 'number' || a.margin < 0) fail(`field ${f.key}: alert.margin (>= 0) is required`);
      for (const k of ['low', 'high']) {
        if (a[k] !== null && typeof a[k] !== 'number') fail(`field ${f.key}: alert.${k} is a number or null (off by default)`);
      }
      if (typeof a.low === 'number' && typeof a.high === 'number' && a.low >= a.high) fail(`field ${f.key}: alert.low < alert.high`);
    }
    if (f.news2 !== undefined) {
      if (!NEWS2_PARAMS[f.news2]) fail(`field ${f.key}: news2 ${JSON.stringify(f.news2)} is not a NEWS2 parameter (${Object.keys(NEWS2_PARAMS).join(', ')})`);
      if (n2.has(f.news2)) fail(`NEWS2 parameter ${f.news2} mapped twice (${n2.get(f.news2)}, ${f.key})`);
      if (NEWS2_PARAMS[f.news2] !== f.type) fail(`field ${f.key}: NEWS2 ${f.news2} needs a ${NEWS2_PARAMS[f.news2]} field`);
      n2.set(f.news2, f.key);
    }
    if (f.display_values !== undefined && (f.type !== 'bool' || typeof f.display_values.true !== 'string' || typeof f.display_values.false !== 'string')) {
      fail(`field ${f.key}: display_values is { "true": text, "false": text } of a bool`);
    }
  }
  for (const k of ['v', 'seq', 'ts']) if (!seen.has(k)) fail(`schema must define ${k}`);
  if (s.fields.length > s.limits.max_map_entries) fail('more fields than limits.max_map_entries');
  for (const p of Object.keys(NEWS2_PARAMS)) {
    if (!n2.has(p)) fail(`NEWS2 parameter ${p} is not mapped to any field (news2: "${p}"): the score needs all seven`);
  }
  if (!s.fields.some((f) => f.alert)) fail('no field has threshold alerts');
  const byKey = new Map(s.fields.map((f) => [f.key, f]));
  const grouped = new Set();
  for (const g of s.groups) {
    if (!idRe.test(g.key ?? '') || byKey.has(g.key)) fail(`group ${JSON.stringify(g.key)}: a key of its own`);
    if (!Array.isArray(g.fields) || g.fields.length < 2) fail(`group ${g.key}: at least two fields`);
    for (const k of g.fields) {
      if (!byKey.get(k)?.measurement) fail(`group ${g.key}: ${k} is not a measurement`);
      if (grouped.has(k)) fail(`group ${g.key}: ${k} is in two groups`);
      grouped.add(k);
    }
    for (const k of ['label', 'separator', 'meaning']) if (typeof g[k] !== 'string') fail(`group ${g.key}: ${k} is required`);
    if (typeof g.station !== 'boolean') fail(`group ${g.key}: station (true/false) is required`);
    if (g.loinc !== undefined && (!loincRe.test(g.loinc) || typeof g.loinc_display !== 'string')) fail(`group ${g.key}: loinc needs the form NNNN-N and a loinc_display`);
    if (g.loinc !== undefined && g.fields.some((k) => !byKey.get(k).loinc)) fail(`group ${g.key}: a FHIR panel's components need their own LOINC codes`);
  }
  s.measurements = s.fields.filter((f) => f.measurement);
  s.vitals = s.fields.filter((f) => f.alert);
  s.fhir = s.fields.filter((f) => f.loinc);
  s.idLimit = Math.max(...s.fields.map((f) => f.id)) + 1;
  return s;
}

/** The lowest id never used by a field, live or retired. */
export function nextId(s) {
  const used = new Set([...(s.fields ?? []).map((f) => f.id), ...(s.retired_fields ?? []).map((r) => r.id)]);
  let i = 0;
  while (used.has(i)) i++;
  return i;
}

export function loadSchema(path) {
  return parseSchema(readFileSync(path, 'utf8'), path);
}

const up = (k) => k.toUpperCase();
const cstr = (x) => (x === undefined || x === null ? 'NULL' : JSON.stringify(String(x)));
const cnum = (x) => (Number.isInteger(x) ? `${x}.0` : String(x));

/** vg_schema_gen.h and vg_schema_gen.c (types in common/vg_schema.h). */
export function renderC(s, source) {
  const banner = `/* GENERATED by schemas/gen.mjs from ${source}: do not edit. */\n`;
  const mask = (pred) => {
    const bits = s.fields.filter(pred).map((f) => `(1u << VG_F_${up(f.key)})`);
    return bits.length ? bits.join(' | ') : '0u';
  };
  let h = banner;
  h += '#ifndef VG_SCHEMA_GEN_H\n#define VG_SCHEMA_GEN_H\n\n';
  h += `#define VG_SCHEMA_VERSION ${s.version}\n`;
  h += `#define VG_MAX_PAYLOAD_BYTES ${s.limits.max_payload_bytes}u\n`;
  h += `#define VG_MAX_BATCH ${s.limits.max_batch}\n`;
  h += `#define VG_MAX_MAP_ENTRIES ${s.limits.max_map_entries}u\n`;
  h += `#define VG_MAX_STR_BYTES ${s.limits.max_str_bytes}u\n`;
  h += `#define VG_MAX_DEPTH ${s.limits.max_depth}\n`;
  h += `#define VG_TS_MAX_FUTURE_MS ${s.time.max_future_ms}LL\n`;
  h += `#define VG_TS_MAX_PAST_MS ${s.time.max_past_ms}LL\n\n`;
  h += '/* Fields in schema order (the index of vg_fields[], a bit of vg_sample.present). */\nenum vg_field {\n';
  s.fields.forEach((f, i) => { h += `\tVG_F_${up(f.key)} = ${i},\n`; });
  h += `\tVG_FIELD_COUNT = ${s.fields.length}\n};\n\n`;
  h += `#define VG_FIELDS_REQUIRED (${mask((f) => f.required)})\n`;
  h += `#define VG_FIELDS_MEASUREMENT (${mask((f) => f.measurement)})\n\n`;
  h += '/* Journal records name a field by its id, never by its position (vg_field_by_id). */\n';
  h += `#define VG_FIELD_ID_LIMIT ${s.idLimit}\n\n`;
  h += '/* Keys and bounds, for code that builds samples (bench/vgload.c). */\n';
  for (const f of s.fields) {
    h += `#define VG_KEY_${up(f.key)} ${cstr(f.key)}\n`;
    if (f.type === 'uint' || f.type === 'number') {
      h += `#define VG_MIN_${up(f.key)} ${f.type === 'uint' ? f.min : cnum(f.min)}\n`;
      h += `#define VG_MAX_${up(f.key)} ${f.type === 'uint' ? f.max : cnum(f.max)}\n`;
    }
  }
  h += '\n/* The vitals threshold alerts watch (vg_vitals[]). */\nenum vg_vital {\n';
  s.vitals.forEach((f, i) => { h += `\tVG_V_${up(f.key)} = ${i},\n`; });
  h += `\tVG_V_COUNT = ${s.vitals.length}\n};\n\n`;
  h += `#define VG_FHIR_CODE_COUNT ${s.fhir.length}\n`;
  h += `#define VG_FHIR_PANEL_COUNT ${s.groups.filter((g) => g.loinc).length}\n\n`;
  h += '#endif\n';

  let c = banner;
  c += '#include <stddef.h>\n\n#include "vg_news2.h"\n#include "vg_schema.h"\n\n';
  for (const f of s.fields) {
    if (f.type === 'enum') c += `static const char *const vg_enum_${f.key}[] = { ${f.values.map(cstr).join(', ')}, NULL };\n`;
  }
  c += '\nconst struct vg_field_def vg_fields[VG_FIELD_COUNT] = {\n';
  for (const f of s.fields) {
    c += `\t[VG_F_${up(f.key)}] = { .key = ${cstr(f.key)}, .key_len = ${f.key.length}, .id = ${f.id}, .type = ${TYPES[f.type]}, `;
    c += `.required = ${!!f.required}, .measurement = ${!!f.measurement},\n\t\t.min = ${cnum(f.min ?? 0)}, .max = ${cnum(f.max ?? 0)}, `;
    c += `.values = ${f.type === 'enum' ? `vg_enum_${f.key}` : 'NULL'}, .decimals = ${f.decimals ?? 0}, `;
    c += `.unit = ${cstr(f.unit)}, .ucum = ${cstr(f.ucum)}, .loinc = ${cstr(f.loinc)}, .mdc = ${f.mdc ?? 0}u },\n`;
  }
  c += '};\n\n';
  const byId = Array.from({ length: s.idLimit }, () => '-1');
  for (const f of s.fields) byId[f.id] = `VG_F_${up(f.key)}`;
  c += `const signed char vg_field_by_id[VG_FIELD_ID_LIMIT] = { ${byId.join(', ')} };\n\n`;
  c += 'const struct vg_vital_def vg_vitals[VG_V_COUNT] = {\n';
  for (const f of s.vitals) {
    const a = f.alert;
    c += `\t[VG_V_${up(f.key)}] = { .field = VG_F_${up(f.key)}, .margin = ${cnum(a.margin)}, `;
    c += `.low_on = ${a.low !== null}, .low = ${cnum(a.low ?? 0)}, .high_on = ${a.high !== null}, .high = ${cnum(a.high ?? 0)} },\n`;
  }
  c += '};\n\n';
  c += `_Static_assert(VG_N2_COUNT == ${Object.keys(NEWS2_PARAMS).length}, "every NEWS2 parameter is mapped to a field");\n`;
  c += 'const int vg_news2_field[VG_N2_COUNT] = {\n';
  for (const f of s.fields.filter((x) => x.news2)) c += `\t[VG_N2_${up(f.news2)}] = VG_F_${up(f.key)},\n`;
  c += '};\n\n';
  const panels = s.groups.filter((g) => g.loinc);
  c += `const struct vg_fhir_code vg_fhir_codes[VG_FHIR_CODE_COUNT > 0 ? VG_FHIR_CODE_COUNT : 1] = {\n`;
  for (const f of s.fhir) {
    const p = panels.findIndex((g) => g.fields.includes(f.key));
    c += `\t{ .field = VG_F_${up(f.key)}, .loinc = ${cstr(f.loinc)}, .display = ${cstr(f.loinc_display)}, `;
    c += `.loinc_also = ${cstr(f.loinc_also)}, .ucum = ${cstr(f.ucum)}, .unit = ${cstr(f.unit)}, .panel = ${p} },\n`;
  }
  c += '};\n\n';
  c += `const struct vg_fhir_panel vg_fhir_panels[VG_FHIR_PANEL_COUNT > 0 ? VG_FHIR_PANEL_COUNT : 1] = {\n`;
  for (const g of panels) {
    c += `\t{ .key = ${cstr(g.key)}, .loinc = ${cstr(g.loinc)}, .display = ${cstr(g.loinc_display)}, .nfields = ${g.fields.length}, `;
    c += `.fields = { ${g.fields.map((k) => `VG_F_${up(k)}`).join(', ')} } },\n`;
  }
  c += '};\n';
  return { h, c };
}

function fmtNum(x, decimals) {
  return decimals ? x.toFixed(decimals) : String(x);
}

/** The thresholds table of docs/alerts.md (between its markers). */
export function renderAlertsTable(s) {
  let md = '| vital | alert at (built-in default) | resolves once back inside by |\n| --- | --- | --- |\n';
  for (const f of s.vitals) {
    const a = f.alert;
    const d = f.decimals ?? 0;
    const parts = [];
    if (a.low !== null) parts.push(`<= ${fmtNum(a.low, d)}`);
    if (a.high !== null) parts.push(`>= ${fmtNum(a.high, d)}`);
    const at = parts.length ? `${parts.join(' or ')} ${f.unit}` : 'off';
    md += `| \`${f.key}\` (${f.name}) | ${at} | ${fmtNum(a.margin, d)} ${f.unit} |\n`;
  }
  return md;
}

/** docs/schema-v1.md. */
export function renderMarkdown(s, source) {
  let md = `<!-- GENERATED by schemas/gen.mjs from ${source}: do not edit; a test checks it is current. -->\n`;
  md += `# ${s.title ?? `Vitals sample v${s.version}`}\n\n`;
  md += `Encoding: ${s.encoding}.\n\n`;
  md += '## Fields\n\n';
  md += '| key | id | type | unit (UCUM) | LOINC | IEEE 11073 MDC | required | accepted range | meaning |\n';
  md += '| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n';
  for (const f of s.fields) {
    let range = '';
    if (f.type === 'uint' || f.type === 'number') range = `${f.min} .. ${f.max}`;
    else if (f.type === 'enum') range = f.values.map((v) => `\`${v}\``).join(' ');
    else if (f.type === 'uint64') range = '0 .. 2^63-1 (stored as bigint)';
    else if (f.type === 'int64') range = `now - ${s.time.max_past_ms / 3600000} h .. now + ${s.time.max_future_ms / 60000} min`;
    const unit = f.ucum ? `${f.unit} (\`${f.ucum}\`)` : '-';
    const mdc = f.mdc ? `${f.mdc_name ?? ''} ${f.mdc}`.trim() : '-';
    md += `| \`${f.key}\` | ${f.id} | ${f.type} | ${unit} | ${f.loinc ?? '-'} | ${mdc} | ${f.required ? 'yes' : 'no'} | ${range} | ${f.meaning ?? ''} |\n`;
  }
  md += '\nValues outside the accepted range are impossible and rejected as `out_of_range`; values inside it, however abnormal, are accepted (they drive alerts). A negative number for an unsigned field is `out_of_range`; a float for an integer field is `wrong_type`.\n\n';
  md += `A field's **id** names it in journal records ([journal.md](journal.md)): it never changes, and the id of a removed field is never given to another one${s.retired_fields.length ? ` (retired: ${s.retired_fields.map((r) => `${r.id} \`${r.key}\``).join(', ')})` : ''}. How to add a field: [adding-a-vital.md](adding-a-vital.md).\n\n`;
  md += '## Rules\n\n';
  for (const r of s.rules) md += `- \`${r.name}\` (field \`${r.field}\`, reason \`${r.reason}\`): ${r.meaning}\n`;
  md += '\n## Measurements: storage, alerts, display\n\n';
  md += '| key | `vitals` column | threshold alert (default) | NEWS2 parameter | station page |\n';
  md += '| --- | --- | --- | --- | --- |\n';
  for (const f of s.measurements) {
    let alert = '-';
    if (f.alert) {
      const d = f.decimals ?? 0;
      const parts = [];
      if (f.alert.low !== null) parts.push(`<= ${fmtNum(f.alert.low, d)}`);
      if (f.alert.high !== null) parts.push(`>= ${fmtNum(f.alert.high, d)}`);
      alert = `${parts.length ? `${parts.join(' or ')} ${f.unit}` : 'off'}; margin ${fmtNum(f.alert.margin, d)} ${f.unit}`;
    }
    const g = s.groups.find((x) => x.fields.includes(f.key));
    const station = f.station ? `"${f.label}"` : (g?.station ? `in "${g.label}"` : '-');
    md += `| \`${f.key}\` | \`${f.key} ${f.sql}\` | ${alert} | ${f.news2 ?? '-'} | ${station} |\n`;
  }
  md += '\n## FHIR codes (for an export)\n\n';
  md += 'Each coded measurement is an Observation (category vital-signs) whose `code` is the LOINC below and whose `valueQuantity` is in UCUM (system `http://unitsofmeasure.org`).\n\n';
  md += '| key | LOINC | display | also allowed | UCUM | part of |\n| --- | --- | --- | --- | --- | --- |\n';
  for (const f of s.fhir) {
    const g = s.groups.find((x) => x.loinc && x.fields.includes(f.key));
    md += `| \`${f.key}\` | ${f.loinc} | ${f.loinc_display} | ${f.loinc_also ?? '-'} | \`${f.ucum}\` | ${g ? `${g.loinc} (component)` : '-'} |\n`;
  }
  for (const g of s.groups.filter((x) => x.loinc)) {
    md += `\n\`${g.key}\`: ${g.meaning}: code ${g.loinc} (${g.loinc_display}), components ${g.fields.map((k) => `\`${k}\``).join(', ')}.\n`;
  }
  const example = { v: s.version, seq: 1042, ts: 1767225600000, ...Object.fromEntries(s.measurements.map((f) => [f.key, f.example])) };
  md += '\n## Example\n\nOne sample with every measurement, shown as JSON (devices send it as MessagePack):\n\n';
  md += `\`\`\`json\n${JSON.stringify(example)}\n\`\`\`\n`;
  md += '\n## Limits (checked before any allocation)\n\n';
  md += '| limit | value | reason when exceeded |\n| --- | --- | --- |\n';
  md += `| payload size | ${s.limits.max_payload_bytes} bytes | \`too_large\` |\n`;
  md += `| samples per batch | ${s.limits.max_batch} | \`too_large\` |\n`;
  md += `| entries per map | ${s.limits.max_map_entries} | \`too_large\` |\n`;
  md += `| string or key length | ${s.limits.max_str_bytes} bytes | \`too_large\` |\n`;
  md += `| nesting depth | ${s.limits.max_depth} (a batch of maps) | \`malformed\` |\n`;
  md += `\n## Time\n\n\`ts\` more than ${s.time.max_future_ms / 1000} s ahead of the broker's clock or more than ${s.time.max_past_ms / 1000} s behind it is rejected as \`bad_time\` (both bounds configurable: \`ts_max_future_s\`, \`ts_max_past_s\`).\n`;
  return md;
}

const js = (x) => JSON.stringify(x);

/** stations/web/vitals-schema.js: what the station page needs, no build step. */
export function renderStationJs(s, source) {
  let out = `// GENERATED by schemas/gen.mjs from ${source}: do not edit; a test (schema_current) checks it is current.\n`;
  out += '// The station page\'s vocabulary: every measurement, and the rows of a bed card.\n\n';
  out += `export const SCHEMA_VERSION = ${s.version};\n\n`;
  out += '// key, type, label (bed card), name (alert text), unit (as shown), ucum (as alert events carry it),\n';
  out += '// decimals, values (enum), display_values (bool).\n';
  out += 'export const MEASUREMENTS = Object.freeze([\n';
  for (const f of s.measurements) {
    const m = { key: f.key, type: f.type, label: f.label, name: f.name, unit: f.unit ?? '', ucum: f.ucum ?? '', decimals: f.decimals ?? 0 };
    if (f.values) m.values = f.values;
    if (f.display_values) m.display_values = f.display_values;
    out += `  Object.freeze(${js(m)}),\n`;
  }
  out += ']);\n\n';
  out += '// A bed card\'s rows, in order: one measurement, or a group shown together (fields joined by separator).\n';
  out += 'export const STATION_ROWS = Object.freeze([\n';
  for (const r of stationRows(s)) out += `  Object.freeze(${js(r)}),\n`;
  out += ']);\n';
  return out;
}

/** The rows of a bed card: each measurement with station: true, and each
 * group with station: true at the place of its first field. */
export function stationRows(s) {
  const rows = [];
  for (const f of s.measurements) {
    const g = s.groups.find((x) => x.fields[0] === f.key);
    if (g?.station) rows.push({ key: g.key, label: g.label, unit: g.unit ?? '', fields: g.fields, separator: g.separator });
    if (f.station) rows.push({ key: f.key, label: f.label, unit: f.unit ?? '', fields: [f.key] });
  }
  return rows;
}

const TS_BEGIN = '// <vitals> GENERATED by schemas/gen.mjs from schemas/vitals/v1.json: do not edit; a test (schema_current) checks it is current.';
const TS_END = '// </vitals>';

/** The generated part of bridge/node/src/index.d.ts, markers included. */
export function renderTs(s) {
  let out = `${TS_BEGIN}\n`;
  out += '/** The measurements a sample may carry (docs/schema-v1.md); each is optional. */\n';
  out += 'export interface VitalsMeasurements {\n';
  for (const f of s.measurements) {
    let t = 'number';
    if (f.type === 'bool') t = 'boolean';
    if (f.type === 'enum') t = f.values.map((v) => `'${v}'`).join(' | ');
    const range = f.type === 'uint' || f.type === 'number' ? `, ${f.min}..${f.max} ${f.unit}` : '';
    out += `  /** ${f.meaning}${range} */\n  ${f.key}?: ${t};\n`;
  }
  out += '}\n\n';
  out += '/** The vitals threshold alerts watch (AlertData.vital). */\n';
  out += `export type ThresholdVital = ${s.vitals.map((f) => `'${f.key}'`).join(' | ')};\n`;
  out += `${TS_END}\n`;
  return out;
}

/**
 * Replaces the region of text from the line starting with `begin` to the
 * line starting with `end` (both included when inclusive, else kept) by
 * body. Throws when the markers are missing.
 */
export function replaceRegion(text, begin, end, body, { inclusive = false, name = 'file' } = {}) {
  const i = text.indexOf(begin);
  const j = i < 0 ? -1 : text.indexOf(end, i + begin.length);
  if (i < 0 || j < 0) throw new Error(`${name}: markers ${begin} / ${end} missing`);
  if (inclusive) {
    const stop = text.indexOf('\n', j);
    return text.slice(0, i) + body + text.slice(stop < 0 ? text.length : stop + 1);
  }
  const from = text.indexOf('\n', i) + 1;
  return text.slice(0, from) + body + text.slice(j);
}

export const REGIONS = {
  ts: { file: 'bridge/node/src/index.d.ts', begin: '// <vitals>', end: TS_END, inclusive: true, render: (s) => renderTs(s) },
  alerts: { file: 'docs/alerts.md', begin: '<!-- thresholds:begin', end: '<!-- thresholds:end -->', inclusive: false, render: (s) => renderAlertsTable(s) },
};

/** Every committed file generated from the schema: path -> expected text
 * (given the current text, for files with a generated region). */
export function committedOutputs(s, source, read) {
  const out = {
    'docs/schema-v1.md': renderMarkdown(s, source),
    'stations/web/vitals-schema.js': renderStationJs(s, source),
  };
  for (const r of Object.values(REGIONS)) {
    out[r.file] = replaceRegion(read(r.file), r.begin, r.end, r.render(s), { inclusive: r.inclusive, name: r.file });
  }
  return out;
}
