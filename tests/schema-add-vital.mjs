#!/usr/bin/env node
// schema_add_vital: docs/adding-a-vital.md, done. Takes the field and the
// migration from that page's `<!-- proof: ... -->` blocks, inserts the
// field into a copy of schemas/vitals/v1.json after `rr` (so every field
// after it moves: only ids keep journal records right), and then:
//  1. builds a copy of the tree against it (Debug, the targets needed) and
//     runs test_rec (the previous release's journal records read the same,
//     every field round trips), test_schema and check-schema.mjs (the C
//     tables agree with the changed schema), test_fixtures on fixtures made
//     from it (the decoder accepts etco2 at its bounds, refuses it outside);
//  2. checks the generated station module and TypeScript types have it;
//  3. runs check-migrations.mjs: it must fail without the new migration,
//     naming it, and pass with it;
//  4. end to end, with the plugin and vitalgate-admin of that build (the
//     migration embedded): a sample with etco2 is stored, an impossible one
//     refused naming etco2, the bed's retained sample carries it, and a
//     ward threshold on etco2 raises an alert with its UCUM unit.
// Usage: schema-add-vital.mjs (VG_SOURCE_DIR: the tree; default this one)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const src = process.env.VG_SOURCE_DIR ?? path.resolve(here, '..');
const node = process.execPath;

function run(cmd, args, { env, expectFail = false, what } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (!expectFail && r.status !== 0) {
    throw new Error(`${what ?? `${cmd} ${args.join(' ')}`} failed (${r.status ?? r.signal}):\n${out.slice(-4000)}`);
  }
  if (expectFail && r.status === 0) throw new Error(`${what ?? cmd} passed, but should have failed:\n${out.slice(-2000)}`);
  return out;
}

function step(name) {
  console.log(`schema_add_vital: ${name}`);
}

// ---- the page's field and migration
const doc = readFileSync(path.join(src, 'docs/adding-a-vital.md'), 'utf8');
const block = (name, lang) => {
  const m = new RegExp(`<!-- proof: ${name} -->\\n\`\`\`${lang}\\n([\\s\\S]*?)\`\`\`\\n`).exec(doc);
  if (!m) throw new Error(`docs/adding-a-vital.md: no <!-- proof: ${name} --> ${lang} block`);
  return m[1];
};
const field = JSON.parse(block('field', 'json'));
const migration = block('migration', 'sql');
const key = field.key;

if (process.argv[2] === '--e2e') {
  await endToEnd();
  process.exit(0);
}

const schema = JSON.parse(readFileSync(path.join(src, 'schemas/vitals/v1.json'), 'utf8'));
assert.ok(!schema.fields.some((f) => f.key === key), `${key} is already in v1.json: pick another vital for this proof`);
const at = schema.fields.findIndex((f) => f.key === 'rr') + 1;
assert.ok(at > 0 && at < schema.fields.length, 'rr is in the middle of the schema');
schema.fields.splice(at, 0, field);

const tmp = path.join(process.env.TMPDIR ?? '/tmp', `vg-add-vital-${process.pid}`);
rmSync(tmp, { recursive: true, force: true });
mkdirSync(path.join(tmp, 'sql'), { recursive: true });
const schemaFile = path.join(tmp, 'v1.json');
writeFileSync(schemaFile, `${JSON.stringify(schema, null, 2)}\n`);
const sqlDir = path.join(src, 'schemas/sql');
const next = String(Math.max(...readdirSync(sqlDir).filter((f) => /^\d{3}_/.test(f)).map((f) => Number(f.slice(0, 3)))) + 1).padStart(3, '0');
const migFile = path.join(tmp, 'sql', `${next}_${key}.sql`);
writeFileSync(migFile, migration);
const build = path.join(tmp, 'build');
let ok = false;

try {
  step(`build a copy against v1.json + ${key} (inserted after rr, id ${field.id}) and ${path.basename(migFile)}`);
  run('cmake', ['-S', src, '-B', build, '-DCMAKE_BUILD_TYPE=Debug', `-DVG_SCHEMA_JSON=${schemaFile}`,
    `-DVG_EXTRA_MIGRATIONS=${migFile}`, '-DVG_BUILD_BENCH=OFF']);
  run('cmake', ['--build', build, '-j2', '--target', 'test_rec', 'test_schema', 'test_fixtures', 'vitalgate', 'vitalgate-admin']);
  const gen = readFileSync(path.join(build, 'gen/vg_schema_gen.h'), 'utf8');
  assert.match(gen, new RegExp(`VG_F_${key.toUpperCase()} = ${at},`), `VG_F_${key.toUpperCase()} in the generated header`);
  if (field.alert) assert.match(gen, new RegExp(`VG_V_${key.toUpperCase()} = `), 'an alert vital');

  step('journal: previous release records read the same, every field round trips (test_rec)');
  run(path.join(build, 'tests/test_rec'), []);
  step('the C tables agree with the changed schema (test_schema, check-schema.mjs)');
  run(path.join(build, 'tests/test_schema'), []);
  run(node, [path.join(src, 'tests/check-schema.mjs'), '--schema', schemaFile, '--dump', path.join(build, 'tests/test_schema')]);

  step(`the decoder accepts ${key} at its bounds and refuses it outside (fixtures from the changed schema)`);
  const fixtures = path.join(tmp, 'fixtures');
  run(node, [path.join(src, 'tests/fixtures/make-vitals-fixtures.mjs'), '--schema', schemaFile, '--out', fixtures]);
  const manifest = readFileSync(path.join(fixtures, 'MANIFEST'), 'utf8');
  for (const [name, reason] of [[`schema-${key}-min`, 'ok'], [`schema-${key}-max`, 'ok'], [`schema-${key}-above-max`, 'out_of_range'],
    [`schema-${key}-below-min`, 'out_of_range'], [`schema-${key}-wrong-type`, 'wrong_type']]) {
    assert.match(manifest, new RegExp(`^${name} ${reason} `, 'm'), `fixture ${name}`);
  }
  run(path.join(build, 'tests/test_fixtures'), [fixtures]);

  step('the station module and the TypeScript types have it');
  run(node, [path.join(src, 'schemas/gen.mjs'), schemaFile, '--js', path.join(tmp, 'vitals-schema.js'), '--ts', path.join(tmp, 'vitals.d.ts')]);
  const station = await import(path.join(tmp, 'vitals-schema.js'));
  assert.ok(station.MEASUREMENTS.some((m) => m.key === key && m.label === field.label && m.unit === field.unit), 'MEASUREMENTS');
  if (field.station) assert.deepEqual(station.STATION_ROWS.find((r) => r.key === key)?.fields, [key], 'a station row');
  const ts = readFileSync(path.join(tmp, 'vitals.d.ts'), 'utf8');
  assert.match(ts, new RegExp(`^  ${key}\\?: number;$`, 'm'), 'VitalsMeasurements');
  if (field.alert) assert.match(ts, new RegExp(`ThresholdVital = [^;]*'${key}'`), 'ThresholdVital');

  step('schema_migrations fails without the migration, naming what to write');
  const without = run(node, [path.join(src, 'tests/check-migrations.mjs'), '--schema', schemaFile, '--sql', sqlDir],
    { expectFail: true, what: 'check-migrations without the new migration' });
  assert.match(without, new RegExp(`vitals has no column ${key} .*write schemas/sql/${next}_${key}\\.sql`), without);
  assert.match(without, new RegExp(`ADD COLUMN IF NOT EXISTS ${key} `), without);
  if (field.alert) assert.match(without, new RegExp(`alert_thresholds refuses vital '${key}'`), without);
  step('and passes with it');
  run(node, [path.join(src, 'tests/check-migrations.mjs'), '--schema', schemaFile, '--sql', sqlDir, '--sql', migFile]);

  step('end to end with that build');
  run(node, [fileURLToPath(import.meta.url), '--e2e'], {
    env: {
      VG_PLUGIN: path.join(build, 'vitalgate.so'), VG_ADMIN: path.join(build, 'vitalgate-admin'), VG_BUILD_TYPE: 'Debug',
      VG_ASAN_SHIM: '', VG_ADD_VITAL_SCHEMA: schemaFile,
    },
    what: 'the end-to-end part',
  });
  ok = true;
  step('done');
} finally {
  if (ok || !process.env.VG_KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
  else console.error(`kept ${tmp}`);
}

async function endToEnd() {
  const { Bench, connect, publishQos1, sample, subscribeRc, waitFor, collect } = await import('./lib/bench.mjs');
  const f = JSON.parse(readFileSync(process.env.VG_ADD_VITAL_SCHEMA, 'utf8')).fields.find((x) => x.key === key);
  const inside = f.example;
  const bench = await Bench.start({});
  try {
    const secret = await bench.addDevice('dev-new', 'W1', 'B1');
    const st = await bench.adminOk(['station', 'add', 'st-new', '--wards', 'W1']);
    await bench.waitIdentity(bench.broker.port, 'dev-new', secret);
    const station = await connect(bench.broker.port, { id: 'st-new', password: st });
    const got = collect(station);
    assert.equal(await subscribeRc(station, 'wards/W1/vitals'), 1);
    assert.equal(await subscribeRc(station, 'wards/W1/alerts'), 1);
    const dev = await connect(bench.broker.port, { id: 'dev-new', password: secret });
    const records = collect(dev);
    assert.equal(await subscribeRc(dev, 'devices/dev-new/rejections'), 1);

    // Stored, by the writer's COPY of the new column.
    assert.equal(await publishQos1(dev, 'vitals/dev-new', sample({ v: 1, seq: 1, ts: Date.now(), hr: 72, [key]: inside })), 0);
    const row = await waitFor(async () => (await bench.pg.query(`SELECT ${key} AS v, hr FROM vitals WHERE device_id = 'dev-new'`)).rows[0],
      { what: `the ${key} row` });
    assert.equal(Number(row.v), inside);
    assert.equal(row.hr, 72);
    // The bed's sample in the ward frame for stations carries it.
    const bed = await waitFor(() => got.map((m) => (m.topic === 'wards/W1/vitals' ? JSON.parse(m.text).beds?.B1?.sample : null))
      .find((s) => s?.seq === 1), { what: 'the bed sample in the ward frame' });
    assert.equal(bed[key], inside);

    // Refused outside its bounds, naming it.
    assert.equal(await publishQos1(dev, 'vitals/dev-new', sample({ v: 1, seq: 2, ts: Date.now(), [key]: f.max + 1 })), 0x87);
    const rej = JSON.parse((await waitFor(() => records[0], { what: 'the rejection record' })).text);
    assert.equal(rej.reason, 'out_of_range');
    assert.equal(rej.field, key);

    // A ward threshold on it raises an alert in its unit.
    if (f.alert) {
      await bench.adminOk(['threshold', 'set', key, '--ward', 'W1', '--low', String(inside - 10)]);
      const listed = await bench.adminOk(['threshold', 'list', '--ward', 'W1']);
      assert.match(listed, new RegExp(`^W1\\s+${key}\\s`, 'm'), listed);
      let seq = 10;
      const alert = await waitFor(async () => {
        await publishQos1(dev, 'vitals/dev-new', sample({ v: 1, seq: seq++, ts: Date.now(), [key]: inside - 20 }));
        return got.map((m) => (m.topic === 'wards/W1/alerts' ? JSON.parse(m.text) : null))
          .find((e) => e?.type === 'alert.raised' && e.data.vital === key);
      }, { timeout: 10000, interval: 300, what: `a threshold alert on ${key}` });
      assert.equal(alert.data.unit, f.ucum);
      assert.equal(alert.data.value, inside - 20);
      assert.equal(alert.data.direction, 'low');
    }
    await dev.endAsync();
    await station.endAsync();
  } finally {
    await bench.stop();
  }
}
