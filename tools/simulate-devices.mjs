#!/usr/bin/env node
// Simulated bedside devices: each connects with its own identity and sends
// a v1 MessagePack sample every second (QoS 1). One device develops
// tachycardia for a while, so an alert fires and then resolves.
//
//   node tools/simulate-devices.mjs --port 1883 --secrets DIR dev1 dev2 ...
//   (DIR/<id>.secret holds each device's secret)
//   --tachy <id>   the device whose heart rate climbs (default: the second)
//   --seconds N    stop after N seconds (default: run until interrupted)
import { readFileSync } from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import { encode } from '@msgpack/msgpack';

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
    const s = {
      v: 1, seq: ++seq, ts: Date.now(),
      hr: ill ? jitter(142, 4) : jitter(74, 6),
      spo2: ill ? jitter(93, 1) : jitter(97, 1),
      rr: ill ? jitter(22, 2) : jitter(15, 2),
      sbp: jitter(122, 6), dbp: jitter(78, 4),
      temp: Math.round((36.8 + Math.random() * 0.4) * 10) / 10,
      o2: false, avpu: 'A',
    };
    c.publish(`vitals/${id}`, Buffer.from(encode(s)), { qos: 1 }, (err) => {
      if (err) console.log(`device ${id}: seq ${s.seq} refused: ${err.message}`);
    });
  }, 1000);
}
if (opt.seconds > 0) setTimeout(() => process.exit(0), opt.seconds * 1000);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
