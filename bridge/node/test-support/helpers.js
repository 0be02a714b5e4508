// Shared helpers for the tests in ../test (kept outside test/ so that
// `node --test test/` does not run this file as a test of its own).
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

import { Webhook } from 'standardwebhooks';

export function newSecret(bytes = 32) {
  return `whsec_${randomBytes(bytes).toString('base64')}`;
}

export function newId() {
  return `evt_${randomUUID().replaceAll('-', '')}`;
}

export const nowS = () => Math.floor(Date.now() / 1000);

/** The `standardwebhooks` library's own signature ("v1,<base64>"). */
export function libSign(secret, id, ts, body) {
  return new Webhook(secret).sign(id, new Date(ts * 1000), body);
}

/** The same signature computed independently with node:crypto. */
export function hmacSign(secret, id, ts, body) {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const mac = createHmac('sha256', key).update(`${id}.${ts}.`).update(body).digest('base64');
  return `v1,${mac}`;
}

/**
 * Headers for one delivery. `secrets` is one secret or a list (one v1
 * signature each, space separated, like the broker during rotation).
 */
export function signHeaders(secrets, body, { id = newId(), ts = nowS(), signer = libSign } = {}) {
  const list = Array.isArray(secrets) ? secrets : [secrets];
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(ts),
    'webhook-signature': list.map((s) => signer(s, id, ts, body)).join(' '),
  };
}

export function raisedBody(over = {}) {
  return JSON.stringify({
    type: 'alert.raised',
    timestamp: new Date().toISOString(),
    data: {
      alert_id: 'mon-3w-02-hr-118',
      kind: 'threshold',
      severity: 'high',
      ward: '3W',
      bed: '02',
      device_id: 'mon-3w-02',
      vital: 'hr',
      value: 142,
      unit: '/min',
      direction: 'high',
      threshold: 131,
      seq: 118,
      measured_at: new Date().toISOString(),
    },
    ...over,
  });
}

/** A real node:http server on 127.0.0.1, port 0. */
export async function serve(handler) {
  const server = createServer((req, res) => {
    Promise.resolve(handler(req, res)).catch((e) => {
      res.statusCode = 599;
      res.end(String(e));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/vitalgate/webhooks`;
  return {
    url,
    server,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
}

export async function post(url, body, headers = {}, init = {}) {
  const r = await fetch(url, { method: 'POST', body, headers, ...init });
  return { status: r.status, text: await r.text(), headers: r.headers };
}

/** A promise with its resolve function, to hold a handler mid-flight. */
export function gate() {
  let open;
  const p = new Promise((resolve) => {
    open = resolve;
  });
  return { p, open };
}

/** A seen store whose has/add return Promises and take a few ms, like Redis or PostgreSQL. */
export class AsyncStore {
  constructor(delayMs = 5) {
    this.ids = new Set();
    this.delayMs = delayMs;
    this.calls = { has: 0, add: 0 };
  }

  async has(id) {
    this.calls.has++;
    await new Promise((r) => setTimeout(r, this.delayMs));
    return this.ids.has(id);
  }

  async add(id) {
    this.calls.add++;
    await new Promise((r) => setTimeout(r, this.delayMs));
    this.ids.add(id);
  }
}
