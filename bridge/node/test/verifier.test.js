// createVerifier: the Standard Webhooks v1 checks, key rotation, typed
// events and the seen store, without HTTP.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  createVerifier,
  DuplicateWebhookError,
  EVENT_TYPES,
  MemorySeenStore,
  WebhookVerificationError,
} from '../src/index.js';
import { AsyncStore, hmacSign, libSign, newId, newSecret, nowS, raisedBody, signHeaders } from '../test-support/helpers.js';

/** Asserts that fn throws a WebhookVerificationError with this code. */
function rejects(fn, code, msg) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof WebhookVerificationError, `expected a WebhookVerificationError, got ${e}`);
    assert.equal(e.code, code, e.message);
    if (msg) assert.match(e.message, msg);
    return true;
  });
}

describe('signature', () => {
  it('accepts a delivery signed by the standardwebhooks library and returns the typed event', () => {
    const secret = newSecret();
    const body = raisedBody();
    const h = signHeaders(secret, body);
    const ev = createVerifier({ secrets: secret }).verify(Buffer.from(body), h);
    assert.equal(ev.id, h['webhook-id']);
    assert.equal(ev.type, 'alert.raised');
    assert.equal(ev.timestamp, JSON.parse(body).timestamp);
    assert.deepEqual(ev.data, JSON.parse(body).data);
    assert.deepEqual(Object.keys(ev).sort(), ['data', 'id', 'timestamp', 'type']);
  });

  it('accepts a delivery signed independently with node:crypto createHmac (the scheme itself)', () => {
    const secret = newSecret();
    const body = raisedBody();
    const id = newId();
    const ts = nowS();
    assert.equal(hmacSign(secret, id, ts, body), libSign(secret, id, ts, body));
    const h = signHeaders(secret, body, { id, ts, signer: hmacSign });
    assert.equal(createVerifier({ secrets: secret }).verify(body, h).id, id);
  });

  it('matches the Standard Webhooks test vector (the one the broker is tested with)', (t) => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const id = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
    const ts = 1614265330;
    const body = '{"test": 2432232314}';
    const sig = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';
    assert.equal(hmacSign(secret, id, ts, body), sig);
    t.mock.timers.enable({ apis: ['Date'], now: ts * 1000 });
    const v = createVerifier({ secrets: secret });
    const h = { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': sig };
    // The signature passes; the body is then refused only for not being a Vitalgate event.
    rejects(() => v.verify(body, h), 'invalid_event');
    rejects(() => v.verify(body, { ...h, 'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE' }), 'invalid_signature');
  });

  it('rejects a tampered body', () => {
    const secret = newSecret();
    const body = raisedBody();
    const h = signHeaders(secret, body);
    const tampered = body.replace('"value":142', '"value":72');
    assert.notEqual(tampered, body);
    rejects(() => createVerifier({ secrets: secret }).verify(tampered, h), 'invalid_signature', /no v1 signature matches/);
    // A single extra byte (trailing newline) is tampering too.
    rejects(() => createVerifier({ secrets: secret }).verify(`${body}\n`, h), 'invalid_signature');
  });

  it('rejects a tampered webhook-id or webhook-timestamp', () => {
    const secret = newSecret();
    const body = raisedBody();
    const h = signHeaders(secret, body);
    const v = createVerifier({ secrets: secret });
    rejects(() => v.verify(body, { ...h, 'webhook-id': newId() }), 'invalid_signature');
    rejects(() => v.verify(body, { ...h, 'webhook-timestamp': String(Number(h['webhook-timestamp']) - 1) }), 'invalid_signature');
  });

  it('rejects a delivery signed with another secret', () => {
    const body = raisedBody();
    const h = signHeaders(newSecret(), body);
    rejects(() => createVerifier({ secrets: newSecret() }).verify(body, h), 'invalid_signature');
  });

  it('key rotation: with two secrets configured, a delivery signed with either is accepted', () => {
    const oldS = newSecret();
    const newS = newSecret();
    const v = createVerifier({ secrets: [oldS, newS] });
    const b1 = raisedBody();
    assert.equal(v.verify(b1, signHeaders(oldS, b1)).type, 'alert.raised');
    const b2 = raisedBody();
    assert.equal(v.verify(b2, signHeaders(newS, b2)).type, 'alert.raised');
    rejects(() => v.verify(b2, signHeaders(newSecret(), b2)), 'invalid_signature');
  });

  it('key rotation: a header with two signatures where only the second matches is accepted', () => {
    const mine = newSecret();
    const body = raisedBody();
    const h = signHeaders([newSecret(), mine], body);
    assert.equal(h['webhook-signature'].split(' ').length, 2);
    const v = createVerifier({ secrets: mine });
    assert.equal(v.verify(body, h).id, h['webhook-id']);
    // ... and neither matching is still a rejection.
    rejects(() => createVerifier({ secrets: newSecret() }).verify(body, h), 'invalid_signature');
  });

  it('ignores signatures of other versions (v1a,...) and accepts repeated header lines joined by Node', () => {
    const secret = newSecret();
    const body = raisedBody();
    const h = signHeaders(secret, body);
    const v1 = h['webhook-signature'];
    const v = createVerifier({ secrets: secret });
    rejects(() => v.verify(body, { ...h, 'webhook-signature': v1.replace('v1,', 'v1a,') }), 'invalid_signature');
    const bad = signHeaders(newSecret(), body, { id: h['webhook-id'], ts: Number(h['webhook-timestamp']) })['webhook-signature'];
    assert.equal(v.verify(body, { ...h, 'webhook-signature': `${bad}, ${v1}` }).id, h['webhook-id']);
    assert.equal(v.verify(body, { ...h, 'webhook-signature': [bad, v1] }).id, h['webhook-id']);
  });

  it('reads headers in any case, and from a Fetch Headers object', () => {
    const secret = newSecret();
    const body = raisedBody();
    const h = signHeaders(secret, body);
    const v = createVerifier({ secrets: secret });
    const upper = Object.fromEntries(Object.entries(h).map(([k, x]) => [k.replace(/(^|-)[a-z]/g, (m) => m.toUpperCase()), x]));
    assert.ok('Webhook-Id' in upper);
    assert.equal(v.verify(body, upper).id, h['webhook-id']);
    assert.equal(v.verify(body, new Headers(h)).id, h['webhook-id']);
  });
});

describe('timestamp', () => {
  it('rejects a stale timestamp (more than 5 minutes old)', () => {
    const secret = newSecret();
    const body = raisedBody();
    const v = createVerifier({ secrets: secret });
    rejects(() => v.verify(body, signHeaders(secret, body, { ts: nowS() - 6 * 60 })), 'stale_timestamp', /old \(tolerance 300 s\)/);
    // Just inside the tolerance is fine.
    assert.ok(v.verify(body, signHeaders(secret, body, { ts: nowS() - 4 * 60 })));
  });

  it('rejects a future timestamp (more than 5 minutes ahead)', () => {
    const secret = newSecret();
    const body = raisedBody();
    const v = createVerifier({ secrets: secret });
    rejects(() => v.verify(body, signHeaders(secret, body, { ts: nowS() + 6 * 60 })), 'future_timestamp', /in the future/);
    assert.ok(v.verify(body, signHeaders(secret, body, { ts: nowS() + 4 * 60 })));
  });

  it('rejects a timestamp that is not Unix seconds', () => {
    const secret = newSecret();
    const body = raisedBody();
    const h = signHeaders(secret, body);
    const v = createVerifier({ secrets: secret });
    rejects(() => v.verify(body, { ...h, 'webhook-timestamp': new Date().toISOString() }), 'invalid_timestamp');
    rejects(() => v.verify(body, { ...h, 'webhook-timestamp': `${h['webhook-timestamp']}abc` }), 'invalid_timestamp');
  });
});

describe('headers and body', () => {
  it('rejects a delivery with a missing header, naming it', () => {
    const secret = newSecret();
    const body = raisedBody();
    const h = signHeaders(secret, body);
    const v = createVerifier({ secrets: secret });
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      const { [name]: _gone, ...rest } = h;
      rejects(() => v.verify(body, rest), 'missing_headers', new RegExp(name));
      rejects(() => v.verify(body, { ...h, [name]: '' }), 'missing_headers', new RegExp(name));
    }
    rejects(() => v.verify(body, {}), 'missing_headers', /webhook-id, webhook-timestamp, webhook-signature/);
  });

  it('rejects an unknown event type and an event without data, even when correctly signed', () => {
    const secret = newSecret();
    const v = createVerifier({ secrets: secret });
    const cases = [
      [raisedBody({ type: 'alert.deleted' }), /unknown event type "alert.deleted"/],
      [JSON.stringify({ timestamp: new Date().toISOString(), data: {} }), /unknown event type/],
      [JSON.stringify({ type: 'alert.raised', timestamp: new Date().toISOString() }), /no data/],
      [JSON.stringify({ type: 'alert.raised', timestamp: new Date().toISOString(), data: null }), /no data/],
      [JSON.stringify({ type: 'alert.raised', timestamp: new Date().toISOString(), data: [1] }), /no data/],
      [JSON.stringify([{ type: 'alert.raised', data: {} }]), /not a JSON object/],
    ];
    for (const [body, msg] of cases) rejects(() => v.verify(body, signHeaders(secret, body)), 'invalid_event', msg);
    for (const type of EVENT_TYPES) {
      const body = raisedBody({ type });
      assert.equal(v.verify(body, signHeaders(secret, body)).type, type);
    }
  });

  it('rejects a signed body that is not JSON or not UTF-8', () => {
    const secret = newSecret();
    const v = createVerifier({ secrets: secret });
    const text = 'type=alert.raised';
    rejects(() => v.verify(text, signHeaders(secret, text)), 'invalid_body', /not JSON/);
    const bytes = Buffer.from([0x7b, 0xff, 0x7d]);
    rejects(() => v.verify(bytes, signHeaders(secret, bytes.toString('latin1'))), 'invalid_body', /UTF-8/);
  });

  it('verifies the exact bytes: multi-byte UTF-8 and a BOM survive, re-serialized JSON does not', () => {
    const secret = newSecret();
    const v = createVerifier({ secrets: secret });
    const body = raisedBody({ data: { ...JSON.parse(raisedBody()).data, ward: 'Kinderstation Süd 🏥' } });
    assert.equal(v.verify(Buffer.from(body), signHeaders(secret, body)).data.ward, 'Kinderstation Süd 🏥');
    const spaced = JSON.stringify(JSON.parse(body), null, 1);
    rejects(() => v.verify(JSON.stringify(JSON.parse(spaced)), signHeaders(secret, spaced)), 'invalid_signature');
    const bom = `\uFEFF${body}`;
    rejects(() => v.verify(Buffer.from(body), signHeaders(secret, bom)), 'invalid_signature');
  });

  it('refuses a parsed object instead of the raw body with a clear TypeError', () => {
    const secret = newSecret();
    const body = raisedBody();
    assert.throws(() => createVerifier({ secrets: secret }).verify(JSON.parse(body), signHeaders(secret, body)), (e) => {
      assert.ok(e instanceof TypeError);
      assert.match(e.message, /raw body/);
      return true;
    });
  });
});

describe('duplicates and the seen store', () => {
  it('rejects a processed webhook-id with DuplicateWebhookError, and only once it was marked processed', () => {
    const secret = newSecret();
    const body = raisedBody();
    const h = signHeaders(secret, body);
    const v = createVerifier({ secrets: secret });
    assert.equal(v.verify(body, h).id, h['webhook-id']);
    // Not marked yet (say the application failed): the retry must be processed.
    assert.equal(v.verify(body, h).id, h['webhook-id']);
    v.markProcessed(h['webhook-id']);
    assert.throws(() => v.verify(body, h), (e) => e instanceof DuplicateWebhookError && e.webhookId === h['webhook-id']);
    // A retry re-signed later (new timestamp, same id) is a duplicate too.
    const retry = signHeaders(secret, body, { id: h['webhook-id'], ts: nowS() + 1 });
    assert.throws(() => v.verify(body, retry), DuplicateWebhookError);
    // A bad signature on a known id is still a signature failure, not a duplicate.
    rejects(() => v.verify(body, { ...retry, 'webhook-signature': signHeaders(newSecret(), body)['webhook-signature'] }), 'invalid_signature');
  });

  it('verifySignature() checks everything but the seen store', () => {
    const secret = newSecret();
    const body = raisedBody();
    const h = signHeaders(secret, body);
    const v = createVerifier({ secrets: secret });
    v.markProcessed(h['webhook-id']);
    assert.equal(v.verifySignature(body, h).id, h['webhook-id']);
    assert.throws(() => v.verify(body, h), DuplicateWebhookError);
    rejects(() => v.verifySignature(`${body} `, h), 'invalid_signature');
  });

  it('works with an asynchronous (Promise-returning) seen store', async () => {
    const secret = newSecret();
    const body = raisedBody();
    const h = signHeaders(secret, body);
    const store = new AsyncStore();
    const v = createVerifier({ secrets: secret, seen: store });
    const p = v.verify(body, h);
    assert.ok(p instanceof Promise);
    assert.equal((await p).id, h['webhook-id']);
    await v.markProcessed(h['webhook-id']);
    assert.equal(store.calls.add, 1);
    await assert.rejects(v.verify(body, h), DuplicateWebhookError);
    // Bad signatures are still thrown synchronously, before the store is asked.
    const before = store.calls.has;
    assert.throws(() => v.verify(`${body} `, h), WebhookVerificationError);
    assert.equal(store.calls.has, before);
  });

  it('shares duplicates between verifiers (processes) given the same store', () => {
    const secret = newSecret();
    const store = new MemorySeenStore();
    const a = createVerifier({ secrets: secret, seen: store });
    const b = createVerifier({ secrets: secret, seen: store });
    const body = raisedBody();
    const h = signHeaders(secret, body);
    a.markProcessed(a.verify(body, h).id);
    assert.throws(() => b.verify(body, h), DuplicateWebhookError);
  });

  it('refuses a store without has/add', () => {
    assert.throws(() => createVerifier({ secrets: newSecret(), seen: { has() {} } }), /has\(id\) and add\(id\)/);
  });
});

describe('secrets', () => {
  it('reads the broker secrets file format: one per line, blanks and # comments, unpadded base64', () => {
    const a = newSecret();
    const b = 'whsec_AAECAwQFBgcICQoLDA0ODw'; // 16 bytes, no padding (the broker accepts it)
    const v = createVerifier({ secrets: `# newest first\n${a}\r\n\n  # old key, remove after rotation\n  ${b}  \n` });
    for (const s of [a, b]) {
      const body = raisedBody();
      assert.ok(v.verify(body, signHeaders(s, body, { signer: hmacSign })));
    }
  });

  it('refuses malformed or short secrets without echoing them', () => {
    const short = 'whsec_AAECAwQFBgc='; // 8 bytes
    const cases = [
      [undefined, /required/],
      ['', /at least one/],
      ['# only a comment\n', /at least one/],
      ['sk_live_abcdefabcdefabcdefabcdef', /whsec_/],
      ['whsec_not*base64*at*all*AAAAAAAAAAAA', /base64/],
      [short, /only 8 bytes, at least 16/],
      [[newSecret(), 'whsec_'], /secret #2/],
    ];
    for (const [secrets, msg] of cases) {
      assert.throws(() => createVerifier({ secrets }), (e) => {
        assert.match(e.message, msg);
        if (typeof secrets === 'string' && secrets.length > 6) assert.ok(!e.message.includes(secrets.slice(6)), 'secret echoed');
        return true;
      });
    }
  });
});
