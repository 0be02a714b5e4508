// Dead letters (issue 6): an event the receiver keeps refusing is given up
// after webhook_dead_after_s with an operator alarm, is visible with
// `vitalgate-admin webhook list --status dead`, does not hold up its bed's
// later events, and is delivered once re-driven.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Bench, connect, publishQos1, sample, waitFor, freePort } from '../lib/bench.mjs';

const DEAD_AFTER_S = 10;

let bench;
let dev;
let seq = 1;
let metricsPort;

async function send(fields) {
  assert.equal(await publishQos1(dev, 'vitals/pump-9', sample({ v: 1, seq: seq++, ts: Date.now(), ...fields })), 0);
}

async function status(eventId) {
  return (await bench.pg.query('SELECT status, attempts, last_http, last_error FROM alert_events WHERE event_id = $1',
    [eventId])).rows[0];
}

before(async () => {
  metricsPort = await freePort();
  bench = await Bench.start({
    webhook: true,
    options: {
      alert_hold_s: 0, silence_s: 3600, disconnect_grace_s: 3600,
      webhook_dead_after_s: DEAD_AFTER_S, webhook_backoff_max_s: 2, metrics_port: metricsPort,
    },
  });
  const secret = await bench.addDevice('pump-9', '8W', 'B1');
  await bench.waitIdentity(bench.broker.port, 'pump-9', secret);
  dev = await connect(bench.broker.port, { id: 'pump-9', password: secret });
});

after(async () => {
  await dev?.endAsync().catch(() => {});
  await bench?.stop();
});

test('an event refused past webhook_dead_after_s is dead-lettered, listed, and delivered once re-driven', async () => {
  const rx = bench.receiver;
  const mark = bench.broker.mark();
  rx.mode = 'status:500';
  await send({ hr: 150 });
  const [row] = await waitFor(async () => {
    const r = (await bench.pg.query('SELECT event_id FROM alert_events')).rows;
    return r.length ? r : null;
  }, { what: 'the event in the outbox' });
  const id = row.event_id;
  const line = await bench.broker.waitLog(/ALARM: webhook evt_\w+ undelivered after \d+ attempts/, (DEAD_AFTER_S + 10) * 1000, mark);
  assert.ok(line.includes(id));
  const dead = await waitFor(async () => { const s = await status(id); return s.status === 'dead' ? s : null; },
    { what: 'status dead' });
  assert.ok(dead.attempts >= 3, `${dead.attempts} attempts`);
  assert.equal(dead.last_http, 500);
  assert.equal(dead.last_error, 'HTTP 500');
  const list = bench.admin(['webhook', 'list', '--status', 'dead']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`${id} .* alert\\.raised .* threshold .* 8W/B1 .* dead `));
  assert.match(list.stderr, /1 dead/);

  // The bed's next event is not held up by the dead one.
  rx.mode = 'ok';
  await send({ hr: 70 });
  const resolved = await waitFor(() => rx.events.find((e) => e.type === 'alert.resolved'), { what: 'the next event' });
  assert.equal(rx.events.filter((e) => e.id === id).length, 0, 'the dead event was not delivered');

  // Re-driven: delivered once, and the outbox says so.
  const r = bench.admin(['webhook', 'redrive', 'dead']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /1 event\(s\) back to pending/);
  const got = await waitFor(() => rx.events.find((e) => e.id === id), { timeout: 10000, what: 'the re-driven event' });
  assert.equal(got.type, 'alert.raised');
  assert.equal(got.data.alert_id, resolved.data.alert_id);
  await waitFor(async () => (await status(id)).status === 'delivered', { what: 'status delivered' });
  assert.equal(rx.events.filter((e) => e.id === id).length, 1);
  // A delivered event cannot be re-driven; an unknown one is named.
  const again = bench.admin(['webhook', 'redrive', id]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /was delivered at/);
  const audit = (await bench.pg.query("SELECT detail FROM audit_log WHERE event = 'webhook_redrive'")).rows;
  assert.equal(audit.length, 1);
  assert.match(audit[0].detail, /1 event/);
});

async function metric(name) {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : undefined;
}

test('12.7 an event the core refuses (400) is dead-lettered after webhook_max_rejects tries; its bed\'s later events follow within seconds, in order; other beds never wait', async () => {
  const rx = bench.receiver;
  const mk = async (id, bed) => {
    const secret = await bench.addDevice(id, '8W', bed);
    await bench.waitIdentity(bench.broker.port, id, secret);
    const c = await connect(bench.broker.port, { id, password: secret });
    bench.cleanups.push(() => c.endAsync());
    let s = 1;
    return async (fields) => {
      const at = Date.now();
      assert.equal(await publishQos1(c, `vitals/${id}`, sample({ v: 1, seq: s++, ts: at, ...fields })), 0);
      return at;
    };
  };
  const b2 = await mk('pump-12', 'B2');
  const b3 = await mk('pump-13', 'B3');
  rx.mode = 'ok';
  // The core refuses the first alert.raised of bed B2, and only that event.
  let refused = null;
  rx.refuse = (rec) => {
    const ev = JSON.parse(rec.raw);
    if (ev.type !== 'alert.raised' || ev.data.bed !== 'B2' || (refused && refused !== rec.id)) return undefined;
    refused = rec.id;
    return 400;
  };
  const mark = bench.broker.mark();
  const from = rx.events.length;
  const t0 = await b2({ hr: 150 });  // raised: refused
  const t3 = await b3({ hr: 150 });  // another bed
  await b2({ hr: 70 });              // resolved
  await b2({ hr: 150 });             // a new alert
  await b2({ hr: 70 });              // resolved

  // The other bed is not held up by B2's refused event.
  const other = await waitFor(() => rx.events.slice(from).find((e) => e.data.bed === 'B3'), { timeout: 5000, what: 'B3\'s alert' });
  assert.ok(other.receivedAt - t3 < 1500, `B3's alert arrived ${other.receivedAt - t3} ms after it was raised`);
  // B2's later events arrive within seconds of the refusal, in the order they were raised.
  const later = await waitFor(() => {
    const l = rx.events.slice(from).filter((e) => e.data.bed === 'B2');
    return l.length >= 3 ? l : null;
  }, { timeout: 8000, what: 'B2\'s three later events' });
  assert.ok(later[0].receivedAt - t0 < 7000, `B2's next event arrived ${later[0].receivedAt - t0} ms after the refused one`);
  assert.deepEqual(later.map((e) => e.type), ['alert.resolved', 'alert.raised', 'alert.resolved']);
  const rows = (await bench.pg.query("SELECT event_id FROM alert_events WHERE bed = 'B2' ORDER BY created_at, lsn")).rows;
  assert.equal(rows.length, 4);
  assert.equal(rows[0].event_id, refused, 'the refused event was the first of the bed');
  assert.deepEqual(later.map((e) => e.id), rows.slice(1).map((r) => r.event_id));
  assert.equal(later[0].data.alert_id, JSON.parse(rx.requests.find((r) => r.id === refused).raw).data.alert_id);

  // The refused event: tried exactly webhook_max_rejects (3) times, then dead with its status.
  assert.equal(rx.requests.filter((r) => r.id === refused).length, 3);
  const dead = await waitFor(async () => { const s = await status(refused); return s.status === 'dead' ? s : null; },
    { what: 'the refused event dead' });
  assert.equal(dead.attempts, 3);
  assert.equal(dead.last_http, 400);
  assert.equal(dead.last_error, 'HTTP 400');
  // The operator alarm names it and the status; the counter says why it died.
  const line = await bench.broker.waitLog(/ALARM: webhook evt_\w+ refused by the endpoint/, 3000, mark);
  assert.ok(line.includes(refused) && line.includes('HTTP 400'), line);
  assert.equal(await metric('vitalgate_webhooks_total{outcome="refused"}'), 1);
  const list = bench.admin(['webhook', 'list', '--status', 'dead']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`${refused} .* alert\\.raised .* threshold .* 8W/B2 .* dead `));
  // Once the core accepts it, a redrive delivers it.
  rx.refuse = null;
  assert.equal(bench.admin(['webhook', 'redrive', refused]).code, 0);
  await waitFor(async () => (await status(refused)).status === 'delivered', { what: 'the re-driven event delivered' });
});
