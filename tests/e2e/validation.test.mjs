// Validation end to end: every case of tests/fixtures/vitals-cases.mjs is
// published by a real device through mosquitto. Valid ones (abnormal values
// included) are stored; each rejection reaches the device as 0x87 (QoS 1)
// and as a JSON record on devices/<id>/rejections with its stable reason
// code, lands in the rejections table with the raw payload (its first 512
// bytes, with its length and SHA-256: issue 12 item 2), and is counted per
// reason under $SYS. (Issue 4.) Each record and row carries the seq of the
// sample it rejects when that sample had a valid one (issue 12.14).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

import { Bench, connect, publishQos1, collect, waitFor, subscribeRc } from '../lib/bench.mjs';
import { cases } from '../fixtures/vitals-cases.mjs';

let bench;
let dev;
let core;
let records;
let sys;
let secret;

before(async () => {
  // Every fixture is recorded one by one: the default records 10 rejected
  // messages a minute per device, then counts them (durability-flood).
  bench = await Bench.start({ options: { stats_interval_s: 1, rejection_records_per_min: 1000 } });
  secret = await bench.addDevice('dev-v', '2E', 'B4');
  const coreSecret = await bench.adminOk(['service', 'add', 'core-v']);
  await bench.waitIdentity(bench.broker.port, 'dev-v', secret);
  dev = await connect(bench.broker.port, { id: 'dev-v', password: secret });
  records = collect(dev);
  assert.equal(await subscribeRc(dev, 'devices/dev-v/rejections'), 1);
  core = await connect(bench.broker.port, { id: 'core-v', password: coreSecret });
  sys = new Map();
  core.on('message', (t, p) => sys.set(t, Number(p.toString())));
  assert.equal(await subscribeRc(core, '$SYS/broker/vitalgate/#', 0), 0);
});

after(async () => {
  await dev?.endAsync();
  await core?.endAsync();
  await bench?.stop();
});

test('every fixture gets the right answer: PUBACK, rejection record, table row, counter', async () => {
  const all = cases(Date.now(), 1000, 10000);
  const expectedCounts = {};
  for (const c of all) {
    const before = records.length;
    const rc = await publishQos1(dev, 'vitals/dev-v', c.bytes);
    if (c.reason === 'ok') {
      assert.equal(rc, 0, `${c.name}: accepted`);
      continue;
    }
    expectedCounts[c.reason] = (expectedCounts[c.reason] ?? 0) + 1;
    assert.equal(rc, 0x87, `${c.name}: PUBACK 0x87`);
    const rec = JSON.parse((await waitFor(() => records[before], { what: `${c.name}'s rejection record` })).text);
    assert.equal(rec.reason, c.reason, `${c.name}: ${JSON.stringify(rec)}`);
    assert.equal(rec.field ?? '-', c.field, `${c.name}: field`);
    if (c.index >= 0) assert.equal(rec.batch_index, c.index, `${c.name}: batch index`);
    assert.equal(typeof rec.detail, 'string');
    assert.ok(rec.detail.length > 0);
    assert.match(rec.received_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  }

  // The rejections table: one row per rejected message, with the raw bytes
  // (at most the first 512: a 16 KiB message costs 512 bytes, its length
  // and its hash).
  const bad = all.filter((c) => c.reason !== 'ok');
  const rows = await waitFor(async () => {
    const r = await bench.pg.query('SELECT reason, field, seq, batch_index, payload, payload_bytes, payload_sha256 '
      + "FROM rejections WHERE device_id = 'dev-v' ORDER BY id");
    return r.rows.length >= bad.length ? r.rows : null;
  }, { what: 'the rejection rows' });
  assert.equal(rows.length, bad.length);
  bad.forEach((c, i) => {
    assert.equal(rows[i].reason, c.reason, c.name);
    assert.ok(Buffer.from(rows[i].payload).equals(c.bytes.subarray(0, 512)), `${c.name}: payload kept as sent`);
    assert.equal(rows[i].payload_bytes, c.bytes.length, `${c.name}: payload length`);
    assert.ok(rows[i].payload_sha256.equals(createHash('sha256').update(c.bytes).digest()), `${c.name}: payload hash`);
    if (c.index >= 0) assert.equal(rows[i].batch_index, c.index, c.name);
  });
  assert.ok(bad.some((c) => c.bytes.length > 512), 'a fixture longer than the prefix');

  // Valid samples, abnormal ones included, are all stored, each once.
  const nValid = all.filter((c) => c.reason === 'ok').reduce((n, c) => n + c.n, 0);
  await waitFor(async () => (await bench.pg.query("SELECT count(*)::int AS n FROM vitals WHERE device_id = 'dev-v'")).rows[0].n === nValid,
    { what: `${nValid} stored samples` });
  const abnormal = (await bench.pg.query(
    "SELECT spo2, hr, temp FROM vitals WHERE device_id = 'dev-v' AND (spo2 IN (70, 84) OR hr = 35 OR temp = 34)")).rows;
  assert.equal(abnormal.length, 4);

  // Counters per reason under $SYS.
  await waitFor(() => Object.entries(expectedCounts).every(([reason, n]) => sys.get(`$SYS/broker/vitalgate/rejected/${reason}`) === n),
    { timeout: 5000, what: `counters ${JSON.stringify(expectedCounts)} (have ${JSON.stringify([...sys])})` });
  assert.equal(sys.get('$SYS/broker/vitalgate/samples/accepted'), nValid);
});

test('12.14 every rejection record and row carries the seq its sample had (before or after the offending key, per batch element)', async () => {
  // A fresh seq range: the rejections above are in the table already.
  const bad = cases(Date.now(), 100000, 10000).filter((c) => c.reason !== 'ok');
  assert.ok(bad.filter((c) => c.seq !== null).length >= 35, 'most fixtures carry a seq');
  assert.ok(bad.some((c) => c.name === 'unknown-field-seq-last') && bad.some((c) => c.name === 'batch-duplicate-key-seq-last'));
  const firstId = (await bench.pg.query("SELECT coalesce(max(id), 0) AS id FROM rejections WHERE device_id = 'dev-v'")).rows[0].id;
  for (const c of bad) {
    const before = records.length;
    assert.equal(await publishQos1(dev, 'vitals/dev-v', c.bytes), 0x87, `${c.name}: PUBACK 0x87`);
    const rec = JSON.parse((await waitFor(() => records[before], { what: `${c.name}'s rejection record` })).text);
    assert.equal(rec.reason, c.reason, c.name);
    assert.ok('seq' in rec, `${c.name}: the record has a seq key`);
    assert.equal(rec.seq, c.seq, `${c.name}: seq in ${JSON.stringify(rec)}`);
    assert.equal(rec.batch_index ?? -1, c.index, `${c.name}: batch_index`);
  }
  const rows = await waitFor(async () => {
    const r = await bench.pg.query("SELECT seq, batch_index FROM rejections WHERE device_id = 'dev-v' AND id > $1 ORDER BY id", [firstId]);
    return r.rows.length >= bad.length ? r.rows : null;
  }, { what: 'the rejection rows' });
  assert.equal(rows.length, bad.length);
  bad.forEach((c, i) => {
    assert.equal(rows[i].seq === null ? null : Number(rows[i].seq), c.seq, `${c.name}: rejections.seq`);
    assert.equal(rows[i].batch_index ?? -1, c.index, `${c.name}: rejections.batch_index`);
  });
});

test('QoS 0 and MQTT 3.1.1 devices get the rejection record too', async () => {
  const { sample } = await import('../lib/bench.mjs');
  const before = records.length;
  await dev.publishAsync('vitals/dev-v', sample({ v: 1, seq: 5000, ts: Date.now(), spo2: 140 }), { qos: 0 });
  const rec = JSON.parse((await waitFor(() => records[before], { what: 'the QoS 0 rejection' })).text);
  assert.equal(rec.reason, 'out_of_range');
  assert.equal(rec.seq, 5000);
  await dev.endAsync();
  dev = await connect(bench.broker.port, { id: 'dev-v', password: secret, protocolVersion: 4 });
  const got = collect(dev);
  await dev.subscribeAsync('devices/dev-v/rejections', { qos: 1 });
  // MQTT 3.1.1 has no reason code in PUBACK: the record is how it learns.
  assert.equal(await publishQos1(dev, 'vitals/dev-v', sample({ v: 1, seq: 5001, ts: Date.now(), rr: 200 })), 0);
  const r2 = JSON.parse((await waitFor(() => got[0], { what: 'the 3.1.1 rejection' })).text);
  assert.equal(r2.reason, 'out_of_range');
  assert.equal(r2.field, 'rr');
});
