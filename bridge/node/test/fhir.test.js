// observationIds(): the FHIR Observation ids an alert webhook refers to,
// the same as common/vg_fhir.c computes (tests/unit/test_fhir.c has the
// same table; the e2e test storage-fhir checks every exported id).
import assert from 'node:assert/strict';
import { it } from 'node:test';

import { FHIR_PANELS, fhirObservationId, observationIds } from '../src/index.js';

const D64 = 'd'.repeat(60) + '_x_y';

// device, seq, key -> id (shared with tests/unit/test_fhir.c)
const VECTORS = [
  ['mon-3W-12', 42, 'hr', 'vg-mon-3W-12-42-hr'],
  ['mon_3W_12', 42, 'bp', 'vg-mon.3W.12-42-bp'],
  ['a', 0, 'news2', 'vg-a-0-news2'],
  ['a', '9223372036854775807', 'spo2', 'vg-a-9223372036854775807-spo2'],
  ['x'.repeat(48), 1234567, 'temp', 'vg-' + 'x'.repeat(48) + '-1234567-temp'],
  [D64, 7, 'hr', 'vgh-0bb5a7a03868ade05498009a355496de627264f728a78a99e31ffcd580b2'],
];

it('derives the documented id, or the hashed form past 64 characters', () => {
  for (const [dev, seq, key, want] of VECTORS) assert.equal(fhirObservationId(dev, seq, key), want);
  const long = fhirObservationId(D64, 7, 'hr');
  assert.match(long, /^vgh-[0-9a-f]{60}$/);
  assert.equal(long.length, 64);
  assert.equal(fhirObservationId(D64, 7, 'hr'), long, 'stable');
  assert.notEqual(fhirObservationId(D64, 8, 'hr'), long);
  for (const [dev, seq, key] of VECTORS) assert.match(fhirObservationId(dev, seq, key), /^[A-Za-z0-9.-]{1,64}$/);
});

it('reads data.observation, and derives the id from an event without it', () => {
  assert.deepEqual(observationIds({ data: { kind: 'threshold', observation: 'Observation/vg-m-1-hr' } }), ['vg-m-1-hr']);
  assert.deepEqual(observationIds({ data: { kind: 'threshold', device_id: 'm_1', seq: 5, vital: 'hr' } }), ['vg-m.1-5-hr']);
  assert.deepEqual(observationIds({ data: { kind: 'threshold', device_id: 'm', seq: 5, vital: 'sbp' } }), ['vg-m-5-bp']);
  assert.equal(FHIR_PANELS.dbp, 'bp');
  assert.deepEqual(observationIds({ data: { kind: 'news2', device_id: 'm', seq: 9 } }), ['vg-m-9-news2']);
  assert.deepEqual(observationIds({ data: { kind: 'silent', device_id: 'm' } }), []);
  assert.deepEqual(observationIds({ data: { kind: 'threshold', observation: 'Patient/x' } }), []);
  assert.deepEqual(observationIds(null), []);
  assert.throws(() => fhirObservationId('', 1, 'hr'), TypeError);
  assert.throws(() => fhirObservationId('a', -1, 'hr'), TypeError);
});
