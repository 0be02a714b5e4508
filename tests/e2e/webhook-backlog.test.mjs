// A webhook backlog larger than the in-memory queue (queue_capacity): the
// events the queue cannot take stay pending in the outbox and are delivered
// once the endpoint recovers and the queue drains; nothing is lost, and the
// "queue full" log line is rate limited rather than one per event.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Bench, connect, publishQos1, sample, waitFor, collect, subscribeRc } from '../lib/bench.mjs';

const DEVICES = 30;
let bench;
const devs = [];

before(async () => {
  bench = await Bench.start({
    webhook: true,
    options: { queue_capacity: 16, stats_interval_s: 1, webhook_backoff_max_s: 1, alert_hold_s: 0, silence_s: 3600, disconnect_grace_s: 3600 },
  });
  const secrets = [];
  for (let i = 0; i < DEVICES; i++) secrets.push(await bench.addDevice(`bl-${i}`, 'BL', `B${i}`));
  await bench.waitIdentity(bench.broker.port, `bl-${DEVICES - 1}`, secrets.at(-1));
  for (let i = 0; i < DEVICES; i++) devs.push(await connect(bench.broker.port, { id: `bl-${i}`, password: secrets[i] }));
});

after(async () => {
  for (const d of devs) await d.endAsync();
  await bench?.stop();
});

test('more alert events than the queue holds: all delivered after the endpoint recovers', { timeout: 120000 }, async () => {
  const svc = await bench.adminOk(['service', 'add', 'bl-core']);
  await bench.waitIdentity(bench.broker.port, 'bl-core', svc);
  const core = await connect(bench.broker.port, { id: 'bl-core', password: svc });
  const sys = collect(core);
  assert.equal(await subscribeRc(core, '$SYS/broker/vitalgate/webhooks/#', 0), 0);

  bench.receiver.mode = 'status:503';
  const mark = bench.broker.mark();
  for (let i = 0; i < DEVICES; i++) {
    assert.equal(await publishQos1(devs[i], `vitals/bl-${i}`, sample({ v: 1, seq: 1, ts: Date.now(), hr: 160 })), 0);
  }
  await bench.broker.waitLog(/webhook queue full; evt_\S+ and any more events stay pending/, 10000, mark);
  const fullLines = bench.broker.lines.slice(mark).filter((l) => /webhook queue full/.test(l));
  assert.equal(fullLines.length, 1, 'one line, not one per refused event');
  const lastFull = () => Number(sys.filter((m) => m.topic.endsWith('/webhooks/queue_full')).at(-1)?.text ?? 0);
  await waitFor(() => lastFull() > 0, { what: '$SYS webhooks/queue_full > 0' });

  bench.receiver.mode = 'ok';
  const raised = await waitFor(() => {
    const ids = new Set(bench.receiver.events.filter((e) => e.type === 'alert.raised').map((e) => e.data.device_id));
    return ids.size === DEVICES ? ids : null;
  }, { timeout: 60000, interval: 250, what: `alert.raised delivered for all ${DEVICES} devices` });
  assert.equal(raised.size, DEVICES);
  await waitFor(async () => {
    const r = await bench.pg.query("SELECT count(*)::int AS n FROM alert_events WHERE status <> 'delivered'");
    return r.rows[0].n === 0;
  }, { timeout: 30000, what: 'every event marked delivered in the outbox' });
  const total = (await bench.pg.query('SELECT count(*)::int AS n FROM alert_events')).rows[0].n;
  assert.equal(total, DEVICES, 'one raised event per device, nothing else');
  await core.endAsync();
});
