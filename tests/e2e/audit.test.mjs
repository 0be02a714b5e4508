// The audit trail under a burst (issue 12.10): security events are buffered
// on the broker thread and journalled once per main-loop pass. Records are
// up to 717 bytes (VG_REC_AUDIT_MAX: a 64-byte identity and client id, an
// address, a 511-byte detail); the buffer used to keep only 600 bytes free,
// so a large record arriving when between 600 and 716 bytes were left was
// dropped. A client controls the sizes: its username and client id (cut to
// 64 bytes), and the topic an ACL denial quotes (cut to 511 bytes of
// detail). Here one pass carries 193 logins with 64-byte ids (168-byte
// records) and then 50 denied publishes on a long topic (663-byte records),
// which leaves the 50th facing 625 free bytes: every one of them must reach
// audit_log, and the hash chain must verify.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

import { Bench, connect, waitFor, subscribeRc } from '../lib/bench.mjs';

let bench;
let core;
const sys = new Map();

// ---- a minimal MQTT 3.1.1 client over a raw socket: the test decides
// exactly which bytes reach the broker, and when.
const str = (s) => { const b = Buffer.from(s); return Buffer.concat([Buffer.from([b.length >> 8, b.length & 255]), b]); };
function varint(n) {
  const out = [];
  do { let b = n % 128; n = Math.floor(n / 128); if (n > 0) b |= 128; out.push(b); } while (n > 0);
  return Buffer.from(out);
}
const packet = (type, body) => Buffer.concat([Buffer.from([type]), varint(body.length), body]);
// CONNECT: clean session, username + password, keepalive 60 s.
const connectPacket = (id, password) => packet(0x10, Buffer.concat([str('MQTT'), Buffer.from([4, 0xc2, 0, 60]), str(id), str(id), str(password)]));
const publishQos0Packet = (topic, payload) => packet(0x30, Buffer.concat([str(topic), Buffer.from(payload)]));

function rawSocket(port) {
  return new Promise((resolve, reject) => {
    const s = net.createConnection({ host: '127.0.0.1', port }, () => resolve(s));
    s.got = Buffer.alloc(0);
    s.on('data', (d) => { s.got = Buffer.concat([s.got, d]); });
    s.on('error', reject);
  });
}
// State letter of /proc/<pid>/task/<tid>/stat ('T': stopped by a signal).
const stopped = (statFile) => /^ T /.test(readFileSync(statFile, 'utf8').replace(/^.*\)/s, ''));
const connackOk = (s) => s.got.length >= 4 && s.got[0] === 0x20 && s.got[3] === 0;

// 64-byte identities (VG_ID_MAX), distinct per prefix and index.
const longId = (prefix, i) => `${prefix}-${String(i).padStart(3, '0')}-`.padEnd(64, 'x');

before(async () => {
  bench = await Bench.start({ options: { stats_interval_s: 1 } });
  const svc = await bench.adminOk(['service', 'add', 'core-a']);
  await bench.waitIdentity(bench.broker.port, 'core-a', svc);
  core = await connect(bench.broker.port, { id: 'core-a', password: svc });
  core.on('message', (t, p) => sys.set(t, Number(p.toString())));
  assert.equal(await subscribeRc(core, '$SYS/broker/vitalgate/audit/#', 0), 0);
});

after(async () => {
  await core?.endAsync();
  await bench?.stop();
});

test('12.10 one loop pass of maximum-size audit records: none is dropped, every one is in audit_log, the chain verifies', { timeout: 60000 }, async () => {
  const port = bench.broker.port;
  const fillers = bench.importDevices(Array.from({ length: 193 }, (_, i) => longId('f', i)));
  const publishers = bench.importDevices(Array.from({ length: 50 }, (_, i) => longId('p', i)));
  await bench.waitIdentity(port, fillers.at(-1).id, fillers.at(-1).secret);
  await bench.waitIdentity(port, publishers.at(-1).id, publishers.at(-1).secret);

  // The publishers log in now (their connect rows go in earlier passes);
  // the fillers' sockets are open but silent.
  const pubs = await Promise.all(publishers.map(async (p) => {
    const s = await rawSocket(port);
    s.write(connectPacket(p.id, p.secret));
    await waitFor(() => connackOk(s), { what: `CONNACK for ${p.id}` });
    return s;
  }));
  const socks = await Promise.all(fillers.map(() => rawSocket(port)));
  bench.cleanups.push(() => { for (const s of [...pubs, ...socks]) s.destroy(); });
  // Accepted by the broker by now, and a fresh second for the per-second
  // budget of noisy events (the 50 denials use all of it).
  await sleep(1200);
  const from = (await bench.pg.query('SELECT coalesce(max(id), 0) AS id FROM audit_log')).rows[0].id;

  // One main-loop pass: while the broker is stopped, every socket gets its
  // bytes; on SIGCONT one epoll_wait returns them all, in the order written,
  // and the audit buffer is flushed only at the TICK after them.
  const topic = `x/${'a'.repeat(600)}`;
  const pid = bench.broker.proc.pid;
  process.kill(pid, 'SIGSTOP');
  try {
    // kill() returns before the stop takes effect: wait until every thread
    // of the broker is stopped, or the first writes could still be read.
    await waitFor(() => readdirSync(`/proc/${pid}/task`).every((t) => stopped(`/proc/${pid}/task/${t}/stat`)),
      { what: 'the broker stopped', interval: 5 });
    fillers.forEach((f, i) => socks[i].write(connectPacket(f.id, f.secret)));
    for (const s of pubs) s.write(publishQos0Packet(topic, 'x'));
    await sleep(200);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  await waitFor(() => socks.every(connackOk), { what: '193 CONNACKs' });

  const count = async (event, prefix) => (await bench.pg.query(
    'SELECT count(*)::int AS n FROM audit_log WHERE id > $1 AND event = $2 AND identity LIKE $3', [from, event, `${prefix}-%`])).rows[0].n;
  await waitFor(async () => await count('connect', 'f') === fillers.length, { what: '193 connect rows' });
  // The writer commits the pass's records together: give a dropped one no
  // excuse, then count.
  await waitFor(async () => await count('acl_denied', 'p') === publishers.length,
    { what: '50 acl_denied rows', timeout: 5000 }).catch(() => {});
  assert.equal(await count('acl_denied', 'p'), publishers.length, 'every denied publish of the pass is in audit_log');
  const rows = (await bench.pg.query(
    "SELECT identity, client_id, length(detail) AS dl FROM audit_log WHERE id > $1 AND event = 'acl_denied' ORDER BY id", [from])).rows;
  assert.ok(rows.every((r) => r.identity.length === 64 && r.client_id === r.identity && r.dl === 511),
    'maximum-size records: 64-byte identity and client id, 511-byte detail');
  await waitFor(() => sys.get('$SYS/broker/vitalgate/audit/unrecorded') === 0 && sys.get('$SYS/broker/vitalgate/audit/events') > 243,
    { what: 'audit counters: nothing unrecorded' });

  const verify = bench.admin(['audit', 'verify']);
  assert.equal(verify.code, 0, verify.stderr);
  assert.match(verify.stderr, /audit chain intact/);
});
