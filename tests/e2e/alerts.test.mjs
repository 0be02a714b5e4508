// Clinical alerts end to end (issue 6): threshold, NEWS2 and silent-device
// alerts through real mosquitto + PostgreSQL 15 + the Node.js receiver
// (built on bridge/node), to the webhook, to the ward's MQTT topic and to
// the alert_events outbox; thresholds and SpO2 scale changed live with
// vitalgate-admin; tampered and replayed webhooks rejected by the package.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';

import { Bench, connect, publishQos1, sample, collect, waitFor, freePort } from '../lib/bench.mjs';

const HOLD_S = 2;
const SILENCE_S = 3;
const GRACE_S = 2;

let bench;
let metricsPort;
let station;
let stationMsgs;
const devices = {};

async function device(id, ward, bed) {
  const secret = await bench.addDevice(id, ward, bed);
  await bench.waitIdentity(bench.broker.port, id, secret);
  const c = await connect(bench.broker.port, { id, password: secret });
  let seq = 1;
  const d = {
    id, secret, c,
    async send(fields, { ts = Date.now() } = {}) {
      const s = seq++;
      const rc = await publishQos1(d.c, `vitals/${id}`, sample({ v: 1, seq: s, ts, ...fields }));
      assert.equal(rc, 0, `sample ${s} of ${id} accepted`);
      return s;
    },
    // One message holding a batch of samples (10 ms apart, the last one now); returns their seqs.
    async batch(list) {
      const now = Date.now();
      const samples = list.map((fields, i) => ({ v: 1, seq: seq++, ts: now - (list.length - 1 - i) * 10, ...fields }));
      const rc = await publishQos1(d.c, `vitals/${id}`, sample(samples));
      assert.equal(rc, 0, `batch of ${list.length} from ${id} accepted`);
      return samples.map((x) => x.seq);
    },
  };
  devices[id] = d;
  return d;
}

// Webhook events (first delivery of each webhook-id) about one device or bed.
const hooks = (pred) => bench.receiver.events.filter((e) => pred(e.data));
const ofDevice = (id, kind) => hooks((d) => d.device_id === id && d.kind === kind);

// What stations get of a webhook event's data: the same, without the patient's
// ids (issue 17, docs/patient-context.md: null here, no occupancy feed).
function stationView(data) {
  const { patient_id: pid, encounter_id: eid, ...rest } = data;
  assert.ok(pid === null && eid === null, 'the webhook carries patient_id and encounter_id (null: undescribed bed)');
  return rest;
}

async function hooksFor(pred, n, what, timeout = 8000) {
  return waitFor(() => { const l = hooks(pred); return l.length >= n ? l : null; }, { timeout, what });
}

before(async () => {
  metricsPort = await freePort();
  bench = await Bench.start({
    webhook: true,
    options: { alert_hold_s: HOLD_S, silence_s: SILENCE_S, disconnect_grace_s: GRACE_S, metrics_port: metricsPort },
  });
  const st = await bench.adminOk(['station', 'add', 'nurses-5n', '--wards', '5N,5S']);
  await bench.waitIdentity(bench.broker.port, 'nurses-5n', st);
  station = await connect(bench.broker.port, { id: 'nurses-5n', password: st });
  stationMsgs = collect(station);
  await station.subscribeAsync('wards/5N/alerts', { qos: 1 });
  await station.subscribeAsync('wards/5S/alerts', { qos: 1 });
  // These tests follow raise, update and resolve; high alerts would latch
  // (held open until acknowledged: e2e_alarms), so every alert is medium here.
  const mark = bench.broker.mark();
  await bench.pg.query("INSERT INTO alert_priorities (ward, alert, priority) VALUES ('*', 'threshold', 'medium'), ('*', 'news2:high', 'medium')");
  await bench.broker.waitLog(/alert thresholds and bed settings loaded/, 8000, mark);
});

after(async () => {
  for (const d of Object.values(devices)) await d.c.endAsync().catch(() => {});
  await station?.endAsync().catch(() => {});
  await bench?.stop();
});

test('a threshold crossing raises exactly one alert.raised, wobbling does not flap, recovery resolves once', async () => {
  const d = await device('thr-1', '5N', 'B1');
  await d.send({ hr: 80 });
  const first = await d.send({ hr: 140 });
  await d.send({ hr: 145 });
  await d.send({ hr: 150 });
  // Wobbling around the threshold (131) inside the 5/min margin: still one alert.
  for (const hr of [129, 133, 128, 131, 127]) await d.send({ hr });
  const [raised] = await hooksFor((x) => x.device_id === 'thr-1', 1, 'alert.raised');
  assert.equal(raised.type, 'alert.raised');
  assert.equal(raised.data.kind, 'threshold');
  assert.equal(raised.data.vital, 'hr');
  assert.equal(raised.data.direction, 'high');
  assert.equal(raised.data.threshold, 131);
  assert.equal(raised.data.value, 140);
  assert.equal(raised.data.unit, '/min');
  assert.equal(raised.data.seq, first);
  assert.equal(raised.data.ward, '5N');
  assert.equal(raised.data.bed, 'B1');
  assert.match(raised.data.alert_id, /^al_[0-9a-f]{24}$/);
  // Back to normal: resolves only after it held for alert_hold_s.
  const t0 = Date.now();
  await d.send({ hr: 80 });
  await sleep(500);
  assert.equal(ofDevice('thr-1', 'threshold').length, 1, 'not resolved before the hold time');
  while (Date.now() - t0 < (HOLD_S + 0.5) * 1000) {
    await d.send({ hr: 78 });
    await sleep(250);
  }
  const evs = await hooksFor((x) => x.device_id === 'thr-1', 2, 'alert.resolved');
  await sleep(500);
  const all = ofDevice('thr-1', 'threshold');
  assert.deepEqual(all.map((e) => e.type), ['alert.raised', 'alert.resolved']);
  assert.equal(evs[1].data.alert_id, raised.data.alert_id);
  assert.equal(evs[1].data.severity, 'none');
  assert.ok(evs[1].data.resolved_at);
  // The ward's station got the same two events over MQTT, same data.
  const onWard = await waitFor(() => {
    const l = stationMsgs.filter((m) => m.topic === 'wards/5N/alerts').map((m) => JSON.parse(m.text))
      .filter((e) => e.data.device_id === 'thr-1');
    return l.length >= 2 ? l : null;
  }, { what: 'the station alerts' });
  assert.deepEqual(onWard.map((e) => e.type), ['alert.raised', 'alert.resolved']);
  assert.deepEqual(onWard[0].data, stationView(raised.data));
  assert.ok(!('patient_id' in onWard[0].data));
  // The outbox holds both, delivered, with the bodies that were signed.
  const rows = await waitFor(async () => {
    const r = await bench.pg.query("SELECT * FROM alert_events WHERE device_id = 'thr-1' ORDER BY created_at");
    return r.rows.length === 2 && r.rows.every((x) => x.status === 'delivered') ? r.rows : null;
  }, { what: 'two delivered outbox rows' });
  assert.deepEqual(rows.map((r) => r.event_id), all.map((e) => e.id));
  assert.deepEqual(JSON.parse(rows[0].body).data, raised.data);
  assert.equal(rows[0].attempts, 1);
  assert.equal(rows[0].last_http, 204);
  // And the vitals were all stored (alerts never replace the record).
  const n = (await bench.pg.query("SELECT count(*)::int AS n FROM vitals WHERE device_id = 'thr-1'")).rows[0].n;
  assert.ok(n >= 11, `${n} samples stored`);
});

// NEWS2 (RCP 2017): rr 22 (2) + spo2 95 (1) + air (0) + sbp 105 (1) +
// pulse 95 (1) + alert (0) + 37.0 (0) = 5: medium.
const MEDIUM = { rr: 22, spo2: 95, o2: false, sbp: 105, hr: 95, avpu: 'A', temp: 37.0 };
// rr 24 (2) + spo2 93 (2) + air (0) + sbp 100 (2) + pulse 95 (1) + A (0) + 38.5 (1) = 8: high.
const HIGH = { rr: 24, spo2: 93, o2: false, sbp: 100, hr: 95, avpu: 'A', temp: 38.5 };
const NORMAL = { rr: 16, spo2: 98, o2: false, sbp: 120, hr: 72, avpu: 'A', temp: 36.8 };

test('NEWS2 per bed: medium raises, escalation to high sends alert.updated, recovery resolves after the hold', async () => {
  const d = await device('mon-2', '5N', 'B2');
  await d.send(NORMAL);
  await d.send(MEDIUM);
  const [raised] = await hooksFor((x) => x.bed === 'B2' && x.kind === 'news2', 1, 'NEWS2 raised');
  assert.equal(raised.type, 'alert.raised');
  assert.equal(raised.data.severity, 'medium');
  assert.equal(raised.data.news2.score, 5);
  assert.equal(raised.data.news2.band, 'medium');
  assert.equal(raised.data.news2.scale, 1);
  assert.equal(raised.data.news2.parameters, 7);
  assert.deepEqual(raised.data.news2.points, { rr: 2, spo2: 1, o2: 0, sbp: 1, hr: 1, avpu: 0, temp: 0 });
  await d.send(MEDIUM);
  await d.send(HIGH);
  const evs = await hooksFor((x) => x.bed === 'B2' && x.kind === 'news2', 2, 'NEWS2 updated');
  assert.equal(evs[1].type, 'alert.updated');
  assert.equal(evs[1].data.alert_id, raised.data.alert_id);
  assert.equal(evs[1].data.previous_severity, 'medium');
  assert.equal(evs[1].data.severity, 'high');
  assert.equal(evs[1].data.news2.score, 8);
  // No value crossed a threshold: no threshold alert for this bed.
  assert.equal(ofDevice('mon-2', 'threshold').length, 0);
  // Back to normal for longer than the hold: one resolve.
  const t0 = Date.now();
  while (Date.now() - t0 < (HOLD_S + 0.5) * 1000) {
    await d.send(NORMAL);
    await sleep(250);
  }
  const done = await hooksFor((x) => x.bed === 'B2' && x.kind === 'news2', 3, 'NEWS2 resolved');
  await sleep(300);
  assert.deepEqual(hooks((x) => x.bed === 'B2' && x.kind === 'news2').map((e) => e.type),
    ['alert.raised', 'alert.updated', 'alert.resolved']);
  assert.equal(done[2].data.previous_severity, 'high');
});

test('a parameter older than news2_max_age_s stops counting (the bed scores on what is fresh)', async () => {
  const d = await device('mon-7', '5N', 'B7');
  // rr/spo2/sbp/temp measured 20 min ago (older than the 15 min default),
  // pulse and consciousness now: only those count, no alert.
  const old = Date.now() - 20 * 60 * 1000;
  await d.send({ rr: 24, spo2: 93, sbp: 100, temp: 38.5 }, { ts: old });
  await d.send({ hr: 95, avpu: 'A', o2: false });
  await sleep(800);
  assert.equal(hooks((x) => x.bed === 'B7').length, 0);
  // The same values fresh make the bed high.
  await d.send({ rr: 24, spo2: 93, sbp: 100, temp: 38.5 });
  const [ev] = await hooksFor((x) => x.bed === 'B7' && x.kind === 'news2', 1, 'NEWS2 on fresh values');
  assert.equal(ev.data.severity, 'high');
});

test('a silent device raises an alert within its timeout, and resolves when data is back', async () => {
  const d = await device('sil-1', '5N', 'B3');
  await d.send(NORMAL);
  const t0 = Date.now();
  const [raised] = await hooksFor((x) => x.device_id === 'sil-1' && x.kind === 'silent', 1, 'silent alert',
    (SILENCE_S + 5) * 1000);
  const took = raised.receivedAt - t0;
  assert.ok(took >= SILENCE_S * 1000 - 200, `not before the timeout (${took} ms)`);
  assert.ok(took <= (SILENCE_S + 1.5) * 1000, `within the timeout plus one TICK second (${took} ms)`);
  assert.equal(raised.data.reason, 'no data');
  assert.equal(raised.data.severity, 'high');
  assert.ok(raised.data.last_seen_at);
  await d.send(NORMAL);
  const evs = await hooksFor((x) => x.device_id === 'sil-1' && x.kind === 'silent', 2, 'silent resolved');
  assert.equal(evs[1].type, 'alert.resolved');
  assert.equal(evs[1].data.alert_id, raised.data.alert_id);
});

test('a device that drops its connection raises a silent alert after the grace time; back with data resolves it', async () => {
  const d = await device('sil-2', '5N', 'B4');
  await d.send(NORMAL);
  const t0 = Date.now();
  d.c.stream.destroy(); // no DISCONNECT packet: an unclean drop
  const [raised] = await hooksFor((x) => x.device_id === 'sil-2' && x.kind === 'silent', 1, 'disconnect alert',
    (GRACE_S + 5) * 1000);
  const took = raised.receivedAt - t0;
  assert.equal(raised.data.reason, 'disconnected');
  assert.ok(took <= (GRACE_S + 1.5) * 1000, `within the grace time plus one TICK second (${took} ms)`);
  d.c = await connect(bench.broker.port, { id: 'sil-2', password: d.secret });
  await d.send(NORMAL);
  const evs = await hooksFor((x) => x.device_id === 'sil-2' && x.kind === 'silent', 2, 'resolved');
  assert.equal(evs[1].type, 'alert.resolved');
});

test('a silent device that is unassigned, or revoked, has its silent alert resolved and off the ward list', async () => {
  const active = () => {
    const m = stationMsgs.filter((x) => x.topic === 'wards/5N/alerts/active').at(-1);
    return m ? JSON.parse(m.text) : null;
  };
  await station.subscribeAsync('wards/5N/alerts/active', { qos: 1 });
  for (const [id, bed, cmd, why] of [['sil-u', 'B8', 'unassign', 'unassigned'], ['sil-r', 'B9', 'revoke', 'revoked']]) {
    const d = await device(id, '5N', bed);
    await d.send(NORMAL);
    d.c.stream.destroy();
    const [raised] = await hooksFor((x) => x.device_id === id && x.kind === 'silent', 1, `${id}: silent alert`,
      (GRACE_S + 5) * 1000);
    assert.equal(raised.type, 'alert.raised');
    const r = bench.admin(['device', cmd, id]);
    assert.equal(r.code, 0, r.stderr);
    const evs = await hooksFor((x) => x.device_id === id && x.kind === 'silent', 2, `${id}: silent alert resolved`);
    assert.equal(evs[1].type, 'alert.resolved');
    assert.equal(evs[1].data.alert_id, raised.data.alert_id);
    assert.equal(evs[1].data.reason, why);
    assert.equal(evs[1].data.ward, '5N');
    await waitFor(() => {
      const list = active();
      return list && !JSON.stringify(list).includes(raised.data.alert_id);
    }, { what: `${id}'s alert off wards/5N/alerts/active` });
  }
});

test('per-ward thresholds changed with vitalgate-admin reach the running broker without a restart', async () => {
  const south = await device('thr-s', '5S', 'B1');
  const north = await device('thr-n', '5N', 'B5');
  const mark = bench.broker.mark();
  const r = bench.admin(['threshold', 'set', 'hr', '--ward', '5S', '--high', '100']);
  assert.equal(r.code, 0, r.stderr);
  await bench.broker.waitLog(/alert thresholds and bed settings loaded \(1 ward override/, 3000, mark);
  await south.send({ hr: 110 });
  await north.send({ hr: 110 });
  const [ev] = await hooksFor((x) => x.device_id === 'thr-s', 1, 'the 5S alert');
  assert.equal(ev.data.threshold, 100);
  assert.equal(ev.data.direction, 'high');
  await sleep(500);
  assert.equal(ofDevice('thr-n', 'threshold').length, 0, '5N keeps the default (131)');
  // A low bound for SpO2 on 5N switched lower: 90 no longer alerts there.
  const r2 = bench.admin(['threshold', 'set', 'spo2', '--ward', '5N', '--low', '85']);
  assert.equal(r2.code, 0, r2.stderr);
  await bench.broker.waitLog(/loaded \(2 ward override/, 3000, mark);
  await north.send({ spo2: 90 });
  await sleep(500);
  assert.equal(ofDevice('thr-n', 'threshold').length, 0);
  await north.send({ spo2: 84 });
  const [low] = await hooksFor((x) => x.device_id === 'thr-n', 1, 'the 5N SpO2 alert');
  assert.equal(low.data.vital, 'spo2');
  assert.equal(low.data.direction, 'low');
  assert.equal(low.data.threshold, 85);
  // The changes are audited.
  const audit = (await bench.pg.query("SELECT detail FROM audit_log WHERE event = 'threshold_set' ORDER BY id")).rows;
  assert.match(audit[0].detail, /ward=5S vital=hr low=40 high=100/);
  assert.equal(bench.admin(['threshold', 'reset', 'all', '--ward', '5S']).code, 0);
  assert.equal(bench.admin(['threshold', 'reset', 'all', '--ward', '5N']).code, 0);
});

test('a bed flagged for SpO2 scale 2 scores SpO2 on scale 2', async () => {
  const mark = bench.broker.mark();
  const r = bench.admin(['bed', 'scale', '2', '--ward', '5N', '--bed', 'B6']);
  assert.equal(r.code, 0, r.stderr);
  await bench.broker.waitLog(/1 SpO2 scale 2 bed/, 3000, mark);
  const d = await device('mon-6', '5N', 'B6');
  // SpO2 88 on air scores 0 on scale 2 (3 on scale 1): 2+0+0+1+1+0+1 = 5.
  await d.send({ rr: 22, spo2: 88, o2: false, sbp: 105, hr: 95, avpu: 'A', temp: 38.5 });
  const [ev] = await hooksFor((x) => x.bed === 'B6' && x.kind === 'news2', 1, 'NEWS2 on scale 2');
  assert.equal(ev.data.news2.scale, 2);
  assert.equal(ev.data.news2.points.spo2, 0);
  assert.equal(ev.data.news2.score, 5);
  assert.equal(ev.data.severity, 'medium');
});

async function metric(name) {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : undefined;
}

test('12.1 a 64-sample batch whose heart rate alternates 30/200 still raises its SpO2 80: one net event per alert, consistent with the stations, coalescing counted', async () => {
  const d = await device('flap-1', '5S', 'B12');
  await station.subscribeAsync('wards/5S/alerts/active', { qos: 1 });
  const active = () => {
    const m = stationMsgs.filter((x) => x.topic === 'wards/5S/alerts/active').at(-1);
    return m ? JSON.parse(m.text).alerts.filter((a) => a.data.bed === 'B12') : [];
  };
  const onWard = () => stationMsgs.filter((m) => m.topic === 'wards/5S/alerts').map((m) => JSON.parse(m.text))
    .filter((e) => e.data.bed === 'B12');
  await d.send({ hr: 72, spo2: 97 });
  const before = (await metric('vitalgate_alert_transitions_coalesced_total')) ?? 0;
  const mark = bench.broker.mark();
  // 64 transitions of the heart-rate alert in one message (low, high, low, ...),
  // and a genuine SpO2 of 80 from sample 48 on.
  const seqs = await d.batch(Array.from({ length: 64 }, (_, i) => ({ hr: i % 2 ? 200 : 30, spo2: i >= 48 ? 80 : 97 })));

  // The SpO2 alert is raised: webhook (verified), MQTT, outbox.
  const [spo2] = await hooksFor((x) => x.device_id === 'flap-1' && x.vital === 'spo2', 1, 'the SpO2 alert', 5000);
  assert.equal(spo2.type, 'alert.raised');
  assert.equal(spo2.data.value, 80);
  assert.equal(spo2.data.direction, 'low');
  assert.equal(spo2.data.seq, seqs[48], 'reported with the sample that raised it');
  assert.equal(spo2.data.coalesced, undefined, 'nothing coalesced for SpO2');
  // The heart rate: one net event for the whole message, the final state (high,
  // 200, from the last sample), saying how many transitions it stands for.
  const hr = await hooksFor((x) => x.device_id === 'flap-1' && x.vital === 'hr', 1, 'the heart-rate alert');
  // The bed's NEWS2 (pulse 200: 3, SpO2 80: 3 = 6, medium) is raised as well.
  const [n2] = await hooksFor((x) => x.bed === 'B12' && x.kind === 'news2', 1, 'the NEWS2 alert');
  assert.equal(n2.type, 'alert.raised');
  assert.equal(n2.data.severity, 'medium');
  await sleep(500);
  assert.equal(hooks((x) => x.device_id === 'flap-1' && x.vital === 'hr').length, 1, 'one heart-rate event, not 64');
  assert.equal(hr[0].type, 'alert.raised');
  assert.equal(hr[0].data.direction, 'high');
  assert.equal(hr[0].data.value, 200);
  assert.equal(hr[0].data.threshold, 131);
  assert.equal(hr[0].data.seq, seqs[63]);
  assert.equal(hr[0].data.coalesced, 63);
  const mine = hooks((x) => x.bed === 'B12');
  assert.equal(mine.length, 3);
  // The stations got the same events, and their list of open alerts is exactly that.
  const mqtt = await waitFor(() => (onWard().length >= 3 ? onWard() : null), { what: 'the events on wards/5S/alerts' });
  assert.deepEqual(mqtt.map((e) => e.data), mine.map((e) => stationView(e.data)));
  const open = await waitFor(() => (active().length === 3 ? active() : null), { what: 'three open alerts of B12' });
  assert.deepEqual(open.map((a) => a.data.alert_id).sort(), mine.map((e) => e.data.alert_id).sort());
  assert.deepEqual(open.find((a) => a.data.vital === 'hr').data, stationView(hr[0].data));
  // The outbox holds exactly these events.
  const rows = await waitFor(async () => {
    const r = (await bench.pg.query("SELECT event_id, type, status FROM alert_events WHERE ward = '5S' AND bed = 'B12' ORDER BY lsn")).rows;
    return r.length === 3 && r.every((x) => x.status === 'delivered') ? r : null;
  }, { what: 'three delivered outbox rows' });
  assert.deepEqual(rows.map((r) => r.event_id).sort(), mine.map((e) => e.id).sort());
  // Counted and logged (/metrics is a rendering up to 1 s old: wait for one
  // made after the message).
  await waitFor(async () => await metric('vitalgate_alert_transitions_coalesced_total') - before >= 63,
    { timeout: 3000, what: 'the coalesced count on /metrics' }).catch(() => {});
  assert.equal(await metric('vitalgate_alert_transitions_coalesced_total') - before, 63);
  const line = await bench.broker.waitLog(/63 alert transition\(s\) of one message from flap-1 coalesced/, 3000, mark);
  assert.doesNotMatch(line.slice(line.indexOf('Vitalgate')), /\b(30|200|80)\b/, 'no measured value in the log');

  // The state is what was sent: a later SpO2 80 raises nothing new; a heart
  // rate of 30 updates the same alert from high to low.
  await d.send({ hr: 30, spo2: 80 });
  const upd = await hooksFor((x) => x.device_id === 'flap-1' && x.vital === 'hr', 2, 'the heart-rate update');
  assert.equal(upd[1].type, 'alert.updated');
  assert.equal(upd[1].data.alert_id, hr[0].data.alert_id);
  assert.equal(upd[1].data.direction, 'low');
  await sleep(500);
  assert.equal(hooks((x) => x.device_id === 'flap-1' && x.vital === 'spo2').length, 1, 'no second SpO2 alert');
  // Recovery resolves each alert once, under its id, and empties the list.
  const t0 = Date.now();
  while (Date.now() - t0 < (HOLD_S + 0.5) * 1000) {
    await d.send({ hr: 75, spo2: 97 });
    await sleep(250);
  }
  const resolved = await waitFor(() => {
    const l = bench.receiver.events.filter((e) => e.data.bed === 'B12' && e.type === 'alert.resolved');
    return l.length >= 3 ? l : null;
  }, { what: 'the three resolves' });
  assert.deepEqual(resolved.map((e) => e.data.alert_id).sort(), mine.map((e) => e.data.alert_id).sort());
  await waitFor(() => active().length === 0, { what: 'no open alert of B12' });
});

test('the npm package rejects a tampered body and a replay of a real Vitalgate webhook', async () => {
  const req = bench.receiver.requests.find((r) => r.verified);
  assert.ok(req, 'a verified delivery to replay');
  const count = bench.receiver.events.length;
  const headers = {
    'content-type': 'application/json',
    'webhook-id': req.headers['webhook-id'],
    'webhook-timestamp': req.headers['webhook-timestamp'],
    'webhook-signature': req.headers['webhook-signature'],
  };
  // Replay: the same signed request again is recognised and not processed.
  const replay = await fetch(bench.receiver.url, { method: 'POST', headers, body: req.raw });
  assert.equal(replay.status, 200);
  const last = bench.receiver.requests.at(-1);
  assert.equal(last.verified, false);
  assert.match(last.error, /already processed|duplicate/i);
  // Tampered: one character of the body changed.
  const tampered = req.raw.replace('"severity":"', '"severity":"x');
  const bad = await fetch(bench.receiver.url, { method: 'POST', headers, body: tampered });
  assert.equal(bad.status, 400);
  assert.match(bench.receiver.requests.at(-1).error, /signature/i);
  // Re-timestamped (the signature covers the timestamp).
  const moved = await fetch(bench.receiver.url, {
    method: 'POST', headers: { ...headers, 'webhook-timestamp': String(Number(headers['webhook-timestamp']) + 1) }, body: req.raw,
  });
  assert.equal(moved.status, 400);
  assert.equal(bench.receiver.events.length, count, 'nothing was handed to the application');
});

test('after a broker restart, open alerts continue under their ids and beds keep their NEWS2 inputs', async () => {
  const thr = await device('thr-r', '5N', 'B8');
  const n2 = await device('mon-r', '5N', 'B9');
  await thr.send({ hr: 150 });
  await n2.send(MEDIUM);
  const [raised] = await hooksFor((x) => x.device_id === 'thr-r', 1, 'threshold raised');
  const [n2raised] = await hooksFor((x) => x.bed === 'B9' && x.kind === 'news2', 1, 'NEWS2 raised');
  const mark = bench.broker.mark();
  await bench.broker.restart();
  await bench.broker.waitLog(/alert state of the previous run: \d+ open alert\(s\) continued/, 15000, mark);
  for (const d of [thr, n2]) d.c = await connect(bench.broker.port, { id: d.id, password: d.secret });
  // Still high: no second alert.raised. A pulse alone keeps the bed at
  // medium because its other inputs were restored.
  await thr.send({ hr: 149 });
  await n2.send({ hr: 95 });
  await sleep(800);
  assert.equal(ofDevice('thr-r', 'threshold').length, 1, 'no new alert for the same condition');
  assert.equal(hooks((x) => x.bed === 'B9' && x.kind === 'news2').length, 1);
  // Recovery resolves the alert raised before the restart.
  const t0 = Date.now();
  while (Date.now() - t0 < (HOLD_S + 0.5) * 1000) {
    await thr.send({ hr: 75 });
    await n2.send(NORMAL);
    await sleep(250);
  }
  const evs = await hooksFor((x) => x.device_id === 'thr-r', 2, 'threshold resolved');
  assert.equal(evs[1].type, 'alert.resolved');
  assert.equal(evs[1].data.alert_id, raised.data.alert_id);
  const nevs = await hooksFor((x) => x.bed === 'B9' && x.kind === 'news2', 2, 'NEWS2 resolved');
  assert.equal(nevs[1].type, 'alert.resolved');
  assert.equal(nevs[1].data.alert_id, n2raised.data.alert_id);
  const open = (await bench.pg.query("SELECT count(*)::int AS n FROM open_alerts WHERE bed IN ('B8', 'B9')")).rows[0].n;
  assert.equal(open, 0);
});
