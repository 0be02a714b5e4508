#!/usr/bin/env node
// Runs one of the repository's plain-HTTP Node.js servers behind TLS, for
// the compose stack (compose/docker-compose.yml):
//
//   node compose/node/tls-front.mjs core      bridge/node/examples/core.mjs, the sample core
//   node compose/node/tls-front.mjs station   stations/web/serve.mjs, the station page
//
// The server itself runs unchanged in this process on 127.0.0.1:APP_PORT
// (inside the container only); this file accepts TLS on TLS_PORT and pipes
// each decrypted connection to it. Environment: TLS_CERT_FILE, TLS_KEY_FILE,
// TLS_PORT, APP_PORT, for the core VITALGATE_WEBHOOK_SECRETS_FILE, for the
// station STATION_BROKER_URL and STATION_BROKER_CA_FILE.
// Started as root (the compose secrets are bind mounts that only root may be
// able to read), it reads the key and lets the app read its files, then
// drops to the `node` user (RUN_AS) before accepting connections.
import net from 'node:net';
import tls from 'node:tls';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';

const app = process.argv[2];
const need = (name) => {
  const v = process.env[name];
  if (!v) {
    console.error(`tls-front: set ${name}`);
    process.exit(2);
  }
  return v;
};
const cert = readFileSync(need('TLS_CERT_FILE'));
const key = readFileSync(need('TLS_KEY_FILE'));
const tlsPort = Number(process.env.TLS_PORT ?? 8443);
const appPort = Number(process.env.APP_PORT ?? 8080);

if (app === 'core') {
  // core.mjs reads its secrets file and listens when it is imported.
  process.env.HOST = '127.0.0.1';
  process.env.PORT = String(appPort);
  await import('../../bridge/node/examples/core.mjs');
} else if (app === 'station') {
  // The page connects to its own origin (wss://<this host>/mqtt): the
  // station server passes /mqtt on to the broker (STATION_BROKER_URL, over
  // TLS checked against STATION_BROKER_CA_FILE).
  const { startStationServer } = await import('../../stations/web/serve.mjs');
  await startStationServer({ host: '127.0.0.1', port: appPort, broker: process.env.STATION_BROKER_URL || null,
    brokerCa: process.env.STATION_BROKER_CA_FILE || null });
} else {
  console.error('usage: node compose/node/tls-front.mjs core|station');
  process.exit(2);
}

const user = process.env.RUN_AS ?? 'node';
if (process.getuid() === 0 && user !== 'root') {
  const gid = Number(execFileSync('id', ['-g', user]));
  process.initgroups(user, gid);
  process.setgid(gid);
  process.setuid(user);
}

const server = tls.createServer({ cert, key, minVersion: 'TLSv1.2' }, (socket) => {
  const upstream = net.connect(appPort, '127.0.0.1');
  // pipe() passes each side's end on once what is buffered is written; an
  // error on either side ends both at once.
  const abort = () => {
    socket.destroy();
    upstream.destroy();
  };
  socket.on('error', abort);
  upstream.on('error', abort);
  socket.pipe(upstream).pipe(socket);
});
// A failed handshake (a browser that does not trust the CA yet) is the
// client's problem: note it and go on.
server.on('tlsClientError', (e, s) => console.warn(`tls-front: TLS handshake with ${s.remoteAddress} failed: ${e.code ?? e.message}`));
server.listen(tlsPort, () => console.log(`tls-front: ${app} on https://0.0.0.0:${tlsPort}/ (as ${userInfo().username})`));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
