// The Vitalgate test bench: starts real parts on loopback and tears them
// down by PID, even when a test fails or the process is interrupted.
//
//   const bench = await Bench.start({ webhook: true });
//   ... bench.pg, bench.broker, bench.receiver, bench.admin(...) ...
//   await bench.stop();
//
// Parts:
//  - PostgreSQL 15: initdb in a temp dir (as the postgres user when we are
//    root), listening only on a unix socket in that dir, on a free port
//    number; database `vitalgate`, schema applied with vitalgate-admin.
//    With pgTls also on 127.0.0.1, TLS only (sslmode=verify-full).
//  - Mosquitto 2.0 with the built plugin on a free 127.0.0.1 port.
//  - A Node.js webhook receiver (bridge/node verifies the signatures).
// Every child is recorded; an exit/signal hook SIGKILLs any still alive.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, chmodSync, chownSync, existsSync, rmSync, readFileSync, appendFileSync, copyFileSync, renameSync, readdirSync, openSync, writeSync, closeSync, statSync } from 'node:fs';
import http, { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

import mqtt from 'mqtt';
import pg from 'pg';
import { encode } from '@msgpack/msgpack';

import { createVerifier, DuplicateWebhookError } from '../../bridge/node/src/index.js';
import { makeCA, issue } from './certs.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SOURCE_DIR = process.env.VG_SOURCE_DIR ?? path.resolve(here, '../..');
export const PLUGIN = process.env.VG_PLUGIN ?? path.join(SOURCE_DIR, 'build/vitalgate.so');
export const ADMIN = process.env.VG_ADMIN ?? path.join(SOURCE_DIR, 'build/vitalgate-admin');
export const VGLOAD = process.env.VG_VGLOAD ?? path.join(SOURCE_DIR, 'build/bench/vgload');
// Fault injection (tests/faults/vg_fault_shim.c): preloaded into a broker
// with opts.preload, it makes fdatasync/fsync fail while a control file
// exists (VG_FAULT_SYNC_FILE in the broker's environment).
export const FAULT_SHIM = process.env.VG_FAULT_SHIM ?? path.join(SOURCE_DIR, 'build/tests/libvg_fault_shim.so');
const IS_ROOT = process.getuid?.() === 0;
const ASAN = process.env.VG_BUILD_TYPE === 'Asan';

// ---- process registry: everything we start, so we can always end it ----
const children = new Set();
export function track(child) {
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}
function killAll() {
  for (const c of children) {
    try { process.kill(c.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
}
const onSignal = () => { killAll(); process.exit(130); };
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, onSignal);

/** For long-running users (devstack) that stop their parts gracefully. */
export function ownSignals() {
  for (const sig of ['SIGINT', 'SIGTERM']) process.removeListener(sig, onSignal);
}

export async function waitFor(fn, { timeout = 10000, interval = 25, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    }
    await sleep(interval);
  }
}

// Ports for the servers a test starts. Not the kernel's "any free port":
// those come from the ephemeral range (ip_local_port_range, 32768-60999),
// where every outgoing connection of every concurrent test also takes its
// source port, so a port free a moment ago can be taken before mosquitto
// binds it (seen as "Address already in use" under ctest -j2). Instead a
// random port below that range, reserved across concurrent test processes
// by a lock file (created exclusively; a lock older than an hour is stale),
// and checked free on every interface.
const PORT_LOCKS = path.join(os.tmpdir(), 'vg-test-ports');
const PORT_LOW = 10000;
const PORT_HIGH = 32000;

function canListen(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.unref();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '0.0.0.0', exclusive: true }, () => s.close(() => resolve(true)));
  });
}

export async function freePort() {
  mkdirSync(PORT_LOCKS, { recursive: true, mode: 0o1777 });
  for (let i = 0; i < 500; i++) {
    const port = PORT_LOW + Math.floor(Math.random() * (PORT_HIGH - PORT_LOW));
    const lock = path.join(PORT_LOCKS, String(port));
    try {
      if (Date.now() - statSync(lock).mtimeMs < 3600e3) continue;
      rmSync(lock, { force: true });
    } catch { /* no lock: free to take */ }
    try {
      writeFileSync(lock, `${process.pid}\n`, { flag: 'wx' });
    } catch {
      continue; // another test process took it first
    }
    if (await canListen(port)) return port;
  }
  throw new Error(`freePort: no free port in ${PORT_LOW}-${PORT_HIGH} after 500 tries`);
}

function exitOf(child, timeout) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve({ code: child.exitCode, signal: child.signalCode });
    const t = setTimeout(() => resolve(null), timeout);
    // After 'exit', its output may still be in the pipes (a sanitizer's
    // report is written last): wait for 'close' too, at most 2 s.
    child.once('exit', (code, signal) => {
      clearTimeout(t);
      const t2 = setTimeout(() => resolve({ code, signal }), 2000);
      child.once('close', () => { clearTimeout(t2); resolve({ code, signal }); });
    });
  });
}

export async function stopChild(child, { signal = 'SIGTERM', timeout = 15000 } = {}) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return { code: child?.exitCode, signal: child?.signalCode };
  try { process.kill(child.pid, signal); } catch { /* gone */ }
  const r = await exitOf(child, timeout);
  if (r) return r;
  try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
  return (await exitOf(child, 5000)) ?? { code: null, signal: 'SIGKILL' };
}

/** Owns a temp dir readable by the postgres and mosquitto users. */
export function makeTempRoot(prefix = 'vg-') {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

function userIds(name) {
  const out = execFileSync('id', ['-u', name]).toString().trim();
  const g = execFileSync('id', ['-g', name]).toString().trim();
  return { uid: Number(out), gid: Number(g) };
}

function pgBinDir() {
  for (const d of ['/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/17/bin']) {
    if (existsSync(path.join(d, 'postgres'))) return d;
  }
  throw new Error('PostgreSQL server binaries not found (apt-get install -y postgresql-15)');
}

// ---------------------------------------------------------------- Postgres
export class Postgres {
  /** Reuses the cluster in root if there is one (devstack), else creates it. */
  static async open(root, opts = {}) {
    if (existsSync(path.join(root, 'pgdata', 'PG_VERSION'))) {
      const p = new Postgres();
      p.root = root;
      p.data = path.join(root, 'pgdata');
      p.sock = path.join(root, 'pgsock');
      p.logFile = path.join(root, 'postgres.log');
      p.bin = pgBinDir();
      p.port = opts.port ?? await freePort();
      await p.boot();
      return p;
    }
    return Postgres.start(root, opts);
  }

  /**
   * ssl: true also listens on 127.0.0.1 with ssl=on, a server certificate
   * (localhost, 127.0.0.1) from a test CA (p.ca), and a pg_hba that refuses
   * TCP without TLS; see tcpConninfo(). settings: extra {name: value}
   * server settings (e.g. log_connections).
   */
  static async start(root, { port, ssl, settings } = {}) {
    const p = new Postgres();
    p.root = root;
    p.data = path.join(root, 'pgdata');
    p.sock = path.join(root, 'pgsock');
    p.logFile = path.join(root, 'postgres.log');
    p.bin = pgBinDir();
    p.port = port ?? await freePort();
    p.settings = settings ?? {};
    mkdirSync(p.data, { mode: 0o700 });
    mkdirSync(p.sock, { mode: 0o755, recursive: true });
    chmodSync(p.sock, 0o755);
    if (IS_ROOT) {
      const { uid, gid } = userIds('postgres');
      chownSync(p.data, uid, gid);
      chownSync(p.sock, uid, gid);
      writeFileSync(p.logFile, '');
      chownSync(p.logFile, uid, gid);
    }
    const r = spawnSync(...p.asPostgres(path.join(p.bin, 'initdb'),
      ['-D', p.data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']), { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`initdb failed: ${r.stderr || r.stdout}`);
    if (ssl) p.setupSsl();
    await p.boot();
    const c = await p.client('postgres');
    await c.query('CREATE DATABASE vitalgate');
    await c.end();
    return p;
  }

  /** Server certificate for TLS over 127.0.0.1 (the key owned by postgres,
   * 0600, as the server requires); the CA is readable by everyone, so the
   * broker's user can use it as sslrootcert. */
  setupSsl() {
    const ca = makeCA(path.join(this.root, 'pg-ca'), { cn: 'Vitalgate Test PostgreSQL CA' });
    const srv = issue(ca, 'server', 'localhost', 'IP:127.0.0.1,DNS:localhost');
    const dir = path.join(this.root, 'pgtls');
    mkdirSync(dir, { mode: 0o700 });
    this.ca = ca.ca;
    this.ssl = { cert: path.join(dir, 'server.crt'), key: path.join(dir, 'server.key') };
    copyFileSync(srv.cert, this.ssl.cert);
    copyFileSync(srv.key, this.ssl.key);
    chmodSync(this.ssl.cert, 0o644);
    chmodSync(this.ssl.key, 0o600);
    if (IS_ROOT) {
      const { uid, gid } = userIds('postgres');
      for (const f of [dir, this.ssl.cert, this.ssl.key]) chownSync(f, uid, gid);
    }
    // First match wins: TCP must be TLS; the unix socket stays trusted.
    const hba = path.join(this.data, 'pg_hba.conf');
    writeFileSync(hba, `hostnossl all all 0.0.0.0/0 reject\nhostnossl all all ::/0 reject\nhostssl all all 127.0.0.1/32 trust\n${readFileSync(hba, 'utf8')}`);
  }

  /** A libpq conninfo over TCP (needs ssl: true), verify-full against p.ca. */
  tcpConninfo({ sslmode = 'verify-full', sslrootcert = this.ca, host = '127.0.0.1', extra = '' } = {}) {
    return `host=${host} port=${this.port} dbname=vitalgate user=postgres sslmode=${sslmode}`
      + `${sslrootcert ? ` sslrootcert=${sslrootcert}` : ''}${extra ? ` ${extra}` : ''}`;
  }

  asPostgres(cmd, args) {
    if (!IS_ROOT) return [cmd, args];
    // setpriv execs in place, so the PID we get is the server's own.
    return ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', cmd, ...args]];
  }

  async boot() {
    const [cmd, args] = this.asPostgres(path.join(this.bin, 'postgres'), [
      '-D', this.data, '-k', this.sock, '-p', String(this.port), '-c', `listen_addresses=${this.ssl ? '127.0.0.1' : ''}`,
      '-c', 'fsync=off', '-c', 'full_page_writes=off', '-c', 'max_connections=60',
      '-c', 'log_min_messages=warning',
      ...(this.ssl ? ['-c', 'ssl=on', '-c', `ssl_cert_file=${this.ssl.cert}`, '-c', `ssl_key_file=${this.ssl.key}`] : []),
      ...Object.entries(this.settings ?? {}).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    ]);
    this.proc = track(spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] }));
    this.proc.stderr.on('data', (d) => appendFileSync(this.logFile, d));
    await waitFor(async () => {
      if (this.proc.exitCode !== null) throw new Error(`postgres exited: ${readFileSync(this.logFile, 'utf8').slice(-2000)}`);
      const c = new pg.Client({ host: this.sock, port: this.port, user: 'postgres', database: 'postgres' });
      try { await c.connect(); await c.end(); return true; } catch { await c.end().catch(() => {}); return false; }
    }, { timeout: 30000, what: 'PostgreSQL to accept connections' });
  }

  get conninfo() {
    return `host=${this.sock} port=${this.port} dbname=vitalgate user=postgres`;
  }

  async client(database = 'vitalgate') {
    const c = new pg.Client({ host: this.sock, port: this.port, user: 'postgres', database });
    await c.connect();
    return c;
  }

  async query(sql, params) {
    const c = await this.client();
    try { return await c.query(sql, params); } finally { await c.end(); }
  }

  /** Pins the postmaster and every backend (present and future) to cpu. */
  pin(cpu) {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(this.proc.pid)], { stdio: 'ignore' });
    for (const pid of spawnSync('pgrep', ['-P', String(this.proc.pid)], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean)) {
      execFileSync('taskset', ['-a', '-p', '-c', String(cpu), pid], { stdio: 'ignore' });
    }
  }

  /** Fast shutdown (what an outage looks like to clients). */
  async stop() {
    if (!this.proc) return;
    await stopChild(this.proc, { signal: 'SIGINT', timeout: 20000 });
    this.proc = null;
  }

  async restart() {
    await this.stop();
    await this.boot();
  }
}

// ------------------------------------------------------------------ Broker
export class Broker {
  /**
   * opts: conninfo, spoolDir, webhookUrl, secretFile, options (extra
   * plugin_opt_ lines as {key: value}), extraConf (lines), port, env
   * (extra environment variables), preload (libraries to LD_PRELOAD).
   */
  static async start(root, opts) {
    const b = new Broker();
    b.root = root;
    b.opts = opts;
    b.port = opts.port ?? await freePort();
    b.confFile = path.join(root, `mosquitto-${b.port}.conf`);
    b.logFile = path.join(root, `mosquitto-${b.port}.log`);
    b.lines = [];
    b.writeConf();
    await b.boot();
    return b;
  }

  writeConf() {
    const o = this.opts;
    const logTypes = o.logTypes ?? ['error', 'warning', 'notice', 'information'];
    const lines = [
      'per_listener_settings false',
      `listener ${this.port} 127.0.0.1`,
      `allow_anonymous ${o.noPlugin ? 'true' : 'false'}`,
      'set_tcp_nodelay true',
      'persistence false',
      'log_dest stderr',
      ...logTypes.map((t) => `log_type ${t}`),
      'log_timestamp true',
      'log_timestamp_format %Y-%m-%dT%H:%M:%S',
      ...(o.extraConf ?? []),
    ];
    if (!o.noPlugin) {
      // The broker drops to the mosquitto user before loading plugins: load
      // a copy from our 0755 temp dir, whatever the checkout's permissions.
      // Copy then rename: a broker still running keeps its mapped inode.
      const so = path.join(this.root, 'vitalgate.so');
      copyFileSync(o.plugin ?? PLUGIN, `${so}.tmp`);
      chmodSync(`${so}.tmp`, 0o755);
      renameSync(`${so}.tmp`, so);
      lines.push(`plugin ${so}`);
      const popts = { db_conninfo: o.conninfo, spool_dir: o.spoolDir, ...(o.options ?? {}) };
      if (o.webhookUrl) popts.webhook_url = o.webhookUrl;
      if (o.secretFile) popts.webhook_secret_file = o.secretFile;
      for (const [k, v] of Object.entries(popts)) if (v !== undefined && v !== null) lines.push(`plugin_opt_${k} ${v}`);
      // rawConf: the caller writes the whole file (e.g. from the shipped
      // example), given our port and the plugin's path.
      if (o.rawConf) {
        writeFileSync(this.confFile, o.rawConf({ port: this.port, plugin: so }));
        chmodSync(this.confFile, 0o644);
        return;
      }
    }
    writeFileSync(this.confFile, `${lines.join('\n')}\n`);
    chmodSync(this.confFile, 0o644);
  }

  async boot({ waitReady = true } = {}) {
    const env = { ...process.env, ...(this.opts.env ?? {}) };
    // opts.preload: libraries to preload (fault shims), copied into our
    // temp dir (the mosquitto user must read them) the same way as the
    // ASan shim below, and placed after the sanitizer runtime.
    const extraPreload = (this.opts.preload ?? []).map((lib) => {
      const dst = path.join(this.root, path.basename(lib));
      copyFileSync(lib, `${dst}.tmp`);
      chmodSync(`${dst}.tmp`, 0o755);
      renameSync(`${dst}.tmp`, dst);
      return dst;
    });
    if (extraPreload.length) env.LD_PRELOAD = extraPreload.join(' ');
    if (ASAN) {
      // The sanitizer runtime must come first in a broker that was not
      // built with it; suppression files are read as the mosquitto user.
      const supp = path.join(this.root, 'lsan.supp');
      if (!existsSync(supp)) {
        copyFileSync(path.join(SOURCE_DIR, 'tests/lsan.supp'), supp);
        chmodSync(supp, 0o644);
      }
      const preload = [execFileSync('gcc', ['-print-file-name=libasan.so']).toString().trim()];
      if (process.env.VG_ASAN_SHIM) {
        // Copy then rename, never over the file in place: a broker already
        // running has it mapped, and rewriting a mapped library reverts its
        // relocated pages (its destructor pointer became 0x10e0 and the
        // first broker crashed at exit when a second one started).
        const shim = path.join(this.root, 'vg_asan_shim.so');
        copyFileSync(process.env.VG_ASAN_SHIM, `${shim}.tmp`);
        chmodSync(`${shim}.tmp`, 0o755);
        renameSync(`${shim}.tmp`, shim);
        preload.push(shim);
      }
      env.LD_PRELOAD = [...preload, ...extraPreload].join(' ');
      // Mosquitto 2.0.11 leaks one 16-byte block from mosq_websockets_init
      // (suppressed in tests/lsan.supp). The binary has no frame pointers,
      // so only the slow unwinder sees that frame: use it when the broker
      // has a websockets listener, and only then (it slows every malloc).
      const conf = readFileSync(this.confFile, 'utf8');
      // Likewise libpq's TLS BIO method (tests/lsan.supp), allocated in
      // libcrypto: only brokers whose conninfo asks for TLS.
      const fullUnwind = /^\s*protocol\s+websockets/m.test(conf) || /^plugin_opt_db_conninfo .*sslmode=(require|verify-ca|verify-full)/m.test(conf);
      env.ASAN_OPTIONS = process.env.VG_ASAN_OPTIONS ??
        `detect_leaks=1:halt_on_error=1:exitcode=66${fullUnwind ? ':fast_unwind_on_malloc=0' : ''}`;
      env.LSAN_OPTIONS = `suppressions=${supp}:print_suppressions=0`;
      env.UBSAN_OPTIONS = 'halt_on_error=1:print_stacktrace=1';
    }
    this.exit = null;
    this.proc = track(spawn('/usr/sbin/mosquitto', ['-c', this.confFile], { stdio: ['ignore', 'pipe', 'pipe'], env }));
    const onData = (d) => {
      const text = d.toString();
      appendFileSync(this.logFile, text);
      for (const l of text.split('\n')) if (l) this.lines.push(l);
    };
    this.proc.stdout.on('data', onData);
    this.proc.stderr.on('data', onData);
    this.proc.on('exit', (code, signal) => { this.exit = { code, signal }; });
    if (waitReady && this.opts.readyByTcp) {
      // Quiet logs (benchmarks): ready when the listener accepts.
      await waitFor(() => new Promise((resolve) => {
        if (this.exit) return resolve(false);
        const sock = net.createConnection({ port: this.port, host: '127.0.0.1' }, () => { sock.destroy(); resolve(true); });
        sock.on('error', () => resolve(false));
      }), { timeout: 20000, what: 'mosquitto to accept connections' });
    }
    if (this.opts.cpu !== undefined) {
      // Benchmarks give the broker's thread (the one that serves every
      // client) a core of its own: taskset -p on the PID moves the main
      // thread only. The plugin's worker threads, started at load, go to
      // workerCpu (with the load generator and PostgreSQL), as on a real
      // server they would run on other cores than the broker thread.
      execFileSync('taskset', ['-p', '-c', String(this.opts.cpu), String(this.proc.pid)], { stdio: 'ignore' });
      if (this.opts.workerCpu !== undefined) {
        for (const t of readdirSync(`/proc/${this.proc.pid}/task`)) {
          if (Number(t) !== this.proc.pid) execFileSync('taskset', ['-p', '-c', String(this.opts.workerCpu), t], { stdio: 'ignore' });
        }
      }
    }
    if (waitReady && this.opts.readyByTcp) return;
    if (waitReady) {
      const from = this.lines.length;
      await waitFor(() => {
        if (this.exit) throw new Error(`mosquitto exited (${JSON.stringify(this.exit)}):\n${this.lines.slice(-30).join('\n')}`);
        return this.lines.slice(from).some((l) => /mosquitto version .* running/.test(l));
      }, { timeout: 20000, what: 'mosquitto to start' });
      if (!this.opts.noPlugin && !this.opts.noWaitIdentities) {
        await this.waitLog(/Vitalgate: identities (loaded|synced)/, 20000, from);
      }
    }
  }

  /** Waits for a log line matching re that appears after `from` lines. */
  async waitLog(re, timeout = 10000, from = 0) {
    return waitFor(() => this.lines.slice(from).find((l) => re.test(l)), { timeout, what: `log line ${re}` });
  }

  mark() {
    return this.lines.length;
  }

  log() {
    return this.lines.join('\n');
  }

  sanitizerReport() {
    return this.lines.filter((l) => /ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer|SUMMARY: (Address|Undefined|Leak)/.test(l));
  }

  async stop() {
    if (!this.proc) return this.exit;
    const r = await stopChild(this.proc, { signal: 'SIGTERM', timeout: 20000 });
    this.proc = null;
    return r;
  }

  async kill9() {
    if (!this.proc) return;
    await stopChild(this.proc, { signal: 'SIGKILL' });
    this.proc = null;
  }

  async restart(opts = {}) {
    await this.stop();
    this.lines.push('---- restart ----');
    await this.boot(opts);
  }
}

// ---------------------------------------------------------------- receiver
export class Receiver {
  /**
   * A real HTTP server that verifies Standard Webhooks signatures. tls:
   * {cert, key} (PEM) serves HTTPS instead (url https://127.0.0.1:port/...,
   * or tls.host); handshakes a client aborted are in tlsErrors.
   */
  static async start({ secrets, port, tls } = {}) {
    const r = new Receiver();
    r.secrets = secrets;
    r.events = [];       // verified, first delivery of each webhook-id
    r.requests = [];     // every request: {id, status, verified, at}
    r.mode = 'ok';       // 'ok' | 'status:<n>' | 'hang'
    r.refuse = null;     // (rec) => an HTTP status to answer instead (scripted refusals), or nothing
    r.verifier = createVerifier({ secrets });
    r.tlsErrors = [];    // {at, code, message} of failed TLS handshakes
    r.server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, (req, res) => r.handle(req, res))
      : createServer((req, res) => r.handle(req, res));
    if (tls) r.server.on('tlsClientError', (e) => r.tlsErrors.push({ at: Date.now(), code: e.code, message: e.message }));
    r.sockets = new Set();
    r.server.on('connection', (s) => { r.sockets.add(s); s.on('close', () => r.sockets.delete(s)); });
    await new Promise((resolve) => r.server.listen(port ?? 0, '127.0.0.1', resolve));
    r.port = r.server.address().port;
    r.url = `${tls ? 'https' : 'http'}://${tls?.host ?? '127.0.0.1'}:${r.port}/vitalgate/webhooks`;
    return r;
  }

  handle(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const id = req.headers['webhook-id'];
      const rec = { id, at: Date.now(), headers: req.headers, raw: raw.toString('utf8') };
      this.requests.push(rec);
      if (this.mode === 'hang') return; // never answer: the sender times out
      const forced = this.refuse?.(rec);
      if (forced) {
        rec.status = forced;
        res.statusCode = forced;
        return res.end();
      }
      if (this.mode.startsWith('status:')) {
        rec.status = Number(this.mode.slice(7));
        res.statusCode = rec.status;
        if (this.retryAfter) res.setHeader('Retry-After', String(this.retryAfter));
        return res.end();
      }
      try {
        const ev = this.verifier.verify(raw, req.headers);
        this.verifier.markProcessed(ev.id);
        rec.verified = true;
        rec.status = 204;
        this.events.push({ ...ev, receivedAt: Date.now(), receivedHr: performance.now() });
        res.statusCode = 204;
        res.end();
      } catch (e) {
        rec.verified = false;
        rec.error = e.message;
        rec.status = e instanceof DuplicateWebhookError ? 200 : 400;
        res.statusCode = rec.status;
        res.end();
      }
    });
  }

  /** Stops listening (connections are refused) and drops open connections. */
  async pause() {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  /** Listens again on the same port. */
  async resume() {
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => { this.server.off('error', reject); resolve(); });
    });
  }

  async stop() {
    if (this.server.listening) await this.pause();
  }
}

// ------------------------------------------------------------------ helpers
export function whsecret() {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** Encodes a v1 sample (or an array of them) as MessagePack. */
export function sample(fields) {
  return Buffer.from(encode(fields));
}

/**
 * Connects an MQTT v5 client; resolves once CONNACK says yes, rejects with
 * the reason otherwise. localAddress binds the source address (any of
 * 127.0.0.0/8); tls: {ca, cert, key} connects with TLS.
 */
export function connect(port, { id, username = id, password, clientId = id, protocolVersion = 5, localAddress, tls, ...rest } = {}) {
  return new Promise((resolve, reject) => {
    const opts = {
      clientId, username, password, protocolVersion, reconnectPeriod: 0, connectTimeout: 5000, clean: true, ...rest,
    };
    let c;
    if (tls) {
      c = mqtt.connect(`mqtts://127.0.0.1:${port}`, { ...opts, ...tls, rejectUnauthorized: true });
    } else if (localAddress) {
      c = new mqtt.MqttClient(() => net.createConnection({ port, host: '127.0.0.1', localAddress }), opts);
    } else {
      c = mqtt.connect(`mqtt://127.0.0.1:${port}`, opts);
    }
    const fail = (e) => { c.end(true); reject(e); };
    c.once('connect', () => { c.removeListener('error', fail); resolve(c); });
    c.once('error', fail);
    c.once('close', () => fail(new Error('connection closed before CONNACK')));
  });
}

/** Publishes with QoS 1 and resolves to the PUBACK reason code (0 = accepted). */
export async function publishQos1(client, topic, payload, opts = {}) {
  try {
    await client.publishAsync(topic, payload, { qos: 1, ...opts });
    return 0;
  } catch (e) {
    if (typeof e.code === 'number') return e.code;
    throw e;
  }
}

/** Subscribes and resolves to the SUBACK reason code (granted QoS, or >= 0x80). */
export async function subscribeRc(client, filter, qos = 1) {
  try {
    const granted = await client.subscribeAsync(filter, { qos });
    return granted[0]?.qos ?? 0;
  } catch (e) {
    if (Array.isArray(e.packet?.granted)) return e.packet.granted[0];
    if (typeof e.code === 'number') return e.code;
    throw e;
  }
}

/** Resolves when the client's connection closes (e.g. it was kicked). */
export function closed(client) {
  return new Promise((resolve) => {
    if (!client.connected) return resolve();
    client.once('close', resolve);
  });
}

/** Collects messages on topic filters for a client. */
export function collect(client) {
  const msgs = [];
  client.on('message', (topic, payload, packet) => msgs.push({ topic, payload, packet, text: payload.toString('utf8') }));
  return msgs;
}

/**
 * Runs a tool that prints one JSON line last on stdout; resolves with it.
 * Asynchronous on purpose: the brokers' logs reach us through pipes, and a
 * blocked event loop would fill them and freeze the broker mid-run.
 * cpu: pin the tool to that core (benchmarks); null leaves it free.
 */
export function runJson(cmd, argv, { cpu = null } = {}) {
  return new Promise((resolve, reject) => {
    const c = track(cpu === null ? spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('taskset', ['-c', String(cpu), cmd, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => { out += d; });
    c.stderr.on('data', (d) => { err = (err + d).slice(-4000); });
    c.on('close', (code) => { // 'close': after stdout is read to its end ('exit' may come first)
      if (code !== 0) return reject(new Error(`${path.basename(cmd)} failed (${code}): ${err}`));
      resolve(JSON.parse(out.trim().split('\n').pop()));
    });
  });
}

/** CPU seconds of a process's main thread and of its other threads (minus `since`). */
export function cpuOf(pid, since) {
  // On-CPU time per thread in ns from schedstat (clock ticks from stat are
  // 10 ms: too coarse for short windows), stat as the fallback.
  let main = 0;
  let workers = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    let secs;
    try {
      secs = Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]) / 1e9;
    } catch {
      try {
        const st = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
        const f = st.slice(st.indexOf(')') + 2).split(' ');
        secs = (Number(f[11]) + Number(f[12])) / 100;
      } catch { continue; } // thread gone
    }
    if (Number(t) === pid) main += secs; else workers += secs;
  }
  return since ? { main: main - since.main, workers: workers - since.workers } : { main, workers };
}

/** CPU seconds used so far by a process and all its descendants (e.g.
 * PostgreSQL's postmaster and every backend), from /proc/<pid>/stat. */
export function treeCpu(pid) {
  const tck = 100; // USER_HZ
  let total = 0;
  const seen = new Set();
  const walk = (p) => {
    if (seen.has(p)) return;
    seen.add(p);
    try {
      const st = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = st.slice(st.indexOf(')') + 2).split(' ');
      total += (Number(f[11]) + Number(f[12])) / tck;
    } catch { return; } // gone
    for (const c of spawnSync('pgrep', ['-P', String(p)], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean)) walk(Number(c));
  };
  walk(pid);
  return total;
}

/**
 * Mounts a tmpfs of `size` bytes on dir (created if missing), owned by
 * `owner` ('mosquitto', 'postgres' or null for root), and returns a
 * function that unmounts it. Throws (the test fails loudly) when mounting
 * is impossible here: a disk-full test must never pass by not running.
 */
export function mountTmpfs(dir, size, owner = null) {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`cannot mount a tmpfs on ${dir} (this test needs root and CAP_SYS_ADMIN): ${r.stderr || r.error}`);
  }
  if (owner && IS_ROOT) {
    const { uid, gid } = userIds(owner);
    chownSync(dir, uid, gid);
  }
  return () => {
    const u = spawnSync('umount', [dir], { encoding: 'utf8' });
    if (u.status !== 0) spawnSync('umount', ['-l', dir]);
  };
}

/** Fills the filesystem holding dir with a file `name` until ENOSPC; returns its path. */
export function fillDisk(dir, name = 'filler') {
  const file = path.join(dir, name);
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  try {
    for (;;) {
      try {
        writeSync(fd, chunk);
      } catch (e) {
        if (e.code !== 'ENOSPC') throw e;
        // Top off the last partial page too.
        for (let n = 32 * 1024; n >= 512; n >>= 1) {
          try { writeSync(fd, chunk.subarray(0, n)); } catch { /* full */ }
        }
        break;
      }
    }
  } finally {
    closeSync(fd);
  }
  return file;
}

/** HTTP GET on 127.0.0.1:port; resolves {status, headers, body}. */
export function httpGet(port, urlPath) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** One value of a Prometheus exposition (name with its {label="..."}), or undefined. */
export function promValue(text, series) {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

/** Resident set size of a process, in bytes; field: VmRSS (all of it),
 * RssAnon (its own heap and stacks), RssFile (mapped files: libraries, a
 * mapped journal segment's page cache). */
export function rssOf(pid, field = 'VmRSS') {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Runs bench/vgload against a broker; resolves with its JSON summary. */
export function vgload(port, extra, { cpu = 1 } = {}) {
  return runJson(VGLOAD, ['--port', String(port), '--quiet', '--connect-timeout', '90', ...extra], { cpu });
}

// ------------------------------------------------------------------- Bench
export class Bench {
  /**
   * opts: webhook (bool), options (plugin options), extraConf, secrets
   * (number of whsec_ secrets, default 1), receiverTls ({cert, key}: the
   * receiver serves HTTPS), pgTls (PostgreSQL with ssl=on; the CLI and the
   * broker connect over 127.0.0.1 with sslmode=verify-full: dbConninfo),
   * pgSettings (extra PostgreSQL settings), brokerEnv (extra environment
   * of the broker), brokerPreload (libraries preloaded into the broker). The broker inherits HOME=/root when we run as root;
   * the plugin itself repairs that (libpq would otherwise fail every TLS
   * connection on /root/.postgresql), and db-tls proves it.
   */
  static async start(opts = {}) {
    const b = new Bench();
    b.root = makeTempRoot();
    b.cleanups = [];
    try {
      b.pg = await Postgres.start(b.root, { ssl: opts.pgTls, settings: opts.pgSettings });
      if (opts.pgTls) b.dbConninfo = b.pg.tcpConninfo();
      await b.adminOk(['migrate']);
      b.spool = b.newSpool('spool');
      let webhookUrl;
      let secretFile;
      if (opts.webhook) {
        b.secrets = Array.from({ length: opts.secrets ?? 1 }, whsecret);
        b.receiver = await Receiver.start({ secrets: opts.receiverSecrets ?? b.secrets, tls: opts.receiverTls });
        secretFile = path.join(b.root, 'webhook-secrets');
        b.secretFile = secretFile;
        writeFileSync(secretFile, `${b.secrets.join('\n')}\n`, { mode: 0o600 });
        if (IS_ROOT) {
          const { uid, gid } = userIds('mosquitto');
          chownSync(secretFile, uid, gid);
        }
        webhookUrl = opts.webhookUrl ?? b.receiver.url;
      }
      b.brokerOpts = {
        conninfo: b.dbConninfo ?? b.pg.conninfo, spoolDir: b.spool, webhookUrl, secretFile,
        options: opts.options, extraConf: opts.extraConf, noWaitIdentities: opts.noWaitIdentities,
        env: opts.brokerEnv, preload: opts.brokerPreload,
      };
      if (!opts.noBroker) b.broker = await Broker.start(b.root, b.brokerOpts);
    } catch (e) {
      await b.stop({ keep: true });
      throw e;
    }
    return b;
  }

  /** A spool directory the broker's user owns (one per broker: a journal
   * must never be shared by two brokers). */
  newSpool(name) {
    const dir = path.join(this.root, name);
    mkdirSync(dir, { mode: 0o700 });
    if (IS_ROOT) {
      const { uid, gid } = userIds('mosquitto');
      chownSync(dir, uid, gid);
    }
    return dir;
  }

  /** Runs vitalgate-admin against the bench database. */
  admin(args, { env = {} } = {}) {
    const r = spawnSync(ADMIN, ['--db', this.dbConninfo ?? this.pg.conninfo, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  async adminOk(args) {
    const r = this.admin(args);
    if (r.code !== 0) throw new Error(`vitalgate-admin ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return r.stdout.trim();
  }

  /** Provisions many devices in one `device import`; returns [{id, secret}]. */
  importDevices(lines) {
    const r = spawnSync(ADMIN, ['--db', this.dbConninfo ?? this.pg.conninfo, 'device', 'import', '-'],
      { input: `${lines.join('\n')}\n`, encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`device import failed: ${r.stderr}`);
    return r.stdout.trim().split('\n').map((l) => { const [id, secret] = l.split(' '); return { id, secret }; });
  }

  /** Provisions a device and returns its secret. */
  async addDevice(id, ward, bed) {
    const args = ['device', 'add', id];
    if (ward) args.push('--ward', ward, '--bed', bed);
    return this.adminOk(args);
  }

  /** Waits until the running broker has applied identity `id`. */
  async waitIdentity(port, id, secret) {
    return waitFor(async () => {
      try {
        const c = await connect(port, { id, password: secret });
        await c.endAsync();
        return true;
      } catch {
        return false;
      }
    }, { timeout: 5000, interval: 250, what: `identity ${id} to reach the broker` });
  }

  async stop({ keep = false } = {}) {
    const errors = [];
    for (const f of this.cleanups.reverse()) {
      try { await f(); } catch (e) { errors.push(e); }
    }
    let brokerExit;
    if (this.broker) brokerExit = await this.broker.stop();
    if (this.receiver) await this.receiver.stop();
    if (this.pg) await this.pg.stop();
    const report = this.broker ? this.broker.sanitizerReport() : [];
    if (!keep && !process.env.VG_KEEP_TMP && report.length === 0) {
      rmSync(this.root, { recursive: true, force: true });
    } else {
      process.stderr.write(`bench: kept ${this.root}\n`);
    }
    if (report.length) throw new Error(`sanitizer reported problems:\n${report.join('\n')}`);
    if (brokerExit && brokerExit.code !== 0 && brokerExit.code !== null) {
      throw new Error(`mosquitto exited with status ${brokerExit.code}`);
    }
    if (errors.length) throw errors[0];
  }
}
