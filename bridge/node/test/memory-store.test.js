// MemorySeenStore: the default, per-process store of processed webhook-ids.
import assert from 'node:assert/strict';
import { it } from 'node:test';

import { MemorySeenStore } from '../src/index.js';

it('remembers ids for ttlMs and forgets them after', (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const s = new MemorySeenStore({ ttlMs: 60_000 });
  assert.equal(s.has('a'), false);
  s.add('a');
  assert.equal(s.has('a'), true);
  t.mock.timers.tick(60_000);
  assert.equal(s.has('a'), true);
  t.mock.timers.tick(1);
  assert.equal(s.has('a'), false);
  assert.equal(s.size, 0);
});

it('keeps at most max ids, forgetting the oldest first', () => {
  const s = new MemorySeenStore({ max: 3 });
  for (const id of ['a', 'b', 'c', 'd']) s.add(id);
  assert.equal(s.size, 3);
  assert.deepEqual(['a', 'b', 'c', 'd'].map((id) => s.has(id)), [false, true, true, true]);
  s.add('b'); // re-added: now the newest
  s.add('e');
  assert.deepEqual(['b', 'c', 'd', 'e'].map((id) => s.has(id)), [true, false, true, true]);
});

it('drops expired ids when adding, so memory follows the traffic of the last ttlMs', (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 5_000_000 });
  const s = new MemorySeenStore({ ttlMs: 1000 });
  for (let i = 0; i < 100; i++) s.add(`old-${i}`);
  t.mock.timers.tick(1001);
  s.add('new');
  assert.equal(s.size, 1);
});

it('defaults to 24 hours, the broker default webhook_dead_after_s', (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 0 });
  const s = new MemorySeenStore();
  s.add('x');
  t.mock.timers.tick(23 * 3600 * 1000);
  assert.equal(s.has('x'), true);
  t.mock.timers.tick(3600 * 1000 + 1);
  assert.equal(s.has('x'), false);
});

it('refuses a non-positive ttlMs or max', () => {
  assert.throws(() => new MemorySeenStore({ ttlMs: 0 }), RangeError);
  assert.throws(() => new MemorySeenStore({ max: -1 }), RangeError);
});
