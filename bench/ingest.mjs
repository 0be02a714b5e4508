#!/usr/bin/env node
// Ingest ceiling: a flood of valid samples with QoS 1.
//  1. the raw COPY ceiling of the same PostgreSQL for the same rows
//     (bench/copy_ceiling: COPY straight into `vitals`, no broker);
//  2. bare Mosquitto: samples/s PUBACKed (nothing is stored);
//  3. Mosquitto + Vitalgate: samples/s PUBACKed, and samples/s committed in
//     PostgreSQL while the writer is saturated (from the writer's counter
//     under $SYS), then the time to drain what was journalled.
// Both brokers get the same flood in the same run: --devices devices at
// --rate messages/s each, --batch samples per message. With --pin the
// broker thread has core 0 to itself and vgload, PostgreSQL and the
// workers share core 1, as in the other scenarios (for a flood of
// single-sample messages, whose limit is the broker thread: its PUBACK
// rate against bare Mosquitto's is the figure).
//
//   node bench/ingest.mjs [--devices 2000] [--rate 1] [--batch 64] [--seconds 20] [--pin] [--json out.json]
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { Bench, Broker, VGLOAD, connect, cpuOf, runJson, treeCpu, vgload } from '../tests/lib/bench.mjs';

const args = process.argv.slice(2);
const opt = { devices: 2000, rate: 1, batch: 64, seconds: 20, 'ceiling-seconds': 10, json: null, pin: false };
for (let i = 0; i < args.length; i++) {
  const k = args[i].replace(/^--/, '');
  if (k === 'pin') opt.pin = true;
  else opt[k] = k === 'json' ? args[++i] : Number(args[++i]);
}
const pinned = opt.pin ? { cpu: 0, workerCpu: 1 } : {};
const BIN = path.dirname(VGLOAD);
const log = (m) => process.stderr.write(`ingest: ${m}\n`);

// The flood, with the CPU each party used while it ran (the broker's main
// thread and its other threads, PostgreSQL): where the time went.
async function flood(broker, extra) {
  const c0 = cpuOf(broker.proc.pid);
  const g0 = treeCpu(bench.pg.proc.pid);
  const t0 = Date.now();
  const r = await vgload(broker.port, ['--connect-rate', '2000', '--qos', '1', '--rate', String(opt.rate), '--batch', String(opt.batch),
    '--duration', String(opt.seconds), ...extra], { cpu: opt.pin ? 1 : null });
  const s = (Date.now() - t0) / 1000;
  const c = cpuOf(broker.proc.pid, c0);
  r.cpu_share = { broker_thread: c.main / s, broker_workers: c.workers / s, postgres: (treeCpu(bench.pg.proc.pid) - g0) / s };
  return r;
}

const bench = await Bench.start({ noBroker: true });
try {
  log('raw COPY ceiling');
  const ceiling = await runJson(path.join(BIN, 'copy_ceiling'), ['--db', bench.pg.conninfo, '--seconds', String(opt['ceiling-seconds']), '--batch', '5000',
    '--devices', String(opt.devices)]);
  await bench.pg.query('TRUNCATE vitals');
  await bench.pg.query('CHECKPOINT');

  log(`provisioning ${opt.devices} devices`);
  const creds = bench.importDevices(Array.from({ length: opt.devices }, (_, i) => `ing-${i} I${i % 40} B${i}`));
  const credFile = path.join(bench.root, 'creds.txt');
  writeFileSync(credFile, `${creds.map((c) => `${c.id} ${c.secret}`).join('\n')}\n`);
  const svc = await bench.adminOk(['service', 'add', 'ingest-watch']);
  if (opt.pin) bench.pg.pin(1);

  log('bare Mosquitto');
  const b = await Broker.start(bench.root, { noPlugin: true, logTypes: ['error', 'warning'], readyByTcp: true, ...pinned });
  const bare = await flood(b, ['--anonymous', '--clients', String(opt.devices)]);
  await b.stop();

  log('Mosquitto + Vitalgate');
  const p = await Broker.start(bench.root, { ...bench.brokerOpts, ...pinned,
    options: { stats_interval_s: 1, journal_max_mb: 4096 } });
  await bench.waitIdentity(p.port, 'ingest-watch', svc);
  const watch = await connect(p.port, { id: 'ingest-watch', password: svc });
  const rows = [];
  watch.on('message', (t, m) => { if (t.endsWith('/writer/rows')) rows.push({ at: Date.now(), n: Number(m.toString()) }); });
  await watch.subscribeAsync('$SYS/broker/vitalgate/writer/rows', { qos: 0 });
  const t0 = Date.now();
  const vg = await flood(p, ['--creds', credFile]);
  const tFlood = Date.now();
  if (process.env.VG_DEBUG) log(JSON.stringify(vg));
  const acked = Math.round(vg.samples_published * (vg.puback_ok / Math.max(1, vg.published)));
  // Drain: wait until the writer has committed every acknowledged sample.
  while ((rows.at(-1)?.n ?? 0) < acked && Date.now() - tFlood < 600000) await sleep(500);
  const tDone = rows.at(-1)?.at ?? Date.now();
  await watch.endAsync();
  await p.stop();
  const stored = Number((await bench.pg.query('SELECT count(*) AS n FROM vitals')).rows[0].n);
  // Sustained commit rate: the steepest 10 s of the writer's counter (half
  // the run when it is shorter, as in the smoke run).
  const win = Math.min(10000, opt.seconds * 500);
  let sustained = 0;
  for (let i = 0; i < rows.length; i++) {
    for (let j = i + 1; j < rows.length; j++) {
      if (rows[j].at - rows[i].at >= win) {
        sustained = Math.max(sustained, (rows[j].n - rows[i].n) * 1000 / (rows[j].at - rows[i].at));
        break;
      }
    }
  }
  const out = {
    bench: 'ingest', devices: opt.devices, rate: opt.rate, batch: opt.batch, seconds: opt.seconds,
    copy_ceiling_rows_per_s: ceiling.rows_per_s,
    bare_pubacked_samples_per_s: bare.sample_rate * (bare.puback_ok / Math.max(1, bare.published)),
    vitalgate_pubacked_samples_per_s: vg.sample_rate * (vg.puback_ok / Math.max(1, vg.published)),
    vitalgate_committed_sustained_per_s: sustained,
    vitalgate_committed_overall_per_s: acked * 1000 / (tDone - t0),
    acked, stored, lost: acked - stored, drain_s: (tDone - tFlood) / 1000,
    puback_p99_us: { bare: bare.puback_p99_us, vitalgate: vg.puback_p99_us },
    cpu_share: { bare: bare.cpu_share, vitalgate: vg.cpu_share },
  };
  out.ratio_to_ceiling = out.vitalgate_committed_sustained_per_s / out.copy_ceiling_rows_per_s;
  out.puback_rate_ratio = out.vitalgate_pubacked_samples_per_s / out.bare_pubacked_samples_per_s;
  console.log(`\nIngest, ${opt.devices} devices x ${opt.rate} msg/s x ${opt.batch} samples, QoS 1, ${opt.seconds} s`);
  console.log('| figure | bare Mosquitto | Mosquitto + Vitalgate |');
  console.log('| --- | --- | --- |');
  console.log(`| samples/s PUBACKed | ${out.bare_pubacked_samples_per_s.toFixed(0)} | ${out.vitalgate_pubacked_samples_per_s.toFixed(0)} (ratio ${out.puback_rate_ratio.toFixed(2)}) |`);
  console.log(`| samples/s committed in PostgreSQL (sustained, best 10 s) | - | ${sustained.toFixed(0)} |`);
  console.log(`| raw COPY ceiling of the same PostgreSQL (rows/s) | ${ceiling.rows_per_s.toFixed(0)} | ratio ${out.ratio_to_ceiling.toFixed(2)} |`);
  console.log(`| acknowledged / stored / lost | - | ${acked} / ${stored} / ${acked - stored} |`);
  console.log(`| PUBACK p99 | ${bare.puback_p99_us} µs | ${vg.puback_p99_us} µs |`);
  const share = (c) => `broker thread ${(100 * c.broker_thread).toFixed(0)} %, its other threads ${(100 * c.broker_workers).toFixed(0)} %, PostgreSQL ${(100 * c.postgres).toFixed(0)} %`;
  console.log(`| CPU while flooding (of one core; connections and drain included) | ${share(bare.cpu_share)} | ${share(vg.cpu_share)} |`);
  if (opt.json) {
    mkdirSync(path.dirname(opt.json), { recursive: true });
    writeFileSync(opt.json, `${JSON.stringify(out, null, 2)}\n`);
  }
} finally {
  await bench.stop();
}
