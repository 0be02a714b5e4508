#!/usr/bin/env node
// Serves the reference nurses' station (this folder, static files) and
// MQTT.js's browser bundle from node_modules at /vendor/mqtt.min.js. No
// build step: any static web server that does the same works.
//
// The page connects to its own origin (/mqtt) by default, so whatever
// serves it also passes WebSocket upgrades on /mqtt to the broker: with
// --broker, this server does (a reverse proxy such as HAProxy or nginx in
// production, TLS in front).
//
//   node stations/web/serve.mjs [--port 8080] [--host 127.0.0.1]
//        [--broker ws://127.0.0.1:9001/mqtt] [--broker-ca ca.crt]
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const FILES = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/station.js': ['station.js', 'text/javascript; charset=utf-8'],
  '/station.css': ['station.css', 'text/css; charset=utf-8'],
  '/broker-url.js': ['broker-url.js', 'text/javascript; charset=utf-8'],
  '/vitals-schema.js': ['vitals-schema.js', 'text/javascript; charset=utf-8'],
};

// Passes a WebSocket upgrade on /mqtt to the broker: the request head as
// received (path and Host rewritten), then bytes both ways.
function proxyUpgrade(broker, ca, req, socket, head) {
  const port = Number(broker.port) || (broker.protocol === 'wss:' ? 443 : 80);
  const secure = broker.protocol === 'wss:';
  const up = secure ? tls.connect({ host: broker.hostname, port, servername: broker.hostname, ca })
    : net.connect(port, broker.hostname);
  const abort = () => { socket.destroy(); up.destroy(); };
  up.on('error', abort);
  socket.on('error', abort);
  up.once(secure ? 'secureConnect' : 'connect', () => {
    const lines = [`${req.method} ${broker.pathname} HTTP/${req.httpVersion}`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const k = req.rawHeaders[i];
      lines.push(k.toLowerCase() === 'host' ? `Host: ${broker.host}` : `${k}: ${req.rawHeaders[i + 1]}`);
    }
    up.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head?.length) up.write(head);
    socket.pipe(up).pipe(socket);
  });
}


function mqttBundle() {
  // mqtt's package.json "exports" hides dist/: find the package root instead.
  const main = require.resolve('mqtt');
  const root = main.slice(0, main.lastIndexOf(`${path.sep}node_modules${path.sep}mqtt${path.sep}`)
    + `${path.sep}node_modules${path.sep}mqtt${path.sep}`.length);
  return path.join(root, 'dist', 'mqtt.min.js');
}

/**
 * Starts the server; resolves with {url, close()}. broker: the broker's
 * MQTT-over-WebSockets URL (ws:// or wss://) that /mqtt is passed to;
 * brokerCa: a PEM file of the CA that signed a wss:// broker's certificate
 * (default: the system's).
 */
export async function startStationServer({ port = 0, host = '127.0.0.1', broker = null, brokerCa = null } = {}) {
  const bundle = mqttBundle();
  const upstream = broker ? new URL(broker) : null;
  if (upstream && upstream.protocol !== 'ws:' && upstream.protocol !== 'wss:') throw new Error(`--broker ${broker}: not ws:// or wss://`);
  const ca = brokerCa ? readFileSync(brokerCa) : undefined;
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    let file;
    let type;
    if (url.pathname === '/vendor/mqtt.min.js') {
      file = bundle;
      type = 'text/javascript; charset=utf-8';
    } else if (FILES[url.pathname]) {
      [file, type] = FILES[url.pathname];
      file = path.join(here, file);
    }
    if (!file || req.method !== 'GET') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      return res.end('not found\n');
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
      res.end(body);
    } catch {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('cannot read file\n');
    }
  });
  server.on('upgrade', (req, socket, head) => {
    if (!upstream || new URL(req.url, 'http://x').pathname !== '/mqtt') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    proxyUpgrade(upstream, ca, req, socket, head);
  });
  const sockets = new Set();
  server.on('connection', (sock) => { sockets.add(sock); sock.on('close', () => sockets.delete(sock)); });
  await new Promise((resolve) => server.listen(port, host, resolve));
  const addr = server.address();
  // close() ends proxied WebSockets too (they are not requests server.close waits for).
  return {
    url: `http://${host}:${addr.port}/`,
    port: addr.port,
    close: () => new Promise((r) => { server.close(r); for (const sock of sockets) sock.destroy(); }),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = { port: 8080, host: '127.0.0.1' };
  const names = { port: 'port', host: 'host', broker: 'broker', 'broker-ca': 'brokerCa' };
  for (let i = 0; i < args.length; i++) {
    const k = names[args[i].replace(/^--/, '')];
    if (!k) throw new Error(`unknown option ${args[i]} (--port, --host, --broker, --broker-ca)`);
    opt[k] = k === 'port' ? Number(args[++i]) : args[++i];
  }
  const s = await startStationServer(opt);
  console.log(`nurses' station page: ${s.url}`);
}
