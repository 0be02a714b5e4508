// HTTPS webhooks with the endpoint's certificate verified (issue 9): the
// Node.js receiver serves HTTPS with a certificate from a test CA, and the
// broker trusts that CA through plugin_opt_webhook_ca_file.
//  - right CA, right name: the alert is delivered and its signature verified;
//  - a certificate from another CA, and one from the right CA for another
//    host name: nothing is delivered (the receiver sees only an aborted
//    handshake), the broker logs the TLS failure, and the events stay
//    pending in the outbox;
//  - back to the right receiver: the events kept pending are delivered.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

import { Bench, Receiver, connect, publishQos1, sample, waitFor, makeTempRoot } from '../lib/bench.mjs';
import { makeCA, issue } from '../lib/certs.mjs';

let pki;
let ca;
let bench;
const clients = [];
const extra = [];     // receivers other than bench.receiver
const TLS_FAILURE = /Vitalgate: webhook (evt_[0-9a-f]{32}) attempt \d+ failed \(([^)]*)\)/;

before(async () => {
  // Outside the bench's root: the receiver needs its certificate before
  // Bench.start creates that root.
  pki = makeTempRoot('vg-pki-');
  ca = makeCA(path.join(pki, 'ca'));
  const core = issue(ca, 'core', '127.0.0.1', 'IP:127.0.0.1');
  bench = await Bench.start({
    webhook: true,
    receiverTls: core.tls,
    options: {
      webhook_ca_file: ca.ca, alert_hold_s: 0, silence_s: 3600, disconnect_grace_s: 3600,
      webhook_timeout_ms: 2000, webhook_backoff_max_s: 2,
    },
  });
});

after(async () => {
  for (const c of clients) await c.endAsync().catch(() => {});
  for (const r of extra) await r.stop().catch(() => {});
  await bench?.stop();
  if (pki) rmSync(pki, { recursive: true, force: true });
});

// A device on its own bed (one bed's webhooks are delivered in order, so
// beds keep the cases independent) that sends one heart rate over 131.
async function alertFrom(id, bed) {
  const secret = await bench.addDevice(id, '9H', bed);
  await bench.waitIdentity(bench.broker.port, id, secret);
  const c = await connect(bench.broker.port, { id, password: secret });
  clients.push(c);
  assert.equal(await publishQos1(c, `vitals/${id}`, sample({ v: 1, seq: 1, ts: Date.now(), hr: 150 })), 0);
  return waitFor(async () => (await bench.pg.query(
    "SELECT * FROM alert_events WHERE device_id = $1 AND type = 'alert.raised'", [id])).rows[0],
  { what: `the outbox row of ${id}` });
}

async function pointBrokerAt(url) {
  bench.broker.opts.webhookUrl = url;
  bench.broker.writeConf();
  await bench.broker.restart();
}

test('right CA and host name: the alert is delivered over HTTPS and its signature verifies', async () => {
  assert.match(bench.receiver.url, /^https:\/\/127\.0\.0\.1:\d+\//);
  const row = await alertFrom('hx-ok', 'B1');
  const ev = await waitFor(() => bench.receiver.events.find((e) => e.id === row.event_id), { timeout: 8000, what: 'the webhook' });
  assert.equal(ev.type, 'alert.raised');
  assert.equal(ev.data.device_id, 'hx-ok');
  assert.equal(ev.data.value, 150);
  const req = bench.receiver.requests.find((r) => r.id === row.event_id);
  assert.equal(req.verified, true);
  assert.deepEqual(bench.receiver.tlsErrors, [], 'no failed handshakes');
  const done = await waitFor(async () => {
    const r = (await bench.pg.query('SELECT status, attempts, last_http FROM alert_events WHERE event_id = $1', [row.event_id])).rows[0];
    return r.status === 'delivered' ? r : null;
  }, { what: 'the event marked delivered' });
  assert.equal(done.attempts, 1);
  assert.equal(done.last_http, 204);
});

// The certificate is refused: the broker connects but the receiver never
// gets a request; the broker names the TLS failure; the event stays
// pending (it is not dropped, it is not dead-lettered).
async function refusedCase(rx, id, bed) {
  extra.push(rx);
  let connections = 0;
  rx.server.on('connection', () => { connections++; });
  await pointBrokerAt(rx.url);
  const mark = bench.broker.mark();
  const row = await alertFrom(id, bed);
  const line = await bench.broker.waitLog(new RegExp(`Vitalgate: webhook ${row.event_id} attempt \\d+ failed`), 10000, mark);
  const [, , why] = TLS_FAILURE.exec(line);
  assert.match(why, /SSL|TLS|certificate/i, `the log line names the TLS failure: ${line}`);
  assert.ok(connections > 0, 'the broker did connect to the receiver');
  await sleep(1500); // a retry or two (backoff 1 s, 2 s)
  assert.deepEqual(rx.requests, [], 'no request reached a receiver whose certificate is refused');
  assert.deepEqual(rx.events, []);
  const r = (await bench.pg.query('SELECT status, attempts, last_error FROM alert_events WHERE event_id = $1', [row.event_id])).rows[0];
  assert.equal(r.status, 'pending');
  return { row, line, rx };
}

const refused = [];

test('a certificate signed by another CA: no delivery, the broker logs the TLS failure', async () => {
  const other = makeCA(path.join(pki, 'other'), { cn: 'Untrusted Test CA' });
  const forged = issue(other, 'core', '127.0.0.1', 'IP:127.0.0.1'); // right name, wrong CA
  const rx = await Receiver.start({ secrets: bench.secrets, tls: forged.tls });
  refused.push(await refusedCase(rx, 'hx-ca', 'B2'));
  // libcurl checks the chain inside the handshake and aborts it.
  assert.ok(rx.tlsErrors.length > 0, 'the receiver saw the handshake aborted');
});

test('a certificate from the trusted CA for another host name: no delivery, the broker logs the TLS failure', async () => {
  const misnamed = issue(ca, 'elsewhere', 'core.example.internal', 'DNS:core.example.internal');
  const rx = await Receiver.start({ secrets: bench.secrets, tls: misnamed.tls });
  refused.push(await refusedCase(rx, 'hx-name', 'B3'));
});

test('back to the verified receiver: the events kept pending are delivered', async () => {
  assert.equal(refused.length, 2, 'the refused cases ran');
  await pointBrokerAt(bench.receiver.url);
  for (const { row } of refused) {
    const ev = await waitFor(() => bench.receiver.events.find((e) => e.id === row.event_id), { timeout: 10000, what: `${row.event_id}` });
    assert.equal(ev.type, 'alert.raised');
    assert.equal(bench.receiver.requests.find((r) => r.id === row.event_id).verified, true);
  }
  for (const { rx } of refused) assert.deepEqual(rx.requests, []);
  await waitFor(async () => (await bench.pg.query(
    "SELECT count(*)::int AS n FROM alert_events WHERE status <> 'delivered'")).rows[0].n === 0, { what: 'everything delivered' });
});
