// Mirror to the legacy Node.js ingest endpoint during a migration (issue 9,
// docs/cutover.md): every accepted sample reaches the legacy endpoint once,
// in signed "vitals.batch" webhooks that a real Node receiver verifies;
// rejected samples are not mirrored; while the endpoint fails, batches are
// retried and nothing accepted meanwhile is missing when it recovers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';

import { Bench, Broker, Receiver, connect, publishQos1, sample, waitFor, collect, subscribeRc } from '../lib/bench.mjs';

let bench;
let legacy;
let dev;
let sys;
let seq = 1;

const ok = (hr) => ({ v: 1, seq: seq++, ts: Date.now(), hr, spo2: 97 });
const mirrored = () => legacy.events.filter((e) => e.type === 'vitals.batch').flatMap((e) => e.data.samples);

before(async () => {
  bench = await Bench.start({ webhook: true, noBroker: true });
  // The legacy endpoint verifies with the same secrets (mirror_secret_file
  // defaults to webhook_secret_file).
  legacy = await Receiver.start({ secrets: bench.secrets });
  bench.cleanups.push(() => legacy.stop());
  bench.broker = await Broker.start(bench.root, {
    ...bench.brokerOpts,
    options: { mirror_url: legacy.url.replace('/vitalgate/webhooks', '/legacy/ingest'), stats_interval_s: 1,
      webhook_backoff_max_s: 1 },
  });
  const secret = await bench.addDevice('dev-mi', 'LW', 'B7');
  const svc = await bench.adminOk(['service', 'add', 'core-mi']);
  await bench.waitIdentity(bench.broker.port, 'core-mi', svc);
  dev = await connect(bench.broker.port, { id: 'dev-mi', password: secret });
  const core = await connect(bench.broker.port, { id: 'core-mi', password: svc });
  bench.cleanups.push(() => core.endAsync());
  sys = collect(core);
  assert.equal(await subscribeRc(core, '$SYS/broker/vitalgate/mirror/#', 0), 0);
});

after(async () => {
  await dev?.endAsync();
  await bench?.stop();
});

test('accepted samples are mirrored once, signed, with ward and bed; rejected ones are not', async () => {
  assert.equal(await publishQos1(dev, 'vitals/dev-mi', sample([ok(71), ok(72), ok(73)])), 0);
  assert.equal(await publishQos1(dev, 'vitals/dev-mi', sample(ok(74))), 0);
  assert.equal(await publishQos1(dev, 'vitals/dev-mi', sample({ ...ok(75), spo2: 101 })), 0x87);
  const got = await waitFor(() => { const m = mirrored(); return m.length >= 4 ? m : null; }, { what: '4 mirrored samples' });
  await sleep(500);
  assert.equal(mirrored().length, 4, 'the rejected sample is not mirrored');
  assert.deepEqual(got.map((s) => s.hr), [71, 72, 73, 74]);
  for (const s of got) {
    assert.equal(s.device_id, 'dev-mi');
    assert.equal(s.ward, 'LW');
    assert.equal(s.bed, 'B7');
    assert.equal(s.spo2, 97);
    assert.match(s.measured_at, /^\d{4}-\d\d-\d\dT/);
  }
  // Every request was signed and verified by the receiver.
  assert.ok(legacy.requests.every((r) => r.verified), JSON.stringify(legacy.requests.map((r) => r.error)));
  assert.ok(legacy.requests.every((r) => r.headers['webhook-id'].startsWith('msg_mirror_')));
});

test('while the legacy endpoint fails, batches are retried; nothing accepted is missing after', async () => {
  legacy.mode = 'status:503';
  const sent = [];
  for (let i = 0; i < 10; i++) {
    const s = ok(80 + i);
    sent.push(s.seq);
    assert.equal(await publishQos1(dev, 'vitals/dev-mi', sample(s)), 0, 'devices are not slowed by the mirror');
    await sleep(100);
  }
  await waitFor(() => legacy.requests.filter((r) => r.status === 503).length >= 2, { what: 'failed attempts' });
  legacy.mode = 'ok';
  await waitFor(() => sent.every((q) => mirrored().some((s) => s.seq === q)), { what: 'all 10 samples mirrored after recovery', timeout: 15000 });
  const seqs = mirrored().map((s) => s.seq);
  assert.equal(new Set(seqs).size, seqs.length, 'each sample once');
  const sysValue = (name) => Number(sys.filter((x) => x.topic === `$SYS/broker/vitalgate/mirror/${name}`).at(-1)?.text);
  await waitFor(() => sysValue('samples') === 14 && sysValue('retries') >= 2 && sysValue('dropped') === 0,
    { what: '$SYS mirror/samples = 14, retries >= 2, none dropped' });
});
