#!/usr/bin/env node
// Failover of a cell under load (issue 14): --devices devices (5,000) of one
// cell publish at --rate Hz (1) with QoS 1 through HAProxy (the shipped
// timings of tools/haproxy-cells.mjs) to the cell's primary; a standby of
// the same cell waits. The primary is killed with SIGKILL; the devices
// (tests/lib/fleet.mjs: MQTT.js clients that reconnect after --reconnect ms
// and send again what was not acknowledged) come back through HAProxy on
// the standby. Measured: seconds from the kill until 99 % (and 100 %) of
// the devices had a PUBACK again; what was acknowledged before the kill but
// is in PostgreSQL only once the dead primary's journal is replayed (what a
// machine lost for good loses); then the primary is started again (its
// journal replayed), the devices stop, and every acknowledged sample is
// looked up in PostgreSQL: lost (must be 0) and stored twice (must be 0).
//
//   node bench/failover.mjs [--devices 5000] [--rate 1] [--reconnect 500] [--rounds 2] [--json out.json]
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { Bench, Broker, freePort, waitFor } from '../tests/lib/bench.mjs';
import { Haproxy, TIMINGS, budget } from '../tests/lib/haproxy.mjs';
import { Fleet, verifyStored } from '../tests/lib/fleet.mjs';

const args = process.argv.slice(2);
const opt = { devices: 5000, rate: 1, reconnect: 500, rounds: 2, json: null };
for (let i = 0; i < args.length; i++) {
  const k = args[i].replace(/^--/, '');
  opt[k] = k === 'json' ? args[++i] : Number(args[++i]);
}
const log = (m) => process.stderr.write(`failover: ${m}\n`);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

const bench = await Bench.start({ noBroker: true });
const brokers = {};
let hx;
try {
  await bench.adminOk(['ward', 'place', 'FW', '--cell', 'f']);
  log(`provisioning ${opt.devices} devices`);
  const creds = bench.importDevices(Array.from({ length: opt.devices }, (_, i) => `fo-${i} FW B${i}`));
  for (const name of ['primary', 'standby']) {
    const healthPort = await freePort();
    brokers[name] = await Broker.start(bench.root, {
      ...bench.brokerOpts, spoolDir: bench.newSpool(`spool-${name}`), logTypes: ['error', 'warning', 'notice', 'information'],
      options: { cell: 'f', metrics_port: healthPort, trusted_proxies: '127.0.0.1' },
    });
    brokers[name].healthPort = healthPort;
  }
  hx = await Haproxy.start(bench.root, {
    map: creds.map((c) => [c.id, 'f']), cells: [{ name: 'f', primary: brokers.primary, standby: brokers.standby }],
  });
  await hx.waitStatus('cell_f', 'primary', /^UP$/);
  await hx.waitStatus('cell_f', 'standby', /^UP$/);
  const ids = creds.map((c) => c.id);
  const rounds = [];
  for (let round = 1; round <= opt.rounds; round++) {
    const fleet = new Fleet({ port: hx.port, creds, rate: opt.rate, reconnectMs: opt.reconnect });
    log(`round ${round}: ${opt.devices} devices connecting through HAProxy`);
    await fleet.start();
    await sleep(10000);
    const tKill = Date.now();
    log(`round ${round}: kill -9 of the primary`);
    await brokers.primary.kill9();
    await waitFor(() => fleet.recoveredBy(tKill, 1, ids) < Infinity, { timeout: 60000, interval: 100, what: 'every device publishing again' });
    const r = { round, p99_s: fleet.recoveredBy(tKill, 0.99, ids) / 1000, all_s: fleet.recoveredBy(tKill, 1, ids) / 1000 };
    log(`round ${round}: 99 % publishing again after ${r.p99_s.toFixed(2)} s, all after ${r.all_s.toFixed(2)} s`);
    await sleep(5000);
    // What a primary lost for good would lose: the samples it acknowledged
    // before dying that are not in PostgreSQL (still in its journal only),
    // and how long before the kill they were acknowledged.
    {
      const stored = new Set((await bench.pg.query("SELECT device_id || ':' || seq AS k FROM vitals WHERE device_id LIKE 'fo-%'")).rows.map((x) => x.k));
      let n = 0;
      let oldest = 0;
      for (const [id, m] of fleet.ackedAt) {
        for (const [seq, t] of m) {
          if (t <= tKill && !stored.has(`${id}:${seq}`)) {
            n += 1;
            oldest = Math.max(oldest, tKill - t);
          }
        }
      }
      r.only_in_dead_journal = n;
      r.only_in_dead_journal_oldest_ms = oldest;
      log(`round ${round}: ${n} acknowledged sample(s) only in the dead primary's journal (acknowledged up to ${oldest} ms before the kill)`);
    }
    // The primary returns (its journal replayed); HAProxy fails back.
    await brokers.primary.boot();
    await hx.waitStatus('cell_f', 'primary', /^UP$/, 60000);
    const tUp = Date.now();
    await waitFor(() => fleet.recoveredBy(tUp, 1, ids) < Infinity, { timeout: 60000, interval: 100, what: 'every device back' });
    r.failback_all_s = fleet.recoveredBy(tUp, 1, ids) / 1000;
    await sleep(3000);
    const left = await fleet.stop({ drainMs: 30000 });
    await waitFor(async () => (await bench.pg.query("SELECT count(*)::int AS n FROM vitals WHERE device_id LIKE 'fo-%'")).rows[0].n
      >= fleet.ackedCount, { timeout: 120000, interval: 1000, what: 'every acknowledged sample in PostgreSQL' }).catch(() => {});
    const v = await verifyStored(bench.pg, fleet);
    Object.assign(r, { acked: fleet.ackedCount, lost: v.missing.length, dups: v.dups, unacknowledged_at_stop: left });
    log(JSON.stringify(r));
    rounds.push(r);
    await bench.pg.query("DELETE FROM vitals WHERE device_id LIKE 'fo-%'");
    await sleep(2000);
  }
  const b = budget(TIMINGS, opt.reconnect);
  const out = {
    bench: 'failover', devices: opt.devices, rate_hz: opt.rate, reconnect_ms: opt.reconnect, rounds,
    budget_s: b.failover / 1000,
    median: { p99_s: median(rounds.map((r) => r.p99_s)), all_s: median(rounds.map((r) => r.all_s)) },
    lost: rounds.reduce((n, r) => n + r.lost, 0), dups: rounds.reduce((n, r) => n + r.dups, 0),
  };
  console.log(`\nFailover: ${opt.devices} devices of one cell at ${opt.rate} Hz QoS 1 through HAProxy, kill -9 of the primary`);
  console.log('| round | 99 % publishing again | all | failback (all) | acknowledged | lost | stored twice | only in the dead journal |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rounds) {
    console.log(`| ${r.round} | ${r.p99_s.toFixed(2)} s | ${r.all_s.toFixed(2)} s | ${r.failback_all_s.toFixed(2)} s | ${r.acked} | ${r.lost} `
      + `| ${r.dups} | ${r.only_in_dead_journal} (acked <= ${r.only_in_dead_journal_oldest_ms} ms before the kill) |`);
  }
  console.log(`\nBudget (HAProxy detection ${TIMINGS.inter + (TIMINGS.fall - 1) * TIMINGS.fastinter} ms + retry 1 s + `
    + `reconnect ${opt.reconnect} ms): ${out.budget_s.toFixed(1)} s.`);
  if (opt.json) {
    mkdirSync(path.dirname(opt.json), { recursive: true });
    writeFileSync(opt.json, `${JSON.stringify(out, null, 2)}\n`);
  }
  if (out.lost > 0 || out.dups > 0) process.exitCode = 1;
} finally {
  if (hx) await hx.stop();
  for (const b of Object.values(brokers)) await b.stop().catch(() => {});
  await bench.stop();
}
