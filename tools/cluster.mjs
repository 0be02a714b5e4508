#!/usr/bin/env node
// A local hospital network of cells in one command (scripts/cluster.sh;
// docs/scale-out.md): PostgreSQL, two cells ("east": wards 3W and 4W,
// "west": ward 5E) each with a primary and a standby Mosquitto + Vitalgate,
// a hub they bridge wards/# to, HAProxy in front (the map written by
// `vitalgate-admin cells haproxy-map`), and simulated bedside devices
// publishing through HAProxy (a few with abnormal values, so alerts are
// open). Every 2 s one line per instance: UP/DOWN in HAProxy, devices
// connected, and the samples acknowledged vs stored in PostgreSQL.
//
//   node tools/cluster.mjs [--devices N] [--rate HZ] [--demo]
//
// Watch a failover: kill -9 the PID printed for east-primary; its devices
// move to east-standby within seconds; start it again with `--demo`'s
// steps or just wait for the demo. --demo does it by itself (kill -9 the
// east primary at 15 s, restart it at 30 s, move ward 4W to west at 50 s),
// then stops the devices, checks that every acknowledged sample is in
// PostgreSQL exactly once and that no alert was raised twice, and exits
// (0 when so). Ctrl-C stops everything this script started, by PID.
import path from 'node:path';
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { execFileSync } from 'node:child_process';

import { Postgres, Broker, makeTempRoot, freePort, httpGet, promValue, waitFor, connect, ADMIN, ownSignals }
  from '../tests/lib/bench.mjs';
import { Haproxy } from '../tests/lib/haproxy.mjs';
import { Fleet, verifyStored } from '../tests/lib/fleet.mjs';
import { parseMap } from './haproxy-cells.mjs';

const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : def;
};
const N = Number(arg('--devices', '60'));
const RATE = Number(arg('--rate', '1'));
const DEMO = process.argv.includes('--demo');
const say = (m) => console.log(`\x1b[1mcluster:\x1b[0m ${m}`);
const WARDS = { '3W': 'east', '4W': 'east', '5E': 'west' };

ownSignals();
const parts = [];
let stopping = false;

let rootDir;
async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  for (const p of parts.reverse()) await p().catch(() => {});
  if (rootDir && (DEMO || !process.env.VG_KEEP_TMP)) rmSync(rootDir, { recursive: true, force: true });
  process.exit(code);
}
process.on('SIGINT', () => stopAll(130));
process.on('SIGTERM', () => stopAll(143));

async function main() {
  const root = makeTempRoot('vg-cluster-');
  rootDir = root;
  say(`state in ${root}`);
  const pg = await Postgres.start(root, {});
  parts.push(() => pg.stop());
  const admin = (args, input) => execFileSync(ADMIN, ['--db', pg.conninfo, ...args],
    { input, encoding: 'utf8', stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 }).trim();
  admin(['migrate']);
  for (const [w, c] of Object.entries(WARDS)) admin(['ward', 'place', w, '--cell', c]);
  const wards = Object.keys(WARDS);
  const lines = Array.from({ length: N }, (_, i) => `mon-${i} ${wards[i % wards.length]} B${i}`);
  const creds = admin(['device', 'import', '-'], `${lines.join('\n')}\n`).split('\n').map((l) => {
    const [id, secret] = l.split(' ');
    return { id, secret };
  });
  const secrets = {};
  secrets['rapid-response'] = admin(['station', 'add', 'rapid-response', '--wards', '3W,5E']);
  secrets['core-1'] = admin(['service', 'add', 'core-1']);
  const instances = {};
  const bridge = (id) => [
    'connection hub', `address 127.0.0.1:${instances.hub.port}`, 'topic wards/# out 1', `remote_clientid ${id}`,
    `remote_username ${id}`, `remote_password ${admin(['cell', 'add', id, '--cell', id.split('-')[1]])}`,
    'cleansession true', 'notifications false', 'restart_timeout 1',
  ];
  const spool = (name) => {
    const dir = path.join(root, `spool-${name}`);
    execFileSync('install', ['-d', '-m', '700', ...(process.getuid() === 0 ? ['-o', 'mosquitto', '-g', 'mosquitto'] : []), dir]);
    return dir;
  };
  const start = async (name, options, extraConf = []) => {
    const healthPort = await freePort();
    const b = await Broker.start(root, {
      conninfo: pg.conninfo, spoolDir: spool(name), options: { ...options, metrics_port: healthPort, trusted_proxies: '127.0.0.1' },
      extraConf,
    });
    b.name = name;
    b.healthPort = healthPort;
    instances[name] = b;
    parts.push(() => b.stop());
    return b;
  };
  await start('hub', { mode: 'hub' });
  for (const cell of ['east', 'west']) {
    for (const role of ['primary', 'standby']) await start(`${cell}-${role}`, { cell }, bridge(`cell-${cell}-${role}`));
  }
  const hx = await Haproxy.start(root, {
    map: parseMap(admin(['cells', 'haproxy-map'])),
    cells: [
      { name: 'east', primary: instances['east-primary'], standby: instances['east-standby'] },
      { name: 'west', primary: instances['west-primary'], standby: instances['west-standby'] },
      { name: 'hub', primary: instances.hub },
    ],
  });
  parts.push(() => hx.stop());
  for (const c of ['east', 'west', 'hub']) await hx.waitStatus(`cell_${c}`, 'primary', /^UP$/);
  say(`HAProxy on 127.0.0.1:${hx.port} (map ${hx.mapFile}, runtime API ${hx.socket})`);
  for (const b of Object.values(instances)) say(`  ${b.name.padEnd(14)} pid ${b.proc.pid}  mqtt :${b.port}  /health :${b.healthPort}  spool ${b.opts.spoolDir}`);

  // The hospital-wide view: a rapid-response station on the hub.
  const rr = await connect(hx.port, { id: 'rapid-response', password: secrets['rapid-response'], reconnectPeriod: 1000 });
  await rr.subscribeAsync(['wards/3W/alerts', 'wards/5E/alerts']);
  rr.on('message', (t, p) => {
    const e = JSON.parse(p.toString());
    say(`  [hub] ${t}: ${e.type} ${e.data.kind} ${e.data.alert_id} ${e.data.device_id ?? ''} ${e.data.severity}`);
  });
  parts.push(() => rr.endAsync(true));

  const fleet = new Fleet({
    port: hx.port, creds, rate: RATE, reconnectMs: 500,
    fields: (id, seq) => (Number(id.split('-')[1]) % 20 === 0 ? { hr: 72, spo2: 86, rr: 14 } : { hr: 60 + (seq % 30), spo2: 97, rr: 14 }),
  });
  await fleet.start();
  parts.push(() => fleet.stop({ drainMs: 5000 }));
  say(`${N} devices publishing at ${RATE} Hz through HAProxy; kill -9 a primary's PID to watch a failover (Ctrl-C stops)`);

  const status = async () => {
    const stat = await hx.runtime.stat().catch(() => []);
    const row = (b) => stat.find((r) => r.pxname === `cell_${b.name.split('-')[0]}` && r.svname === (b.name.endsWith('standby') ? 'standby' : 'primary'));
    const parts2 = [];
    for (const b of Object.values(instances)) {
      let devices = '-';
      try { devices = promValue((await httpGet(b.healthPort, '/metrics')).body, 'vitalgate_clients_connected{role="device"}'); } catch { /* down */ }
      parts2.push(`${b.name} ${row(b)?.status ?? (b.name === 'hub' ? 'UP' : '?')} ${devices}`);
    }
    const stored = (await pg.query("SELECT count(*)::int AS n FROM vitals WHERE device_id LIKE 'mon-%'")).rows[0].n;
    say(`${parts2.join(' | ')} || acked ${fleet.ackedCount}, stored ${stored}`);
  };
  const timer = setInterval(() => status().catch(() => {}), 2000);
  parts.push(async () => clearInterval(timer));

  if (!DEMO) return;
  const ids = creds.map((c) => c.id);
  await sleep(15000);
  const east = instances['east-primary'];
  const t0 = Date.now();
  say(`DEMO: kill -9 east-primary (pid ${east.proc.pid})`);
  await east.kill9();
  await waitFor(() => fleet.recoveredBy(t0, 1, ids) < Infinity, { timeout: 30000, what: 'every device publishing again' });
  say(`DEMO: every device publishing again ${fleet.recoveredBy(t0, 1, ids)} ms after the kill (99 %: ${fleet.recoveredBy(t0, 0.99, ids)} ms)`);
  await sleep(10000);
  say('DEMO: east-primary starts again (its journal is replayed; HAProxy fails back once it serves)');
  await east.boot();
  await hx.waitStatus('cell_east', 'primary', /^UP$/, 30000);
  await sleep(10000);
  say('DEMO: ward 4W placed on west, HAProxy\'s map pushed');
  admin(['ward', 'place', '4W', '--cell', 'west']);
  await hx.replaceMap(parseMap(admin(['cells', 'haproxy-map'])));
  await sleep(10000);
  const left = await fleet.stop({ drainMs: 20000 });
  await waitFor(async () => (await pg.query("SELECT count(*)::int AS n FROM vitals WHERE device_id LIKE 'mon-%'")).rows[0].n >= fleet.ackedCount,
    { timeout: 60000, what: 'the acknowledged samples in PostgreSQL' });
  const v = await verifyStored(pg, fleet);
  const twice = (await pg.query(`SELECT count(*)::int AS n FROM (SELECT vitalgate_alert_cond(kind, ward, bed, device_id, body) c
    FROM alert_events WHERE type = 'alert.raised' GROUP BY 1 HAVING count(*) > 1) x`)).rows[0].n;
  say(`DEMO: ${fleet.ackedCount} samples acknowledged, ${v.missing.length} missing, ${v.dups} stored twice, `
    + `${left} never acknowledged; ${twice} alert condition(s) raised twice`);
  await stopAll(v.missing.length === 0 && v.dups === 0 && twice === 0 ? 0 : 1);
}

main().catch(async (e) => {
  console.error(e);
  await stopAll(1);
});
