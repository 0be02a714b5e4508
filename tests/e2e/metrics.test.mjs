// Metrics and health (issue 9): after known traffic, the Prometheus
// endpoint shows exactly the counts that traffic implies, in a valid
// exposition (one TYPE per family, cumulative histogram buckets), the same
// figures are retained under $SYS/broker/vitalgate/, and /health turns 503
// with the reason when the webhook endpoint fails or PostgreSQL goes away.
// The endpoint serves many connections at once (issue 12.9): slow or idle
// clients neither delay a probe nor the broker.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

import { Bench, connect, publishQos1, sample, waitFor, collect, subscribeRc, freePort } from '../lib/bench.mjs';

let bench;
let port;
let dev;
let sys;
let seq = 1;
let base;   // figures before the known traffic (identity checks connect too)

const ok = (fields = {}) => ({ v: 1, seq: seq++, ts: Date.now(), hr: 72, ...fields });

function get(path, method = 'GET') {
  return new Promise((resolve, reject) => {
    // A fresh connection each time; a hung endpoint fails the test, not the run.
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 5 s`)));
    req.end();
  });
}

// A raw connection to the metrics port that records when the server closes it.
function rawConn(data) {
  return new Promise((resolve, reject) => {
    const s = net.createConnection({ host: '127.0.0.1', port }, () => {
      s.openedAt = performance.now();
      if (data) s.write(data);
      resolve(s);
    });
    s.closedAt = null;
    s.got = '';
    s.on('data', (d) => { s.got += d; });
    s.on('close', () => { s.closedAt = performance.now(); });
    s.on('error', (e) => { if (s.openedAt === undefined) reject(e); });
  });
}

async function timed(path) {
  const t0 = performance.now();
  const r = await get(path);
  return { ...r, ms: performance.now() - t0 };
}

// Parses the exposition; checks its shape on the way.
function parse(text) {
  const values = new Map();
  const typed = new Set();
  let family = null;
  for (const line of text.split('\n')) {
    if (!line) continue;
    const t = /^# TYPE (\S+) (counter|gauge|histogram)$/.exec(line);
    if (t) {
      assert.ok(!typed.has(t[1]), `one TYPE line per family (${t[1]})`);
      typed.add(t[1]);
      family = t[1];
      continue;
    }
    if (line.startsWith('# HELP ')) continue;
    // One label, or several (the alarm load's histogram: {ward="...",le="..."}).
    const m = /^([a-z_]+)(\{[a-z]+="[^"]*"(?:,[a-z]+="[^"]*")*\})? (-?[0-9.e+]+)$/.exec(line);
    assert.ok(m, `a valid sample line: ${line}`);
    assert.ok(m[1].startsWith(family), `${m[1]} belongs to the family declared above it (${family})`);
    values.set(m[1] + (m[2] ?? ''), Number(m[3]));
  }
  return values;
}

async function scrape() {
  const r = await get('/metrics');
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  return parse(r.body);
}

before(async () => {
  port = await freePort();
  bench = await Bench.start({ webhook: true, options: { metrics_port: port, stats_interval_s: 1 } });
  const secret = await bench.addDevice('dev-m', 'MW', 'B1');
  const st = await bench.adminOk(['station', 'add', 'desk-m', '--wards', 'MW']);
  const svc = await bench.adminOk(['service', 'add', 'core-m']);
  await bench.waitIdentity(bench.broker.port, 'core-m', svc);
  dev = await connect(bench.broker.port, { id: 'dev-m', password: secret });
  const station = await connect(bench.broker.port, { id: 'desk-m', password: st });
  const core = await connect(bench.broker.port, { id: 'core-m', password: svc });
  bench.cleanups.push(() => station.endAsync(), () => core.endAsync());
  sys = collect(core);
  assert.equal(await subscribeRc(core, '$SYS/broker/vitalgate/#', 0), 0);
  base = await scrape();
  await assert.rejects(connect(bench.broker.port, { id: 'dev-m', password: 'not-the-secret' }));

  // Known traffic: 3 accepted messages with 5 samples, 1 duplicate, 2
  // out-of-range rejections, then one more sample that raises an alert.
  const batch = [ok(), ok(), ok()];
  assert.equal(await publishQos1(dev, 'vitals/dev-m', sample(batch)), 0);
  assert.equal(await publishQos1(dev, 'vitals/dev-m', sample(ok())), 0);
  assert.equal(await publishQos1(dev, 'vitals/dev-m', sample(batch[0])), 0, 'a resend is acknowledged');
  assert.equal(await publishQos1(dev, 'vitals/dev-m', sample(ok({ spo2: 101 }))), 0x87);
  assert.equal(await publishQos1(dev, 'vitals/dev-m', sample(ok({ hr: 301 }))), 0x87);
  assert.equal(await publishQos1(dev, 'vitals/dev-m', sample(ok({ hr: 160 }))), 0);
});

after(async () => {
  await dev?.endAsync();
  await bench?.stop();
});

test('/metrics after known traffic', async () => {
  // hr 160 raises a threshold alert and, by NEWS2 points, maybe a NEWS2 one.
  const m = await waitFor(async () => {
    const v = await scrape();
    const raised = v.get('vitalgate_alert_events_total{type="raised"}');
    return v.get('vitalgate_writer_rows_total') === 5 && raised >= 1
      && v.get('vitalgate_webhooks_total{outcome="delivered"}') === raised ? v : null;
  }, { what: '5 rows committed and every alert delivered, per /metrics', timeout: 15000 });
  const delta = (k) => m.get(k) - (base.get(k) ?? 0);
  assert.equal(m.get('vitalgate_samples_accepted_total'), 5);
  assert.equal(m.get('vitalgate_messages_accepted_total'), 3);
  assert.equal(m.get('vitalgate_samples_duplicate_total'), 1);
  assert.equal(m.get('vitalgate_messages_rejected_total{reason="out_of_range"}'), 2);
  assert.equal(m.get('vitalgate_messages_rejected_total{reason="malformed"}'), 0);
  assert.equal(delta('vitalgate_auth_total{result="failed"}'), 1);
  assert.equal(delta('vitalgate_auth_total{result="ok"}'), 0);
  assert.equal(m.get('vitalgate_clients_connected{role="device"}'), 1);
  assert.equal(m.get('vitalgate_clients_connected{role="station"}'), 1);
  assert.equal(m.get('vitalgate_clients_connected{role="service"}'), 1);
  assert.equal(m.get('vitalgate_database_up'), 1);
  assert.equal(m.get('vitalgate_identities'), 3);
  assert.ok(m.get('vitalgate_journal_bytes') > 0);
  assert.equal(m.get('vitalgate_queue_depth{queue="webhook"}'), 0);
  assert.equal(m.get('vitalgate_endpoint_reachable{endpoint="webhook"}'), 1);
  // The commit-latency histogram: cumulative buckets ending in +Inf = count.
  const buckets = [...m.entries()].filter(([k]) => k.startsWith('vitalgate_writer_batch_duration_seconds_bucket'));
  assert.ok(buckets.length >= 2);
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i][1] >= buckets[i - 1][1], 'cumulative buckets');
  const count = m.get('vitalgate_writer_batch_duration_seconds_count');
  assert.equal(buckets.at(-1)[0], 'vitalgate_writer_batch_duration_seconds_bucket{le="+Inf"}');
  assert.equal(buckets.at(-1)[1], count);
  assert.ok(count >= 1 && count === m.get('vitalgate_writer_batches_total'));
  assert.ok(m.get('vitalgate_writer_batch_duration_seconds_sum') > 0);
  // Issue 16: each sample's time from reception to COMMIT, all five of
  // them, within the writer's budget (100 ms) plus the commit: under 1 s.
  const lat = [...m.entries()].filter(([k]) => k.startsWith('vitalgate_writer_sample_commit_seconds_bucket'));
  assert.ok(lat.length >= 2);
  for (let i = 1; i < lat.length; i++) assert.ok(lat[i][1] >= lat[i - 1][1], 'cumulative buckets');
  assert.equal(lat.at(-1)[0], 'vitalgate_writer_sample_commit_seconds_bucket{le="+Inf"}');
  assert.equal(lat.at(-1)[1], 5);
  assert.equal(m.get('vitalgate_writer_sample_commit_seconds_count'), 5);
  assert.equal(m.get('vitalgate_writer_sample_commit_seconds_bucket{le="1"}'), 5);
  assert.ok(m.get('vitalgate_writer_sample_commit_seconds_sum') > 0);

  // The same figures under $SYS (retained, every second).
  const sysValue = (name) => Number(sys.filter((x) => x.topic === `$SYS/broker/vitalgate/${name}`).at(-1)?.text);
  // Each figure is its own retained message: wait for the last one checked below too.
  await waitFor(() => sysValue('writer/rows') === 5 && sysValue('writer/commit_ms/count') === 5
    && sysValue('writer/batch_us/count') === sysValue('writer/batches')
    && sysValue('webhooks/delivered') === m.get('vitalgate_webhooks_total{outcome="delivered"}'),
    { what: '$SYS writer/rows = 5, writer/commit_ms/count = 5 and the webhooks delivered' });
  assert.equal(sysValue('samples/accepted'), 5);
  assert.equal(sysValue('writer/commit_ms/count'), 5);
  assert.equal(sysValue('rejected/out_of_range'), 2);
  assert.equal(sysValue('auth/failed'), m.get('vitalgate_auth_total{result="failed"}'));
  assert.equal(sysValue('clients/connected/device'), 1);
  assert.equal(sysValue('writer/batch_us/count'), sysValue('writer/batches'));
});

test('connections stop counting when they end', async () => {
  await dev.endAsync();
  dev = null;
  await waitFor(async () => (await scrape()).get('vitalgate_clients_connected{role="device"}') === 0,
    { what: 'no device connected' });
});

test('/health: ok, then 503 naming the failing webhook endpoint, then the database', async () => {
  let h = await get('/health');
  assert.equal(h.status, 200, h.body);
  let doc = JSON.parse(h.body);
  assert.equal(doc.status, 'ok');
  assert.equal(doc.database.reachable, true);
  assert.equal(doc.webhook.state, 'reachable');
  assert.equal(doc.mirror.configured, false);

  // The endpoint answers 500 to the next alert's delivery.
  bench.receiver.mode = 'status:500';
  const secret = await bench.addDevice('dev-m2', 'MW', 'B2');
  await bench.waitIdentity(bench.broker.port, 'dev-m2', secret);
  const d2 = await connect(bench.broker.port, { id: 'dev-m2', password: secret });
  assert.equal(await publishQos1(d2, 'vitals/dev-m2', sample(ok({ hr: 170 }))), 0);
  h = await waitFor(async () => { const r = await get('/health'); return r.status === 503 ? r : null; },
    { what: '/health 503 while the endpoint fails', timeout: 10000 });
  doc = JSON.parse(h.body);
  assert.equal(doc.status, 'degraded');
  assert.equal(doc.webhook.state, 'failing');
  assert.equal(doc.webhook.error, 'HTTP 500');
  assert.ok(doc.webhook.pending >= 1);
  bench.receiver.mode = 'ok';
  await waitFor(async () => (await get('/health')).status === 200, { what: '/health back to 200', timeout: 15000 });

  // PostgreSQL goes away: the writer notices on the next sample.
  await bench.pg.stop();
  assert.equal(await publishQos1(d2, 'vitals/dev-m2', sample(ok())), 0, 'still acknowledged (journalled)');
  h = await waitFor(async () => { const r = await get('/health'); return JSON.parse(r.body).database.reachable === false ? r : null; },
    { what: '/health: database unreachable', timeout: 15000 });
  assert.equal(h.status, 503);
  await bench.pg.boot();
  await waitFor(async () => (await get('/health')).status === 200, { what: '/health 200 after PostgreSQL is back', timeout: 20000 });
  await d2.endAsync();
});

test('other paths and methods get a clear answer', async () => {
  assert.equal((await get('/nope')).status, 404);
  assert.equal((await get('/metrics', 'POST')).status, 405);
  const head = await get('/health', 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
});

test('12.9 /health and /metrics answer within 100 ms beside 100 idle and 5 half-sent requests; those close at their timeout; past the bound the oldest idle ones make room; the broker is unaffected', { timeout: 60000 }, async () => {
  const secret = await bench.addDevice('dev-m3', 'MW', 'B3');
  await bench.waitIdentity(bench.broker.port, 'dev-m3', secret);
  const d3 = await connect(bench.broker.port, { id: 'dev-m3', password: secret });
  let s3 = 1;
  // A probe after a while waits for one TICK (at most ~100 ms); the ones
  // that follow, as a health checker's do, are served from memory.
  assert.equal((await get('/health')).status, 200);
  assert.equal((await get('/metrics')).status, 200);

  const idle = await Promise.all(Array.from({ length: 100 }, () => rawConn()));
  const half = await Promise.all(Array.from({ length: 5 }, (_, i) => rawConn(i === 0 ? 'G' : 'GET /metrics HTTP/1.1\r\nHost: x\r\n')));
  const opened = performance.now();
  for (let round = 0; round < 3; round++) {
    const h = await timed('/health');
    assert.equal(h.status, 200, h.body);
    assert.equal(JSON.parse(h.body).status, 'ok');
    assert.ok(h.ms < 100, `GET /health took ${h.ms.toFixed(1)} ms with 105 slow connections open`);
    const m = await timed('/metrics');
    assert.equal(m.status, 200);
    assert.ok(m.ms < 100, `GET /metrics took ${m.ms.toFixed(1)} ms with 105 slow connections open`);
    assert.ok(parse(m.body).has('vitalgate_samples_accepted_total'), 'a whole exposition');
    // The broker meanwhile: a device publishes and is acknowledged.
    const t0 = performance.now();
    assert.equal(await publishQos1(d3, 'vitals/dev-m3', sample(ok({ seq: s3++ }))), 0);
    assert.ok(performance.now() - t0 < 1000, 'the broker answers its devices');
    await sleep(300);
  }
  // The slow ones are closed at their request timeout (2 s), unanswered.
  const slow = [...idle, ...half];
  assert.ok(slow.every((c) => c.closedAt === null), 'no slow connection closed early');
  await waitFor(() => slow.every((c) => c.closedAt !== null), { what: 'the slow connections closed', timeout: 6000 });
  for (const c of slow) {
    const lived = c.closedAt - c.openedAt;
    assert.ok(lived > 1500 && lived < 4500, `closed after ${lived.toFixed(0)} ms (timeout 2 s)`);
    assert.equal(c.got, '', 'no answer to an incomplete request');
  }
  assert.ok(performance.now() - opened < 6000);

  // Past the bound (128 connections): the oldest idle ones are closed at
  // once to make room, and a probe still gets in.
  const flood = [];
  for (let i = 0; i < 160; i++) flood.push(await rawConn());
  const h = await timed('/health');
  assert.equal(h.status, 200);
  assert.ok(h.ms < 100, `GET /health took ${h.ms.toFixed(1)} ms past the connection bound`);
  await waitFor(() => flood.filter((c) => c.closedAt !== null).length >= 160 - 128 + 1,
    { what: 'the oldest idle connections closed to make room', timeout: 1000 });
  const early = flood.filter((c) => c.closedAt !== null);
  assert.ok(early.every((c) => flood.indexOf(c) < 40), 'the oldest go first');
  for (const c of flood) c.destroy();
  assert.equal(await publishQos1(d3, 'vitals/dev-m3', sample(ok({ seq: s3++ }))), 0);
  await d3.endAsync();
});
