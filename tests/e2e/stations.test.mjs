// Nurses' stations (issue 7, frames: issue 16): the whole ward in one
// retained message on wards/<ward>/vitals (every bed with its latest
// sample, NEWS2 and open alerts), republished at most once per
// station_frame_ms and only when the ward changed; a bed leaves the frame
// when the device whose sample it shows leaves the bed; alerts are never
// held back for a frame; the ward's open alerts stay retained on
// wards/<ward>/alerts/active; v1's per-bed topics only with bed_topics.
// Through real mosquitto + PostgreSQL.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import mqtt from 'mqtt';

import { Bench, Broker, SOURCE_DIR, connect, freePort, publishQos1, sample, subscribeRc, waitFor } from '../lib/bench.mjs';

const FRAME_MS = 400;
let bench;
let stationSecret;
const devs = {};

async function device(id, ward, bed, port = bench.broker.port) {
  const secret = devs[id]?.secret ?? await bench.addDevice(id, ward, bed);
  await bench.waitIdentity(port, id, secret);
  const c = await connect(port, { id, password: secret });
  devs[id] = { id, c, seq: devs[id]?.seq ?? 1, secret };
  return devs[id];
}

async function send(d, fields, ts = Date.now()) {
  const seq = d.seq++;
  assert.equal(await publishQos1(d.c, `vitals/${d.id}`, sample({ v: 1, seq, ts, ...fields })), 0);
  return seq;
}

// What a station that connects now receives as retained on `filter`.
async function retained(filter, settle = 400, port = bench.broker.port) {
  const st = await connect(port, { id: 'desk-5n', password: stationSecret });
  const got = new Map();
  st.on('message', (topic, payload, packet) => {
    if (packet.retain) got.set(topic, payload.length ? JSON.parse(payload.toString()) : null);
  });
  await st.subscribeAsync(filter, { qos: 1 });
  await sleep(settle);
  await st.endAsync();
  return got;
}

// The ward's frame a station gets at once when it subscribes.
async function frame(ward = '5N', port = bench.broker.port) {
  return (await retained(`wards/${ward}/vitals`, 300, port)).get(`wards/${ward}/vitals`);
}

// The retained frame once it satisfies ok.
async function frameWhere(ok, what, ward = '5N') {
  return waitFor(async () => {
    const f = await frame(ward);
    return f && ok(f) ? f : null;
  }, { timeout: 5000, interval: 100, what });
}

// A station subscribed to the ward's frames, keeping each with its arrival.
async function watchFrames(ward = '5N') {
  const st = await connect(bench.broker.port, { id: 'desk-5n', password: stationSecret });
  const frames = [];
  st.on('message', (topic, payload, packet) => {
    if (topic === `wards/${ward}/vitals` && !packet.retain) frames.push({ at: Date.now(), f: JSON.parse(payload.toString()) });
  });
  await st.subscribeAsync(`wards/${ward}/vitals`, { qos: 0 });
  return { st, frames };
}

before(async () => {
  bench = await Bench.start({ webhook: true,
    options: { alert_hold_s: 0, silence_s: 3600, disconnect_grace_s: 3600, station_frame_ms: FRAME_MS } });
  stationSecret = await bench.adminOk(['station', 'add', 'desk-5n', '--wards', '5N']);
  await bench.waitIdentity(bench.broker.port, 'desk-5n', stationSecret);
  // These tests follow raise, update and resolve; high alerts would latch
  // (held open until acknowledged: e2e_alarms), so every alert is medium here.
  const mark = bench.broker.mark();
  await bench.pg.query("INSERT INTO alert_priorities (ward, alert, priority) VALUES ('*', 'threshold', 'medium'), ('*', 'news2:high', 'medium')");
  await bench.broker.waitLog(/alert thresholds and bed settings loaded/, 8000, mark);
});

after(async () => {
  for (const d of Object.values(devs)) await d.c.endAsync().catch(() => {});
  await bench?.stop();
});

test('a station that connects gets its whole ward in one retained frame: every bed with values and NEWS2', async () => {
  const beds = [];
  for (let i = 1; i <= 6; i++) beds.push(await device(`m5n-${i}`, '5N', `B${i}`));
  const other = await device('m6s-1', '6S', 'B1');
  const seqs = {};
  for (const d of beds) seqs[d.id] = await send(d, { hr: 70 + Number(d.id.slice(-1)), spo2: 97, rr: 16, sbp: 120, temp: 36.8, o2: false, avpu: 'A' });
  await send(other, { hr: 90 });
  const f = await frameWhere((x) => Object.keys(x.beds).length === 6, 'a frame with six beds');
  // Nothing else under the ward is retained per bed (bed_topics is off).
  const all = await retained('wards/5N/#');
  assert.deepEqual([...all.keys()].filter((t) => t !== 'wards/5N/alerts/active'), ['wards/5N/vitals']);
  assert.deepEqual(Object.keys(f).sort(), ['beds', 'frame_seq', 'updated_at', 'ward']); // bridge/node's WardFrame
  assert.equal(f.ward, '5N');
  assert.ok(Number.isInteger(f.frame_seq) && f.frame_seq >= 1);
  assert.ok(Math.abs(Date.parse(f.updated_at) - Date.now()) < 10000);
  assert.deepEqual(Object.keys(f.beds).sort(), ['B1', 'B2', 'B3', 'B4', 'B5', 'B6']);
  const b3 = f.beds.B3;
  assert.deepEqual(Object.keys(b3).sort(), ['alerts', 'news2', 'sample']);
  assert.equal(b3.sample.device_id, 'm5n-3');
  assert.equal(b3.sample.ward, '5N');
  assert.equal(b3.sample.bed, 'B3');
  assert.equal(b3.sample.seq, seqs['m5n-3']);
  assert.equal(b3.sample.hr, 73);
  assert.equal(b3.sample.spo2, 97);
  assert.equal(b3.sample.temp, 36.8);
  assert.equal(b3.sample.o2, false);
  assert.equal(b3.sample.avpu, 'A');
  assert.ok(Date.parse(b3.sample.measured_at) > 0 && Date.parse(b3.sample.received_at) >= Date.parse(b3.sample.measured_at) - 1000);
  assert.equal(b3.news2.score, 0);
  assert.equal(b3.news2.band, 'none'); // score 0 (docs/news2.md)
  assert.equal(b3.news2.parameters, 7);
  assert.deepEqual(b3.alerts, []);
  // The other ward's bed is in its own frame, not in this one.
  assert.ok(!Object.values(f.beds).some((b) => b.sample?.device_id === 'm6s-1'));
});

test('a station reads its own wards\' frames and nothing wider', async () => {
  const st = await connect(bench.broker.port, { id: 'desk-5n', password: stationSecret });
  try {
    assert.equal(await subscribeRc(st, 'wards/5N/vitals'), 1);
    for (const filter of ['wards/6S/vitals', 'wards/+/vitals', 'wards/#', '+/5N/vitals', '#']) {
      assert.ok(await subscribeRc(st, filter) >= 0x80, `${filter} refused`);
    }
    // Nobody publishes a frame but the broker.
    assert.notEqual(await publishQos1(st, 'wards/5N/vitals', '{"ward":"5N","beds":{}}', { retain: true }), 0);
  } finally {
    await st.endAsync();
  }
  const d = devs['m5n-1'];
  assert.notEqual(await publishQos1(d.c, 'wards/5N/vitals', '{}'), 0, 'nor a device');
  assert.equal((await frame()).beds.B1.sample.device_id, 'm5n-1');
});

test('frames: at most one per station_frame_ms, only when the ward changed, each with the newest samples', async () => {
  const { st, frames } = await watchFrames();
  const a = devs['m5n-1'];
  const b = devs['m5n-2'];
  const t0 = Date.now();
  let last;
  // 2 s of two devices sending every 50 ms: 80 samples, a few frames.
  while (Date.now() - t0 < 2000) {
    last = { a: await send(a, { hr: 60 + (a.seq % 30) }), b: await send(b, { hr: 61 }) };
    await sleep(50);
  }
  await sleep(FRAME_MS + 300);
  const n = frames.length;
  // Nothing changes now: no frame is sent.
  await sleep(3 * FRAME_MS);
  await st.endAsync();
  assert.equal(frames.length, n, 'no frame without a change');
  const during = frames.filter((x) => x.at <= t0 + 2000 + FRAME_MS + 300);
  assert.ok(during.length >= 3 && during.length <= Math.ceil((2000 + FRAME_MS + 300) / FRAME_MS) + 1,
    `${during.length} frames for 80 samples in about ${2000 + FRAME_MS} ms`);
  for (let i = 1; i < frames.length; i++) {
    assert.ok(frames[i].at - frames[i - 1].at >= FRAME_MS - 60, `frames ${frames[i].at - frames[i - 1].at} ms apart`);
    assert.equal(frames[i].f.frame_seq, frames[i - 1].f.frame_seq + 1);
  }
  // The last frame has each bed's newest sample, and every other bed too.
  const f = frames.at(-1).f;
  assert.equal(f.beds.B1.sample.seq, last.a);
  assert.equal(f.beds.B2.sample.seq, last.b);
  assert.deepEqual(Object.keys(f.beds).sort(), ['B1', 'B2', 'B3', 'B4', 'B5', 'B6']);
  assert.equal(f.beds.B5.sample.device_id, 'm5n-5');
});

test('an alert is never held back for a frame; the frame carries the bed\'s open alerts', async () => {
  const st = await connect(bench.broker.port, { id: 'desk-5n', password: stationSecret });
  const events = [];
  const frames = [];
  st.on('message', (topic, payload, packet) => {
    if (topic === 'wards/5N/alerts') events.push({ at: Date.now(), e: JSON.parse(payload.toString()) });
    if (topic === 'wards/5N/vitals' && !packet.retain) frames.push({ at: Date.now(), f: JSON.parse(payload.toString()) });
  });
  await st.subscribeAsync(['wards/5N/alerts', 'wards/5N/vitals'], { qos: 1 });
  const d = devs['m5n-3'];
  await send(d, { hr: 74 });
  // A frame just went out: the next one is not due for FRAME_MS.
  await waitFor(() => frames.some((x) => x.f.beds.B3.sample.hr === 74), { what: 'the frame with hr 74' });
  const sent = Date.now();
  const seq = await send(d, { hr: 150 });
  const raised = await waitFor(() => events.find((x) => x.e.type === 'alert.raised' && x.e.data.seq === seq), { what: 'alert.raised' });
  const shown = await waitFor(() => frames.find((x) => x.f.beds.B3.sample.seq === seq), { what: 'the frame with hr 150' });
  await st.endAsync();
  assert.ok(raised.at - sent < 250, `the alert came ${raised.at - sent} ms after the sample`);
  assert.ok(shown.at - raised.at > FRAME_MS / 3, `the alert came ${shown.at - raised.at} ms before the frame`);
  const f = shown.f;
  assert.equal(f.beds.B3.sample.hr, 150);
  assert.equal(f.beds.B3.alerts.length, 1);
  const ev = f.beds.B3.alerts[0];
  assert.equal(ev.type, 'alert.raised');
  assert.deepEqual(ev, raised.e, 'the same event the station got live');
  assert.equal(ev.data.vital, 'hr');
  assert.ok(Object.entries(f.beds).every(([bed, b]) => bed === 'B3' || b.alerts.length === 0));
  // The bed's open alerts in the frame equal its entries on alerts/active.
  const active = (await retained('wards/5N/alerts/active')).get('wards/5N/alerts/active');
  assert.deepEqual(active.alerts.filter((e) => e.data.bed === 'B3'), f.beds.B3.alerts);
  // Resolved: gone from the frame.
  await send(d, { hr: 75 });
  await frameWhere((x) => x.beds.B3.alerts.length === 0 && x.beds.B3.sample.hr === 75, 'B3 without alerts');
});

test('live updates replace a bed\'s sample in the frame; a late sample does not', async () => {
  const d = devs['m5n-1'];
  const newest = Date.now();
  await send(d, { hr: 99 }, newest);
  await send(d, { hr: 55 }, newest - 60000); // measured a minute earlier, arrives late
  await sleep(FRAME_MS + 200);
  const b1 = (await frame()).beds.B1;
  assert.equal(b1.sample.hr, 99);
  assert.equal(Date.parse(b1.sample.measured_at), newest);
  // NEWS2 still counts the bed's other fresh parameters.
  assert.equal(b1.news2.parameters, 7);
});

test('a bed leaves the frame when its device is moved, unassigned or revoked; the new bed shows it', async () => {
  const mark = bench.broker.mark();
  assert.equal(bench.admin(['device', 'assign', 'm5n-2', '--ward', '5N', '--bed', 'B20']).code, 0);
  await bench.broker.waitLog(/bed 5N\/B2 cleared from the ward's frame \(m5n-2 left the bed\)/, 3000, mark);
  await send(devs['m5n-2'], { hr: 81 });
  let f = await frameWhere((x) => x.beds.B20?.sample.hr === 81, 'B20 in the frame');
  assert.ok(!('B2' in f.beds), 'old bed gone');

  assert.equal(bench.admin(['device', 'unassign', 'm5n-4']).code, 0);
  await bench.broker.waitLog(/bed 5N\/B4 cleared/, 3000, mark);
  assert.equal(bench.admin(['device', 'revoke', 'm5n-5']).code, 0);
  await bench.broker.waitLog(/bed 5N\/B5 cleared/, 3000, mark);
  f = await frameWhere((x) => !('B4' in x.beds) && !('B5' in x.beds), 'B4 and B5 gone');
  assert.ok('B6' in f.beds, 'other beds untouched');
  // An unassigned device's samples are stored but shown on no bed.
  await send(devs['m5n-4'], { hr: 77 });
  await sleep(FRAME_MS + 200);
  f = await frame();
  assert.ok(!Object.values(f.beds).some((b) => b.sample?.device_id === 'm5n-4'));
});

test('two devices in one bed: moving the one that is not shown leaves the bed as it is', async () => {
  const ox = await device('ox-6', '5N', 'B6');
  const mon = devs['m5n-6'];
  await send(ox, { spo2: 95 });
  await send(mon, { hr: 66 }); // the monitor's sample is what B6 shows now
  const mark = bench.broker.mark();
  assert.equal(bench.admin(['device', 'assign', 'ox-6', '--ward', '5N', '--bed', 'B7']).code, 0);
  await bench.broker.waitLog(/ox-6 now at 5N\/B7/, 3000, mark);
  await sleep(FRAME_MS + 200);
  const b6 = (await frame()).beds.B6;
  assert.equal(b6.sample.device_id, 'm5n-6');
  assert.equal(b6.sample.hr, 66);
});

test('a bed whose device left stays in the frame, without a sample, while it has an open alert', async () => {
  const d = await device('m5n-8', '5N', 'B8');
  await send(d, { hr: 30 });
  await frameWhere((x) => x.beds.B8?.alerts.length === 1, 'B8 alerting');
  const mark = bench.broker.mark();
  assert.equal(bench.admin(['device', 'assign', 'm5n-8', '--ward', '5N', '--bed', 'B9']).code, 0);
  await bench.broker.waitLog(/bed 5N\/B8 cleared/, 3000, mark);
  const f = await frameWhere((x) => x.beds.B8?.sample === null, 'B8 without its sample');
  assert.equal(f.beds.B8.news2, null);
  assert.equal(f.beds.B8.alerts.length, 1);
  assert.equal(f.beds.B8.alerts[0].data.device_id, 'm5n-8');
  // The threshold alert ends with the device's next normal sample: B8 goes.
  await send(d, { hr: 70 });
  await frameWhere((x) => !('B8' in x.beds) && x.beds.B9?.sample.hr === 70, 'B8 gone, B9 shown');
});

test('an alert whose device moved to another ward leaves the old ward\'s list and frame with its next event', async () => {
  const d = await device('m5n-30', '5N', 'B30');
  await send(d, { hr: 155 });
  await frameWhere((x) => x.beds.B30?.alerts.length === 1, 'B30 alerting');
  const mark = bench.broker.mark();
  assert.equal(bench.admin(['device', 'assign', 'm5n-30', '--ward', '6S', '--bed', 'B30']).code, 0);
  await bench.broker.waitLog(/m5n-30 now at 6S\/B30/, 3000, mark);
  // Still open (its device is elsewhere now, the alert was not resolved).
  let f = await frameWhere((x) => x.beds.B30?.sample === null, 'B30 without its sample');
  assert.equal(f.beds.B30.alerts.length, 1);
  // It ends in 6S: 5N's list and frame forget it.
  await send(d, { hr: 70 });
  f = await frameWhere((x) => !('B30' in x.beds), 'B30 gone from 5N\'s frame');
  const active = (await retained('wards/5N/alerts/active')).get('wards/5N/alerts/active');
  assert.ok(!active.alerts.some((e) => e.data.device_id === 'm5n-30'), '5N\'s list forgot it');
});

test('the ward\'s open alerts are retained on wards/<ward>/alerts/active', async () => {
  const d = devs['m5n-3'];
  await send(d, { hr: 150 });
  await send(devs['m5n-6'], { spo2: 85 });
  const active = await waitFor(async () => {
    const a = (await retained('wards/5N/alerts/active', 300)).get('wards/5N/alerts/active');
    return a && a.count === 2 ? a : null;
  }, { timeout: 5000, what: 'two open alerts' });
  assert.equal(active.ward, '5N');
  const kinds = active.alerts.map((e) => `${e.data.device_id}:${e.data.vital}`).sort();
  assert.deepEqual(kinds, ['m5n-3:hr', 'm5n-6:spo2']);
  assert.ok(active.alerts.every((e) => e.type === 'alert.raised'));
  // Each entry is the same event the webhook carried, without the patient's
  // ids (issue 17: stations see no patient id; docs/patient-context.md).
  const hook = bench.receiver.events.filter((e) => e.data.device_id === 'm5n-3').at(-1);
  const { patient_id: pid, encounter_id: eid, ...stationData } = hook.data;
  assert.ok(pid === null && eid === null && !('patient_id' in active.alerts[0].data));
  assert.deepEqual(active.alerts.find((e) => e.data.device_id === 'm5n-3'), { type: hook.type, timestamp: hook.timestamp, data: stationData });
  // Recovery removes them; the list stays retained, empty.
  await send(d, { hr: 75 });
  await send(devs['m5n-6'], { spo2: 97 });
  const empty = await waitFor(async () => {
    const a = (await retained('wards/5N/alerts/active', 300)).get('wards/5N/alerts/active');
    return a && a.count === 0 ? a : null;
  }, { timeout: 5000, what: 'no open alert' });
  assert.deepEqual(empty.alerts, []);
});

test('after a broker restart the open alerts are retained again, and the frame shows their beds', async () => {
  await send(devs['m5n-3'], { hr: 152 });
  await waitFor(async () => (await bench.pg.query(
    "SELECT count(*)::int AS n FROM open_alerts WHERE device_id = 'm5n-3'")).rows[0].n === 1, { what: 'the open alert stored' });
  const mark = bench.broker.mark();
  await bench.broker.restart();
  await bench.broker.waitLog(/alert state of the previous run/, 15000, mark);
  const active = await waitFor(async () => {
    const a = (await retained('wards/5N/alerts/active', 300)).get('wards/5N/alerts/active');
    return a && a.count === 1 ? a : null;
  }, { timeout: 5000, what: 'the open alert retained after the restart' });
  assert.equal(active.alerts[0].data.device_id, 'm5n-3');
  assert.equal(active.alerts[0].data.value, 152);
  // No sample yet in this run: B3 is in the frame with its alert only.
  const f = await frameWhere((x) => x.beds.B3?.alerts.length === 1, 'B3 with the alert of the previous run');
  assert.equal(f.beds.B3.sample, null);
  assert.deepEqual(f.beds.B3.alerts, active.alerts);
  await devs['m5n-3'].c.endAsync().catch(() => {});
  await device('m5n-3');
  await send(devs['m5n-3'], { hr: 151 });
  const g = await frameWhere((x) => x.beds.B3?.sample?.hr === 151, 'B3 with a sample again');
  assert.equal(g.beds.B3.alerts.length, 1);
});

test('bed_topics: v1\'s retained per-bed topics as well, cleared when the device leaves', async () => {
  const spool = bench.newSpool('spool-bed-topics');
  const v1 = await Broker.start(bench.root, { ...bench.brokerOpts, spoolDir: spool,
    options: { ...bench.brokerOpts.options, bed_topics: 'true' } });
  try {
    const d = await device('m5n-9', '5N', 'B9', v1.port);
    const seq = await send(d, { hr: 64, spo2: 96, rr: 14 });
    const got = await waitFor(async () => {
      const r = await retained('wards/5N/#', 400, v1.port);
      return r.has('wards/5N/beds/B9/vitals') && r.get('wards/5N/vitals')?.beds.B9 ? r : null;
    }, { what: 'the v1 bed topic and the frame' });
    const b9 = got.get('wards/5N/beds/B9/vitals');
    assert.equal(b9.device_id, 'm5n-9');
    assert.equal(b9.seq, seq);
    assert.equal(b9.hr, 64);
    assert.equal(b9.news2.parameters, 3);
    // The v1 payload is the frame's sample with its NEWS2 beside it.
    const { news2, ...s } = b9;
    assert.deepEqual(got.get('wards/5N/vitals').beds.B9, { sample: s, news2, alerts: [] });
    const mark = v1.mark();
    assert.equal(bench.admin(['device', 'unassign', 'm5n-9']).code, 0);
    await v1.waitLog(/bed 5N\/B9 cleared/, 3000, mark);
    await sleep(FRAME_MS + 200);
    const after = await retained('wards/5N/#', 400, v1.port);
    assert.ok(!after.has('wards/5N/beds/B9/vitals'), 'v1 topic cleared');
    assert.ok(!('B9' in after.get('wards/5N/vitals').beds));
    await d.c.endAsync();
  } finally {
    await v1.stop();
  }
});

test('the shipped mosquitto configuration serves stations over WebSockets', async () => {
  const example = readFileSync(path.join(SOURCE_DIR, 'compose/mosquitto/vitalgate.conf.example'), 'utf8');
  assert.match(example, /^listener 9001 lo\nprotocol websockets$/m);
  const wsPort = await freePort();
  const spool = bench.newSpool('spool-example');
  const conf = ({ port, plugin }) => example
    .replace(/^listener 1883$/m, `listener ${port} 127.0.0.1`)
    .replace(/^listener 9001 lo$/m, `listener ${wsPort} lo`)
    .replace(/^plugin \/.*$/m, `plugin ${plugin}`)
    .replace(/^plugin_opt_db_conninfo .*$/m, `plugin_opt_db_conninfo ${bench.pg.conninfo}`)
    .replace(/^plugin_opt_spool_dir .*$/m, `plugin_opt_spool_dir ${spool}`)
    .replace(/^plugin_opt_webhook_.*$/gm, '');
  const shipped = await Broker.start(bench.root, { ...bench.brokerOpts, spoolDir: spool, rawConf: conf });
  try {
    const d = await connect(shipped.port, { id: 'm5n-6', password: devs['m5n-6'].secret });
    assert.equal(await publishQos1(d, 'vitals/m5n-6', sample({ v: 1, seq: 100000, ts: Date.now(), hr: 68 })), 0);
    await d.endAsync();
    await sleep(1300); // the frame goes out within station_frame_ms (1000 by default)
    const st = await mqtt.connectAsync(`ws://127.0.0.1:${wsPort}/mqtt`, {
      clientId: 'desk-5n', username: 'desk-5n', password: stationSecret, protocolVersion: 5, reconnectPeriod: 0,
    });
    const got = [];
    st.on('message', (topic, payload, packet) => got.push({ topic, retain: packet.retain, f: JSON.parse(payload.toString()) }));
    await st.subscribeAsync('wards/5N/vitals', { qos: 1 });
    const f = await waitFor(() => got.find((m) => m.topic === 'wards/5N/vitals' && m.f.beds.B6), { what: 'the frame over WebSockets' });
    assert.equal(f.retain, true);
    assert.equal(f.f.beds.B6.sample.hr, 68);
    await st.endAsync();
    // A wrong secret over WebSockets is refused like anywhere else.
    await assert.rejects(mqtt.connectAsync(`ws://127.0.0.1:${wsPort}/mqtt`, {
      clientId: 'desk-5n', username: 'desk-5n', password: 'vgs_wrong', protocolVersion: 5, reconnectPeriod: 0,
    }), /Not authorized|Bad User/);
  } finally {
    await shipped.stop();
  }
});
