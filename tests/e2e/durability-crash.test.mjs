// Durability across broker crashes: SIGKILL mid-load, a clean SIGTERM, a
// corrupted journal record, and (device, seq) uniqueness when the broker has
// forgotten what it saw. (Issue 5.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { Bench, Broker, connect, publishQos1, sample, waitFor } from '../lib/bench.mjs';
import { Fleet, provisionFleet, settleFleet, verifyStored } from '../lib/fleet.mjs';

const provision = (bench, n, prefix) => provisionFleet(bench, bench.broker.port, n, prefix, '8N');
const settle = settleFleet;

test('broker killed with SIGKILL mid-load and restarted: every PUBACKed sample stored exactly once', { timeout: 120000 }, async () => {
  const bench = await Bench.start({});
  try {
    const fleet = new Fleet({ port: bench.broker.port, creds: await provision(bench, 20, 'kill'), rate: 20 });
    await fleet.start();
    await sleep(3000);
    const before = fleet.ackedCount;
    await bench.broker.kill9();
    await sleep(500);
    await bench.broker.boot();
    await sleep(4000);
    assert.ok(fleet.ackedCount > before + 1000, 'devices came back and kept sending');
    const left = await fleet.stop();
    assert.equal(left, 0);
    assert.deepEqual(fleet.otherRejections, []);
    const v = await settle(bench, fleet, 'kill');
    assert.deepEqual(v.missing, []);
    assert.equal(v.dups, 0);
    assert.equal(v.storedRows, fleet.ackedCount);
  } finally {
    await bench.stop();
  }
});

/** A journal segment as this test reads the format: its size, and where its
 * records end when only zeros follow them (the preallocated tail of the
 * segment a killed broker was appending to), else its size. */
function segmentData(file) {
  const b = readFileSync(file);
  let off = 16;
  while (off + 24 <= b.length && b.readUInt32LE(off) === 0x524a4756 && off + 24 + b.readUInt32LE(off + 4) <= b.length) {
    off += 24 + b.readUInt32LE(off + 4);
  }
  const zerosAfter = off < b.length && b.subarray(off).every((x) => x === 0);
  return { size: b.length, end: zerosAfter ? off : b.length };
}

test('16.2 SIGKILL leaves the mapped journal segment preallocated: the restart cuts the zeros off and every PUBACKed sample is stored once', { timeout: 120000 }, async () => {
  const bench = await Bench.start({});
  let fleet;
  try {
    assert.ok(bench.broker.lines.some((l) => /Vitalgate journal: .* appending through a mapped segment/.test(l)),
      'appends go through the mapped segment here');
    const creds = await provision(bench, 10, 'pre');
    // PostgreSQL away: the segment stays on disk to be looked at.
    await bench.pg.stop();
    fleet = new Fleet({ port: bench.broker.port, creds, rate: 20 });
    await fleet.start();
    await sleep(2000);
    await bench.broker.kill9();
    const jdir = path.join(bench.spool, 'journal');
    const segs = readdirSync(jdir).filter((f) => f.endsWith('.vgj')).sort();
    const last = path.join(jdir, segs.at(-1));
    const before = segmentData(last);
    assert.ok(before.end < before.size, `the killed broker's segment keeps its preallocated tail (${JSON.stringify(before)})`);
    const mark = bench.broker.mark();
    // The journal opens in the plugin's init: no need to wait for more.
    await bench.broker.boot({ waitReady: false });
    const line = await bench.broker.waitLog(/Vitalgate journal: .*\.vgj was active when its broker stopped/, 10000, mark);
    assert.match(line, new RegExp(`${segs.at(-1)} was active .* data ends at offset ${before.end}, ${before.size - before.end} preallocated zero bytes after it cut off`));
    assert.deepEqual(segmentData(last), { size: before.end, end: before.end });
    // Then as usual: PostgreSQL back, the broker restarted with it, the
    // devices resend what was never acknowledged.
    await bench.broker.stop();
    await bench.pg.boot();
    await bench.broker.boot();
    await sleep(2000);
    assert.ok(!bench.broker.lines.slice(mark).some((l) => /corrupt record|torn record/.test(l)), 'nothing torn or corrupt');
    const left = await fleet.stop();
    assert.equal(left, 0);
    assert.deepEqual(fleet.otherRejections, []);
    const v = await settle(bench, fleet, 'pre');
    assert.deepEqual(v.missing, []);
    assert.equal(v.dups, 0);
    assert.equal(v.storedRows, fleet.ackedCount);
  } finally {
    if (fleet?.running) await fleet.stop({ drainMs: 0 });
    await bench.stop();
  }
});

test('SIGTERM under load: the broker writes what it holds and stops cleanly; nothing acknowledged is lost', { timeout: 120000 }, async () => {
  const bench = await Bench.start({});
  try {
    const fleet = new Fleet({ port: bench.broker.port, creds: await provision(bench, 10, 'term'), rate: 20 });
    await fleet.start();
    await sleep(2000);
    const mark = bench.broker.mark();
    const exit = await bench.broker.stop();
    assert.equal(exit.code, 0, 'clean exit');
    assert.ok(bench.broker.lines.slice(mark).some((l) => /Vitalgate: stopping/.test(l)));
    await bench.broker.boot();
    await sleep(2000);
    const left = await fleet.stop();
    assert.equal(left, 0);
    const v = await settle(bench, fleet, 'term');
    assert.deepEqual(v.missing, []);
    assert.equal(v.dups, 0);
  } finally {
    await bench.stop();
  }
});

test('a corrupted journal record is skipped with a log line naming file and offset; nothing else is lost', { timeout: 120000 }, async () => {
  const bench = await Bench.start({});
  try {
    const creds = await provision(bench, 5, 'corr');
    await bench.pg.stop();
    // Batches of 8 so each journal record holds 8 samples of one device.
    const fleet = new Fleet({ port: bench.broker.port, creds, rate: 10, batch: 8 });
    await fleet.start();
    await sleep(2000);
    const left = await fleet.stop();
    assert.equal(left, 0);
    await bench.broker.kill9();
    // Flip one byte in the payload of a record in the middle of a segment.
    const jdir = path.join(bench.spool, 'journal');
    const seg = readdirSync(jdir).filter((f) => f.endsWith('.vgj')).map((f) => path.join(jdir, f))
      .sort((a, b) => statSync(b).size - statSync(a).size)[0];
    const buf = readFileSync(seg);
    const magic = Buffer.from('VGJR', 'latin1');
    const offsets = [];
    for (let i = buf.indexOf(magic); i >= 0; i = buf.indexOf(magic, i + 1)) offsets.push(i);
    assert.ok(offsets.length > 10, `records in ${seg}`);
    const victim = offsets[Math.floor(offsets.length / 2)];
    buf[victim + 24 + 10] ^= 0xff;
    writeFileSync(seg, buf);
    const mark = bench.broker.mark();
    await bench.pg.boot();
    await bench.broker.boot();
    const line = await bench.broker.waitLog(/corrupt record in .*\.vgj at offset \d+/, 20000, mark);
    assert.match(line, new RegExp(`${path.basename(seg)} at offset ${victim}`));
    const total = fleet.ackedCount;
    await waitFor(async () => (await bench.pg.query(
      "SELECT count(*)::int AS n FROM vitals WHERE device_id LIKE 'corr-%'")).rows[0].n >= total - 8,
    { timeout: 30000, what: 'everything but the corrupted record' });
    await sleep(1000);
    const v = await verifyStored(bench.pg, fleet);
    assert.equal(v.missing.length, 8, 'exactly the 8 samples of the corrupted record');
    assert.equal(new Set(v.missing.map((m) => m.split(':')[0])).size, 1, 'all from one message');
    assert.equal(v.dups, 0);
  } finally {
    await bench.stop();
  }
});

test('(device_id, seq) stays unique when a restarted broker sees a seq again with another ts', { timeout: 60000 }, async () => {
  const bench = await Bench.start({});
  try {
    const secret = await bench.addDevice('uniq-1', '8N', 'B1');
    await bench.waitIdentity(bench.broker.port, 'uniq-1', secret);
    let c = await connect(bench.broker.port, { id: 'uniq-1', password: secret });
    const t = Date.now();
    assert.equal(await publishQos1(c, 'vitals/uniq-1', sample({ v: 1, seq: 77, ts: t - 5000, hr: 70 })), 0);
    // Same seq, another ts, same broker run: dropped by the broker.
    assert.equal(await publishQos1(c, 'vitals/uniq-1', sample({ v: 1, seq: 77, ts: t - 4000, hr: 71 })), 0);
    await c.endAsync();
    await bench.broker.restart();
    c = await connect(bench.broker.port, { id: 'uniq-1', password: secret });
    // After a restart the broker cannot prove it new: the writer checks.
    assert.equal(await publishQos1(c, 'vitals/uniq-1', sample({ v: 1, seq: 77, ts: t - 3000, hr: 72 })), 0);
    assert.equal(await publishQos1(c, 'vitals/uniq-1', sample({ v: 1, seq: 78, ts: t - 2000, hr: 73 })), 0);
    await c.endAsync();
    await waitFor(async () => (await bench.pg.query("SELECT count(*)::int AS n FROM vitals WHERE device_id = 'uniq-1' AND seq = 78")).rows[0].n === 1,
      { what: 'seq 78' });
    const rows = (await bench.pg.query("SELECT seq, hr FROM vitals WHERE device_id = 'uniq-1' ORDER BY seq")).rows;
    assert.deepEqual(rows.map((r) => [Number(r.seq), r.hr]), [[77, 70], [78, 73]]);
  } finally {
    await bench.stop();
  }
});

// Issue 12, item 5: (device_id, seq) is unique in every case, across
// partitions, restarts and brokers. The broker calls a seq new only when it
// knows, and the database enforces uniqueness by itself (vitals_seq_hwm).

const DAY = 86400000;

async function rowsOf(bench, id, seq) {
  return (await bench.pg.query('SELECT hr, (extract(epoch FROM measured_at) * 1000)::bigint AS ts FROM vitals '
    + 'WHERE device_id = $1 AND seq = $2', [id, seq])).rows.map((r) => [r.hr, Number(r.ts)]);
}

test('12.5 after a restart, a seq below the first one seen since the restart, resent with another ts, is stored once', { timeout: 60000 }, async () => {
  const bench = await Bench.start({});
  try {
    const secret = await bench.addDevice('floor-1', '8N', 'B2');
    await bench.waitIdentity(bench.broker.port, 'floor-1', secret);
    let c = await connect(bench.broker.port, { id: 'floor-1', password: secret });
    const t = Date.now();
    assert.equal(await publishQos1(c, 'vitals/floor-1', sample({ v: 1, seq: 100, ts: t - 5000, hr: 70 })), 0);
    assert.equal(await publishQos1(c, 'vitals/floor-1', sample({ v: 1, seq: 101, ts: t - 4500, hr: 71 })), 0);
    await c.endAsync();
    await waitFor(async () => (await rowsOf(bench, 'floor-1', 101)).length === 1, { what: 'seq 101' });
    await bench.broker.restart();
    c = await connect(bench.broker.port, { id: 'floor-1', password: secret });
    // The first message of this run, then a resend of 100 (another ts):
    // inside the new window, its bit clear, but older than this run.
    assert.equal(await publishQos1(c, 'vitals/floor-1', sample({ v: 1, seq: 105, ts: t - 3000, hr: 72 })), 0);
    assert.equal(await publishQos1(c, 'vitals/floor-1', sample({ v: 1, seq: 100, ts: t - 2000, hr: 99 })), 0);
    assert.equal(await publishQos1(c, 'vitals/floor-1', sample({ v: 1, seq: 106, ts: t - 1000, hr: 73 })), 0);
    await c.endAsync();
    await waitFor(async () => (await rowsOf(bench, 'floor-1', 106)).length === 1, { what: 'seq 106' });
    assert.deepEqual(await rowsOf(bench, 'floor-1', 100), [[70, t - 5000]]);
    assert.equal((await bench.pg.query("SELECT count(*)::int AS n FROM vitals WHERE device_id = 'floor-1'")).rows[0].n, 4);
  } finally {
    await bench.stop();
  }
});

test('12.5 the same seq with ts on two different days (two partitions), resent after a restart, is stored once', { timeout: 60000 }, async () => {
  const bench = await Bench.start({ options: { ts_max_past_s: 3 * 86400 } });
  try {
    const secret = await bench.addDevice('part-1', '8N', 'B3');
    await bench.waitIdentity(bench.broker.port, 'part-1', secret);
    let c = await connect(bench.broker.port, { id: 'part-1', password: secret });
    const t = Date.now();
    // 36 h back is always another UTC day, so another partition.
    assert.equal(await publishQos1(c, 'vitals/part-1', sample({ v: 1, seq: 200, ts: t - 1.5 * DAY, hr: 60 })), 0);
    await c.endAsync();
    await waitFor(async () => (await rowsOf(bench, 'part-1', 200)).length === 1, { what: 'seq 200' });
    await bench.broker.restart();
    c = await connect(bench.broker.port, { id: 'part-1', password: secret });
    assert.equal(await publishQos1(c, 'vitals/part-1', sample({ v: 1, seq: 210, ts: t - 2000, hr: 61 })), 0);
    assert.equal(await publishQos1(c, 'vitals/part-1', sample({ v: 1, seq: 200, ts: t - 1000, hr: 62 })), 0);
    assert.equal(await publishQos1(c, 'vitals/part-1', sample({ v: 1, seq: 211, ts: t, hr: 63 })), 0);
    await c.endAsync();
    await waitFor(async () => (await rowsOf(bench, 'part-1', 211)).length === 1, { what: 'seq 211' });
    assert.deepEqual(await rowsOf(bench, 'part-1', 200), [[60, t - 1.5 * DAY]]);
    const parts = (await bench.pg.query("SELECT DISTINCT tableoid::regclass::text AS p FROM vitals WHERE device_id = 'part-1'")).rows;
    assert.equal(parts.length, 2, 'the rows really are in two partitions');
  } finally {
    await bench.stop();
  }
});

test('12.5 two brokers with their own journals write the same (device, seq) into one database at once: stored once', { timeout: 90000 }, async () => {
  const opts = { ts_max_past_s: 3 * 86400 };
  const bench = await Bench.start({ options: opts });
  let other;
  try {
    other = await Broker.start(bench.root, { ...bench.brokerOpts, spoolDir: bench.newSpool('spool-b'), options: opts });
    const ids = ['twin-1', 'twin-2', 'twin-3'];
    const secrets = [];
    for (const id of ids) secrets.push(await bench.addDevice(id, '8N', `T${id.slice(-1)}`));
    for (const [b, i] of [[bench.broker, 2], [other, 2]]) await bench.waitIdentity(b.port, ids[i], secrets[i]);
    const clients = [];
    for (const b of [bench.broker, other]) {
      for (let i = 0; i < ids.length; i++) clients.push({ b, id: ids[i], c: await connect(b.port, { id: ids[i], password: secrets[i] }) });
    }
    // Each device sends every batch of 64 seqs to both brokers at once,
    // with ts on another day on the second one (its rows fall in another
    // partition, where the unique index cannot see the first broker's).
    const t = Date.now();
    const batches = 15;
    for (let k = 0; k < batches; k++) {
      await Promise.all(clients.map(({ b, id, c }) => {
        const day = b === other ? 1.5 * DAY : 0;
        const batch = Array.from({ length: 64 }, (_, i) => ({ v: 1, seq: 1000 + k * 64 + i, ts: t - day - (batches * 64 - k * 64 - i), hr: 80 }));
        return publishQos1(c, `vitals/${id}`, sample(batch)).then((rc) => assert.equal(rc, 0));
      }));
    }
    await Promise.all(clients.map(({ c }) => c.endAsync()));
    const want = batches * 64 * ids.length;
    await waitFor(async () => (await bench.pg.query(
      "SELECT count(DISTINCT (device_id, seq))::int AS n FROM vitals WHERE device_id LIKE 'twin-%'")).rows[0].n === want,
    { timeout: 30000, what: `${want} distinct (device, seq)` });
    // Both writers are done: each broker's journal is fully committed.
    await sleep(1500);
    const r = (await bench.pg.query(
      "SELECT count(*)::int AS n, count(DISTINCT (device_id, seq))::int AS d FROM vitals WHERE device_id LIKE 'twin-%'")).rows[0];
    assert.equal(r.d, want);
    assert.equal(r.n, want, `every (device, seq) once (${r.n - want} duplicates)`);
  } finally {
    if (other) await other.stop();
    await bench.stop();
  }
});
