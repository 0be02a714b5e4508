#!/usr/bin/env node
// Ward fan-out: --beds monitors at 1 Hz (QoS 1) and --stations nurses'
// stations. Bare Mosquitto: the stations subscribe to the devices' own
// vitals/# (the same traffic without the plugin). Mosquitto + Vitalgate: the
// stations subscribe to the ward's frame wards/FW/vitals (every bed, at most
// once per --frame-ms): the latency is from a sample's send to the first
// frame that shows it; with --bed-topics to v1's wards/FW/beds/+/vitals
// (plugin_opt_bed_topics true: a retained message per sample).
// Prints the publish-to-delivery latency (p50, p99) of both, per round and
// as medians, and the ratio.
//
//   node bench/fanout.mjs [--beds 40] [--stations 5] [--seconds 30] [--rounds 5] [--frame-ms 1000] [--bed-topics] [--json out.json]
//
// As in storm.mjs: broker thread on core 0; vgload, PostgreSQL and the
// plugin's workers on core 1.
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

import { Bench, Broker, vgload } from '../tests/lib/bench.mjs';

const args = process.argv.slice(2);
const opt = { beds: 40, stations: 5, seconds: 30, rounds: 5, 'frame-ms': 1000, 'bed-topics': false, json: null };
for (let i = 0; i < args.length; i++) {
  const k = args[i].replace(/^--/, '');
  if (k === 'bed-topics') opt[k] = true;
  else opt[k] = k === 'json' ? args[++i] : Number(args[++i]);
}
const v1 = opt['bed-topics'];
const topic = v1 ? 'wards/FW/beds/+/vitals' : 'wards/FW/vitals';
const log = (m) => process.stderr.write(`fanout: ${m}\n`);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

const bench = await Bench.start({ noBroker: true });
try {
  log(`provisioning ${opt.beds} devices in ward FW, ${opt.stations} stations`);
  const creds = bench.importDevices(Array.from({ length: opt.beds }, (_, i) => `fw-${i} FW B${i + 1}`));
  const credFile = path.join(bench.root, 'creds.txt');
  writeFileSync(credFile, `${creds.map((c) => `${c.id} ${c.secret}`).join('\n')}\n`);
  const sta = [];
  for (let i = 0; i < opt.stations; i++) {
    sta.push(`fw-desk-${i} ${await bench.adminOk(['station', 'add', `fw-desk-${i}`, '--wards', 'FW'])} ${topic}`);
  }
  const staFile = path.join(bench.root, 'stations.txt');
  writeFileSync(staFile, `${sta.join('\n')}\n`);
  bench.pg.pin(1);
  const quiet = { logTypes: ['error', 'warning'], readyByTcp: true, cpu: 0, workerCpu: 1 };
  const traffic = ['--rate', '1', '--qos', '1', '--duration', String(opt.seconds), '--stations', String(opt.stations),
    '--station-qos', '0'];
  const rounds = [];
  for (let round = 1; round <= opt.rounds; round++) {
    const b = await Broker.start(bench.root, { ...quiet, noPlugin: true });
    const bare = await vgload(b.port, ['--anonymous', '--clients', String(opt.beds), '--station-topic', 'vitals/#', ...traffic]);
    await b.stop();
    const p = await Broker.start(bench.root, { ...bench.brokerOpts, ...quiet, spoolDir: bench.newSpool(`spool-${round}`),
      options: { station_frame_ms: opt['frame-ms'], ...(v1 ? { bed_topics: 'true' } : {}) } });
    await bench.waitIdentity(p.port, creds[0].id, creds[0].secret);
    const vg = await vgload(p.port, ['--creds', credFile, '--station-creds', staFile, ...traffic]);
    await p.stop();
    const r = {
      round,
      deliveries: { bare: bare.deliveries, vitalgate: v1 ? vg.deliveries : vg.frame_samples },
      frames: vg.frames,
      p50_ms: { bare: bare.d2s_p50_us / 1000, vitalgate: (v1 ? vg.d2s_p50_us : vg.frame_p50_us) / 1000 },
      p99_ms: { bare: bare.d2s_p99_us / 1000, vitalgate: (v1 ? vg.d2s_p99_us : vg.frame_p99_us) / 1000 },
    };
    r.p99_ratio = r.p99_ms.vitalgate / r.p99_ms.bare;
    log(JSON.stringify(r));
    rounds.push(r);
  }
  const out = {
    bench: 'fanout', beds: opt.beds, stations: opt.stations, seconds: opt.seconds, frame_ms: v1 ? null : opt['frame-ms'], bed_topics: v1, rounds,
    median: {
      bare_p50_ms: median(rounds.map((r) => r.p50_ms.bare)), vitalgate_p50_ms: median(rounds.map((r) => r.p50_ms.vitalgate)),
      bare_p99_ms: median(rounds.map((r) => r.p99_ms.bare)), vitalgate_p99_ms: median(rounds.map((r) => r.p99_ms.vitalgate)),
      p99_ratio: median(rounds.map((r) => r.p99_ratio)),
    },
  };
  const m = out.median;
  console.log(`\nWard fan-out: ${opt.beds} beds at 1 Hz, ${opt.stations} stations, ${opt.seconds} s x ${opt.rounds} rounds`);
  console.log('| publish -> station delivery | p50 | p99 | p99 per round |');
  console.log('| --- | --- | --- | --- |');
  console.log(`| bare Mosquitto (stations on vitals/#) | ${m.bare_p50_ms.toFixed(3)} ms | ${m.bare_p99_ms.toFixed(3)} ms | ${rounds.map((r) => r.p99_ms.bare.toFixed(2)).join(', ')} |`);
  console.log(`| Mosquitto + Vitalgate (stations on ${topic}${v1 ? '' : `, frames every ${opt['frame-ms']} ms: sample to its first frame`}) | ${m.vitalgate_p50_ms.toFixed(3)} ms | ${m.vitalgate_p99_ms.toFixed(3)} ms | ${rounds.map((r) => r.p99_ms.vitalgate.toFixed(2)).join(', ')} |`);
  console.log(`| p99 ratio (median of the rounds' ratios) | | **${m.p99_ratio.toFixed(2)}** | ${rounds.map((r) => r.p99_ratio.toFixed(2)).join(', ')} |`);
  if (opt.json) {
    mkdirSync(path.dirname(opt.json), { recursive: true });
    writeFileSync(opt.json, `${JSON.stringify(out, null, 2)}\n`);
  }
} finally {
  await bench.stop();
}
