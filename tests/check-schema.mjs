#!/usr/bin/env node
// Fails when something that lists vitals disagrees with the schema
// (schemas/vitals/v1.json, or the file given):
//  - the C tables as the built code sees them (test_schema --dump): field
//    ids, types, bounds, units, the alert vitals with their margins and
//    defaults, the NEWS2 parameters' fields, the FHIR codes and panels;
//  - with --tree: the committed files generated from the schema
//    (docs/schema-v1.md, stations/web/vitals-schema.js, the generated parts
//    of bridge/node/src/index.d.ts and docs/alerts.md) and the decoder
//    fixtures (tests/fixtures/vitals) are current.
// Usage: check-schema.mjs --schema FILE --dump TEST_SCHEMA_BINARY [--tree ROOT]
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { committedOutputs, loadSchema, NEWS2_PARAMS } from '../schemas/schema.mjs';
import { fixtureFiles } from './fixtures/make-vitals-fixtures.mjs';

const args = process.argv.slice(2);
const opt = {};
for (let i = 0; i < args.length; i += 2) opt[args[i].replace(/^--/, '')] = args[i + 1];
if (!opt.schema || !opt.dump) {
  console.error('usage: check-schema.mjs --schema FILE --dump TEST_SCHEMA_BINARY [--tree ROOT]');
  process.exit(2);
}
const s = loadSchema(opt.schema);
const problems = [];

// ---- the C tables
const c = JSON.parse(execFileSync(opt.dump, ['--dump']).toString());
const expected = {
  version: s.version,
  fields: s.fields.map((f) => ({
    key: f.key, id: f.id, type: f.type, required: !!f.required, measurement: !!f.measurement,
    min: f.min ?? 0, max: f.max ?? 0, decimals: f.decimals ?? 0, values: f.values ?? null,
    unit: f.unit ?? null, ucum: f.ucum ?? null, loinc: f.loinc ?? null, mdc: f.mdc ?? 0,
  })),
  id_limit: Math.max(...s.fields.map((f) => f.id)) + 1,
  vitals: s.fields.filter((f) => f.alert).map((f) => ({ key: f.key, margin: f.alert.margin, low: f.alert.low, high: f.alert.high })),
  news2: Object.fromEntries(Object.keys(NEWS2_PARAMS).map((p) => [p, s.fields.find((f) => f.news2 === p)?.key])),
  fhir: s.fields.filter((f) => f.loinc).map((f) => ({
    key: f.key, loinc: f.loinc, display: f.loinc_display, also: f.loinc_also ?? null, ucum: f.ucum, unit: f.unit,
    panel: s.groups.find((g) => g.loinc && g.fields.includes(f.key))?.key ?? null,
  })),
  panels: s.groups.filter((g) => g.loinc).map((g) => ({ key: g.key, loinc: g.loinc, display: g.loinc_display, fields: g.fields })),
};
for (const k of Object.keys(expected)) {
  try {
    assert.deepEqual(c[k], expected[k]);
  } catch (e) {
    problems.push(`the C table "${k}" (${opt.dump} --dump) differs from ${opt.schema}:\n${e.message}`);
  }
}

// ---- committed generated files and fixtures
if (opt.tree) {
  const root = opt.tree;
  const outs = committedOutputs(s, `schemas/vitals/${path.basename(opt.schema)}`, (f) => readFileSync(path.join(root, f), 'utf8'));
  for (const [f, text] of Object.entries(outs)) {
    let have = null;
    try { have = readFileSync(path.join(root, f), 'utf8'); } catch { /* missing */ }
    if (have !== text) problems.push(`${f} is out of date with ${opt.schema}: run node schemas/gen.mjs --update-tree`);
  }
  const dir = path.join(root, 'tests/fixtures/vitals');
  const want = fixtureFiles(s);
  const have = new Set(readdirSync(dir));
  const stale = [...want].filter(([name, bytes]) => !have.has(name) || !readFileSync(path.join(dir, name)).equals(bytes)).map(([n]) => n);
  const extra = [...have].filter((n) => !want.has(n));
  if (stale.length || extra.length) {
    problems.push(`tests/fixtures/vitals is out of date (${[...stale, ...extra].slice(0, 5).join(', ')}${stale.length + extra.length > 5 ? ', ...' : ''}): run node tests/fixtures/make-vitals-fixtures.mjs`);
  }
}

if (problems.length) {
  for (const p of problems) console.error(p);
  process.exit(1);
}
console.log(`${opt.schema}: the C tables${opt.tree ? ', the generated files and the fixtures' : ''} agree with it`);
