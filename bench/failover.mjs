#!/usr/bin/env node
// Failover of a cell under load (issue 14): --devices devices (5,000) of one
// cell publish at --rate Hz (1) with QoS 1 through HAProxy (the shipped
// timings of tools/haproxy-cells.mjs) to the cell's primary; a standby of
// the same cell waits. bench/vgload drives them with --reconnect (a device
// whose connection is lost comes back after 50 ms doubling to 2 s, like
// firmware, and publishes again) and --acked (every accepted sample). After
// --before s of traffic the primary is killed with SIGKILL. Measured:
//  - seconds from the kill until 99 % (and all) of the devices had a sample
//    accepted again (through HAProxy, by the standby), and as the standby
//    saw it (its connected devices, polled every 100 ms);
//  - what a machine lost for good would lose: the samples acknowledged
//    before the kill that PostgreSQL does not hold once the standby's
//    writer is done (they are in the dead primary's journal only), and how
//    long before the kill they were acknowledged;
//  - then the primary is started again on its spool (its journal replayed)
//    and every acknowledged sample is looked up in PostgreSQL: lost (must be
//    0) and stored twice (must be 0).
//
//   node bench/failover.mjs [--devices 5000] [--rate 1] [--before 10] [--after 15] [--rounds 2] [--json out.json]
import { writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { Bench, Broker, freePort, waitFor, httpGet, promValue, vgload } from '../tests/lib/bench.mjs';
import { Haproxy, TIMINGS, budget } from '../tests/lib/haproxy.mjs';

const args = process.argv.slice(2);
const opt = { devices: 5000, rate: 1, before: 10, after: 15, rounds: 2, json: null };
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
  const credFile = path.join(bench.root, 'creds.txt');
  writeFileSync(credFile, `${creds.map((c) => `${c.id} ${c.secret}`).join('\n')}\n`);
  for (const name of ['primary', 'standby']) {
    const healthPort = await freePort();
    brokers[name] = await Broker.start(bench.root, {
      ...bench.brokerOpts, spoolDir: bench.newSpool(`spool-${name}`), logTypes: ['error', 'warning'], readyByTcp: true,
      options: { cell: 'f', metrics_port: healthPort, trusted_proxies: '127.0.0.1' },
    });
    brokers[name].healthPort = healthPort;
  }
  hx = await Haproxy.start(bench.root, {
    map: creds.map((c) => [c.id, 'f']), cells: [{ name: 'f', primary: brokers.primary, standby: brokers.standby }],
  });
  const connected = async (b) => promValue((await httpGet(b.healthPort, '/metrics')).body, 'vitalgate_clients_connected{role="device"}');
  const rounds = [];
  for (let round = 1; round <= opt.rounds; round++) {
    await hx.waitStatus('cell_f', 'primary', /^UP$/, 60000);
    await hx.waitStatus('cell_f', 'standby', /^UP$/, 60000);
    const ackFile = path.join(bench.root, `acked-${round}.txt`);
    const run = vgload(hx.port, ['--creds', credFile, '--rate', String(opt.rate), '--qos', '1', '--duration',
      String(opt.before + opt.after), '--connect-rate', '2000', '--reconnect', '--acked', ackFile], { cpu: null });
    await waitFor(async () => (await connected(brokers.primary)) >= opt.devices, { timeout: 60000, interval: 200, what: 'every device on the primary' });
    await sleep(opt.before * 1000);
    let standby99 = null;
    let standbyAll = null;
    const tKill = Date.now();
    const poll = setInterval(async () => {
      const n = await connected(brokers.standby).catch(() => 0);
      if (standby99 === null && n >= 0.99 * opt.devices) standby99 = Date.now() - tKill;
      if (standbyAll === null && n >= opt.devices) standbyAll = Date.now() - tKill;
    }, 100);
    log(`round ${round}: kill -9 of the primary`);
    await brokers.primary.kill9();
    const r0 = await run;
    clearInterval(poll);
    // The standby's writer is done within a moment: what PostgreSQL lacks
    // now is only in the dead primary's journal.
    await sleep(2000);
    const acked = readFileSync(ackFile, 'utf8').trim().split('\n').map((l) => l.split(' '));
    const storedNow = async () => new Set((await bench.pg.query("SELECT device_id || ' ' || seq AS k FROM vitals WHERE device_id LIKE 'fo-%'"))
      .rows.map((x) => x.k));
    let have = await storedNow();
    const deadOnly = acked.filter(([id, seq]) => !have.has(`${id} ${seq}`));
    const r = {
      round,
      p99_s: r0.recover_since_first_loss_p99_ms / 1000,
      all_s: r0.recover_since_first_loss_max_ms / 1000,
      per_device_p99_s: r0.recover_p99_ms / 1000,
      standby_connected_99_s: standby99 === null ? null : standby99 / 1000,
      standby_connected_all_s: standbyAll === null ? null : standbyAll / 1000,
      lost_connections: r0.disconnects, recovered: r0.recovered, puback_p99_ms: r0.puback_p99_us / 1000,
      only_in_dead_journal: deadOnly.length,
      only_in_dead_journal_oldest_ms: deadOnly.reduce((m, x) => Math.max(m, tKill - Number(x[2])), 0),
    };
    log(`round ${round}: ${r.recovered} of ${r.lost_connections} devices publishing again; 99 % after ${r.p99_s.toFixed(2)} s, `
      + `all after ${r.all_s.toFixed(2)} s (the standby had 99 % connected after ${r.standby_connected_99_s} s); `
      + `${r.only_in_dead_journal} acknowledged sample(s) only in the dead primary's journal (acknowledged up to `
      + `${r.only_in_dead_journal_oldest_ms} ms before the kill)`);
    // The primary returns on its spool: its journal is replayed.
    await brokers.primary.boot({ waitReady: true });
    await waitFor(async () => {
      have = await storedNow();
      return acked.every(([id, seq]) => have.has(`${id} ${seq}`));
    }, { timeout: 120000, interval: 1000, what: 'every acknowledged sample in PostgreSQL' }).catch(() => {});
    const dups = (await bench.pg.query("SELECT count(*)::int AS n FROM (SELECT 1 FROM vitals WHERE device_id LIKE 'fo-%' "
      + 'GROUP BY device_id, seq HAVING count(*) > 1) x')).rows[0].n;
    Object.assign(r, { acked: acked.length, lost: acked.filter(([id, seq]) => !have.has(`${id} ${seq}`)).length, dups });
    log(JSON.stringify(r));
    rounds.push(r);
    await bench.pg.query("DELETE FROM vitals WHERE device_id LIKE 'fo-%'");
  }
  const b = budget(TIMINGS, 2000);
  const out = {
    bench: 'failover', devices: opt.devices, rate_hz: opt.rate, rounds, budget_s: b.failover / 1000,
    median: { p99_s: median(rounds.map((r) => r.p99_s)), all_s: median(rounds.map((r) => r.all_s)) },
    lost: rounds.reduce((n, r) => n + r.lost, 0), dups: rounds.reduce((n, r) => n + r.dups, 0),
  };
  console.log(`\nFailover: ${opt.devices} devices of one cell at ${opt.rate} Hz QoS 1 through HAProxy, kill -9 of the primary`);
  console.log('| round | 99 % publishing again | all | standby: 99 % connected | acknowledged | lost | stored twice | only in the dead journal |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rounds) {
    console.log(`| ${r.round} | ${r.p99_s.toFixed(2)} s | ${r.all_s.toFixed(2)} s | ${r.standby_connected_99_s} s | ${r.acked} | ${r.lost} `
      + `| ${r.dups} | ${r.only_in_dead_journal} (acknowledged <= ${r.only_in_dead_journal_oldest_ms} ms before the kill) |`);
  }
  console.log(`\nBudget (HAProxy detection ${TIMINGS.inter + (TIMINGS.fall - 1) * TIMINGS.fastinter} ms + retry 1 s + `
    + `the devices' backoff, at most 2 s): ${out.budget_s.toFixed(1)} s.`);
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
