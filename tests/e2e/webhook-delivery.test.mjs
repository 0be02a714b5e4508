// Webhook delivery through failures (issue 6): the Node.js receiver refuses
// connections, then answers 500, then never answers, for about a minute
// while alerts keep being raised; a broker crash with events pending;
// Retry-After; 410 and `vitalgate-admin webhook enable`. Every alert event
// is delivered once it is possible, each webhook-id processed once, and one
// bed's events arrive in order.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';

import { Bench, connect, publishQos1, sample, waitFor } from '../lib/bench.mjs';

const PHASE_MS = Number(process.env.VG_OUTAGE_PHASE_MS ?? 20000);

let bench;
const devs = [];

async function addDevice(id, ward, bed) {
  const secret = await bench.addDevice(id, ward, bed);
  await bench.waitIdentity(bench.broker.port, id, secret);
  const d = { id, secret, seq: 1, c: null, high: false };
  d.c = await connect(bench.broker.port, { id, password: secret });
  devs.push(d);
  return d;
}

async function send(d, fields) {
  const rc = await publishQos1(d.c, `vitals/${d.id}`, sample({ v: 1, seq: d.seq++, ts: Date.now(), ...fields }));
  assert.equal(rc, 0);
}

// Flips a device between a high and a normal heart rate: one alert event each time.
async function flip(d) {
  d.high = !d.high;
  await send(d, { hr: d.high ? 150 : 70 });
}

async function outbox() {
  return (await bench.pg.query('SELECT * FROM alert_events ORDER BY created_at, lsn')).rows;
}

async function allDelivered(n, timeout = 30000) {
  return waitFor(async () => {
    const rows = await outbox();
    return rows.length >= n && rows.every((r) => r.status === 'delivered') ? rows : null;
  }, { timeout, interval: 250, what: `${n} delivered events in alert_events` });
}

function checkOnceAndInOrder(rows) {
  const ids = bench.receiver.events.map((e) => e.id);
  assert.equal(new Set(ids).size, ids.length, 'each webhook-id handed to the application once');
  for (const r of rows) assert.ok(ids.includes(r.event_id), `${r.event_id} was received`);
  // Per bed, the application saw the events in the order they were raised.
  const byBed = new Map();
  for (const e of bench.receiver.events) {
    const k = `${e.data.ward}/${e.data.bed}`;
    if (!byBed.has(k)) byBed.set(k, []);
    byBed.get(k).push(e.id);
  }
  for (const [bed, got] of byBed) {
    const want = rows.filter((r) => `${r.ward}/${r.bed}` === bed).map((r) => r.event_id);
    assert.deepEqual(got, want, `events of ${bed} in order`);
  }
}

before(async () => {
  bench = await Bench.start({
    webhook: true,
    options: {
      alert_hold_s: 0, silence_s: 3600, disconnect_grace_s: 3600,
      webhook_timeout_ms: 2000, webhook_backoff_max_s: 4,
    },
  });
  // These tests count the alert events of raises and resolves over minutes:
  // alerts are medium (no latching) and never escalate here (e2e_alarms).
  const mark = bench.broker.mark();
  await bench.pg.query("BEGIN; INSERT INTO alert_priorities (ward, alert, priority) VALUES ('*', 'threshold', 'medium'), "
    + "('*', 'news2:high', 'medium'); INSERT INTO alert_escalation (ward, priority, after_s) VALUES ('*', 'medium', NULL); COMMIT");
  await bench.broker.waitLog(/alert thresholds and bed settings loaded/, 8000, mark);
  for (let i = 0; i < 4; i++) await addDevice(`pump-${i}`, '7E', `B${i}`);
});

after(async () => {
  for (const d of devs) await d.c?.endAsync().catch(() => {});
  await bench?.stop();
});

test('receiver down for a minute (refusing, then 500, then hanging): every event delivered after, each once, in order per bed', async () => {
  const rx = bench.receiver;
  const phases = [
    ['refusing connections', async () => rx.pause()],
    ['answering 500', async () => { await rx.resume(); rx.mode = 'status:500'; }],
    ['hanging (timeouts)', async () => { rx.mode = 'hang'; }],
  ];
  let raised = 0;
  for (const [name, enter] of phases) {
    await enter();
    const t0 = Date.now();
    // Alerts keep coming during the outage: two transitions per device per phase.
    for (let k = 0; k < 2; k++) {
      for (const d of devs) { await flip(d); raised++; }
      await sleep(PHASE_MS / 3);
    }
    while (Date.now() - t0 < PHASE_MS) await sleep(200);
    assert.equal(rx.events.length, 0, `nothing delivered while the receiver is ${name}`);
  }
  const rows = await outbox();
  assert.equal(rows.length, raised, 'every event is in the outbox');
  assert.ok(rows.every((r) => r.status === 'pending'));
  const attempts = rx.requests.length;
  assert.ok(attempts > 0, 'attempts reached the receiver while it answered 500 or hung');
  rx.mode = 'ok';
  const done = await allDelivered(raised);
  checkOnceAndInOrder(done);
  // Retries kept the webhook-id and signed each attempt afresh.
  const first = done[0].event_id;
  const tries = rx.requests.filter((r) => r.id === first);
  assert.ok(tries.length >= 2, `the first event was attempted ${tries.length} times`);
  assert.ok(new Set(tries.map((r) => r.headers['webhook-timestamp'])).size >= 2, 'each attempt has its own timestamp');
  assert.ok(done[0].attempts >= 2);
  // The backoff grew (1 s, 2 s, 4 s with +-20 % jitter) and stayed under backoff_max.
  const at = tries.map((r) => r.at);
  const gaps = at.slice(1).map((t, i) => t - at[i]);
  assert.ok(Math.max(...gaps) <= 4 * 1.2 * 1000 + 2500, `gaps ${gaps}`);
});

test('a broker killed with events pending delivers them from the outbox when it is back', async () => {
  const rx = bench.receiver;
  rx.mode = 'status:503';
  const before = (await outbox()).length;
  for (const d of devs) await flip(d);
  await waitFor(async () => (await outbox()).length === before + devs.length, { what: 'the new events in the outbox' });
  await bench.broker.kill9();
  rx.mode = 'ok';
  await bench.broker.boot();
  for (const d of devs) d.c = await connect(bench.broker.port, { id: d.id, password: d.secret });
  await bench.broker.waitLog(/pending alert event\(s\) from the outbox queued for delivery/, 15000);
  const done = await allDelivered(before + devs.length);
  checkOnceAndInOrder(done);
});

test('Retry-After from the receiver is honoured', async () => {
  const rx = bench.receiver;
  rx.mode = 'status:503';
  rx.retryAfter = 3;
  const from = rx.requests.length;
  const d = devs[0];
  await flip(d);
  const two = await waitFor(() => { const l = rx.requests.slice(from); return l.length >= 2 ? l : null; },
    { timeout: 10000, what: 'two attempts' });
  const gap = two[1].at - two[0].at;
  assert.ok(gap >= 2900, `second attempt ${gap} ms after the first (Retry-After: 3)`);
  rx.mode = 'ok';
  rx.retryAfter = undefined;
  await allDelivered((await outbox()).length);
});

test('410 disables the endpoint with an operator alarm until vitalgate-admin webhook enable', async () => {
  const rx = bench.receiver;
  const mark = bench.broker.mark();
  rx.mode = 'status:410';
  const d = devs[1];
  await flip(d);
  await bench.broker.waitLog(/ALARM: the webhook endpoint answered 410 Gone/, 5000, mark);
  const n410 = rx.requests.length;
  // Later events are not attempted while disabled; they wait in the outbox.
  await flip(devs[2]);
  await sleep(3000);
  assert.equal(rx.requests.length, n410, 'no attempt while the endpoint is disabled');
  const pending = (await outbox()).filter((r) => r.status === 'pending');
  assert.equal(pending.length, 2);
  rx.mode = 'ok';
  const r = bench.admin(['webhook', 'enable']);
  assert.equal(r.code, 0, r.stderr);
  await bench.broker.waitLog(/webhook delivery enabled again/, 5000, mark);
  const done = await allDelivered((await outbox()).length);
  checkOnceAndInOrder(done);
  const audit = (await bench.pg.query("SELECT count(*)::int AS n FROM audit_log WHERE event = 'webhook_enable'")).rows[0].n;
  assert.equal(audit, 1);
});
