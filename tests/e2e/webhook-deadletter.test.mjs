// Dead letters (issue 6): an event the receiver keeps refusing is given up
// after webhook_dead_after_s with an operator alarm, is visible with
// `vitalgate-admin webhook list --status dead`, does not hold up its bed's
// later events, and is delivered once re-driven.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Bench, connect, publishQos1, sample, waitFor } from '../lib/bench.mjs';

const DEAD_AFTER_S = 10;

let bench;
let dev;
let seq = 1;

async function send(fields) {
  assert.equal(await publishQos1(dev, 'vitals/pump-9', sample({ v: 1, seq: seq++, ts: Date.now(), ...fields })), 0);
}

async function status(eventId) {
  return (await bench.pg.query('SELECT status, attempts, last_http, last_error FROM alert_events WHERE event_id = $1',
    [eventId])).rows[0];
}

before(async () => {
  bench = await Bench.start({
    webhook: true,
    options: {
      alert_hold_s: 0, silence_s: 3600, disconnect_grace_s: 3600,
      webhook_dead_after_s: DEAD_AFTER_S, webhook_backoff_max_s: 2,
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
