#!/usr/bin/env node
// The whole benchmark suite in one bounded run (issue 8; targets of issue
// 16): every scenario against bare Mosquitto and Mosquitto + Vitalgate in
// the same run, then a table of the targets. About 20 minutes on the
// 2-core reference machine.
//
//   bench/run [--out DIR] [--only a,b] [--smoke]
//
// --smoke runs every scenario for a few seconds with a handful of devices
// (both brokers): it proves the harness works (ctest runs it), not the figures.
// Each scenario's JSON goes to DIR (default bench/results/<UTC date-time>).
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const outArg = args.indexOf('--out');
const onlyArg = args.indexOf('--only');
const only = onlyArg >= 0 ? args[onlyArg + 1].split(',') : null;
const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const out = outArg >= 0 ? path.resolve(args[outArg + 1]) : path.join(here, 'results', smoke ? `smoke-${stamp}` : stamp);
const BUILD = process.env.VG_VGLOAD ? path.dirname(process.env.VG_VGLOAD) : path.join(here, '../build/bench');

// name, command, full arguments, smoke arguments
const SCENARIOS = [
  ['validate', path.join(BUILD, 'bench_validate'), ['200000'], ['2000']],
  ['storm', 'storm.mjs', ['--devices', '10000', '--rounds', '3', '--inflight', '64'], ['--devices', '60', '--rounds', '1', '--inflight', '8']],
  ['steady', 'steady.mjs', ['--devices', '10000', '--wards', '25', '--seconds', '30', '--rounds', '3'],
    ['--devices', '60', '--wards', '3', '--seconds', '4', '--rounds', '1']],
  ['capacity', 'capacity.mjs', ['--devices', '19000', '--seconds', '15', '--rounds', '1'], ['--devices', '100', '--seconds', '3', '--rounds', '1']],
  ['flood', 'ingest.mjs', ['--devices', '2000', '--rate', '50', '--batch', '1', '--seconds', '15', '--pin', '--ceiling-seconds', '2'],
    ['--devices', '20', '--rate', '20', '--batch', '1', '--seconds', '3', '--pin', '--ceiling-seconds', '2']],
  ['ingest', 'ingest.mjs', ['--devices', '2000', '--rate', '1', '--batch', '64', '--seconds', '20'],
    ['--devices', '20', '--rate', '2', '--batch', '8', '--seconds', '3', '--ceiling-seconds', '2']],
  ['alerts', 'alerts.mjs', ['--devices', '10000', '--alerting', '500', '--seconds', '20', '--rounds', '2'],
    ['--devices', '40', '--alerting', '10', '--alert-every', '2', '--seconds', '5', '--rounds', '1']],
  ['fanout', 'fanout.mjs', ['--beds', '40', '--stations', '5', '--seconds', '20', '--rounds', '3'],
    ['--beds', '5', '--stations', '2', '--seconds', '3', '--rounds', '1']],
  ['haproxy', 'haproxy.mjs', ['--sizes', '2000,5000', '--seconds', '15', '--rounds', '3'],
    ['--sizes', '20', '--seconds', '5', '--rounds', '1']],
  ['cells', 'cells.mjs', ['--devices', '50000', '--cells', '3', '--rate', '0.2', '--seconds', '60'],
    ['--devices', '90', '--cells', '3', '--rate', '1', '--seconds', '17']],
  ['failover', 'failover.mjs', ['--devices', '5000', '--rate', '1', '--rounds', '2'],
    ['--devices', '30', '--rate', '2', '--before', '3', '--after', '6', '--rounds', '1']],
];

const log = (m) => process.stderr.write(`bench/run: ${m}\n`);

function run(name, cmd, argv) {
  return new Promise((resolve, reject) => {
    const isNode = cmd.endsWith('.mjs');
    const json = path.join(out, `${name}.json`);
    const full = isNode ? [process.execPath, path.join(here, cmd), ...argv, '--json', json] : [cmd, ...argv];
    const c = spawn(full[0], full.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    c.stdout.on('data', (d) => { text += d; process.stdout.write(d); });
    c.on('close', (code) => { // after stdout is read to its end
      if (code !== 0) return reject(new Error(`${name} failed (exit ${code})`));
      resolve(isNode ? JSON.parse(readFileSync(json, 'utf8')) : JSON.parse(text.trim().split('\n').pop()));
    });
  });
}

mkdirSync(out, { recursive: true });
const t0 = Date.now();
const res = {};
for (const [name, cmd, full, small] of SCENARIOS) {
  if (only && !only.includes(name)) continue;
  const t = Date.now();
  log(`${name} ${smoke ? '(smoke)' : ''}`);
  res[name] = await run(name, cmd, smoke ? small : full);
  log(`${name} took ${((Date.now() - t) / 1000).toFixed(0)} s`);
}
const minutes = (Date.now() - t0) / 60000;

// Targets (issue 16; issue 8's where it set none). Each row: label, value, goal text, pass.
const rows = [];
const add = (label, v, goal, ok, fmt = (x) => x.toFixed(2)) => rows.push([label, Number.isFinite(v) ? fmt(v) : String(v), goal, ok]);
if (res.steady) {
  const m = res.steady.median;
  const frameMs = res.steady.frame_ms;
  add('broker-thread CPU, Vitalgate / bare', m.cpu_us_per_msg.ratio, '<= 1.10', m.cpu_us_per_msg.ratio <= 1.10);
  add('plugin cost on the broker thread per sample (whole-thread CPU difference)', m.plugin_us_per_msg, '<= 5 µs (own code, under perf)', m.plugin_us_per_msg <= 5, (x) => `${x.toFixed(2)} µs`);
  add('sample to ward frame at the station, p99', m.station_p99_us.vitalgate / 1000, `<= ${frameMs + 50} ms`, m.station_p99_us.vitalgate / 1000 <= frameMs + 50, (x) => `${x.toFixed(0)} ms`);
  add('PUBACK p99, Vitalgate / bare', m.puback_p99_us.ratio, '<= 1.2 (goal; report the spread)', m.puback_p99_us.ratio <= 1.2,
    (x) => `${x.toFixed(2)} (rounds ${m.puback_p99_us.ratios.map((r) => r.toFixed(2)).join(', ')})`);
  add('PostgreSQL CPU at 10,000 samples/s', m.pg_core_pct, '<= 10 % of a core', m.pg_core_pct <= 10, (x) => `${x.toFixed(1)} %`);
  add('sample to committed, p99', m.commit_p99_ms, '<= 250 ms', m.commit_p99_ms <= 250, (x) => `${x.toFixed(0)} ms`);
}
if (res.capacity) {
  const m = res.capacity.median;
  // VmRSS counts the mapped journal segment's page cache; RssAnon is the memory the broker holds.
  add('plugin RSS per connection (VmRSS; RssAnon)', m.plugin_bytes_per_connection, '<= 300 B', m.plugin_bytes_per_connection <= 300,
    (x) => `${x.toFixed(0)} B; ${m.anon.plugin_bytes_per_connection.toFixed(0)} B`);
  add('plugin RSS per occupied bed (VmRSS; RssAnon)', m.plugin_bytes_per_bed, '<= 1 KiB', m.plugin_bytes_per_bed <= 1024,
    (x) => `${x.toFixed(0)} B; ${m.anon.plugin_bytes_per_bed.toFixed(0)} B`);
}
if (res.flood) {
  const g = res.flood;
  add('single-sample flood: PUBACK rate, Vitalgate / bare', g.puback_rate_ratio, '>= 0.8', g.puback_rate_ratio >= 0.8,
    (x) => `${x.toFixed(2)} (${g.vitalgate_pubacked_samples_per_s.toFixed(0)} / ${g.bare_pubacked_samples_per_s.toFixed(0)}/s; ${g.vitalgate_committed_sustained_per_s.toFixed(0)}/s committed, ${g.lost} lost)`);
}
if (res.ingest) {
  const g = res.ingest;
  add('ingest committed, sustained', g.vitalgate_committed_sustained_per_s, '>= 50,000 samples/s, 0 lost',
    g.vitalgate_committed_sustained_per_s >= 50000 && g.lost === 0, (x) => `${x.toFixed(0)}/s, ${g.lost} lost`);
  add('ingest / raw COPY ceiling', g.ratio_to_ceiling, '>= 0.80', g.ratio_to_ceiling >= 0.8);
}
if (res.storm) {
  for (const [mode, s] of Object.entries(res.storm.summary)) {
    add(`reconnect storm (${mode}), Vitalgate / bare`, s.ratio, '<= 1.2', s.ratio <= 1.2);
  }
}
if (res.alerts) {
  const m = res.alerts.median;
  add('sample-to-webhook p99', m.webhook_p99_ms, '< 50 ms', m.webhook_p99_ms < 50, (x) => `${x.toFixed(1)} ms`);
}
if (res.validate) {
  add('validation per sample', res.validate.typical_ns, '< 2 µs', res.validate.typical_ns < 2000, (x) => `${x.toFixed(0)} ns`);
}
if (res.fanout) {
  const f = res.fanout;
  add(`ward fan-out: sample to frame p99 (${f.beds} beds, ${f.stations} stations)`, f.median.vitalgate_p99_ms, `<= ${f.frame_ms + 50} ms`,
    f.median.vitalgate_p99_ms <= f.frame_ms + 50, (x) => `${x.toFixed(0)} ms`);
}
if (res.haproxy) {
  // Issue 14 asks for the figures, without a goal.
  const h = res.haproxy.results.at(-1);
  add(`HAProxy PUBACK p99, through / direct (${h.devices} devices)`, h.median.puback_p99_us.ratio, 'measured', null);
  add('HAProxy CPU per 1,000 devices at 1 Hz QoS 1', h.median.haproxy_cpu_pct_per_1000, 'measured', null, (x) => `${x.toFixed(2)} % of a core`);
  add('HAProxy RSS per proxied connection', h.median.haproxy_rss_per_conn, 'measured', null, (x) => `${(x / 1024).toFixed(1)} KiB`);
}

if (res.cells) {
  const c = res.cells;
  const worst = (k) => Math.max(...c.per_cell.map((x) => x[k]));
  add(`${c.devices} devices across ${c.cells} cells: RSS per device (worst cell)`, worst('rss_per_device'), 'measured', null,
    (x) => `${(x / 1024).toFixed(2)} KiB`);
  add('  broker-thread CPU (worst cell)', worst('broker_thread_cpu_pct'), 'measured', null, (x) => `${x.toFixed(1)} % of a core`);
  add('  PUBACK p99 (worst cell)', worst('puback_p99_us'), 'measured', null, (x) => `${(x / 1000).toFixed(2)} ms`);
  add('  committed, zero loss', c.committed_per_s, `${c.expected_per_s.toFixed(0)}/s offered, 0 lost`, c.lost === 0 && c.dups === 0,
    (x) => `${x.toFixed(0)}/s, ${c.lost} lost`);
}
if (res.failover) {
  const f = res.failover;
  add(`failover: 99 % of ${f.devices} devices publishing again`, f.median.p99_s, `<= ${f.budget_s.toFixed(1)} s budget`,
    f.median.p99_s <= f.budget_s + 1, (x) => `${x.toFixed(2)} s`);
  add('  acknowledged samples lost', f.lost, '0', f.lost === 0 && f.dups === 0, (x) => String(x));
}

console.log(`\n## Targets${smoke ? ' (smoke run: tiny load, figures not meaningful)' : ''}\n`);
console.log('| target | measured | goal | met |');
console.log('| --- | --- | --- | --- |');
for (const [label, v, goal, ok] of rows) console.log(`| ${label} | ${v} | ${goal} | ${smoke || ok === null ? '-' : (ok ? 'yes' : '**no**')} |`);
console.log(`\nResults in ${out}; ${minutes.toFixed(1)} minutes.`);
if (smoke) {
  // The harness must produce every figure, finite.
  const bad = rows.filter(([, v]) => /NaN|undefined|null|Infinity/.test(v));
  const expected = SCENARIOS.filter(([n]) => !only || only.includes(n)).length;
  if (Object.keys(res).length !== expected || bad.length) {
    log(`smoke: missing figures: ${JSON.stringify(bad)}`);
    process.exit(1);
  }
  if (!existsSync(out)) process.exit(1);
}
