#!/usr/bin/env node
// Reconnect storm: N devices connect to a freshly started broker at the
// broker's own speed, with their real credentials (Mosquitto + Vitalgate:
// secret check, throttle tables, audit trail) and anonymously (bare
// Mosquitto, same config minus the plugin), alternating in the same run:
//  - all at once (every CONNECT sent as fast as vgload can open sockets);
//  - with --inflight N CONNECTs in flight (a new one as each CONNACK comes:
//    the rate is the broker's);
//  - paced at --paced connects/s, only when given (a paced storm measures
//    the pacing, not the broker).
// Prints the time to the last CONNACK, medians and the ratio, and the
// broker thread's CPU per connect.
//
//   node bench/storm.mjs [--devices 10000] [--rounds 5] [--inflight 64] [--paced 0] [--perf] [--json out.json]
//
// --perf: `perf record -g` of the Vitalgate broker's thread through each of
// its storms (recordings kept in VG_PERF_DIR, default the run's temporary
// directory), and of bare Mosquitto's through its storms: the share of
// each object (kernel, libc, mosquitto, the plugin), the symbols with the
// most samples, children included, and the plugin's own symbols:
// where a CONNECT's time goes (secret hash, identity lookups, the audit
// journal, Mosquitto's own work).
//
// The broker's thread has core 0 to itself; vgload, PostgreSQL and the
// plugin's worker threads share core 1 (on a real server the database and
// the workers would not take the broker thread's core). The plugin's whole
// CPU use (workers included) is reported beside the times. Needs a build
// (build/vitalgate.so, build/vitalgate-admin, build/bench/vgload).
import { writeFileSync, mkdirSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';

import { Bench, Broker, vgload, cpuOf } from '../tests/lib/bench.mjs';

const args = process.argv.slice(2);
const opt = { devices: 10000, rounds: 5, inflight: 64, paced: 0, json: null, perf: false };
for (let i = 0; i < args.length; i++) {
  const k = args[i].replace(/^--/, '');
  if (k === 'perf') opt.perf = true;
  else opt[k] = k === 'json' ? args[++i] : Number(args[++i]);
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const log = (m) => process.stderr.write(`storm: ${m}\n`);
// perf record of the broker's main thread until stop() is called; stop()
// answers the top of `perf report --children` (self and inclusive share).
function perfRecord(pid, file) {
  const rec = spawn('perf', ['record', '-q', '-o', file, '-g', '-F', '4000', '-t', String(pid)], { stdio: 'ignore' });
  return async () => {
    rec.kill('SIGINT');
    await new Promise((r) => rec.on('exit', r));
    const report = (extra) => spawnSync('perf', ['report', '-i', file, '--stdio', '-g', 'none', ...extra],
      { encoding: 'utf8', maxBuffer: 1 << 26 }).stdout.split('\n').filter((l) => /^\s+\d/.test(l));
    return [...report(['--no-children', '--sort', 'dso']).slice(0, 8), '',
      ...report(['--children', '--percent-limit', '1.5', '--sort', 'symbol']).slice(0, 30), '',
      ...report(['--no-children', '--dso', 'vitalgate.so', '--sort', 'symbol']).slice(0, 12)].join('\n');
  };
}

const MODES = ['all-at-once', ...(opt.inflight > 0 ? ['inflight'] : []), ...(opt.paced > 0 ? ['paced'] : [])];
const modeName = (mode) => (mode === 'paced' ? `paced ${opt.paced}/s` : mode === 'inflight' ? `${opt.inflight} in flight` : 'all at once');


const bench = await Bench.start({ noBroker: true });
try {
  log(`provisioning ${opt.devices} devices`);
  const creds = bench.importDevices(Array.from({ length: opt.devices }, (_, i) => `storm-${i} S${i % 40} B${i}`));
  const credFile = path.join(bench.root, 'creds.txt');
  writeFileSync(credFile, `${creds.map((c) => `${c.id} ${c.secret}`).join('\n')}\n`);
  bench.pg.pin(1);
  const quiet = { logTypes: ['error', 'warning'], readyByTcp: true, cpu: 0, workerCpu: 1 };
  const bare = new Broker();
  Object.assign(bare, { root: bench.root, lines: [] });
  const results = [];
  for (let round = 1; round <= opt.rounds; round++) {
    for (const mode of MODES) {
      const rate = mode === 'paced' ? ['--connect-rate', String(opt.paced)]
        : mode === 'inflight' ? ['--connect-rate', '0', '--connect-inflight', String(opt.inflight)] : ['--connect-rate', '0'];
      // Bare Mosquitto, anonymous.
      const b = await Broker.start(bench.root, { ...quiet, noPlugin: true });
      const cb0 = cpuOf(b.proc.pid);
      const stopBarePerf = opt.perf
        ? perfRecord(b.proc.pid, path.join(process.env.VG_PERF_DIR ?? bench.root, `perf-storm-bare-${round}-${mode}.data`)) : null;
      const rb = await vgload(b.port, ['--anonymous', '--clients', String(opt.devices), ...rate]);
      if (stopBarePerf) log(`perf, round ${round} ${mode} (bare broker thread: by object; children, self, symbol):\n${await stopBarePerf()}`);
      const cb = cpuOf(b.proc.pid, cb0);
      await b.stop();
      // Mosquitto + Vitalgate, real credentials, a fresh start.
      const p = await Broker.start(bench.root, { ...bench.brokerOpts, ...quiet, spoolDir: bench.newSpool(`spool-${round}-${mode}`) });
      await bench.waitIdentity(p.port, creds[0].id, creds[0].secret);
      const cp0 = cpuOf(p.proc.pid);
      const stopPerf = opt.perf
        ? perfRecord(p.proc.pid, path.join(process.env.VG_PERF_DIR ?? bench.root, `perf-storm-${round}-${mode}.data`)) : null;
      const rp = await vgload(p.port, ['--creds', credFile, ...rate]);
      if (stopPerf) log(`perf, round ${round} ${mode} (Vitalgate broker thread: by object; children, self, symbol; the plugin's own symbols):\n${await stopPerf()}`);
      await new Promise((r) => setTimeout(r, 1500)); // the writer finishes the audit rows
      const cp = cpuOf(p.proc.pid, cp0);
      await p.stop();
      for (const [broker, r] of [['bare', rb], ['vitalgate', rp]]) {
        if (r.connack_ok !== opt.devices) throw new Error(`${broker}: only ${r.connack_ok} of ${opt.devices} connected: ${JSON.stringify(r)}`);
      }
      results.push({ round, mode, bare: rb.connect_ms_last, vitalgate: rp.connect_ms_last,
        bare_p50: rb.connect_p50_ms, vitalgate_p50: rp.connect_p50_ms,
        bare_cpu_us_per_connect: cb.main / opt.devices * 1e6, vitalgate_main_cpu_us_per_connect: cp.main / opt.devices * 1e6,
        vitalgate_worker_cpu_us_per_connect: cp.workers / opt.devices * 1e6 });
      log(`round ${round} ${mode}: bare ${rb.connect_ms_last.toFixed(0)} ms, vitalgate ${rp.connect_ms_last.toFixed(0)} ms`);
    }
  }
  const summary = {};
  for (const mode of MODES) {
    const rs = results.filter((r) => r.mode === mode);
    const mb = median(rs.map((r) => r.bare));
    const mv = median(rs.map((r) => r.vitalgate));
    summary[mode] = { bare_ms: mb, vitalgate_ms: mv, ratio: mv / mb, ratios: rs.map((r) => r.vitalgate / r.bare),
      bare_cpu_us: median(rs.map((r) => r.bare_cpu_us_per_connect)),
      vitalgate_main_cpu_us: median(rs.map((r) => r.vitalgate_main_cpu_us_per_connect)),
      vitalgate_worker_cpu_us: median(rs.map((r) => r.vitalgate_worker_cpu_us_per_connect)) };
  }
  const out = { bench: 'reconnect-storm', devices: opt.devices, rounds: opt.rounds, inflight: opt.inflight, paced_rate: opt.paced, results, summary };
  console.log(`\nReconnect storm, ${opt.devices} devices, ${opt.rounds} rounds (median time to the last CONNACK)`);
  console.log('| connects | bare Mosquitto (anonymous) | Mosquitto + Vitalgate (credentials) | ratio (median) | ratio per round | broker-thread CPU per connect, bare / Vitalgate | Vitalgate worker CPU per connect |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const [mode, s] of Object.entries(summary)) {
    console.log(`| ${modeName(mode)} | ${s.bare_ms.toFixed(0)} ms | ${s.vitalgate_ms.toFixed(0)} ms | ${s.ratio.toFixed(2)} | ${s.ratios.map((x) => x.toFixed(2)).join(', ')} | ${s.bare_cpu_us.toFixed(0)} µs / ${s.vitalgate_main_cpu_us.toFixed(0)} µs | ${s.vitalgate_worker_cpu_us.toFixed(0)} µs |`);
  }
  if (opt.json) {
    mkdirSync(path.dirname(opt.json), { recursive: true });
    writeFileSync(opt.json, `${JSON.stringify(out, null, 2)}\n`);
  }
} finally {
  await bench.stop();
}
