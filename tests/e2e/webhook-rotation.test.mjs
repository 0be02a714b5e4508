// Webhook key rotation without a restart (issue 6): the operator puts a new
// whsec_ secret first in webhook_secret_file; within seconds the broker
// signs with both, so receivers holding either key verify; then the old key
// is removed. An unusable file keeps the previous secrets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, renameSync } from 'node:fs';

import { Bench, connect, publishQos1, sample, waitFor, whsecret } from '../lib/bench.mjs';
import { createVerifier } from '../../bridge/node/src/index.js';

let bench;
let dev;
let seq = 1;
let high = false;

// Each call raises or resolves an alert (hold 0): one webhook.
async function transition() {
  high = !high;
  const from = bench.receiver.requests.length;
  assert.equal(await publishQos1(dev, 'vitals/mon-rot', sample({ v: 1, seq: seq++, ts: Date.now(), hr: high ? 150 : 70 })), 0);
  return waitFor(() => bench.receiver.requests.slice(from).find((r) => r.status), { what: 'the delivery' });
}

function writeSecrets(lines) {
  // Written beside and renamed over, as an operator's tooling would.
  const tmp = `${bench.secretFile}.new`;
  writeFileSync(tmp, `${lines.join('\n')}\n`, { mode: 0o644 });
  renameSync(tmp, bench.secretFile);
}

before(async () => {
  bench = await Bench.start({ webhook: true, options: { alert_hold_s: 0, silence_s: 3600, disconnect_grace_s: 3600 } });
  const secret = await bench.addDevice('mon-rot', '9E', 'B1');
  await bench.waitIdentity(bench.broker.port, 'mon-rot', secret);
  dev = await connect(bench.broker.port, { id: 'mon-rot', password: secret });
});

after(async () => {
  await dev?.endAsync().catch(() => {});
  await bench?.stop();
});

test('a new secret is added, used beside the old one, then the old one retired, without a restart', async () => {
  const [oldKey] = bench.secrets;
  const newKey = whsecret();
  const r1 = await transition();
  assert.equal(r1.verified, true);
  assert.equal(r1.headers['webhook-signature'].split(' ').length, 1);

  let mark = bench.broker.mark();
  writeSecrets([newKey, oldKey]);
  await bench.broker.waitLog(/webhook secrets reloaded .*\(2 secret\(s\)\)/, 5000, mark);
  // A receiver that already moved to the new key, and one still on the old.
  bench.receiver.verifier = createVerifier({ secrets: [newKey] });
  const r2 = await transition();
  assert.equal(r2.verified, true, r2.error);
  assert.equal(r2.headers['webhook-signature'].split(' ').length, 2);
  const onOld = createVerifier({ secrets: [oldKey] });
  assert.ok(onOld.verifySignature(r2.raw, r2.headers), 'the old key verifies the same delivery');

  mark = bench.broker.mark();
  writeSecrets([newKey]);
  await bench.broker.waitLog(/webhook secrets reloaded .*\(1 secret\(s\)\)/, 5000, mark);
  const r3 = await transition();
  assert.equal(r3.verified, true, r3.error);
  assert.throws(() => onOld.verifySignature(r3.raw, r3.headers), /signature/);

  // A broken file is refused with a clear line; signing goes on with the last good secrets.
  mark = bench.broker.mark();
  writeSecrets(['whsec_not-base64!']);
  await bench.broker.waitLog(/webhook_secret_file changed but cannot be used .*still signing with the previous secrets/, 5000, mark);
  const r4 = await transition();
  assert.equal(r4.verified, true, r4.error);
});
