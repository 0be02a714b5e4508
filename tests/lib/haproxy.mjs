// HAProxy in front of Vitalgate cells, for tests and benchmarks: writes the
// configuration (tools/haproxy-cells.mjs, the same rendering as the shipped
// compose/haproxy/haproxy.cfg) and the client-id map into a temp dir, runs
// /usr/sbin/haproxy in the foreground (-db: no daemon, no master, so the PID
// we hold is the process that proxies) and stops it by that PID.
//
//   const hx = await Haproxy.start(root, { cells, map: [['dev-1', 'a']], mqtts: true });
//   ... connect to hx.port (MQTT) or hx.tlsPort (MQTT over TLS, SNI) ...
//   await hx.runtime.setEntry(hx.mapFile, 'dev-1', 'b');
//   await hx.stop();
//
// cells: [{ name, primary: Broker-like, standby: Broker-like }] where a
// Broker-like is { port, tlsPort, healthPort } (the instance's MQTT
// listener, its TLS listener, its plugin_opt_metrics_port).
import { spawn } from 'node:child_process';
import { writeFileSync, appendFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import { renderConfig, formatMap, HaproxyRuntime, TIMINGS, budget } from '../../tools/haproxy-cells.mjs';
import { freePort, waitFor, track, stopChild } from './bench.mjs';

export const HAPROXY = process.env.VG_HAPROXY ?? '/usr/sbin/haproxy';
export { TIMINGS, budget };

export const SNI_SUFFIX = '.devices.vitalgate.test';

export class Haproxy {
  /**
   * opts: cells (above), map ([[client id, cell]]), mqtts (bool: the SNI
   * frontend too), stats (bool: the Prometheus frontend), maxconn,
   * nbthread, cpu (pin the process to that core), timings (overrides; the
   * tests keep the shipped ones).
   */
  static async start(root, opts) {
    const h = new Haproxy();
    h.root = root;
    h.opts = opts;
    h.port = await freePort();
    h.tlsPort = opts.mqtts ? await freePort() : null;
    h.statsPort = opts.stats ? await freePort() : null;
    h.mapFile = path.join(root, `haproxy-${h.port}.map`);
    h.confFile = path.join(root, `haproxy-${h.port}.cfg`);
    h.logFile = path.join(root, `haproxy-${h.port}.log`);
    h.socket = path.join(root, `haproxy-${h.port}.sock`);
    h.lines = [];
    writeFileSync(h.mapFile, formatMap(opts.map ?? []));
    const inst = (b) => b && { host: '127.0.0.1', mqtt: b.port, mqtts: b.tlsPort ?? undefined, health: b.healthPort };
    h.spec = {
      map: h.mapFile,
      stats_socket: h.socket,
      log: 'stdout',
      maxconn: opts.maxconn,
      nbthread: opts.nbthread,
      mqtt_bind: `127.0.0.1:${h.port}`,
      mqtts_bind: h.tlsPort ? `127.0.0.1:${h.tlsPort}` : undefined,
      sni_suffix: h.tlsPort ? SNI_SUFFIX : undefined,
      stats_bind: h.statsPort ? `127.0.0.1:${h.statsPort}` : undefined,
      cells: opts.cells.map((c) => ({ name: c.name, primary: inst(c.primary), standby: inst(c.standby) })),
      timings: opts.timings,
      transparent: opts.transparent,
      throttle: opts.throttle,
    };
    h.writeConfig();
    h.runtime = new HaproxyRuntime(h.socket);
    await h.boot();
    return h;
  }

  writeConfig() {
    this.config = renderConfig(this.spec);
    writeFileSync(this.confFile, this.config);
  }

  async boot() {
    // masterWorker: as Debian's unit runs it (-W: a master and a worker), so
    // that reload() can do what `systemctl reload haproxy` does.
    const argv = [...(this.opts.masterWorker ? ['-W'] : []), '-db', '-f', this.confFile];
    this.exit = null;
    this.proc = track(this.opts.cpu === undefined ? spawn(HAPROXY, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('taskset', ['-c', String(this.opts.cpu), HAPROXY, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] }));
    const onData = (d) => {
      const text = d.toString();
      appendFileSync(this.logFile, text);
      for (const l of text.split('\n')) if (l) this.lines.push(l);
    };
    this.proc.stdout.on('data', onData);
    this.proc.stderr.on('data', onData);
    this.proc.on('exit', (code, signal) => { this.exit = { code, signal }; });
    // Ready: the runtime API answers and the frontend accepts.
    await waitFor(async () => {
      if (this.exit) throw new Error(`haproxy exited (${JSON.stringify(this.exit)}):\n${this.lines.slice(-20).join('\n')}`);
      const info = await this.runtime.command('show info').catch(() => '');
      if (!/^Pid: /m.test(info)) return false;
      return new Promise((resolve) => {
        const s = net.createConnection({ port: this.port, host: '127.0.0.1' }, () => { s.destroy(); resolve(true); });
        s.on('error', () => resolve(false));
      });
    }, { timeout: 10000, what: 'haproxy to listen' });
  }

  get pid() {
    return this.proc?.pid;
  }

  /** The PID of the process that proxies (the worker, with masterWorker). */
  async workerPid() {
    return Number(/^Pid: (\d+)/m.exec(await this.runtime.command('show info'))[1]);
  }

  /**
   * Like `systemctl reload haproxy` (masterWorker only): rewrites the
   * configuration from this.spec (change it first), SIGUSR2 to the master,
   * waits for the new worker; resolves with its PID.
   */
  async reload() {
    if (!this.opts.masterWorker) throw new Error('reload needs masterWorker');
    const old = await this.workerPid();
    this.writeConfig();
    process.kill(this.proc.pid, 'SIGUSR2');
    return waitFor(async () => {
      const pid = await this.workerPid().catch(() => old);
      return pid !== old && pid;
    }, { timeout: 10000, what: 'the new haproxy worker' });
  }

  mark() {
    return this.lines.length;
  }

  /** Waits for a log line matching re after `from` lines. */
  waitLog(re, timeout = 10000, from = 0) {
    return waitFor(() => this.lines.slice(from).find((l) => re.test(l)), { timeout, what: `haproxy log ${re}` });
  }

  /** Waits until backend/server has the status (regex on 'UP', 'DOWN', 'UP 1/10', ...). */
  waitStatus(backend, server, re, timeout = 15000) {
    return waitFor(async () => re.test(await this.runtime.serverStatus(backend, server)),
      { timeout, interval: 50, what: `${backend}/${server} to be ${re}` });
  }

  /** Rewrites the map file (for a restart) and pushes it to the running process atomically. */
  async replaceMap(entries) {
    writeFileSync(this.mapFile, formatMap(entries));
    return this.runtime.replaceMap(this.mapFile, entries);
  }

  async stop() {
    if (!this.proc) return this.exit;
    // SIGUSR1 is HAProxy's soft stop (waits for sessions); SIGTERM stops at once.
    const r = await stopChild(this.proc, { signal: 'SIGTERM', timeout: 5000 });
    this.proc = null;
    return r;
  }
}
