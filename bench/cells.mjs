#!/usr/bin/env node
// Cells at hospital scale (issue 14): --devices bedside devices (50,000)
// connected at once across --cells cells (3) on this machine, each device
// sending one sample every 1/--rate s (5 s) with QoS 1, into one
// PostgreSQL. One Mosquitto + Vitalgate per cell (plugin_opt_cell, the
// wards of its devices placed on it), one bench/vgload process per cell (a
// process may hold at most ~19,000 sockets here: 20,000 open files, not
// raisable), devices spread over 127.0.0.0/8 source addresses. Straight to
// the cells: HAProxy's own cost is bench/haproxy.mjs's.
//
// Per cell: broker RSS per device (peak while connected and sending, minus
// the idle broker with its identities loaded) and per provisioned identity
// (idle), the broker thread's CPU (% of a core over the traffic window),
// PUBACK p50/p99 (vgload). For all: samples committed per second in
// PostgreSQL over the traffic window, and zero loss (every PUBACKed sample
// stored: rows of the run's devices = PUBACKs). Then how it extrapolates
// to a server whose file limit is raised (one cell per core).
//
//   node bench/cells.mjs [--devices 50000] [--cells 3] [--rate 0.2] [--seconds 60] [--json out.json]
//
// Nothing is pinned: with three brokers, three load generators and
// PostgreSQL on two cores, pinning the load generators beside PostgreSQL
// (as the single-broker benchmarks do) starves them and their own delay
// dominates the PUBACK tail.
//
// Bounded: provisioning, then connect (paced, at most --connect-timeout s),
// --seconds of traffic, a drain of at most 5 s, and the wait for PostgreSQL
// to hold every acknowledged sample (at most 120 s).
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { Bench, Broker, vgload, cpuOf, rssOf, freePort, httpGet, waitFor } from '../tests/lib/bench.mjs';

const args = process.argv.slice(2);
const opt = { devices: 50000, cells: 3, rate: 0.2, seconds: 60, 'connect-rate': 1500, 'connect-timeout': 120, json: null };
for (let i = 0; i < args.length; i++) {
  const k = args[i].replace(/^--/, '');
  opt[k] = k === 'json' ? args[++i] : Number(args[++i]);
}
const log = (m) => process.stderr.write(`cells: ${m}\n`);
const perCell = Math.ceil(opt.devices / opt.cells);
if (perCell > 19000) throw new Error(`${perCell} devices per cell: over the ~19,000 sockets a process may hold here; use more --cells`);

const bench = await Bench.start({ noBroker: true });
const brokers = [];
try {
  log(`provisioning ${opt.devices} devices in ${opt.cells} cells (3 wards each)`);
  for (let c = 0; c < opt.cells; c++) {
    for (let w = 0; w < 3; w++) await bench.adminOk(['ward', 'place', `C${c}W${w}`, '--cell', `c${c}`]);
  }
  const creds = bench.importDevices(Array.from({ length: opt.devices }, (_, i) => {
    const c = i % opt.cells;
    return `cl-${i} C${c}W${Math.floor(i / opt.cells) % 3} B${i}`;
  }));
  const files = [];
  for (let c = 0; c < opt.cells; c++) {
    const f = path.join(bench.root, `creds-c${c}.txt`);
    writeFileSync(f, `${creds.filter((_, i) => i % opt.cells === c).map((x) => `${x.id} ${x.secret}`).join('\n')}\n`);
    files.push(f);
  }
  for (let c = 0; c < opt.cells; c++) {
    const healthPort = await freePort();
    const b = await Broker.start(bench.root, {
      ...bench.brokerOpts, spoolDir: bench.newSpool(`spool-c${c}`), logTypes: ['error', 'warning'], readyByTcp: true,
      options: { cell: `c${c}`, metrics_port: healthPort },
    });
    b.healthPort = healthPort;
    brokers.push(b);
    const last = creds.filter((_, i) => i % opt.cells === c).at(-1);
    await bench.waitIdentity(b.port, last.id, last.secret);
  }
  await sleep(2000);
  const idle = brokers.map((b) => rssOf(b.proc.pid));
  const bare = await (async () => {
    // An empty broker with the plugin and no identities, for the
    // identity table's share of the idle RSS.
    const b = await Broker.start(bench.root, {
      ...bench.brokerOpts, spoolDir: bench.newSpool('spool-empty'), logTypes: ['error', 'warning'], readyByTcp: true,
      options: { cell: 'nobody' },
    });
    await sleep(2000);
    const r = rssOf(b.proc.pid);
    await b.stop();
    return r;
  })();
  const stored0 = (await bench.pg.query("SELECT count(*)::int AS n FROM vitals WHERE device_id LIKE 'cl-%'")).rows[0].n;

  // Every cell's fleet at once; RSS peaks and the broker threads' CPU over
  // the traffic window (which starts once every device is connected).
  const peaks = [...idle];
  const rssTimer = setInterval(() => brokers.forEach((b, c) => { try { peaks[c] = Math.max(peaks[c], rssOf(b.proc.pid)); } catch { /* gone */ } }), 500);
  // Every fleet starts its traffic at the same moment, after all of them
  // connected (the connections compete on two cores; a fleet already
  // publishing would measure the others' connects in its tail).
  const connectS0 = Math.ceil((opt.devices / opt.cells / opt['connect-rate']) * opt.cells) + 10;
  const trafficAt = Date.now() + connectS0 * 1000;
  const traffic = ['--rate', String(opt.rate), '--qos', '1', '--duration', String(opt.seconds),
    '--connect-rate', String(opt['connect-rate']), '--connect-timeout', String(opt['connect-timeout']),
    '--traffic-at', String(trafficAt)];
  const runs = brokers.map((b, c) => vgload(b.port, ['--creds', files[c], ...traffic], { cpu: null }));
  // Connected: the brokers' device gauges reach their fleets.
  const connected = async () => Promise.all(brokers.map(async (b) => Number(/vitalgate_clients_connected\{role="device"\} (\d+)/
    .exec((await httpGet(b.healthPort, '/metrics')).body)?.[1] ?? 0)));
  const tConnect = Date.now();
  const fleet = brokers.map((_, c) => creds.filter((__, i) => i % opt.cells === c).length);
  await waitFor(async () => (await connected()).every((n, c) => n >= fleet[c]),
    { timeout: opt['connect-timeout'] * 1000, interval: 1000, what: 'every device connected' });
  const connectS = (Date.now() - tConnect) / 1000;
  log(`all ${opt.devices} devices connected in ${connectS.toFixed(1)} s`);
  // The middle of the traffic window: from 5 s in to 5 s before its end.
  await sleep(Math.max(0, trafficAt - Date.now()) + 5000);
  const cpu0 = brokers.map((b) => cpuOf(b.proc.pid));
  const n0 = (await bench.pg.query("SELECT count(*)::int AS n FROM vitals WHERE device_id LIKE 'cl-%'")).rows[0].n;
  const t0 = Date.now();
  await sleep(Math.max(5, opt.seconds - 12) * 1000);
  const secs = (Date.now() - t0) / 1000;
  const cpu1 = brokers.map((b, c) => cpuOf(b.proc.pid, cpu0[c]));
  const n1 = (await bench.pg.query("SELECT count(*)::int AS n FROM vitals WHERE device_id LIKE 'cl-%'")).rows[0].n;
  const results = await Promise.all(runs);
  clearInterval(rssTimer);
  const acked = results.reduce((n, r) => n + r.puback_ok, 0);
  log(`${acked} samples acknowledged; waiting for PostgreSQL to hold them`);
  await waitFor(async () => (await bench.pg.query("SELECT count(*)::int AS n FROM vitals WHERE device_id LIKE 'cl-%'")).rows[0].n
    - stored0 >= acked, { timeout: 120000, interval: 1000, what: 'every acknowledged sample in PostgreSQL' }).catch(() => {});
  const stored = (await bench.pg.query("SELECT count(*)::int AS n FROM vitals WHERE device_id LIKE 'cl-%'")).rows[0].n - stored0;
  const dups = (await bench.pg.query("SELECT count(*)::int AS n FROM (SELECT 1 FROM vitals WHERE device_id LIKE 'cl-%' "
    + 'GROUP BY device_id, seq HAVING count(*) > 1) x')).rows[0].n;

  const cells = brokers.map((b, c) => {
    const r = results[c];
    return {
      cell: `c${c}`, devices: r.connack_ok, refused: r.connack_refused_total, failed: r.connect_failed,
      idle_rss: idle[c], peak_rss: peaks[c],
      rss_per_device: (peaks[c] - idle[c]) / r.connack_ok,
      idle_rss_per_identity: (idle[c] - bare) / r.clients,
      broker_thread_cpu_pct: (100 * cpu1[c].main) / secs,
      puback_p50_us: r.puback_p50_us, puback_p99_us: r.puback_p99_us, puback_ok: r.puback_ok,
      puback_refused: r.puback_refused, puback_missing: r.puback_missing, disconnects: r.disconnects,
    };
  });
  const committed = (n1 - n0) / secs;
  const expected = opt.devices * opt.rate;
  const worst = cells.reduce((a, x) => (x.broker_thread_cpu_pct > a.broker_thread_cpu_pct ? x : a));
  // One broker thread per core at this load: devices a core carries at the
  // measured CPU per device, and memory per device (file limit raised).
  const perCoreDevices = (100 / worst.broker_thread_cpu_pct) * (opt.devices / opt.cells);
  const out = {
    bench: 'cells', devices: opt.devices, cells: opt.cells, rate_hz: opt.rate, seconds: opt.seconds,
    connect_s: connectS, window_s: secs, per_cell: cells,
    committed_per_s: committed, expected_per_s: expected, acked, stored, lost: Math.max(0, acked - stored), dups,
    idle_rss_empty_broker: bare,
    extrapolation: { devices_per_broker_thread_core: perCoreDevices },
  };
  console.log(`\nCells: ${opt.devices} devices across ${opt.cells} cells, one sample per ${1 / opt.rate} s each (QoS 1), `
    + `${secs.toFixed(0)} s measured (connect took ${connectS.toFixed(0)} s)`);
  console.log('| cell | devices | RSS per device | idle RSS per identity | broker-thread CPU | PUBACK p50 | PUBACK p99 |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const x of cells) {
    console.log(`| ${x.cell} | ${x.devices} | ${(x.rss_per_device / 1024).toFixed(2)} KiB | ${x.idle_rss_per_identity.toFixed(0)} B `
      + `| ${x.broker_thread_cpu_pct.toFixed(1)} % | ${(x.puback_p50_us / 1000).toFixed(2)} ms | ${(x.puback_p99_us / 1000).toFixed(2)} ms |`);
  }
  console.log(`\nCommitted: ${committed.toFixed(0)} samples/s (offered ${expected.toFixed(0)}/s); ${acked} acknowledged, `
    + `${stored} stored, ${out.lost} lost, ${dups} stored twice.`);
  console.log(`Extrapolation: at ${worst.broker_thread_cpu_pct.toFixed(1)} % of a core for ${worst.devices} devices, one broker `
    + `thread carries about ${Math.round(perCoreDevices).toLocaleString('en')} such devices per core once the file limit is raised.`);
  if (opt.json) {
    mkdirSync(path.dirname(opt.json), { recursive: true });
    writeFileSync(opt.json, `${JSON.stringify(out, null, 2)}\n`);
  }
  if (out.lost > 0 || dups > 0) process.exitCode = 1;
} finally {
  for (const b of brokers) await b.stop().catch(() => {});
  await bench.stop();
}
