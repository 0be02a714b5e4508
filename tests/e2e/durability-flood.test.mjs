// Issue 12, item 2: one device cannot deny service to the others. A device
// flooding large invalid messages gets its 0x87s, but what its rejections
// cost the journal and the database is bounded (a 512-byte prefix with the
// payload's length and SHA-256, rejection_records_per_min records, then a
// count in summary rows), rejection records have their own journal budget,
// and the other devices' samples are acknowledged and stored as usual.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { Bench, connect, freePort, httpGet, promValue, publishQos1, waitFor } from '../lib/bench.mjs';
import { Fleet, settleFleet } from '../lib/fleet.mjs';

test('12.2 a device flooding large invalid messages: no other device gets backpressure, its stored rejections are bounded and counted', { timeout: 120000 }, async () => {
  const mport = await freePort();
  const bench = await Bench.start({ options: { journal_max_mb: 2, journal_segment_mb: 1, metrics_port: mport } });
  try {
    const creds = bench.importDevices(Array.from({ length: 6 }, (_, i) => `flood-${i} 5F B${i}`));
    await bench.waitIdentity(bench.broker.port, creds[5].id, creds[5].secret);
    const [flooder, ...good] = creds;
    const fleet = new Fleet({ port: bench.broker.port, creds: good, rate: 10 });
    await fleet.start();

    // 60 KB that is not MessagePack a sample could be made of (0xc1 is
    // never used): refused as too_large, up to 4 KiB journalled each before.
    const payload = Buffer.alloc(60000, 0xc1);
    const sha = createHash('sha256').update(payload).digest();
    const c = await connect(bench.broker.port, { id: flooder.id, password: flooder.secret });
    let sent = 0;
    let refused = 0;
    const inflight = new Set();
    const floodStart = Date.now();
    while (Date.now() - floodStart < 5000) {
      while (inflight.size < 32) {
        const p = publishQos1(c, `vitals/${flooder.id}`, payload).then((rc) => {
          if (rc === 0x87) refused += 1;
          inflight.delete(p);
        });
        inflight.add(p);
        sent += 1;
      }
      await Promise.race(inflight);
    }
    await Promise.all(inflight);
    const floodSecs = (Date.now() - floodStart) / 1000;
    await c.endAsync();
    assert.equal(refused, sent, 'every flood message refused with 0x87');
    assert.ok(refused > 300, `a real flood (${refused} messages in ${floodSecs.toFixed(1)} s)`);
    await sleep(1000);
    const left = await fleet.stop();

    // The other devices saw nothing of it.
    assert.equal(fleet.refused.get('backpressure') ?? 0, 0, 'no other device got backpressure');
    assert.deepEqual(fleet.otherRejections, []);
    assert.equal(left, 0);
    const v = await settleFleet(bench, fleet, 'flood');
    assert.deepEqual(v.missing, []);
    assert.equal(v.dups, 0);

    // Every flood message is in the rejections table: one by one within
    // the device's budget, counted in summary rows beyond it.
    const q = "SELECT count(*) FILTER (WHERE reason <> 'suppressed')::int AS recorded, "
      + "COALESCE(sum(suppressed), 0)::int AS counted, count(*)::int AS rows, "
      + 'COALESCE(max(octet_length(payload)), 0)::int AS maxlen, COALESCE(sum(octet_length(payload)), 0)::int AS bytes '
      + 'FROM rejections WHERE device_id = $1';
    const r = await waitFor(async () => {
      const x = (await bench.pg.query(q, [flooder.id])).rows[0];
      return x.recorded + x.counted === refused ? x : null;
    }, { timeout: 20000, what: 'every refused message recorded or counted' });
    // rejection_records_per_min 10: a burst of 10, then one every 6 s.
    assert.ok(r.recorded <= 10 + Math.ceil(floodSecs / 6) + 1, `recorded one by one: ${r.recorded}`);
    assert.ok(r.rows - r.recorded <= 3, `summary rows: ${r.rows - r.recorded}`);
    assert.ok(r.maxlen <= 512, `payload prefix at most 512 bytes (${r.maxlen})`);
    assert.ok(r.bytes <= 512 * r.recorded);
    const one = (await bench.pg.query(
      "SELECT reason, payload_bytes, payload_sha256 FROM rejections WHERE device_id = $1 AND reason <> 'suppressed' LIMIT 1",
      [flooder.id])).rows[0];
    assert.equal(one.reason, 'too_large');
    assert.equal(one.payload_bytes, 60000);
    assert.ok(one.payload_sha256.equals(sha), 'the SHA-256 of the whole payload');
    const s = (await bench.pg.query(
      "SELECT detail FROM rejections WHERE device_id = $1 AND reason = 'suppressed' ORDER BY id LIMIT 1", [flooder.id])).rows[0];
    assert.match(s.detail, /rejected message\(s\) from .* not recorded one by one \(reasons: too_large\)/);

    // Counted on /metrics.
    const m = (await httpGet(mport, '/metrics')).body;
    assert.equal(promValue(m, 'vitalgate_rejections_unrecorded_total{why="rate_limited"}'), refused - r.recorded);
    assert.equal(promValue(m, 'vitalgate_messages_rejected_total{reason="too_large"}'), refused);
  } finally {
    await bench.stop();
  }
});
