// While PostgreSQL is unreachable the broker keeps serving the identities it
// last loaded, even across a broker restart (spool_dir/identities.cache),
// and a database error never becomes a denial. (Issue 3.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import path from 'node:path';

import { Bench, connect, publishQos1, sample, waitFor } from '../lib/bench.mjs';

let bench;
let secret;

before(async () => {
  bench = await Bench.start({});
  secret = await bench.addDevice('dev-o', '1N', 'B1');
  await bench.waitIdentity(bench.broker.port, 'dev-o', secret);
});

after(async () => {
  await bench?.stop();
});

test('the identity cache is written, private, and holds no secret', async () => {
  const f = path.join(bench.spool, 'identities.cache');
  await waitFor(() => { try { return statSync(f).size > 0; } catch { return false; } }, { what: 'the cache file' });
  assert.equal(statSync(f).mode & 0o777, 0o600);
  const { readFileSync } = await import('node:fs');
  assert.ok(!readFileSync(f).includes(Buffer.from(secret)));
});

test('PostgreSQL down: connected and new clients keep working; a broker restart serves from the cache', async () => {
  await bench.pg.stop();
  const c = await connect(bench.broker.port, { id: 'dev-o', password: secret });
  assert.equal(await publishQos1(c, 'vitals/dev-o', sample({ v: 1, seq: 1, ts: Date.now(), hr: 71 })), 0);
  await c.endAsync();
  const wrong = connect(bench.broker.port, { id: 'dev-o', password: 'vgs_nope' });
  await assert.rejects(wrong);

  const mark = bench.broker.mark();
  await bench.broker.restart({ waitReady: false });
  await bench.broker.waitLog(/1 identities loaded from .*identities.cache until PostgreSQL answers/, 20000, mark);
  await bench.broker.waitLog(/mosquitto version .* running/, 20000, mark);
  const d = await connect(bench.broker.port, { id: 'dev-o', password: secret });
  assert.equal(await publishQos1(d, 'vitals/dev-o', sample({ v: 1, seq: 2, ts: Date.now(), hr: 72 })), 0);
  await d.endAsync();

  await bench.pg.boot();
  await waitFor(async () => (await bench.pg.query("SELECT count(*)::int AS n FROM vitals WHERE device_id = 'dev-o'")).rows[0].n === 2,
    { timeout: 20000, what: 'both samples once PostgreSQL is back' });
  await bench.broker.waitLog(/identity sync connected to PostgreSQL again|identities loaded/, 20000, mark);
  const e = await connect(bench.broker.port, { id: 'dev-o', password: secret });
  await e.endAsync();
});
