// Durability under a PostgreSQL outage and a full journal: every sample a
// device got a PUBACK for is in `vitals` exactly once, and when the journal
// is full devices get `backpressure` (they keep the sample and retry),
// never a silent drop. Steady QoS 1 load from simulated devices. (Issue 5.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';

import { Bench, waitFor } from '../lib/bench.mjs';
import { Fleet, provisionFleet, verifyStored } from '../lib/fleet.mjs';

const provision = (bench, n, prefix) => provisionFleet(bench, bench.broker.port, n, prefix, '7W');

test('PostgreSQL stopped for 30 s under load: every PUBACKed sample is stored exactly once', { timeout: 180000 }, async () => {
  const bench = await Bench.start({});
  try {
    const fleet = new Fleet({ port: bench.broker.port, creds: await provision(bench, 20, 'out'), rate: 10 });
    await fleet.start();
    await sleep(3000);
    await bench.pg.stop();
    const downAt = fleet.ackedCount;
    await bench.broker.waitLog(/Vitalgate writer: (cannot connect|lost PostgreSQL)/, 15000);
    await sleep(30000);
    assert.ok(fleet.ackedCount > downAt + 4000, `samples kept being acknowledged while PostgreSQL was down (${fleet.ackedCount - downAt})`);
    await bench.pg.boot();
    await sleep(3000);
    const left = await fleet.stop();
    assert.equal(left, 0, 'every sample acknowledged in the end');
    assert.deepEqual(fleet.otherRejections, []);
    const total = fleet.ackedCount;
    await waitFor(async () => (await bench.pg.query(
      "SELECT count(*)::int AS n FROM vitals WHERE device_id LIKE 'out-%'")).rows[0].n >= total,
    { timeout: 60000, what: `${total} rows after the outage` });
    const v = await verifyStored(bench.pg, fleet);
    assert.deepEqual(v.missing, []);
    assert.equal(v.dups, 0);
    assert.equal(v.storedRows, total);
    await bench.broker.waitLog(/connected to PostgreSQL again, replaying the journal/);
  } finally {
    await bench.stop();
  }
});

test('journal full: devices get backpressure and retry, nothing acknowledged is lost', { timeout: 180000 }, async () => {
  const bench = await Bench.start({ options: { journal_max_mb: 1, journal_segment_mb: 1, stats_interval_s: 1 } });
  try {
    const creds = await provision(bench, 10, 'full');
    await bench.pg.stop();
    // Batches of 64 samples fill the 1 MiB journal within a few seconds.
    const fleet = new Fleet({ port: bench.broker.port, creds, rate: 20, batch: 64 });
    await fleet.start();
    await waitFor(() => (fleet.refused.get('backpressure') ?? 0) > 20, { timeout: 30000, what: 'backpressure refusals' });
    const acked = fleet.ackedCount;
    await sleep(2000);
    // Full journal: almost nothing more is acknowledged, everything is refused.
    assert.ok(fleet.ackedCount - acked < 64 * 20, `acknowledged ${fleet.ackedCount - acked} more while full`);
    await bench.pg.boot();
    const left = await fleet.stop({ drainMs: 90000 });
    assert.equal(left, 0, 'every refused sample was retried until acknowledged');
    assert.deepEqual(fleet.otherRejections, []);
    const total = fleet.ackedCount;
    await waitFor(async () => (await bench.pg.query(
      "SELECT count(*)::int AS n FROM vitals WHERE device_id LIKE 'full-%'")).rows[0].n >= total,
    { timeout: 60000, what: `${total} rows` });
    const v = await verifyStored(bench.pg, fleet);
    assert.deepEqual(v.missing, []);
    assert.equal(v.dups, 0);
    // Backpressure refusals are not stored as rejection rows (there was no
    // room), but they are counted.
    assert.equal((await bench.pg.query("SELECT count(*)::int AS n FROM rejections WHERE reason = 'backpressure'")).rows[0].n, 0);
  } finally {
    await bench.stop();
  }
});
