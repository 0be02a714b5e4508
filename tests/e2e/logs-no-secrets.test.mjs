// Logs carry ids and reasons, never secrets, never measured values
// (issue 9, docs/security.md "Logs"). One broker (every log type, debug
// included) and one PostgreSQL (connections and verbose errors logged) go
// through a representative flow: devices, an imported batch, a station and
// a service provisioned with vitalgate-admin; a rotation; logins with the
// right secret, an old one and wrong ones (throttled); samples with
// distinctive values, alerts and signed webhooks; a webhook key rotation
// and a broken secrets file; rejected samples with distinctive bad values.
// Then the mosquitto log, the PostgreSQL log, the audit trail and whatever
// the CLI printed (except the one-time secrets on stdout) are searched for
// every secret and every value. Ids (devices, wards, beds) may appear.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  Bench, Broker, ADMIN, connect, publishQos1, sample, collect, closed, waitFor, whsecret,
} from '../lib/bench.mjs';

const NOT_AUTHORIZED = 0x87;
const refused = (e) => e.code === NOT_AUTHORIZED || e.code === 0x86 || e.code === 0x8a || /Not authorized|Bad User|Banned/i.test(e.message);

// Distinctive values. Integers of three digits are searched as numbers of
// their own; two-digit ones (too common: counts, ids) only next to their
// field's name or unit; decimals with any precision from the first decimal
// digit on (39.7, 39.73, 39.730000, 39.7299995...).
const VALID = { hr: 263, spo2: 67, rr: 41, sbp: 287, dbp: 193, map: 241, temp: 39.73, o2: true, avpu: 'V' };
const SECOND = { spo2: 68, rr: 43, temp: 38.61 };
const REJECTED = [
  { fields: { hr: 317 }, reason: 'out_of_range', field: 'hr' },
  { fields: { temp: 47.91 }, reason: 'out_of_range', field: 'temp' },
  { fields: { hr: 151.5 }, reason: 'wrong_type', field: 'hr' },
  { fields: { sbp: 118, dbp: 179 }, reason: 'out_of_range', field: 'dbp' },
];

function valuePatterns(name, v) {
  const s = String(v);
  if (!Number.isInteger(v)) {
    const [i, d] = s.split('.');
    return [new RegExp(`(?<![\\w.])${i}\\.${d[0]}\\d*`)];
  }
  if (s.length >= 3) return [new RegExp(`(?<![\\w.])${s}(?!\\w)`)];
  return [new RegExp(`\\b${name}\\W{0,6}${s}(?![\\w])`, 'i'), new RegExp(`(?<![\\w.])${s} ?(%|/min|mm)`)];
}

const VALUES = [];
// (o2 and avpu, a flag and a letter, cannot be told from other text.)
for (const [k, v] of Object.entries(VALID)) if (typeof v === 'number') VALUES.push({ what: `accepted ${k} ${v}`, res: valuePatterns(k, v) });
for (const [k, v] of Object.entries(SECOND)) VALUES.push({ what: `accepted ${k} ${v}`, res: valuePatterns(k, v) });
for (const r of REJECTED) {
  for (const [k, v] of Object.entries(r.fields)) VALUES.push({ what: `rejected ${k} ${v}`, res: valuePatterns(k, v) });
}

// Numbers that are not values: timestamps, PIDs, byte counts, durations.
function normalise(line) {
  return line
    .replace(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d: /, '')                 // mosquitto
    .replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \S+ \[\d+\] /, '')  // PostgreSQL log_line_prefix
    .replace(/\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?\b/g, 'TS')    // CLI listings
    .replace(/^\d+ TS /, 'N TS ')                                       // audit list: row id
    .replace(/\(\d+ bytes\)/g, '(N bytes)')
    .replace(/session time: [\d:.]+/g, 'session time: T');
}

let bench;
let broker;
const secrets = [];      // {what, value}: must never be logged
const cliOut = [];       // {cmd, text}: what the CLI printed, minus the one-time secrets
const clients = [];
let receivedBodies = '';

function addSecret(what, value) {
  secrets.push({ what, value });
  if (value.startsWith('vgs_')) secrets.push({ what: `${what} (without its prefix)`, value: value.slice(4) });
}

function addWebhookSecret(what, value) {
  const b64 = value.slice('whsec_'.length);
  const key = Buffer.from(b64, 'base64');
  secrets.push({ what, value }, { what: `${what} (base64 part)`, value: b64 },
    { what: `${what} (base64url)`, value: key.toString('base64url') }, { what: `${what} (hex key)`, value: key.toString('hex') });
}

// Runs vitalgate-admin; `secretOut`: its stdout is the one-time secret
// output (kept out of the search, recorded as secrets).
function cli(args, { input, secretOut = false } = {}) {
  const r = spawnSync(ADMIN, ['--db', bench.pg.conninfo, ...args], { encoding: 'utf8', input });
  assert.equal(r.status, 0, `vitalgate-admin ${args.join(' ')}: ${r.stderr}`);
  cliOut.push({ cmd: args.join(' '), text: `${secretOut ? '' : r.stdout}${r.stderr}` });
  return r.stdout.trim();
}

// From 127.0.0.2, so the address throttle never holds up the logins that
// must succeed (from 127.0.0.1).
async function refusedLogin(id, password, what) {
  if (what) secrets.push({ what, value: password });
  await assert.rejects(connect(broker.port, { id, password, localAddress: '127.0.0.2' }), refused,
    `${id} with ${what ?? 'a refused secret'}`);
}

async function sessionOf(id, password) {
  const c = await connect(broker.port, { id, password });
  clients.push(c);
  return c;
}

before(async () => {
  bench = await Bench.start({
    webhook: true,
    noBroker: true,
    pgSettings: { log_connections: 'on', log_disconnections: 'on', log_error_verbosity: 'verbose' },
    options: { alert_hold_s: 0, silence_s: 3600, disconnect_grace_s: 3600, stats_interval_s: 1 },
  });
  addWebhookSecret('webhook secret', bench.secrets[0]);
  broker = await Broker.start(bench.root, { ...bench.brokerOpts, logTypes: ['all'] });
  bench.broker = broker;
});

after(async () => {
  for (const c of clients) await c.endAsync().catch(() => {});
  await bench?.stop();
});

const logLines = () => broker.lines.map(normalise);

test('a representative flow: provisioning, rotation, logins, samples, alerts, webhooks, rejections', async () => {
  cli(['migrate']);
  const a1 = cli(['device', 'add', 'mon-a', '--ward', '7E', '--bed', 'B1'], { secretOut: true });
  addSecret('mon-a secret', a1);
  const b = cli(['device', 'add', 'mon-b', '--ward', '7E', '--bed', 'B2'], { secretOut: true });
  addSecret('mon-b secret', b);
  const imported = cli(['device', 'import', '-'], { input: 'imp-1 7E B3\nimp-2\n', secretOut: true })
    .split('\n').map((l) => l.split(' '));
  assert.deepEqual(imported.map(([id]) => id), ['imp-1', 'imp-2']);
  for (const [id, s] of imported) addSecret(`${id} secret (import)`, s);
  const st1 = cli(['station', 'add', 'st-7e', '--wards', '7E'], { secretOut: true });
  addSecret('st-7e secret', st1);
  const sv1 = cli(['service', 'add', 'core-svc'], { secretOut: true });
  addSecret('core-svc secret', sv1);
  await bench.waitIdentity(broker.port, 'mon-a', a1);
  await bench.waitIdentity(broker.port, 'core-svc', sv1);

  // Rotations: the old sessions are closed, the old secrets refused.
  const old = await sessionOf('mon-a', a1);
  const gone = closed(old);
  const a2 = cli(['device', 'rotate', 'mon-a'], { secretOut: true });
  addSecret('mon-a secret (rotated)', a2);
  await gone;
  const sv2 = cli(['service', 'rotate', 'core-svc'], { secretOut: true });
  addSecret('core-svc secret (rotated)', sv2);
  await bench.waitIdentity(broker.port, 'mon-a', a2);
  await bench.waitIdentity(broker.port, 'core-svc', sv2);

  // Wrong secrets: an old one, guesses shaped like secrets and not, and
  // enough of them on one identity to throttle it.
  await refusedLogin('mon-a', a1);
  await refusedLogin('core-svc', sv1);
  await refusedLogin('mon-a', `vgs_${randomBytes(32).toString('base64url')}`, 'wrong password for mon-a');
  await refusedLogin('mon-b', `Tr0ub4dor-${randomBytes(9).toString('base64url')}`, 'wrong password for mon-b');
  await refusedLogin('ghost-7', `vgs_${randomBytes(32).toString('base64url')}`, 'password of an unknown identity');
  // A device configured with its secret in the username (and client id)
  // field: refused, and the secret must not be logged as an "identity".
  const misTyped = broker.mark();
  await refusedLogin(b, 'anything');
  assert.ok(broker.lines.slice(misTyped).some((l) => /refused connection of "\[redacted: looks like a secret\]"/.test(l)),
    'the refusal is logged with the username redacted');
  const mark = broker.mark();
  for (let i = 0; i < 6; i++) {
    await refusedLogin('imp-1', `vgs_${randomBytes(32).toString('base64url')}`, `wrong password ${i + 1} for imp-1`);
  }
  await broker.waitLog(/throttling username "imp-1"/, 5000, mark);

  // Sessions: the station and the service read what they may.
  const station = await sessionOf('st-7e', st1);
  const wardMsgs = collect(station);
  await station.subscribeAsync('wards/7E/alerts', { qos: 1 });
  const svc = await sessionOf('core-svc', sv2);
  const svcMsgs = collect(svc);
  await svc.subscribeAsync('vitals/+', { qos: 1 });
  const ma = await sessionOf('mon-a', a2);
  const mb = await sessionOf('mon-b', b);

  // Accepted samples, alerts and webhooks.
  const t = Date.now();
  assert.equal(await publishQos1(ma, 'vitals/mon-a', sample({ v: 1, seq: 1, ts: t, ...VALID })), 0);
  const hr = await waitFor(() => bench.receiver.events.find((e) => e.data.device_id === 'mon-a' && e.data.vital === 'hr'),
    { timeout: 8000, what: 'the hr alert webhook' });
  assert.equal(hr.data.value, VALID.hr);
  await waitFor(() => wardMsgs.some((m) => m.text.includes('"mon-a"')), { what: 'the alert on the ward topic' });
  await waitFor(() => svcMsgs.some((m) => m.topic === 'vitals/mon-a'), { what: 'the service reading the sample' });

  // Webhook key rotation, a broken secrets file (refused, the old keys
  // kept), then the rotated file back.
  const rotated = whsecret();
  addWebhookSecret('rotated webhook secret', rotated);
  const broken = `whsec_!!${randomBytes(24).toString('hex')}!!`;
  secrets.push({ what: 'the broken secrets-file line', value: broken });
  const fileMark = broker.mark();
  writeFileSync(bench.secretFile, `${broken}\n${bench.secrets[0]}\n`);
  await broker.waitLog(/webhook_secret_file changed but cannot be used/, 8000, fileMark);
  await sleep(1100); // a new mtime second
  writeFileSync(bench.secretFile, `${rotated}\n${bench.secrets[0]}\n`);
  await broker.waitLog(/webhook secrets reloaded from .* \(2 secret\(s\)\)/, 8000, fileMark);
  assert.equal(await publishQos1(mb, 'vitals/mon-b', sample({ v: 1, seq: 1, ts: t, ...SECOND })), 0);
  await waitFor(() => bench.receiver.events.find((e) => e.data.device_id === 'mon-b'), { timeout: 8000, what: 'the mon-b webhook' });

  // Rejections with distinctive bad values; an ACL denial.
  const rej = collect(ma);
  await ma.subscribeAsync('devices/mon-a/rejections', { qos: 1 });
  let seq = 2;
  for (const r of REJECTED) {
    assert.equal(await publishQos1(ma, 'vitals/mon-a', sample({ v: 1, seq: seq++, ts: Date.now(), ...r.fields })), NOT_AUTHORIZED);
  }
  assert.equal(await publishQos1(mb, 'vitals/mon-a', sample({ v: 1, seq: 99, ts: Date.now(), hr: 70 })), NOT_AUTHORIZED);
  const recs = await waitFor(() => (rej.length >= REJECTED.length ? rej : null), { what: 'the rejection records' });
  assert.deepEqual(recs.map((m) => JSON.parse(m.text).reason), REJECTED.map((r) => r.reason));

  // Everything reached PostgreSQL.
  const row = await waitFor(async () => (await bench.pg.query("SELECT * FROM vitals WHERE device_id = 'mon-a' AND seq = 1")).rows[0],
    { what: 'the accepted sample' });
  assert.equal(row.hr, VALID.hr);
  await waitFor(async () => (await bench.pg.query("SELECT count(*)::int AS n FROM rejections WHERE device_id = 'mon-a'")).rows[0].n
    === REJECTED.length, { what: 'the rejection rows' });
  await waitFor(async () => (await bench.pg.query("SELECT count(*)::int AS n FROM alert_events WHERE status <> 'delivered'")).rows[0].n === 0,
    { what: 'every webhook delivered' });
  receivedBodies = bench.receiver.requests.map((r) => r.raw).join('\n');

  // The operator's read-only commands, and a revocation.
  cli(['list']);
  cli(['audit', 'list', '--limit', '500']);
  cli(['audit', 'verify']);
  cli(['webhook', 'list']);
  cli(['threshold', 'list']);
  cli(['device', 'revoke', 'imp-2']);

  // A graceful stop, so shutdown logging is searched too.
  for (const c of clients.splice(0)) await c.endAsync().catch(() => {});
  await broker.stop();
  await sleep(300); // PostgreSQL logs the writer's and sync's disconnections
});

test('the detectors find what they look for (so a clean result means something)', () => {
  for (const v of VALUES) {
    const [name, n] = v.what.split(' ').slice(1);
    const inJson = JSON.stringify({ [name]: Number(n) });
    assert.ok(v.res.some((re) => re.test(inJson)), `${v.what} is found in ${inJson}`);
  }
  // The webhook bodies carry the values (that is their job, over TLS and signed).
  assert.ok(VALUES[0].res.some((re) => re.test(receivedBodies)), 'hr found in the webhook bodies');
  assert.ok(broker.lines.length > 100 && broker.lines.some((l) => / Received PUBLISH from mon-a /.test(l)), 'debug logging was on');
  assert.match(readFileSync(bench.pg.logFile, 'utf8'), /connection authorized: .*application_name=vitalgate-writer/);
});

test('rejections are logged with the device id and the reason, never the value', () => {
  const lines = logLines().filter((l) => /Vitalgate: rejected message from /.test(l));
  for (const r of REJECTED) {
    const want = `Vitalgate: rejected message from mon-a: ${r.reason} field ${r.field}`;
    assert.ok(lines.some((l) => l.includes(want)), `expected "${want}" in:\n${lines.join('\n')}`);
  }
  for (const l of lines) assert.doesNotMatch(l, /\d/, `a rejection log line quotes a number: ${l}`);
  assert.ok(logLines().some((l) => /Vitalgate: denied publish of "vitals\/mon-a" to mon-b/.test(l)), 'the ACL denial is logged');
});

async function sources() {
  const audit = (await bench.pg.query(
    'SELECT source, event, identity, client_id, address, actor, detail FROM audit_log ORDER BY id')).rows
    .map((r) => Object.values(r).filter((x) => x !== null).join(' '));
  return [
    { name: 'mosquitto log', lines: broker.lines },
    { name: 'PostgreSQL log', lines: readFileSync(bench.pg.logFile, 'utf8').split('\n') },
    { name: 'audit_log', lines: audit },
    ...cliOut.map((c) => ({ name: `vitalgate-admin ${c.cmd}`, lines: c.text.split('\n') })),
  ];
}

function report(hits) {
  return `LEAK: ${hits.length} finding(s); logs must carry ids and reasons only (docs/security.md "Logs"):\n`
    + hits.slice(0, 40).map((h) => `  ${h.what} in ${h.source}: ${h.line}`).join('\n');
}

test('no secret in the logs, the audit trail or the CLI output: provisioned, rotated, wrong, webhook', async () => {
  assert.ok(secrets.length >= 20, `${secrets.length} secrets collected`);
  const hits = [];
  for (const src of await sources()) {
    for (const line of src.lines) {
      for (const s of secrets) if (line.includes(s.value)) hits.push({ what: s.what, source: src.name, line });
    }
  }
  assert.deepEqual(hits, [], report(hits));
});

test('no measured value in the logs, the audit trail or the CLI output, accepted or rejected', async () => {
  const hits = [];
  for (const src of await sources()) {
    for (const raw of src.lines) {
      const line = normalise(raw);
      for (const v of VALUES) if (v.res.some((re) => re.test(line))) hits.push({ what: v.what, source: src.name, line: raw });
    }
  }
  assert.deepEqual(hits, [], report(hits));
});
