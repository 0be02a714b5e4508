// examples/escalation.mjs: the reference ladder (nurse, charge nurse,
// failsafe) and its stand-down on ack or on the end of a non-latched alert.
import { it } from 'node:test';
import assert from 'node:assert/strict';

import { escalationHandler, recipientsFor } from '../examples/escalation.mjs';

const roster = { failsafe: 'rrt', '5N': { charge: 'charge-5n', nurses: { B2: 'nurse-jo' } } };
const ev = (type, data) => ({ id: `evt_${type}_${data.level ?? ''}`, type, timestamp: new Date().toISOString(),
  data: { alert_id: 'al_1', kind: 'threshold', ward: '5N', bed: 'B2', priority: 'high', raised_at: '2026-12-06T02:00:00Z', ...data } });

it('maps levels to the nurse, the charge nurse, then the failsafe', () => {
  assert.deepEqual(recipientsFor(1, { ward: '5N', bed: 'B2' }, roster), ['nurse-jo']);
  assert.deepEqual(recipientsFor(2, { ward: '5N', bed: 'B2' }, roster), ['charge-5n']);
  assert.deepEqual(recipientsFor(3, { ward: '5N', bed: 'B2' }, roster), ['rrt']);
  assert.deepEqual(recipientsFor(7, { ward: '5N', bed: 'B2' }, roster), ['rrt']);
  assert.deepEqual(recipientsFor(1, { ward: '9Z', bed: 'B1' }, roster), ['rrt'], 'an unknown ward goes to the failsafe');
});

it('pages per level, stands down on the ack, keeps going through a latched resolve', async () => {
  const pages = [];
  const on = escalationHandler({ roster, page: async (to, msg) => pages.push([to, msg]) });
  await on(ev('alert.escalated', { level: 1 }));
  await on(ev('alert.resolved', { level: 1, latched: true, severity: 'none' }));
  await on(ev('alert.escalated', { level: 2, latched: true }));
  assert.deepEqual(pages.map((p) => p[0]), ['nurse-jo', 'charge-5n']);
  assert.match(pages[0][1], /^\[secondary alarm\] high threshold alert at 5N bed B2 .*level 1/);
  await on(ev('alert.acknowledged', { level: 2, latched: true, acknowledged_by: 'nurse.kim' }));
  assert.deepEqual(pages.slice(2).map((p) => p[0]).sort(), ['charge-5n', 'nurse-jo']);
  assert.match(pages[2][1], /acknowledged by nurse.kim: stand down/);
});
