#!/usr/bin/env node
// Steady ward traffic: --devices monitors at 1 Hz with QoS 1 and one
// nurses' station reading every sample (QoS 0), for --seconds, in --rounds
// alternating rounds of bare Mosquitto (anonymous devices, the station on
// vitals/#) and Mosquitto + Vitalgate (real identities, the station on
// wards/<ward>/beds/+/vitals of every ward: the same number of deliveries).
// Prints, for both and their ratio (medians of the rounds):
//  - the broker thread's CPU per message, measured over the traffic only
//    (connections and authentication excluded: /proc sampled every 500 ms);
//  - PUBACK p50/p99; device-to-station p50/p99/p999.
//
//   node bench/steady.mjs [--devices 10000] [--wards 25] [--seconds 30] [--rounds 3] [--json out.json]
//
// Broker thread on core 0; vgload, PostgreSQL and the plugin's workers on core 1.
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

import { Bench, Broker, vgload, cpuOf } from '../tests/lib/bench.mjs';

const args = process.argv.slice(2);
const opt = { devices: 10000, wards: 25, seconds: 30, rounds: 3, json: null };
for (let i = 0; i < args.length; i++) {
  const k = args[i].replace(/^--/, '');
  opt[k] = k === 'json' ? args[++i] : Number(args[++i]);
}
const log = (m) => process.stderr.write(`steady: ${m}\n`);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

// Runs vgload while sampling the broker's CPU; returns the summary and the
// main thread's CPU µs per message over the traffic window.
async function measured(broker, argv) {
  const samples = [];
  const t0 = Date.now();
  const timer = setInterval(() => samples.push({ at: Date.now() - t0, ...cpuOf(broker.proc.pid) }), 500);
  const r = await vgload(broker.port, argv);
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
  return { r, cpuUsPerMsg, workerUsPerMsg };
}

const bench = await Bench.start({ noBroker: true });
try {
  log(`provisioning ${opt.devices} devices in ${opt.wards} wards and one station`);
  const creds = bench.importDevices(Array.from({ length: opt.devices }, (_, i) => `sd-${i} S${i % opt.wards} B${i}`));
  const credFile = path.join(bench.root, 'creds.txt');
  writeFileSync(credFile, `${creds.map((c) => `${c.id} ${c.secret}`).join('\n')}\n`);
  const wards = Array.from({ length: opt.wards }, (_, i) => `S${i}`);
  const st = await bench.adminOk(['station', 'add', 'sd-desk', '--wards', wards.join(',')]);
  const staFile = path.join(bench.root, 'stations.txt');
  writeFileSync(staFile, `sd-desk ${st} ${wards.map((w) => `wards/${w}/beds/+/vitals`).join(',')}\n`);
  bench.pg.pin(1);
  const quiet = { logTypes: ['error', 'warning'], readyByTcp: true, cpu: 0, workerCpu: 1 };
  const traffic = ['--rate', '1', '--qos', '1', '--duration', String(opt.seconds), '--connect-rate', '2000',
    '--stations', '1', '--station-qos', '0'];
  const rounds = [];
  for (let round = 1; round <= opt.rounds; round++) {
    log(`round ${round}: bare Mosquitto`);
    const b = await Broker.start(bench.root, { ...quiet, noPlugin: true });
    const bare = await measured(b, ['--anonymous', '--clients', String(opt.devices), '--station-topic', 'vitals/#', ...traffic]);
    await b.stop();
    log(`round ${round}: Mosquitto + Vitalgate`);
    const p = await Broker.start(bench.root, { ...bench.brokerOpts, ...quiet, spoolDir: bench.newSpool(`spool-${round}`) });
    await bench.waitIdentity(p.port, 'sd-desk', st);
    const vg = await measured(p, ['--creds', credFile, '--station-creds', staFile, ...traffic]);
    await p.stop();
    for (const [name, m] of [['bare', bare], ['vitalgate', vg]]) {
      if (m.r.connack_ok !== opt.devices || m.r.puback_refused) {
        throw new Error(`${name}: ${m.r.connack_ok} connected, ${m.r.puback_refused} refused: ${JSON.stringify(m.r)}`);
      }
    }
    const fig = (m) => ({
      cpu_us_per_msg: m.cpuUsPerMsg, worker_cpu_us_per_msg: m.workerUsPerMsg, msgs_per_s: m.r.pub_rate,
      puback_p50_us: m.r.puback_p50_us, puback_p99_us: m.r.puback_p99_us,
      d2s_p50_us: m.r.d2s_p50_us, d2s_p99_us: m.r.d2s_p99_us, d2s_p999_us: m.r.d2s_p999_us,
      deliveries: m.r.deliveries, pub_lag_max_us: m.r.pub_lag_max_us,
    });
    const r = { round, bare: fig(bare), vitalgate: fig(vg) };
    log(JSON.stringify(r));
    rounds.push(r);
  }
  const keys = ['cpu_us_per_msg', 'puback_p50_us', 'puback_p99_us', 'd2s_p50_us', 'd2s_p99_us', 'd2s_p999_us'];
  const med = {};
  for (const k of keys) {
    med[k] = {
      bare: median(rounds.map((r) => r.bare[k])),
      vitalgate: median(rounds.map((r) => r.vitalgate[k])),
      ratio: median(rounds.map((r) => r.vitalgate[k] / r.bare[k])),
    };
  }
  med.worker_cpu_us_per_msg = median(rounds.map((r) => r.vitalgate.worker_cpu_us_per_msg));
  med.plugin_us_per_msg = med.cpu_us_per_msg.vitalgate - med.cpu_us_per_msg.bare;
  const out = { bench: 'steady', devices: opt.devices, wards: opt.wards, seconds: opt.seconds, rounds, median: med };
  console.log(`\nSteady ward traffic: ${opt.devices} devices x 1 Hz QoS 1, one station reading every sample, ` +
    `${opt.seconds} s x ${opt.rounds} rounds (medians; ratio = median of the rounds' ratios)`);
  console.log('| figure | bare Mosquitto | Mosquitto + Vitalgate | ratio |');
  console.log('| --- | --- | --- | --- |');
  const row = (label, k, unit, d = 1) => console.log(`| ${label} | ${med[k].bare.toFixed(d)} ${unit} | ${med[k].vitalgate.toFixed(d)} ${unit} | ${med[k].ratio.toFixed(2)} |`);
  row('broker-thread CPU per message', 'cpu_us_per_msg', 'µs', 2);
  row('PUBACK p50', 'puback_p50_us', 'µs', 0);
  row('PUBACK p99', 'puback_p99_us', 'µs', 0);
  row('device → station p50', 'd2s_p50_us', 'µs', 0);
  row('device → station p99', 'd2s_p99_us', 'µs', 0);
  row('device → station p99.9', 'd2s_p999_us', 'µs', 0);
  console.log(`\nPlugin cost on the broker thread: ${med.plugin_us_per_msg.toFixed(2)} µs per message; ` +
    `Vitalgate's worker threads: ${med.worker_cpu_us_per_msg.toFixed(2)} µs per message (on the other core).`);
  if (opt.json) {
    mkdirSync(path.dirname(opt.json), { recursive: true });
    writeFileSync(opt.json, `${JSON.stringify(out, null, 2)}\n`);
  }
} finally {
  await bench.stop();
}
