#!/usr/bin/env node
// Runs the whole of Vitalgate locally (scripts/run.sh calls this after
// installing and building): PostgreSQL in $VG_RUN_DIR, the schema, a few
// identities, the sample Node.js core, Mosquitto with the plugin, and
// simulated devices. Prints what happens; Ctrl-C stops everything it
// started, by PID.
import { spawn } from 'node:child_process';
import { mkdirSync, existsSync, writeFileSync, chmodSync, chownSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Postgres, Broker, freePort, whsecret, waitFor, ownSignals, ADMIN } from '../tests/lib/bench.mjs';
import { startStationServer } from '../stations/web/serve.mjs';

const root = path.resolve(process.env.VG_RUN_DIR ?? '/var/tmp/vitalgate-run');
const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const isRoot = process.getuid() === 0;
const ids = (name) => ({
  uid: Number(execFileSync('id', ['-u', name]).toString()),
  gid: Number(execFileSync('id', ['-g', name]).toString()),
});
const portFree = async (p) => {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const s = net.createServer().once('error', () => resolve(false)).listen(p, '127.0.0.1', () => s.close(() => resolve(true)));
  });
};
const say = (m) => console.log(`\x1b[1mvitalgate:\x1b[0m ${m}`);

ownSignals();
mkdirSync(root, { recursive: true, mode: 0o755 });
chmodSync(root, 0o755);
const children = [];

async function main() {
  say(`state in ${root}`);
  const pg = await Postgres.open(root, { port: (await portFree(55432)) ? 55432 : undefined });
  const admin = (args) => execFileSync(ADMIN, ['--db', pg.conninfo, ...args], { stdio: ['ignore', 'pipe', 'inherit'] }).toString().trim();
  say(`PostgreSQL on ${pg.sock} port ${pg.port}`);
  try { await pg.query('SELECT 1'); } catch { const c = await pg.client('postgres'); await c.query('CREATE DATABASE vitalgate'); await c.end(); }
  admin(['migrate']);

  const secretsDir = path.join(root, 'secrets');
  mkdirSync(secretsDir, { recursive: true, mode: 0o700 });
  const existing = new Set((await pg.query('SELECT id FROM identities')).rows.map((r) => r.id));
  const devices = ['mon-3w-01', 'mon-3w-02', 'mon-3w-03', 'ox-3w-04'];
  const provision = (id, addArgs) => {
    const f = path.join(secretsDir, `${id}.secret`);
    if (existing.has(id) && existsSync(f)) return;
    const secret = existing.has(id) ? admin(['device', 'rotate', id]) : admin(addArgs);
    writeFileSync(f, `${secret}\n`, { mode: 0o600 });
  };
  devices.forEach((id, i) => provision(id, ['device', 'add', id, '--ward', '3W', '--bed', `B0${i + 1}`]));
  provision('station-3w', ['station', 'add', 'station-3w', '--wards', '3W']);
  provision('core-1', ['service', 'add', 'core-1']);

  const spool = path.join(root, 'spool');
  mkdirSync(spool, { recursive: true, mode: 0o700 });
  const whFile = path.join(root, 'webhook-secrets');
  if (!existsSync(whFile)) writeFileSync(whFile, `${whsecret()}\n`, { mode: 0o600 });
  if (isRoot) {
    const m = ids('mosquitto');
    chownSync(spool, m.uid, m.gid);
    chownSync(whFile, m.uid, m.gid);
  }

  const corePort = (await portFree(3000)) ? 3000 : await freePort();
  const core = spawn(process.execPath, [path.join(src, 'bridge/node/examples/core.mjs')], {
    env: { ...process.env, PORT: String(corePort), VITALGATE_WEBHOOK_SECRETS_FILE: whFile }, stdio: 'inherit',
  });
  children.push(core);
  await waitFor(async () => (await fetch(`http://127.0.0.1:${corePort}/health`)).ok, { what: 'the sample core' });

  const mqttPort = (await portFree(1883)) ? 1883 : await freePort();
  const wsPort = (await portFree(9001)) ? 9001 : await freePort();
  const broker = await Broker.start(root, {
    port: mqttPort, conninfo: pg.conninfo, spoolDir: spool, secretFile: whFile,
    webhookUrl: `http://127.0.0.1:${corePort}/vitalgate/webhooks`,
    // MQTT over WebSockets for the station page (bound by interface name).
    extraConf: [`listener ${wsPort} lo`, 'protocol websockets'],
  });
  // The page connects to its own origin; this server passes /mqtt on to the broker.
  const web = await startStationServer({ port: (await portFree(8080)) ? 8080 : 0, broker: `ws://127.0.0.1:${wsPort}/mqtt` });
  let shown = 0;
  setInterval(() => {
    for (; shown < broker.lines.length; shown++) {
      const l = broker.lines[shown];
      if (/Vitalgate|error|warning/i.test(l)) console.log(`broker: ${l}`);
    }
  }, 200).unref();
  say(`Mosquitto + Vitalgate on mqtt://127.0.0.1:${mqttPort} (log: ${broker.logFile})`);

  const sim = spawn(process.execPath, [path.join(src, 'tools/simulate-devices.mjs'), '--port', String(mqttPort),
    '--secrets', secretsDir, '--tachy', 'mon-3w-02', ...devices], { stdio: 'inherit' });
  children.push(sim);

  const stationSecret = readFileSync(path.join(secretsDir, 'station-3w.secret'), 'utf8').trim();
  say('simulated devices are streaming; mon-3w-02 develops tachycardia after ~10 s (alert) and recovers after ~40 s.');
  say(`watch ward 3W as its nurses' station:\n  mosquitto_sub -h 127.0.0.1 -p ${mqttPort} -V mqttv5 -i station-3w -u station-3w -P '${stationSecret}' -t 'wards/3W/#' -v`);
  say(`nurses' station page (sign in with the secret above):\n  ${web.url}?ward=3W&station=station-3w`);
  say(`query the stored samples:\n  psql "${pg.conninfo}" -c 'SELECT device_id, seq, measured_at, hr, spo2 FROM vitals ORDER BY measured_at DESC LIMIT 10'`);
  say('Ctrl-C stops everything.');

  setInterval(async () => {
    try {
      const r = await pg.query("SELECT count(*)::int AS n FROM vitals WHERE received_at > now() - interval '5 seconds'");
      say(`${r.rows[0].n} samples stored in the last 5 s`);
    } catch { /* shutting down */ }
  }, 5000).unref();

  const stop = async () => {
    say('stopping');
    for (const c of children) try { c.kill('SIGTERM'); } catch { /* gone */ }
    await web.close();
    await broker.stop();
    await pg.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch(async (e) => {
  console.error(`vitalgate: ${e.message}`);
  for (const c of children) try { c.kill('SIGKILL'); } catch { /* gone */ }
  process.exit(1);
});
