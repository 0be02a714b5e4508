// createHandler and middleware over real HTTP: node:http servers on
// 127.0.0.1 (port 0) and fetch().
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';

import { createHandler, middleware, MemorySeenStore } from '../src/index.js';
import { AsyncStore, gate, newSecret, post, raisedBody, serve, signHeaders } from '../test-support/helpers.js';

const servers = [];
after(() => Promise.all(servers.map((s) => s.close())));

/**
 * A handler on its own server. `events` records every call of onEvent (before
 * opts.onEvent runs, so a failed attempt counts too); `rejected` and `errors`
 * what onReject and onError heard.
 */
async function setup(opts = {}) {
  const secret = opts.secret ?? newSecret();
  const events = [];
  const rejected = [];
  const errors = [];
  const handler = createHandler({
    secrets: secret,
    onEvent: async (ev, req) => {
      events.push(ev);
      if (opts.onEvent) await opts.onEvent(ev, req);
    },
    onReject: (e) => rejected.push(e),
    onError: (e) => errors.push(e),
    ...opts.handler,
  });
  const srv = await serve(handler);
  servers.push(srv);
  const deliver = (body, init = {}) => post(srv.url, body, signHeaders(secret, body, init));
  return { secret, events, rejected, errors, url: srv.url, deliver };
}

describe('createHandler over node:http', { timeout: 20_000 }, () => {
  it('accepts a valid delivery: 204 and onEvent gets the typed event', async () => {
    const s = await setup();
    const body = raisedBody();
    const h = signHeaders(s.secret, body);
    const r = await post(s.url, body, h);
    assert.equal(r.status, 204);
    assert.equal(s.events.length, 1);
    assert.equal(s.events[0].id, h['webhook-id']);
    assert.equal(s.events[0].type, 'alert.raised');
    assert.deepEqual(s.events[0].data, JSON.parse(body).data);
  });

  it('answers 400 without calling onEvent for a tampered body, a wrong secret, bad timestamps, missing headers', async () => {
    const s = await setup();
    const body = raisedBody();
    const other = newSecret();
    const now = Math.floor(Date.now() / 1000);
    const good = signHeaders(s.secret, body);
    const cases = [
      ['tampered body', body.replace('"value":142', '"value":143'), good, 'invalid_signature'],
      ['wrong secret', body, signHeaders(other, body), 'invalid_signature'],
      ['stale timestamp', body, signHeaders(s.secret, body, { ts: now - 400 }), 'stale_timestamp'],
      ['future timestamp', body, signHeaders(s.secret, body, { ts: now + 400 }), 'future_timestamp'],
      ['no signature', body, { ...good, 'webhook-signature': '' }, 'missing_headers'],
      ['no headers', body, { 'content-type': 'application/json' }, 'missing_headers'],
    ];
    for (const [what, b, h, code] of cases) {
      const r = await post(s.url, b, h);
      assert.equal(r.status, 400, what);
      assert.match(r.text, /^invalid webhook: /, what);
      assert.equal(s.rejected.at(-1)?.code, code, what);
    }
    assert.equal(s.events.length, 0);
    assert.equal(s.rejected.length, cases.length);
  });

  it('answers 400 for an unknown event type or a body without data', async () => {
    const s = await setup();
    for (const body of [raisedBody({ type: 'alert.snoozed' }), JSON.stringify({ type: 'alert.raised', timestamp: new Date().toISOString() })]) {
      const r = await s.deliver(body);
      assert.equal(r.status, 400);
      assert.equal(s.rejected.at(-1).code, 'invalid_event');
    }
    assert.equal(s.events.length, 0);
  });

  it('answers 200 to a duplicate webhook-id without calling onEvent again', async () => {
    const s = await setup();
    const body = raisedBody();
    const h = signHeaders(s.secret, body);
    assert.equal((await post(s.url, body, h)).status, 204);
    // The broker's retry: same id, re-signed with a new timestamp.
    const retry = signHeaders(s.secret, body, { id: h['webhook-id'], ts: Math.floor(Date.now() / 1000) + 2 });
    const r = await post(s.url, body, retry);
    assert.equal(r.status, 200);
    assert.equal(r.text.trim(), 'duplicate');
    assert.equal((await post(s.url, body, h)).status, 200);
    assert.equal(s.events.length, 1);
  });

  it('answers 500 when onEvent throws, and processes the retry of that webhook-id once', async () => {
    let fail = true;
    const s = await setup({
      onEvent: () => {
        if (fail) throw new Error('database unavailable');
      },
    });
    const body = raisedBody();
    const h = signHeaders(s.secret, body);
    const r1 = await post(s.url, body, h);
    assert.equal(r1.status, 500);
    assert.equal(s.errors.length, 1);
    assert.match(s.errors[0].message, /database unavailable/);
    fail = false;
    const r2 = await post(s.url, body, h);
    assert.equal(r2.status, 204);
    const r3 = await post(s.url, body, h);
    assert.equal(r3.status, 200);
    assert.equal(s.events.length, 2); // the failed attempt and the successful retry, nothing after
    assert.equal(s.events[1].id, h['webhook-id']);
  });

  it('calls onEvent once for two concurrent deliveries of one webhook-id; the second gets 409 + Retry-After', async () => {
    const hold = gate();
    const entered = gate();
    let calls = 0;
    const s = await setup({
      // Only the first call is held, so a broken guard fails the assertions instead of hanging.
      onEvent: async () => {
        if (calls++ > 0) return;
        entered.open();
        await hold.p;
      },
      handler: { busyRetryAfter: 3 },
    });
    const body = raisedBody();
    const h = signHeaders(s.secret, body);
    const first = post(s.url, body, h);
    await entered.p; // the first is inside onEvent
    const second = await post(s.url, body, h);
    assert.equal(second.status, 409);
    assert.equal(second.headers.get('retry-after'), '3');
    hold.open();
    assert.equal((await first).status, 204);
    assert.equal((await post(s.url, body, h)).status, 200); // the sender's retry of the 409
    assert.equal(s.events.length, 1);
  });

  it('calls onEvent once for a burst of concurrent deliveries with an asynchronous store', async () => {
    const store = new AsyncStore(10);
    const s = await setup({ handler: { seen: store }, onEvent: () => new Promise((r) => setTimeout(r, 20)) });
    const body = raisedBody();
    const h = signHeaders(s.secret, body);
    const rs = await Promise.all(Array.from({ length: 8 }, () => post(s.url, body, h)));
    const statuses = rs.map((r) => r.status).sort();
    assert.equal(statuses.filter((x) => x === 204).length, 1, String(statuses));
    assert.ok(statuses.every((x) => x === 204 || x === 409 || x === 200), String(statuses));
    assert.equal(s.events.length, 1);
  });

  it('works with an asynchronous (Promise-returning) seen store, shared by two handlers (processes)', async () => {
    const store = new AsyncStore();
    const a = await setup({ handler: { seen: store } });
    const b = await setup({ secret: a.secret, handler: { seen: store } });
    const body = raisedBody();
    const h = signHeaders(a.secret, body);
    assert.equal((await post(a.url, body, h)).status, 204);
    assert.equal(store.calls.add, 1);
    assert.ok(store.ids.has(h['webhook-id']));
    assert.equal((await post(b.url, body, h)).status, 200);
    assert.equal((await post(a.url, body, h)).status, 200);
    assert.equal(a.events.length + b.events.length, 1);
    // A new id goes through on the other process.
    const body2 = raisedBody({ type: 'alert.resolved' });
    assert.equal((await b.deliver(body2)).status, 204);
    assert.equal(b.events.length, 1);
  });

  it('answers 500 when the seen store fails before processing, 204 when it fails after', async () => {
    let failHas = true;
    const store = {
      ids: new Set(),
      async has(id) {
        if (failHas) throw new Error('redis down');
        return this.ids.has(id);
      },
      async add() {
        throw new Error('redis down on add');
      },
    };
    const s = await setup({ handler: { seen: store } });
    const body = raisedBody();
    const h = signHeaders(s.secret, body);
    assert.equal((await post(s.url, body, h)).status, 500);
    assert.equal(s.events.length, 0);
    failHas = false;
    assert.equal((await post(s.url, body, h)).status, 204); // processed: do not make the sender retry it
    assert.equal(s.events.length, 1);
    assert.deepEqual(s.errors.map((e) => e.message), ['redis down', 'redis down on add']);
  });

  it('answers 413 to a body over the limit (declared length, and streamed without one)', async () => {
    const s = await setup({ handler: { limit: 1024 } });
    const big = raisedBody({ data: { ...JSON.parse(raisedBody()).data, reason: 'x'.repeat(4096) } });
    const r = await s.deliver(big);
    assert.equal(r.status, 413);
    assert.equal(s.rejected.at(-1).code, 'too_large');
    const h = signHeaders(s.secret, big);
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < big.length; i += 512) c.enqueue(new TextEncoder().encode(big.slice(i, i + 512)));
        c.close();
      },
    });
    const r2 = await post(s.url, stream, h, { duplex: 'half' });
    assert.equal(r2.status, 413);
    assert.equal(s.events.length, 0);
    // Just under the limit passes.
    const small = raisedBody();
    assert.ok(Buffer.byteLength(small) < 1024);
    assert.equal((await s.deliver(small)).status, 204);
  });

  it('reads a chunked (streamed) body within the limit', async () => {
    const s = await setup();
    const body = raisedBody();
    const h = signHeaders(s.secret, body);
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < body.length; i += 7) c.enqueue(new TextEncoder().encode(body.slice(i, i + 7)));
        c.close();
      },
    });
    assert.equal((await post(s.url, stream, h, { duplex: 'half' })).status, 204);
    assert.equal(s.events.length, 1);
  });
});

/** What express.raw() / express.json() leave on req before the route runs (Express is not a dependency). */
function bodyParser(kind) {
  return (mw) => async (req, res) => {
    const chunks = [];
    if (kind !== 'unmatched') {
      for await (const c of req) chunks.push(c);
    }
    const raw = Buffer.concat(chunks);
    if (kind === 'raw') req.body = raw;
    if (kind === 'json') {
      req.body = JSON.parse(raw.toString('utf8'));
      req._body = true;
    }
    if (kind === 'unmatched') req.body = {}; // Express 4's parsers when the content type does not match
    await new Promise((resolve, reject) => {
      res.on('finish', resolve);
      mw(req, res, (err) => (err ? reject(err) : resolve()));
    });
  };
}

describe('middleware (Express style)', { timeout: 20_000 }, () => {
  it('works with express.raw(): req.body is the raw Buffer', async () => {
    const secret = newSecret();
    const events = [];
    const srv = await serve(bodyParser('raw')(middleware({ secrets: secret, onEvent: (ev) => void events.push(ev) })));
    servers.push(srv);
    const body = raisedBody();
    const h = signHeaders(secret, body);
    assert.equal((await post(srv.url, body, h)).status, 204);
    assert.equal(events.length, 1);
    assert.equal((await post(srv.url, body, h)).status, 200);
    assert.equal((await post(srv.url, `${body} `, h)).status, 400);
    assert.equal(events.length, 1);
  });

  it('reads the stream when an Express 4 parser skipped the request (req.body = {})', async () => {
    const secret = newSecret();
    const events = [];
    const srv = await serve(bodyParser('unmatched')(middleware({ secrets: secret, onEvent: (ev) => void events.push(ev) })));
    servers.push(srv);
    const body = raisedBody();
    assert.equal((await post(srv.url, body, signHeaders(secret, body))).status, 204);
    assert.equal(events.length, 1);
  });

  it('answers 500 with a clear message when a JSON parser already parsed the body', async (t) => {
    const warn = t.mock.method(process, 'emitWarning', () => {});
    const secret = newSecret();
    const events = [];
    const errors = [];
    const srv = await serve(
      bodyParser('json')(middleware({ secrets: secret, onEvent: (ev) => void events.push(ev), onError: (e) => errors.push(e) })),
    );
    servers.push(srv);
    const body = raisedBody();
    const r = await post(srv.url, body, signHeaders(secret, body));
    assert.equal(r.status, 500);
    assert.match(r.text, /already parsed/);
    assert.match(r.text, /before express\.json\(\)/);
    assert.equal(events.length, 0);
    assert.equal(errors.length, 1);
    assert.equal(warn.mock.callCount(), 1);
    await post(srv.url, body, signHeaders(secret, body));
    assert.equal(warn.mock.callCount(), 1); // warned once, not per request
  });

  it('passes a failure of the handler itself to next()', async () => {
    const secret = newSecret();
    const mw = middleware({ secrets: secret, onEvent: () => {} });
    const req = { headers: {}, body: Buffer.from('{}'), socket: {} };
    const res = {
      get headersSent() {
        throw new Error('broken response object');
      },
    };
    const err = await new Promise((resolve) => mw(req, res, resolve));
    assert.match(String(err?.message), /broken response object/);
  });
});

describe('construction', () => {
  it('refuses a handler without onEvent or secrets', () => {
    assert.throws(() => createHandler({ secrets: newSecret() }), /onEvent/);
    assert.throws(() => createHandler({ onEvent() {} }), /secrets/);
    assert.throws(() => middleware({ secrets: newSecret(), onEvent: 1 }), /onEvent/);
  });

  it('uses the MemorySeenStore it is given', async () => {
    const seen = new MemorySeenStore();
    const s = await setup({ handler: { seen } });
    const body = raisedBody();
    const h = signHeaders(s.secret, body);
    seen.add(h['webhook-id']); // e.g. processed before a restart, restored from elsewhere
    assert.equal((await post(s.url, body, h)).status, 200);
    assert.equal(s.events.length, 0);
  });
});
