// mTLS: on a listener with require_certificate the certificate's CN is the
// identity and no password is needed. (Issue 3.)
//  - use_identity_as_username false (recommended): Vitalgate reads the CN in
//    BASIC_AUTH, so unknown, revoked or mismatched identities are refused at
//    CONNECT.
//  - use_identity_as_username true (the contract's form): Mosquitto 2.0.11
//    skips BASIC_AUTH entirely, so Vitalgate denies every action of an
//    unknown or revoked CN and disconnects it at its first attempt.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';

import { Bench, Broker, connect, publishQos1, sample, waitFor, freePort, closed } from '../lib/bench.mjs';
import { makeCA, issue } from '../lib/certs.mjs';

const NOT_AUTHORIZED = 0x87;
const refused = (e) => e.code === NOT_AUTHORIZED || e.code === 0x86 || /Not authorized|Bad User/i.test(e.message);
let bench;
let broker;
let pCn;
let pId;
let certs;

before(async () => {
  bench = await Bench.start({ noBroker: true });
  await bench.addDevice('dev-m', '2S', 'B1');
  await bench.addDevice('dev-r', '2S', 'B2');
  await bench.adminOk(['device', 'revoke', 'dev-r']);
  const ca = makeCA(path.join(bench.root, 'pki'));
  certs = {
    server: issue(ca, 'server', 'localhost', 'IP:127.0.0.1'),
    devm: issue(ca, 'dev-m', 'dev-m'),
    devr: issue(ca, 'dev-r', 'dev-r'),
    ghost: issue(ca, 'ghost', 'ghost'),
  };
  pCn = await freePort();
  pId = await freePort();
  const tlsConf = (p, asUser) => [
    `listener ${p} 127.0.0.1`,
    `cafile ${ca.ca}`, `certfile ${certs.server.cert}`, `keyfile ${certs.server.key}`,
    'require_certificate true', `use_identity_as_username ${asUser}`,
  ];
  broker = await Broker.start(bench.root, { ...bench.brokerOpts, extraConf: [...tlsConf(pCn, 'false'), ...tlsConf(pId, 'true')] });
  bench.broker = broker;
});

after(async () => {
  await bench?.stop();
});

test('CN checked at CONNECT: a provisioned certificate connects without a password and publishes', async () => {
  const c = await connect(pCn, { clientId: 'dev-m', username: undefined, password: undefined, tls: certs.devm.tls });
  assert.equal(await publishQos1(c, 'vitals/dev-m', sample({ v: 1, seq: 1, ts: Date.now(), hr: 66 })), 0);
  await waitFor(async () => (await bench.pg.query("SELECT count(*)::int AS n FROM vitals WHERE device_id = 'dev-m'")).rows[0].n === 1,
    { what: 'the row' });
  await c.endAsync();
});

test('CN checked at CONNECT: unknown CN, revoked CN, wrong client id, mismatched username are refused', async () => {
  await assert.rejects(connect(pCn, { clientId: 'ghost', username: undefined, password: undefined, tls: certs.ghost.tls }), refused);
  await assert.rejects(connect(pCn, { clientId: 'dev-r', username: undefined, password: undefined, tls: certs.devr.tls }), refused);
  await assert.rejects(connect(pCn, { clientId: 'dev-x', username: undefined, password: undefined, tls: certs.devm.tls }), refused);
  await assert.rejects(connect(pCn, { clientId: 'dev-m', username: 'dev-r', password: undefined, tls: certs.devm.tls }), refused);
  await broker.waitLog(/refused connection of "ghost".*unknown identity/);
  await broker.waitLog(/refused connection of "dev-r".*identity revoked/);
  await broker.waitLog(/refused connection of "dev-m" \(client id "dev-m"\).*username differs from the certificate CN/);
});

test('no client certificate, no TLS session', async () => {
  await assert.rejects(connect(pCn, { clientId: 'dev-m', username: undefined, password: undefined,
    tls: { ca: certs.devm.tls.ca } }));
});

test('use_identity_as_username: the CN is the username; an unknown CN can do nothing and is disconnected', async () => {
  const c = await connect(pId, { clientId: 'dev-m', username: undefined, password: undefined, tls: certs.devm.tls });
  assert.equal(await publishQos1(c, 'vitals/dev-m', sample({ v: 1, seq: 2, ts: Date.now(), hr: 67 })), 0);
  await c.endAsync();
  const g = await connect(pId, { clientId: 'ghost', username: undefined, password: undefined, tls: certs.ghost.tls });
  const gone = closed(g);
  assert.equal(await publishQos1(g, 'vitals/ghost', sample({ v: 1, seq: 1, ts: Date.now(), hr: 67 })), NOT_AUTHORIZED);
  await gone;
  await broker.waitLog(/disconnecting client ghost \(unknown identity\)/);
  const r = await connect(pId, { clientId: 'dev-r', username: undefined, password: undefined, tls: certs.devr.tls });
  const rgone = closed(r);
  assert.equal(await publishQos1(r, 'vitals/dev-r', sample({ v: 1, seq: 1, ts: Date.now(), hr: 67 })), NOT_AUTHORIZED);
  await rgone;
  assert.equal((await bench.pg.query("SELECT count(*)::int AS n FROM vitals WHERE device_id IN ('ghost', 'dev-r')")).rows[0].n, 0);
});
