#!/usr/bin/env node
// Fails when the SQL migrations and the vitals schema disagree: applies the
// migrations (as `vitalgate-admin migrate` does: in order, in one
// transaction) to a throwaway PostgreSQL, then checks what they built
// against schemas/vitals/v1.json (or the file given):
//  - `vitals` has a column per measurement, of the schema's `sql` type, and
//    none that is not a field (unless retired);
//  - each column accepts the schema's bounds (and every enum value) and
//    refuses just outside them (probed with inserts, rolled back), and the
//    rule dbp_below_sbp holds;
//  - `vitals_rollup_1m` has <key>_n, _min, _max, _mean for each numeric
//    measurement (migration 008: the per-minute rollups);
//  - `alert_thresholds` accepts every vital that has threshold alerts.
// Migrations are history: a mismatch is fixed by a new migration, and the
// message says which one to write (docs/adding-a-vital.md).
//
//   node tests/check-migrations.mjs [--schema FILE] [--sql DIR_OR_FILE]...
//   (default: schemas/vitals/v1.json and schemas/sql)
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadSchema } from '../schemas/schema.mjs';
import { makeTempRoot, Postgres } from './lib/bench.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
let schemaPath = path.join(root, 'schemas/vitals/v1.json');
const sources = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--schema') schemaPath = args[++i];
  else if (args[i] === '--sql') sources.push(args[++i]);
  else {
    console.error(`check-migrations: unknown argument ${args[i]}`);
    process.exit(2);
  }
}
if (sources.length === 0) sources.push(path.join(root, 'schemas/sql'));
const s = loadSchema(schemaPath);

const files = sources.flatMap((src) => (statSync(src).isDirectory()
  ? readdirSync(src).filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f)).map((f) => path.join(src, f)) : [src]))
  .sort((a, b) => path.basename(a).localeCompare(path.basename(b)));
const next = String(Math.max(0, ...files.map((f) => Number(path.basename(f).slice(0, 3)))) + 1).padStart(3, '0');

const FIXED = ['device_id', 'seq', 'measured_at', 'received_at', 'ward', 'bed', 'patient_id', 'encounter_id'];
const problems = [];

function checkClause(f) {
  if (f.type === 'uint' || f.type === 'number') return ` CHECK (${f.key} BETWEEN ${f.min} AND ${f.max})`;
  if (f.type === 'enum') return ` CHECK (${f.key} IN (${f.values.map((v) => `'${v}'`).join(', ')}))`;
  return '';
}

async function probe(c, sql, params) {
  await c.query('SAVEPOINT p');
  try {
    await c.query(sql, params);
    await c.query('RELEASE SAVEPOINT p');
    return null;
  } catch (e) {
    await c.query('ROLLBACK TO SAVEPOINT p');
    return e;
  }
}

const tmp = makeTempRoot('vg-migrations-');
const pg = await Postgres.start(tmp);
try {
  const c = await pg.client();
  try {
    await c.query('BEGIN');
    await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, '
      + 'applied_at timestamptz NOT NULL DEFAULT now())');
    for (const f of files) {
      try {
        await c.query(readFileSync(f, 'utf8'));
      } catch (e) {
        throw new Error(`migration ${path.basename(f)} failed: ${e.message}`);
      }
    }
    await c.query('COMMIT');

    // ---- columns
    const cols = new Map((await c.query(`SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
      FROM pg_attribute a WHERE a.attrelid = 'vitals'::regclass AND a.attnum > 0 AND NOT a.attisdropped`)).rows
      .map((r) => [r.name, r.type]));
    const present = [];
    for (const f of s.measurements) {
      const t = cols.get(f.key);
      if (t === undefined) {
        problems.push(`vitals has no column ${f.key} (${schemaPath}: ${f.type}, ${f.sql}): write schemas/sql/${next}_${f.key}.sql with\n`
          + `  ALTER TABLE vitals ADD COLUMN IF NOT EXISTS ${f.key} ${f.sql}${checkClause(f)};`);
      } else if (t !== f.sql) {
        problems.push(`vitals.${f.key} is ${t}, ${schemaPath} says ${f.sql}: write schemas/sql/${next}_${f.key}_type.sql `
          + `(ALTER TABLE vitals ALTER COLUMN ${f.key} TYPE ${f.sql} ...) or fix the schema`);
      } else {
        present.push(f);
      }
    }
    const retired = new Set(s.retired_fields.map((r) => r.key));
    for (const name of cols.keys()) {
      if (!FIXED.includes(name) && !s.measurements.some((f) => f.key === name) && !retired.has(name)) {
        problems.push(`vitals.${name} is not a measurement of ${schemaPath}: a removed field belongs in retired_fields `
          + '(its column may stay, for history), or drop the column in a new migration');
      }
    }

    // ---- the per-minute rollup's columns of each numeric measurement
    const rcols = new Map((await c.query(`SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
      FROM pg_attribute a WHERE a.attrelid = 'vitals_rollup_1m'::regclass AND a.attnum > 0 AND NOT a.attisdropped`)).rows
      .map((r) => [r.name, r.type]));
    for (const f of s.measurements.filter((m) => m.type === 'uint' || m.type === 'number')) {
      const want = { [`${f.key}_n`]: 'integer', [`${f.key}_min`]: f.sql, [`${f.key}_max`]: f.sql, [`${f.key}_mean`]: 'real' };
      const wrong = Object.entries(want).filter(([k, t]) => rcols.get(k) !== t);
      if (wrong.length) {
        problems.push(`vitals_rollup_1m lacks ${wrong.map(([k, t]) => `${k} ${t}`).join(', ')} (the per-minute rollup of ${f.key}): `
          + `write schemas/sql/${next}_${f.key}.sql with\n  ALTER TABLE vitals_rollup_1m ${Object.entries(want)
            .map(([k, t]) => `ADD COLUMN IF NOT EXISTS ${k} ${t}`).join(', ')};`);
      }
    }

    // ---- ranges and values, probed (nothing is kept: ROLLBACK at the end)
    await c.query('BEGIN');
    let seq = 0;
    const insert = (vals) => probe(c, `INSERT INTO vitals (device_id, seq, measured_at, received_at, ${Object.keys(vals).join(', ')}) `
      + `VALUES ('probe', $1, now(), now(), ${Object.keys(vals).map((_, i) => `$${i + 2}`).join(', ')})`, [++seq, ...Object.values(vals)]);
    for (const f of present) {
      const accept = [];
      const refuse = [];
      if (f.type === 'uint' || f.type === 'number') {
        const step = f.type === 'uint' ? 1 : 10 ** -Math.max(1, f.decimals);
        accept.push(f.min, f.max);
        refuse.push(Number((f.min - step).toFixed(6)), Number((f.max + step).toFixed(6)));
      } else if (f.type === 'enum') {
        accept.push(...f.values);
        refuse.push('?');
      } else {
        accept.push(true, false);
      }
      for (const v of accept) {
        const e = await insert({ [f.key]: v });
        if (e) problems.push(`vitals.${f.key} refuses ${JSON.stringify(v)}, which ${schemaPath} accepts (${e.message}): write a migration that widens it`);
      }
      for (const v of refuse) {
        const e = await insert({ [f.key]: v });
        if (!e) {
          problems.push(`vitals.${f.key} accepts ${JSON.stringify(v)}, which ${schemaPath} refuses: write schemas/sql/${next}_${f.key}_check.sql with\n`
            + `  ALTER TABLE vitals ADD CHECK${checkClause(f).replace(/^ CHECK/, '')};`);
        }
      }
    }
    if (s.rules.some((r) => r.name === 'dbp_below_sbp') && present.some((f) => f.key === 'sbp') && present.some((f) => f.key === 'dbp')) {
      if (!await insert({ sbp: 90, dbp: 90 })) problems.push('vitals accepts dbp = sbp, which the rule dbp_below_sbp refuses');
      const e = await insert({ sbp: 90, dbp: 89 });
      if (e) problems.push(`vitals refuses dbp < sbp (${e.message})`);
    }

    // ---- the vitals thresholds may be set for
    for (const f of s.vitals) {
      const e = await probe(c, "INSERT INTO alert_thresholds (ward, vital, low, high) VALUES ('probe-ward', $1, 1, 2)", [f.key]);
      if (e) {
        problems.push(`alert_thresholds refuses vital '${f.key}', which has threshold alerts in ${schemaPath} (${e.message}): `
          + `write schemas/sql/${next}_${f.key}.sql with\n  ALTER TABLE alert_thresholds DROP CONSTRAINT IF EXISTS alert_thresholds_vital_check,\n`
          + `      ADD CONSTRAINT alert_thresholds_vital_check CHECK (vital IN (${s.vitals.map((v) => `'${v.key}'`).join(', ')}));`);
      }
    }
    if (!await probe(c, "INSERT INTO alert_thresholds (ward, vital, low, high) VALUES ('probe-ward', 'no_such_vital', 1, 2)")) {
      problems.push('alert_thresholds accepts any vital name: it should list the vitals that have threshold alerts');
    }
    await c.query('ROLLBACK');
  } finally {
    await c.end();
  }
} catch (e) {
  problems.push(e.message);
} finally {
  await pg.stop();
  rmSync(tmp, { recursive: true, force: true });
}

if (problems.length) {
  console.error(`The migrations (${files.map((f) => path.basename(f)).join(', ')}) disagree with ${schemaPath}:`);
  for (const p of problems) console.error(`- ${p}`);
  process.exit(1);
}
console.log(`${files.length} migrations agree with ${schemaPath}: ${s.measurements.length} vitals columns, `
  + `${s.vitals.length} threshold vitals`);
