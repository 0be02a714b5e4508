// Identity and access control, end to end through real mosquitto +
// PostgreSQL: authentication, session takeover, topic rules for every role,
// live revoke / rotate / reassign, throttling, the audit chain. (Issue 3.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Bench, connect, publishQos1, sample, collect, waitFor, subscribeRc, closed } from '../lib/bench.mjs';

let bench;
let port;
const s = {};

const NOT_AUTHORIZED = 0x87;
const refused = (e) => e.code === NOT_AUTHORIZED || /Not authorized/i.test(e.message);

before(async () => {
  bench = await Bench.start({ webhook: false });
  port = bench.broker.port;
  s.a = await bench.addDevice('dev-a', '3W', 'B1');
  s.b = await bench.addDevice('dev-b', '3W', 'B2');
  s.c = await bench.addDevice('dev-c', '4E', 'B1');
  s.st3w = await bench.adminOk(['station', 'add', 'st-3w', '--wards', '3W']);
  s.st4e = await bench.adminOk(['station', 'add', 'st-4e', '--wards', '4E,5N']);
  s.core = await bench.adminOk(['service', 'add', 'core']);
  for (const [id, sec] of [['dev-a', s.a], ['dev-b', s.b], ['dev-c', s.c], ['st-3w', s.st3w], ['st-4e', s.st4e], ['core', s.core]]) {
    await bench.waitIdentity(port, id, sec);
  }
});

after(async () => {
  await bench?.stop();
});

async function auditRows(where = 'true', params = []) {
  return (await bench.pg.query(`SELECT * FROM audit_log WHERE ${where} ORDER BY id`, params)).rows;
}

test('wrong secret, unknown identity and a client id that is not the username are refused, and audited', async () => {
  await assert.rejects(connect(port, { id: 'dev-a', password: s.b }), refused);
  await assert.rejects(connect(port, { id: 'nobody', password: s.a }), refused);
  await assert.rejects(connect(port, { id: 'dev-a', password: '' }), refused);
  // Session takeover: dev-a's valid secret, dev-b's client id.
  const b = await connect(port, { id: 'dev-b', password: s.b });
  await assert.rejects(connect(port, { username: 'dev-a', password: s.a, clientId: 'dev-b' }), refused);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(b.connected, true, "dev-b's session survives the takeover attempt");
  await b.endAsync();
  const rows = await waitFor(async () => {
    const r = await auditRows("event = 'connect_refused'");
    return r.length >= 4 ? r : null;
  }, { what: 'refusal audit rows' });
  const details = rows.map((r) => `${r.identity}:${r.client_id}:${r.detail}`);
  assert.ok(details.some((d) => d.startsWith('dev-a:dev-a:wrong secret')), details.join('\n'));
  assert.ok(details.some((d) => d.startsWith('nobody:nobody:unknown identity')), details.join('\n'));
  assert.ok(details.some((d) => d.startsWith('dev-a:dev-b:client id differs from the identity (session takeover refused)')),
    details.join('\n'));
  assert.ok(rows.every((r) => r.address === '127.0.0.1'));
});

test('a device publishes only to its own vitals topic, never retained, and reads no ward', async () => {
  const a = await connect(port, { id: 'dev-a', password: s.a });
  const ok = sample({ v: 1, seq: 10, ts: Date.now(), hr: 70 });
  assert.equal(await publishQos1(a, 'vitals/dev-a', ok), 0);
  assert.equal(await publishQos1(a, 'vitals/dev-b', sample({ v: 1, seq: 11, ts: Date.now(), hr: 70 })), NOT_AUTHORIZED);
  assert.equal(await publishQos1(a, 'vitals/dev-a', sample({ v: 1, seq: 12, ts: Date.now(), hr: 70 }), { retain: true }), NOT_AUTHORIZED);
  assert.equal(await publishQos1(a, 'wards/3W/alerts', Buffer.from('{}')), NOT_AUTHORIZED);
  assert.equal(await publishQos1(a, 'devices/dev-a/rejections', Buffer.from('{}')), NOT_AUTHORIZED);
  assert.equal(await publishQos1(a, 'lab/anything', Buffer.from('x')), NOT_AUTHORIZED);
  for (const f of ['wards/3W/#', 'wards/3W/alerts', '#', '+/dev-a', 'vitals/dev-a', 'devices/dev-b/rejections', 'devices/+/rejections']) {
    assert.equal(await subscribeRc(a, f), NOT_AUTHORIZED, `subscribe ${f}`);
  }
  assert.equal(await subscribeRc(a, 'devices/dev-a/rejections'), 1);
  await waitFor(async () => (await bench.pg.query("SELECT count(*)::int AS n FROM vitals WHERE seq = 10")).rows[0].n === 1,
    { what: 'the accepted sample' });
  assert.equal((await bench.pg.query("SELECT count(*)::int AS n FROM vitals WHERE seq IN (11, 12)")).rows[0].n, 0);
  await a.endAsync();
});

test('a station reads only its wards: no #, no wards/+/..., no other ward, and receives nothing from 4E', async () => {
  const st = await connect(port, { id: 'st-3w', password: s.st3w });
  for (const f of ['#', 'wards/+/alerts', 'wards/4E/#', 'wards/#', '+/3W/alerts', 'vitals/dev-a', 'vitals/#', '$SYS/#']) {
    assert.equal(await subscribeRc(st, f), NOT_AUTHORIZED, `subscribe ${f}`);
  }
  assert.equal(await subscribeRc(st, 'wards/3W/#'), 1);
  assert.equal(await publishQos1(st, 'vitals/dev-a', sample({ v: 1, seq: 20, ts: Date.now(), hr: 70 })), NOT_AUTHORIZED);
  const got = collect(st);
  const st4 = await connect(port, { id: 'st-4e', password: s.st4e });
  assert.equal(await subscribeRc(st4, 'wards/4E/#'), 1);
  assert.equal(await subscribeRc(st4, 'wards/5N/alerts'), 1);
  assert.equal(await subscribeRc(st4, 'wards/3W/#'), NOT_AUTHORIZED);
  const got4 = collect(st4);
  // One alert in each ward.
  const a = await connect(port, { id: 'dev-a', password: s.a });
  const c = await connect(port, { id: 'dev-c', password: s.c });
  assert.equal(await publishQos1(a, 'vitals/dev-a', sample({ v: 1, seq: 30, ts: Date.now(), hr: 160 })), 0);
  assert.equal(await publishQos1(c, 'vitals/dev-c', sample({ v: 1, seq: 30, ts: Date.now(), hr: 30 })), 0);
  await waitFor(() => got.some((m) => m.topic === 'wards/3W/alerts') && got4.some((m) => m.topic === 'wards/4E/alerts'),
    { what: 'one alert per ward' });
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(got.every((m) => m.topic.startsWith('wards/3W/')), got.map((m) => m.topic).join(','));
  assert.ok(got.every((m) => !m.text.includes('dev-c')));
  assert.ok(got4.every((m) => m.topic.startsWith('wards/4E/')), got4.map((m) => m.topic).join(','));
  for (const cl of [st, st4, a, c]) await cl.endAsync();
});

test('a service may read everything in Vitalgate\'s namespaces but publish into none', async () => {
  const core = await connect(port, { id: 'core', password: s.core });
  assert.equal(await subscribeRc(core, '#'), 1);
  assert.equal(await subscribeRc(core, 'wards/+/alerts'), 1);
  const got = collect(core);
  assert.equal(await publishQos1(core, 'vitals/dev-a', sample({ v: 1, seq: 40, ts: Date.now(), hr: 70 })), NOT_AUTHORIZED);
  assert.equal(await publishQos1(core, 'wards/3W/alerts', Buffer.from('{}')), NOT_AUTHORIZED);
  const a = await connect(port, { id: 'dev-a', password: s.a });
  assert.equal(await publishQos1(a, 'vitals/dev-a', sample({ v: 1, seq: 41, ts: Date.now(), hr: 72 })), 0);
  await waitFor(() => got.some((m) => m.topic === 'vitals/dev-a'), { what: 'the raw sample at the service' });
  await a.endAsync();
  await core.endAsync();
});

test('a revoke disconnects the live device within one second, and it cannot come back', async () => {
  const b = await connect(port, { id: 'dev-b', password: s.b });
  const gone = closed(b);
  const t0 = Date.now();
  await bench.adminOk(['device', 'revoke', 'dev-b']);
  await gone;
  const elapsed = Date.now() - t0;
  assert.ok(elapsed <= 1000, `disconnected after ${elapsed} ms`);
  await assert.rejects(connect(port, { id: 'dev-b', password: s.b }), refused);
  const kicks = await waitFor(async () => {
    const r = await auditRows("event = 'kick' AND identity = 'dev-b'");
    return r.length ? r : null;
  }, { what: 'the kick in the audit trail' });
  assert.match(kicks[0].detail, /revoked/);
});

test('a rotate disconnects the old session; only the new secret works', async () => {
  const c = await connect(port, { id: 'dev-c', password: s.c });
  const gone = closed(c);
  const fresh = await bench.adminOk(['device', 'rotate', 'dev-c']);
  assert.notEqual(fresh, s.c);
  await gone;
  await waitFor(async () => {
    try { const x = await connect(port, { id: 'dev-c', password: fresh }); await x.endAsync(); return true; } catch { return false; }
  }, { timeout: 2000, what: 'the new secret to work' });
  await assert.rejects(connect(port, { id: 'dev-c', password: s.c }), refused);
  s.c = fresh;
});

test('a reassignment moves the next sample to the new bed within one second', async () => {
  const a = await connect(port, { id: 'dev-a', password: s.a });
  let seq = 1000;
  const t0 = Date.now();
  await bench.adminOk(['device', 'assign', 'dev-a', '--ward', '4E', '--bed', 'B9']);
  let moved;
  while (!moved) {
    assert.ok(Date.now() - t0 < 1000, 'moved within one second');
    seq += 1;
    assert.equal(await publishQos1(a, 'vitals/dev-a', sample({ v: 1, seq, ts: Date.now(), hr: 70 })), 0);
    const row = await waitFor(async () => (await bench.pg.query(
      'SELECT ward, bed FROM vitals WHERE device_id = $1 AND seq = $2', ['dev-a', seq])).rows[0], { what: 'the row' });
    if (row.ward === '4E' && row.bed === 'B9') moved = seq;
    else await new Promise((r) => setTimeout(r, 50));
  }
  // Every later sample lands at the new bed.
  assert.equal(await publishQos1(a, 'vitals/dev-a', sample({ v: 1, seq: moved + 1, ts: Date.now(), hr: 70 })), 0);
  const row = await waitFor(async () => (await bench.pg.query(
    'SELECT ward, bed FROM vitals WHERE device_id = $1 AND seq = $2', ['dev-a', moved + 1])).rows[0], { what: 'the next row' });
  assert.deepEqual(row, { ward: '4E', bed: 'B9' });
  await a.endAsync();
});

test('repeated failures are throttled per username and per address without slowing anyone else', async () => {
  const t = await bench.addDevice('dev-t', '3W', 'B7');
  await waitFor(async () => (await bench.pg.query("SELECT 1 FROM identities WHERE id = 'dev-t'")).rowCount === 1);
  await new Promise((r) => setTimeout(r, 300)); // NOTIFY reaches the broker
  for (let i = 0; i < 5; i++) {
    await assert.rejects(connect(port, { id: 'dev-t', password: 'vgs_wrong', localAddress: '127.0.0.9' }), refused);
  }
  await bench.broker.waitLog(/throttling username "dev-t"/);
  // The right secret is refused too while the username is throttled.
  await assert.rejects(connect(port, { id: 'dev-t', password: t, localAddress: '127.0.0.9' }), refused);
  await bench.broker.waitLog(/refused connection of "dev-t".*username throttled/);
  // Someone else is unaffected.
  const ok = await connect(port, { id: 'dev-c', password: s.c });
  await ok.endAsync();
  // An address that keeps failing is throttled as a whole.
  for (let i = 0; i < 20; i++) {
    await assert.rejects(connect(port, { id: `ghost-${i}`, password: 'vgs_x', localAddress: '127.0.0.66' }), refused);
  }
  await bench.broker.waitLog(/throttling address 127\.0\.0\.66/);
  await assert.rejects(connect(port, { id: 'dev-c', password: s.c, localAddress: '127.0.0.66' }), refused);
  const fine = await connect(port, { id: 'dev-c', password: s.c, localAddress: '127.0.0.67' });
  await fine.endAsync();
  await waitFor(async () => (await auditRows("event = 'throttle'")).length >= 2, { what: 'throttle audit rows' });
});

test('the audit chain holds every kind of event and verifies; a tampered or removed row is found', async () => {
  const kinds = await waitFor(async () => {
    const r = await bench.pg.query('SELECT DISTINCT event FROM audit_log');
    const k = new Set(r.rows.map((x) => x.event));
    return ['connect', 'connect_refused', 'disconnect', 'acl_denied', 'kick', 'throttle', 'device.add', 'station.add',
      'service.add', 'device.revoke', 'device.rotate', 'device.assign'].every((e) => k.has(e)) ? k : null;
  }, { what: 'every event kind' });
  assert.ok(kinds.size >= 12);
  const ok = bench.admin(['audit', 'verify']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /audit chain intact: \d+ rows/);
  // Append-only through normal means.
  await assert.rejects(bench.pg.query("UPDATE audit_log SET detail = 'x' WHERE id = (SELECT min(id) FROM audit_log)"),
    /append-only/);
  await assert.rejects(bench.pg.query('DELETE FROM audit_log'), /append-only/);
  // A superuser who disables the guard can change a row, but not unnoticed.
  const victim = (await bench.pg.query("SELECT id FROM audit_log WHERE event = 'connect' ORDER BY id LIMIT 1")).rows[0].id;
  const c = await bench.pg.client();
  await c.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
  await c.query("UPDATE audit_log SET address = '10.9.9.9' WHERE id = $1", [victim]);
  const bad = bench.admin(['audit', 'verify']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, new RegExp(`broken at row ${victim} .*content does not match`));
  // Restore the address, then remove a row instead: the next row is named.
  await c.query("UPDATE audit_log SET address = '127.0.0.1' WHERE id = $1", [victim]);
  assert.equal(bench.admin(['audit', 'verify']).code, 0);
  const next = (await c.query('SELECT min(id) AS id FROM audit_log WHERE id > $1', [victim])).rows[0].id;
  await c.query('DELETE FROM audit_log WHERE id = $1', [victim]);
  const gap = bench.admin(['audit', 'verify']);
  assert.equal(gap.code, 1);
  assert.match(gap.stderr, new RegExp(`broken at row ${next} .*prev_hash`));
  await c.query('ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only');
  await c.end();
  // Secrets never appear in the audit trail.
  const all = JSON.stringify(await auditRows());
  for (const sec of [s.a, s.b, s.c, s.st3w, s.st4e, s.core]) assert.ok(!all.includes(sec));
});

test('device import provisions many devices in one transaction, or none on a bad line', async () => {
  const { writeFileSync } = await import('node:fs');
  const path = (await import('node:path')).default;
  const good = path.join(bench.root, 'import-good.txt');
  writeFileSync(good, '# id ward bed\nimp-1 6S B1\nimp-2 6S B2\n\nimp-3\n');
  const r = bench.admin(['device', 'import', good]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 3);
  const creds = Object.fromEntries(lines.map((l) => l.split(' ')));
  assert.deepEqual(Object.keys(creds), ['imp-1', 'imp-2', 'imp-3']);
  await bench.waitIdentity(port, 'imp-2', creds['imp-2']);
  const row = (await bench.pg.query("SELECT ward, bed FROM bed_assignments WHERE device_id = 'imp-2'")).rows[0];
  assert.deepEqual(row, { ward: '6S', bed: 'B2' });
  const bad = path.join(bench.root, 'import-bad.txt');
  writeFileSync(bad, 'imp-4 6S B4\nimp 5 has too many fields\n');
  const b = bench.admin(['device', 'import', bad]);
  assert.equal(b.code, 1);
  assert.match(b.stderr, /import-bad.txt:2:/);
  assert.equal(b.stdout, '');
  assert.equal((await bench.pg.query("SELECT count(*)::int AS n FROM identities WHERE id = 'imp-4'")).rows[0].n, 0);
});

test('a denial is never kept past the next change: a throttled unknown name connects as soon as it is provisioned', async () => {
  for (let i = 0; i < 6; i++) {
    await assert.rejects(connect(port, { id: 'dev-late', password: 'vgs_not_yet' }), refused);
  }
  await bench.broker.waitLog(/throttling username "dev-late"/);
  const t0 = Date.now();
  const sec = await bench.addDevice('dev-late', '3W', 'B8');
  const c = await waitFor(async () => {
    try { return await connect(port, { id: 'dev-late', password: sec }); } catch { return null; }
  }, { timeout: 1000, interval: 50, what: 'the new device to connect' });
  assert.ok(Date.now() - t0 <= 1000);
  await c.endAsync();
});

test('hundreds of identities added at once all reach the broker within a second', async () => {
  const t0 = Date.now();
  const creds = bench.importDevices(Array.from({ length: 800 }, (_, i) => `bulk-${i} 9S B${i}`));
  for (const k of [0, 399, 799]) {
    const c = await waitFor(async () => {
      try { return await connect(port, { id: creds[k].id, password: creds[k].secret }); } catch { return null; }
    }, { timeout: 1500, interval: 100, what: `${creds[k].id} to connect` });
    await c.endAsync();
  }
  assert.ok(Date.now() - t0 <= 1500, `all reachable after ${Date.now() - t0} ms`);
});
