// Cutover, ward by ward (issue 9, docs/cutover.md): a ward in shadow mode
// has its devices' invalid samples delivered to subscribers (the legacy
// Node.js path keeps working as before) with the would-be rejection only
// logged and counted; an enforcing ward refuses them (0x87, rejection
// record, rejections row). Valid samples are stored and alert as usual in
// both. Moving the ward to enforce is a SIGHUP away.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Bench, connect, publishQos1, sample, waitFor, collect, subscribeRc } from '../lib/bench.mjs';

let bench;
let shadowDev;
let enforceDev;
let legacy;
let legacyMsgs;
let shadowRecords;
let sys;
let seq = 100;

const good = (hr) => sample({ v: 1, seq: seq++, ts: Date.now(), hr });
const bad = () => sample({ v: 1, seq: seq++, ts: Date.now(), spo2: 101 }); // out_of_range
const count = async (table, dev) => (await bench.pg.query(`SELECT count(*)::int AS n FROM ${table} WHERE device_id = $1`, [dev])).rows[0].n;

before(async () => {
  bench = await Bench.start({ webhook: true, options: { stats_interval_s: 1, shadow_wards: 'CUT,OTHER' } });
  const s1 = await bench.addDevice('dev-cut', 'CUT', 'B1');
  const s2 = await bench.addDevice('dev-enf', 'ENF', 'B1');
  const core = await bench.adminOk(['service', 'add', 'legacy-core']);
  await bench.waitIdentity(bench.broker.port, 'legacy-core', core);
  shadowDev = await connect(bench.broker.port, { id: 'dev-cut', password: s1 });
  enforceDev = await connect(bench.broker.port, { id: 'dev-enf', password: s2 });
  shadowRecords = collect(shadowDev);
  assert.equal(await subscribeRc(shadowDev, 'devices/dev-cut/rejections'), 1);
  // The legacy Node.js ingest path: a service reading vitals/#.
  legacy = await connect(bench.broker.port, { id: 'legacy-core', password: core });
  legacyMsgs = collect(legacy);
  assert.equal(await subscribeRc(legacy, 'vitals/#'), 1);
  assert.equal(await subscribeRc(legacy, '$SYS/broker/vitalgate/#', 0), 0);
  sys = legacyMsgs;
});

after(async () => {
  for (const c of [shadowDev, enforceDev, legacy]) await c?.endAsync();
  await bench?.stop();
});

const sysValue = (name) => {
  const m = sys.filter((x) => x.topic === `$SYS/broker/vitalgate/${name}`).at(-1);
  return m ? Number(m.text) : null;
};
const delivered = (dev) => legacyMsgs.filter((m) => m.topic === `vitals/${dev}`).length;

test('shadow ward: an invalid sample is delivered, logged and counted, not refused or stored', async () => {
  const from = bench.broker.mark();
  assert.equal(await publishQos1(shadowDev, 'vitals/dev-cut', good(80)), 0);
  assert.equal(await publishQos1(shadowDev, 'vitals/dev-cut', bad()), 0, 'no 0x87 in shadow mode');
  await waitFor(() => delivered('dev-cut') === 2, { what: 'both shadow-ward messages delivered to the legacy subscriber' });
  const line = await bench.broker.waitLog(/shadow ward CUT: would have rejected message from dev-cut: out_of_range field spo2/, 5000, from);
  assert.doesNotMatch(line, /101/, 'the log names the field, not the value');
  await waitFor(() => sysValue('shadow/out_of_range') === 1, { what: '$SYS shadow/out_of_range = 1' });
  assert.equal(sysValue('rejected/out_of_range'), 0, 'not counted as a rejection');
  await waitFor(async () => (await count('vitals', 'dev-cut')) === 1, { what: 'the valid sample stored' });
  assert.equal(await count('rejections', 'dev-cut'), 0, 'no rejection row');
  assert.equal(shadowRecords.length, 0, 'no rejection record to the device');
});

test('enforcing ward: the same invalid sample is refused and not delivered', async () => {
  assert.equal(await publishQos1(enforceDev, 'vitals/dev-enf', good(81)), 0);
  assert.equal(await publishQos1(enforceDev, 'vitals/dev-enf', bad()), 0x87);
  await waitFor(async () => (await count('rejections', 'dev-enf')) === 1, { what: 'the rejection row' });
  await waitFor(async () => (await count('vitals', 'dev-enf')) === 1, { what: 'the valid sample stored' });
  await waitFor(() => sysValue('rejected/out_of_range') === 1, { what: '$SYS rejected/out_of_range = 1' });
  assert.equal(delivered('dev-enf'), 1, 'only the valid sample reached the legacy subscriber');
});

test('alerts fire as usual in a shadow ward', async () => {
  assert.equal(await publishQos1(shadowDev, 'vitals/dev-cut', good(160)), 0);
  const ev = await waitFor(() => bench.receiver.events.find((e) => e.type === 'alert.raised' && e.data.device_id === 'dev-cut'),
    { what: 'alert.raised for the shadow ward', timeout: 10000 });
  assert.equal(ev.data.ward, 'CUT');
});

test('moving the ward to enforce is a reload away', async () => {
  const b = bench.broker;
  b.opts.options = { stats_interval_s: 1, shadow_wards: 'OTHER' };
  b.writeConf();
  const from = b.mark();
  process.kill(b.proc.pid, 'SIGHUP');
  await b.waitLog(/reload: plugin_opt_shadow_wards applied/, 10000, from);
  const before = delivered('dev-cut');
  assert.equal(await publishQos1(shadowDev, 'vitals/dev-cut', bad()), 0x87, 'CUT enforces now');
  const rec = JSON.parse((await waitFor(() => shadowRecords[0], { what: 'the rejection record' })).text);
  assert.equal(rec.reason, 'out_of_range');
  await waitFor(async () => (await count('rejections', 'dev-cut')) === 1, { what: 'the rejection row' });
  assert.equal(delivered('dev-cut'), before, 'not delivered any more');
  assert.ok(shadowDev.connected, 'the device stayed connected');
});
