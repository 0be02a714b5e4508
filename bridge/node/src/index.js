// @vitalgate/node: receive Vitalgate's signed alert webhooks in a Node.js
// application. Verification is done by the `standardwebhooks` package
// (Standard Webhooks v1: HMAC-SHA256 over "{id}.{timestamp}.{body}",
// constant-time compare, 5-minute timestamp tolerance); this package adds
// key rotation (several secrets), replay/duplicate rejection on webhook-id,
// raw-body handling for Node's http module and Express, and typed events.
//
// Errors: every rejection of a delivery is a WebhookVerificationError with a
// `code` ('missing_headers', 'invalid_timestamp', 'stale_timestamp',
// 'future_timestamp', 'invalid_signature', 'invalid_body', 'invalid_event');
// an already processed webhook-id is a DuplicateWebhookError.
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

export { WebhookVerificationError };
export { FHIR_PANELS, fhirObservationId, observationIds } from './fhir.js';

export const EVENT_TYPES = Object.freeze(['alert.raised', 'alert.updated', 'alert.resolved', 'alert.acknowledged', 'alert.escalated',
  'vitals.batch']);

/** Standard Webhooks' timestamp tolerance, in seconds (what `standardwebhooks` enforces). */
const TOLERANCE_S = 5 * 60;
/** Vitalgate's broker refuses shorter keys; so does the receiver. */
const MIN_KEY_BYTES = 16;

/** Thrown for a webhook-id that was already processed (a retry or a replay). */
export class DuplicateWebhookError extends Error {
  constructor(id) {
    super(`webhook ${id} was already processed`);
    this.name = 'DuplicateWebhookError';
    this.code = 'duplicate';
    this.webhookId = id;
  }
}

function reject(code, message) {
  const e = new WebhookVerificationError(message);
  e.code = code;
  return e;
}

function isThenable(x) {
  return x !== null && (typeof x === 'object' || typeof x === 'function') && typeof x.then === 'function';
}

/**
 * Remembers processed webhook-ids for `ttlMs` (default 24 h: the broker's
 * default webhook_dead_after_s, after which it stops retrying), bounded to `max` entries (oldest forgotten
 * first). Per process: replace it with a shared store (Redis, PostgreSQL)
 * when the core runs several processes. Any object with has(id) and add(id),
 * synchronous or returning Promises, can be a store.
 */
export class MemorySeenStore {
  constructor({ ttlMs = 24 * 3600 * 1000, max = 100000 } = {}) {
    if (!(ttlMs > 0) || !(max > 0)) throw new RangeError('MemorySeenStore: ttlMs and max must be positive');
    this.ttlMs = ttlMs;
    this.max = max;
    this.map = new Map(); // id -> time added; insertion order is age order
  }

  get size() {
    return this.map.size;
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
    const now = Date.now();
    this.map.delete(id);
    this.map.set(id, now);
    // Entries are in age order: drop the expired ones and the overflow from the front.
    for (const [k, t] of this.map) {
      if (this.map.size <= this.max && now - t <= this.ttlMs) break;
      this.map.delete(k);
    }
  }
}

/**
 * Parses the secrets: one whsec_ secret, a list, or the text of a secrets
 * file (the broker's format: one per line, blank lines and lines starting
 * with # ignored). Checks them like the broker does, without ever echoing a
 * secret in an error message.
 */
function parseSecrets(secrets) {
  if (secrets === undefined || secrets === null) throw new TypeError('@vitalgate/node: `secrets` is required');
  const items = Array.isArray(secrets) ? secrets.map(String) : String(secrets).split(/\r?\n/);
  const list = [];
  for (const item of items) {
    const line = item.trim();
    if (line === '' || line.startsWith('#')) continue;
    for (const s of line.split(/\s+/)) list.push(s);
  }
  if (list.length === 0) throw new TypeError('@vitalgate/node: at least one whsec_ secret is required');
  const hooks = [];
  const seenKeys = new Set();
  list.forEach((s, i) => {
    if (!s.startsWith('whsec_') || s.length === 6) {
      throw new TypeError(`@vitalgate/node: secret #${i + 1} is not of the form whsec_<base64>`);
    }
    const b64 = s.slice(6);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) {
      throw new TypeError(`@vitalgate/node: secret #${i + 1}: the part after whsec_ is not base64`);
    }
    const key = Buffer.from(b64, 'base64');
    if (key.length < MIN_KEY_BYTES) {
      throw new TypeError(`@vitalgate/node: secret #${i + 1} is only ${key.length} bytes, at least ${MIN_KEY_BYTES} are required`);
    }
    const k = key.toString('hex');
    if (seenKeys.has(k)) return;
    seenKeys.add(k);
    try {
      hooks.push(new Webhook(s));
    } catch {
      throw new TypeError(`@vitalgate/node: secret #${i + 1}: the part after whsec_ is not valid base64`);
    }
  });
  return hooks;
}

/** Reads a header from a Node headers object (any case; arrays joined) or a Fetch Headers. */
function header(headers, name) {
  let v;
  if (headers && typeof headers.get === 'function') {
    v = headers.get(name);
  } else if (headers && typeof headers === 'object') {
    v = headers[name];
    if (v === undefined) {
      for (const k of Object.keys(headers)) {
        if (k.toLowerCase() === name) {
          v = headers[k];
          break;
        }
      }
    }
  }
  if (Array.isArray(v)) v = v.join(' ');
  if (v === undefined || v === null) return '';
  return String(v).trim();
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function bodyText(rawBody) {
  if (typeof rawBody === 'string') return rawBody;
  if (rawBody instanceof Uint8Array) {
    try {
      return utf8.decode(rawBody);
    } catch {
      throw reject('invalid_body', 'the body is not valid UTF-8');
    }
  }
  if (rawBody instanceof ArrayBuffer) return bodyText(new Uint8Array(rawBody));
  if (rawBody !== null && typeof rawBody === 'object') {
    throw new TypeError(
      '@vitalgate/node: verify() needs the raw body (Buffer or string) exactly as received, not parsed JSON: ' +
        'the signature covers the bytes. Read the body before any JSON parser (e.g. express.raw({ type: "application/json" })).',
    );
  }
  throw new TypeError('@vitalgate/node: verify() needs the raw body as a Buffer or a string');
}

/**
 * Creates a verifier. `secrets` is one whsec_ secret, a list, or the text of
 * a secrets file (one per line); any of them may match (key rotation).
 * `seen` is the store of processed webhook-ids (default: a MemorySeenStore).
 */
export function createVerifier({ secrets, seen = new MemorySeenStore() } = {}) {
  const hooks = parseSecrets(secrets);
  if (!seen || typeof seen.has !== 'function' || typeof seen.add !== 'function') {
    throw new TypeError('@vitalgate/node: `seen` must have has(id) and add(id) methods (sync or returning Promises)');
  }

  /**
   * Checks headers, timestamp, signature and event shape; does not consult
   * the seen store. Synchronous. Returns {id, type, timestamp, data}.
   */
  function verifySignature(rawBody, headers) {
    const body = bodyText(rawBody);
    const id = header(headers, 'webhook-id');
    const ts = header(headers, 'webhook-timestamp');
    // Node joins repeated header lines with ", "; the signatures are space separated.
    const sig = header(headers, 'webhook-signature').replace(/,\s+/g, ' ').replace(/\s+/g, ' ');
    const missing = [!id && 'webhook-id', !ts && 'webhook-timestamp', !sig && 'webhook-signature'].filter(Boolean);
    if (missing.length) throw reject('missing_headers', `missing header${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`);
    if (!/^\d{1,15}$/.test(ts)) throw reject('invalid_timestamp', 'webhook-timestamp is not Unix seconds');
    const drift = Math.floor(Date.now() / 1000) - Number(ts);
    if (drift > TOLERANCE_S) {
      throw reject('stale_timestamp', `webhook-timestamp is ${drift} s old (tolerance ${TOLERANCE_S} s): a replay, or the clocks of sender and receiver disagree`);
    }
    if (-drift > TOLERANCE_S) {
      throw reject('future_timestamp', `webhook-timestamp is ${-drift} s in the future (tolerance ${TOLERANCE_S} s): the clocks of sender and receiver disagree`);
    }
    const norm = { 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': sig };
    let ok = false;
    for (const h of hooks) {
      try {
        h.verify(body, norm, { jsonParse: false });
        ok = true;
        break;
      } catch (e) {
        const m = String(e?.message);
        // The library checks the timestamp itself too (the clock may have ticked since ours).
        if (/too old/i.test(m)) throw reject('stale_timestamp', `webhook-timestamp is too old (tolerance ${TOLERANCE_S} s)`);
        if (/too new/i.test(m)) throw reject('future_timestamp', `webhook-timestamp is in the future (tolerance ${TOLERANCE_S} s)`);
        if (!(e instanceof WebhookVerificationError)) throw e;
      }
    }
    if (!ok) throw reject('invalid_signature', 'no v1 signature matches any configured secret (wrong secret, or the body was altered)');

    let ev;
    try {
      ev = JSON.parse(body);
    } catch {
      throw reject('invalid_body', 'the body is not JSON');
    }
    if (ev === null || typeof ev !== 'object' || Array.isArray(ev)) throw reject('invalid_event', 'the body is not a JSON object');
    if (!EVENT_TYPES.includes(ev.type)) {
      throw reject('invalid_event', `unknown event type ${JSON.stringify(ev.type)} (expected ${EVENT_TYPES.join(', ')})`);
    }
    if (ev.data === null || typeof ev.data !== 'object' || Array.isArray(ev.data)) {
      throw reject('invalid_event', 'the event has no data object');
    }
    return { id, type: ev.type, timestamp: ev.timestamp, data: ev.data };
  }

  /**
   * Verifies one delivery. `rawBody` must be the exact bytes received (a
   * Buffer or string), not re-serialized JSON. Returns the typed event
   * {id, type, timestamp, data}. Throws WebhookVerificationError for a bad
   * signature, a stale/future timestamp or a body that is not a Vitalgate
   * event, DuplicateWebhookError for a webhook-id already processed.
   * Synchronous with a synchronous store; with a store whose has() returns
   * a Promise it returns a Promise (`await` works in both cases).
   */
  function verify(rawBody, headers) {
    const event = verifySignature(rawBody, headers);
    const was = seen.has(event.id);
    if (isThenable(was)) {
      return Promise.resolve(was).then((w) => {
        if (w) throw new DuplicateWebhookError(event.id);
        return event;
      });
    }
    if (was) throw new DuplicateWebhookError(event.id);
    return event;
  }

  /**
   * Marks a webhook-id processed: call it only after your handler
   * succeeded, so a failed delivery's retry is processed. Returns what the
   * store's add() returns (a Promise for an asynchronous store).
   */
  function markProcessed(id) {
    return seen.add(id);
  }

  return { verify, verifySignature, markProcessed, seen };
}

class HttpError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const PARSED_BODY_MESSAGE =
  '@vitalgate/node: the request body was already parsed (req.body is an object), so the raw bytes the ' +
  'signature covers are gone. Mount the Vitalgate middleware before express.json() / any JSON body parser, ' +
  'or give this route express.raw({ type: "application/json" }).';

function isEmptyPlainObject(o) {
  if (o === null || typeof o !== 'object') return false;
  const p = Object.getPrototypeOf(o);
  return (p === Object.prototype || p === null) && Object.keys(o).length === 0;
}

/** The raw body: req.body when a raw parser ran (express.raw()), else the stream. */
function readRaw(req, limit) {
  const b = req.body;
  if (b !== undefined && b !== null) {
    let buf;
    if (Buffer.isBuffer(b)) buf = b;
    else if (b instanceof Uint8Array) buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    else if (typeof b === 'string') buf = Buffer.from(b, 'utf8');
    else if (!(isEmptyPlainObject(b) && !req._body && !req.readableEnded)) {
      // Express 4's parsers leave {} and an unread stream when the content type did not
      // match; anything else means a parser consumed and transformed the body.
      return Promise.reject(new HttpError(500, PARSED_BODY_MESSAGE, 'body_parsed'));
    }
    if (buf) {
      if (buf.length > limit) return Promise.reject(new HttpError(413, `body over the limit of ${limit} bytes`, 'too_large'));
      return Promise.resolve(buf);
    }
  }
  if (req.readableEnded) {
    return Promise.reject(new HttpError(500, '@vitalgate/node: the request body was already read by another middleware; mount the Vitalgate middleware first', 'body_consumed'));
  }
  const declared = Number(req.headers?.['content-length']);
  if (declared > limit) return Promise.reject(new HttpError(413, `body over the limit of ${limit} bytes`, 'too_large'));

  return new Promise((resolve, rejectP) => {
    const chunks = [];
    let n = 0;
    const done = (err, val) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (err) rejectP(err);
      else resolve(val);
    };
    const onData = (c) => {
      n += c.length;
      if (n > limit) {
        // Stop keeping the bytes; the rest is discarded (and the connection closed after the answer).
        req.resume();
        done(new HttpError(413, `body over the limit of ${limit} bytes`, 'too_large'));
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => done(null, Buffer.concat(chunks, n));
    const onError = (e) => done(new HttpError(400, `request aborted: ${e.message}`, 'aborted'));
    const onClose = () => done(new HttpError(400, 'request aborted', 'aborted'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

function send(res, status, text, headers = {}) {
  if (res.headersSent || res.writableEnded) return;
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  if (text === undefined || status === 204) {
    res.end();
    return;
  }
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end(`${text}\n`);
}

function defaultOnError(err, _req, event) {
  console.error(`@vitalgate/node: ${event ? `webhook ${event.id} (${event.type}): ` : ''}${err?.stack ?? err}`);
}

/**
 * A plain (req, res) handler for node:http. Calls `onEvent(event, req)`
 * once per webhook-id and answers:
 *   204  onEvent resolved: delivered, the sender stops retrying;
 *   200  duplicate: this webhook-id was already processed (not called again);
 *   400  bad signature, stale/future timestamp, missing headers, not a Vitalgate event;
 *   409  the same webhook-id is being processed right now by another request
 *        (Retry-After: busyRetryAfter): the sender retries later and then gets 200;
 *   413  body over `limit` bytes;
 *   500  onEvent threw (the sender retries, and the retry is processed), the seen
 *        store failed, or the body was already parsed by a JSON parser.
 * `onReject(err, req)` is told about 400/413 rejections, `onError(err, req,
 * event)` about 500s (default: console.error).
 */
export function createHandler({
  secrets,
  onEvent,
  seen = new MemorySeenStore(),
  limit = 256 * 1024,
  onReject,
  onError = defaultOnError,
  busyRetryAfter = 5,
} = {}) {
  if (typeof onEvent !== 'function') throw new TypeError('@vitalgate/node: `onEvent` must be a function');
  const v = createVerifier({ secrets, seen });
  const inFlight = new Set();
  let warnedParsed = false;

  const report = (fn, ...args) => {
    try {
      fn?.(...args);
    } catch {
      // a throwing logger must not change the answer
    }
  };

  return async function vitalgateWebhook(req, res) {
    let raw;
    try {
      raw = await readRaw(req, limit);
    } catch (e) {
      if (e.status === 500) {
        if (!warnedParsed) {
          warnedParsed = true;
          process.emitWarning(e.message, { code: 'VITALGATE_RAW_BODY' });
        }
        report(onError, e, req);
        return send(res, 500, e.message);
      }
      if (e.status === 413) {
        report(onReject, e, req);
        return send(res, 413, e.message, { Connection: 'close' });
      }
      report(onReject, e, req);
      return send(res, e.status ?? 400, e.message);
    }

    let event;
    try {
      event = v.verifySignature(raw, req.headers);
    } catch (e) {
      if (!(e instanceof WebhookVerificationError)) {
        report(onError, e, req);
        return send(res, 500, 'internal error');
      }
      report(onReject, e, req);
      return send(res, 400, `invalid webhook: ${e.message}`);
    }

    const { id } = event;
    // Checked and claimed synchronously (no await in between), so two
    // deliveries of one webhook-id arriving together cannot both run onEvent.
    if (inFlight.has(id)) {
      return send(res, 409, `webhook ${id} is being processed; retry later`, { 'Retry-After': String(busyRetryAfter) });
    }
    inFlight.add(id);
    try {
      let was;
      try {
        was = await seen.has(id);
      } catch (e) {
        report(onError, e, req, event);
        return send(res, 500, 'seen store failed');
      }
      if (was) return send(res, 200, 'duplicate');
      try {
        await onEvent(event, req);
      } catch (e) {
        report(onError, e, req, event);
        return send(res, 500, 'handler failed');
      }
      try {
        await v.markProcessed(id);
      } catch (e) {
        // Delivered all the same: answering 500 would make the sender retry an
        // event the application already handled.
        report(onError, e, req, event);
      }
      return send(res, 204);
    } finally {
      inFlight.delete(id);
    }
  };
}

/**
 * Express-style middleware: `app.post('/vitalgate', middleware({secrets,
 * onEvent}))`. Mount it before any JSON body parser (or use
 * express.raw({type: 'application/json'})), since the signature covers the
 * raw bytes. Takes the options of createHandler.
 */
export function middleware(opts) {
  const h = createHandler(opts);
  return function vitalgateMiddleware(req, res, next) {
    h(req, res).catch(next);
  };
}
