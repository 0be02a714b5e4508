// Compiled (never run) by `npm run typecheck`: the declarations in
// src/index.d.ts must accept the documented usage and refuse misuse.
import { createServer } from 'node:http';

import {
  type AlertEvent,
  type AlertData,
  createHandler,
  createVerifier,
  DuplicateWebhookError,
  EVENT_TYPES,
  AlarmPriority,
  AlarmCategory,
  type EventType,
  MemorySeenStore,
  middleware,
  type MirroredSample,
  type SeenStore,
  type ThresholdVital,
  type VitalsMeasurements,
  type WardFrame,
  type WardFrameBed,
  type BedVitals,
  WebhookVerificationError,
} from '../src/index.js';

const secrets = ['whsec_AAECAwQFBgcICQoLDA0ODw==', 'whsec_ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8='];

// Synchronous store: verify() returns the event itself.
const v = createVerifier({ secrets });
const ev: AlertEvent = v.verify(Buffer.from('{}'), { 'webhook-id': 'x' });
v.markProcessed(ev.id);
const t: EventType = EVENT_TYPES[0];
void t;

// Asynchronous store: verify() returns a Promise.
class RedisStore implements SeenStore {
  async has(_id: string): Promise<boolean> {
    return false;
  }
  async add(_id: string): Promise<void> {}
}
const va = createVerifier({ secrets: secrets[0], seen: new RedisStore() });
async function useAsync(): Promise<void> {
  const e = await va.verify('{}', new Headers());
  await va.markProcessed(e.id);
  // @ts-expect-error: a Promise, not the event
  va.verify('{}', {}).type;
}
void useAsync;

// Narrowing on the discriminant and the optional fields.
function show(e: AlertEvent): string {
  const d: AlertData = e.data;
  switch (e.type) {
    case 'alert.raised':
      return `${d.vital ?? d.kind} ${d.value ?? ''} ${d.news2?.band ?? ''} ${d.ward ?? '-'}`;
    case 'alert.updated':
      return `${d.previous_severity} -> ${d.severity}`;
    case 'alert.resolved':
      return `${d.resolved_at ?? ''} ${d.latched ? `latched, cleared ${d.condition_cleared_at}` : ''}`;
    case 'alert.acknowledged':
      return `${d.acknowledged_by ?? ''} via ${d.acknowledged_via ?? ''} at ${d.acknowledged_at ?? ''}`;
    case 'alert.escalated': {
      const p: AlarmPriority | undefined = d.priority;
      const c: AlarmCategory | undefined = d.category;
      return `level ${d.level ?? 0} of a ${p ?? '?'} ${c ?? '?'} alert raised ${d.raised_at ?? ''}`;
    }
    default: {
      const never: never = e;
      return never;
    }
  }
}
void show;

// @ts-expect-error: not an event type
const bad: EventType = 'alert.deleted';
void bad;

try {
  v.verify('', {});
} catch (e) {
  if (e instanceof DuplicateWebhookError) console.log(e.webhookId);
  else if (e instanceof WebhookVerificationError && e.code === 'stale_timestamp') console.log(e.message);
}

const handler = createHandler({
  secrets: secrets.join('\n'),
  seen: new MemorySeenStore({ ttlMs: 3600_000 }),
  limit: 64 * 1024,
  onEvent: async (e, req) => {
    console.log(e.data.alert_id, e.data.direction === 'high', req.headers['webhook-id']);
  },
  onReject: (err) => console.warn(err.message),
  onError: (err, _req, e) => console.error(err, e?.id),
  busyRetryAfter: 2,
});
createServer((req, res) => void handler(req, res));

// The shape Express passes (a Request extends IncomingMessage and may carry body).
const mw = middleware({ secrets, onEvent: () => {}, seen: new RedisStore() });
createServer((req, res) => mw(Object.assign(req, { body: Buffer.alloc(0) }), res, (err?: unknown) => void err));

// @ts-expect-error: onEvent is required
createHandler({ secrets });

// The sample types generated from schemas/vitals/v1.json.
const m: VitalsMeasurements = { hr: 72, spo2: 97, temp: 36.9, o2: false, avpu: 'A' };
const ms: MirroredSample = { ...m, device_id: 'd', ward: 'w', bed: 'b', seq: 1, measured_at: '', received_at: '' };
const tv: ThresholdVital = 'spo2';
void ms;
void tv;
// @ts-expect-error: not an ACVPU letter
const bad: VitalsMeasurements = { avpu: 'X' };
void bad;
// @ts-expect-error: o2 has no threshold alerts
const badVital: ThresholdVital = 'o2';
void badVital;

// A ward frame (wards/<ward>/vitals) as a station reads it.
function beds(f: WardFrame): string[] {
  return Object.entries(f.beds).map(([bed, b]: [string, WardFrameBed]) =>
    `${f.ward}/${bed} #${f.frame_seq}: ${b.sample?.hr ?? '-'} NEWS2 ${b.news2?.score ?? '-'} ${b.alerts.map((a) => a.data.alert_id).join(',')}`);
}
void beds;
function v1(b: BedVitals): number | undefined {
  return b.news2?.score;
}
void v1;
// @ts-expect-error: a bed's sample may be null
const hrOf = (b: WardFrameBed): number | undefined => b.sample.hr;
void hrOf;
