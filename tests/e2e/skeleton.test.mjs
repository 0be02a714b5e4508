// Walking skeleton, end to end through real mosquitto + PostgreSQL 15 +
// a Node.js webhook receiver: provision, connect, publish, store, reject,
// alert. (Issue 2.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { mkdirSync, chownSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

import { Bench, Broker, connect, publishQos1, sample, collect, waitFor, makeTempRoot, freePort } from '../lib/bench.mjs';

let bench;
let secret;

before(async () => {
  bench = await Bench.start({ webhook: true, options: { alert_hold_s: 0 } });
  secret = await bench.addDevice('mon-3w-12', '3W', 'B12');
  await bench.waitIdentity(bench.broker.port, 'mon-3w-12', secret);
});

after(async () => {
  await bench?.stop();
});

test('migrate created the schema and is idempotent', async () => {
  const t = await bench.pg.query(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1");
  const names = t.rows.map((r) => r.table_name);
  for (const n of ['identities', 'bed_assignments', 'station_wards', 'vitals', 'rejections', 'schema_migrations']) {
    assert.ok(names.includes(n), `table ${n} exists`);
  }
  const again = bench.admin(['migrate']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /up to date/);
  assert.equal(again.stdout, '');
});

test('device add prints only the secret on stdout, and it is stored as a salted hash', async () => {
  const r = bench.admin(['device', 'add', 'ox-1', '--ward', '3W', '--bed', 'B13']);
  assert.equal(r.code, 0, r.stderr);
  const s = r.stdout.trim();
  assert.match(s, /^vgs_[A-Za-z0-9_-]{43}$/);
  assert.equal(r.stdout, `${s}\n`);
  const row = (await bench.pg.query("SELECT secret_hash FROM identities WHERE id = 'ox-1'")).rows[0];
  assert.match(row.secret_hash, /^s256\$[0-9a-f]{32}\$[0-9a-f]{64}$/);
  assert.ok(!row.secret_hash.includes(s));
  const dup = bench.admin(['device', 'add', 'ox-1', '--ward', '3W', '--bed', 'B13']);
  assert.equal(dup.code, 1);
  assert.match(dup.stderr, /already exists/);
  const bad = bench.admin(['device', 'add', 'bad id!']);
  assert.equal(bad.code, 2);
});

test('the device connects with its secret; a wrong secret and an unknown device are refused', async () => {
  const c = await connect(bench.broker.port, { id: 'mon-3w-12', password: secret });
  await c.endAsync();
  await assert.rejects(connect(bench.broker.port, { id: 'mon-3w-12', password: `${secret}x` }),
    (e) => e.code === 135 || /Not authorized/i.test(e.message));
  await assert.rejects(connect(bench.broker.port, { id: 'ghost', password: secret }),
    (e) => e.code === 135 || /Not authorized/i.test(e.message));
  await bench.broker.waitLog(/refused connection of "ghost".*unknown identity/);
});

test('a valid sample is a row in vitals within one second', async () => {
  const c = await connect(bench.broker.port, { id: 'mon-3w-12', password: secret });
  const ts = Date.now();
  const t0 = Date.now();
  const rc = await publishQos1(c, 'vitals/mon-3w-12', sample({ v: 1, seq: 100, ts, hr: 72, spo2: 97, temp: 36.8, o2: false, avpu: 'A' }));
  assert.equal(rc, 0, 'PUBACK accepted');
  const row = await waitFor(async () => (await bench.pg.query(
    "SELECT * FROM vitals WHERE device_id = 'mon-3w-12' AND seq = 100")).rows[0], { timeout: 1000, interval: 10, what: 'the row' });
  const elapsed = Date.now() - t0;
  assert.ok(elapsed <= 1000, `stored after ${elapsed} ms`);
  assert.equal(row.hr, 72);
  assert.equal(row.spo2, 97);
  assert.ok(Math.abs(row.temp - 36.8) < 1e-4);
  assert.equal(row.o2, false);
  assert.equal(row.avpu, 'A');
  assert.equal(row.ward, '3W');
  assert.equal(row.bed, 'B12');
  assert.equal(row.measured_at.getTime(), ts);
  await c.endAsync();
});

test('a malformed payload is refused with 0x87, reported to the device, and never reaches vitals', async () => {
  const c = await connect(bench.broker.port, { id: 'mon-3w-12', password: secret });
  const got = collect(c);
  await c.subscribeAsync('devices/mon-3w-12/rejections', { qos: 1 });
  const before = (await bench.pg.query('SELECT count(*)::int AS n FROM vitals')).rows[0].n;
  const rc = await publishQos1(c, 'vitals/mon-3w-12', Buffer.from([0xc1, 0x00, 0x01]));
  assert.equal(rc, 0x87);
  const rc2 = await publishQos1(c, 'vitals/mon-3w-12', sample({ v: 1, seq: 101, ts: Date.now(), spo2: 101 }));
  assert.equal(rc2, 0x87);
  const recs = await waitFor(() => (got.length >= 2 ? got : null), { what: 'two rejection records' });
  const r1 = JSON.parse(recs[0].text);
  assert.equal(r1.reason, 'malformed');
  assert.equal(r1.seq, null);
  const r2 = JSON.parse(recs[1].text);
  assert.equal(r2.reason, 'out_of_range');
  assert.equal(r2.field, 'spo2');
  assert.equal(r2.seq, 101);
  assert.match(r2.detail, /spo2/);
  const stored = await waitFor(async () => {
    const r = await bench.pg.query("SELECT reason, field, seq, payload FROM rejections WHERE device_id = 'mon-3w-12' ORDER BY id");
    return r.rows.length >= 2 ? r.rows : null;
  }, { what: 'rejection rows' });
  assert.equal(stored[0].reason, 'malformed');
  assert.deepEqual([...stored[0].payload], [0xc1, 0x00, 0x01]);
  assert.equal(stored[1].reason, 'out_of_range');
  assert.equal(Number(stored[1].seq), 101);
  const after = (await bench.pg.query('SELECT count(*)::int AS n FROM vitals')).rows[0].n;
  assert.equal(after, before);
  assert.equal((await bench.pg.query("SELECT count(*)::int AS n FROM vitals WHERE seq = 101")).rows[0].n, 0);
  await c.endAsync();
});

test('a QoS 1 retransmit of the same seq is acknowledged and stored once', async () => {
  const c = await connect(bench.broker.port, { id: 'mon-3w-12', password: secret });
  const payload = sample({ v: 1, seq: 150, ts: Date.now(), hr: 80 });
  assert.equal(await publishQos1(c, 'vitals/mon-3w-12', payload), 0);
  assert.equal(await publishQos1(c, 'vitals/mon-3w-12', payload), 0);
  assert.equal(await publishQos1(c, 'vitals/mon-3w-12', payload, { dup: true }), 0);
  await waitFor(async () => (await bench.pg.query("SELECT count(*)::int AS n FROM vitals WHERE seq = 150")).rows[0].n === 1,
    { what: 'the row' });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await bench.pg.query("SELECT count(*)::int AS n FROM vitals WHERE seq = 150")).rows[0].n, 1);
  await c.endAsync();
});

test('a heart rate over the threshold raises one signed alert.raised webhook that the Node.js receiver verifies', async () => {
  const c = await connect(bench.broker.port, { id: 'mon-3w-12', password: secret });
  const nurse = collect(c); // devices cannot read wards/: checked in the ACL tests
  const start = bench.receiver.events.length;
  const ts = Date.now();
  assert.equal(await publishQos1(c, 'vitals/mon-3w-12', sample({ v: 1, seq: 200, ts, hr: 150 })), 0);
  assert.equal(await publishQos1(c, 'vitals/mon-3w-12', sample({ v: 1, seq: 201, ts: ts + 1000, hr: 152 })), 0);
  const ev = await waitFor(() => bench.receiver.events[start], { timeout: 5000, what: 'the webhook' });
  assert.equal(ev.type, 'alert.raised');
  assert.equal(ev.data.kind, 'threshold');
  assert.equal(ev.data.vital, 'hr');
  assert.equal(ev.data.value, 150);
  assert.equal(ev.data.device_id, 'mon-3w-12');
  assert.equal(ev.data.ward, '3W');
  assert.equal(ev.data.bed, 'B12');
  assert.equal(ev.data.seq, 200);
  const req = bench.receiver.requests.find((r) => r.id === ev.id);
  assert.equal(req.verified, true);
  assert.match(req.headers['webhook-signature'], /^v1,[A-Za-z0-9+/]+=*$/);
  assert.match(req.headers['webhook-id'], /^evt_[0-9a-f]{32}$/);
  // One transition, one webhook: the second high sample sends nothing new.
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(bench.receiver.events.filter((e) => e.type === 'alert.raised' && e.data.device_id === 'mon-3w-12').length, 1);
  // Recovery resolves it, with the same alert id.
  assert.equal(await publishQos1(c, 'vitals/mon-3w-12', sample({ v: 1, seq: 202, ts: ts + 2000, hr: 90 })), 0);
  const res = await waitFor(() => bench.receiver.events.find((e) => e.type === 'alert.resolved'), { what: 'alert.resolved' });
  assert.equal(res.data.alert_id, ev.data.alert_id);
  assert.equal(nurse.length, 0);
  await c.endAsync();
});

test('a tampered webhook body is rejected by the receiver', async () => {
  const ev = bench.receiver.requests.find((r) => r.verified);
  assert.ok(ev, 'a verified request to replay');
  const body = ev.raw.replace('"hr"', '"spo2"');
  const res = await fetch(bench.receiver.url, {
    method: 'POST', body,
    headers: {
      'content-type': 'application/json',
      'webhook-id': `${ev.headers['webhook-id']}x`,
      'webhook-timestamp': ev.headers['webhook-timestamp'],
      'webhook-signature': ev.headers['webhook-signature'],
    },
  });
  assert.equal(res.status, 400);
});

test('a missing, malformed or unknown plugin option stops the broker with a message naming it', async () => {
  const root = makeTempRoot();
  const spool = path.join(root, 'spool');
  mkdirSync(spool);
  if (process.getuid() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'mosquitto']).toString());
    const gid = Number(execFileSync('id', ['-g', 'mosquitto']).toString());
    chownSync(spool, uid, gid);
  }
  const cases = [
    [{ conninfo: null, spoolDir: spool }, /plugin_opt_db_conninfo: required option missing/],
    [{ conninfo: bench.pg.conninfo, spoolDir: null }, /plugin_opt_spool_dir: required option missing/],
    [{ conninfo: bench.pg.conninfo, spoolDir: spool, options: { journal_max_mb: 'lots' } }, /plugin_opt_journal_max_mb: "lots" is not an integer/],
    [{ conninfo: bench.pg.conninfo, spoolDir: spool, options: { colour: 'blue' } }, /plugin_opt_colour: unknown option/],
    [{ conninfo: bench.pg.conninfo, spoolDir: spool, options: { others: 'maybe' } }, /plugin_opt_others: "maybe" is not one of deny, defer/],
    [{ conninfo: bench.pg.conninfo, spoolDir: '/nonexistent/spool' }, /plugin_opt_spool_dir: "\/nonexistent\/spool" is not an existing directory/],
    [{ conninfo: bench.pg.conninfo, spoolDir: spool, webhookUrl: 'ftp://x' }, /plugin_opt_webhook_url: "ftp:\/\/x" must start with http/],
    [{ conninfo: bench.pg.conninfo, spoolDir: bench.spool }, /plugin_opt_spool_dir: journal .* is in use by another broker/],
  ];
  for (const [opts, re] of cases) await refusedStart(root, opts, re);
});

// Starts a broker with opts and expects it to exit, with a line matching re.
async function refusedStart(root, opts, re) {
  const b = new Broker();
  b.root = root;
  b.opts = opts;
  b.port = await freePort();
  b.confFile = path.join(root, 'bad.conf');
  b.logFile = path.join(root, 'bad.log');
  b.lines = [];
  b.writeConf();
  await b.boot({ waitReady: false });
  const exit = await waitFor(() => b.exit, { timeout: 10000, what: 'mosquitto to refuse to start' });
  assert.notEqual(exit.code, 0, `exit status for ${re}`);
  assert.ok(b.lines.some((l) => re.test(l)), `expected ${re} in:\n${b.lines.join('\n')}`);
}

test('12.15 an http:// webhook or mirror URL beyond loopback stops the broker, naming the option and why, unless allow_cleartext, which warns at start and on every reload', async () => {
  const remote = 'http://192.0.2.10:3000/vitalgate/webhooks';   // TEST-NET-1: never answers here
  const refused = [
    [{ webhookUrl: remote }, /configuration error: plugin_opt_webhook_url: http:\/\/ would send alerts in cleartext to 192\.0\.2\.10, which is not a loopback address; use https:\/\/, or set plugin_opt_allow_cleartext true/],
    [{ options: { mirror_url: 'http://legacy.example/ingest' } }, /configuration error: plugin_opt_mirror_url: http:\/\/ would send vital signs in cleartext to legacy\.example/],
  ];
  const root = makeTempRoot();
  for (const [i, [extra, re]] of refused.entries()) {
    await refusedStart(root, { conninfo: bench.pg.conninfo, spoolDir: bench.newSpool(`spool-ct-${i}`), secretFile: bench.secretFile, ...extra }, re);
  }

  // Explicitly allowed: it starts, and says what it accepted, at start and on SIGHUP.
  const warn = /WARNING: .*plugin_opt_webhook_url sends alerts unencrypted \(http:\/\/\) to 192\.0\.2\.10 \(plugin_opt_allow_cleartext true\)/;
  const b = await Broker.start(root, { conninfo: bench.pg.conninfo, spoolDir: bench.newSpool('spool-ct-ok'), webhookUrl: remote,
    secretFile: bench.secretFile, options: { allow_cleartext: 'true' } });
  try {
    assert.ok(b.lines.some((l) => warn.test(l)), `a warning at start in:\n${b.lines.join('\n')}`);
    const from = b.mark();
    process.kill(b.proc.pid, 'SIGHUP');
    await b.waitLog(warn, 10000, from);
  } finally {
    await b.stop();
  }
  // Loopback needs no ceremony: this bench's own broker uses http://127.0.0.1.
  assert.match(bench.receiver.url, /^http:\/\/127\.0\.0\.1:/);
  assert.ok(!bench.broker.lines.some((l) => /WARNING: .*unencrypted/.test(l)));
});
