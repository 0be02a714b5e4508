#!/usr/bin/env node
// Steady ward traffic: --devices monitors at 1 Hz with QoS 1 in --wards
// wards, for --seconds, in --rounds alternating rounds of bare Mosquitto
// (anonymous devices, one station on vitals/#: every sample delivered) and
// Mosquitto + Vitalgate (real identities, one station per ward on its frame
// wards/<ward>/vitals; with --bed-topics, v1's per-bed topics instead:
// plugin_opt_bed_topics true, the stations on wards/<ward>/beds/+/vitals).
// Prints, for both and their ratio (medians of the rounds, and each round):
//  - the broker thread's CPU per message, measured over the traffic only
//    (connections and authentication excluded: /proc sampled every 500 ms);
//  - PUBACK p50/p99; bare: device-to-station p50/p99; Vitalgate: sample to
//    its first ward frame at the station p50/p99 (or device-to-station with
//    --bed-topics);
//  - PostgreSQL's CPU (every backend) over the same window, and sample to
//    committed (PostgreSQL's commit timestamp of each row minus its
//    received_at) p50/p99 for the rows of that window.
// --perf: `perf record` of the broker thread for 5 s in the middle of each
// Vitalgate round, split by bench/perf-split.py (the plugin's own µs per
// sample).
//
//   node bench/steady.mjs [--devices 10000] [--wards 25] [--seconds 30] [--rounds 3] [--frame-ms 1000]
//                         [--bed-topics] [--perf] [--json out.json]
//
// Broker thread on core 0; vgload, PostgreSQL and the plugin's workers on core 1.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

import { Bench, Broker, vgload, cpuOf, treeCpu } from '../tests/lib/bench.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = { devices: 10000, wards: 25, seconds: 30, rounds: 3, 'frame-ms': 1000, json: null, 'bed-topics': false, perf: false };
for (let i = 0; i < args.length; i++) {
  const k = args[i].replace(/^--/, '');
  if (k === 'bed-topics' || k === 'perf') opt[k] = true;
  else opt[k] = k === 'json' ? args[++i] : Number(args[++i]);
}
const log = (m) => process.stderr.write(`steady: ${m}\n`);
const median = (xs) => { const s = [...xs].filter((x) => x !== null && x !== undefined).sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : null; };
const spread = (xs) => { const s = xs.filter((x) => x !== null && x !== undefined); return s.length ? [Math.min(...s), Math.max(...s)] : [null, null]; };

// perf record of the broker's main thread for `seconds`, then perf-split.
async function perfSplit(pid, seconds, msgs) {
  // VG_PERF_DIR keeps the recording (perf report -i ... for a closer look).
  const data = path.join(process.env.VG_PERF_DIR ?? bench.root, `perf-${pid}.data`);
  const rec = spawn('perf', ['record', '-q', '-o', data, '--call-graph', 'dwarf', '-F', '2000', '-t', String(pid), '--', 'sleep', String(seconds)],
    { stdio: 'ignore' });
  await new Promise((r) => rec.on('exit', r));
  const script = spawnSync('sh', ['-c', `perf script -i ${data} 2>/dev/null | ${path.join(here, 'perf-split.py')} --msgs ${msgs}`],
    { encoding: 'utf8', maxBuffer: 1 << 26 });
  return script.stdout;
}

// Runs vgload while sampling the broker's CPU; returns the summary and the
// main thread's CPU µs per message over the traffic window.
async function measured(broker, argv, { withPg = false, withPerf = false } = {}) {
  const samples = [];
  const t0 = Date.now();
  const timer = setInterval(() => samples.push({ at: Date.now() - t0, ...cpuOf(broker.proc.pid) }), 500);
  const pgCpu = [];
  let perfOut = null;
  const run = vgload(broker.port, argv);
  // PostgreSQL's CPU at the window's two ends (read twice, not sampled: a
  // process walk costs CPU on this small machine).
  const mid = (async () => {
    if (!withPg && !withPerf) return;
    // Connections take devices / 2000 s (--connect-rate 2000); the traffic
    // then runs --seconds: measure from 3 s into it to 1 s before its end
    // (less in short runs).
    const connectS = opt.devices / 2000 + 1;
    const lead = Math.min(3, opt.seconds / 4);
    await sleep((connectS + lead) * 1000);
    if (withPg) pgCpu.push({ at: Date.now(), cpu: treeCpu(bench.pg.proc.pid) });
    if (withPerf) perfOut = await perfSplit(broker.proc.pid, 5, 5 * opt.devices);
    const end = t0 + (connectS + opt.seconds - Math.min(1, opt.seconds / 4)) * 1000;
    if (end > Date.now()) await sleep(end - Date.now());
    if (withPg) pgCpu.push({ at: Date.now(), cpu: treeCpu(bench.pg.proc.pid) });
  })();
  const r = await run;
  await mid;
  clearInterval(timer);
  // Traffic runs from the last CONNACK for --seconds; keep its middle part.
  const from = (r.connect_ms_last ?? 0) + 2000;
  const to = (r.connect_ms_last ?? 0) + opt.seconds * 1000 - 1000;
  const win = samples.filter((s) => s.at >= from && s.at <= to);
  let cpuUsPerMsg = null;
  let workerUsPerMsg = null;
  if (win.length >= 2) {
    const a = win[0];
    const b = win.at(-1);
    const msgs = r.pub_rate * (b.at - a.at) / 1000;
    cpuUsPerMsg = (b.main - a.main) * 1e6 / msgs;
    workerUsPerMsg = (b.workers - a.workers) * 1e6 / msgs;
  }
  let pgCorePct = null;
  let pgWindow = null;
  if (pgCpu.length === 2) {
    pgCorePct = 100 * (pgCpu[1].cpu - pgCpu[0].cpu) / ((pgCpu[1].at - pgCpu[0].at) / 1000);
    pgWindow = [pgCpu[0].at, pgCpu[1].at];
  }
  return { r, cpuUsPerMsg, workerUsPerMsg, pgCorePct, pgWindow, perfOut };
}

// Sample to committed for the rows received in [from, to] (ms): PostgreSQL
// keeps each transaction's commit time (track_commit_timestamp).
async function commitLatency([from, to]) {
  const q = await bench.pg.query(`SELECT
      percentile_cont(0.5) WITHIN GROUP (ORDER BY d) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY d) AS p99, max(d) AS max, count(*) AS n
    FROM (SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin) - received_at) * 1000 AS d
          FROM vitals WHERE received_at BETWEEN to_timestamp($1 / 1000.0) AND to_timestamp($2 / 1000.0)) x`, [from, to]);
  const row = q.rows[0];
  return { p50_ms: Number(row.p50), p99_ms: Number(row.p99), max_ms: Number(row.max), rows: Number(row.n) };
}

const bench = await Bench.start({ noBroker: true, pgSettings: { track_commit_timestamp: 'on' } });
try {
  log(`provisioning ${opt.devices} devices in ${opt.wards} wards and a station per ward`);
  const creds = bench.importDevices(Array.from({ length: opt.devices }, (_, i) => `sd-${i} S${i % opt.wards} B${i}`));
  const credFile = path.join(bench.root, 'creds.txt');
  writeFileSync(credFile, `${creds.map((c) => `${c.id} ${c.secret}`).join('\n')}\n`);
  const wards = Array.from({ length: opt.wards }, (_, i) => `S${i}`);
  const sta = [];
  for (const w of wards) {
    const secret = await bench.adminOk(['station', 'add', `sd-desk-${w}`, '--wards', w]);
    sta.push(`sd-desk-${w} ${secret} ${opt['bed-topics'] ? `wards/${w}/beds/+/vitals` : `wards/${w}/vitals`}`);
  }
  const staFile = path.join(bench.root, 'stations.txt');
  writeFileSync(staFile, `${sta.join('\n')}\n`);
  bench.pg.pin(1);
  const quiet = { logTypes: ['error', 'warning'], readyByTcp: true, cpu: 0, workerCpu: 1 };
  const traffic = ['--rate', '1', '--qos', '1', '--duration', String(opt.seconds), '--connect-rate', '2000', '--station-qos', '0'];
  const pluginOptions = { station_frame_ms: opt['frame-ms'], ...(opt['bed-topics'] ? { bed_topics: 'true' } : {}) };
  const rounds = [];
  for (let round = 1; round <= opt.rounds; round++) {
    log(`round ${round}: bare Mosquitto`);
    const b = await Broker.start(bench.root, { ...quiet, noPlugin: true });
    const bare = await measured(b, ['--anonymous', '--clients', String(opt.devices), '--stations', '1', '--station-topic', 'vitals/#', ...traffic]);
    await b.stop();
    log(`round ${round}: Mosquitto + Vitalgate`);
    const p = await Broker.start(bench.root, { ...bench.brokerOpts, ...quiet, spoolDir: bench.newSpool(`spool-${round}`), options: pluginOptions });
    await bench.waitIdentity(p.port, creds[0].id, creds[0].secret);
    const vg = await measured(p, ['--creds', credFile, '--station-creds', staFile, '--stations', String(opt.wards), ...traffic],
      { withPg: true, withPerf: opt.perf });
    await sleep(1500); // the writer commits the last rows
    await p.stop();
    for (const [name, m] of [['bare', bare], ['vitalgate', vg]]) {
      if (m.r.connack_ok !== opt.devices || m.r.puback_refused) {
        throw new Error(`${name}: ${m.r.connack_ok} connected, ${m.r.puback_refused} refused: ${JSON.stringify(m.r)}`);
      }
    }
    const commit = vg.pgWindow ? await commitLatency(vg.pgWindow) : null;
    const frames = !opt['bed-topics'];
    const fig = (m, station) => ({
      cpu_us_per_msg: m.cpuUsPerMsg, worker_cpu_us_per_msg: m.workerUsPerMsg, msgs_per_s: m.r.pub_rate,
      puback_p50_us: m.r.puback_p50_us, puback_p99_us: m.r.puback_p99_us,
      station_p50_us: station === 'frame' ? m.r.frame_p50_us : m.r.d2s_p50_us,
      station_p99_us: station === 'frame' ? m.r.frame_p99_us : m.r.d2s_p99_us,
      station_p999_us: station === 'frame' ? m.r.frame_p999_us : m.r.d2s_p999_us,
      deliveries: m.r.deliveries, frames: m.r.frames, frame_samples: m.r.frame_samples, frame_bytes: m.r.frame_bytes,
      pub_lag_max_us: m.r.pub_lag_max_us,
    });
    const r = { round, bare: fig(bare, 'd2s'), vitalgate: fig(vg, frames ? 'frame' : 'd2s'),
      pg_core_pct: vg.pgCorePct, commit, perf: vg.perfOut };
    log(JSON.stringify({ ...r, perf: undefined }));
    if (vg.perfOut) log(`perf, round ${round}:\n${vg.perfOut}`);
    rounds.push(r);
  }
  const keys = ['cpu_us_per_msg', 'puback_p50_us', 'puback_p99_us', 'station_p50_us', 'station_p99_us', 'station_p999_us'];
  const med = {};
  for (const k of keys) {
    const ratios = rounds.map((r) => r.vitalgate[k] / r.bare[k]);
    med[k] = {
      bare: median(rounds.map((r) => r.bare[k])),
      vitalgate: median(rounds.map((r) => r.vitalgate[k])),
      ratio: median(ratios),
      ratios,
    };
  }
  med.worker_cpu_us_per_msg = median(rounds.map((r) => r.vitalgate.worker_cpu_us_per_msg));
  med.plugin_us_per_msg = med.cpu_us_per_msg.vitalgate - med.cpu_us_per_msg.bare;
  med.pg_core_pct = median(rounds.map((r) => r.pg_core_pct));
  med.commit_p99_ms = median(rounds.map((r) => r.commit?.p99_ms));
  med.commit_p50_ms = median(rounds.map((r) => r.commit?.p50_ms));
  med.frame_bytes = median(rounds.map((r) => (r.vitalgate.frames ? r.vitalgate.frame_bytes / r.vitalgate.frames : null)));
  const out = { bench: 'steady', devices: opt.devices, wards: opt.wards, seconds: opt.seconds, frame_ms: opt['frame-ms'],
    bed_topics: opt['bed-topics'], rounds, median: med };
  const what = opt['bed-topics'] ? 'device → station (v1 bed topics)' : 'sample → ward frame at the station';
  console.log(`\nSteady ward traffic: ${opt.devices} devices x 1 Hz QoS 1, ${opt.wards} wards, ${opt['bed-topics'] ? 'v1 per-bed topics' : `frames every ${opt['frame-ms']} ms`}, ` +
    `${opt.seconds} s x ${opt.rounds} rounds (medians; ratio = median of the rounds' ratios, then each round's)`);
  console.log('| figure | bare Mosquitto | Mosquitto + Vitalgate | ratio | ratio per round |');
  console.log('| --- | --- | --- | --- | --- |');
  const f = (x, d) => (x === null || x === undefined ? '-' : x.toFixed(d));
  const row = (label, k, unit, d = 0) => console.log(`| ${label} | ${f(med[k].bare, d)} ${unit} | ${f(med[k].vitalgate, d)} ${unit} | ${f(med[k].ratio, 2)} | ${med[k].ratios.map((x) => f(x, 2)).join(', ')} |`);
  row('broker-thread CPU per message', 'cpu_us_per_msg', 'µs', 2);
  row('PUBACK p50', 'puback_p50_us', 'µs');
  row('PUBACK p99', 'puback_p99_us', 'µs');
  row(`station p50 (bare: device → station; Vitalgate: ${what})`, 'station_p50_us', 'µs');
  row('station p99', 'station_p99_us', 'µs');
  row('station p99.9', 'station_p999_us', 'µs');
  console.log(`\nPlugin cost on the broker thread: ${f(med.plugin_us_per_msg, 2)} µs per message; ` +
    `Vitalgate's worker threads: ${f(med.worker_cpu_us_per_msg, 2)} µs per message (on the other core).`);
  console.log(`PostgreSQL: ${f(med.pg_core_pct, 1)} % of a core (rounds: ${rounds.map((r) => f(r.pg_core_pct, 1)).join(', ')}); ` +
    `sample to committed p50 ${f(med.commit_p50_ms, 0)} ms, p99 ${f(med.commit_p99_ms, 0)} ms (rounds: ${rounds.map((r) => f(r.commit?.p99_ms, 0)).join(', ')}).`);
  if (med.frame_bytes) console.log(`Ward frames: ${f(med.frame_bytes, 0)} bytes each.`);
  if (opt.json) {
    mkdirSync(path.dirname(opt.json), { recursive: true });
    writeFileSync(opt.json, `${JSON.stringify(out, null, 2)}\n`);
  }
} finally {
  await bench.stop();
}
