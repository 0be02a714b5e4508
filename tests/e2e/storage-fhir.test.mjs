// Storage that lives for years, and FHIR R4 for the core (issue 17):
//  - retention drops a raw vitals day partition exactly when it ended
//    retention_days before the clock passed to it, and a rollup month
//    partition rollup_retention_days after it ended (a moved clock);
//  - the per-minute rollups equal a SQL aggregate over the raw rows: after
//    a call with a moved clock (only the minutes it closed), after the
//    broker's own worker caught up, and after a late sample (through MQTT,
//    the writer, its mark, the worker's second pass) landed in a minute
//    already rolled up; the worker's passes, drops and recomputations show
//    on /metrics and in the log; `vitalgate-admin storage` names the oldest
//    row kept;
//  - `vitalgate-admin export fhir` of a generated day: every resource valid
//    (tests/lib/fhir-validate.mjs: FHIR.js, the R4 JSON schema, FHIRPath
//    invariants, the vital signs rules), every sample's measurements there
//    under the id bridge/node's fhirObservationId() derives, byte-identical
//    across two exports, NEWS2 derivedFrom pointing into the export,
//    --patient returning exactly that patient's resources;
//  - an alert webhook's data.observation names an Observation the export
//    writes, and observationIds() reads it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { Bench, Broker, connect, freePort, httpGet, promValue, publishQos1, sample, waitFor } from '../lib/bench.mjs';
import { validateObservation } from '../lib/fhir-validate.mjs';
import { fhirObservationId, observationIds } from '../../bridge/node/src/index.js';

const DAY = 86400000;
const today = Math.floor(Date.now() / DAY) * DAY;   // UTC midnight
const D = today - DAY;                               // the generated day: yesterday
const iso = (ms) => new Date(ms).toISOString();

let bench;
let db;
let metricsPort;

// The generated day: 4 monitors in ward 3W, one sample every 2 minutes, and
// an oximeter sharing bed b1; the bed's occupants change at noon.
const DEVICES = [
  { id: 'mon_1', bed: 'b1' }, { id: 'mon-2', bed: 'b2' }, { id: 'mon-3', bed: 'b3' }, { id: 'mon-4', bed: 'b4' },
  { id: 'ox_1', bed: 'b1', spo2Only: true },
];

async function generateDay() {
  for (const [i, d] of DEVICES.entries()) {
    await db.query(`INSERT INTO vitals (device_id, seq, measured_at, received_at, ward, bed, patient_id, encounter_id,
        hr, spo2, rr, sbp, dbp, map, temp, o2, avpu)
      SELECT $1, g, $2::timestamptz + g * interval '120 seconds' + $3::int * interval '7 seconds', $2::timestamptz + g * interval '120 seconds' + interval '30 seconds',
        '3W', $4,
        CASE $4::text WHEN 'b1' THEN CASE WHEN g < 360 THEN 'p-1' ELSE 'p-2' END WHEN 'b2' THEN 'pat_3' WHEN 'b4' THEN 'p-4' END,
        CASE $4::text WHEN 'b1' THEN CASE WHEN g < 360 THEN 'e-1' ELSE 'e-2' END WHEN 'b2' THEN 'enc_3' WHEN 'b4' THEN 'e-4' END,
        CASE WHEN $5::boolean THEN NULL ELSE 40 + (g * 37 + $3::int) % 110 END,
        85 + (g * 13 + $3::int) % 16,
        CASE WHEN $5::boolean THEN NULL ELSE 6 + (g * 7) % 26 END,
        CASE WHEN NOT $5::boolean AND g % 10 = 0 THEN 85 + (g * 11) % 140 END,
        CASE WHEN NOT $5::boolean AND g % 20 = 0 THEN 50 + (g * 3) % 30 END,
        CASE WHEN NOT $5::boolean AND g % 10 = 5 THEN 60 + g % 40 END,
        CASE WHEN $5::boolean THEN NULL ELSE 34.8 + ((g * 17) % 50) / 10.0 END,
        CASE WHEN $5::boolean THEN NULL WHEN g % 30 = 0 THEN (g / 30) % 2 = 1 END,
        CASE WHEN $5::boolean THEN NULL WHEN g % 45 = 0 THEN (ARRAY['A','A','C','V','A'])[1 + (g / 45) % 5] END
      FROM generate_series(0, 719) g`, [d.id, iso(D), i, d.bed, !!d.spo2Only]);
  }
}

// Rollup rows as the table holds them, and as an aggregate over vitals
// computes them, for minutes in [from, to), keyed by device, minute, context.
const VITALS = ['hr', 'spo2', 'rr', 'sbp', 'dbp', 'map', 'temp'];
async function rollupsVsAggregate(from, to) {
  const ctx = "device_id || '|' || (extract(epoch FROM minute) * 1000)::bigint || '|' || COALESCE(ward, '') || '|' || "
    + "COALESCE(bed, '') || '|' || COALESCE(patient_id, '') || '|' || COALESCE(encounter_id, '')";
  const cols = VITALS.map((v) => `${v}_n, ${v}_min::float8 AS ${v}_min, ${v}_max::float8 AS ${v}_max, ${v}_mean::float8 AS ${v}_mean`).join(', ');
  const stored = await db.query(`SELECT ${ctx} AS k, samples, ${cols} FROM vitals_rollup_1m WHERE minute >= $1 AND minute < $2`, [from, to]);
  const agg = await db.query(`SELECT ${ctx} AS k, samples, ${cols} FROM (SELECT device_id,
      date_bin('1 minute', measured_at, timestamptz 'epoch') AS minute, ward, bed, patient_id, encounter_id, count(*)::int AS samples,
      ${VITALS.map((v) => `NULLIF(count(${v}), 0)::int AS ${v}_n, min(${v}) AS ${v}_min, max(${v}) AS ${v}_max, avg(${v}) AS ${v}_mean`).join(', ')}
      FROM vitals WHERE measured_at >= $1 AND measured_at < $2 GROUP BY 1, 2, 3, 4, 5, 6) a`, [from, to]);
  const map = (rows) => new Map(rows.map((r) => [r.k, r]));
  return { stored: map(stored.rows), agg: map(agg.rows) };
}

function assertSameRollups({ stored, agg }, what) {
  assert.ok(agg.size > 0, `${what}: there are raw rows to compare`);
  assert.deepEqual([...stored.keys()].sort(), [...agg.keys()].sort(), `${what}: the same (device, minute, context) groups`);
  for (const [k, a] of agg) {
    const s = stored.get(k);
    assert.equal(s.samples, Number(a.samples), `${what} ${k}: samples`);
    for (const v of VITALS) {
      assert.equal(s[`${v}_n`], a[`${v}_n`], `${what} ${k}: ${v}_n`);
      for (const m of ['min', 'max', 'mean']) {
        const x = s[`${v}_${m}`];
        const y = a[`${v}_${m}`] === null ? null : Number(a[`${v}_${m}`]);
        if (y === null) assert.equal(x, null, `${what} ${k}: ${v}_${m}`);
        else assert.ok(Math.abs(x - y) <= 1e-5 * Math.max(1, Math.abs(y)), `${what} ${k}: ${v}_${m} ${x} vs ${y}`);
      }
    }
  }
}

async function metrics() {
  const r = await httpGet(metricsPort, '/metrics');
  return (series) => promValue(r.body, series);
}

before(async () => {
  metricsPort = await freePort();
  bench = await Bench.start({
    webhook: true, noBroker: true,
    options: { storage_interval_s: 1, retention_days: 30, rollup_retention_days: 400, metrics_port: metricsPort },
  });
  db = await bench.pg.client();
  await db.query("SET TIME ZONE 'UTC'");
  await db.query('SELECT vitalgate_ensure_partitions($1::date - 40, $1::date + 1)', [iso(today).slice(0, 10)]);
  await generateDay();
});

after(async () => {
  await db?.end();
  await bench?.stop();
});

test('retention drops a day partition exactly retention_days after it ended (moved clock)', async () => {
  const day = (k) => `vitals_${iso(today - k * DAY).slice(0, 10).replaceAll('-', '')}`;
  for (const k of [35, 34, 33]) {
    await db.query("INSERT INTO vitals (device_id, seq, measured_at, received_at, hr) VALUES ('old-1', $1, $2, $2, 70)",
      [k, iso(today - k * DAY + 12 * 3600000)]);
  }
  // Day D-35 ends at D-34 00:00; with 30 days it goes at D-4 00:00, not a millisecond before.
  const boundary = today - 4 * DAY;
  let r = (await db.query('SELECT * FROM vitalgate_retention($1, 30, 0)', [iso(boundary - 1)])).rows[0];
  assert.ok(r.dropped.split(' ').includes(day(36)), `the empty day partitions before it go: ${r.dropped}`);
  assert.ok(!r.dropped.includes(day(35)), 'D-35 is kept 1 ms before its boundary');
  assert.equal((await db.query('SELECT to_regclass($1) IS NOT NULL AS ok', [day(35)])).rows[0].ok, true);
  // A row no day partition covers any more lands in the default partition;
  // the same bound deletes it there.
  await db.query("INSERT INTO vitals (device_id, seq, measured_at, received_at, hr) VALUES ('old-1', 38, $1, $1, 70)",
    [iso(today - 38 * DAY)]);
  assert.equal((await db.query('SELECT count(*)::int AS n FROM vitals_default')).rows[0].n, 1);
  r = (await db.query('SELECT * FROM vitalgate_retention($1, 30, 0)', [iso(boundary)])).rows[0];
  assert.equal(r.dropped, day(35), 'exactly D-35 goes at its boundary');
  assert.equal(r.raw_dropped, 1);
  assert.equal(Number(r.rows_deleted), 1, 'and the default partition\'s row from before the bound');
  assert.equal((await db.query('SELECT to_regclass($1) IS NULL AS gone', [day(35)])).rows[0].gone, true);
  assert.equal((await db.query("SELECT count(*)::int AS n FROM vitals WHERE device_id = 'old-1'")).rows[0].n, 2);

  // Rollups: a month partition goes rollup_retention_days after the month ended.
  const month = new Date(today - 500 * DAY);
  const m0 = Date.UTC(month.getUTCFullYear(), month.getUTCMonth(), 1);
  const m1 = Date.UTC(month.getUTCFullYear(), month.getUTCMonth() + 1, 1);
  const mname = `vitals_rollup_1m_${iso(m0).slice(0, 7).replace('-', '')}`;
  await db.query('SELECT vitalgate_ensure_rollup_partitions($1, $1)', [iso(m0)]);
  await db.query("INSERT INTO vitals_rollup_1m (device_id, minute, samples, hr_n, hr_min, hr_max, hr_mean) VALUES ('old-1', $1, 1, 1, 70, 70, 70)", [iso(m0 + DAY)]);
  r = (await db.query('SELECT * FROM vitalgate_retention($1, 0, 400)', [iso(m1 + 400 * DAY - 1)])).rows[0];
  assert.equal(r.rollup_dropped, 0, `kept 1 ms before: ${r.dropped}`);
  r = (await db.query('SELECT * FROM vitalgate_retention($1, 0, 400)', [iso(m1 + 400 * DAY)])).rows[0];
  assert.equal(r.dropped, mname);
  assert.equal(r.raw_dropped, 0, 'p_days 0 keeps every raw partition');
});

test('rollups with a moved clock cover exactly the closed minutes and equal the SQL aggregate', async () => {
  const noon = D + 12 * 3600000;
  const r = (await db.query('CALL vitalgate_rollup($1, 1000000, NULL, NULL, NULL, NULL)', [iso(noon + 30000)])).rows[0];
  assert.equal(r.behind, false);
  const st = Object.fromEntries((await db.query('SELECT name, until FROM vitalgate_rollup_state')).rows.map((x) => [x.name, x.until.getTime()]));
  assert.equal(st.closed, noon - 60000, "a minute is closed once it ended a minute before the clock");
  assert.equal(st.rolled, st.closed);
  const last = (await db.query('SELECT max(minute) AS m FROM vitals_rollup_1m')).rows[0].m.getTime();
  assert.equal(last, noon - 120000, 'nothing after the closed minutes');
  assertSameRollups(await rollupsVsAggregate(iso(D), iso(noon - 60000)), 'moved clock');
  // Called again with the same clock: nothing changes.
  const again = (await db.query('CALL vitalgate_rollup($1, 1000000, NULL, NULL, NULL, NULL)', [iso(noon + 30000)])).rows[0];
  assert.equal(again.minutes, 0);
  assert.equal(Number(again.groups), 0);
});

test('the broker\'s storage worker catches up, drops what retention says, and rolls up late samples again', async () => {
  bench.broker = await Broker.start(bench.root, bench.brokerOpts);
  const broker = bench.broker;
  await broker.waitLog(/this broker now does the rollups and retention/, 10000);
  await broker.waitLog(/retention dropped \d+ raw vitals partition\(s\) older than 30 days/, 10000);
  await waitFor(async () => {
    const m = await metrics();
    return m('vitalgate_rollup_lag_seconds') < 130 && m('vitalgate_storage_passes_total{result="ok"}') >= 1;
  }, { timeout: 60000, interval: 500, what: 'the rollups to catch up' });
  let m = await metrics();
  assert.equal(m('vitalgate_storage_leader'), 1);
  assert.ok(m('vitalgate_retention_partitions_dropped_total') >= 2);
  assert.ok(m('vitalgate_rollup_minutes_total') >= (Date.now() - (D + 12 * 3600000)) / 60000 - 3,
    'from where the moved clock stopped (yesterday noon) to now');
  assert.equal(m('vitalgate_storage_passes_total{result="error"}'), 0);
  const rolled = (await db.query("SELECT until FROM vitalgate_rollup_state WHERE name = 'rolled'")).rows[0].until;
  assertSameRollups(await rollupsVsAggregate(iso(D), rolled.toISOString()), 'after catching up');

  // A late sample (five minutes old: a minute already rolled up) through the broker.
  const secret = await bench.addDevice('late_1', '3W', 'b3');
  await bench.waitIdentity(broker.port, 'late_1', secret);
  const c = await connect(broker.port, { id: 'late_1', password: secret });
  const lateTs = Date.now() - 5 * 60000;
  const recomputed = m('vitalgate_rollup_recomputed_total');
  await publishQos1(c, 'vitals/late_1', sample({ v: 1, seq: 1, ts: lateTs, hr: 77, spo2: 96 }));
  await waitFor(async () => (await metrics())('vitalgate_rollup_recomputed_total') > recomputed,
    { timeout: 15000, interval: 250, what: 'the late minute to be rolled up again' });
  await broker.waitLog(/device-minute\(s\) again after late samples/, 5000);
  const row = (await db.query("SELECT hr_n, hr_min, spo2_max FROM vitals_rollup_1m WHERE device_id = 'late_1'")).rows;
  assert.deepEqual(row, [{ hr_n: 1, hr_min: 77, spo2_max: 96 }]);
  const rolled2 = (await db.query("SELECT until FROM vitalgate_rollup_state WHERE name = 'rolled'")).rows[0].until;
  assertSameRollups(await rollupsVsAggregate(iso(D), rolled2.toISOString()), 'after a late sample');

  // An alert from a sample: its webhook names the sample's Observation.
  await publishQos1(c, 'vitals/late_1', sample({ v: 1, seq: 2, ts: Date.now(), hr: 150 }));
  await c.endAsync();
  const ev = await waitFor(() => bench.receiver.events.find((e) => e.data?.device_id === 'late_1'
    && e.data.kind === 'threshold'), { timeout: 10000, what: 'the alert webhook' });
  const want = fhirObservationId('late_1', 2, 'hr');
  assert.equal(ev.data.observation, `Observation/${want}`);
  assert.deepEqual(observationIds(ev), [want]);
  await waitFor(async () => (await db.query("SELECT 1 FROM vitals WHERE device_id = 'late_1' AND seq = 2")).rowCount === 1,
    { timeout: 10000, what: 'the alerting sample in PostgreSQL' });
  const out = path.join(bench.root, 'recent.ndjson');
  const r = bench.admin(['export', 'fhir', '--since', '1h', '--ward', '3W', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const ids = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l).id);
  assert.ok(ids.includes(want), 'the export writes the Observation the webhook named');

  // The storage report: the oldest row kept is the generated day's first.
  const rep = bench.admin(['storage']);
  assert.equal(rep.code, 0, rep.stderr);
  const line = rep.stdout.split('\n').find((l) => l.startsWith('vitals '));
  assert.match(line, new RegExp(`${iso(D).slice(0, 19)}Z$`), rep.stdout);
  assert.match(rep.stdout, /^vitals_rollup_1m +\d+ +[0-9.]+ [KMG]?i?B/m);
  assert.match(rep.stdout, /rollups complete up to \d{4}-/);
  m = await metrics();
  assert.ok(m('vitalgate_storage_last_pass_timestamp_seconds') > Date.now() / 1000 - 10);
});

test('export fhir: a generated day is valid R4, complete, stable and filterable by patient', async () => {
  const out1 = path.join(bench.root, 'day1.ndjson');
  const out2 = path.join(bench.root, 'day2.ndjson');
  const args = ['export', 'fhir', '--since', iso(D), '--until', iso(D + DAY)];
  let r = bench.admin([...args, '--out', out1]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /exported \d+ Observation\(s\): \d+ vital signs and \d+ NEWS2, from 3600 sample\(s\)/);
  r = bench.admin([...args, '--out', out2]);
  assert.equal(r.code, 0, r.stderr);
  const text = readFileSync(out1, 'utf8');
  const sha = (t) => createHash('sha256').update(t).digest('hex');
  assert.equal(sha(readFileSync(out2, 'utf8')), sha(text), 'two exports are byte-identical');

  const res = text.trim().split('\n').map((l) => JSON.parse(l));
  const problems = res.flatMap(validateObservation);
  assert.deepEqual(problems.slice(0, 10), [], `${problems.length} problem(s)`);
  const ids = new Set(res.map((o) => o.id));
  assert.equal(ids.size, res.length, 'ids are unique');

  // Every stored measurement is there, under the id bridge/node derives.
  const rows = (await db.query(`SELECT device_id, seq, hr, spo2, rr, sbp, dbp, map, temp, o2, avpu, patient_id
    FROM vitals WHERE measured_at >= $1 AND measured_at < $2`, [iso(D), iso(D + DAY)])).rows;
  const want = new Set();
  for (const x of rows) {
    for (const k of ['hr', 'spo2', 'rr', 'map', 'temp']) if (x[k] !== null) want.add(fhirObservationId(x.device_id, x.seq, k));
    if (x.sbp !== null || x.dbp !== null) want.add(fhirObservationId(x.device_id, x.seq, 'bp'));
    if (['hr', 'spo2', 'rr', 'sbp', 'temp', 'o2', 'avpu'].some((k) => x[k] !== null)) want.add(fhirObservationId(x.device_id, x.seq, 'news2'));
  }
  assert.deepEqual([...ids].sort(), [...want].sort(), 'one Observation per coded measurement, panel and scored sample');

  // NEWS2 points at the vital signs it was derived from, all in the export.
  const news2 = res.filter((o) => o.id.endsWith('-news2'));
  assert.ok(news2.some((o) => o.component.every((c) => c.valueInteger !== undefined)), 'some complete scores');
  for (const o of news2) {
    assert.ok(o.derivedFrom.length > 0, o.id);
    for (const d of o.derivedFrom) assert.ok(ids.has(d.reference.replace('Observation/', '')), `${o.id} -> ${d.reference}`);
  }
  // Subjects: the patient when known (by id, or by identifier when the id is no FHIR id), else the bed.
  const subj = (o) => o.subject.reference ?? `${o.subject.type}:${o.subject.identifier.value}`;
  const seen = new Set(res.map(subj));
  for (const s of ['Patient/p-1', 'Patient/p-2', 'Patient:pat_3', 'Patient/p-4', 'Location:3W/b3']) assert.ok(seen.has(s), s);
  assert.ok(res.filter((o) => o.subject.reference === 'Patient/p-2').every((o) => o.encounter.reference === 'Encounter/e-2'));

  // --patient: exactly that patient's resources.
  for (const [p, key] of [['p-1', 'Patient/p-1'], ['pat_3', 'Patient:pat_3']]) {
    const outp = path.join(bench.root, `patient-${p}.ndjson`);
    r = bench.admin([...args, '--patient', p, '--out', outp]);
    assert.equal(r.code, 0, r.stderr);
    const mine = readFileSync(outp, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(mine.length > 100);
    assert.ok(mine.every((o) => subj(o) === key), `only ${key}`);
    const vit = (list) => list.filter((o) => !o.id.endsWith('-news2')).map((o) => o.id).sort();
    assert.deepEqual(vit(mine), vit(res.filter((o) => subj(o) === key)), `all of ${key}'s vital signs`);
  }
  r = bench.admin(['export', 'fhir', '--since', 'yesterday']);
  assert.equal(r.code, 2, 'a usage error');
  r = bench.admin(['export', 'fhir', '--since', '1h', '--ward', '3W', '--patient', 'p-1']);
  assert.equal(r.code, 2);
});
