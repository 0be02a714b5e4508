// Simulated bedside devices for durability tests: each device publishes
// valid samples (QoS 1) at a steady rate, behaves like real firmware
// (reconnects, keeps every unacknowledged sample and sends it again, retries
// a sample refused with `backpressure`), and records exactly which
// (device, seq) the broker acknowledged.
import mqtt from 'mqtt';
import { encode } from '@msgpack/msgpack';

import { waitFor } from './bench.mjs';

export class Fleet {
  /**
   * port; creds: [{id, secret}]; rate: messages per second per device;
   * batch: samples per message (1 = a single map); fields(id, seq): the
   * measurements of a sample (default: normal values); reconnectMs: the
   * devices' reconnect delay; connectRate: devices started per second (0:
   * all at once); connectTimeout: ms a device waits for its CONNACK.
   */
  constructor({ port, creds, rate = 10, batch = 1, fields, reconnectMs = 300, connectRate = 0, connectTimeout = 5000 }) {
    Object.assign(this, { port, creds, rate, batch, reconnectMs, connectRate, connectTimeout });
    this.fields = fields ?? ((_id, seq) => ({ hr: 60 + (seq % 40), spo2: 95 + (seq % 4), rr: 14 }));
    this.acked = new Map();          // id -> Set(seq)
    this.ackTimes = new Map();       // id -> [Date.now() of each PUBACK], in order
    this.ackedAt = new Map();        // id -> Map(seq -> Date.now() of its PUBACK)
    this.silenced = new Set();       // devices switched off (silence())
    this.pending = new Map();        // id -> messages sent, not yet answered
    this.refused = new Map();        // reason -> count
    this.otherRejections = [];       // anything but backpressure: a test failure
    this.sent = 0;
    this.clients = [];
    this.timers = [];
    this.running = false;
    this.inflight = 0;
  }

  get ackedCount() {
    let n = 0;
    for (const s of this.acked.values()) n += s.size;
    return n;
  }

  async start() {
    this.running = true;
    const base = Date.now() * 1000;
    const t0 = Date.now();
    await Promise.all(this.creds.map(({ id, secret }, i) => new Promise((resolve, reject) => {
      const c = mqtt.connect(`mqtt://127.0.0.1:${this.port}`, {
        clientId: id, username: id, password: secret, protocolVersion: 5, clean: true,
        reconnectPeriod: this.reconnectMs, connectTimeout: this.connectTimeout, queueQoSZero: false,
        // Like firmware, a device refused at CONNACK tries again (a broker
        // restarted without its identity cache refuses until PostgreSQL
        // answers; MQTT.js gives up on a refused CONNACK by default).
        reconnectOnConnackError: true,
        manualConnect: this.connectRate > 0,
      });
      if (this.connectRate > 0) setTimeout(() => c.connect(), Math.max(0, t0 + (i * 1000) / this.connectRate - Date.now()));
      this.clients.push(c);
      this.acked.set(id, new Set());
      this.ackTimes.set(id, []);
      this.ackedAt.set(id, new Map());
      c.on('message', (_t, p) => {
        const r = JSON.parse(p.toString());
        this.refused.set(r.reason, (this.refused.get(r.reason) ?? 0) + 1);
        if (r.reason !== 'backpressure') this.otherRejections.push(r);
      });
      c.once('connect', () => {
        c.subscribe(`devices/${id}/rejections`, { qos: 1 });
        resolve();
      });
      c.once('error', reject);
      let seq = base + i * 1e6;
      const tick = () => {
        if (!this.running) return;
        const samples = Array.from({ length: this.batch }, () => {
          seq += 1;
          return { v: 1, seq, ts: Date.now(), ...this.fields(id, seq) };
        });
        this.send(c, id, samples);
      };
      this.timers.push(setInterval(tick, 1000 / this.rate));
    })));
  }

  send(c, id, samples) {
    if (this.silenced.has(id)) return;
    const payload = Buffer.from(encode(this.batch === 1 ? samples[0] : samples));
    this.sent += 1;
    this.inflight += 1;
    this.pending.set(id, (this.pending.get(id) ?? 0) + 1);
    // MQTT.js keeps unacknowledged QoS 1 messages across reconnects and
    // sends them again: the callback fires once the broker answers.
    c.publish(`vitals/${id}`, payload, { qos: 1 }, (err) => {
      if (this.silenced.has(id)) return; // counted out by silence()
      this.inflight -= 1;
      this.pending.set(id, this.pending.get(id) - 1);
      if (!err) {
        const set = this.acked.get(id);
        const now = Date.now();
        for (const s of samples) {
          set.add(s.seq);
          this.ackedAt.get(id).set(s.seq, now);
        }
        this.ackTimes.get(id).push(now);
        return;
      }
      // Refused (backpressure) or the client gave up: keep it and retry.
      if (this.running || this.draining) setTimeout(() => this.send(c, id, samples), 250);
    });
  }

  /**
   * The time (ms after t) by which `share` of the devices `ids` had a
   * PUBACK after t; Infinity when that many never had one.
   */
  recoveredBy(t, share = 0.99, ids = [...this.ackTimes.keys()]) {
    const firsts = ids.map((id) => this.ackTimes.get(id).find((a) => a > t) ?? Infinity).sort((x, y) => x - y);
    const k = Math.ceil(share * firsts.length) - 1;
    return firsts[k] - t;
  }

  /** Stops one device for good (a device switched off): what it has not
   * had acknowledged is dropped with it. */
  async silence(id) {
    const i = this.creds.findIndex((c) => c.id === id);
    this.silenced.add(id);
    clearInterval(this.timers[i]);
    this.timers[i] = null;
    this.inflight -= this.pending.get(id) ?? 0;
    this.pending.set(id, 0);
    await this.clients[i].endAsync(true);
  }

  /** Stops producing; keeps retrying what is unacknowledged until it is. */
  async stop({ drainMs = 60000 } = {}) {
    this.running = false;
    this.draining = true;
    for (const t of this.timers) if (t) clearInterval(t);
    const end = Date.now() + drainMs;
    while (this.inflight > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    this.draining = false;
    const left = this.inflight;
    await Promise.all(this.clients.map((c, i) => (this.silenced.has(this.creds[i].id) ? null : c.endAsync(true).catch(() => {}))));
    return left;
  }
}

/** Checks that PostgreSQL holds every acknowledged sample exactly once. */
export async function verifyStored(pg, fleet) {
  const r = await pg.query(
    'SELECT device_id, seq, count(*)::int AS n FROM vitals WHERE device_id = ANY($1) GROUP BY device_id, seq',
    [[...fleet.acked.keys()]]);
  const stored = new Map();
  let dups = 0;
  for (const row of r.rows) {
    if (row.n !== 1) dups += 1;
    if (!stored.has(row.device_id)) stored.set(row.device_id, new Set());
    stored.get(row.device_id).add(Number(row.seq));
  }
  const missing = [];
  for (const [id, seqs] of fleet.acked) {
    const have = stored.get(id) ?? new Set();
    for (const s of seqs) if (!have.has(s)) missing.push(`${id}:${s}`);
  }
  return { missing, dups, storedRows: r.rows.length };
}

/** Provisions n devices `<prefix>-<i>` in ward (bed B<i>) and waits until
 * the broker on port knows the last of them; returns their credentials. */
export async function provisionFleet(bench, port, n, prefix, ward) {
  const creds = bench.importDevices(Array.from({ length: n }, (_, i) => `${prefix}-${i} ${ward} B${i}`));
  await bench.waitIdentity(port, creds[n - 1].id, creds[n - 1].secret);
  return creds;
}

/** Waits until PostgreSQL holds as many rows of the `<prefix>-*` devices as
 * the fleet got PUBACKs for, then checks them one by one (verifyStored). */
export async function settleFleet(bench, fleet, prefix, timeout = 60000) {
  const total = fleet.ackedCount;
  await waitFor(async () => (await bench.pg.query(
    'SELECT count(*)::int AS n FROM vitals WHERE device_id LIKE $1', [`${prefix}-%`])).rows[0].n >= total,
  { timeout, what: `${total} rows` });
  return verifyStored(bench.pg, fleet);
}
