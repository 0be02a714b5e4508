#!/usr/bin/env node
// Ack round trip under steady load (issue 15): --devices monitors publish
// one sample a second (QoS 1, vgload); meanwhile --acks other devices raise
// a high threshold alert each, and a station acknowledges them one after
// the other (wards/<ward>/alerts/<id>/ack, QoS 1). Measured:
//  - round trip: the station's publish -> alert.acknowledged accepted by the
//    Node.js receiver (built on bridge/node), p50/p99 (wall clock, ms);
//  - PUBACK of the ack (the journal append included), p50/p99;
//  - the broker thread's CPU per ack: a burst of --acks acks (new alerts)
//    after the load stopped, the thread's on-CPU time over the burst minus
//    its idle rate over the same time, per ack.
//
//   node bench/acks.mjs [--devices 10000] [--acks 200] [--seconds 40] [--json out.json]
//
// The broker's thread has core 0; vgload, PostgreSQL and the plugin's
// workers share core 1; the receiver and the station run in this process.
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { Bench, Broker, vgload, connect, publishQos1, sample, cpuOf, waitFor } from '../tests/lib/bench.mjs';

const args = process.argv.slice(2);
const opt = { devices: 10000, acks: 200, seconds: 40, json: null };
for (let i = 0; i < args.length; i++) {
  const k = args[i].replace(/^--/, '');
  opt[k] = k === 'json' ? args[++i] : Number(args[++i]);
}
const WARDS = 25;
const log = (m) => process.stderr.write(`acks: ${m}\n`);
const q = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN; };

const bench = await Bench.start({ noBroker: true, webhook: true });
const clients = [];
try {
  log(`provisioning ${opt.devices} load devices, ${2 * opt.acks} alarm devices, 1 station`);
  const creds = bench.importDevices([
    ...Array.from({ length: opt.devices }, (_, i) => `ld-${i} L${i % WARDS} B${i}`),
    ...Array.from({ length: 2 * opt.acks }, (_, i) => `ak-${i} AK B${i}`),
  ]);
  const load = creds.filter((c) => c.id.startsWith('ld-'));
  const alarm = creds.filter((c) => c.id.startsWith('ak-'));
  const credFile = path.join(bench.root, 'creds.txt');
  writeFileSync(credFile, `${load.map((c) => `${c.id} ${c.secret}`).join('\n')}\n`);
  const st = await bench.adminOk(['station', 'add', 'ak-desk', '--wards', 'AK']);
  bench.pg.pin(1);
  const p = await Broker.start(bench.root, { ...bench.brokerOpts, logTypes: ['error', 'warning'], readyByTcp: true, cpu: 0,
    workerCpu: 1, spoolDir: bench.newSpool('spool-acks'), options: { alert_hold_s: 0, silence_s: 3600, disconnect_grace_s: 3600 } });
  await bench.waitIdentity(p.port, 'ak-desk', st);
  const station = await connect(p.port, { id: 'ak-desk', password: st });
  clients.push(station);

  // Raises one high alert per device of the slice; resolves to their ids.
  async function raise(slice) {
    const from = bench.receiver.events.length;
    for (const c of slice) {
      const d = await connect(p.port, { id: c.id, password: c.secret });
      clients.push(d);
      await publishQos1(d, `vitals/${c.id}`, sample({ v: 1, seq: 1, ts: Date.now(), hr: 150 }));
    }
    const want = new Set(slice.map((c) => c.id));
    const evs = await waitFor(() => {
      const l = bench.receiver.events.slice(from).filter((e) => e.type === 'alert.raised' && want.has(e.data.device_id));
      return l.length === slice.length ? l : null;
    }, { timeout: 60000, what: 'the alerts raised' });
    return evs.map((e) => e.data.alert_id);
  }
  const ackedAt = (id) => bench.receiver.events.find((e) => e.type === 'alert.acknowledged' && e.data.alert_id === id)?.receivedHr;

  log(`steady load: ${opt.devices} devices at 1 Hz for ${opt.seconds} s`);
  const loadRun = vgload(p.port, ['--creds', credFile, '--rate', '1', '--qos', '1', '--duration', String(opt.seconds),
    '--connect-rate', '2000']);
  await sleep(Math.min(20000, opt.seconds * 400)); // connected and steady
  const ids = await raise(alarm.slice(0, opt.acks));
  const rtt = [];
  const puback = [];
  for (const id of ids) {
    const t0 = performance.now();
    const t = process.hrtime.bigint();
    const rc = await publishQos1(station, `wards/AK/alerts/${id}/ack`, JSON.stringify({ by: 'nurse.bench' }));
    puback.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (rc !== 0) throw new Error(`ack of ${id} refused (${rc})`);
    const at = await waitFor(() => ackedAt(id), { timeout: 30000, interval: 1, what: `alert.acknowledged of ${id}` });
    rtt.push(at - t0); // performance.now(): the receiver runs in this process
  }
  const vg = await loadRun;
  log(`load: ${vg.samples_published} samples, PUBACK p99 ${(vg.puback_p99_us / 1000).toFixed(1)} ms`);

  log(`broker thread cost: a burst of ${opt.acks} acks without load`);
  const ids2 = await raise(alarm.slice(opt.acks));
  await sleep(2000);
  const idle0 = cpuOf(p.proc.pid);
  const i0 = Date.now();
  await sleep(2000);
  const idleRate = cpuOf(p.proc.pid, idle0).main / ((Date.now() - i0) / 1000);
  const c0 = cpuOf(p.proc.pid);
  const b0 = Date.now();
  const rcs = await Promise.all(ids2.map((id) => publishQos1(station, `wards/AK/alerts/${id}/ack`, JSON.stringify({ by: 'nurse.bench' }))));
  const burstS = (Date.now() - b0) / 1000;
  const used = cpuOf(p.proc.pid, c0).main - idleRate * burstS;
  if (rcs.some((rc) => rc !== 0)) throw new Error('an ack of the burst was refused');
  await p.stop();

  const out = {
    bench: 'acks', devices: opt.devices, acks: opt.acks, seconds: opt.seconds,
    round_trip_ms: { p50: q(rtt, 0.5), p99: q(rtt, 0.99), max: Math.max(...rtt) },
    ack_puback_ms: { p50: q(puback, 0.5), p99: q(puback, 0.99) },
    broker_thread_us_per_ack: (used / ids2.length) * 1e6,
    load: { samples: vg.samples_published, puback_p99_ms: vg.puback_p99_us / 1000 },
  };
  console.log(`\nAck round trip, ${opt.devices} devices at 1 Hz (QoS 1), ${opt.acks} acks one after the other`);
  console.log('| figure | p50 | p99 |');
  console.log('| --- | --- | --- |');
  console.log(`| station publish -> alert.acknowledged accepted by the Node.js receiver | ${out.round_trip_ms.p50.toFixed(1)} ms | ${out.round_trip_ms.p99.toFixed(1)} ms |`);
  console.log(`| the ack's PUBACK at the station | ${out.ack_puback_ms.p50.toFixed(2)} ms | ${out.ack_puback_ms.p99.toFixed(2)} ms |`);
  console.log(`\nBroker thread per ack (burst of ${ids2.length}, no load): ${out.broker_thread_us_per_ack.toFixed(1)} µs`);
  if (opt.json) {
    mkdirSync(path.dirname(opt.json), { recursive: true });
    writeFileSync(opt.json, `${JSON.stringify(out, null, 2)}\n`);
  }
} finally {
  for (const c of clients) await c.endAsync(true).catch(() => {});
  await bench.stop();
}
