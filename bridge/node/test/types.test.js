// src/index.d.ts stays in step with src/index.js (the full type check is
// `npm run typecheck`, which needs TypeScript from the registry).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';

import * as api from '../src/index.js';

const dts = readFileSync(new URL('../src/index.d.ts', import.meta.url), 'utf8');
const js = readFileSync(new URL('../src/index.js', import.meta.url), 'utf8');
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

it('declares exactly the runtime exports', () => {
  const declared = [...dts.matchAll(/^export declare (?:const|class|function) (\w+)/gm)].map((m) => m[1]).sort();
  assert.deepEqual(declared, Object.keys(api).sort());
  for (const name of ['createVerifier', 'createHandler', 'middleware', 'MemorySeenStore', 'DuplicateWebhookError', 'WebhookVerificationError', 'EVENT_TYPES']) {
    assert.ok(name in api, name);
  }
});

it('declares the same event types as EVENT_TYPES', () => {
  const tuple = dts.match(/EVENT_TYPES: readonly \[([^\]]*)\]/)[1];
  const union = dts.match(/export type EventType = ([^;]*);/)[1];
  const names = (s) => [...s.matchAll(/'([^']+)'/g)].map((m) => m[1]);
  assert.deepEqual(names(tuple), [...api.EVENT_TYPES]);
  assert.deepEqual(names(union), [...api.EVENT_TYPES]);
  assert.ok(Object.isFrozen(api.EVENT_TYPES));
});

it('declares every error code the verifier uses', () => {
  const union = names(dts.match(/export type VerificationErrorCode =([^;]*);/)[1]);
  const used = [...new Set([...js.matchAll(/reject\('(\w+)'/g)].map((m) => m[1]))].sort();
  assert.ok(used.length >= 7);
  assert.deepEqual(union.sort(), used);
  function names(s) {
    return [...s.matchAll(/'([^']+)'/g)].map((m) => m[1]);
  }
});

it('package.json points "types" at the declarations', () => {
  assert.equal(pkg.types, 'src/index.d.ts');
  assert.equal(pkg.exports['.'].types, './src/index.d.ts');
  assert.equal(pkg.exports['.'].default, './src/index.js');
  assert.ok(pkg.files.includes('src/'));
});

it('declares the ward frame with the keys the broker sends (docs/stations.md, tests/e2e/stations.test.mjs)', () => {
  const fields = (name) => {
    const body = dts.match(new RegExp(`export interface ${name}(?: extends \\w+)? \\{([\\s\\S]*?)\\n\\}`))[1];
    return [...body.matchAll(/^ {2}(\w+)\??:/gm)].map((m) => m[1]).sort();
  };
  assert.deepEqual(fields('WardFrame'), ['beds', 'frame_seq', 'updated_at', 'ward']);
  assert.deepEqual(fields('WardFrameBed'), ['alerts', 'news2', 'sample']);
  assert.deepEqual(fields('BedSample'), ['bed', 'device_id', 'measured_at', 'received_at', 'seq', 'ward']);
  assert.deepEqual(fields('StationAlertEvent'), ['data', 'timestamp', 'type']);
});
