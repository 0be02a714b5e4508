#!/usr/bin/env node
// Simulated bedside devices: each connects with its own identity and sends
// a v1 MessagePack sample every second (QoS 1) with every measurement of
// schemas/vitals/v1.json around its example value. One device develops
// tachycardia for a while, so an alert fires and then resolves.
//
//   node tools/simulate-devices.mjs --port 1883 --secrets DIR dev1 dev2 ...
//   (DIR/<id>.secret holds each device's secret)
//   --tachy <id>   the device whose heart rate climbs (default: the second)
//   --seconds N    stop after N seconds (default: run until interrupted)
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { encode } from '@msgpack/msgpack';

import { loadSchema } from '../schemas/schema.mjs';

// Every measurement of the schema, around its example value.
const schema = loadSchema(path.join(path.dirname(fileURLToPath(import.meta.url)), '../schemas/vitals/v1.json'));

const args = process.argv.slice(2);
const opt = { port: 1883, secrets: '.', tachy: null, seconds: 0, host: '127.0.0.1' };
const ids = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--port') opt.port = Number(args[++i]);
  else if (a === '--host') opt.host = args[++i];
  else if (a === '--secrets') opt.secrets = args[++i];
  else if (a === '--tachy') opt.tachy = args[++i];
  else if (a === '--seconds') opt.seconds = Number(args[++i]);
  else ids.push(a);
}
if (ids.length === 0) {
  console.error('simulate-devices: give at least one device id');
  process.exit(2);
}
opt.tachy ??= ids[1] ?? ids[0];

const jitter = (base, spread) => Math.round(base + (Math.random() * 2 - 1) * spread);
const start = Date.now();

// A plausible value of measurement f: its example with a little noise on
// numbers (about 5 % of its distance to the nearer bound, so SpO2 97 stays
// near the top; two steps of the last decimal for decimals), inside its bounds.
function value(f) {
  if (f.type !== 'uint' && f.type !== 'number') return f.example;
  const scale = 10 ** f.decimals;
  const spread = f.decimals ? 2 : Math.max(1, Math.round(Math.min(f.example - f.min, f.max - f.example) * 0.05));
  const v = Math.round((f.example + (Math.random() * 2 - 1) * spread / scale) * scale) / scale;
  return Math.min(f.max, Math.max(f.min, v));
}

// The tachycardic spell of --tachy: these vitals leave their normal ranges.
const ILL = { hr: () => jitter(142, 4), spo2: () => jitter(93, 1), rr: () => jitter(22, 2) };

for (const id of ids) {
  const secret = readFileSync(path.join(opt.secrets, `${id}.secret`), 'utf8').trim();
  const c = mqtt.connect(`mqtt://${opt.host}:${opt.port}`, {
    clientId: id, username: id, password: secret, protocolVersion: 5, reconnectPeriod: 2000,
  });
  // seq survives device reboots in real firmware; a clock-based start does here.
  let seq = Date.now();
  c.on('connect', () => {
    console.log(`device ${id}: connected`);
    c.subscribe(`devices/${id}/rejections`, { qos: 1 });
  });
  c.on('message', (_t, p) => console.log(`device ${id}: REJECTED ${p.toString()}`));
  c.on('error', (e) => console.log(`device ${id}: ${e.message}`));
  setInterval(() => {
    if (!c.connected) return;
    const t = (Date.now() - start) / 1000;
    const ill = id === opt.tachy && t > 10 && t < 40;
    const s = { v: schema.version, seq: ++seq, ts: Date.now() };
    for (const f of schema.measurements) s[f.key] = ill && ILL[f.key] ? ILL[f.key]() : value(f);
    if (s.sbp !== undefined && s.dbp !== undefined && s.dbp >= s.sbp) s.dbp = s.sbp - 1;   // rule dbp_below_sbp
    c.publish(`vitals/${id}`, Buffer.from(encode(s)), { qos: 1 }, (err) => {
      if (err) console.log(`device ${id}: seq ${s.seq} refused: ${err.message}`);
    });
  }, 1000);
}
if (opt.seconds > 0) setTimeout(() => process.exit(0), opt.seconds * 1000);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
