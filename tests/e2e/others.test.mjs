// The `others` option: with `defer` (and allow_anonymous / a password file in
// mosquitto.conf) clients Vitalgate does not know use topics outside its
// namespaces exactly as on a bare broker, while vitals/, devices/ and wards/
// stay protected; with `deny` (the default) they are refused. (Issue 3.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { chmodSync } from 'node:fs';

import { Bench, Broker, connect, publishQos1, sample, collect, waitFor, subscribeRc } from '../lib/bench.mjs';

const NOT_AUTHORIZED = 0x87;
const refused = (e) => e.code === NOT_AUTHORIZED || e.code === 0x86 || e.code === 5 || /Not authorized|Bad User/i.test(e.message);
let bench;
let defer;
let secret;

before(async () => {
  bench = await Bench.start({});
  secret = await bench.addDevice('dev-d', '3W', 'B3');
  await bench.waitIdentity(bench.broker.port, 'dev-d', secret);
  // A second broker on the same database, in defer mode, beside a password
  // file and anonymous access: Vitalgate shares the broker.
  const pwfile = path.join(bench.root, 'passwd');
  execFileSync('mosquitto_passwd', ['-b', '-c', pwfile, 'labuser', 'labpass']);
  chmodSync(pwfile, 0o644);
  defer = await Broker.start(bench.root, {
    ...bench.brokerOpts,
    spoolDir: bench.newSpool('spool-defer'),
    options: { others: 'defer' },
    extraConf: ['allow_anonymous true', `password_file ${pwfile}`],
  });
  await bench.waitIdentity(defer.port, 'dev-d', secret);
});

after(async () => {
  await defer?.stop();
  await bench?.stop();
});

test('deny (default): anonymous and unknown clients are refused, foreign topics too', async () => {
  await assert.rejects(connect(bench.broker.port, { clientId: 'anon-1', username: undefined, password: undefined }), refused);
  await assert.rejects(connect(bench.broker.port, { id: 'labuser', password: 'labpass' }), refused);
  const d = await connect(bench.broker.port, { id: 'dev-d', password: secret });
  assert.equal(await publishQos1(d, 'lab/x', Buffer.from('1')), NOT_AUTHORIZED);
  assert.equal(await subscribeRc(d, 'lab/#'), NOT_AUTHORIZED);
  await d.endAsync();
});

test('defer: an anonymous client uses foreign topics exactly as on a bare broker', async () => {
  const anon = await connect(defer.port, { clientId: 'anon-lab', username: undefined, password: undefined });
  const got = collect(anon);
  assert.equal(await subscribeRc(anon, 'lab/#'), 1);
  assert.equal(await publishQos1(anon, 'lab/freezer/1', Buffer.from('-80')), 0);
  await publishQos1(anon, 'lab/retained', Buffer.from('r'), { retain: true });
  await waitFor(() => got.some((m) => m.topic === 'lab/freezer/1' && m.text === '-80'), { what: 'the foreign message' });
  await anon.endAsync();
  const user = await connect(defer.port, { id: 'labuser', password: 'labpass' });
  assert.equal(await publishQos1(user, 'lab/x', Buffer.from('y')), 0);
  await user.endAsync();
  await assert.rejects(connect(defer.port, { id: 'labuser', password: 'wrong' }), refused);
});

test('defer: Vitalgate namespaces stay closed to clients it does not know', async () => {
  const anon = await connect(defer.port, { clientId: 'anon-spy', username: undefined, password: undefined });
  for (const f of ['vitals/#', 'vitals/dev-d', 'wards/3W/#', 'devices/dev-d/rejections', 'wards/+/alerts']) {
    assert.equal(await subscribeRc(anon, f), NOT_AUTHORIZED, `subscribe ${f}`);
  }
  // A wide wildcard is granted for foreign topics, but per-message read
  // checks keep every Vitalgate message away.
  assert.equal(await subscribeRc(anon, '#'), 1);
  const got = collect(anon);
  assert.equal(await publishQos1(anon, 'vitals/dev-d', sample({ v: 1, seq: 1, ts: Date.now(), hr: 70 })), NOT_AUTHORIZED);
  assert.equal(await publishQos1(anon, 'wards/3W/alerts', Buffer.from('{}')), NOT_AUTHORIZED);
  const d = await connect(defer.port, { id: 'dev-d', password: secret });
  assert.equal(await publishQos1(d, 'vitals/dev-d', sample({ v: 1, seq: 2, ts: Date.now(), hr: 160 })), 0);
  assert.equal(await publishQos1(d, 'lab/from-device', Buffer.from('ok')), 0, 'known identities may use foreign topics too');
  await waitFor(() => got.some((m) => m.topic === 'lab/from-device'), { what: 'the foreign message' });
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(got.filter((m) => !m.topic.startsWith('lab/')).map((m) => m.topic), []);
  assert.equal((await bench.pg.query("SELECT count(*)::int AS n FROM vitals WHERE device_id = 'dev-d' AND seq = 1")).rows[0].n, 0);
  await waitFor(async () => (await bench.pg.query("SELECT count(*)::int AS n FROM vitals WHERE device_id = 'dev-d' AND seq = 2")).rows[0].n === 1,
    { what: "the device's sample" });
  await d.endAsync();
  await anon.endAsync();
});

test('defer: a Vitalgate identity with a wrong secret is still refused, not deferred', async () => {
  await assert.rejects(connect(defer.port, { id: 'dev-d', password: 'vgs_wrong' }), refused);
});
