// HAProxy (Debian's 2.6) in front of two cells (issue 14): each cell is a
// primary and a standby Mosquitto + Vitalgate sharing one PostgreSQL, with
// an MQTT listener, a TLS listener (require_certificate) and /health on
// plugin_opt_metrics_port. HAProxy runs the configuration that
// tools/haproxy-cells.mjs renders (the shipped compose/haproxy/haproxy.cfg
// is the same rendering), with the shipped check timings. Which broker a
// client reached is read from that broker's own log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import path from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

import mqtt from 'mqtt';

import { Bench, Broker, connect, publishQos1, sample, waitFor, freePort, SOURCE_DIR } from '../lib/bench.mjs';
import { makeCA, issue } from '../lib/certs.mjs';
import { Haproxy, HAPROXY, SNI_SUFFIX, TIMINGS, budget } from '../lib/haproxy.mjs';
import { renderConfig } from '../../tools/haproxy-cells.mjs';

const TOOL = path.join(SOURCE_DIR, 'tools/haproxy-cells.mjs');
const cli = (argv) => execFileSync(process.execPath, [TOOL, ...argv], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const BACKOFF = 500; // the test devices' reconnect delay (mqtt.js reconnectPeriod)
// Scheduling slack on a 2-core machine shared with other builds (and the
// brokers may run under ASan): added to the computed budgets, never to the
// HAProxy timings themselves.
const SLACK = 1000;

let bench;
let hx;
let pki;
const inst = {};        // a.primary, a.standby, b.primary, b.standby
const secrets = {};
const fakes = [];       // fake health endpoints (health semantics test)
const clients = [];

const DEVICES = {
  a: ['dev-a1', 'dev-a2', 'dev-a3', 'dev-a4', 'dev-a5', 'dev-a6', 'dev-a7', 'dev-a8'],
  b: ['dev-b1', 'dev-b2', 'dev-b3'],
};

/** A Mosquitto + Vitalgate instance with /health and a TLS listener. */
async function instance(name) {
  const healthPort = await freePort();
  const tlsPort = await freePort();
  const b = await Broker.start(bench.root, {
    ...bench.brokerOpts,
    spoolDir: bench.newSpool(`spool-${name}`),
    options: { metrics_port: healthPort },
    extraConf: [
      `listener ${tlsPort} 127.0.0.1`,
      `cafile ${pki.ca.ca}`, `certfile ${pki.server.cert}`, `keyfile ${pki.server.key}`,
      'require_certificate true', 'use_identity_as_username false',
    ],
  });
  b.name = name;
  b.healthPort = healthPort;
  b.tlsPort = tlsPort;
  bench.cleanups.push(() => b.stop());
  return b;
}

/** Broker instances whose log says `id` connected after their marks. */
function whoSaw(id, marks = {}) {
  const re = new RegExp(`New client connected from .* as ${id} `);
  return Object.entries(inst).filter(([k, b]) => b.lines.slice(marks[k] ?? 0).some((l) => re.test(l))).map(([k]) => k);
}

const marks = () => Object.fromEntries(Object.entries(inst).map(([k, b]) => [k, b.mark()]));
const newConnections = (m) => Object.entries(inst).reduce((n, [k, b]) => n + b.lines.slice(m[k]).filter((l) => /New connection from/.test(l)).length, 0);

/** An MQTT CONNECT packet (3.1.1 or 5) with username and password. */
function connectPacket(id, user, pass, version = 4) {
  const str = (s) => { const b = Buffer.from(s); return Buffer.concat([Buffer.from([b.length >> 8, b.length & 255]), b]); };
  const vh = Buffer.concat([str('MQTT'), Buffer.from([version, 0xc2, 0, 60]), version === 5 ? Buffer.from([0]) : Buffer.alloc(0)]);
  const body = Buffer.concat([vh, str(id), str(user), str(pass)]);
  const len = [];
  let n = body.length;
  do { let d = n % 128; n = Math.floor(n / 128); if (n) d |= 128; len.push(d); } while (n);
  return Buffer.concat([Buffer.from([0x10, ...len]), body]);
}

/**
 * Sends chunks on a raw TCP connection to port (gapMs between them) and
 * resolves with what came back and when the connection closed.
 */
function raw(port, chunks, { gapMs = 0, timeout = 15000 } = {}) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const got = [];
    const s = net.createConnection({ port, host: '127.0.0.1' });
    const done = (how) => { clearTimeout(timer); s.destroy(); resolve({ how, data: Buffer.concat(got), ms: Date.now() - t0 }); };
    const timer = setTimeout(() => done('open'), timeout);
    s.on('data', (d) => {
      got.push(d);
      if (got.reduce((n, b) => n + b.length, 0) >= 4) done('answered');
    });
    s.on('close', () => done('closed'));
    s.on('error', () => done('closed'));
    s.on('connect', async () => {
      for (const [i, c] of chunks.entries()) {
        if (i && gapMs) await new Promise((r) => setTimeout(r, gapMs));
        if (!s.destroyed) s.write(c);
      }
    });
  });
}

/** A device that reconnects by itself (like firmware would), counting its connections. */
function device(id, { tls, via = hx } = {}) {
  const opts = {
    clientId: id, username: tls ? undefined : id, password: tls ? undefined : secrets[id], protocolVersion: 5,
    reconnectPeriod: BACKOFF, connectTimeout: 5000, clean: true,
  };
  const c = tls
    ? mqtt.connect(`mqtts://127.0.0.1:${via.tlsPort}`, { ...opts, ...tls, servername: `${id}${SNI_SUFFIX}`, rejectUnauthorized: true })
    : mqtt.connect(`mqtt://127.0.0.1:${via.port}`, opts);
  c.vg = { id, connects: [], closes: [] };
  c.on('connect', () => c.vg.connects.push(Date.now()));
  c.on('close', () => c.vg.closes.push(Date.now()));
  c.on('error', () => {});
  clients.push(c);
  return c;
}

/** A fake instance: a TCP port that accepts (its MQTT listener) and a /health we script. */
async function fakeInstance(behaviour) {
  const mqttSrv = net.createServer((s) => s.on('error', () => {}));
  await new Promise((r) => mqttSrv.listen(0, '127.0.0.1', r));
  const health = http.createServer((req, res) => {
    const b = behaviour();
    if (b === 'hang') return; // never answers
    res.writeHead(b.status, { 'Content-Type': 'application/json', Age: String(b.age ?? 0), Connection: 'close' });
    res.end(b.body ?? '{"status":"ok"}\n');
  });
  await new Promise((r) => health.listen(0, '127.0.0.1', r));
  fakes.push(mqttSrv, health);
  return { port: mqttSrv.address().port, healthPort: health.address().port };
}

before(async () => {
  bench = await Bench.start({ noBroker: true });
  for (const [cell, ids] of Object.entries(DEVICES)) {
    for (const [i, id] of ids.entries()) secrets[id] = await bench.addDevice(id, cell === 'a' ? 'WA' : 'WB', `B${i}`);
  }
  secrets['dev-x'] = await bench.addDevice('dev-x', 'WA', 'B99'); // provisioned, but in no cell's map
  await bench.addDevice('dev-ta', 'WA', 'T1');                   // mTLS devices
  await bench.addDevice('dev-tb', 'WB', 'T1');
  const ca = makeCA(path.join(bench.root, 'pki'));
  const rogue = makeCA(path.join(bench.root, 'rogue'), { cn: 'Not the hospital CA' });
  pki = {
    ca,
    // Every instance answers for any device name under the suffix.
    server: issue(ca, 'server', 'cells', `DNS:*${SNI_SUFFIX},IP:127.0.0.1`),
    ta: issue(ca, 'dev-ta', 'dev-ta'),
    tb: issue(ca, 'dev-tb', 'dev-tb'),
    rogue: issue(rogue, 'dev-ta', 'dev-ta'),
  };
  [inst.aPrimary, inst.aStandby, inst.bPrimary, inst.bStandby] = await Promise.all(
    ['a-primary', 'a-standby', 'b-primary', 'b-standby'].map((n) => instance(n)));
  // Fake cells for the health semantics: each primary's /health answers one way.
  const fake = {
    degraded: await fakeInstance(() => ({ status: 503, body: '{"database":{"reachable":false},"status":"degraded"}\n' })),
    notServing: await fakeInstance(() => ({ status: 200, body: '{"serving":false,"status":"ok"}\n' })),
    stale: await fakeInstance(() => ({ status: 200, age: 4 })),
    hung: await fakeInstance(() => 'hang'),
    notFound: await fakeInstance(() => ({ status: 404 })),
  };
  const map = [...DEVICES.a.map((id) => [id, 'a']), ...DEVICES.b.map((id) => [id, 'b']), ['dev-ta', 'a'], ['dev-tb', 'b']];
  hx = await Haproxy.start(bench.root, {
    mqtts: true,
    stats: true,
    map,
    cells: [
      { name: 'a', primary: inst.aPrimary, standby: inst.aStandby },
      { name: 'b', primary: inst.bPrimary, standby: inst.bStandby },
      ...Object.entries(fake).map(([name, f]) => ({ name: `fake_${name}`, primary: { ...f, tlsPort: f.port } })),
    ],
  });
  bench.cleanups.push(() => hx.stop());
  await hx.waitStatus('cell_a', 'primary', /^UP$/);
  await hx.waitStatus('cell_b', 'primary', /^UP$/);
});

after(async () => {
  for (const c of clients) c.end(true);
  for (const f of fakes) f.close();
  await bench?.stop();
});

test('haproxy: the shipped compose/haproxy/haproxy.cfg is the rendering of compose/haproxy/cells.json and HAProxy 2.6 accepts it', () => {
  const dir = path.join(SOURCE_DIR, 'compose/haproxy');
  const spec = JSON.parse(readFileSync(path.join(dir, 'cells.json'), 'utf8'));
  assert.equal(readFileSync(path.join(dir, 'haproxy.cfg'), 'utf8'), renderConfig(spec),
    'compose/haproxy/haproxy.cfg is out of date: node tools/haproxy-cells.mjs render compose/haproxy/cells.json > compose/haproxy/haproxy.cfg');
  // -c parses everything (backends, checks, maps are only opened at start:
  // the shipped paths need not exist here), with the test's own map path.
  const cfg = path.join(bench.root, 'shipped.cfg');
  execFileSync('sh', ['-c', `sed 's#${spec.map}#${hx.mapFile}#; s#${spec.stats_socket}#${bench.root}/shipped.sock#' '${path.join(dir, 'haproxy.cfg')}' > '${cfg}'`]);
  const r = execFileSync(HAPROXY, ['-c', '-f', cfg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.match(r, /Configuration file is valid/);
});

test('haproxy (a): a client id in the map reaches its own cell\'s primary, never another instance; 3.1.1 and 5 alike', async () => {
  const m = marks();
  const a1 = await connect(hx.port, { id: 'dev-a1', password: secrets['dev-a1'] });
  const a2 = await connect(hx.port, { id: 'dev-a2', password: secrets['dev-a2'], protocolVersion: 4 });
  const b1 = await connect(hx.port, { id: 'dev-b1', password: secrets['dev-b1'], properties: { userProperties: { site: 'north' } } });
  assert.equal(await publishQos1(a1, 'vitals/dev-a1', sample({ v: 1, seq: 1, ts: Date.now(), hr: 70 })), 0);
  await waitFor(() => whoSaw('dev-a1', m).length && whoSaw('dev-a2', m).length && whoSaw('dev-b1', m).length, { what: 'the brokers to log the clients' });
  assert.deepEqual(whoSaw('dev-a1', m), ['aPrimary']);
  assert.deepEqual(whoSaw('dev-a2', m), ['aPrimary']);
  assert.deepEqual(whoSaw('dev-b1', m), ['bPrimary']);
  await hx.waitLog(/cell_a\/primary .* cid=dev-a1$/);
  await hx.waitLog(/cell_b\/primary .* cid=dev-b1$/);
  await Promise.all([a1.endAsync(), a2.endAsync(), b1.endAsync()]);
});

test('haproxy (a): a CONNECT split across TCP segments is reassembled before routing', async () => {
  const m = marks();
  const pkt = connectPacket('dev-b2', 'dev-b2', secrets['dev-b2']);
  // Three segments 300 ms apart: the fixed header alone, then part of the
  // client id, then the rest. HAProxy waits (inspect-delay) for the whole packet.
  const r = await raw(hx.port, [pkt.subarray(0, 2), pkt.subarray(2, 17), pkt.subarray(17)], { gapMs: 300 });
  assert.equal(r.how, 'answered', JSON.stringify(r));
  assert.deepEqual([...r.data.subarray(0, 4)], [0x20, 2, 0, 0], 'CONNACK, accepted');
  assert.ok(r.ms >= 600, `answered after the last segment (${r.ms} ms)`);
  assert.deepEqual(whoSaw('dev-b2', m), ['bPrimary']);
});

test('haproxy (a): a client id the map does not list is refused by HAProxy, without reaching any broker', async () => {
  const m = marks();
  // dev-x is provisioned (any broker would accept it): HAProxy alone refuses.
  await assert.rejects(connect(hx.port, { id: 'dev-x', password: secrets['dev-x'] }), /closed before CONNACK|ECONNRESET/);
  await hx.waitLog(/no_cell\/<NOSRV> .* cid=dev-x$/);
  assert.equal(newConnections(m), 0, 'no broker saw a connection');
});

test('haproxy (b): a map change through the runtime API moves new connections, without restarting HAProxy', async () => {
  const pid = hx.pid;
  const uptime = async () => Number(/^Uptime_sec: (\d+)/m.exec(await hx.runtime.command('show info'))[1]);
  const before = await uptime();
  const stay = await connect(hx.port, { id: 'dev-a3', password: secrets['dev-a3'] });
  let m = marks();
  await hx.runtime.setEntry(hx.mapFile, 'dev-a4', 'b');
  await hx.runtime.setEntry(hx.mapFile, 'dev-new', 'b'); // an id the file did not have: added
  assert.equal((await hx.runtime.showMap(hx.mapFile)).get('dev-a4'), 'b');
  assert.equal((await hx.runtime.showMap(hx.mapFile)).get('dev-new'), 'b');
  const moved = await connect(hx.port, { id: 'dev-a4', password: secrets['dev-a4'] });
  await waitFor(() => whoSaw('dev-a4', m).length, { what: 'dev-a4 to connect' });
  assert.deepEqual(whoSaw('dev-a4', m), ['bPrimary']);
  await moved.endAsync();
  // The whole map, replaced atomically (prepare / add / commit): dev-a4 back in a.
  m = marks();
  const entries = [...DEVICES.a.map((id) => [id, 'a']), ...DEVICES.b.map((id) => [id, 'b']), ['dev-ta', 'a'], ['dev-tb', 'b']];
  writeFileSync(hx.mapFile, `# written by vitalgate-admin cells haproxy-map\n${entries.map(([k, v]) => `${k} ${v}`).join('\n')}\n`);
  cli(['push', hx.mapFile, hx.socket]);
  const now = await hx.runtime.showMap(hx.mapFile);
  assert.equal(now.size, entries.length);
  assert.equal(now.get('dev-a4'), 'a');
  assert.equal(now.has('dev-new'), false);
  const back = await connect(hx.port, { id: 'dev-a4', password: secrets['dev-a4'] });
  await waitFor(() => whoSaw('dev-a4', m).length, { what: 'dev-a4 to connect again' });
  assert.deepEqual(whoSaw('dev-a4', m), ['aPrimary']);
  await back.endAsync();
  // Ids and cells outside the contract's grammar never reach the runtime API
  // (a ';' or a newline would carry a second command).
  await assert.rejects(hx.runtime.setEntry(hx.mapFile, 'dev-a4;clear map x', 'a'), /is not \[A-Za-z0-9_-\]/);
  await assert.rejects(hx.runtime.setEntry(hx.mapFile, 'dev-a4', 'a\nshutdown sessions server cell_a/primary'), /is not/);
  assert.equal((await hx.runtime.showMap(hx.mapFile)).size, entries.length);
  // Deleting an entry: the id is refused from then on.
  await hx.runtime.delEntry(hx.mapFile, 'dev-a5');
  await assert.rejects(connect(hx.port, { id: 'dev-a5', password: secrets['dev-a5'] }), /closed before CONNACK|ECONNRESET/);
  await hx.runtime.setEntry(hx.mapFile, 'dev-a5', 'a');
  // Connections made before a change stay where they are (a cell moving a
  // ward disconnects its devices itself; docs/scale-out.md).
  assert.equal(stay.connected, true);
  await stay.endAsync();
  assert.equal(hx.pid, pid);
  assert.equal(hx.exit, null);
  assert.ok(await uptime() >= before, 'same process, uptime not reset');
});

test('haproxy (f): garbage, HTTP, a malformed CONNECT and a CONNECT never completed are closed by HAProxy, never reaching a broker', async () => {
  const m = marks();
  const good = connectPacket('dev-a6', 'dev-a6', secrets['dev-a6']);
  const badProto = Buffer.from(good);
  badProto.write('MQTX', 4); // protocol name
  const badLen = Buffer.from(good);
  badLen[1] = 0xff;           // remaining length continues past the packet: never valid
  badLen[2] = 0xff;
  badLen[3] = 0xff;
  badLen[4] = 0xff;
  const t0 = Date.now();
  const stalled = raw(hx.port, [good.subarray(0, 10)]); // then silence
  const results = await Promise.all([
    raw(hx.port, [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]),
    raw(hx.port, [Buffer.from([0x30, 0x05, 0, 1, 0x61, 0x62, 0x63])]), // a PUBLISH first
    raw(hx.port, [Buffer.from('\x16\x03\x01\x00\x05hello', 'latin1')]),
    raw(hx.port, [badProto]),
    raw(hx.port, [badLen]),
  ]);
  for (const r of results) {
    assert.equal(r.how, 'closed', JSON.stringify(r));
    assert.equal(r.data.length, 0, 'not a byte back');
    assert.ok(r.ms < 2000, `closed at once (${r.ms} ms)`);
  }
  const s = await stalled;
  assert.equal(s.how, 'closed');
  assert.equal(s.data.length, 0);
  const held = Date.now() - t0;
  assert.ok(held >= TIMINGS.inspect - 200 && held <= TIMINGS.inspect + SLACK, `an incomplete CONNECT is held for the inspect delay (${held} ms)`);
  assert.equal(newConnections(m), 0, 'no broker saw a connection');
  // TLS on the MQTT port and MQTT on the TLS port are refused too.
  const plainOnTls = await raw(hx.tlsPort, [good]);
  assert.equal(plainOnTls.how, 'closed');
  assert.equal(newConnections(m), 0);
});

test('haproxy (e): an mTLS device is routed by SNI to its cell\'s TLS listener; Mosquitto verifies its certificate end to end', async () => {
  const m = marks();
  const tlsOpts = (cert) => ({ ...cert.tls, rejectUnauthorized: true });
  const ta = await connect(hx.tlsPort, { clientId: 'dev-ta', username: undefined, password: undefined, tls: tlsOpts(pki.ta), servername: `dev-ta${SNI_SUFFIX}` });
  const tb = await connect(hx.tlsPort, { clientId: 'dev-tb', username: undefined, password: undefined, tls: tlsOpts(pki.tb), servername: `dev-tb${SNI_SUFFIX}` });
  assert.equal(await publishQos1(ta, 'vitals/dev-ta', sample({ v: 1, seq: 1, ts: Date.now(), spo2: 97 })), 0);
  await waitFor(() => whoSaw('dev-ta', m).length && whoSaw('dev-tb', m).length, { what: 'the TLS devices on their brokers' });
  assert.deepEqual(whoSaw('dev-ta', m), ['aPrimary']);
  assert.deepEqual(whoSaw('dev-tb', m), ['bPrimary']);
  // The broker, not HAProxy, ended the TLS session: its log names the
  // TLS listener's port... and the device saw the broker's certificate.
  assert.match(ta.stream.getPeerCertificate().subject.CN, /^cells$/);
  await hx.waitLog(/tls_a\/primary .* sni=dev-ta\.devices\.vitalgate\.test$/);
  await Promise.all([ta.endAsync(), tb.endAsync()]);

  // A certificate from another CA: HAProxy routes it (it cannot tell), the
  // broker refuses the handshake.
  const m2 = marks();
  await assert.rejects(connect(hx.tlsPort, { clientId: 'dev-ta', username: undefined, password: undefined, tls: { ...tlsOpts(pki.rogue), ca: pki.ta.tls.ca }, servername: `dev-ta${SNI_SUFFIX}` }));
  await waitFor(() => inst.aPrimary.lines.slice(m2.aPrimary).some((l) => /OpenSSL Error|certificate verify failed|unknown ca|Client connection from .* failed/i.test(l))
    || inst.aPrimary.lines.slice(m2.aPrimary).some((l) => /New connection from/.test(l)), { what: 'the broker to see the rogue handshake' });
  assert.deepEqual(whoSaw('dev-ta', m2), []);
  // No SNI (a device connecting by address), or a name outside the suffix,
  // or an id in no cell: refused by HAProxy, no broker sees it.
  const m3 = marks();
  await assert.rejects(connect(hx.tlsPort, { clientId: 'dev-ta', username: undefined, password: undefined, tls: tlsOpts(pki.ta) }));
  await assert.rejects(connect(hx.tlsPort, { clientId: 'dev-ta', username: undefined, password: undefined, tls: tlsOpts(pki.ta), servername: 'dev-ta.example.org' }));
  await assert.rejects(connect(hx.tlsPort, { clientId: 'dev-ta', username: undefined, password: undefined, tls: tlsOpts(pki.ta), servername: `dev-x${SNI_SUFFIX}` }));
  assert.equal(newConnections(m3), 0);
});

test('haproxy: health semantics: up while /health answers 200 or 503 fresh; down on no answer, a stale rendering, "serving":false, a refused connection', async () => {
  // Fake cells, each primary answering one way from the start.
  await hx.waitStatus('cell_fake_degraded', 'primary', /^UP$/);
  await hx.waitStatus('cell_fake_notServing', 'primary', /^DOWN/);
  await hx.waitStatus('cell_fake_stale', 'primary', /^DOWN/);
  await hx.waitStatus('cell_fake_hung', 'primary', /^DOWN/);
  await hx.waitStatus('cell_fake_notFound', 'primary', /^DOWN/);
  // Still up after several 503 checks.
  await new Promise((r) => setTimeout(r, TIMINGS.inter * (TIMINGS.fall + 1)));
  assert.equal(await hx.runtime.serverStatus('cell_fake_degraded', 'primary'), 'UP');

  // Real Vitalgate: PostgreSQL (shared by primary and standby) stops; both
  // answer 503 "degraded", and the cell goes on taking devices (from the
  // identities in memory) on its primary.
  await bench.pg.stop();
  try {
    await waitFor(async () => {
      const r = await fetch(`http://127.0.0.1:${inst.aPrimary.healthPort}/health`);
      return r.status === 503;
    }, { timeout: 15000, interval: 200, what: '/health to say 503 without PostgreSQL' });
    await new Promise((r) => setTimeout(r, TIMINGS.inter * (TIMINGS.fall + 1)));
    assert.equal(await hx.runtime.serverStatus('cell_a', 'primary'), 'UP');
    const m = marks();
    const c = await connect(hx.port, { id: 'dev-a7', password: secrets['dev-a7'] });
    assert.equal(await publishQos1(c, 'vitals/dev-a7', sample({ v: 1, seq: 1, ts: Date.now(), hr: 72 })), 0, 'journalled while PostgreSQL is down');
    assert.deepEqual(whoSaw('dev-a7', m), ['aPrimary']);
    await c.endAsync();
  } finally {
    await bench.pg.restart();
  }
});

test('haproxy: behind HAProxy the broker sees HAProxy\'s address; with transparent (TPROXY) it sees and throttles each device\'s own',
  { skip: process.getuid() !== 0 && 'TPROXY needs CAP_NET_ADMIN' }, async () => {
  // The shipped default: every client reaches the broker from HAProxy's address.
  let m = marks();
  const c = await connect(hx.port, { id: 'dev-a8', password: secrets['dev-a8'], localAddress: '127.66.0.9' });
  await waitFor(() => whoSaw('dev-a8', m).length, { what: 'dev-a8 to connect' });
  assert.ok(inst.aPrimary.lines.slice(m.aPrimary).some((l) => /New client connected from 127\.0\.0\.1:\d+ as dev-a8 /.test(l)));
  await c.endAsync();
  // transparent: a second HAProxy process with `source 0.0.0.0 usesrc clientip`.
  const ghosts = Array.from({ length: 21 }, (_, i) => `ghost-${i}`);
  const tx = await Haproxy.start(bench.root, {
    transparent: true,
    map: [['dev-a8', 'a'], ...ghosts.map((g) => [g, 'a'])],
    cells: [{ name: 'a', primary: inst.aPrimary, standby: inst.aStandby }],
  });
  try {
    await tx.waitStatus('cell_a', 'primary', /^UP$/);
    m = marks();
    // 21 failed logins from one address (unknown ids: no username throttle
    // takes them first) trip the broker's address throttle for that address only.
    for (const g of ghosts) {
      await assert.rejects(connect(tx.port, { id: g, password: 'wrong', localAddress: '127.66.0.1' }));
    }
    await inst.aPrimary.waitLog(/throttling address 127\.66\.0\.1 /, 5000, m.aPrimary);
    const ok = await connect(tx.port, { id: 'dev-a8', password: secrets['dev-a8'], localAddress: '127.66.0.2' });
    assert.ok(inst.aPrimary.lines.slice(m.aPrimary).some((l) => /New client connected from 127\.66\.0\.2:\d+ as dev-a8 /.test(l)));
    await ok.endAsync();
    await assert.rejects(connect(tx.port, { id: 'dev-a8', password: secrets['dev-a8'], localAddress: '127.66.0.1' }), /Not authorized|Bad User/);
  } finally {
    await tx.stop();
  }
});

test('haproxy (c, d): kill -9 of a primary: its devices are cut, land on the standby within the budget, and move back when the primary returns', async () => {
  const b = budget(TIMINGS, BACKOFF);
  const m0 = marks();
  const devs = DEVICES.a.slice(0, 6).map((id) => device(id));
  const tls = device('dev-ta', { tls: { ...pki.ta.tls } });
  const others = DEVICES.b.map((id) => device(id));
  const all = [...devs, tls, ...others];
  await waitFor(() => all.every((c) => c.connected), { what: 'the devices to connect' });
  await waitFor(() => [...devs, tls].every((c) => whoSaw(c.vg.id, m0).includes('aPrimary'))
    && others.every((c) => whoSaw(c.vg.id, m0).includes('bPrimary')), { what: 'each cell on its primary' });

  // (c) kill -9: every device of cell a reconnects to the standby.
  let m = marks();
  const killedAt = Date.now();
  await inst.aPrimary.kill9();
  await waitFor(() => [...devs, tls].every((c) => whoSaw(c.vg.id, m).includes('aStandby') && c.connected),
    { timeout: b.failover + 10000, interval: 20, what: 'cell a on its standby' });
  const landed = Math.max(...[...devs, tls].map((c) => c.vg.connects.at(-1))) - killedAt;
  process.stderr.write(`failover: every device of cell a on the standby ${landed} ms after kill -9 (budget ${b.failover} ms: detection ${b.detect} + retry 1000 + backoff ${BACKOFF})\n`);
  assert.ok(landed <= b.failover + SLACK, `failover took ${landed} ms, budget ${b.failover} ms`);
  for (const c of [...devs, tls]) {
    assert.ok(c.vg.closes.some((t) => t >= killedAt), `${c.vg.id} was cut`);
    assert.deepEqual(whoSaw(c.vg.id, m).filter((k) => k !== 'aStandby'), [], `${c.vg.id} only on the standby`);
  }
  assert.match(await hx.runtime.serverStatus('cell_a', 'primary'), /^DOWN/);
  assert.match(await hx.runtime.serverStatus('tls_a', 'primary'), /^DOWN/);
  // Cell b did not notice.
  for (const c of others) assert.deepEqual(c.vg.closes, [], `${c.vg.id} (cell b) kept its connection`);
  assert.ok(await publishQos1(devs[0], 'vitals/dev-a1', sample({ v: 1, seq: 2, ts: Date.now(), hr: 71 })) === 0, 'the standby takes samples');

  // (d) the primary returns (same spool, same ports): after `rise` checks,
  // HAProxy cuts the standby's sessions and the devices reconnect to it.
  m = marks();
  await inst.aPrimary.boot();
  await waitFor(async () => (await fetch(`http://127.0.0.1:${inst.aPrimary.healthPort}/health`)).status === 200,
    { timeout: 10000, interval: 50, what: 'the primary to answer /health' });
  const backAt = Date.now();
  await waitFor(() => [...devs, tls].every((c) => whoSaw(c.vg.id, m).includes('aPrimary') && c.connected),
    { timeout: b.failback + 15000, interval: 20, what: 'cell a back on its primary' });
  const returned = Math.max(...[...devs, tls].map((c) => c.vg.connects.at(-1))) - backAt;
  const limit = b.failbackDevices;
  process.stderr.write(`failback: every device of cell a on the primary ${returned} ms after it answered /health (budget ${limit} ms)\n`);
  assert.ok(returned >= (TIMINGS.rise - 1) * TIMINGS.fastinter, `not before rise checks passed (${returned} ms)`);
  assert.ok(returned <= limit + SLACK, `failback took ${returned} ms, budget ${limit} ms`);
  assert.equal(await hx.runtime.serverStatus('cell_a', 'primary'), 'UP');
  await hx.waitLog(/cell_a\/standby .* cid=dev-a1$/, 1000, 0);
  for (const c of others) assert.deepEqual(c.vg.closes, [], `${c.vg.id} (cell b) kept its connection`);
  for (const c of all) await c.endAsync();
});

test('haproxy: planned maintenance: `state cell_a/primary maint` moves the cell to its standby at once, `ready` brings it back at once', async () => {
  const devs = ['dev-a1', 'dev-a2'].map((id) => device(id));
  const tls = device('dev-ta', { tls: { ...pki.ta.tls } });
  const all = [...devs, tls];
  let m = marks();
  await waitFor(() => all.every((c) => c.connected && whoSaw(c.vg.id, m).includes('aPrimary')), { what: 'cell a on its primary' });
  m = marks();
  let t0 = Date.now();
  cli(['state', 'cell_a/primary', 'maint', hx.socket]);
  await waitFor(() => all.every((c) => c.connected && whoSaw(c.vg.id, m).includes('aStandby')), { timeout: 10000, what: 'cell a on its standby' });
  const moved = Date.now() - t0;
  assert.ok(moved <= BACKOFF + SLACK, `maint moved the cell in ${moved} ms`);
  assert.equal(await hx.runtime.serverStatus('cell_a', 'primary'), 'MAINT');
  assert.match(await hx.runtime.serverStatus('tls_a', 'primary'), /^MAINT/);
  // ready: no `rise` wait (the operator checked /health first), the standby's sessions are cut.
  m = marks();
  t0 = Date.now();
  cli(['state', 'cell_a/primary', 'ready', hx.socket]);
  await waitFor(() => all.every((c) => c.connected && whoSaw(c.vg.id, m).includes('aPrimary')), { timeout: 10000, what: 'cell a back on its primary' });
  const back = Date.now() - t0;
  assert.ok(back <= BACKOFF + SLACK, `ready brought the cell back in ${back} ms`);
  for (const c of all) await c.endAsync();
});

test('haproxy: a reload (a cell added) leaves the old worker\'s sessions outside the checks until hard-stop-after cuts them; they reconnect through the new worker', async () => {
  const HARD_STOP = 2000; // shipped: 30 s
  const rx = await Haproxy.start(bench.root, {
    masterWorker: true,
    timings: { hardStop: HARD_STOP },
    map: [['dev-a1', 'a'], ['dev-b3', 'b']],
    cells: [{ name: 'a', primary: inst.aPrimary, standby: inst.aStandby }],
  });
  try {
    await rx.waitStatus('cell_a', 'primary', /^UP$/);
    let m = marks();
    const d = device('dev-a1', { via: rx });
    await waitFor(() => d.connected && whoSaw('dev-a1', m).includes('aPrimary'), { what: 'dev-a1 through the first worker' });
    // dev-b3's cell does not exist yet: refused.
    await assert.rejects(connect(rx.port, { id: 'dev-b3', password: secrets['dev-b3'] }), /closed before CONNACK|ECONNRESET/);
    const first = await rx.workerPid();
    // Add cell b, reload as systemd does.
    rx.spec.cells.push({ name: 'b', primary: { host: '127.0.0.1', mqtt: inst.bPrimary.port, health: inst.bPrimary.healthPort } });
    m = marks();
    const reloadedAt = Date.now();
    const second = await rx.reload();
    assert.notEqual(second, first);
    const b3 = await connect(rx.port, { id: 'dev-b3', password: secrets['dev-b3'] });
    await waitFor(() => whoSaw('dev-b3', m).includes('bPrimary'), { what: 'dev-b3 on the new cell' });
    await b3.endAsync();
    // The old worker no longer acts on server states: `maint` (which cuts a
    // primary's sessions, previous test) does not reach dev-a1's session.
    await rx.runtime.setState('cell_a', 'primary', 'maint');
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(d.connected, true);
    assert.deepEqual(d.vg.closes.filter((t) => t > reloadedAt), [], 'the old worker kept dev-a1 through maint');
    await rx.runtime.setState('cell_a', 'primary', 'ready');
    // dev-a1 stayed on the old worker, then was cut at hard-stop-after and came back through the new one.
    await waitFor(() => d.vg.closes.some((t) => t > reloadedAt) && d.connected && whoSaw('dev-a1', m).includes('aPrimary'),
      { timeout: HARD_STOP + 5000, what: 'dev-a1 cut by hard-stop-after and reconnected' });
    const cut = d.vg.closes.find((t) => t > reloadedAt) - reloadedAt;
    assert.ok(cut >= HARD_STOP - 500 && cut <= HARD_STOP + SLACK, `cut ${cut} ms after the reload (hard-stop-after ${HARD_STOP} ms)`);
    await waitFor(() => rx.lines.filter((l) => /cell_a\/primary .* cid=dev-a1$/.test(l)).length >= 2, { what: 'both workers to log dev-a1' });
    d.end(true);
  } finally {
    await rx.stop();
  }
});
