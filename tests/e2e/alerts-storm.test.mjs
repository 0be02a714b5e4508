// 1,000 beds alarming at once (issue 6): bench/vgload connects 1,000
// monitors whose every sample has a heart rate of 150; each bed raises one
// alert. All 1,000 reach the Node.js receiver (each once) and the wards'
// stations, while the broker keeps serving another device without a stall.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { Bench, connect, publishQos1, sample, collect, waitFor, vgload } from '../lib/bench.mjs';

const BEDS = Number(process.env.VG_STORM_BEDS ?? 1000);
const WARDS = 10;

let bench;

before(async () => {
  bench = await Bench.start({
    webhook: true,
    options: { silence_s: 3600, disconnect_grace_s: 3600, webhook_parallel: 16, alert_hold_s: 0, webhook_backoff_max_s: 2 },
  });
});

after(async () => {
  await bench?.stop();
});

let credFile;

test(`${BEDS} beds alarming at once: every alert delivered once while the broker keeps serving`, async () => {
  const creds = bench.importDevices(Array.from({ length: BEDS }, (_, i) => `icu-${i} W${i % WARDS} B${i}`));
  credFile = path.join(bench.root, 'storm-creds.txt');
  writeFileSync(credFile, `${creds.map((c) => `${c.id} ${c.secret}`).join('\n')}\n`);
  const probeSecret = await bench.addDevice('probe', 'P', 'B0');
  const wards = Array.from({ length: WARDS }, (_, i) => `W${i}`);
  const stSecret = await bench.adminOk(['station', 'add', 'desk', '--wards', wards.join(',')]);
  await bench.waitIdentity(bench.broker.port, 'desk', stSecret);
  await bench.waitIdentity(bench.broker.port, 'probe', probeSecret);
  await bench.waitIdentity(bench.broker.port, creds.at(-1).id, creds.at(-1).secret);
  const station = await connect(bench.broker.port, { id: 'desk', password: stSecret });
  const onWards = collect(station);
  for (const w of wards) await station.subscribeAsync(`wards/${w}/alerts`, { qos: 1 });

  // The probe: an ordinary device publishing every 100 ms through the storm.
  const probe = await connect(bench.broker.port, { id: 'probe', password: probeSecret });
  const rtts = [];
  let stop = false;
  const probing = (async () => {
    let seq = 1;
    while (!stop) {
      const t = Date.now();
      const rc = await publishQos1(probe, 'vitals/probe', sample({ v: 1, seq: seq++, ts: t, hr: 70 }));
      rtts.push({ rc, ms: Date.now() - t });
      await sleep(100);
    }
  })();

  const t0 = Date.now();
  const summary = await vgload(bench.broker.port, [
    '--creds', credFile, '--rate', '1', '--duration', '3', '--qos', '1',
    '--alert-fraction', '1', '--alert-every', '1',
  ], { cpu: null });
  assert.equal(summary.connack_ok, BEDS);
  assert.equal(summary.puback_refused, 0);
  assert.ok(summary.puback_ok >= BEDS, `${summary.puback_ok} samples acknowledged`);

  const events = await waitFor(() => (bench.receiver.events.length >= BEDS ? bench.receiver.events : null),
    { timeout: 60000, interval: 200, what: `${BEDS} webhooks` });
  const allIn = Date.now() - t0;
  stop = true;
  await probing;

  const devicesAlerted = new Set(events.map((e) => e.data.device_id));
  assert.equal(devicesAlerted.size, BEDS, 'one alert per bed');
  assert.ok(events.every((e) => e.type === 'alert.raised' && e.data.kind === 'threshold' && e.data.vital === 'hr'));
  assert.equal(new Set(events.map((e) => e.id)).size, events.length, 'each webhook-id once');
  await sleep(1000);
  assert.equal(bench.receiver.events.length, BEDS, 'no extra events (one transition per bed, not one per sample)');

  const mqttAlerts = await waitFor(() => {
    const l = onWards.filter((m) => m.topic.endsWith('/alerts'));
    return l.length >= BEDS ? l : null;
  }, { timeout: 10000, what: 'the stations\' alerts' });
  assert.equal(mqttAlerts.length, BEDS);

  const rows = await waitFor(async () => {
    const r = (await bench.pg.query("SELECT status, count(*)::int AS n FROM alert_events GROUP BY status")).rows;
    return r.length === 1 && r[0].status === 'delivered' && r[0].n === BEDS ? r : null;
  }, { timeout: 20000, what: 'every outbox row delivered' });
  assert.ok(rows);

  // The broker kept serving: the probe's samples were all acknowledged, none stalled.
  assert.ok(rtts.length > 10);
  assert.ok(rtts.every((r) => r.rc === 0));
  const worst = Math.max(...rtts.map((r) => r.ms));
  process.stderr.write(`storm: ${BEDS} alerts delivered ${allIn} ms after the start; probe PUBACK worst ${worst} ms over ${rtts.length}\n`);
  assert.ok(worst < 1000, `probe's worst PUBACK round trip ${worst} ms`);
  // Every acknowledged sample is stored as well.
  await waitFor(async () => (await bench.pg.query(
    "SELECT count(*)::int AS n FROM vitals WHERE device_id LIKE 'icu-%'")).rows[0].n >= summary.puback_ok,
  { timeout: 10000, what: 'every acknowledged sample in vitals' });
  await probe.endAsync();
  await station.endAsync();
});

test(`${BEDS} beds recovering while the receiver answers 503: afterwards each bed's events arrive in order`, async () => {
  const rx = bench.receiver;
  rx.mode = 'status:503';
  const from = rx.events.length;
  // Every bed back to a normal pulse: one alert.resolved each, all pending.
  const summary = await vgload(bench.broker.port, ['--creds', credFile, '--rate', '1', '--duration', '2', '--qos', '1'],
    { cpu: null });
  assert.equal(summary.puback_refused, 0);
  await waitFor(async () => (await bench.pg.query(
    "SELECT count(*)::int AS n FROM alert_events WHERE type = 'alert.resolved'")).rows[0].n === BEDS,
  { timeout: 20000, what: 'the resolves in the outbox' });
  // Then a new alert for every bed, still while the receiver refuses.
  await vgload(bench.broker.port, ['--creds', credFile, '--rate', '1', '--duration', '2', '--qos', '1',
    '--alert-fraction', '1', '--alert-every', '1'], { cpu: null });
  await waitFor(async () => (await bench.pg.query("SELECT count(*)::int AS n FROM alert_events")).rows[0].n === 3 * BEDS,
    { timeout: 20000, what: 'the new alerts in the outbox' });
  assert.equal(rx.events.length, from, 'nothing delivered while refused');
  rx.mode = 'ok';
  const evs = await waitFor(() => (rx.events.length - from >= 2 * BEDS ? rx.events.slice(from) : null),
    { timeout: 90000, interval: 250, what: `${2 * BEDS} delivered events` });
  const perBed = new Map();
  for (const e of evs) {
    const k = e.data.bed;
    if (!perBed.has(k)) perBed.set(k, []);
    perBed.get(k).push(e.type);
  }
  assert.equal(perBed.size, BEDS);
  for (const [bed, types] of perBed) assert.deepEqual(types, ['alert.resolved', 'alert.raised'], `order of ${bed}`);
});
