// Cells (issue 14): a hospital network on several brokers. Two cells (a:
// wards WA and WM, b: ward WB), each a primary and a standby Mosquitto +
// Vitalgate with plugin_opt_cell; a hub (plugin_opt_mode hub) that every
// cell instance bridges wards/# to with Mosquitto's own bridge; HAProxy in
// front, routing by client id through the map `vitalgate-admin cells
// haproxy-map` writes. One PostgreSQL behind. Which broker a client reached
// is read from that broker's log. (The failover and ward move under load:
// cells-failover.test.mjs.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { writeFileSync, rmSync } from 'node:fs';

import { Bench, Broker, connect, publishQos1, subscribeRc, sample, collect, closed, waitFor, freePort, httpGet, promValue }
  from '../lib/bench.mjs';
import { Haproxy } from '../lib/haproxy.mjs';
import { parseMap } from '../../tools/haproxy-cells.mjs';

let bench;
let hx;
const inst = {};      // a1, a2 (a's primary and standby), b1, b2, hub
const secrets = {};
const clients = [];

const WARDS = { WA: 'a', WM: 'a', WB: 'b' };
const DEVICES = { 'dev-a1': 'WA', 'dev-a2': 'WA', 'dev-a3': 'WA', 'dev-m1': 'WM', 'dev-b1': 'WB', 'dev-b2': 'WB' };
const THROTTLED = ['dev-t1', 'dev-t2', 'dev-t3', 'dev-t4', 'dev-t5']; // ward WA: wrong secrets through HAProxy

/** A cell instance (or the hub) with /health, and (cells) a bridge to the hub. */
async function instance(name, { cell, hub, bridgeId } = {}) {
  const healthPort = await freePort();
  const options = { metrics_port: healthPort, trusted_proxies: '127.0.0.1' };
  if (cell) options.cell = cell;
  if (hub) options.mode = 'hub';
  const extraConf = bridgeId ? [
    'connection hub',
    `address 127.0.0.1:${inst.hub.port}`,
    'topic wards/# out 1',
    'topic adt/# in 1',
    `remote_clientid ${bridgeId}`,
    `remote_username ${bridgeId}`,
    `remote_password ${secrets[bridgeId]}`,
    'cleansession true',
    'notifications false',
    'restart_timeout 1',
  ] : [];
  const b = await Broker.start(bench.root, {
    ...bench.brokerOpts, spoolDir: bench.newSpool(`spool-${name}`), options, extraConf,
  });
  b.name = name;
  b.healthPort = healthPort;
  bench.cleanups.push(() => b.stop());
  return b;
}

function whoSaw(id, marks = {}) {
  const re = new RegExp(`New client connected from .* as ${id} `);
  return Object.entries(inst).filter(([k, b]) => b.lines.slice(marks[k] ?? 0).some((l) => re.test(l))).map(([k]) => k);
}
const marks = () => Object.fromEntries(Object.entries(inst).map(([k, b]) => [k, b.mark()]));
const track = (c) => { clients.push(c); return c; };
const health = async (b) => JSON.parse((await httpGet(b.healthPort, '/health')).body);

before(async () => {
  bench = await Bench.start({ noBroker: true });
  for (const [ward, cell] of Object.entries(WARDS)) await bench.adminOk(['ward', 'place', ward, '--cell', cell]);
  let i = 0;
  for (const [id, ward] of Object.entries(DEVICES)) secrets[id] = await bench.addDevice(id, ward, `B${i++}`);
  for (const id of THROTTLED) secrets[id] = await bench.addDevice(id, 'WA', `T${i++}`);
  secrets['dev-x'] = await bench.addDevice('dev-x', 'WX', 'B1');           // a ward placed on no cell
  secrets['sta-a'] = await bench.adminOk(['station', 'add', 'sta-a', '--wards', 'WA']);
  secrets['sta-a-hub'] = await bench.adminOk(['station', 'add', 'sta-a-hub', '--wards', 'WA']);
  secrets['sta-rr'] = await bench.adminOk(['station', 'add', 'sta-rr', '--wards', 'WA,WB']); // rapid response
  secrets.core = await bench.adminOk(['service', 'add', 'core']);
  for (const id of ['cell-a1', 'cell-a2', 'cell-a9']) secrets[id] = await bench.adminOk(['cell', 'add', id, '--cell', 'a']);
  for (const id of ['cell-b1', 'cell-b2']) secrets[id] = await bench.adminOk(['cell', 'add', id, '--cell', 'b']);
  inst.hub = await instance('hub', { hub: true });
  [inst.a1, inst.a2, inst.b1, inst.b2] = await Promise.all([
    instance('a1', { cell: 'a', bridgeId: 'cell-a1' }), instance('a2', { cell: 'a', bridgeId: 'cell-a2' }),
    instance('b1', { cell: 'b', bridgeId: 'cell-b1' }), instance('b2', { cell: 'b', bridgeId: 'cell-b2' }),
  ]);
  const map = parseMap(await bench.adminOk(['cells', 'haproxy-map']));
  hx = await Haproxy.start(bench.root, {
    map,
    throttle: { failures: 20 },
    cells: [
      { name: 'a', primary: inst.a1, standby: inst.a2 },
      { name: 'b', primary: inst.b1, standby: inst.b2 },
      { name: 'hub', primary: inst.hub },
    ],
  });
  bench.cleanups.push(() => hx.stop());
  for (const c of ['a', 'b', 'hub']) await hx.waitStatus(`cell_${c}`, 'primary', /^UP$/);
  // Every bridge logged in to the hub.
  await waitFor(() => ['cell-a1', 'cell-a2', 'cell-b1', 'cell-b2'].every((id) => whoSawBridge(id)), { what: 'the bridges' });
});

function whoSawBridge(id) {
  return inst.hub.lines.some((l) => new RegExp(`New bridge connected from .* as ${id} `).test(l));
}

after(async () => {
  for (const c of clients) c.end(true);
  await bench?.stop();
});

test('cells: vitalgate-admin places wards and writes HAProxy\'s map (devices to their ward\'s cell, a station of several cells and services to the hub)', async () => {
  const map = new Map(parseMap(await bench.adminOk(['cells', 'haproxy-map'])));
  assert.equal(map.get('dev-a1'), 'a');
  assert.equal(map.get('dev-m1'), 'a');
  assert.equal(map.get('dev-b1'), 'b');
  assert.equal(map.get('sta-a'), 'a');
  assert.equal(map.get('sta-rr'), 'hub', 'wards on two cells: the hub');
  assert.equal(map.get('core'), 'hub');
  assert.equal(map.get('cell-a1'), 'hub');
  assert.equal(map.has('dev-x'), false, 'a ward placed on no cell: no entry (HAProxy refuses it)');
  assert.equal((await bench.adminOk(['cells', 'haproxy-map', '--hub', 'central'])).includes('core central'), true);
  const list = await bench.adminOk(['cells', 'list']);
  assert.match(list, /^a\s+2\s+\d+\s+\d+\s+3\s+WA,WM$/m);
  assert.match(list, /^b\s+1\s+2\s+1\s+2\s+WB$/m);
  // Usage errors exit 2 before touching the database.
  assert.equal(bench.admin(['ward', 'place', 'WA']).code, 2);
  assert.equal(bench.admin(['ward', 'place', 'WA', '--cell', 'no;pe']).code, 2);
  assert.equal(bench.admin(['cell', 'add', 'cell-z']).code, 2);
  assert.equal(bench.admin(['cells', 'list', '--cell', 'a']).code, 2);
  // The placement is audited.
  const aud = await bench.pg.query("SELECT detail FROM audit_log WHERE event = 'ward.place' ORDER BY id");
  assert.deepEqual(aud.rows.map((r) => r.detail), ['ward=WA cell=a', 'ward=WM cell=a', 'ward=WB cell=b']);
});

test('cells: a cell keeps only the identities it serves; a device of another cell is refused at CONNECT and the log names its cell', async () => {
  // a: 4 devices of WA + 5 of WT + dev-m1, sta-a, sta-a-hub, sta-rr (a ward here), core = 13; never dev-b*, cells' bridges.
  const loaded = (b) => Number(/identities loaded \((\d+)\)/.exec(b.lines.find((l) => /identities loaded/.test(l)))[1]);
  assert.equal(loaded(inst.a1), 13);
  assert.equal(loaded(inst.a2), 13);
  assert.equal(loaded(inst.b1), 4, 'b: dev-b1, dev-b2, sta-rr, core, and nothing of a');
  assert.equal(loaded(inst.hub), 4 + 5, 'hub: 4 stations and services (sta-a, sta-a-hub, sta-rr, core) and 5 bridge identities');
  const m = inst.b1.mark();
  await assert.rejects(connect(inst.b1.port, { id: 'dev-a1', password: secrets['dev-a1'] }), /Not authorized|Bad User Name or Password/);
  await inst.b1.waitLog(/refused connection of "dev-a1" .*unknown identity \(not served by this cell\)/, 5000, m);
  await inst.b1.waitLog(/cell b: device dev-a1 belongs to ward WA on cell a/, 5000, m);
  await assert.rejects(connect(inst.a1.port, { id: 'dev-x', password: secrets['dev-x'] }), /Not authorized|Bad User Name/);
  await inst.a1.waitLog(/cell a: device dev-x is in ward WX, placed on no cell: no cell serves it/, 5000);
  // The hub ingests nothing: no device may even log in there.
  await assert.rejects(connect(inst.hub.port, { id: 'dev-a1', password: secrets['dev-a1'] }), /Not authorized|Bad User Name/);
  const h = await health(inst.hub);
  assert.equal(h.mode, 'hub');
  assert.equal(h.serving, true);
  const ha = await health(inst.a1);
  assert.equal(ha.mode, 'cell');
  assert.equal(ha.cell, 'a');
  assert.equal(ha.serving, true);
});

test('cells: through HAProxy, devices of a ward only ever land on their cell\'s primary', async () => {
  const m = marks();
  const conns = [];
  for (const id of Object.keys(DEVICES)) conns.push(track(await connect(hx.port, { id, password: secrets[id] })));
  for (const [i, c] of conns.entries()) {
    const id = Object.keys(DEVICES)[i];
    assert.equal(await publishQos1(c, `vitals/${id}`, sample({ v: 1, seq: 1, ts: Date.now(), hr: 72 })), 0);
  }
  await waitFor(() => Object.keys(DEVICES).every((id) => whoSaw(id, m).length), { what: 'every device on a broker' });
  for (const [id, ward] of Object.entries(DEVICES)) assert.deepEqual(whoSaw(id, m), [`${WARDS[ward]}1`], id);
  await Promise.all(conns.map((c) => c.endAsync()));
});

test('cells: a station of ward WA reads WA on cell a and on the hub, never WB; a rapid-response station and a service read both wards on the hub', async () => {
  const staA = track(await connect(hx.port, { id: 'sta-a', password: secrets['sta-a'] }));
  const staHub = track(await connect(inst.hub.port, { id: 'sta-a-hub', password: secrets['sta-a-hub'] }));
  const rr = track(await connect(hx.port, { id: 'sta-rr', password: secrets['sta-rr'] }));
  const core = track(await connect(hx.port, { id: 'core', password: secrets.core }));
  await waitFor(() => whoSaw('sta-rr').length && whoSaw('core').length, { what: 'sta-rr and core on a broker' });
  assert.deepEqual(whoSaw('sta-rr'), ['hub'], 'HAProxy sends a station of several cells to the hub');
  assert.deepEqual(whoSaw('core'), ['hub'], 'and services');
  const got = { staA: collect(staA), staHub: collect(staHub), rr: collect(rr), core: collect(core) };
  assert.equal(await subscribeRc(staA, 'wards/WA/alerts'), 1);
  assert.ok(await subscribeRc(staA, 'wards/WB/alerts') >= 0x80, 'WB is not sta-a\'s ward, on a cell');
  assert.equal(await subscribeRc(staHub, 'wards/WA/alerts'), 1);
  assert.ok(await subscribeRc(staHub, 'wards/WB/alerts') >= 0x80, 'nor on the hub');
  assert.ok(await subscribeRc(staHub, 'wards/+/alerts') >= 0x80);
  assert.equal(await subscribeRc(rr, 'wards/WA/alerts'), 1);
  assert.equal(await subscribeRc(rr, 'wards/WB/alerts'), 1);
  assert.equal(await subscribeRc(core, 'wards/+/alerts'), 1);
  // An alert in each ward, raised on its cell.
  const a = track(await connect(hx.port, { id: 'dev-a2', password: secrets['dev-a2'] }));
  const b = track(await connect(hx.port, { id: 'dev-b2', password: secrets['dev-b2'] }));
  assert.equal(await publishQos1(a, 'vitals/dev-a2', sample({ v: 1, seq: 10, ts: Date.now(), spo2: 84 })), 0);
  assert.equal(await publishQos1(b, 'vitals/dev-b2', sample({ v: 1, seq: 10, ts: Date.now(), spo2: 84 })), 0);
  const raised = (msgs, ward) => msgs.some((x) => x.topic === `wards/${ward}/alerts` && JSON.parse(x.text).type === 'alert.raised');
  await waitFor(() => raised(got.staA, 'WA') && raised(got.staHub, 'WA') && raised(got.rr, 'WA') && raised(got.rr, 'WB')
    && raised(got.core, 'WA') && raised(got.core, 'WB'), { what: 'the alerts on the cell and, bridged, on the hub' });
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(!got.staA.some((x) => x.topic.startsWith('wards/WB/')), 'sta-a never sees WB');
  assert.ok(!got.staHub.some((x) => x.topic.startsWith('wards/WB/')), 'sta-a-hub never sees WB');
  // Each alert was sent to the hub once per instance that saw it: the
  // primary raised it; the standby only mirrors (it raises nothing).
  const ids = got.core.filter((x) => x.topic === 'wards/WA/alerts').map((x) => JSON.parse(x.text).data.alert_id);
  assert.equal(new Set(ids).size, 1);
  await Promise.all([a.endAsync(), b.endAsync()]);
});

test('cells: the core publishes occupancy on the hub, which validates it; the cells serving the ward take it through their bridges (adt/# in), the others never see it', async () => {
  const core = track(await connect(inst.hub.port, { id: 'core', password: secrets.core }));
  const m = marks();
  const since = new Date(Date.now() - 10000).toISOString();
  assert.equal(await publishQos1(core, 'adt/WA/B0', JSON.stringify({ patient: 'p-a', encounter: 'e-a', since }),
    { retain: true }), 0);
  assert.equal(await publishQos1(core, 'adt/WA/B0', '{"patient":', { retain: true }), 0x87, 'the hub validates');
  await inst.hub.waitLog(/refused occupancy of WA\/B0 from core: /, 5000, m.hub);
  await inst.a1.waitLog(/bed WA\/B0 occupied since .* \(from the hub \(bridge\)\)/, 10000, m.a1);
  await inst.a2.waitLog(/bed WA\/B0 occupied since/, 10000, m.a2);
  assert.ok(!inst.hub.lines.slice(m.hub).some((l) => /bed WA\/B0 (occupied|vacant)/.test(l)), 'the hub keeps no occupancy');
  const dev = track(await connect(hx.port, { id: 'dev-a1', password: secrets['dev-a1'] }));
  assert.equal(await publishQos1(dev, 'vitals/dev-a1', sample({ v: 1, seq: 50, ts: Date.now(), hr: 72 })), 0);
  await waitFor(async () => (await bench.pg.query("SELECT patient_id FROM vitals WHERE device_id = 'dev-a1' AND seq = 50"))
    .rows[0]?.patient_id === 'p-a', { what: 'the sample of WA/B0 linked to p-a' });
  await new Promise((r) => setTimeout(r, 300));
  for (const k of ['b1', 'b2']) {
    assert.ok(!inst[k].lines.slice(m[k]).some((l) => /WA\/B0/.test(l)), `cell b (${k}) never sees WA's occupancy`);
  }
  await dev.endAsync();
  await core.endAsync();
});

test('cells: a cell\'s identity may publish on the hub only under the wards placed on its cell', async () => {
  const c = track(await connect(inst.hub.port, { id: 'cell-a9', password: secrets['cell-a9'] }));
  const body = JSON.stringify({ type: 'alert.raised', data: { alert_id: 'al_forged' } });
  assert.equal(await publishQos1(c, 'wards/WA/alerts', body), 0, 'its own ward');
  assert.equal(await publishQos1(c, 'wards/WM/vitals', '{}', { retain: true }), 0, 'retained frames too');
  assert.equal(await publishQos1(c, 'wards/WB/alerts', body), 0x87, 'another cell\'s ward');
  assert.equal(await publishQos1(c, 'vitals/dev-a1', sample({ v: 1, seq: 1, ts: Date.now(), hr: 70 })), 0x87);
  assert.equal(await publishQos1(c, 'devices/dev-a1/rejections', '{}'), 0x87);
  assert.ok(await subscribeRc(c, 'wards/WA/#') >= 0x80, 'a bridge identity reads nothing');
  await inst.hub.waitLog(/denied publish of "wards\/WB\/alerts" to cell-a9/);
  await c.endAsync();
  // A station cannot publish into wards/ on the hub either.
  const s = track(await connect(inst.hub.port, { id: 'sta-a-hub', password: secrets['sta-a-hub'] }));
  assert.equal(await publishQos1(s, 'wards/WA/alerts', body), 0x87);
  await s.endAsync();
});

test('cells: behind HAProxy (a trusted proxy), failed logins lock out neither HAProxy\'s address nor a device with its right secret; HAProxy throttles the real address', async () => {
  const m = inst.a1.mark();
  const failed = async () => promValue((await httpGet(inst.a1.healthPort, '/metrics')).body, 'vitalgate_auth_total{result="failed"}');
  const failed0 = await failed();
  // 5 devices x 5 wrong secrets from one address (127.0.0.7) through
  // HAProxy: 25 attempts, past the broker's per-address budget (20 a
  // minute) were HAProxy's address counted there.
  let refusedByBroker = 0;
  let cutByHaproxy = 0;
  for (const id of THROTTLED) {
    for (let k = 0; k < 5; k++) {
      try {
        track(await connect(hx.port, { id, password: 'vgs_wrong', localAddress: '127.0.0.7' }));
        assert.fail('a wrong secret was accepted');
      } catch (e) {
        if (/Not authorized|Bad User Name/.test(e.message)) refusedByBroker += 1;
        else if (/closed before CONNACK|ECONNRESET/.test(e.message)) cutByHaproxy += 1;
        else throw e;
      }
    }
  }
  assert.equal(refusedByBroker, 20, 'the broker refused 20 of them');
  assert.equal(cutByHaproxy, 5, 'then HAProxy refused the address itself (throttle.failures 20)');
  await waitFor(async () => await failed() - failed0 >= 20, { what: '20 refusals counted by a1' });
  assert.ok(!inst.a1.lines.slice(m).some((l) => /throttling address/.test(l)), 'the broker does not throttle HAProxy\'s address');
  // Any device from another address, its right secret: in.
  const ok = track(await connect(hx.port, { id: 'dev-a3', password: secrets['dev-a3'] }));
  assert.equal(await publishQos1(ok, 'vitals/dev-a3', sample({ v: 1, seq: 20, ts: Date.now(), hr: 70 })), 0);
  await ok.endAsync();
  // The failing address is refused by HAProxy, even with a right secret.
  await assert.rejects(connect(hx.port, { id: 'dev-a3', password: secrets['dev-a3'], localAddress: '127.0.0.7' }),
    /closed before CONNACK|ECONNRESET/);
  // The same failures straight to the broker from an address that is not a
  // proxy are throttled by the broker, as before (25 names it does not know).
  const m2 = inst.a1.mark();
  for (let k = 0; k < 25; k++) {
    await connect(inst.a1.port, { id: `dev-nobody-${k}`, password: 'vgs_wrong', localAddress: '127.0.0.9' }).catch(() => {});
  }
  await inst.a1.waitLog(/throttling address 127\.0\.0\.9/, 5000, m2);
  await assert.rejects(connect(inst.a1.port, { id: 'dev-a3', password: secrets['dev-a3'], localAddress: '127.0.0.9' }),
    /Not authorized|Bad User Name/);
});

test('cells: a draining instance says it does not serve; HAProxy takes its clients to the standby', async () => {
  const drain = path.join(inst.a1.opts.spoolDir, 'draining');
  writeFileSync(drain, '');
  try {
    await waitFor(async () => (await health(inst.a1)).serving === false, { what: 'a1 to say it does not serve' });
    assert.match((await health(inst.a1)).serving_reason, /draining/);
    await hx.waitStatus('cell_a', 'primary', /^DOWN/);
    const m = marks();
    const c = track(await connect(hx.port, { id: 'dev-a1', password: secrets['dev-a1'] }));
    await waitFor(() => whoSaw('dev-a1', m).length, { what: 'dev-a1 on a broker' });
    assert.deepEqual(whoSaw('dev-a1', m), ['a2']);
    await c.endAsync();
  } finally {
    rmSync(drain, { force: true });
  }
  await waitFor(async () => (await health(inst.a1)).serving === true, { what: 'a1 to serve again' });
});

test('cells: placing a ward on another cell moves its devices (the losing cell disconnects them, naming the new cell; the gaining cell takes them)', async () => {
  const dev = track(await connect(inst.a1.port, { id: 'dev-m1', password: secrets['dev-m1'] }));
  assert.equal(await publishQos1(dev, 'vitals/dev-m1', sample({ v: 1, seq: 30, ts: Date.now(), spo2: 85 })), 0);
  await waitFor(async () => (await bench.pg.query("SELECT 1 FROM alert_open WHERE device_id = 'dev-m1'")).rowCount === 1,
    { what: 'the alert of dev-m1 in alert_open' });
  const alertId = (await bench.pg.query("SELECT alert_id FROM alert_open WHERE device_id = 'dev-m1'")).rows[0].alert_id;
  const m = marks();
  await bench.adminOk(['ward', 'place', 'WM', '--cell', 'b']);
  await closed(dev);
  await inst.a1.waitLog(/disconnecting dev-m1 \(ward WM moved to cell b\)/, 5000, m.a1);
  await inst.b1.waitLog(/ward WM: open alerts read; its devices are taken here/, 5000, m.b1);
  const again = track(await connect(inst.b1.port, { id: 'dev-m1', password: secrets['dev-m1'] }));
  assert.equal(await publishQos1(again, 'vitals/dev-m1', sample({ v: 1, seq: 31, ts: Date.now(), spo2: 85 })), 0);
  // The same alert continues: no second alert.raised for the condition.
  await new Promise((r) => setTimeout(r, 500));
  const ev = await bench.pg.query("SELECT alert_id, type FROM alert_events WHERE device_id = 'dev-m1' ORDER BY created_at");
  assert.deepEqual(ev.rows.filter((r) => r.type === 'alert.raised').map((r) => r.alert_id), [alertId]);
  assert.ok(!inst.b1.lines.slice(m.b1).some((l) => /alert.raised threshold .* at WM/.test(l)));
  // a no longer knows it; the map moves it for HAProxy.
  await assert.rejects(connect(inst.a1.port, { id: 'dev-m1', password: secrets['dev-m1'] }), /Not authorized|Bad User Name/);
  assert.equal(new Map(parseMap(await bench.adminOk(['cells', 'haproxy-map']))).get('dev-m1'), 'b');
  await again.endAsync();
});
