// Type declarations for @vitalgate/node (see README.md).
import type { IncomingMessage, ServerResponse } from 'node:http';

// ------------------------------------------------------------------ events

export type EventType = 'alert.raised' | 'alert.updated' | 'alert.resolved' | 'vitals.batch';

/** The event types Vitalgate sends; any other type is rejected (400). */
export declare const EVENT_TYPES: readonly ['alert.raised', 'alert.updated', 'alert.resolved', 'vitals.batch'];

/** A vital over its threshold, a NEWS2 band crossed, or a device gone silent. */
export type AlertKind = 'threshold' | 'news2' | 'silent';

export type News2Band = 'none' | 'low' | 'low_medium' | 'medium' | 'high';

export interface News2 {
  /** Aggregate NEWS2 score. */
  score: number;
  band: News2Band;
  /** Points per parameter, e.g. { rr: 3, spo2: 0, hr: 1 }. */
  points: Record<string, number>;
  /** How many parameters were available. */
  parameters: number;
  /** SpO2 scale used. */
  scale: 1 | 2;
}

export interface AlertData {
  /** Stable for the life of one alert: raised, updated and resolved share it. */
  alert_id: string;
  kind: AlertKind;
  severity: string;
  /** null when the device is not assigned to a bed. */
  ward: string | null;
  bed: string | null;
  device_id: string | null;
  /** RFC 3339. */
  raised_at?: string;
  /** The device's sample sequence number that triggered the event. */
  seq?: number;
  /** RFC 3339: when the triggering sample was measured. */
  measured_at?: string;
  /** threshold alerts: which vital (hr, spo2, rr, sbp, temp, ...). */
  vital?: string;
  value?: number;
  unit?: string;
  threshold?: number;
  direction?: 'high' | 'low';
  /** news2 alerts. */
  news2?: News2;
  /** alert.updated: the severity before this update. */
  previous_severity?: string;
  /** silent alerts: seconds without a sample. */
  silent_for_s?: number;
  /** silent alerts: RFC 3339, null when the device was never seen. */
  last_seen_at?: string | null;
  reason?: string;
  /** alert.resolved: RFC 3339. */
  resolved_at?: string;
  /** Present when > 0: transitions of this alert inside the same message (batch) folded into this event. */
  coalesced?: number;
}

/** One mirrored sample (plugin_opt_mirror_url): the bed-vitals shape. */
export interface MirroredSample {
  device_id: string;
  ward: string;
  bed: string;
  seq: number;
  /** RFC 3339. */
  measured_at: string;
  received_at: string;
  hr?: number; spo2?: number; rr?: number; sbp?: number; dbp?: number; map?: number; temp?: number;
  o2?: boolean;
  avpu?: 'A' | 'C' | 'V' | 'P' | 'U';
}

/** vitals.batch: accepted samples mirrored to a legacy ingest endpoint. */
export interface VitalsBatchData {
  samples: MirroredSample[];
}

/** One verified delivery. `id` is the webhook-id header (the idempotency key). */
export interface VitalgateEvent<T extends EventType = EventType> {
  id: string;
  type: T;
  /** RFC 3339: when the broker produced the event. */
  timestamp: string;
  data: T extends 'vitals.batch' ? VitalsBatchData : AlertData;
}

export type VitalsBatchEvent = VitalgateEvent<'vitals.batch'>;

export type AlertRaisedEvent = VitalgateEvent<'alert.raised'>;
export type AlertUpdatedEvent = VitalgateEvent<'alert.updated'>;
export type AlertResolvedEvent = VitalgateEvent<'alert.resolved'>;
/** Discriminated on `type`. */
export type AlertEvent = AlertRaisedEvent | AlertUpdatedEvent | AlertResolvedEvent;

// ------------------------------------------------------------------ errors

export type VerificationErrorCode =
  | 'missing_headers'
  | 'invalid_timestamp'
  | 'stale_timestamp'
  | 'future_timestamp'
  | 'invalid_signature'
  | 'invalid_body'
  | 'invalid_event';

/**
 * A delivery that is not an authentic, fresh Vitalgate event. The class is
 * the one of the `standardwebhooks` package; this package sets `code`.
 */
export declare class WebhookVerificationError extends Error {
  constructor(message: string);
  code?: VerificationErrorCode;
}

/** A webhook-id that was already processed (a retry or a replay). */
export declare class DuplicateWebhookError extends Error {
  constructor(id: string);
  readonly name: 'DuplicateWebhookError';
  readonly code: 'duplicate';
  readonly webhookId: string;
}

// ------------------------------------------------------------------ seen store

/**
 * Where processed webhook-ids are remembered. Methods may be synchronous or
 * return Promises (Redis, PostgreSQL). Keep ids at least as long as the
 * broker retries (webhook_dead_after_s, default 24 h, the default of MemorySeenStore).
 */
export interface SeenStore {
  has(id: string): boolean | Promise<boolean>;
  add(id: string): unknown;
}

/** A store whose has() answers synchronously. */
export interface SyncSeenStore extends SeenStore {
  has(id: string): boolean;
}

export interface MemorySeenStoreOptions {
  /** How long an id is remembered, ms (default 24 h). */
  ttlMs?: number;
  /** At most this many ids; the oldest are forgotten first (default 100000). */
  max?: number;
}

/** The default store: per process, in memory. */
export declare class MemorySeenStore implements SyncSeenStore {
  constructor(options?: MemorySeenStoreOptions);
  readonly ttlMs: number;
  readonly max: number;
  readonly size: number;
  has(id: string): boolean;
  add(id: string): void;
}

// ------------------------------------------------------------------ verifier

/**
 * One whsec_ secret, a list, or the text of a secrets file (one per line,
 * blank lines and # comments ignored). Any of them may match (key rotation).
 */
export type Secrets = string | readonly string[];

/** The exact bytes received. */
export type RawBody = string | Uint8Array | ArrayBuffer;

/** Node's req.headers (any case, values may be arrays) or a Fetch `Headers`. */
export type WebhookHeaders =
  | Readonly<Record<string, string | readonly string[] | undefined>>
  | { get(name: string): string | null };

export interface VerifierOptions<S extends SeenStore = MemorySeenStore> {
  secrets: Secrets;
  /** Default: a new MemorySeenStore. */
  seen?: S;
}

export interface Verifier<S extends SeenStore = MemorySeenStore> {
  /**
   * Checks headers, timestamp (5 minutes either way), signature, event shape
   * and the seen store. Throws (or, with an asynchronous store, rejects
   * with) WebhookVerificationError or DuplicateWebhookError. Synchronous
   * with a synchronous store; `await` works in both cases.
   */
  verify(rawBody: RawBody, headers: WebhookHeaders): S extends SyncSeenStore ? AlertEvent : Promise<AlertEvent>;
  /** verify() without the seen store; always synchronous. */
  verifySignature(rawBody: RawBody, headers: WebhookHeaders): AlertEvent;
  /** Remembers a webhook-id: call it only after the event was handled. */
  markProcessed(id: string): ReturnType<S['add']>;
  readonly seen: S;
}

export declare function createVerifier<S extends SeenStore = MemorySeenStore>(options: VerifierOptions<S>): Verifier<S>;

// ------------------------------------------------------------------ HTTP

export interface HandlerOptions<S extends SeenStore = SeenStore> {
  secrets: Secrets;
  /**
   * Called once per webhook-id. Resolve when the event is safely handled
   * (answer 204); throw to answer 500 so the broker retries.
   */
  onEvent: (event: AlertEvent, req: IncomingMessage) => unknown;
  /** Default: a new MemorySeenStore (per process). */
  seen?: S;
  /** Largest body accepted, bytes (default 262144); larger answers 413. */
  limit?: number;
  /** Told about every 400/413 rejection. */
  onReject?: (err: WebhookVerificationError | Error, req: IncomingMessage) => void;
  /** Told about every 500: onEvent or the seen store failed, or the body was already parsed. Default: console.error. */
  onError?: (err: unknown, req: IncomingMessage, event?: AlertEvent) => void;
  /** Retry-After (seconds) of the 409 answered while the same webhook-id is being processed (default 5). */
  busyRetryAfter?: number;
}

/** A node:http request handler; resolves once the answer is sent. */
export type WebhookHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export declare function createHandler<S extends SeenStore = SeenStore>(options: HandlerOptions<S>): WebhookHandler;

/** The request as Express passes it: `body` is a Buffer after express.raw(), absent without a parser. */
export interface RequestWithBody extends IncomingMessage {
  body?: unknown;
}

/** Express-style middleware; mount it before any JSON parser. */
export declare function middleware<S extends SeenStore = SeenStore>(
  options: HandlerOptions<S>,
): (req: RequestWithBody, res: ServerResponse, next: (err?: unknown) => void) => void;
