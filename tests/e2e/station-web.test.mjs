// The reference nurses' station page (issue 7) in headless Chromium
// (Debian's chromium driven by playwright-core), over MQTT/WebSockets to
// the real broker: it signs in as a station, fills with the beds of its
// ward from the ward's frame (wards/<ward>/vitals; never another ward's), shows an alert banner while a device is over
// its threshold and removes it when it recovers, marks a bed that stopped
// sending, and saves a screenshot. The page talks to its own origin (the
// server passes /mqtt to the broker) and sends its secret nowhere else
// unless the user confirms the address on screen (issue 12.15).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { chromium } from 'playwright-core';

import { Bench, connect, publishQos1, sample, freePort, waitFor, SOURCE_DIR } from '../lib/bench.mjs';
import { startStationServer } from '../../stations/web/serve.mjs';
import { assessBrokerUrl, defaultBrokerUrl } from '../../stations/web/broker-url.js';

const CHROMIUM = process.env.VG_CHROMIUM ?? '/usr/bin/chromium';

let bench;
let web;
let browser;
let wsPort;
let stationSecret;
const feeds = [];

// A device that publishes every 300 ms until stopped; hr() sets its pulse.
async function feed(id, ward, bed, hr) {
  const secret = await bench.addDevice(id, ward, bed);
  await bench.waitIdentity(bench.broker.port, id, secret);
  const c = await connect(bench.broker.port, { id, password: secret });
  const f = { id, c, hr, seq: 1, on: true };
  f.loop = (async () => {
    while (f.on) {
      await publishQos1(c, `vitals/${id}`, sample({ v: 1, seq: f.seq++, ts: Date.now(), hr: f.hr, spo2: 97, rr: 16, sbp: 122, dbp: 78, temp: 36.9, o2: false, avpu: 'A' }));
      await new Promise((r) => setTimeout(r, 300));
    }
  })();
  feeds.push(f);
  return f;
}

before(async () => {
  wsPort = await freePort();
  bench = await Bench.start({
    webhook: true,
    options: { alert_hold_s: 1, silence_s: 3600, disconnect_grace_s: 3600 },
    // Debian's 2.0.11 binds a websockets listener by interface name.
    extraConf: [`listener ${wsPort} lo`, 'protocol websockets'],
  });
  stationSecret = await bench.adminOk(['station', 'add', 'desk-3e', '--wards', '3E']);
  await bench.waitIdentity(bench.broker.port, 'desk-3e', stationSecret);
  await feed('mon-3e-1', '3E', 'B1', 72);
  await feed('mon-3e-2', '3E', 'B2', 80);
  await feed('mon-3e-3', '3E', 'B3', 64);
  await feed('mon-9x-1', '9X', 'Z9', 90);
  web = await startStationServer({ broker: `ws://127.0.0.1:${wsPort}/mqtt` });
  // station-broker.test: a name that is not loopback to the page, served
  // by a fake broker on 127.0.0.2 (the only network here is loopback).
  browser = await chromium.launch({ executablePath: CHROMIUM,
    args: ['--no-sandbox', '--host-resolver-rules=MAP station-broker.test 127.0.0.2'] });
});

after(async () => {
  for (const f of feeds) { f.on = false; await f.loop.catch(() => {}); await f.c.endAsync().catch(() => {}); }
  await browser?.close();
  await web?.close();
  await bench?.stop();
});

test('the station page signs in, fills with its ward, shows and clears an alert, marks a silent bed', { timeout: 90000 }, async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is installed (apt-get install chromium)`);
  const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  // No ?ws=: the page's own origin, which passes /mqtt to the broker.
  await page.goto(`${web.url}?ward=3E&station=desk-3e&stale=3`);
  assert.equal(await page.inputValue('#ws'), `ws://127.0.0.1:${web.port}/mqtt`);

  // A wrong secret is refused with a clear message.
  await page.fill('#secret', 'vgs_wrong');
  await page.click('#connect');
  await page.waitForSelector('#login-error:has-text("refused")', { timeout: 10000 });

  await page.fill('#secret', stationSecret);
  await page.click('#connect');
  await page.waitForSelector('#status[data-state="connected"]', { timeout: 10000 });
  // Every bed of 3E, with live values and NEWS2.
  await page.waitForFunction(() => document.querySelectorAll('#beds li.bed').length === 3, null, { timeout: 10000 });
  assert.deepEqual(await page.$$eval('#beds li.bed', (els) => els.map((e) => e.dataset.bed)), ['B1', 'B2', 'B3']);
  assert.equal(await page.textContent('li[data-bed="B1"] .v-hr'), '72 /min');
  assert.equal(await page.textContent('li[data-bed="B1"] .v-bp'), '122/78 mmHg');
  assert.match(await page.textContent('li[data-bed="B1"] .news2'), /^NEWS2 0$/);
  assert.equal(await page.$('li[data-bed="Z9"]'), null, 'never another ward\'s beds');

  // Live: B2 goes over the threshold: a banner appears, the bed is flagged.
  feeds[1].hr = 150;
  await page.waitForSelector('#alerts li.alert[data-severity="high"]', { timeout: 10000 });
  const banner = await page.textContent('#alerts li.alert');
  assert.match(banner, /HIGH ALERT — Bed B2: pulse 150 \/min \(≥ 131 \/min\)/);
  await page.waitForSelector('li[data-bed="B2"][data-alert="true"]');
  assert.match(await page.textContent('li[data-bed="B2"]'), /ALERT OPEN/);
  await page.waitForFunction(() => document.querySelector('li[data-bed="B2"] .v-hr')?.textContent === '150 /min');
  const shot = path.join(bench.root, 'station.png');
  await page.screenshot({ path: shot, fullPage: true });
  const png = readFileSync(shot);
  assert.ok(statSync(shot).size > 10000, `screenshot has content (${statSync(shot).size} bytes)`);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

  // Recovery (issue 15): the condition ends, but a high alert nobody
  // acknowledged latches: the page says so, in words, until acknowledged.
  feeds[1].hr = 76;
  await page.waitForSelector('#alerts li.alert[data-latched="true"]', { timeout: 10000 });
  assert.match(await page.textContent('#alerts li.alert'), /HIGH ALERT — Bed B2: pulse out of range.*LATCHED: condition ended at \d/);
  await page.waitForFunction(() => document.querySelector('li[data-bed="B2"] .v-hr')?.textContent === '76 /min');
  // The screenshot in docs/ (docs/stations.md), regenerated by this test.
  await page.screenshot({ path: path.join(SOURCE_DIR, 'docs/station-alarms.png'), fullPage: true });
  // Acknowledge asks who; the core gets alert.acknowledged and the page lets the alert go.
  await page.click('#alerts li.alert button.ack');
  await page.waitForSelector('#alerts li.alert input.ack-by');
  await page.fill('#alerts li.alert input.ack-by', 'nurse kim');
  await page.click('#alerts li.alert button.ack-confirm');
  await page.waitForSelector('#alerts li.alert .ack-error:has-text("clinician id")');
  await page.fill('#alerts li.alert input.ack-by', 'nurse.kim');
  await page.click('#alerts li.alert button.ack-confirm');
  const acked = await waitFor(() => bench.receiver.events.find((e) => e.type === 'alert.acknowledged' && e.data.bed === 'B2'),
    { what: 'alert.acknowledged webhook', timeout: 10000 });
  assert.equal(acked.data.acknowledged_by, 'nurse.kim');
  assert.equal(acked.data.acknowledged_via, 'desk-3e');
  assert.equal(acked.data.latched, true);
  await page.waitForFunction(() => document.querySelectorAll('#alerts li.alert').length === 0, null, { timeout: 10000 });
  assert.equal(await page.isVisible('#no-alerts'), true);

  // B3 stops sending: its tile says so, in words.
  feeds[2].on = false;
  await page.waitForSelector('li[data-bed="B3"][data-stale="true"]', { timeout: 10000 });
  assert.match(await page.textContent('li[data-bed="B3"] .stale'), /No data for \d+ s/);

  // A bed whose device left the ward leaves the next frame, and the page.
  assert.equal(bench.admin(['device', 'unassign', 'mon-3e-3']).code, 0);
  await page.waitForFunction(() => !document.querySelector('li[data-bed="B3"]'), null, { timeout: 10000 });
  assert.deepEqual(await page.$$eval('#beds li.bed', (els) => els.map((e) => e.dataset.bed)), ['B1', 'B2']);

  // A station connecting later sees the open alert from the retained list,
  // and the ward's beds at once from the retained frame.
  feeds[0].hr = 35;
  const late = await browser.newPage();
  await late.goto(`${web.url}?ward=3E&station=desk-3e`);
  await page.waitForSelector('#alerts li.alert', { timeout: 10000 });
  await late.fill('#secret', stationSecret);
  await late.click('#connect');
  await late.waitForSelector('#alerts li.alert[data-severity="high"]', { timeout: 10000 });
  assert.match(await late.textContent('#alerts li.alert'), /Bed B1: pulse 35 \/min \(≤ 40 \/min\)/);
  await late.waitForFunction(() => document.querySelectorAll('#beds li.bed').length === 2, null, { timeout: 5000 });
  assert.equal(await late.getAttribute('li[data-bed="B1"]', 'data-alert'), 'true');
  await late.close();
  assert.deepEqual(consoleErrors, []);
  await page.close();
});

// A WebSocket server that accepts anything (subprotocol mqtt) and keeps
// every byte the client sends, unmasked: whether a CONNECT with a given
// password arrived.
async function fakeBroker(host) {
  const seen = { upgrades: 0, bytes: Buffer.alloc(0) };
  const server = createServer((req, res) => { res.writeHead(404); res.end(); });
  const sockets = new Set();
  server.on('upgrade', (req, socket) => {
    seen.upgrades++;
    sockets.add(socket);
    socket.on('error', () => {});
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n`);
    let buf = Buffer.alloc(0);
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (buf.length < 2) return;
        let len = buf[1] & 0x7f;
        let off = 2;
        if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
        if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
        const mask = (buf[1] & 0x80) ? buf.subarray(off, off + 4) : null;
        if (mask) off += 4;
        if (buf.length < off + len) return;
        const payload = Buffer.from(buf.subarray(off, off + len));
        if (mask) for (let i = 0; i < len; i++) payload[i] ^= mask[i % 4];
        seen.bytes = Buffer.concat([seen.bytes, payload]);
        buf = buf.subarray(off + len);
      }
    });
  });
  await new Promise((resolve) => server.listen(0, host, resolve));
  return {
    port: server.address().port,
    seen,
    got: (secret) => seen.bytes.includes(Buffer.from(secret)),
    close: () => new Promise((r) => { for (const sock of sockets) sock.destroy(); server.close(r); }),
  };
}

test('12.15 the broker address: the page\'s own origin by default (TLS outside loopback); another origin only once confirmed on screen; ws:// beyond loopback only with an explicit opt-in', { timeout: 90000 }, async () => {
  // The rules, as pure functions of the page's location.
  const at = (href) => new URL(href);
  assert.equal(defaultBrokerUrl(at('https://station.example.org/?ward=3W')), 'wss://station.example.org/mqtt');
  assert.equal(defaultBrokerUrl(at('https://station.example.org:8443/')), 'wss://station.example.org:8443/mqtt');
  assert.equal(defaultBrokerUrl(at('http://ward3.example.org/')), 'wss://ward3.example.org/mqtt', 'TLS outside loopback');
  assert.equal(defaultBrokerUrl(at('http://127.0.0.1:8080/')), 'ws://127.0.0.1:8080/mqtt');
  assert.equal(defaultBrokerUrl(at('http://localhost:8080/')), 'ws://localhost:8080/mqtt');
  assert.equal(defaultBrokerUrl(at('http://[::1]:8080/')), 'ws://[::1]:8080/mqtt');
  const https = at('https://station.example.org/');
  const dev = at('http://127.0.0.1:8080/');
  const cases = [
    [https, 'wss://station.example.org/mqtt', { otherOrigin: false, cleartext: false }],
    [https, 'wss://station.example.org/other', { otherOrigin: false, cleartext: false }],
    [https, 'wss://broker.example.org/mqtt', { otherOrigin: true, cleartext: false }],
    [https, 'ws://station.example.org/mqtt', { otherOrigin: true, cleartext: true }],
    [https, 'ws://10.0.0.9:9001/mqtt', { otherOrigin: true, cleartext: true }],
    [at('http://ward3.example.org/'), 'wss://ward3.example.org/mqtt', { otherOrigin: false, cleartext: false }],
    [at('http://ward3.example.org/'), 'ws://ward3.example.org/mqtt', { otherOrigin: false, cleartext: true }],
    [dev, 'ws://127.0.0.1:8080/mqtt', { otherOrigin: false, cleartext: false }],
    [dev, 'ws://127.0.0.1:9001/mqtt', { otherOrigin: true, cleartext: false }],
    [dev, 'ws://127.0.0.2:9001/mqtt', { otherOrigin: true, cleartext: false }],
    [dev, 'ws://localhost:8080/mqtt', { otherOrigin: true, cleartext: false }],
    [dev, 'ws://127.0.0.1.example.org/mqtt', { otherOrigin: true, cleartext: true }],
  ];
  for (const [loc, url, want] of cases) {
    const got = assessBrokerUrl(url, loc);
    assert.deepEqual({ otherOrigin: got.otherOrigin, cleartext: got.cleartext }, want, `${url} from ${loc.href}`);
  }
  for (const bad of ['https://station.example.org/mqtt', 'javascript:alert(1)', 'not a url', 'wss://u:p@station.example.org/mqtt']) {
    assert.ok(assessBrokerUrl(bad, https).error, `${bad} is refused`);
  }

  // In the browser: a fake broker on another loopback address records
  // whether a station secret ever reaches it.
  const fake = await fakeBroker('127.0.0.2');
  try {
    const secret = `vgs_canary_${randomBytes(8).toString('hex')}`;
    const other = `ws://127.0.0.2:${fake.port}/mqtt`;
    const page = await browser.newPage();
    await page.goto(`${web.url}?ws=${encodeURIComponent(other)}&ward=3E&station=desk-3e`);
    assert.equal(await page.inputValue('#ws'), other, '?ws= pre-fills the field');
    await page.fill('#secret', secret);
    await page.click('#connect');
    await page.waitForSelector('#target-check', { state: 'visible' });
    assert.equal(await page.textContent('#target-url'), other, 'the full target is on screen');
    assert.equal(await page.textContent('#target-page'), web.url.replace(/\/$/, ''));
    assert.equal(await page.isVisible('#cleartext-warning'), false, 'ws:// to loopback needs no opt-in');
    await sleep(1500);
    assert.equal(fake.seen.upgrades, 0, 'not even a connection before the user confirms');
    // Cancel, then a second Connect: asked again, still nothing sent.
    await page.click('#target-cancel');
    assert.equal(await page.isVisible('#target-check'), false);
    await page.click('#connect');
    await page.waitForSelector('#target-check', { state: 'visible' });
    await sleep(500);
    assert.equal(fake.seen.upgrades, 0);
    // Confirmed: now it goes there (what the confirmation stands between).
    await page.click('#target-confirm');
    await waitFor(() => fake.got(secret), { what: 'the CONNECT with the secret at the confirmed address' });
    assert.equal(await page.isVisible('#insecure'), false);
    await page.close();

    // ws:// to a name that is not loopback: the warning, and no way on
    // without ticking the opt-in.
    const secret2 = `vgs_canary_${randomBytes(8).toString('hex')}`;
    const remote = `ws://station-broker.test:${fake.port}/mqtt`;
    const p2 = await browser.newPage();
    await p2.goto(`${web.url}?ws=${encodeURIComponent(remote)}&ward=3E&station=desk-3e`);
    await p2.fill('#secret', secret2);
    await p2.click('#connect');
    await p2.waitForSelector('#cleartext-warning', { state: 'visible' });
    assert.equal(await p2.textContent('#target-url'), remote);
    assert.match(await p2.textContent('#cleartext-warning'), /Not encrypted/);
    assert.equal(await p2.$eval('#target-confirm', (b) => b.disabled), true, 'confirming needs the opt-in');
    const upgrades = fake.seen.upgrades;
    await p2.evaluate(() => document.getElementById('target-confirm').click());
    await p2.press('#secret', 'Enter');
    await sleep(1500);
    assert.equal(fake.seen.upgrades, upgrades, 'nothing sent without the opt-in');
    assert.equal(fake.got(secret2), false);
    await p2.check('#allow-cleartext');
    await p2.click('#target-confirm');
    await waitFor(() => fake.got(secret2), { what: 'the CONNECT after the explicit opt-in' });
    assert.equal(await p2.isVisible('#insecure'), true, 'the unencrypted connection stays flagged on screen');
    await p2.close();
  } finally {
    await fake.close();
  }
});
