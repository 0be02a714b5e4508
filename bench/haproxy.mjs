#!/usr/bin/env node
// HAProxy's cost in front of a cell (issue 14). Two fleets of the same size
// publish at 1 Hz with QoS 1 (bench/vgload, real identities) into one
// Mosquitto + Vitalgate instance AT THE SAME TIME: one straight to the
// broker, one through HAProxy (the configuration of tools/haproxy-cells.mjs:
// CONNECT inspection, the client-id map, health checks on /health). Both
// fleets see the same broker, the same moment and the same noise from the
// rest of the machine, so the difference between them is HAProxy's. The
// fleets swap identities every round. Prints, per fleet size (medians of the
// rounds):
//  - PUBACK p50/p99 direct and through HAProxy, their ratio and the added µs;
//  - HAProxy's CPU per 1,000 devices (% of one core, from /proc over the
//    middle of the traffic window) and per message;
//  - HAProxy's RSS per proxied connection (a fresh process each round: peak
//    while the fleet is connected, minus the empty process);
//  - CONNECT to CONNACK p50/p99 both ways (2,000 connects/s per fleet).
//
//   node bench/haproxy.mjs [--sizes 2000,5000] [--seconds 20] [--rounds 3] [--json out.json]
//
// Broker thread on core 0; both vgloads, HAProxy (one thread), PostgreSQL and
// the plugin's workers on core 1.
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { Bench, Broker, vgload, cpuOf, rssOf, freePort } from '../tests/lib/bench.mjs';
import { Haproxy } from '../tests/lib/haproxy.mjs';

const args = process.argv.slice(2);
const opt = { sizes: '2000,5000', seconds: 20, rounds: 3, json: null };
for (let i = 0; i < args.length; i++) {
  const k = args[i].replace(/^--/, '');
  opt[k] = k === 'json' || k === 'sizes' ? args[++i] : Number(args[++i]);
}
const sizes = String(opt.sizes).split(',').map(Number);
const log = (m) => process.stderr.write(`haproxy: ${m}\n`);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

const bench = await Bench.start({ noBroker: true });
let hx;
let broker;
try {
  const max = Math.max(...sizes);
  log(`provisioning ${2 * max} devices (two fleets)`);
  const creds = bench.importDevices(Array.from({ length: 2 * max }, (_, i) => `hx-${i} H${i % 25} B${i}`));
  bench.pg.pin(1);
  const fleetFile = (n, half) => {
    const f = path.join(bench.root, `creds-${n}-${half}.txt`);
    writeFileSync(f, `${creds.slice(half * max, half * max + n).map((c) => `${c.id} ${c.secret}`).join('\n')}\n`);
    return f;
  };
  const healthPort = await freePort();
  broker = await Broker.start(bench.root, {
    ...bench.brokerOpts, logTypes: ['error', 'warning'], readyByTcp: true, cpu: 0, workerCpu: 1,
    options: { metrics_port: healthPort },
  });
  broker.healthPort = healthPort;
  await bench.waitIdentity(broker.port, creds.at(-1).id, creds.at(-1).secret);
  const map = creds.map((c) => [c.id, 'a']);
  const startHaproxy = async () => {
    const h = await Haproxy.start(bench.root, { cells: [{ name: 'a', primary: broker }], map, cpu: 1 });
    await h.waitStatus('cell_a', 'primary', /^UP$/);
    return h;
  };
  hx = await startHaproxy();
  // HAProxy idle (health checks only), for reference.
  const idle0 = cpuOf(hx.pid);
  await sleep(5000);
  const idle1 = cpuOf(hx.pid);
  const idleCores = ((idle1.main + idle1.workers) - (idle0.main + idle0.workers)) / 5;
  log(`HAProxy idle: ${(idleCores * 100).toFixed(3)} % of a core, RSS ${(rssOf(hx.pid) / 1048576).toFixed(1)} MiB`);

  const results = [];
  for (const n of sizes) {
    const files = [fleetFile(n, 0), fleetFile(n, 1)];
    const traffic = ['--rate', '1', '--qos', '1', '--duration', String(opt.seconds), '--connect-rate', '2000'];
    const rounds = [];
    for (let round = 1; round <= opt.rounds; round++) {
      log(`${n} + ${n} devices, round ${round}`);
      // A fresh HAProxy: its RSS before the run is an empty process's (it
      // keeps freed memory in its pools).
      await hx.stop();
      hx = await startHaproxy();
      await sleep(1000);
      const idleRss = rssOf(hx.pid);
      let peakRss = idleRss;
      const samples = [];
      const t0 = Date.now();
      const timer = setInterval(() => {
        samples.push({ at: Date.now() - t0, hx: cpuOf(hx.pid) });
        peakRss = Math.max(peakRss, rssOf(hx.pid));
      }, 500);
      const [fd, fh] = round % 2 ? files : [files[1], files[0]];
      const [d, h] = await Promise.all([
        vgload(broker.port, ['--creds', fd, ...traffic]),
        vgload(hx.port, ['--creds', fh, ...traffic]),
      ]);
      clearInterval(timer);
      for (const [way, r] of [['direct', d], ['haproxy', h]]) {
        if (r.connack_ok !== n || r.puback_refused || r.puback_missing) {
          throw new Error(`${way}: ${r.connack_ok} of ${n} connected, ${r.puback_refused} refused, ${r.puback_missing} missing: ${JSON.stringify(r)}`);
        }
      }
      const start = Math.max(d.connect_ms_last ?? 0, h.connect_ms_last ?? 0);
      const win = samples.filter((s) => s.at >= start + 2000 && s.at <= start + opt.seconds * 1000 - 1000);
      if (win.length < 2) throw new Error('traffic window too short: use --seconds 5 or more');
      const secs = (win.at(-1).at - win[0].at) / 1000;
      const cpu = (win.at(-1).hx.main + win.at(-1).hx.workers) - (win[0].hx.main + win[0].hx.workers);
      const fig = (r) => ({
        puback_p50_us: r.puback_p50_us, puback_p99_us: r.puback_p99_us, puback_p999_us: r.puback_p999_us,
        connect_p50_ms: r.connect_p50_ms, connect_p99_ms: r.connect_p99_ms, msgs_per_s: r.pub_rate, pub_lag_max_us: r.pub_lag_max_us,
      });
      const row = {
        round,
        direct: fig(d),
        haproxy: {
          ...fig(h), cpu_cores: cpu / secs, cpu_pct_per_1000: (cpu / secs) * 100 * 1000 / n, us_per_msg: cpu * 1e6 / (h.pub_rate * secs),
          rss_idle: idleRss, rss_peak: peakRss, rss_per_conn: (peakRss - idleRss) / n,
        },
      };
      log(JSON.stringify(row));
      rounds.push(row);
    }
    const med = (f) => median(rounds.map(f));
    const both = (k) => ({
      direct: med((r) => r.direct[k]), haproxy: med((r) => r.haproxy[k]),
      ratio: med((r) => r.haproxy[k] / r.direct[k]), added: med((r) => r.haproxy[k] - r.direct[k]),
    });
    results.push({
      devices: n,
      rounds,
      median: {
        puback_p50_us: both('puback_p50_us'),
        puback_p99_us: both('puback_p99_us'),
        connect_p50_ms: both('connect_p50_ms'),
        connect_p99_ms: both('connect_p99_ms'),
        haproxy_cpu_pct_per_1000: med((r) => r.haproxy.cpu_pct_per_1000),
        haproxy_us_per_msg: med((r) => r.haproxy.us_per_msg),
        haproxy_rss_per_conn: med((r) => r.haproxy.rss_per_conn),
      },
    });
  }
  const out = { bench: 'haproxy', sizes, seconds: opt.seconds, rounds: opt.rounds, idle_cpu_cores: idleCores, results };
  console.log(`\nHAProxy in front of a cell: two fleets at 1 Hz QoS 1 into one broker at the same time, one direct, one ` +
    `through HAProxy; ${opt.seconds} s x ${opt.rounds} rounds per size (medians; ratio = median of the rounds' ratios)`);
  console.log('| devices per fleet | PUBACK p50 direct / HAProxy | ratio | PUBACK p99 direct / HAProxy | ratio | added p99 | HAProxy CPU per 1,000 devices | HAProxy CPU per message | HAProxy RSS per connection | CONNACK p50, p99 direct / HAProxy |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const { devices, median: m } of results) {
    console.log(`| ${devices} | ${m.puback_p50_us.direct.toFixed(0)} / ${m.puback_p50_us.haproxy.toFixed(0)} µs | ${m.puback_p50_us.ratio.toFixed(2)} ` +
      `| ${m.puback_p99_us.direct.toFixed(0)} / ${m.puback_p99_us.haproxy.toFixed(0)} µs | ${m.puback_p99_us.ratio.toFixed(2)} ` +
      `| ${m.puback_p99_us.added.toFixed(0)} µs | ${m.haproxy_cpu_pct_per_1000.toFixed(2)} % of a core | ${m.haproxy_us_per_msg.toFixed(1)} µs ` +
      `| ${(m.haproxy_rss_per_conn / 1024).toFixed(1)} KiB | ${m.connect_p50_ms.direct.toFixed(1)}, ${m.connect_p99_ms.direct.toFixed(1)} / ` +
      `${m.connect_p50_ms.haproxy.toFixed(1)}, ${m.connect_p99_ms.haproxy.toFixed(1)} ms |`);
  }
  console.log(`\nHAProxy idle (health checks only): ${(idleCores * 100).toFixed(3)} % of a core.`);
  if (opt.json) {
    mkdirSync(path.dirname(opt.json), { recursive: true });
    writeFileSync(opt.json, `${JSON.stringify(out, null, 2)}\n`);
  }
} finally {
  await hx?.stop();
  await broker?.stop();
  await bench.stop();
}
