#!/usr/bin/env node
// Sample-to-alert latency under load: --devices monitors publish one sample
// a second (QoS 1); --alerting of them send a heart rate of 150 every
// --alert-every samples and a normal one otherwise, so each of those raises
// and resolves a threshold alert every --alert-every seconds. Measured:
//  - webhook: from the sample's `ts` (the device's clock at send) to the
//    Node.js receiver (built on bridge/node) accepting the signed request
//    (wall clock, ms);
//  - ward topic: from the sample's send to its wards/<ward>/alerts event at
//    a station (vgload's own clock, µs);
// and, in the same run, bare Mosquitto carrying the same load to a station
// subscribed to vitals/# (the broker's own delivery latency: the floor).
//
//   node bench/alerts.mjs [--devices 2000] [--alerting 200] [--alert-every 10] [--seconds 30] [--rounds 3] [--json out.json]
//
// As in storm.mjs, the broker's thread has core 0; vgload, PostgreSQL and
// the plugin's workers share core 1; the receiver runs in this process.
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { Bench, Broker, vgload } from '../tests/lib/bench.mjs';

const args = process.argv.slice(2);
const opt = { devices: 2000, alerting: 200, 'alert-every': 10, seconds: 30, rounds: 3, json: null };
for (let i = 0; i < args.length; i++) {
  const k = args[i].replace(/^--/, '');
  opt[k] = k === 'json' ? args[++i] : Number(args[++i]);
}
const WARDS = 20;
const log = (m) => process.stderr.write(`alerts: ${m}\n`);
const q = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN; };
const median = (xs) => q(xs, 0.5);

const bench = await Bench.start({ noBroker: true, webhook: true });
try {
  log(`provisioning ${opt.devices} devices, 1 station`);
  const creds = bench.importDevices(Array.from({ length: opt.devices }, (_, i) => `al-${i} A${i % WARDS} B${i}`));
  const credFile = path.join(bench.root, 'creds.txt');
  writeFileSync(credFile, `${creds.map((c) => `${c.id} ${c.secret}`).join('\n')}\n`);
  const wards = Array.from({ length: WARDS }, (_, i) => `A${i}`);
  const st = await bench.adminOk(['station', 'add', 'al-desk', '--wards', wards.join(',')]);
  const staFile = path.join(bench.root, 'stations.txt');
  writeFileSync(staFile, `al-desk ${st} ${wards.map((w) => `wards/${w}/alerts`).join(',')}\n`);
  bench.pg.pin(1);
  const quiet = { logTypes: ['error', 'warning'], readyByTcp: true, cpu: 0, workerCpu: 1 };
  const traffic = ['--rate', '1', '--qos', '1', '--duration', String(opt.seconds), '--connect-rate', '2000',
    '--stations', '1', '--alert-fraction', String(opt.alerting / opt.devices), '--alert-every', String(opt['alert-every'])];
  const rounds = [];
  for (let round = 1; round <= opt.rounds; round++) {
    log(`round ${round}: bare Mosquitto`);
    const b = await Broker.start(bench.root, { ...quiet, noPlugin: true });
    const bare = await vgload(b.port, ['--anonymous', '--clients', String(opt.devices), '--station-topic', 'vitals/#',
      ...traffic, '--station-qos', '0']);
    await b.stop();

    log(`round ${round}: Mosquitto + Vitalgate`);
    const spool = bench.newSpool(`spool-${round}`);
    const p = await Broker.start(bench.root, { ...bench.brokerOpts, ...quiet, spoolDir: spool,
      options: { alert_hold_s: 0, silence_s: 3600, disconnect_grace_s: 3600 } });
    await bench.waitIdentity(p.port, 'al-desk', st);
    const from = bench.receiver.events.length;
    const vg = await vgload(p.port, ['--creds', credFile, '--station-creds', staFile, ...traffic]);
    await sleep(2000); // the last events' deliveries
    await p.stop();
    const evs = bench.receiver.events.slice(from).filter((e) => e.data.measured_at);
    const ms = evs.map((e) => e.receivedAt - Date.parse(e.data.measured_at));
    const r = {
      round,
      events: evs.length,
      alert_samples: vg.alerts_sent,
      webhook_p50_ms: q(ms, 0.5), webhook_p99_ms: q(ms, 0.99), webhook_max_ms: Math.max(...ms),
      ward_topic_p50_ms: vg.alert_p50_us / 1000, ward_topic_p99_ms: vg.alert_p99_us / 1000,
      ward_topic_events: vg.alert_deliveries,
      bare_delivery_p50_ms: bare.d2s_p50_us / 1000, bare_delivery_p99_ms: bare.d2s_p99_us / 1000,
      puback_p99_ms: { bare: bare.puback_p99_us / 1000, vitalgate: vg.puback_p99_us / 1000 },
      samples: { bare: bare.samples_published, vitalgate: vg.samples_published },
    };
    log(JSON.stringify(r));
    rounds.push(r);
  }
  const m = (k) => median(rounds.map((r) => r[k]));
  const out = {
    bench: 'alerts', devices: opt.devices, alerting: opt.alerting, alert_every: opt['alert-every'], seconds: opt.seconds,
    rounds,
    median: {
      webhook_p50_ms: m('webhook_p50_ms'), webhook_p99_ms: m('webhook_p99_ms'),
      ward_topic_p50_ms: m('ward_topic_p50_ms'), ward_topic_p99_ms: m('ward_topic_p99_ms'),
      bare_delivery_p50_ms: m('bare_delivery_p50_ms'), bare_delivery_p99_ms: m('bare_delivery_p99_ms'),
      events_per_round: m('events'),
    },
  };
  const md = out.median;
  console.log(`\nSample-to-alert latency, ${opt.devices} devices at 1 Hz, ${opt.alerting} alerting every ${opt['alert-every']} s, ` +
    `${opt.seconds} s x ${opt.rounds} rounds (medians of the rounds)`);
  console.log('| figure | p50 | p99 |');
  console.log('| --- | --- | --- |');
  console.log(`| Vitalgate: sample -> signed webhook accepted by the Node.js receiver | ${md.webhook_p50_ms.toFixed(1)} ms | ${md.webhook_p99_ms.toFixed(1)} ms |`);
  console.log(`| Vitalgate: sample -> wards/<ward>/alerts at a station | ${md.ward_topic_p50_ms.toFixed(2)} ms | ${md.ward_topic_p99_ms.toFixed(2)} ms |`);
  console.log(`| bare Mosquitto, same load: sample -> station on vitals/# | ${md.bare_delivery_p50_ms.toFixed(2)} ms | ${md.bare_delivery_p99_ms.toFixed(2)} ms |`);
  console.log(`| ratio webhook p99 / bare delivery p99 | | ${(md.webhook_p99_ms / md.bare_delivery_p99_ms).toFixed(1)} |`);
  console.log(`\n${md.events_per_round} webhook events per round (median).`);
  if (opt.json) {
    mkdirSync(path.dirname(opt.json), { recursive: true });
    writeFileSync(opt.json, `${JSON.stringify(out, null, 2)}\n`);
  }
} finally {
  await bench.stop();
}
