// The reference nurses' station page (issue 7) in headless Chromium
// (Debian's chromium driven by playwright-core), over MQTT/WebSockets to
// the real broker: it signs in as a station, fills with the beds of its
// ward (never another ward's), shows an alert banner while a device is over
// its threshold and removes it when it recovers, marks a bed that stopped
// sending, and saves a screenshot.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

import { chromium } from 'playwright-core';

import { Bench, connect, publishQos1, sample, freePort } from '../lib/bench.mjs';
import { startStationServer } from '../../stations/web/serve.mjs';

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
  web = await startStationServer();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
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
  await page.goto(`${web.url}?ws=ws://127.0.0.1:${wsPort}/mqtt&ward=3E&station=desk-3e&stale=3`);

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

  // Recovery: the banner goes once the alert resolves.
  feeds[1].hr = 76;
  await page.waitForFunction(() => document.querySelectorAll('#alerts li.alert').length === 0, null, { timeout: 10000 });
  assert.equal(await page.isVisible('#no-alerts'), true);

  // B3 stops sending: its tile says so, in words.
  feeds[2].on = false;
  await page.waitForSelector('li[data-bed="B3"][data-stale="true"]', { timeout: 10000 });
  assert.match(await page.textContent('li[data-bed="B3"] .stale'), /No data for \d+ s/);

  // A station connecting later sees the open alert from the retained list.
  feeds[0].hr = 35;
  const late = await browser.newPage();
  await late.goto(`${web.url}?ws=ws://127.0.0.1:${wsPort}/mqtt&ward=3E&station=desk-3e`);
  await page.waitForSelector('#alerts li.alert', { timeout: 10000 });
  await late.fill('#secret', stationSecret);
  await late.click('#connect');
  await late.waitForSelector('#alerts li.alert[data-severity="high"]', { timeout: 10000 });
  assert.match(await late.textContent('#alerts li.alert'), /Bed B1: pulse 35 \/min \(≤ 40 \/min\)/);
  await late.close();
  assert.deepEqual(consoleErrors, []);
  await page.close();
});
