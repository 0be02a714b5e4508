#!/usr/bin/env node
// Storage that lives for years (issue 17): what retention and rollups cost
// and save, and what a FHIR export costs.
//  1. disk: --devices devices x --minutes minutes at 1 Hz generated straight
//     into PostgreSQL (INSERT ... SELECT generate_series, one statement per
//     minute: no broker), bytes per raw row (table and its indexes), the
//     cost of rolling those minutes up (vitalgate_rollup, timed, and the
//     backend's CPU) and bytes per rollup row; extrapolated to a day and to
//     a steady state with retention (raw retention_days, rollups
//     rollup_retention_days) versus keeping every raw row;
//  2. export: `vitalgate-admin export fhir` of one ward, and of ten seconds
//     of every device, into a file: Observations/s;
//  3. ingest at --ingest-devices x --batch samples/s (QoS 1, vgload) for
//     --seconds each: the base build (--base-plugin, no rollup marks, no
//     worker), this build without the storage worker, this build with it
//     (storage_interval_s 60); the broker's worker threads' CPU (the
//     writer, mostly), the storage thread's, and PostgreSQL's; then the same
//     with an export running, and the writer's lag during it.
//
//   node bench/storage.mjs [--devices 10000] [--minutes 10] [--ingest-devices 2000] [--batch 5]
//     [--seconds 120] [--base-plugin /tmp/base/build/vitalgate.so] [--json out.json]
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

import { ADMIN, Bench, Broker, cpuOf, freePort, httpGet, promValue, vgload } from '../tests/lib/bench.mjs';

const args = process.argv.slice(2);
const opt = { devices: 10000, minutes: 10, 'ingest-devices': 2000, batch: 5, seconds: 120, 'base-plugin': null, json: null, skip: '' };
for (let i = 0; i < args.length; i++) {
  const k = args[i].replace(/^--/, '');
  opt[k] = ['json', 'base-plugin', 'skip'].includes(k) ? args[++i] : Number(args[++i]);
}
const log = (m) => process.stderr.write(`storage: ${m}\n`);
const DAY = 86400000;
const result = { opt };

// CPU seconds of a PostgreSQL cluster: the postmaster and its children.
function pgCpu(pg) {
  const pm = Number(readFileSync(path.join(pg.data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  let ticks = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = st.slice(st.indexOf(')') + 2).split(' ');
      if (Number(d) === pm || Number(f[1]) === pm) ticks += Number(f[11]) + Number(f[12]);
    } catch { /* gone */ }
  }
  return ticks / 100;
}

// CPU seconds of the broker's threads named vg-storage.
function threadCpu(pid, name) {
  let s = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      if (readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim() !== name) continue;
      s += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]) / 1e9;
    } catch { /* gone */ }
  }
  return s;
}

async function relBytes(db, sql, params) {
  return Number((await db.query(sql, params)).rows[0].b);
}

function exportRun(bench, argv, out) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const c = spawn(ADMIN, ['--db', bench.pg.conninfo, 'export', 'fhir', ...argv, '--out', out], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d) => { err += d; });
    c.on('close', (code) => { // after stderr is read to its end
      if (code !== 0) return reject(new Error(`export failed: ${err}`));
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      const n = Number(/exported (\d+) Observation/.exec(err)[1]);
      resolve({ observations: n, seconds: secs, per_s: Math.round(n / secs), bytes: statSync(out).size });
    });
  });
}

// ---- 1 and 2: disk, rollup cost, export throughput --------------------------
if (!opt.skip.includes('disk')) {
  const bench = await Bench.start({ noBroker: true });
  try {
    const db = await bench.pg.client();
    const day = Math.floor(Date.now() / DAY) * DAY - DAY;     // yesterday, UTC
    const t0 = day + 10 * 3600000;
    await db.query('SELECT vitalgate_ensure_partitions($1::date, $1::date)', [new Date(day).toISOString().slice(0, 10)]);
    const part = `vitals_${new Date(day).toISOString().slice(0, 10).replaceAll('-', '')}`;
    log(`generating ${opt.devices} devices x ${opt.minutes} min at 1 Hz into ${part}`);
    const g0 = Date.now();
    for (let m = 0; m < opt.minutes; m++) {
      // A bedside monitor: hr, spo2, rr every second, temperature every
      // minute, blood pressure every 15 minutes; 100 wards of beds.
      await db.query(`INSERT INTO vitals (device_id, seq, measured_at, received_at, ward, bed, hr, spo2, rr, sbp, dbp, temp)
        SELECT 'mon-' || d, $2 * 60 + s, $1::timestamptz + (s * 1000 + d % 1000) * interval '1 millisecond',
          $1::timestamptz + (s * 1000 + d % 1000 + 40) * interval '1 millisecond', 'W' || (d % 100), 'B' || d,
          60 + (d + s) % 40, 90 + (d * 7 + s) % 11, 10 + (d + s) % 15,
          CASE WHEN ($2 * 60 + s + d) % 900 = 0 THEN 110 + d % 40 END, CASE WHEN ($2 * 60 + s + d) % 900 = 0 THEN 70 + d % 20 END,
          CASE WHEN s = d % 60 THEN 36.0 + (d % 20) / 10.0 END
        FROM generate_series(0, $3::int - 1) d, generate_series(0, 59) s`, [new Date(t0 + m * 60000).toISOString(), m, opt.devices]);
    }
    const rows = opt.devices * opt.minutes * 60;
    result.generate = { rows, seconds: (Date.now() - g0) / 1000, rows_per_s: Math.round(rows / ((Date.now() - g0) / 1000)) };
    await db.query('VACUUM ANALYZE vitals');
    const raw = await relBytes(db, 'SELECT pg_total_relation_size($1::regclass) AS b', [part]);
    const rawHeap = await relBytes(db, 'SELECT pg_relation_size($1::regclass) AS b', [part]);
    log(`rolling up ${opt.minutes} minutes`);
    const cpu0 = pgCpu(bench.pg);
    const r0 = Date.now();
    const ru = (await db.query('CALL vitalgate_rollup($1, $2, NULL, NULL, NULL, NULL)',
      [new Date(t0 + (opt.minutes + 2) * 60000).toISOString(), opt.minutes + 100000])).rows[0];
    const rollSecs = (Date.now() - r0) / 1000;
    const rollCpu = pgCpu(bench.pg) - cpu0;
    const rollRows = Number((await db.query('SELECT count(*)::bigint AS n FROM vitals_rollup_1m WHERE minute >= $1', [new Date(t0).toISOString()])).rows[0].n);
    const roll = await relBytes(db, "SELECT sum(pg_total_relation_size(relid)) AS b FROM pg_partition_tree('vitals_rollup_1m')");
    const perRow = raw / rows;
    const perRollup = roll / rollRows;
    const dayRows = 10000 * 86400;
    const dayRollups = 10000 * 1440;
    result.disk = {
      raw_bytes: raw, raw_heap_bytes: rawHeap, bytes_per_raw_row: Math.round(perRow), rollup_rows: rollRows,
      rollup_bytes: roll, bytes_per_rollup_row: Math.round(perRollup),
      rollup_seconds: rollSecs, rollup_pg_cpu_s: rollCpu, rollup_minutes: ru.minutes,
      rollup_cpu_s_per_minute_at_10k: (rollCpu / opt.minutes) * (10000 / opt.devices),
      // a day of 10,000 devices at 1 Hz, extrapolated from the bytes per row
      day_raw_gib: (perRow * dayRows) / 2 ** 30, day_rollup_gib: (perRollup * dayRollups) / 2 ** 30,
    };
    const d = result.disk;
    d.steady_with_retention_gib = d.day_raw_gib * 30 + d.day_rollup_gib * 400;
    d.after_400_days_without_gib = d.day_raw_gib * 400;
    log(JSON.stringify(result.disk));

    log('export: one ward');
    result.export_ward = await exportRun(bench, ['--since', new Date(day).toISOString(), '--ward', 'W7'], path.join(bench.root, 'ward.ndjson'));
    log(JSON.stringify(result.export_ward));
    log('export: ten seconds of every device');
    result.export_all = await exportRun(bench, ['--since', new Date(t0 + 60000).toISOString(), '--until', new Date(t0 + 70000).toISOString()],
      path.join(bench.root, 'minute.ndjson'));
    log(JSON.stringify(result.export_all));
    await db.end();
  } finally {
    await bench.stop();
  }
}

// ---- 3: ingest at 10,000 samples/s with and without rollups; with an export --------
async function ingestRun(bench, label, { plugin, options, exportDuring }) {
  const metricsPort = await freePort();
  const b = await Broker.start(bench.root, { ...bench.brokerOpts, plugin,
    options: { metrics_port: metricsPort, journal_max_mb: 4096, ...options } });
  await sleep(3000);
  const pid = b.proc.pid;
  const c0 = cpuOf(pid);
  const s0 = threadCpu(pid, 'vg-storage');
  const p0 = pgCpu(bench.pg);
  let maxLag = 0;
  const poll = setInterval(async () => {
    try {
      const m = await httpGet(metricsPort, '/metrics');
      maxLag = Math.max(maxLag, promValue(m.body, 'vitalgate_writer_lag_seconds') ?? 0);
    } catch { /* broker busy */ }
  }, 500);
  const load = vgload(b.port, ['--creds', bench.credFile, '--connect-rate', '2000', '--qos', '1', '--rate', '1',
    '--batch', String(opt.batch), '--duration', String(opt.seconds)], { cpu: null });
  let exp = null;
  if (exportDuring) {
    await sleep(20000);
    exp = await exportRun(bench, ['--since', '2h'], path.join(bench.root, 'during.ndjson'));
  }
  const lr = await load;
  clearInterval(poll);
  const c1 = cpuOf(pid, c0);
  const out = {
    label, samples_per_s: Math.round((lr.puback_ok * opt.batch) / opt.seconds), puback_p99_ms: (lr.puback_p99_us ?? lr.puback_p99_ms * 1000) / 1000,
    broker_main_cpu_s: c1.main, broker_workers_cpu_s: c1.workers, storage_thread_cpu_s: threadCpu(pid, 'vg-storage') - s0,
    pg_cpu_s: pgCpu(bench.pg) - p0, writer_max_lag_s: maxLag, export: exp,
  };
  await b.stop();
  log(JSON.stringify(out));
  return out;
}

if (!opt.skip.includes('ingest')) {
  const bench = await Bench.start({ noBroker: true });
  try {
    log(`provisioning ${opt['ingest-devices']} devices`);
    const creds = bench.importDevices(Array.from({ length: opt['ingest-devices'] }, (_, i) => `st-${i} W${i % 40} B${i}`));
    bench.credFile = path.join(bench.root, 'creds.txt');
    writeFileSync(bench.credFile, `${creds.map((c) => `${c.id} ${c.secret}`).join('\n')}\n`);
    result.ingest = [];
    if (opt['base-plugin']) {
      result.ingest.push(await ingestRun(bench, 'base build (no rollup marks, no worker)', { plugin: opt['base-plugin'], options: {} }));
    }
    result.ingest.push(await ingestRun(bench, 'no storage worker (storage_interval_s 0)', { options: { storage_interval_s: 0 } }));
    result.ingest.push(await ingestRun(bench, 'storage worker every 60 s', { options: { storage_interval_s: 60 } }));
    result.ingest.push(await ingestRun(bench, 'storage worker, export running', { options: { storage_interval_s: 60 }, exportDuring: true }));
  } finally {
    await bench.stop();
  }
}

if (opt.json) writeFileSync(opt.json, `${JSON.stringify(result, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(result)}\n`);
