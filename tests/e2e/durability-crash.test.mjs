// Durability across broker crashes: SIGKILL mid-load, a clean SIGTERM, a
// corrupted journal record, and (device, seq) uniqueness when the broker has
// forgotten what it saw. (Issue 5.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { Bench, connect, publishQos1, sample, waitFor } from '../lib/bench.mjs';
import { Fleet, verifyStored } from '../lib/fleet.mjs';

async function provision(bench, n, prefix) {
  const creds = bench.importDevices(Array.from({ length: n }, (_, i) => `${prefix}-${i} 8N B${i}`));
  await bench.waitIdentity(bench.broker.port, creds[n - 1].id, creds[n - 1].secret);
  return creds;
}

async function settle(bench, fleet, prefix) {
  const total = fleet.ackedCount;
  await waitFor(async () => (await bench.pg.query(
    'SELECT count(*)::int AS n FROM vitals WHERE device_id LIKE $1', [`${prefix}-%`])).rows[0].n >= total,
  { timeout: 60000, what: `${total} rows` });
  return verifyStored(bench.pg, fleet);
}

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
