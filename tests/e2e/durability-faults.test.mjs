// Durability under disk faults (issue 12): the journal's fdatasync failing
// (injected with tests/faults/vg_fault_shim.c), the spool filesystem full,
// and PostgreSQL's tablespace full. In each case devices get a clear
// refusal (`backpressure`: keep the sample and retry), never a PUBACK for
// a sample that is not journalled; nothing acknowledged is lost or stored
// twice; and Vitalgate recovers on its own once the fault is gone.
// The filesystems are small tmpfs mounts (we run as root): a test that
// cannot mount fails, it never passes without running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync, chownSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  Bench, Broker, FAULT_SHIM, fillDisk, freePort, httpGet, mountTmpfs, promValue, waitFor,
} from '../lib/bench.mjs';
import { Fleet, provisionFleet, settleFleet, verifyStored } from '../lib/fleet.mjs';

const provision = (bench, port, n, prefix) => provisionFleet(bench, port, n, prefix, '9F');

async function settle(bench, fleet, prefix) {
  await settleFleet(bench, fleet, prefix);
  await sleep(500);   // a duplicate would arrive after the count was reached
  return verifyStored(bench.pg, fleet);
}

/** The broker and PostgreSQL hold files on the mount: stop them, unmount,
 * then let the bench remove its folder. */
async function stopAndUnmount(bench, unmount) {
  if (bench.broker) await bench.broker.stop();
  await bench.pg.stop();
  unmount();
  await bench.stop();
}

/** Refusal records the fleet's devices received, with their detail. */
function watchRefusals(fleet) {
  const seen = [];
  for (const c of fleet.clients) {
    c.on('message', (_t, p) => { seen.push(JSON.parse(p.toString())); });
  }
  return seen;
}

test('12.16 fdatasync fails: samples are refused with an alarm until a fresh segment syncs and PostgreSQL has everything, then accepted again', { timeout: 120000 }, async () => {
  const mport = await freePort();
  const bench = await Bench.start({ noBroker: true });
  const ctl = path.join(bench.root, 'fail-sync');
  const broker = await Broker.start(bench.root, {
    ...bench.brokerOpts,
    options: { metrics_port: mport, journal_segment_mb: 1 },
    preload: [FAULT_SHIM],
    env: { VG_FAULT_SYNC_FILE: ctl },
  });
  bench.broker = broker;
  try {
    const fleet = new Fleet({ port: broker.port, creds: await provision(bench, broker.port, 5, 'fsy'), rate: 20 });
    await fleet.start();
    const refusals = watchRefusals(fleet);
    await sleep(1500);
    assert.equal((await httpGet(mport, '/health')).status, 200);
    const mark = broker.mark();
    writeFileSync(ctl, '');
    const alarm = await broker.waitLog(/Vitalgate ALARM: journal fdatasync .* failed/, 10000, mark);
    assert.match(alarm, /Input\/output error/);
    await waitFor(() => refusals.some((r) => r.reason === 'backpressure'), { timeout: 10000, what: 'a refusal' });
    // Settled: from now on nothing is acknowledged while the disk fails.
    await sleep(300);
    const ackedWhileFailing = fleet.ackedCount;
    await sleep(1500);
    assert.equal(fleet.ackedCount, ackedWhileFailing, 'no PUBACK while fdatasync fails');
    const r = refusals.find((x) => x.reason === 'backpressure');
    assert.match(r.detail, /journal/);
    assert.deepEqual(fleet.otherRejections, []);
    const health = await httpGet(mport, '/health');
    assert.equal(health.status, 503);
    const h = JSON.parse(health.body);
    assert.equal(h.journal.state, 'unsafe');
    assert.match(h.journal.error, /fdatasync/);
    const m = (await httpGet(mport, '/metrics')).body;
    assert.equal(promValue(m, 'vitalgate_journal_unsafe'), 1);
    assert.ok(promValue(m, 'vitalgate_journal_sync_failures_total') >= 1);

    // The disk works again: accepting resumes without a restart.
    const mark2 = broker.mark();
    rmSync(ctl);
    await broker.waitLog(/Vitalgate journal: .*accepting again/, 15000, mark2);
    await waitFor(() => fleet.ackedCount > ackedWhileFailing + 200, { timeout: 15000, what: 'PUBACKs again' });
    await waitFor(async () => (await httpGet(mport, '/health')).status === 200, { timeout: 5000, what: '/health 200' });
    assert.equal(promValue((await httpGet(mport, '/metrics')).body, 'vitalgate_journal_unsafe'), 0);
    const left = await fleet.stop();
    assert.equal(left, 0);
    const v = await settle(bench, fleet, 'fsy');
    assert.deepEqual(v.missing, []);
    assert.equal(v.dups, 0);
  } finally {
    rmSync(ctl, { force: true });
    await bench.stop();
  }
});

test('12.17 spool_dir filesystem full: devices get backpressure, nothing acknowledged is lost, acceptance resumes when space returns', { timeout: 120000 }, async () => {
  const bench = await Bench.start({ noBroker: true });
  const spool = path.join(bench.root, 'spoolfs');
  const unmount = mountTmpfs(spool, '4m', 'mosquitto');
  const mport = await freePort();
  try {
    const broker = await Broker.start(bench.root, {
      ...bench.brokerOpts, spoolDir: spool, options: { journal_max_mb: 2, journal_segment_mb: 1, metrics_port: mport },
    });
    bench.broker = broker;
    // Issue 16: on tmpfs the journal appends through a mapped segment, so a
    // full disk shows when it allocates ahead (fallocate), never as SIGBUS.
    assert.ok(broker.lines.some((l) => /Vitalgate journal: .* is on tmpfs: appending through a mapped segment/.test(l)));
    const fleet = new Fleet({ port: broker.port, creds: await provision(bench, broker.port, 5, 'enospc'), rate: 20, batch: 8 });
    await fleet.start();
    const refusals = watchRefusals(fleet);
    await sleep(1000);
    const mark = broker.mark();
    const filler = fillDisk(spool);
    await waitFor(() => fleet.refused.size > 0 && [...fleet.refused.values()].reduce((a, b) => a + b) >= 20,
      { timeout: 15000, what: 'refusals' });
    assert.deepEqual(fleet.otherRejections, [], 'a full disk is backpressure, not an error of the sample');
    assert.ok(refusals.some((r) => r.reason === 'backpressure' && /disk/.test(r.detail)), 'the detail names the full disk');
    await broker.waitLog(/Vitalgate ALARM: the journal's filesystem .* is full/, 5000, mark);
    const health = await httpGet(mport, '/health');
    assert.equal(health.status, 503);
    assert.equal(JSON.parse(health.body).journal.state, 'disk_full');
    assert.ok(promValue((await httpGet(mport, '/metrics')).body, 'vitalgate_journal_nospace_total') >= 20);
    const acked = fleet.ackedCount;
    rmSync(filler);
    await waitFor(() => fleet.ackedCount > acked + 300, { timeout: 15000, what: 'PUBACKs after space returned' });
    await broker.waitLog(/Vitalgate: the journal's filesystem has room again/, 10000, mark);
    await waitFor(async () => (await httpGet(mport, '/health')).status === 200, { timeout: 5000, what: '/health 200' });
    const left = await fleet.stop();
    assert.equal(left, 0, 'every refused sample acknowledged in the end');
    assert.deepEqual(fleet.otherRejections, []);
    const v = await settle(bench, fleet, 'enospc');
    assert.deepEqual(v.missing, []);
    assert.equal(v.dups, 0);
    assert.equal(broker.exit, null, 'the broker kept running');
  } finally {
    await stopAndUnmount(bench, unmount);
  }
});

test('12.17 PostgreSQL tablespace full: the journal absorbs, then backpressure, then everything is stored when space returns', { timeout: 150000 }, async () => {
  const bench = await Bench.start({ noBroker: true });
  const fs = path.join(bench.root, 'pgfs');
  const unmount = mountTmpfs(fs, '8m', 'postgres');
  try {
    const ts = path.join(fs, 'ts');
    mkdirSync(ts);
    const pgIds = execFileSync('id', ['-u', 'postgres']).toString().trim();
    const pgGid = execFileSync('id', ['-g', 'postgres']).toString().trim();
    chownSync(ts, Number(pgIds), Number(pgGid));
    // Every vitals partition the writer creates from now on lives on the
    // small filesystem (the ones of migrate's run are empty: none yet).
    await bench.pg.query(`CREATE TABLESPACE vgsmall LOCATION '${ts}'`);
    await bench.pg.query('ALTER TABLE vitals SET TABLESPACE vgsmall');
    const broker = await Broker.start(bench.root, {
      ...bench.brokerOpts, options: { journal_max_mb: 1, journal_segment_mb: 1 },
    });
    bench.broker = broker;
    const today = new Date().toISOString().slice(0, 10).replace(/-/g, '');
    // The writer creates the partitions once connected.
    const where = await waitFor(async () => {
      const r = await bench.pg.query('SELECT t.spcname FROM pg_class c JOIN pg_tablespace t ON t.oid = c.reltablespace '
        + 'WHERE c.relname = $1', [`vitals_${today}`]);
      return r.rows.length ? r.rows : null;
    }, { what: "today's partition" });
    assert.deepEqual(where.map((w) => w.spcname), ['vgsmall'], "today's partition is on the small filesystem");
    const fleet = new Fleet({ port: broker.port, creds: await provision(bench, broker.port, 10, 'pgfull'), rate: 20, batch: 16 });
    await fleet.start();
    await sleep(1000);
    const mark = broker.mark();
    const filler = fillDisk(fs);
    await broker.waitLog(/Vitalgate writer: batch of lsn .* failed \(53100/, 20000, mark);
    const atFull = fleet.ackedCount;
    // The journal absorbs what PostgreSQL cannot take, then refuses.
    await waitFor(() => (fleet.refused.get('backpressure') ?? 0) >= 20, { timeout: 30000, what: 'backpressure once the journal is full' });
    assert.ok(fleet.ackedCount > atFull, `samples were acknowledged into the journal while PostgreSQL was full (${fleet.ackedCount - atFull})`);
    assert.deepEqual(fleet.otherRejections, []);
    rmSync(filler);
    const left = await fleet.stop({ drainMs: 90000 });
    assert.equal(left, 0, 'every refused sample was retried until acknowledged');
    const v = await settle(bench, fleet, 'pgfull');
    assert.deepEqual(v.missing, []);
    assert.equal(v.dups, 0);
  } finally {
    await stopAndUnmount(bench, unmount);
  }
});
