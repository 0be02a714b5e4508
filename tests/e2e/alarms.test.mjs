// The clinical alarm lifecycle end to end (issue 15): priority and category
// on every event (per-ward mapping from PostgreSQL), acknowledgement over
// MQTT (wards/<ward>/alerts/<id>/ack) from a station of the ward, refused
// (0x87, nothing changes) from another ward's station, a device, with junk
// or for an unknown alert; latching of a high alert that ends unacknowledged;
// escalation levels 1 and 2 at the configured interval, the level that fell
// due while the broker was killed (-9) sent once after the restart; the
// alarm load on /metrics and in `vitalgate-admin alerts report`.
// Real mosquitto + PostgreSQL 15 + the Node.js receiver (bridge/node).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';

import { Bench, connect, publishQos1, sample, collect, waitFor, freePort, httpGet, promValue } from '../lib/bench.mjs';

const HOLD_S = 1;
const ESC_S = 4;            // high alerts of ward 5N escalate every 4 s (at most level 2)

let bench;
let metricsPort;
let station;                // nurses-5n: ward 5N
let stationSecret;
let stationMsgs;
let other;                  // nurses-4e: ward 4E
let core;                   // a service
const devices = {};

async function device(id, ward, bed) {
  const secret = await bench.addDevice(id, ward, bed);
  await bench.waitIdentity(bench.broker.port, id, secret);
  let seq = 1;
  const d = {
    id, secret,
    c: await connect(bench.broker.port, { id, password: secret }),
    async send(fields) {
      const rc = await publishQos1(d.c, `vitals/${id}`, sample({ v: 1, seq: seq++, ts: Date.now(), ...fields }));
      assert.equal(rc, 0, `sample of ${id} accepted`);
    },
    async reconnect() {
      await d.c.endAsync(true).catch(() => {});
      d.c = await connect(bench.broker.port, { id, password: secret });
    },
  };
  devices[id] = d;
  return d;
}

const events = (pred) => bench.receiver.events.filter((e) => pred(e));
const hookOf = (alertId, type, extra = () => true) => events((e) => e.data.alert_id === alertId && e.type === type && extra(e));
async function waitHook(alertId, type, what, { extra, timeout = 8000 } = {}) {
  return waitFor(() => hookOf(alertId, type, extra)[0], { timeout, what });
}
const ack = (client, ward, alertId, body) => publishQos1(client, `wards/${ward}/alerts/${alertId}/ack`,
  typeof body === 'string' ? body : JSON.stringify(body));

async function login(id, args) {
  const secret = await bench.adminOk(args);
  await bench.waitIdentity(bench.broker.port, id, secret);
  return { id, secret, c: await connect(bench.broker.port, { id, password: secret }) };
}

async function configLoaded(from) {
  await bench.broker.waitLog(/alert thresholds and bed settings loaded/, 8000, from);
}

before(async () => {
  metricsPort = await freePort();
  bench = await Bench.start({ webhook: true, options: { alert_hold_s: HOLD_S, metrics_port: metricsPort } });
  const st = await login('nurses-5n', ['station', 'add', 'nurses-5n', '--wards', '5N']);
  station = st.c;
  stationSecret = st.secret;
  stationMsgs = collect(station);
  await station.subscribeAsync('wards/5N/alerts', { qos: 1 });
  await station.subscribeAsync('wards/5N/alerts/active', { qos: 1 });
  other = (await login('nurses-4e', ['station', 'add', 'nurses-4e', '--wards', '4E'])).c;
  core = (await login('core', ['service', 'add', 'core'])).c;
  // Ward 5N: SpO2 alerts are medium; high alerts escalate every ESC_S, two levels at most.
  const mark = bench.broker.mark();
  await bench.adminOk(['alerts', 'priority', 'set', 'threshold:spo2', 'medium', '--ward', '5N']);
  await bench.adminOk(['alerts', 'escalation', 'set', 'high', '--after', String(ESC_S), '--max-level', '2', '--ward', '5N']);
  await configLoaded(mark);
});

after(async () => {
  for (const d of Object.values(devices)) await d.c.endAsync().catch(() => {});
  for (const c of [station, other, core]) await c?.endAsync().catch(() => {});
  await bench?.stop();
});

test('every event carries priority and category; the ward mapping applies', async () => {
  const d = await device('alm-1', '5N', 'B1');
  await d.send({ hr: 150, spo2: 85 });
  const hr = await waitFor(() => events((e) => e.type === 'alert.raised' && e.data.device_id === 'alm-1'
    && e.data.vital === 'hr')[0], { what: 'hr alert' });
  const spo2 = await waitFor(() => events((e) => e.type === 'alert.raised' && e.data.device_id === 'alm-1'
    && e.data.vital === 'spo2')[0], { what: 'spo2 alert' });
  assert.equal(hr.data.priority, 'high');
  assert.equal(hr.data.category, 'physiological');
  assert.ok(Date.parse(hr.data.raised_at) > 0);
  assert.equal(spo2.data.priority, 'medium', 'threshold:spo2 is medium on 5N');
  // Another ward keeps the defaults.
  const e = await device('alm-4e', '4E', 'B1');
  await e.send({ spo2: 85 });
  const s4 = await waitFor(() => events((x) => x.type === 'alert.raised' && x.data.device_id === 'alm-4e')[0],
    { what: '4E spo2 alert' });
  assert.equal(s4.data.priority, 'high');
});

test('ack: the ward\'s station is accepted once (webhook, MQTT, audit); refusals get 0x87 and change nothing', async () => {
  const d = await device('alm-2', '5N', 'B2');
  await d.send({ hr: 150 });
  const raised = await waitFor(() => events((e) => e.type === 'alert.raised' && e.data.device_id === 'alm-2')[0],
    { what: 'raised' });
  const id = raised.data.alert_id;
  // Refusals first: nothing may change.
  assert.equal(await ack(other, '5N', id, { by: 'nurse.x' }), 0x87, 'a station of another ward');
  assert.equal(await ack(other, '4E', id, { by: 'nurse.x' }), 0x87, 'its own ward, not the alert\'s');
  assert.equal(await ack(d.c, '5N', id, { by: 'nurse.x' }), 0x87, 'a device');
  await d.reconnect(); // a device's denied publish may close it
  assert.equal(await ack(station, '5N', id, '{"by": "nurse x"}'), 0x87, 'a clinician id with a space');
  assert.equal(await ack(station, '5N', id, 'not json'), 0x87, 'junk');
  assert.equal(await ack(station, '5N', id, { by: 'nurse.x', extra: 1 }), 0x87, 'another key');
  assert.equal(await ack(station, '5N', 'al_000000000000000000000000', { by: 'nurse.x' }), 0x87, 'unknown alert');
  await sleep(300);
  assert.equal(hookOf(id, 'alert.acknowledged').length, 0, 'no ack event after refusals');
  // The station of the ward.
  const t0 = Date.now();
  assert.equal(await ack(station, '5N', id, { by: 'nurse.jo@5N' }), 0);
  const a = await waitHook(id, 'alert.acknowledged', 'alert.acknowledged webhook');
  assert.equal(a.data.acknowledged_by, 'nurse.jo@5N');
  assert.equal(a.data.acknowledged_via, 'nurses-5n');
  assert.equal(a.data.priority, 'high');
  assert.ok(Math.abs(Date.parse(a.data.acknowledged_at) - t0) < 2000);
  await waitFor(() => stationMsgs.find((m) => m.topic === 'wards/5N/alerts'
    && JSON.parse(m.text).type === 'alert.acknowledged' && JSON.parse(m.text).data.alert_id === id), { what: 'ack on MQTT' });
  // Repeated: accepted, nothing new.
  assert.equal(await ack(core, '5N', id, { by: 'someone.else' }), 0);
  await sleep(500);
  assert.equal(bench.receiver.requests.filter((r) => r.raw.includes('"alert.acknowledged"') && r.raw.includes(id)
    && r.status === 204).length, 1, 'one acknowledged event');
  const rows = (await bench.pg.query("SELECT event, identity, detail FROM audit_log WHERE event LIKE 'alert_ack%' ORDER BY id")).rows;
  assert.ok(rows.some((r) => r.event === 'alert_ack' && r.identity === 'nurses-5n' && r.detail.includes(id) && r.detail.includes('nurse.jo@5N')));
  assert.ok(rows.some((r) => r.event === 'alert_ack' && r.identity === 'core' && r.detail.includes('repeated')));
  assert.ok(rows.filter((r) => r.event === 'alert_ack_refused').length >= 4, 'refusals audited');
  const stored = (await bench.pg.query("SELECT count(*)::int AS n FROM alert_events WHERE alert_id = $1 AND type = 'alert.acknowledged'", [id])).rows[0].n;
  assert.equal(stored, 1);
  // An ack stops escalation: nothing escalates past the first interval.
  await sleep(ESC_S * 1000 + 1200);
  assert.equal(hookOf(id, 'alert.escalated').filter((e) => Date.parse(e.timestamp) > t0 + 100).length, 0, 'no escalation after the ack');
  // The condition ends: alert.resolved (not latched: it was acknowledged).
  await d.send({ hr: 80 });
  await sleep(HOLD_S * 1000 + 200);
  await d.send({ hr: 80 });
  const res = await waitHook(id, 'alert.resolved', 'resolved');
  assert.notEqual(res.data.latched, true);
  assert.equal(res.data.acknowledged_by, 'nurse.jo@5N');
});

test('latching: a high alert that ends unacknowledged stays open until acknowledged; a medium one does not latch', async () => {
  const d = await device('alm-3', '5N', 'B3');
  await d.send({ hr: 150, spo2: 85 });
  const hr = await waitFor(() => events((e) => e.type === 'alert.raised' && e.data.device_id === 'alm-3' && e.data.vital === 'hr')[0], { what: 'hr' });
  const sp = await waitFor(() => events((e) => e.type === 'alert.raised' && e.data.device_id === 'alm-3' && e.data.vital === 'spo2')[0], { what: 'spo2' });
  const t1 = Date.now();
  await d.send({ hr: 80, spo2: 97 });
  // While it waits out alert_hold_s, stations read when its condition cleared.
  const during = await waitFor(() => {
    const l = stationMsgs.filter((m) => m.topic === 'wards/5N/alerts/active').at(-1);
    return l && JSON.parse(l.text).alerts.find((x) => x.data.alert_id === hr.data.alert_id && x.data.condition_cleared_at);
  }, { what: 'condition_cleared_at on the open alert during the hold', timeout: HOLD_S * 1000 });
  assert.ok(Math.abs(Date.parse(during.data.condition_cleared_at) - t1) < 1000);
  await sleep(HOLD_S * 1000 + 200);
  await d.send({ hr: 80, spo2: 97 });
  const res = await waitHook(hr.data.alert_id, 'alert.resolved', 'hr resolved');
  assert.equal(res.data.latched, true);
  assert.ok(Date.parse(res.data.condition_cleared_at) > 0);
  const spres = await waitHook(sp.data.alert_id, 'alert.resolved', 'spo2 resolved');
  assert.notEqual(spres.data.latched, true, 'medium does not latch');
  const active = async () => {
    await sleep(400);
    const l = stationMsgs.filter((m) => m.topic === 'wards/5N/alerts/active').at(-1);
    return JSON.parse(l.text).alerts.map((x) => x.data.alert_id);
  };
  let ids = await active();
  assert.ok(ids.includes(hr.data.alert_id), 'the latched alert is listed');
  assert.ok(!ids.includes(sp.data.alert_id), 'the medium one is gone');
  const open = (await bench.pg.query("SELECT cond FROM alert_open WHERE alert_id = $1", [hr.data.alert_id])).rows;
  assert.deepEqual(open.map((r) => r.cond), [`latched/${hr.data.alert_id}`]);
  // The condition comes back meanwhile: a new alert, the latched one stays.
  assert.equal(await ack(station, '5N', hr.data.alert_id, { by: 'nurse.jo' }), 0);
  const a = await waitHook(hr.data.alert_id, 'alert.acknowledged', 'ack of the latched alert');
  assert.equal(a.data.latched, true);
  ids = await waitFor(async () => { const l = await active(); return l.includes(hr.data.alert_id) ? null : l; }, { what: 'latched alert leaves the list' });
  assert.ok(!ids.includes(hr.data.alert_id));
  assert.equal((await bench.pg.query("SELECT count(*)::int AS n FROM alert_open WHERE alert_id = $1", [hr.data.alert_id])).rows[0].n, 0);
  // A second ack: the alert is no longer open.
  assert.equal(await ack(station, '5N', hr.data.alert_id, { by: 'nurse.jo' }), 0x87);
});

test('alarm load: /metrics and `alerts report` agree with the events the test generated', async () => {
  const ward = events((e) => e.data.ward === '5N');
  const ids = (type) => ward.filter((e) => e.type === type);
  const acks = ids('alert.acknowledged');
  const ackAt = new Map(acks.map((e) => [e.data.alert_id, Date.parse(e.timestamp)]));
  const endedFirst = new Set(ids('alert.resolved').filter((e) => !(ackAt.get(e.data.alert_id) <= Date.parse(e.timestamp)))
    .map((e) => e.data.alert_id));
  const want = {
    raised: ids('alert.raised').length, acknowledged: acks.length, escalated: ids('alert.escalated').length,
    ended_before_ack: endedFirst.size,
  };
  assert.ok(want.raised >= 6 && want.acknowledged === 2 && want.ended_before_ack >= 2, JSON.stringify(want));
  // The report, from alert_events.
  const rep = JSON.parse(await bench.adminOk(['alerts', 'report', '--ward', '5N', '--since', '1h', '--json']));
  for (const k of Object.keys(want)) assert.equal(rep[k], want[k], `report ${k}`);
  const secs = acks.map((e) => (Date.parse(e.data.acknowledged_at) - Date.parse(e.data.raised_at)) / 1000).sort((a, b) => a - b);
  const pct = (p) => { const x = p * (secs.length - 1), i = Math.floor(x); return secs[i] + (secs[Math.min(i + 1, secs.length - 1)] - secs[i]) * (x - i); };
  assert.ok(Math.abs(rep.time_to_ack_s.p50 - pct(0.5)) <= 0.15, `p50 ${rep.time_to_ack_s.p50} vs ${pct(0.5)}`);
  assert.ok(Math.abs(rep.time_to_ack_s.p90 - pct(0.9)) <= 0.15, `p90 ${rep.time_to_ack_s.p90} vs ${pct(0.9)}`);
  const table = await bench.adminOk(['alerts', 'report', '--ward', '5N', '--since', '1h']);
  assert.match(table, new RegExp(`raised\\s+${want.raised}\\n`));
  assert.match(table, /time to ack, p90\s+\d+\.\d s/);
  // /metrics: counters in memory (this run).
  await waitFor(async () => {
    const m = await httpGet(metricsPort, '/metrics');
    const got = {
      raised: promValue(m.body, 'vitalgate_alarms_raised_total{ward="5N"}'),
      acknowledged: promValue(m.body, 'vitalgate_alarms_acknowledged_total{ward="5N"}'),
      escalated: promValue(m.body, 'vitalgate_alarms_escalated_total{ward="5N"}'),
      ended_before_ack: promValue(m.body, 'vitalgate_alarms_ended_unacknowledged_total{ward="5N"}'),
      acks: promValue(m.body, 'vitalgate_alarm_time_to_ack_seconds_count{ward="5N"}'),
    };
    return Object.keys(want).every((k) => got[k] === want[k]) && got.acks === want.acknowledged ? got : null;
  }, { what: '/metrics alarm load matching the events', timeout: 5000 });
});

test('escalation: level 1 and 2 at the configured interval; kill -9 between them, level 2 arrives once', async () => {
  const d = await device('alm-4', '5N', 'B4');
  await d.send({ hr: 150 });
  const raised = await waitFor(() => events((e) => e.type === 'alert.raised' && e.data.device_id === 'alm-4')[0], { what: 'raised' });
  const id = raised.data.alert_id;
  const t0 = Date.parse(raised.data.raised_at);
  const l1 = await waitHook(id, 'alert.escalated', 'level 1', { timeout: ESC_S * 1000 + 4000 });
  assert.equal(l1.data.level, 1);
  const at1 = Date.parse(l1.timestamp) - t0;
  assert.ok(at1 >= ESC_S * 1000 && at1 < ESC_S * 1000 + 2500, `level 1 after ${at1} ms`);
  await bench.broker.kill9();
  await sleep(Math.max(0, t0 + 2 * ESC_S * 1000 + 300 - Date.now()));
  await bench.broker.boot();
  const l2 = await waitHook(id, 'alert.escalated', 'level 2 after the restart', { extra: (e) => e.data.level === 2, timeout: 15000 });
  assert.ok(Date.parse(l2.timestamp) - t0 >= 2 * ESC_S * 1000);
  await sleep(ESC_S * 1000 + 1500);
  const l2s = bench.receiver.requests.filter((r) => r.status === 204 && r.raw.includes('"alert.escalated"') && r.raw.includes(id));
  assert.equal(l2s.length, 2, 'level 1 and level 2, each once; max level 2: no level 3');
  const stored = (await bench.pg.query("SELECT body::json->'data'->>'level' AS level FROM alert_events WHERE alert_id = $1 AND type = 'alert.escalated' ORDER BY created_at", [id])).rows;
  assert.deepEqual(stored.map((r) => r.level), ['1', '2']);
});

test('an acked ack survives kill -9 of the broker during a PostgreSQL and webhook receiver outage (journal, outbox, one webhook-id each)', async () => {
  // The broker was killed in the test before: a new session for the station.
  await station.endAsync(true).catch(() => {});
  station = await connect(bench.broker.port, { id: 'nurses-5n', password: stationSecret });
  const d = await device('alm-5', '5N', 'B5');
  await d.send({ hr: 150 });
  const raised = await waitFor(() => events((e) => e.type === 'alert.raised' && e.data.device_id === 'alm-5')[0], { what: 'raised' });
  const id = raised.data.alert_id;
  await bench.receiver.pause();
  await bench.pg.stop();
  try {
    assert.equal(await ack(station, '5N', id, { by: 'nurse.out' }), 0, 'accepted from the journal while PostgreSQL is down');
    // The PUBACK came: the ack survives a kill -9 of the broker (it is in the journal).
    await bench.broker.kill9();
  } finally {
    await bench.pg.boot();
    await bench.broker.boot();
    await bench.receiver.resume();
  }
  const a = await waitHook(id, 'alert.acknowledged', 'the ack after the outage', { timeout: 30000 });
  assert.equal(a.data.acknowledged_by, 'nurse.out');
  await waitFor(async () => (await bench.pg.query("SELECT status FROM alert_events WHERE alert_id = $1 AND type = 'alert.acknowledged'", [id]))
    .rows.every((r) => r.status === 'delivered') || null, { what: 'the ack delivered in the outbox', timeout: 15000 });
  const ok = bench.receiver.requests.filter((r) => r.status === 204 && r.raw.includes(id));
  assert.equal(new Set(ok.map((r) => r.id)).size, ok.length, 'each event accepted once (one webhook-id each)');
  assert.equal(ok.filter((r) => r.raw.includes('"alert.acknowledged"')).length, 1);
});
