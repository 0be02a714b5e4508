// Issue 12 (red team on Mosquitto 2.0.11 + PostgreSQL): authentication and
// authorization defects, each proven end to end through real mosquitto and
// PostgreSQL. Two brokers on one database: `deny` (the default, bench.broker)
// and `defer` beside a password_file and anonymous access; a third is
// started and stopped with SIGTERM for the wills sent at shutdown.
// (Item 8, certificates, is in tls.test.mjs.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

import { Bench, Broker, connect, publishQos1, sample, collect, waitFor, subscribeRc, closed } from '../lib/bench.mjs';

const NOT_AUTHORIZED = 0x87;
const refused = (e) => e.code === NOT_AUTHORIZED || e.code === 0x86 || e.code === 5 || /Not authorized|Bad User/i.test(e.message);
let bench;
let deny;
let defer;
let pwfile;
const s = {};

const anon = (port, clientId, extra = {}) => connect(port, { clientId, username: undefined, password: undefined, ...extra });
const rows = async (sql, params) => (await bench.pg.query(sql, params)).rows;

before(async () => {
  bench = await Bench.start({});
  deny = bench.broker;
  for (const id of ['dev-3', 'dev-4', 'dev-4v', 'dev-4s', 'dev-4sv', 'dev-11a', 'dev-11b', 'dev-11c', 'dev-12']) {
    s[id] = await bench.addDevice(id, '12W', `B-${id}`);
  }
  s.core = await bench.adminOk(['service', 'add', 'core-12']);
  pwfile = path.join(bench.root, 'passwd');
  execFileSync('mosquitto_passwd', ['-b', '-c', pwfile, 'labuser', 'labpass']);
  execFileSync('mosquitto_passwd', ['-b', pwfile, 'dev-6', 'pass6']);
  execFileSync('mosquitto_passwd', ['-b', pwfile, 'dev-6b', 'pass6b']);
  chmodSync(pwfile, 0o644);
  defer = await Broker.start(bench.root, {
    ...bench.brokerOpts,
    spoolDir: bench.newSpool('spool-defer'),
    options: { others: 'defer', stats_interval_s: 1 },
    extraConf: ['allow_anonymous true', `password_file ${pwfile}`, 'sys_interval 1'],
  });
  for (const id of ['dev-3', 'dev-12']) await bench.waitIdentity(defer.port, id, s[id]);
  await bench.waitIdentity(deny.port, 'core-12', s.core);
});

after(async () => {
  await defer?.stop();
  await bench?.stop();
});

test('12.3 session takeover in others=defer: an anonymous or password_file CONNECT with a device\'s client id is refused', async () => {
  const d = await connect(defer.port, { id: 'dev-3', password: s['dev-3'] });
  let knockedOff = false;
  d.on('close', () => { knockedOff = true; });
  await assert.rejects(anon(defer.port, 'dev-3'), refused);
  await assert.rejects(connect(defer.port, { username: 'labuser', password: 'labpass', clientId: 'dev-3' }), refused);
  await sleep(300);
  assert.equal(knockedOff, false, "the device's session survives both attempts");
  assert.equal(await publishQos1(d, 'vitals/dev-3', sample({ v: 1, seq: 1, ts: Date.now(), hr: 70 })), 0);
  await defer.waitLog(/refused connection of "\(none\)" \(client id "dev-3"\).*client id belongs to a Vitalgate identity/);
  await defer.waitLog(/refused connection of "labuser" \(client id "dev-3"\).*client id belongs to a Vitalgate identity/);
  await waitFor(async () => (await rows("SELECT 1 FROM audit_log WHERE event = 'connect_refused' AND client_id = 'dev-3' "
    + "AND detail LIKE 'client id belongs to a Vitalgate identity%'")).length === 2, { what: 'the two audit rows' });
  // The same client ids are still free for names Vitalgate does not know.
  const lab = await connect(defer.port, { username: 'labuser', password: 'labpass', clientId: 'lab-3' });
  await lab.endAsync();
  await d.endAsync();
});

test('12.6 others=defer: a password_file session named X loses everything when device X is created', async () => {
  // Same name as client id, and the name under another client id.
  const same = await connect(defer.port, { username: 'dev-6', password: 'pass6', clientId: 'dev-6' });
  const other = await connect(defer.port, { username: 'dev-6b', password: 'pass6b', clientId: 'lab-6b' });
  assert.equal(await publishQos1(same, 'lab/6', Buffer.from('x')), 0, 'a foreign topic, before device dev-6 exists');
  const goneSame = closed(same);
  const goneOther = closed(other);
  const sec = await bench.addDevice('dev-6', '12W', 'B-6');
  const sec6b = await bench.addDevice('dev-6b', '12W', 'B-6b');
  // Kicked on the TICK that applies the new identities (not at some later
  // action), so it never held a new identity's rights.
  await Promise.race([Promise.all([goneSame, goneOther]), sleep(3000).then(() => { throw new Error('the password_file sessions were not disconnected'); })]);
  await defer.waitLog(/disconnecting the client named dev-6 \(it did not log in as the new identity\)/);
  // They cannot come back under those names, with the old password.
  await assert.rejects(connect(defer.port, { username: 'dev-6', password: 'pass6', clientId: 'dev-6' }), refused);
  await assert.rejects(connect(defer.port, { username: 'dev-6b', password: 'pass6b', clientId: 'lab-6b' }), refused);
  // The device itself, with its secret, has its rights.
  const d = await connect(defer.port, { id: 'dev-6', password: sec });
  assert.equal(await publishQos1(d, 'vitals/dev-6', sample({ v: 1, seq: 1, ts: Date.now(), hr: 71 })), 0);
  await d.endAsync();
  const d6b = await connect(defer.port, { id: 'dev-6b', password: sec6b });
  await d6b.endAsync();
});

test('12.4 a device\'s will on vitals/<itself> never bypasses validation: refused at an abrupt disconnect and at a takeover', async () => {
  const core = await connect(deny.port, { id: 'core-12', password: s.core });
  const got = collect(core);
  assert.equal(await subscribeRc(core, 'vitals/#'), 1);
  const invalidWill = { topic: 'vitals/dev-4', payload: Buffer.from('not a sample at all'), qos: 1, retain: false };
  const validWill = { topic: 'vitals/dev-4v', payload: sample({ v: 1, seq: 4444, ts: Date.now(), hr: 72 }), qos: 1, retain: false };
  // Abrupt disconnect (socket destroyed): Mosquitto's DISCONNECT event runs
  // first, so the will comes from a client that is no longer the session.
  const d = await connect(deny.port, { id: 'dev-4', password: s['dev-4'], will: invalidWill });
  const v = await connect(deny.port, { id: 'dev-4v', password: s['dev-4v'], will: validWill });
  d.stream.destroy();
  v.stream.destroy();
  await sleep(500);
  assert.deepEqual(got.map((m) => m.topic), [], 'no will reached the service');
  await deny.waitLog(/denied publish of "vitals\/dev-4" to dev-4: session did not log in as this identity/);
  await deny.waitLog(/denied publish of "vitals\/dev-4v" to dev-4v: session did not log in as this identity/);
  // Takeover: the device reconnects while its old session is half open.
  const old = await connect(deny.port, { id: 'dev-4', password: s['dev-4'], will: invalidWill });
  const oldGone = closed(old);
  const fresh = await connect(deny.port, { id: 'dev-4', password: s['dev-4'] });
  await oldGone;
  await sleep(500); // two TICKs: the denial's kick must spare the new session
  assert.equal(fresh.connected, true, 'the new session is not kicked for its predecessor\'s will');
  assert.equal(await publishQos1(fresh, 'vitals/dev-4', sample({ v: 1, seq: 2, ts: Date.now(), hr: 70 })), 0);
  await waitFor(() => got.some((m) => m.topic === 'vitals/dev-4'), { what: 'the valid sample' });
  assert.deepEqual(got.filter((m) => m.text === 'not a sample at all' || (m.topic === 'vitals/dev-4v')).map((m) => m.topic), [],
    'no will reached the service');
  assert.equal((await rows("SELECT count(*)::int AS n FROM vitals WHERE device_id = 'dev-4v'"))[0].n, 0);
  await fresh.endAsync();
  await core.endAsync();
});

test('12.4 wills sent at broker shutdown (no DISCONNECT first) are held to the sample rules: invalid dropped, valid stored once', async () => {
  const b = await Broker.start(bench.root, { ...bench.brokerOpts, spoolDir: bench.newSpool('spool-shutdown') });
  try {
    await bench.waitIdentity(b.port, 'dev-4sv', s['dev-4sv']);
    const core = await connect(b.port, { id: 'core-12', password: s.core });
    const got = collect(core);
    assert.equal(await subscribeRc(core, 'vitals/#'), 1);
    const ts = Date.now();
    const d = await connect(b.port, { id: 'dev-4s', password: s['dev-4s'],
      will: { topic: 'vitals/dev-4s', payload: sample({ v: 1, seq: 1, ts, spo2: 140 }), qos: 1, retain: false } });
    const v = await connect(b.port, { id: 'dev-4sv', password: s['dev-4sv'],
      will: { topic: 'vitals/dev-4sv', payload: sample({ v: 1, seq: 77, ts, hr: 64 }), qos: 1, retain: false } });
    d.on('error', () => {});
    v.on('error', () => {});
    const from = b.mark();
    const exit = await b.stop();
    assert.equal(exit.code, 0, 'the broker stops cleanly');
    assert.deepEqual(got.filter((m) => m.topic === 'vitals/dev-4s').map((m) => m.topic), [], 'the invalid will reached no subscriber');
    assert.ok(b.lines.slice(from).some((l) => /rejected message from dev-4s: out_of_range field spo2/.test(l)),
      'the invalid will was validated and rejected');
    // Stored exactly once (the writer drains the journal before the broker exits).
    assert.deepEqual(await rows("SELECT seq::int, hr FROM vitals WHERE device_id = 'dev-4sv'"), [{ seq: 77, hr: 64 }]);
    assert.equal((await rows("SELECT count(*)::int AS n FROM vitals WHERE device_id = 'dev-4s'"))[0].n, 0);
    await waitFor(async () => (await rows("SELECT 1 FROM rejections WHERE device_id = 'dev-4s' AND reason = 'out_of_range'")).length === 1,
      { what: 'the rejection record' });
    core.end(true);
  } finally {
    await b.stop();
    const report = b.sanitizerReport();
    assert.deepEqual(report, []);
  }
});

// The username throttle's table has 8,192 slots and probes 16 from the
// slot its hash picks (plugin/throttle.c): names whose hash picks the same
// slot as the target's compete with it for room.
const FNV_OFF = 1469598103934665603n;
const FNV_PRIME = 1099511628211n;
const M64 = (1n << 64n) - 1n;
function throttleSlot(key) {
  let h = FNV_OFF;
  for (const b of Buffer.from(key)) h = ((h ^ BigInt(b)) * FNV_PRIME) & M64;
  h ^= h >> 31n;
  return Number(h & 8191n);
}
function collidingNames(target, n) {
  const want = throttleSlot(target);
  const out = [];
  for (let i = 0; out.length < n; i++) if (throttleSlot(`x${i}`) === want) out.push(`x${i}`);
  return out;
}

test('12.11 a blocked username stays blocked whatever fails on crafted names', async () => {
  const port = deny.port;
  for (let i = 0; i < 5; i++) {
    await assert.rejects(connect(port, { id: 'dev-11a', password: 'vgs_wrong', localAddress: '127.0.0.31' }), refused);
  }
  await deny.waitLog(/throttling username "dev-11a" for 10 s/);
  // 40 failures on names that land in dev-11a's probe window, spread over
  // addresses so that no address is throttled.
  const names = collidingNames('dev-11a', 40);
  for (const [i, name] of names.entries()) {
    await assert.rejects(connect(port, { id: name, password: 'vgs_x', localAddress: `127.0.0.${32 + (i % 4)}` }), refused);
  }
  await sleep(1100); // refusal log lines are limited to 20 a second
  await assert.rejects(connect(port, { id: 'dev-11a', password: s['dev-11a'], localAddress: '127.0.0.31' }), refused);
  await deny.waitLog(/refused connection of "dev-11a" \(client id "dev-11a"\) from 127\.0\.0\.31: username throttled after repeated failures$/);
});

test('12.11 a device\'s last good address has its own budget: throttled there too, and a stranger elsewhere cannot lock it out', async () => {
  const port = deny.port;
  // dev-11b's own address is brute-forced: throttled like anywhere else.
  (await connect(port, { id: 'dev-11b', password: s['dev-11b'], localAddress: '127.0.0.41' })).end(true);
  for (let i = 0; i < 5; i++) {
    await assert.rejects(connect(port, { id: 'dev-11b', password: 'vgs_wrong', localAddress: '127.0.0.41' }), refused);
  }
  await assert.rejects(connect(port, { id: 'dev-11b', password: s['dev-11b'], localAddress: '127.0.0.41' }), refused);
  await deny.waitLog(/throttling username "dev-11b" from its last good address for 10 s/);
  await deny.waitLog(/refused connection of "dev-11b".*username throttled after repeated failures from its last good address/);
  // dev-11c is hammered from elsewhere: it still connects from its own
  // address; the stranger's address is throttled for that name.
  (await connect(port, { id: 'dev-11c', password: s['dev-11c'], localAddress: '127.0.0.42' })).end(true);
  for (let i = 0; i < 5; i++) {
    await assert.rejects(connect(port, { id: 'dev-11c', password: 'vgs_wrong', localAddress: '127.0.0.43' }), refused);
  }
  await deny.waitLog(/throttling username "dev-11c" for 10 s/);
  const ok = await connect(port, { id: 'dev-11c', password: s['dev-11c'], localAddress: '127.0.0.42' });
  await ok.endAsync();
  await assert.rejects(connect(port, { id: 'dev-11c', password: s['dev-11c'], localAddress: '127.0.0.43' }), refused);
});

test('12.12 $SYS/broker/vitalgate/# is for services only; a wildcard $SYS subscription by others never delivers it', async () => {
  const a = await anon(defer.port, 'anon-12');
  const d = await connect(defer.port, { id: 'dev-12', password: s['dev-12'] });
  const core = await connect(defer.port, { id: 'core-12', password: s.core });
  for (const c of [a, d]) {
    for (const f of ['$SYS/broker/vitalgate/#', '$SYS/broker/vitalgate/samples/accepted', '$share/g/$SYS/broker/vitalgate/#']) {
      assert.equal(await subscribeRc(c, f), NOT_AUTHORIZED, `subscribe ${f}`);
    }
  }
  const gotA = collect(a);
  const gotD = collect(d);
  const gotCore = collect(core);
  assert.equal(await subscribeRc(a, '$SYS/#'), 1);
  assert.equal(await subscribeRc(d, '$SYS/broker/+/samples/#'), 1);
  assert.equal(await subscribeRc(d, '$SYS/#'), 1);
  assert.equal(await subscribeRc(core, '$SYS/broker/vitalgate/#'), 1);
  // Figures are published every second (stats_interval_s 1), retained.
  await waitFor(() => gotCore.some((m) => m.topic === '$SYS/broker/vitalgate/samples/accepted'), { what: 'figures for the service' });
  await waitFor(() => gotA.some((m) => m.topic.startsWith('$SYS/broker/') && !m.topic.startsWith('$SYS/broker/vitalgate')),
    { what: "Mosquitto's own $SYS topics for the anonymous client" });
  await sleep(1500);
  assert.deepEqual(gotA.filter((m) => m.topic.startsWith('$SYS/broker/vitalgate')).map((m) => m.topic), []);
  assert.deepEqual(gotD.filter((m) => m.topic.startsWith('$SYS/broker/vitalgate')).map((m) => m.topic), []);
  await Promise.all([a.endAsync(), d.endAsync(), core.endAsync()]);
});
