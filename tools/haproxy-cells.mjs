#!/usr/bin/env node
// HAProxy (Debian's 2.6) in front of Vitalgate cells: renders the
// configuration for a list of cells, and drives the routing map of running
// HAProxy processes through their runtime API (the stats socket, level
// admin). The design, the sizing and the procedures are in
// docs/scale-out.md; compose/haproxy/haproxy.cfg is this file's rendering of
// compose/haproxy/cells.json (a test keeps it current).
//
//   node tools/haproxy-cells.mjs render SPEC.json > haproxy.cfg
//   node tools/haproxy-cells.mjs push MAPFILE SOCKET...     # atomic replace, every process
//   node tools/haproxy-cells.mjs set SOCKET MAPFILE ID CELL # one client id (add or change)
//   node tools/haproxy-cells.mjs del SOCKET MAPFILE ID
//   node tools/haproxy-cells.mjs show SOCKET [MAPFILE]      # the map, or the servers' states
//   node tools/haproxy-cells.mjs state cell_C/primary maint|ready|drain SOCKET...  # planned maintenance
//
// The map: one line per client id, "<client id> <cell>", the value naming
// the backends cell_<cell> (MQTT) and tls_<cell> (MQTT over TLS, SNI
// passthrough). `vitalgate-admin cells haproxy-map` writes it from
// PostgreSQL; `push` makes every HAProxy process use it without a restart.
import net from 'node:net';
import { readFileSync } from 'node:fs';

// Ids, cell names: the contract's grammar. Anything else could smuggle a
// second command (';', newline) into the runtime API, so it is refused.
const ID = /^[A-Za-z0-9_-]{1,64}$/;

// The failover time budget follows from these (docs/scale-out.md):
//   detection  <= inter + (fall - 1) * fastinter         (a dead instance refuses at once)
//   failover   <= detection + retry turn-around (1 s) + the device's reconnect backoff
//   failback   <= downinter + (rise - 1) * fastinter + rise * answer   (after the primary
//                 answers again; the next check starts `fastinter` after the previous one
//                 ended, and Vitalgate's /health answers at the broker's next TICK, <= 100 ms)
export const TIMINGS = {
  inter: 1000,          // ms between checks of a server that is up
  fastinter: 500,       // ms between checks while a server changes state
  downinter: 1000,      // ms between checks of a server that is down
  fall: 2,              // failed checks before "down"
  rise: 10,             // passed checks before "up" again (failback waits ~5 s: no ping-pong)
  checkTimeout: 1500,   // a /health answer takes <= 100 ms (one TICK); a wedged broker thread 2 s
  connect: 3000,        // TCP connect to an instance (a full listen backlog retransmits SYN at 1 s)
  retries: 3,           // connect retries, 1 s apart, each one re-choosing the server (redispatch 1)
  inspect: 5000,        // a client has this long to send its whole CONNECT / TLS ClientHello
  idle: 600000,         // timeout client/server/tunnel: > 1.5 x the longest MQTT keepalive (400 s)
  fin: 5000,            // half-closed connections
  hardStop: 30000,      // after a reload, the old worker's sessions are cut (they escape the checks)
};

/**
 * Worst-case times (ms) the timings give. backoffMs: the device's reconnect
 * delay; answerMs: how long a healthy /health takes to answer (one TICK).
 */
export function budget(t = TIMINGS, backoffMs = 0, answerMs = 100) {
  const detect = t.inter + (t.fall - 1) * t.fastinter;
  const retryTurn = Math.min(t.connect, 1000);
  const failback = t.downinter + (t.rise - 1) * t.fastinter + t.rise * answerMs;
  return {
    detect,
    failover: detect + retryTurn + backoffMs,
    failback,
    failbackDevices: failback + backoffMs,
    connectHold: t.retries * retryTurn,
  };
}

/** HAProxy time: 600000 -> "10m", 1000 -> "1s", 1500 -> "1500ms". */
function fmt(ms) {
  if (ms % 60000 === 0) return `${ms / 60000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

function check(name, v, re = ID) {
  if (typeof v !== 'string' || !re.test(v)) throw new Error(`${name}: "${v}" is not [A-Za-z0-9_-]{1,64}`);
  return v;
}

function port(name, v) {
  if (!Number.isInteger(v) || v < 1 || v > 65535) throw new Error(`${name}: ${v} is not a port`);
  return v;
}

/**
 * Renders haproxy.cfg. spec: {
 *   map: path of the client-id -> cell map (required),
 *   stats_socket: path of the runtime API socket (required),
 *   log: 'stdout' (foreground, tests) | a syslog target such as '/dev/log' (default),
 *   maxconn: per process (default 9900: 20,000 descriptors, 2 per connection),
 *   nbthread: (default 1),
 *   mqtt_bind: 'ADDR:PORT' (required), mqtts_bind: 'ADDR:PORT' (SNI passthrough, optional),
 *   sni_suffix: '.devices.example' (with mqtts_bind: a device sends SNI "<its id><suffix>"),
 *   stats_bind: 'ADDR:PORT' (optional: HAProxy's own Prometheus /metrics),
 *   cells: [{ name, primary: { host, mqtt, mqtts, health }, standby: {...} (optional) }],
 *   user, group, chroot: drop root after start (Debian: haproxy, haproxy, /var/lib/haproxy);
 *     not with transparent (HAProxy 2.6 cannot keep CAP_NET_ADMIN),
 *   transparent: true connects to the brokers from each device's own address (TPROXY),
 *   throttle: { failures: N } refuses the connections of a source address whose MQTT logins were
 *     refused (a CONNACK with a non-zero reason code) N times within the last minute, until
 *     that count drops below N. The brokers see HAProxy's address and leave it out of their own address
 *     throttle (plugin_opt_trusted_proxies), so this is where the real address is throttled.
 *     TLS logins cannot be counted (the CONNACK is encrypted), but a blocked address is refused
 *     on the TLS port too,
 *   timings: overrides of TIMINGS (tests keep the defaults),
 * }
 */
export function renderConfig(spec) {
  const t = { ...TIMINGS, ...(spec.timings ?? {}) };
  const maxconn = spec.maxconn ?? 9900;
  if (!spec.map || !spec.stats_socket || !spec.mqtt_bind) throw new Error('spec needs map, stats_socket and mqtt_bind');
  if (!Array.isArray(spec.cells) || spec.cells.length === 0) throw new Error('spec needs at least one cell');
  if (spec.mqtts_bind && !/^\.[A-Za-z0-9.-]+$/.test(spec.sni_suffix ?? '')) throw new Error('mqtts_bind needs sni_suffix like ".devices.example"');
  if (spec.transparent && spec.user) throw new Error('transparent needs HAProxy to stay root (2.6 cannot keep CAP_NET_ADMIN): no user');
  const thr = spec.throttle;
  if (thr && (!Number.isInteger(thr.failures) || thr.failures < 1)) throw new Error('throttle.failures: a positive integer');
  const b = budget(t);
  const L = [];
  const line = (s = '') => L.push(s);
  line('# Vitalgate cells behind HAProxy 2.6: rendered by tools/haproxy-cells.mjs (see docs/scale-out.md).');
  line('# Each MQTT connection is routed by the client id of its CONNECT through the map');
  line(`# ${spec.map} ("<client id> <cell>"), changed at run time through the`);
  line('# stats socket (tools/haproxy-cells.mjs push/set/del); TLS devices by the SNI of their');
  line('# ClientHello, TLS end to end. A cell is its primary, and its standby while the primary');
  line(`# fails its health check. Failover <= ${b.failover} ms + the device's reconnect backoff;`);
  line(`# failback ${b.failback} ms after the primary answers again.`);
  line('global');
  line(`    # Per process: 2 descriptors per proxied connection, and 20,000 descriptors per`);
  line(`    # process here; ${maxconn} leaves ${20000 - 2 * maxconn} for listeners, checks and the socket.`);
  line(`    maxconn ${maxconn}`);
  line(`    nbthread ${spec.nbthread ?? 1}`);
  line(`    stats socket ${spec.stats_socket} mode 600 level admin`);
  line('    stats timeout 30s');
  if (spec.user) line(`    user ${spec.user}`);
  if (spec.group) line(`    group ${spec.group}`);
  if (spec.chroot) line(`    chroot ${spec.chroot}`);
  line('    # A reload (systemctl reload: SIGUSR2 to the master) starts a new worker; the old one');
  line('    # keeps its MQTT sessions but runs no more health checks, so they would escape');
  line('    # failover and failback for as long as they last (days). They are cut after this and');
  line('    # reconnect through the new worker.');
  line(`    hard-stop-after ${fmt(t.hardStop)}`);
  if ((spec.log ?? '/dev/log') === 'stdout') line('    log stdout format raw local0 info');
  else line(`    log ${spec.log ?? '/dev/log'} local0 info`);
  line('');
  line('defaults');
  line('    mode tcp');
  line('    log global');
  line('    # One line per routing decision, when the instance accepted the TCP connection');
  line('    # (MQTT sessions last days: a line at their end would come too late to be useful).');
  line('    option logasap');
  line('    option dontlognull');
  line(`    timeout connect ${fmt(t.connect)}`);
  line(`    # Idle MQTT connections: above 1.5 x the longest keepalive a device may use`);
  line(`    # (${Math.floor(t.idle / 1500)} s); the broker, not HAProxy, enforces keepalives.`);
  line(`    timeout client ${fmt(t.idle)}`);
  line(`    timeout server ${fmt(t.idle)}`);
  line(`    timeout tunnel ${fmt(t.idle)}`);
  line(`    timeout client-fin ${fmt(t.fin)}`);
  line(`    timeout server-fin ${fmt(t.fin)}`);
  line(`    timeout check ${fmt(t.checkTimeout)}`);
  line(`    # A connect the instance refuses is retried ${t.retries} times, 1 s apart; each retry`);
  line('    # chooses again, so a device reconnecting while HAProxy has not yet seen its');
  line('    # primary die is held, then sent to the standby, instead of being refused.');
  line(`    retries ${t.retries}`);
  line('    option redispatch 1');
  line('    # Health: GET /health on the instance\'s plugin_opt_metrics_port. Alive = it answers');
  line('    # 200, or 503 "degraded" (PostgreSQL, the writer or the webhook: primary and standby');
  line('    # share them, so failing over cannot help), with a rendering the broker thread made');
  line('    # for this request (Age 0 or 1 s). Down = a refused connection, no answer within');
  line(`    # ${fmt(t.checkTimeout)} (a wedged broker thread answers after 2 s), a stale rendering, or an`);
  line('    # instance saying it does not serve ("serving":false: identities not loaded, draining).');
  line('    option httpchk');
  line('    http-check send meth GET uri /health ver HTTP/1.1 hdr Host vitalgate');
  line('    http-check expect rstatus ^(200|503)$');
  line('    http-check expect hdr name age value -m reg ^[01]$');
  line('    http-check expect ! string \'"serving":false\'');
  if (spec.transparent) {
    line('    # Transparent: the broker sees each device\'s own address (its login throttle and');
    line('    # audit trail need it; Mosquitto 2.0.11 does not read the PROXY protocol). Needs');
    line('    # CAP_NET_ADMIN, and the brokers\' replies to device addresses routed back through');
    line('    # this host (docs/scale-out.md).');
    line('    source 0.0.0.0 usesrc clientip');
  }
  line(`    default-server inter ${fmt(t.inter)} fastinter ${fmt(t.fastinter)} downinter ${fmt(t.downinter)} fall ${t.fall} rise ${t.rise}`);
  line('');
  const logFormat = '%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc cid=%[var(sess.cid)]';
  line('frontend mqtt');
  line(`    bind ${spec.mqtt_bind}`);
  line(`    maxconn ${maxconn}`);
  line(`    log-format "${logFormat}"`);
  if (thr) {
    line('    # Failed logins per source address (the brokers see only HAProxy\'s): counted by the');
    line('    # cell backends from each CONNACK (gpc0), a source over the limit is refused for');
    line('    # the rest of the minute, on both ports.');
    line('    stick-table type ipv6 size 1m expire 2m store gpc0,gpc0_rate(60s)');
    line('    tcp-request connection track-sc0 src');
    line(`    tcp-request connection reject if { sc0_gpc0_rate ge ${thr.failures} }`);
  }
  line(`    tcp-request inspect-delay ${fmt(t.inspect)}`);
  line('    # Waits for the whole first packet; anything but an MQTT 3.1/3.1.1/5.0 packet is');
  line('    # closed here without reaching a broker.');
  line('    tcp-request content reject unless { req.payload(0,0),mqtt_is_valid }');
  line('    tcp-request content set-var(sess.cid) req.payload(0,0),mqtt_field_value(connect,client_identifier)');
  line(`    tcp-request content set-var(sess.cell) var(sess.cid),map(${spec.map})`);
  line('    # A client id the map does not list belongs to no cell: refused (backend no_cell).');
  line('    use_backend cell_%[var(sess.cell)] if { var(sess.cell) -m found }');
  line('    default_backend no_cell');
  line('');
  if (spec.mqtts_bind) {
    const suffix = spec.sni_suffix;
    line('# MQTT over TLS, passed through: HAProxy reads the SNI of the ClientHello and never');
    line('# terminates TLS, so the instance checks the device certificate (require_certificate).');
    line(`# A device connects to "<its client id>${suffix}"; the first label is looked up in`);
    line('# the same map as the client ids.');
    line('frontend mqtts');
    line(`    bind ${spec.mqtts_bind}`);
    line(`    maxconn ${maxconn}`);
    line(`    log-format "${logFormat} sni=%[var(sess.sni)]"`);
    if (thr) {
      line('    tcp-request connection track-sc0 src table mqtt');
      line(`    tcp-request connection reject if { sc0_gpc0_rate ge ${thr.failures} }`);
    }
    line(`    tcp-request inspect-delay ${fmt(t.inspect)}`);
    line('    tcp-request content reject unless { req.ssl_hello_type 1 }');
    line('    tcp-request content set-var(sess.sni) req.ssl_sni');
    line(`    tcp-request content set-var(sess.cid) var(sess.sni),field(1,.) if { var(sess.sni) -m end ${suffix} }`);
    line(`    tcp-request content set-var(sess.cell) var(sess.cid),map(${spec.map})`);
    line('    use_backend tls_%[var(sess.cell)] if { var(sess.cell) -m found }');
    line('    default_backend no_cell');
    line('');
  }
  if (spec.stats_bind) {
    line('# HAProxy\'s own figures (servers up/down, sessions): Prometheus text on /metrics.');
    line('frontend stats');
    line('    mode http');
    line(`    bind ${spec.stats_bind}`);
    line('    timeout client 10s');
    line('    http-request use-service prometheus-exporter if { path /metrics }');
    line('    http-request return status 404');
    line('');
  }
  line('backend no_cell');
  line('    tcp-request content reject');
  line('');
  line('# One backend per cell: its primary, and its standby as a backup used only while the');
  line('# primary is down. Primary down: its devices are cut (shutdown-sessions) and reconnect');
  line('# to the standby. Primary up again: the standby\'s sessions are cut');
  line('# (shutdown-backup-sessions), so that the whole cell is on one instance again (a');
  line('# station must see every device of its ward).');
  line('');
  const names = new Set();
  for (const cell of spec.cells) {
    check('cell name', cell.name);
    if (names.has(cell.name)) throw new Error(`cell ${cell.name} twice`);
    names.add(cell.name);
    const inst = [['primary', cell.primary], ['standby', cell.standby]].filter(([, s]) => s);
    if (!cell.primary) throw new Error(`cell ${cell.name}: no primary`);
    for (const [role, s] of inst) {
      if (!s.host) throw new Error(`cell ${cell.name} ${role}: no host`);
      port(`cell ${cell.name} ${role} mqtt`, s.mqtt);
      port(`cell ${cell.name} ${role} health`, s.health);
      if (spec.mqtts_bind) port(`cell ${cell.name} ${role} mqtts`, s.mqtts);
    }
    const srv = (role, s, p, extra) => `    server ${role} ${s.host}:${p}${extra}`;
    line(`backend cell_${cell.name}`);
    if (thr) {
      line('    # A refused login (CONNACK reason code not 0) counts against its source address.');
      line('    tcp-response inspect-delay 5s');
      line('    tcp-response content sc-inc-gpc0(0) if { res.payload(0,0),mqtt_is_valid } !{ res.payload(0,0),mqtt_field_value(connack,reason_code) -m str 0 }');
      line('    tcp-response content accept if { res.payload(0,0),mqtt_is_valid }');
    }
    line(srv('primary', cell.primary, cell.primary.mqtt, ` check port ${cell.primary.health} on-marked-down shutdown-sessions on-marked-up shutdown-backup-sessions`));
    if (cell.standby) line(srv('standby', cell.standby, cell.standby.mqtt, ` check port ${cell.standby.health} backup on-marked-down shutdown-sessions`));
    line('');
    if (spec.mqtts_bind) {
      line(`backend tls_${cell.name}`);
      line(`    # Follows cell_${cell.name}'s checks, so a cell's TLS and plain devices move together.`);
      line(srv('primary', cell.primary, cell.primary.mqtts, ` track cell_${cell.name}/primary on-marked-down shutdown-sessions on-marked-up shutdown-backup-sessions`));
      if (cell.standby) line(srv('standby', cell.standby, cell.standby.mqtts, ` track cell_${cell.name}/standby backup on-marked-down shutdown-sessions`));
      line('');
    }
  }
  return `${L.join('\n')}\n`;
}

/** Parses a map file ("<id> <cell>" lines, # comments) into [[id, cell]]. */
export function parseMap(text) {
  const out = [];
  text.split('\n').forEach((raw, i) => {
    const l = raw.trim();
    if (!l || l.startsWith('#')) return;
    const [k, v, more] = l.split(/\s+/);
    if (more !== undefined || v === undefined) throw new Error(`map line ${i + 1}: want "<client id> <cell>"`);
    out.push([check(`map line ${i + 1} client id`, k), check(`map line ${i + 1} cell`, v)]);
  });
  return out;
}

/** Renders [[id, cell]] as a map file. */
export function formatMap(entries) {
  return entries.map(([k, v]) => `${check('client id', k)} ${check('cell', v)}\n`).join('');
}

// Payload commands must fit in tune.bufsize (16 KiB) with their first line.
const PAYLOAD_MAX = 12000;

/** The runtime API of one HAProxy process (its stats socket, level admin). */
export class HaproxyRuntime {
  constructor(socketPath, { timeout = 5000 } = {}) {
    this.socket = socketPath;
    this.timeout = timeout;
  }

  /** One command (non-interactive mode: HAProxy answers and closes). */
  command(cmd) {
    return new Promise((resolve, reject) => {
      const s = net.createConnection(this.socket);
      let out = '';
      const t = setTimeout(() => { s.destroy(); reject(new Error(`haproxy runtime API: no answer to "${cmd.split('\n')[0]}" in ${this.timeout} ms`)); }, this.timeout);
      s.setEncoding('utf8');
      s.on('connect', () => s.write(cmd.endsWith('\n') ? cmd : `${cmd}\n`));
      s.on('data', (d) => { out += d; });
      s.on('error', (e) => { clearTimeout(t); reject(e); });
      s.on('close', () => { clearTimeout(t); resolve(out); });
    });
  }

  /** Entries of a map (current version) as a Map(id -> cell). */
  async showMap(file) {
    const out = await this.command(`show map ${file}`);
    if (/^Unknown map identifier/m.test(out)) throw new Error(out.trim());
    const m = new Map();
    for (const l of out.split('\n')) {
      const f = l.trim().split(/\s+/);
      if (f.length === 3 && f[0].startsWith('0x')) m.set(f[1], f[2]);
    }
    return m;
  }

  /** Sets one client id's cell: changes the entry, or adds it. */
  async setEntry(file, id, cell) {
    check('client id', id);
    check('cell', cell);
    const r = await this.command(`set map ${file} ${id} ${cell}`);
    if (/entry not found/i.test(r)) {
      const a = await this.command(`add map ${file} ${id} ${cell}`);
      if (a.trim()) throw new Error(`add map: ${a.trim()}`);
    } else if (r.trim()) {
      throw new Error(`set map: ${r.trim()}`);
    }
  }

  async delEntry(file, id) {
    check('client id', id);
    const r = await this.command(`del map ${file} ${id}`);
    if (r.trim() && !/entry not found/i.test(r)) throw new Error(`del map: ${r.trim()}`);
  }

  /**
   * Replaces the whole map atomically (prepare, add to the new version,
   * commit): connections routed meanwhile see the old map or the new one,
   * never a mix nor an empty one.
   */
  async replaceMap(file, entries) {
    const p = await this.command(`prepare map ${file}`);
    const m = /New version created:\s*(\d+)/.exec(p);
    if (!m) throw new Error(`prepare map: ${p.trim()}`);
    const ver = m[1];
    let chunk = '';
    const flush = async () => {
      if (!chunk) return;
      const r = await this.command(`add map @${ver} ${file} <<\n${chunk}\n`);
      if (r.trim()) throw new Error(`add map: ${r.trim()}`);
      chunk = '';
    };
    for (const [k, v] of entries) {
      chunk += `${check('client id', k)} ${check('cell', v)}\n`;
      if (chunk.length > PAYLOAD_MAX) await flush();
    }
    await flush();
    const c = await this.command(`commit map @${ver} ${file}`);
    if (c.trim()) throw new Error(`commit map: ${c.trim()}`);
    return Number(ver);
  }

  /** Administrative state of backend/server: 'ready', 'drain' or 'maint'. */
  async setState(backend, server, state) {
    check('backend', backend);
    check('server', server);
    if (!['ready', 'drain', 'maint'].includes(state)) throw new Error(`state: "${state}" is not ready, drain or maint`);
    const r = await this.command(`set server ${backend}/${server} state ${state}`);
    if (r.trim()) throw new Error(`set server: ${r.trim()}`);
  }

  /** `show stat` as objects (pxname, svname, status, scur, ...). */
  async stat() {
    const out = await this.command('show stat');
    const lines = out.split('\n').filter(Boolean);
    const head = lines.shift().replace(/^# /, '').split(',');
    return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [head[i], v])));
  }

  /** Status of backend/server: 'UP', 'DOWN', 'UP 1/10', ... */
  async serverStatus(backend, server) {
    const row = (await this.stat()).find((r) => r.pxname === backend && r.svname === server);
    if (!row) throw new Error(`no server ${backend}/${server}`);
    return row.status;
  }
}

async function main(argv) {
  const [cmd, ...a] = argv;
  const usage = () => {
    process.stderr.write('usage: haproxy-cells.mjs render SPEC.json | push MAPFILE SOCKET... | set SOCKET MAPFILE ID CELL | del SOCKET MAPFILE ID\n'
      + '       | show SOCKET [MAPFILE] | state BACKEND/SERVER ready|drain|maint SOCKET...\n');
    return 2;
  };
  if (cmd === 'render' && a.length === 1) {
    process.stdout.write(renderConfig(JSON.parse(readFileSync(a[0], 'utf8'))));
    return 0;
  }
  if (cmd === 'push' && a.length >= 2) {
    const [mapFile, ...sockets] = a;
    const entries = parseMap(readFileSync(mapFile, 'utf8'));
    for (const s of sockets) {
      await new HaproxyRuntime(s).replaceMap(mapFile, entries);
      process.stderr.write(`haproxy-cells: ${s}: ${entries.length} entries of ${mapFile} active\n`);
    }
    return 0;
  }
  if (cmd === 'set' && a.length === 4) {
    await new HaproxyRuntime(a[0]).setEntry(a[1], a[2], a[3]);
    return 0;
  }
  if (cmd === 'del' && a.length === 3) {
    await new HaproxyRuntime(a[0]).delEntry(a[1], a[2]);
    return 0;
  }
  if (cmd === 'state' && a.length >= 3) {
    const [target, state, ...sockets] = a;
    const [backend, server, more] = target.split('/');
    if (!server || more !== undefined) return usage();
    for (const s of sockets) await new HaproxyRuntime(s).setState(backend, server, state);
    return 0;
  }
  if (cmd === 'show' && (a.length === 1 || a.length === 2)) {
    const rt = new HaproxyRuntime(a[0]);
    if (a[1]) {
      for (const [k, v] of await rt.showMap(a[1])) process.stdout.write(`${k} ${v}\n`);
    } else {
      for (const r of await rt.stat()) if (r.svname !== 'FRONTEND') process.stdout.write(`${r.pxname}/${r.svname} ${r.status} ${r.scur} sessions\n`);
    }
    return 0;
  }
  return usage();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
    process.stderr.write(`haproxy-cells: ${e.message}\n`);
    process.exit(1);
  });
}
