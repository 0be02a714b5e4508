// TLS to PostgreSQL (issue 9): the server listens on 127.0.0.1 with ssl=on
// and a certificate from a test CA, and refuses TCP without TLS. The CLI
// (from its first `migrate`) and the broker connect with
// `sslmode=verify-full sslrootcert=<ca>`:
//  - samples are stored, and every Vitalgate backend is a TLS session;
//  - the CLI refuses a server its CA does not vouch for, or one whose name
//    differs;
//  - a broker whose sslrootcert is the wrong CA keeps running on its
//    identity cache, logs the certificate error, keeps the samples in the
//    journal, and stores them once it trusts the server again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

import { Bench, ADMIN, connect, publishQos1, sample, waitFor } from '../lib/bench.mjs';
import { makeCA } from '../lib/certs.mjs';

let bench;
let wrongCa;
let secret;
let seq = 1;

before(async () => {
  bench = await Bench.start({
    pgTls: true,
    pgSettings: { log_connections: 'on' },
    options: { silence_s: 3600, disconnect_grace_s: 3600 },
  });
  wrongCa = makeCA(path.join(bench.root, 'wrong-ca'), { cn: 'Some Other CA' }).ca;
  secret = await bench.addDevice('tls-mon-1', '4C', 'B1');
  await bench.waitIdentity(bench.broker.port, 'tls-mon-1', secret);
});

after(async () => {
  await bench?.stop();
});

const vitalsCount = async () => (await bench.pg.query(
  "SELECT count(*)::int AS n FROM vitals WHERE device_id = 'tls-mon-1'")).rows[0].n;

async function publish(n) {
  const c = await connect(bench.broker.port, { id: 'tls-mon-1', password: secret });
  const seqs = [];
  for (let i = 0; i < n; i++) {
    const s = seq++;
    assert.equal(await publishQos1(c, 'vitals/tls-mon-1', sample({ v: 1, seq: s, ts: Date.now(), hr: 70 + i, spo2: 97 })), 0);
    seqs.push(s);
  }
  await c.endAsync();
  return seqs;
}

function cli(conninfo, args) {
  const r = spawnSync(ADMIN, ['--db', conninfo, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('the broker connects with sslmode=verify-full and stores a sample; its backends are TLS sessions', async () => {
  assert.match(bench.brokerOpts.conninfo, /host=127\.0\.0\.1 .*sslmode=verify-full sslrootcert=\S+/);
  const [s] = await publish(1);
  const row = await waitFor(async () => (await bench.pg.query(
    "SELECT hr, spo2 FROM vitals WHERE device_id = 'tls-mon-1' AND seq = $1", [s])).rows[0], { what: 'the sample in vitals' });
  assert.equal(row.hr, 70);
  const sessions = await waitFor(async () => {
    const r = (await bench.pg.query(
      `SELECT a.application_name AS app, host(a.client_addr) AS addr, s.ssl, s.version
         FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
        WHERE a.application_name LIKE 'vitalgate-%' ORDER BY 1`)).rows;
    const apps = new Set(r.map((x) => x.app));
    return apps.has('vitalgate-writer') && apps.has('vitalgate-idsync') ? r : null;
  }, { what: 'the writer and identity sync backends' });
  for (const x of sessions) {
    assert.equal(x.ssl, true, `${x.app} uses TLS`);
    assert.equal(x.addr, '127.0.0.1', `${x.app} connects over TCP`);
    assert.match(x.version, /^TLSv1\.[23]$/);
  }
  // Nothing else reaches the server over TCP without TLS (pg_hba refuses it).
  const plain = (await bench.pg.query(
    `SELECT count(*)::int AS n FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
      WHERE a.client_addr IS NOT NULL AND NOT s.ssl`)).rows[0].n;
  assert.equal(plain, 0);
});

test('vitalgate-admin migrates and provisions over TLS, and verifies the server', async () => {
  const tls = bench.dbConninfo;
  // The bench's own first migrate ran over this conninfo: the server logged
  // the CLI's session as TLS.
  const log = readFileSync(bench.pg.logFile, 'utf8');
  assert.match(log, /connection authorized: user=postgres database=vitalgate application_name=vitalgate-admin SSL enabled \(protocol=TLSv1\.[23]/);
  const again = cli(tls, ['migrate']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /up to date/);
  const add = cli(tls, ['device', 'add', 'tls-mon-2', '--ward', '4C', '--bed', 'B2']);
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stdout, /^vgs_/);
  // The wrong CA: refused before anything is sent.
  const wrong = cli(bench.pg.tcpConninfo({ sslrootcert: wrongCa }), ['list']);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /certificate verify failed/);
  // The right CA but another host name: verify-full checks the name.
  const misnamed = cli(bench.pg.tcpConninfo({ host: 'db.vitalgate.invalid', extra: 'hostaddr=127.0.0.1' }), ['list']);
  assert.equal(misnamed.code, 1);
  assert.match(misnamed.stderr, /does not match host name "db\.vitalgate\.invalid"/);
  // And the server refuses TCP without TLS.
  const plain = cli(bench.pg.tcpConninfo({ sslmode: 'disable', sslrootcert: null }), ['list']);
  assert.equal(plain.code, 1);
  assert.match(plain.stderr, /no encryption|pg_hba\.conf rejects/);
});

test('sslrootcert of the wrong CA: the broker keeps running, logs the certificate error, keeps samples in the journal', async () => {
  const broker = bench.broker;
  // The identity cache lets the restarted broker serve the device meanwhile.
  await waitFor(() => existsSync(path.join(bench.spool, 'identities.cache')), { what: 'the identity cache' });
  const stored = await vitalsCount();
  broker.opts.conninfo = bench.pg.tcpConninfo({ sslrootcert: wrongCa });
  broker.writeConf();
  const mark = broker.mark();
  broker.opts.noWaitIdentities = true; // they come from the cache: "N identities loaded from"
  await broker.restart();
  broker.opts.noWaitIdentities = false;
  await broker.waitLog(/Vitalgate: \d+ identities loaded from .*identities\.cache/, 10000, mark);
  const writerLine = await broker.waitLog(/Vitalgate writer: cannot connect to PostgreSQL/, 10000, mark);
  assert.match(writerLine, /certificate verify failed/);
  const syncLine = await broker.waitLog(/Vitalgate: identity sync cannot reach PostgreSQL/, 10000, mark);
  assert.match(syncLine, /certificate verify failed/);
  const seqs = await publish(5);
  await sleep(1500);
  assert.equal(broker.exit, null, 'the broker is still running');
  assert.equal(await vitalsCount(), stored, 'nothing reached the untrusted server');
  // Trusting the server again, the journal is replayed: nothing was lost.
  broker.opts.conninfo = bench.dbConninfo;
  broker.writeConf();
  await broker.restart();
  await waitFor(async () => (await vitalsCount()) === stored + seqs.length, { timeout: 10000, what: 'the journalled samples stored' });
  const got = (await bench.pg.query(
    "SELECT seq FROM vitals WHERE device_id = 'tls-mon-1' AND seq = ANY($1::bigint[]) ORDER BY seq", [seqs])).rows.map((r) => Number(r.seq));
  assert.deepEqual(got, seqs);
});
