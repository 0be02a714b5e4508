#!/usr/bin/env node
// Capacity: as many devices as one broker process may hold here (the
// open-file limit is 20,000 per process: --devices 19000 by default),
// connected and publishing at 1 Hz with QoS 1, into bare Mosquitto
// (anonymous) and Mosquitto + Vitalgate (real identities), in the same run.
// Prints the broker's resident memory per connected device for both, and
// what the plugin adds per device (the goal: at most 300 bytes).
//
// RSS is read from /proc/<pid>/status (VmRSS, and RssAnon apart: the
// journal's active segment is mapped, so its page cache counts in VmRSS):
// idle (listening; for Vitalgate after
// every identity is loaded, which is memory per *provisioned* device, shown
// apart) and the highest value while every device is connected and sending
// (not while they all disconnect at the end: reported apart).
// Each round also runs both brokers again (fresh) with the devices connected
// but all but silent (0.001 Hz: a handful of beds): that peak is the
// connection's share, and sending minus it the occupied bed's (every device
// has a bed of its own here; 50 wards with a frame each).
//
//   node bench/capacity.mjs [--devices 19000] [--seconds 20] [--rounds 2] [--json out.json]
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { Bench, Broker, vgload, rssOf } from '../tests/lib/bench.mjs';

const args = process.argv.slice(2);
const opt = { devices: 19000, seconds: 20, rounds: 2, json: null };
for (let i = 0; i < args.length; i++) {
  const k = args[i].replace(/^--/, '');
  opt[k] = k === 'json' ? args[++i] : Number(args[++i]);
}
const log = (m) => process.stderr.write(`capacity: ${m}\n`);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

async function measured(broker, argv) {
  await sleep(1000);
  const idle = rssOf(broker.proc.pid);
  const idleAnon = rssOf(broker.proc.pid, 'RssAnon');
  const seen = [];
  const timer = setInterval(() => {
    try {
      seen.push({ at: Date.now(), rss: rssOf(broker.proc.pid), anon: rssOf(broker.proc.pid, 'RssAnon') });
    } catch { /* exiting */ }
  }, 250);
  const r = await vgload(broker.port, argv);
  clearInterval(timer);
  if (r.connack_ok !== opt.devices) throw new Error(`only ${r.connack_ok} of ${opt.devices} connected: ${JSON.stringify(r)}`);
  // The highest value while connected: not the last 1.5 s, when vgload
  // disconnects every device at once (a transient: the broker's audit
  // records of 19,000 disconnects wait for the next TICK to be journalled).
  const held = seen.filter((x) => x.at < Date.now() - 1500);
  const peak = Math.max(idle, ...held.map((x) => x.rss));
  const peakAnon = Math.max(idleAnon, ...held.map((x) => x.anon));
  const transient = Math.max(idle, ...seen.map((x) => x.rss));
  return { r, idle, peak, transient, perDevice: (peak - idle) / opt.devices, perDeviceAnon: (peakAnon - idleAnon) / opt.devices };
}

const bench = await Bench.start({ noBroker: true });
// Each Vitalgate broker starts from an empty vitals table: at start the
// broker reads back the beds' NEWS2 inputs and the devices last seen, which
// would put the previous run's beds into this one's idle memory.
const fresh = () => bench.pg.query('TRUNCATE vitals, vitals_seq_hwm');
try {
  log(`provisioning ${opt.devices} devices`);
  const creds = bench.importDevices(Array.from({ length: opt.devices }, (_, i) => `cap-${i} C${i % 50} B${i}`));
  const credFile = path.join(bench.root, 'creds.txt');
  writeFileSync(credFile, `${creds.map((c) => `${c.id} ${c.secret}`).join('\n')}\n`);
  bench.pg.pin(1);
  const quiet = { logTypes: ['error', 'warning'], readyByTcp: true, cpu: 0, workerCpu: 1 };
  const common = ['--qos', '1', '--duration', String(opt.seconds), '--connect-rate', '2000', '--max-clients', String(opt.devices)];
  const traffic = ['--rate', '1', ...common];
  const silent = ['--rate', '0.001', ...common];
  const rounds = [];
  let bareIdle = 0;
  for (let round = 1; round <= opt.rounds; round++) {
    log(`round ${round}: bare Mosquitto`);
    const b = await Broker.start(bench.root, { ...quiet, noPlugin: true });
    const bare = await measured(b, ['--anonymous', '--clients', String(opt.devices), ...traffic]);
    await b.stop();
    log(`round ${round}: Mosquitto + Vitalgate`);
    await fresh();
    const p = await Broker.start(bench.root, { ...bench.brokerOpts, ...quiet, spoolDir: bench.newSpool(`spool-${round}`) });
    await bench.waitIdentity(p.port, creds.at(-1).id, creds.at(-1).secret);
    const vg = await measured(p, ['--creds', credFile, ...traffic]);
    await p.stop();
    log(`round ${round}: both again, connected and silent`);
    const b2 = await Broker.start(bench.root, { ...quiet, noPlugin: true });
    const bareConn = await measured(b2, ['--anonymous', '--clients', String(opt.devices), ...silent]);
    await b2.stop();
    await fresh();
    const p2 = await Broker.start(bench.root, { ...bench.brokerOpts, ...quiet, spoolDir: bench.newSpool(`spool-silent-${round}`) });
    await bench.waitIdentity(p2.port, creds.at(-1).id, creds.at(-1).secret);
    const vgConn = await measured(p2, ['--creds', credFile, ...silent]);
    await p2.stop();
    bareIdle = bare.idle;
    const r = {
      round,
      bare_bytes_per_device: bare.perDevice, vitalgate_bytes_per_device: vg.perDevice,
      plugin_bytes_per_device: vg.perDevice - bare.perDevice,
      plugin_bytes_per_connection: vgConn.perDevice - bareConn.perDevice,
      plugin_bytes_per_bed: (vg.perDevice - vgConn.perDevice) - (bare.perDevice - bareConn.perDevice),
      // The same from RssAnon: without mapped files (the journal's active
      // segment is mapped: its pages are page cache, counted in VmRSS while
      // mapped, as write(2) would have put them in the page cache unmapped).
      anon: {
        plugin_bytes_per_device: vg.perDeviceAnon - bare.perDeviceAnon,
        plugin_bytes_per_connection: vgConn.perDeviceAnon - bareConn.perDeviceAnon,
        plugin_bytes_per_bed: (vg.perDeviceAnon - vgConn.perDeviceAnon) - (bare.perDeviceAnon - bareConn.perDeviceAnon),
      },
      connected_bytes_per_device: { bare: bareConn.perDevice, vitalgate: vgConn.perDevice },
      idle_rss: { bare: bare.idle, vitalgate: vg.idle },
      peak_rss: { bare: bare.peak, vitalgate: vg.peak },
      with_disconnects_rss: { bare: bare.transient, vitalgate: vg.transient },
      samples: { bare: bare.r.samples_published, vitalgate: vg.r.samples_published },
    };
    log(JSON.stringify(r));
    rounds.push(r);
  }
  const m = (k) => median(rounds.map((r) => r[k]));
  const vgIdle = median(rounds.map((r) => r.idle_rss.vitalgate));
  const out = {
    bench: 'capacity', devices: opt.devices, seconds: opt.seconds, rounds,
    median: {
      bare_bytes_per_device: m('bare_bytes_per_device'), vitalgate_bytes_per_device: m('vitalgate_bytes_per_device'),
      plugin_bytes_per_device: m('plugin_bytes_per_device'),
      plugin_bytes_per_connection: m('plugin_bytes_per_connection'),
      plugin_bytes_per_bed: m('plugin_bytes_per_bed'),
      plugin_idle_bytes_per_provisioned_device: (vgIdle - bareIdle) / opt.devices,
      anon: Object.fromEntries(['plugin_bytes_per_device', 'plugin_bytes_per_connection', 'plugin_bytes_per_bed']
        .map((k) => [k, median(rounds.map((r) => r.anon[k]))])),
    },
  };
  const md = out.median;
  console.log(`\nCapacity: ${opt.devices} devices connected at 1 Hz QoS 1, ${opt.seconds} s x ${opt.rounds} rounds (medians)`);
  console.log('| figure | bare Mosquitto | Mosquitto + Vitalgate |');
  console.log('| --- | --- | --- |');
  console.log(`| broker RSS per connected device | ${md.bare_bytes_per_device.toFixed(0)} B | ${md.vitalgate_bytes_per_device.toFixed(0)} B |`);
  console.log(`| added by the plugin per connected device | - | **${md.plugin_bytes_per_device.toFixed(0)} B** |`);
  console.log(`| of which the connection (connected, silent) | - | ${md.plugin_bytes_per_connection.toFixed(0)} B |`);
  console.log(`| of which the occupied bed (sending at 1 Hz minus silent, beyond bare's own difference) | - | ${md.plugin_bytes_per_bed.toFixed(0)} B |`);
  console.log(`| plugin RSS per provisioned device, idle (identity table) | - | ${md.plugin_idle_bytes_per_provisioned_device.toFixed(0)} B |`);
  console.log(`| anonymous memory only (RssAnon: without the mapped journal segment's page cache): added per connected device | - | ${md.anon.plugin_bytes_per_device.toFixed(0)} B |`);
  console.log(`| anonymous: of which the connection | - | ${md.anon.plugin_bytes_per_connection.toFixed(0)} B |`);
  console.log(`| anonymous: of which the occupied bed | - | ${md.anon.plugin_bytes_per_bed.toFixed(0)} B |`);
  if (opt.json) {
    mkdirSync(path.dirname(opt.json), { recursive: true });
    writeFileSync(opt.json, `${JSON.stringify(out, null, 2)}\n`);
  }
} finally {
  await bench.stop();
}
