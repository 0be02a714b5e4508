// @vitalgate/node: receive Vitalgate's signed alert webhooks in a Node.js
// application. Verification is done by the `standardwebhooks` package
// (Standard Webhooks v1: HMAC-SHA256 over "{id}.{timestamp}.{body}",
// constant-time compare, 5-minute timestamp tolerance); this package adds
// key rotation (several secrets), replay/duplicate rejection on webhook-id,
// raw-body handling for Node's http module and Express, and typed events.
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

export { WebhookVerificationError };

export const EVENT_TYPES = Object.freeze(['alert.raised', 'alert.updated', 'alert.resolved']);

/** Thrown for a webhook-id that was already processed (a retry or a replay). */
export class DuplicateWebhookError extends Error {
  constructor(id) {
    super(`webhook ${id} was already processed`);
    this.name = 'DuplicateWebhookError';
    this.webhookId = id;
  }
}

/**
 * Remembers processed webhook-ids for `ttlMs` (default 24 h), bounded to
 * `max` entries (oldest forgotten first). Replace it with a shared store
 * (Redis, PostgreSQL) when the core runs several processes.
 */
export class MemorySeenStore {
  constructor({ ttlMs = 24 * 3600 * 1000, max = 100000 } = {}) {
    this.ttlMs = ttlMs;
    this.max = max;
    this.map = new Map();
  }

  has(id) {
    const t = this.map.get(id);
    if (t === undefined) return false;
    if (Date.now() - t > this.ttlMs) {
      this.map.delete(id);
      return false;
    }
    return true;
  }

  add(id) {
    this.map.delete(id);
    this.map.set(id, Date.now());
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value);
  }
}

function parseSecrets(secrets) {
  const list = (Array.isArray(secrets) ? secrets : String(secrets).split(/\s+/))
    .map((s) => s.trim())
    .filter((s) => s && !s.startsWith('#'));
  if (list.length === 0) throw new Error('at least one whsec_ secret is required');
  for (const s of list) {
    if (!s.startsWith('whsec_')) throw new Error('secrets must have the whsec_ form');
  }
  return list.map((s) => new Webhook(s));
}

/**
 * Creates a verifier. `secrets` is one whsec_ secret, a list, or the text of
 * a secrets file (one per line); any of them may match (key rotation).
 */
export function createVerifier({ secrets, seen = new MemorySeenStore() }) {
  const hooks = parseSecrets(secrets);

  /**
   * Verifies one delivery. `rawBody` must be the exact bytes received (a
   * Buffer or string), not re-serialized JSON. Returns the typed event
   * {id, type, timestamp, data}. Throws WebhookVerificationError for a bad
   * signature or a stale/future timestamp, DuplicateWebhookError for a
   * webhook-id already processed.
   */
  function verify(rawBody, headers) {
    const body = Buffer.isBuffer(rawBody) ? rawBody.toString('utf8') : String(rawBody);
    let lastErr;
    let event;
    for (const h of hooks) {
      try {
        event = h.verify(body, headers);
        lastErr = undefined;
        break;
      } catch (e) {
        lastErr = e;
      }
    }
    if (lastErr) throw lastErr;
    const id = headers['webhook-id'] ?? headers['Webhook-Id'];
    if (!event || typeof event.type !== 'string' || typeof event.data !== 'object') {
      throw new WebhookVerificationError('body is not a Vitalgate event');
    }
    if (seen.has(id)) throw new DuplicateWebhookError(id);
    return { id, type: event.type, timestamp: event.timestamp, data: event.data };
  }

  /** Marks a webhook-id processed (call after your handler succeeded). */
  function markProcessed(id) {
    seen.add(id);
  }

  return { verify, markProcessed };
}

function readRaw(req, limit) {
  return new Promise((resolve, reject) => {
    if (Buffer.isBuffer(req.body)) return resolve(req.body); // express.raw()
    const chunks = [];
    let n = 0;
    req.on('data', (c) => {
      n += c.length;
      if (n > limit) {
        reject(Object.assign(new Error('body too large'), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * A plain (req, res) handler for node:http. Calls `onEvent(event)` once per
 * webhook-id; answers 2xx when it resolved, so Vitalgate stops retrying;
 * 400 for a bad signature or timestamp; 200 for a duplicate (already
 * processed: Vitalgate must not retry it); 500 when onEvent throws (Vitalgate
 * retries later).
 */
export function createHandler({ secrets, onEvent, seen, limit = 256 * 1024, onReject }) {
  const v = createVerifier({ secrets, seen });
  return async function vitalgateWebhook(req, res) {
    let raw;
    try {
      raw = await readRaw(req, limit);
    } catch (e) {
      res.statusCode = e.status ?? 400;
      return res.end();
    }
    let event;
    try {
      event = v.verify(raw, req.headers);
    } catch (e) {
      if (e instanceof DuplicateWebhookError) {
        res.statusCode = 200;
        return res.end('duplicate');
      }
      onReject?.(e, req);
      res.statusCode = 400;
      return res.end('invalid webhook');
    }
    try {
      await onEvent(event);
      v.markProcessed(event.id);
      res.statusCode = 204;
      res.end();
    } catch (e) {
      res.statusCode = 500;
      res.end('handler failed');
    }
  };
}

/**
 * Express-style middleware: `app.post('/vitalgate', middleware({secrets,
 * onEvent}))`. Mount it before any JSON body parser (or use express.raw()),
 * since the signature covers the raw bytes.
 */
export function middleware(opts) {
  const h = createHandler(opts);
  return (req, res, next) => {
    h(req, res).catch(next);
  };
}
