// Nurses' stations (issue 7): every bed of the ward retained on
// wards/<ward>/beds/<bed>/vitals with its NEWS2, cleared when the device
// that published it leaves the bed; the ward's open alerts retained on
// wards/<ward>/alerts/active. Through real mosquitto + PostgreSQL.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import mqtt from 'mqtt';

import { Bench, Broker, SOURCE_DIR, connect, freePort, publishQos1, sample, waitFor } from '../lib/bench.mjs';

let bench;
let stationSecret;
const devs = {};

async function device(id, ward, bed) {
  const secret = await bench.addDevice(id, ward, bed);
  await bench.waitIdentity(bench.broker.port, id, secret);
  const c = await connect(bench.broker.port, { id, password: secret });
  devs[id] = { id, c, seq: 1, secret };
  return devs[id];
}

async function send(d, fields, ts = Date.now()) {
  const seq = d.seq++;
  assert.equal(await publishQos1(d.c, `vitals/${d.id}`, sample({ v: 1, seq, ts, ...fields })), 0);
  return seq;
}

// What a station that connects now receives as retained on `filter`.
async function retained(filter, settle = 600) {
  const st = await connect(bench.broker.port, { id: 'desk-5n', password: stationSecret });
  const got = new Map();
  st.on('message', (topic, payload, packet) => {
    if (packet.retain) got.set(topic, payload.length ? JSON.parse(payload.toString()) : null);
  });
  await st.subscribeAsync(filter, { qos: 1 });
  await sleep(settle);
  await st.endAsync();
  return got;
}

before(async () => {
  bench = await Bench.start({ webhook: true, options: { alert_hold_s: 0, silence_s: 3600, disconnect_grace_s: 3600 } });
  stationSecret = await bench.adminOk(['station', 'add', 'desk-5n', '--wards', '5N']);
  await bench.waitIdentity(bench.broker.port, 'desk-5n', stationSecret);
});

after(async () => {
  for (const d of Object.values(devs)) await d.c.endAsync().catch(() => {});
  await bench?.stop();
});

test('a station that connects sees every bed of its ward at once, with values and NEWS2', async () => {
  const beds = [];
  for (let i = 1; i <= 6; i++) beds.push(await device(`m5n-${i}`, '5N', `B${i}`));
  const other = await device('m6s-1', '6S', 'B1');
  for (const d of beds) await send(d, { hr: 70 + Number(d.id.slice(-1)), spo2: 97, rr: 16, sbp: 120, temp: 36.8, o2: false, avpu: 'A' });
  await send(other, { hr: 90 });
  const got = await retained('wards/5N/beds/+/vitals');
  assert.deepEqual([...got.keys()].sort(), beds.map((d) => `wards/5N/beds/B${d.id.slice(-1)}/vitals`).sort());
  const b3 = got.get('wards/5N/beds/B3/vitals');
  assert.equal(b3.device_id, 'm5n-3');
  assert.equal(b3.ward, '5N');
  assert.equal(b3.bed, 'B3');
  assert.equal(b3.hr, 73);
  assert.equal(b3.spo2, 97);
  assert.equal(b3.temp, 36.8);
  assert.equal(b3.o2, false);
  assert.equal(b3.avpu, 'A');
  assert.equal(typeof b3.seq, 'number');
  assert.ok(Date.parse(b3.measured_at) > 0 && Date.parse(b3.received_at) >= Date.parse(b3.measured_at) - 1000);
  assert.equal(b3.news2.score, 0);
  assert.equal(b3.news2.band, 'none'); // score 0 (docs/news2.md)
  assert.equal(b3.news2.parameters, 7);
  // The station may not look at another ward, retained or not.
  const st = await connect(bench.broker.port, { id: 'desk-5n', password: stationSecret });
  await assert.rejects(st.subscribeAsync('wards/6S/beds/+/vitals', { qos: 1 }), /Not authorized/);
  await st.endAsync();
});

test('live updates replace the retained sample; a late sample does not', async () => {
  const d = devs['m5n-1'];
  const newest = Date.now();
  await send(d, { hr: 99 }, newest);
  await send(d, { hr: 55 }, newest - 60000); // measured a minute earlier, arrives late
  const b1 = (await retained('wards/5N/beds/B1/vitals')).get('wards/5N/beds/B1/vitals');
  assert.equal(b1.hr, 99);
  assert.equal(Date.parse(b1.measured_at), newest);
  // It still updates NEWS2 from the bed's other fresh parameters.
  assert.equal(b1.news2.parameters, 7);
});

test('a bed is cleared when its device is moved, unassigned or revoked; the new bed shows it', async () => {
  const mark = bench.broker.mark();
  assert.equal(bench.admin(['device', 'assign', 'm5n-2', '--ward', '5N', '--bed', 'B20']).code, 0);
  await bench.broker.waitLog(/cleared wards\/5N\/beds\/B2\/vitals \(m5n-2 left the bed\)/, 3000, mark);
  await send(devs['m5n-2'], { hr: 81 });
  let got = await retained('wards/5N/beds/+/vitals');
  assert.ok(!got.has('wards/5N/beds/B2/vitals'), 'old bed cleared');
  assert.equal(got.get('wards/5N/beds/B20/vitals').hr, 81);

  assert.equal(bench.admin(['device', 'unassign', 'm5n-4']).code, 0);
  await bench.broker.waitLog(/cleared wards\/5N\/beds\/B4\/vitals/, 3000, mark);
  assert.equal(bench.admin(['device', 'revoke', 'm5n-5']).code, 0);
  await bench.broker.waitLog(/cleared wards\/5N\/beds\/B5\/vitals/, 3000, mark);
  got = await retained('wards/5N/beds/+/vitals');
  assert.ok(!got.has('wards/5N/beds/B4/vitals'));
  assert.ok(!got.has('wards/5N/beds/B5/vitals'));
  assert.ok(got.has('wards/5N/beds/B6/vitals'), 'other beds untouched');
  // An unassigned device's samples are stored but shown on no bed.
  await send(devs['m5n-4'], { hr: 77 });
  got = await retained('wards/5N/beds/+/vitals');
  assert.ok(![...got.values()].some((v) => v?.device_id === 'm5n-4'));
});

test('two devices in one bed: moving the one that is not shown leaves the bed as it is', async () => {
  const ox = await device('ox-6', '5N', 'B6');
  const mon = devs['m5n-6'];
  await send(ox, { spo2: 95 });
  await send(mon, { hr: 66 }); // the monitor's sample is what B6 shows now
  const mark = bench.broker.mark();
  assert.equal(bench.admin(['device', 'assign', 'ox-6', '--ward', '5N', '--bed', 'B7']).code, 0);
  await bench.broker.waitLog(/ox-6 now at 5N\/B7/, 3000, mark);
  await sleep(300);
  const b6 = (await retained('wards/5N/beds/B6/vitals')).get('wards/5N/beds/B6/vitals');
  assert.equal(b6.device_id, 'm5n-6');
  assert.equal(b6.hr, 66);
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
  // Each entry is the same event the webhook carried.
  const hook = bench.receiver.events.find((e) => e.data.device_id === 'm5n-3');
  assert.deepEqual(active.alerts.find((e) => e.data.device_id === 'm5n-3'), { type: hook.type, timestamp: hook.timestamp, data: hook.data });
  // Recovery removes them; the list stays retained, empty.
  await send(d, { hr: 75 });
  await send(devs['m5n-6'], { spo2: 97 });
  const empty = await waitFor(async () => {
    const a = (await retained('wards/5N/alerts/active', 300)).get('wards/5N/alerts/active');
    return a && a.count === 0 ? a : null;
  }, { timeout: 5000, what: 'no open alert' });
  assert.deepEqual(empty.alerts, []);
});

test('after a broker restart the open alerts are retained again', async () => {
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
    assert.equal(await publishQos1(d, 'vitals/m5n-6', sample({ v: 1, seq: 1000, ts: Date.now(), hr: 68 })), 0);
    await d.endAsync();
    const st = await mqtt.connectAsync(`ws://127.0.0.1:${wsPort}/mqtt`, {
      clientId: 'desk-5n', username: 'desk-5n', password: stationSecret, protocolVersion: 5, reconnectPeriod: 0,
    });
    const got = [];
    st.on('message', (topic, payload, packet) => got.push({ topic, retain: packet.retain, s: JSON.parse(payload.toString()) }));
    await st.subscribeAsync('wards/5N/beds/+/vitals', { qos: 1 });
    const b6 = await waitFor(() => got.find((m) => m.topic === 'wards/5N/beds/B6/vitals'), { what: 'B6 over WebSockets' });
    assert.equal(b6.retain, true);
    assert.equal(b6.s.hr, 68);
    await st.endAsync();
    // A wrong secret over WebSockets is refused like anywhere else.
    await assert.rejects(mqtt.connectAsync(`ws://127.0.0.1:${wsPort}/mqtt`, {
      clientId: 'desk-5n', username: 'desk-5n', password: 'vgs_wrong', protocolVersion: 5, reconnectPeriod: 0,
    }), /Not authorized|Bad User/);
  } finally {
    await shipped.stop();
  }
});
