// Patient context from the core (issue 17, occupancy half;
// docs/patient-context.md), through real mosquitto + PostgreSQL:
//  - admit: a service's retained adt/<ward>/<bed> is taken; samples at and
//    after its since carry the patient and encounter, a sample 1 ms before
//    it none; the alert webhook and its alert_events row carry them too;
//    the ward's frame shows the core's label and never the patient id;
//  - transfer and discharge: the patient moves to another bed (the first
//    becomes vacant), then leaves: the history keeps the validity
//    intervals; the leaving patient's open alert is resolved with a note;
//    samples of the vacant bed are stored and counted and raise no alert
//    even far out of range;
//  - an undescribed bed alerts as in version 1 (patient null);
//  - a late message (the core was down) re-links the bed's stored samples
//    from its since on, says how many (log line, bed_occupancy_log, /metrics);
//  - bad input (a device's or a station's publish, malformed ids, JSON or
//    since) gets 0x87, a log line, and changes nothing;
//  - after a broker restart the beds' occupancy is read back from PostgreSQL;
//  - the FHIR export names the patient and encounter as subject/encounter.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { Bench, connect, freePort, httpGet, promValue, publishQos1, sample, waitFor } from '../lib/bench.mjs';
import { validateObservation } from '../lib/fhir-validate.mjs';

let bench;
let db;
let core;
let metricsPort;
const devs = {};
const secrets = {};
const iso = (ms) => new Date(ms).toISOString();
const adt = (patient, encounter, since, label) => JSON.stringify({ patient, encounter, since: iso(since), ...(label ? { label } : {}) });

before(async () => {
  metricsPort = await freePort();
  bench = await Bench.start({ webhook: true, options: { station_frame_ms: 200, metrics_port: metricsPort } });
  db = await bench.pg.client();
  secrets.core = await bench.adminOk(['service', 'add', 'core']);
  secrets.st = await bench.adminOk(['station', 'add', 'desk-7a', '--wards', '7A']);
  for (const [id, bed] of [['mon-1', 'b1'], ['mon-2', 'b2'], ['mon-4', 'b4']]) {
    const secret = await bench.addDevice(id, '7A', bed);
    await bench.waitIdentity(bench.broker.port, id, secret);
    devs[id] = { id, seq: 1, secret, c: await connect(bench.broker.port, { id, password: secret }) };
  }
  await bench.waitIdentity(bench.broker.port, 'core', secrets.core);
  core = await connect(bench.broker.port, { id: 'core', password: secrets.core });
});

after(async () => {
  for (const d of Object.values(devs)) await d.c?.endAsync();
  await core?.endAsync();
  await db?.end();
  await bench?.stop();
});

async function send(d, fields, ts = Date.now()) {
  const seq = devs[d].seq++;
  assert.equal(await publishQos1(devs[d].c, `vitals/${d}`, sample({ v: 1, seq, ts, ...fields })), 0);
  return seq;
}

async function row(device, seq) {
  return waitFor(async () => (await db.query('SELECT patient_id, encounter_id, hr FROM vitals WHERE device_id = $1 AND seq = $2',
    [device, seq])).rows[0], { what: `${device} seq ${seq} stored` });
}

const hooks = (pred) => bench.receiver.events.filter((e) => pred(e.data));

async function frame() {
  const st = await connect(bench.broker.port, { id: 'desk-7a', password: secrets.st });
  let f = null;
  st.on('message', (topic, payload) => { if (topic === 'wards/7A/vitals') f = payload.toString(); });
  await st.subscribeAsync('wards/7A/vitals', { qos: 1 });
  await sleep(300);
  await st.endAsync();
  return f;
}

test('admit: samples from since on, alerts and webhooks carry the occupant; the frame shows only the label', async () => {
  const since = Date.now() - 20000;
  assert.equal(await publishQos1(core, 'adt/7A/b1', adt('p-1', 'e-1', since, 'A.B. b1'), { retain: true }), 0);
  await bench.broker.waitLog(/bed 7A\/b1 occupied since/);
  const before = await send('mon-1', { hr: 80 }, since - 1);
  const at = await send('mon-1', { hr: 80 }, since);
  const high = await send('mon-1', { hr: 150 });
  assert.deepEqual(await row('mon-1', before), { patient_id: null, encounter_id: null, hr: 80 });
  assert.deepEqual(await row('mon-1', at), { patient_id: 'p-1', encounter_id: 'e-1', hr: 80 });
  assert.deepEqual(await row('mon-1', high), { patient_id: 'p-1', encounter_id: 'e-1', hr: 150 });
  const raised = await waitFor(() => hooks((d) => d.bed === 'b1' && d.kind === 'threshold' && d.seq === high)[0],
    { what: 'the webhook of b1' });
  assert.equal(raised.data.patient_id, 'p-1');
  assert.equal(raised.data.encounter_id, 'e-1');
  const ev = await waitFor(async () => (await db.query("SELECT patient_id, encounter_id FROM alert_events WHERE bed = 'b1' "
    + "AND type = 'alert.raised'")).rows[0], { what: 'the alert event stored' });
  assert.deepEqual(ev, { patient_id: 'p-1', encounter_id: 'e-1' });
  const f = await waitFor(async () => { const t = await frame(); return t?.includes('patient_label') ? t : null; },
    { what: 'the label in the frame' });
  assert.equal(JSON.parse(f).beds.b1.patient_label, 'A.B. b1');
  assert.ok(!f.includes('p-1') && !f.includes('e-1'), 'the frame names no patient or encounter id');
  assert.ok(JSON.parse(f).beds.b1.alerts.length >= 1, 'the open alert shows, without the patient');
});

test('an undescribed bed alerts as in version 1, with no patient', async () => {
  const seq = await send('mon-2', { hr: 155 });
  const raised = await waitFor(() => hooks((d) => d.bed === 'b2' && d.seq === seq)[0], { what: 'the webhook of b2' });
  assert.equal(raised.data.patient_id, null);
  assert.equal(raised.data.encounter_id, null);
  assert.deepEqual(await row('mon-2', seq), { patient_id: null, encounter_id: null, hr: 155 });
});

test('transfer then discharge: validity intervals; a vacant bed stores its samples and raises nothing', async () => {
  const t1 = Date.now() - 5000;
  assert.equal(await publishQos1(core, 'adt/7A/b4', adt('p-1', 'e-1', t1), { retain: true }), 0);
  assert.equal(await publishQos1(core, 'adt/7A/b1', '', { retain: true }), 0);
  await bench.broker.waitLog(/bed 7A\/b1 vacant since/);
  // b1's open alert (hr 150, the previous test) was about p-1: resolved, naming p-1.
  const closed = await waitFor(() => hooks((d) => d.bed === 'b1' && d.note === "bed vacant (the core's occupancy)")[0],
    { what: 'the open alert of b1 resolved' });
  assert.equal(closed.type, 'alert.resolved');
  assert.equal(closed.data.patient_id, 'p-1');
  const hooksBefore = bench.receiver.events.length;
  const vacantBefore = promValue(await httpGet(metricsPort, '/metrics').then((r) => r.body), 'vitalgate_samples_vacant_bed_total');
  const v1 = await send('mon-1', { hr: 190, spo2: 70, rr: 40 });
  const moved = await send('mon-4', { hr: 82 }, t1);
  assert.deepEqual(await row('mon-1', v1), { patient_id: null, encounter_id: null, hr: 190 });
  assert.deepEqual(await row('mon-4', moved), { patient_id: 'p-1', encounter_id: 'e-1', hr: 82 });
  // Discharge from b4.
  assert.equal(await publishQos1(core, 'adt/7A/b4', '', { retain: true }), 0);
  await bench.broker.waitLog(/bed 7A\/b4 vacant since/);
  const after4 = await send('mon-4', { hr: 30 });
  assert.deepEqual(await row('mon-4', after4), { patient_id: null, encounter_id: null, hr: 30 });
  await sleep(800);
  assert.equal(bench.receiver.events.slice(hooksBefore).filter((e) => e.type === 'alert.raised').length, 0,
    'no alert from vacant beds');
  const m = await waitFor(async () => {
    const v = promValue((await httpGet(metricsPort, '/metrics')).body, 'vitalgate_samples_vacant_bed_total');
    return v >= vacantBefore + 2 ? v : null;
  }, { what: 'vacant samples counted' });
  assert.ok(m >= vacantBefore + 2);
  const hist = (await db.query("SELECT bed, patient_id, encounter_id, extract(epoch FROM since) * 1000 AS since, "
    + "until IS NULL AS current FROM bed_occupancy WHERE ward = '7A' ORDER BY bed, since")).rows;
  const b1 = hist.filter((h) => h.bed === 'b1');
  assert.equal(b1.length, 2);
  assert.equal(b1[0].patient_id, 'p-1');
  assert.equal(b1[0].current, false);
  assert.equal(b1[1].patient_id, null);
  assert.equal(b1[1].current, true);
  const b4 = hist.filter((h) => h.bed === 'b4');
  assert.deepEqual(b4.map((h) => [h.patient_id, h.current]), [['p-1', false], [null, true]]);
  assert.equal(Number(b4[0].since), t1);
  // The label leaves the frame with the patient.
  await waitFor(async () => { const t = await frame(); return t && !t.includes('patient_label'); }, { what: 'label gone' });
});

test('a late message re-links the stored samples of the interval it covers and says how many', async () => {
  const late = Date.now() - 60000;
  const s1 = await send('mon-2', { hr: 70 }, late - 1);
  const s2 = await send('mon-2', { hr: 71 }, late);
  const s3 = await send('mon-2', { hr: 72 }, late + 30000);
  await row('mon-2', s3);
  assert.equal(await publishQos1(core, 'adt/7A/b2', adt('p-3', 'e-3', late)), 0);
  const line = await bench.broker.waitLog(/occupancy of 7A\/b2 from \S+ stored \(occupied\); (\d+) stored sample\(s\) re-linked/);
  // s2, s3 and the alerting sample of the earlier test (sent after late).
  assert.match(String(line), /3 stored sample\(s\) re-linked/);
  assert.deepEqual(await row('mon-2', s1), { patient_id: null, encounter_id: null, hr: 70 });
  assert.deepEqual(await row('mon-2', s2), { patient_id: 'p-3', encounter_id: 'e-3', hr: 71 });
  assert.deepEqual(await row('mon-2', s3), { patient_id: 'p-3', encounter_id: 'e-3', hr: 72 });
  const log = (await db.query("SELECT relinked FROM bed_occupancy_log WHERE bed = 'b2'")).rows;
  assert.deepEqual(log.map((r) => Number(r.relinked)), [3]);
  // A correction: the encounter was e-3b from the same since.
  assert.equal(await publishQos1(core, 'adt/7A/b2', adt('p-3', 'e-3b', late)), 0);
  await waitFor(async () => (await row('mon-2', s3)).encounter_id === 'e-3b', { what: 'corrected encounter' });
  const hist = (await db.query("SELECT encounter_id FROM bed_occupancy WHERE bed = 'b2'")).rows;
  assert.deepEqual(hist, [{ encounter_id: 'e-3b' }]);
  // The same message again (the core republishing its retained state): nothing new.
  assert.equal(await publishQos1(core, 'adt/7A/b2', adt('p-3', 'e-3b', late)), 0);
  await sleep(400);
  assert.equal(Number((await db.query("SELECT count(*) FROM bed_occupancy_log WHERE bed = 'b2'")).rows[0].count), 2);
  await waitFor(async () => promValue((await httpGet(metricsPort, '/metrics')).body,
    'vitalgate_writer_relinked_samples_total') === 6, { what: 'relinked samples counted (3 + 3)' });
});

test('bad input: 0x87, a log line, nothing changes', async () => {
  const count = async () => Number((await db.query('SELECT count(*) FROM bed_occupancy_log')).rows[0].count);
  await sleep(300);
  const n0 = await count();
  const now = Date.now();
  const st = await connect(bench.broker.port, { id: 'desk-7a', password: secrets.st });
  assert.equal(await publishQos1(devs['mon-1'].c, 'adt/7A/b1', adt('p-9', 'e-9', now)), 0x87);
  assert.equal(await publishQos1(st, 'adt/7A/b1', adt('p-9', 'e-9', now), { retain: true }), 0x87);
  await st.endAsync();
  await bench.broker.waitLog(/denied \w+ of "adt\/7A\/b1" to desk-7a: occupancy is published by services only/);
  const bad = [
    ['adt/7A/b 1', adt('p-9', 'e-9', now), /denied \w+ of "adt\/7A\/b 1" to core: occupancy topic/],
    ['adt/7A/b1/x', adt('p-9', 'e-9', now), /denied \w+ of "adt\/7A\/b1\/x" to core/],
    ['adt/7A/b1', '{"patient":"p-9","encounter":"e-9","since":', /refused occupancy of 7A\/b1 from core: since/],
    ['adt/7A/b1', '{"patient" "p-9"}', /refused occupancy of 7A\/b1 from core: malformed JSON/],
    ['adt/7A/b1', JSON.stringify({ patient: 'p-9', encounter: 'e-9', since: '2026-13-01T00:00:00Z' }),
      /refused occupancy of 7A\/b1 from core: since: not an RFC 3339/],
    ['adt/7A/b1', JSON.stringify({ patient: 'p-9', encounter: 'e-9', since: 'yesterday' }), /since: not an RFC 3339/],
    ['adt/7A/b1', JSON.stringify({ patient: 'p 9', encounter: 'e-9', since: iso(now) }), /patient: not an id/],
    ['adt/7A/b1', JSON.stringify({ patient: 'p-9', since: iso(now) }), /patient, encounter and since are required/],
    ['adt/7A/b1', JSON.stringify({ patient: 'p-9', encounter: 'e-9', since: iso(now), name: 'Jane Doe' }), /unknown member/],
    ['adt/7A/b1', JSON.stringify({ patient: 'p-9', encounter: 'e-9', since: iso(now), label: 'say "hi"' }), /label:/],
    ['adt/7A/b1', JSON.stringify({ patient: 'p-9', encounter: 'e-9', since: iso(now + 3600000) }), /since: in the future/],
  ];
  for (const [topic, payload, re] of bad) {
    const from = bench.broker.mark();
    assert.equal(await publishQos1(core, topic, payload), 0x87, `${topic} ${payload}`);
    await bench.broker.waitLog(re, 5000, from);
  }
  await sleep(500);
  assert.equal(await count(), n0, 'no occupancy stored');
  // b1 is still vacant: a high value raises nothing.
  const hooksBefore = bench.receiver.events.length;
  const seq = await send('mon-1', { hr: 200 });
  assert.equal((await row('mon-1', seq)).patient_id, null);
  await sleep(500);
  assert.equal(bench.receiver.events.slice(hooksBefore).filter((e) => e.type === 'alert.raised').length, 0);
  await waitFor(async () => promValue((await httpGet(metricsPort, '/metrics')).body,
    'vitalgate_occupancy_refused_total') === 9, { what: 'refusals counted' });
});

test('after a broker restart the beds know their occupancy again (from PostgreSQL)', async () => {
  const mark = bench.broker.mark();
  await bench.broker.restart();
  const line = await bench.broker.waitLog(/occupancy of (\d+) bed\(s\) restored from the database/, 15000, mark);
  assert.match(line, /occupancy of 3 bed\(s\) restored/);
  for (const id of ['mon-1', 'mon-2']) {
    await devs[id].c.endAsync().catch(() => {});
    devs[id].c = await connect(bench.broker.port, { id, password: devs[id].secret });
  }
  const hooksBefore = bench.receiver.events.length;
  const vacant = await send('mon-1', { hr: 210 });
  const occupied = await send('mon-2', { spo2: 84 });
  const raised = await waitFor(() => hooks((d) => d.bed === 'b2' && d.seq === occupied)[0], { what: 'the webhook of b2' });
  assert.equal(raised.data.patient_id, 'p-3');
  assert.equal(raised.data.encounter_id, 'e-3b');
  assert.equal((await row('mon-1', vacant)).patient_id, null);
  await sleep(500);
  assert.equal(bench.receiver.events.slice(hooksBefore).filter((e) => e.data.bed === 'b1').length, 0, 'b1 is still vacant');
});

test('export fhir: subject and encounter of the occupant', async () => {
  const out = path.join(bench.root, 'occ.ndjson');
  await bench.adminOk(['export', 'fhir', '--since', iso(Date.now() - 3600000), '--patient', 'p-1', '--out', out]);
  const obs = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(obs.length >= 3);
  for (const o of obs) {
    assert.equal(o.subject.identifier?.value ?? o.subject.reference?.split('/')[1], 'p-1');
    assert.ok(JSON.stringify(o.encounter).includes('e-1'));
    const errors = validateObservation(o);
    assert.deepEqual(errors, [], JSON.stringify(o));
  }
});
