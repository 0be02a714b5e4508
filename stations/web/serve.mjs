#!/usr/bin/env node
// Serves the reference nurses' station (this folder, static files) and
// MQTT.js's browser bundle from node_modules at /vendor/mqtt.min.js. No
// build step: any static web server that does the same works.
//
//   node stations/web/serve.mjs [--port 8080] [--host 127.0.0.1]
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const FILES = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/station.js': ['station.js', 'text/javascript; charset=utf-8'],
  '/station.css': ['station.css', 'text/css; charset=utf-8'],
};

function mqttBundle() {
  // mqtt's package.json "exports" hides dist/: find the package root instead.
  const main = require.resolve('mqtt');
  const root = main.slice(0, main.lastIndexOf(`${path.sep}node_modules${path.sep}mqtt${path.sep}`)
    + `${path.sep}node_modules${path.sep}mqtt${path.sep}`.length);
  return path.join(root, 'dist', 'mqtt.min.js');
}

/** Starts the server; resolves with {url, close()}. */
export async function startStationServer({ port = 0, host = '127.0.0.1' } = {}) {
  const bundle = mqttBundle();
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
  await new Promise((resolve) => server.listen(port, host, resolve));
  const addr = server.address();
  return { url: `http://${host}:${addr.port}/`, port: addr.port, close: () => new Promise((r) => server.close(r)) };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = { port: 8080, host: '127.0.0.1' };
  for (let i = 0; i < args.length; i++) {
    const k = args[i].replace(/^--/, '');
    opt[k] = k === 'port' ? Number(args[++i]) : args[++i];
  }
  const s = await startStationServer(opt);
  console.log(`nurses' station page: ${s.url}`);
}
