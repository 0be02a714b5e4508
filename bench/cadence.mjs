#!/usr/bin/env node
// The PostgreSQL writer's cadence (issue 16): what PostgreSQL spends per
// sample, and how long a sample takes from the broker to a COMMIT, for
// several plugin builds or settings in the same run (alternating rounds,
// one throwaway PostgreSQL, the same devices).
//
// Loads (--loads, any of):
//   N      N devices at 1 Hz, one sample per message, QoS 1, for --seconds
//          (N samples/s); figures over the steady part (from 5 s after the
//          last CONNACK to 2 s before the end);
//   flood  --flood-devices devices x 1 msg/s x 64 samples (128,000 samples/s
//          offered with 2,000) for --flood-seconds, then until the writer
//          has committed every acknowledged sample; figures over all of it.
// Variants (--variants, comma-separated name=plugin.so[:option=value...];
// default: the build under test with its defaults):
//   node bench/cadence.mjs --variants base=/tmp/base/vitalgate.so,new=build/vitalgate.so,new50=build/vitalgate.so:writer_commit_ms=50
//
// Per run it reports:
//   - PostgreSQL CPU per 1,000 samples committed: the writer's backend
//     (application_name vitalgate-writer) and all of PostgreSQL (every
//     process of the cluster, exited ones included), from /proc;
//   - commits (the writer's vitalgate_writer_batches_total) per second and
//     samples per commit;
//   - sample-to-committed p50/p99/max: each row's COMMIT time
//     (track_commit_timestamp) minus its received_at (the broker's clock
//     when the ACL check accepted it): same machine, same clock;
//   - flood: samples/s committed (steepest 10 s) and acknowledged / stored.
// Then the medians of the rounds per load and variant. Nothing pinned.
//
//   node bench/cadence.mjs [--loads 2000,10000,flood] [--rounds 3] [--seconds 30]
//        [--flood-devices 2000] [--flood-seconds 20] [--variants ...] [--json out.json]
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { Bench, Broker, PLUGIN, freePort, httpGet, vgload } from '../tests/lib/bench.mjs';

const args = process.argv.slice(2);
const opt = { loads: '2000,10000,flood', rounds: 3, seconds: 30, 'flood-devices': 2000, 'flood-seconds': 20, variants: null, json: null };
for (let i = 0; i < args.length; i++) {
  const k = args[i].replace(/^--/, '');
  opt[k] = ['json', 'loads', 'variants'].includes(k) ? args[++i] : Number(args[++i]);
}
const log = (m) => process.stderr.write(`cadence: ${m}\n`);
const median = (xs) => { const s = xs.filter((x) => x !== null && !Number.isNaN(x)).sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : null; };
const variants = (opt.variants ?? `vitalgate=${PLUGIN}`).split(',').map((v) => {
  const [name, rest] = v.split('=', 2).length === 2 ? [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)] : [v, PLUGIN];
  const [plugin, ...kv] = rest.split(':');
  return { name, plugin: path.resolve(plugin), options: Object.fromEntries(kv.map((x) => x.split('='))) };
});
const loads = opt.loads.split(',');
const TICK = 100;   // USER_HZ of /proc/<pid>/stat

/** CPU seconds of a process from schedstat (ns), its stat as the fallback. */
function procCpu(pid) {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e9;
  } catch {
    try {
      const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = st.slice(st.indexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12])) / TICK;
    } catch { return 0; }
  }
}

/** All of PostgreSQL: the postmaster, its live children, and (cutime +
 * cstime of the postmaster) the children it has reaped. Also the writer's
 * backend alone. */
function pgCpu(pg, writerPid) {
  const pm = pg.proc.pid;
  const st = readFileSync(`/proc/${pm}/stat`, 'utf8');
  const f = st.slice(st.indexOf(')') + 2).split(' ');
  let total = procCpu(pm) + (Number(f[13]) + Number(f[14])) / TICK;
  const kids = execFileSync('pgrep', ['-P', String(pm)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  for (const k of kids) total += procCpu(Number(k));
  return { total, writer: writerPid ? procCpu(writerPid) : 0 };
}

async function scrape(port) {
  const r = await httpGet(port, '/metrics');
  const m = new Map();
  for (const line of r.body.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

/** p50/p99/max of COMMIT time minus received_at over rows received in [from, to] (ms since epoch). */
async function latency(pg, from, to) {
  const r = await pg.query(`SELECT count(*)::bigint AS n,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY d) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY d) AS p99,
      max(d) AS max FROM (SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin) - received_at) * 1000 AS d
      FROM vitals WHERE received_at >= to_timestamp($1 / 1000.0) AND received_at <= to_timestamp($2 / 1000.0)) x`, [from, to]);
  const row = r.rows[0];
  // Per second of reception: the worst sample and the commits, to tell a
  // stall (of the machine, PostgreSQL or the writer) from a steady state.
  const sec = await pg.query(`SELECT floor(extract(epoch FROM received_at))::bigint AS s, count(*)::int AS n,
      round(max(extract(epoch FROM pg_xact_commit_timestamp(xmin) - received_at) * 1000))::int AS worst,
      count(DISTINCT xmin::text)::int AS commits
      FROM vitals WHERE received_at >= to_timestamp($1 / 1000.0) AND received_at <= to_timestamp($2 / 1000.0)
      GROUP BY 1 ORDER BY 1`, [from, to]);
  return { n: Number(row.n), p50: Number(row.p50), p99: Number(row.p99), max: Number(row.max),
    perSecond: sec.rows.map((x) => [Number(x.s), x.n, x.worst, x.commits]) };
}

const bench = await Bench.start({ noBroker: true, pgSettings: { track_commit_timestamp: 'on' } });
const results = [];
try {
  const maxDevices = Math.max(...loads.map((l) => (l === 'flood' ? opt['flood-devices'] : Number(l))));
  log(`provisioning ${maxDevices} devices`);
  const creds = bench.importDevices(Array.from({ length: maxDevices }, (_, i) => `cd-${i} C${i % 25} B${i}`));
  const credFile = path.join(bench.root, 'creds.txt');
  writeFileSync(credFile, `${creds.map((c) => `${c.id} ${c.secret}`).join('\n')}\n`);
  let spool = 0;

  for (const load of loads) {
    for (let round = 1; round <= opt.rounds; round++) {
      for (const v of variants) {
        await bench.pg.query('TRUNCATE vitals, vitals_seq_hwm');
        await bench.pg.query('CHECKPOINT');
        const mport = await freePort();
        const b = await Broker.start(bench.root, {
          ...bench.brokerOpts, plugin: v.plugin, spoolDir: bench.newSpool(`spool-${++spool}`),
          logTypes: ['error', 'warning'], readyByTcp: true,
          options: { metrics_port: mport, journal_max_mb: 4096, stats_interval_s: 1, ...v.options },
        });
        await sleep(1500);   // identities loaded, writer connected
        const wp = (await bench.pg.query("SELECT pid FROM pg_stat_activity WHERE application_name = 'vitalgate-writer'")).rows[0]?.pid;
        if (!wp) throw new Error(`${v.name}: no writer backend`);
        const flood = load === 'flood';
        const devices = flood ? opt['flood-devices'] : Number(load);
        const seconds = flood ? opt['flood-seconds'] : opt.seconds;
        const samples = [];
        const t0 = Date.now();
        const timer = setInterval(async () => {
          const at = Date.now();
          const cpu = pgCpu(bench.pg, wp);
          try {
            const m = await scrape(mport);
            samples.push({ at, ...cpu, rows: m.get('vitalgate_writer_rows_total'), batches: m.get('vitalgate_writer_batches_total') });
          } catch { /* a scrape that failed: skip it */ }
        }, 1000);
        const r = await vgload(b.port, ['--creds', credFile, '--clients', String(devices), '--connect-rate', '2000',
          '--qos', '1', '--rate', '1', '--duration', String(seconds), ...(flood ? ['--batch', '64'] : [])], { cpu: null });
        const acked = Math.round(r.samples_published * (r.puback_ok / Math.max(1, r.published)));
        if (flood) {
          // Until the writer has committed every acknowledged sample.
          const tEnd = Date.now() + 600000;
          while ((samples.at(-1)?.rows ?? 0) < acked && Date.now() < tEnd) await sleep(500);
          await sleep(1500);
        }
        clearInterval(timer);
        const m = await scrape(mport);
        await b.stop();
        const stored = Number((await bench.pg.query('SELECT count(*) AS n FROM vitals')).rows[0].n);
        let win;
        let from;
        let to;
        if (flood) {
          win = samples;
          from = t0;
          to = Date.now();
        } else {
          // Traffic starts at the last CONNACK: keep its steady part.
          from = t0 + (r.connect_ms_last ?? 0) + 5000;
          to = t0 + (r.connect_ms_last ?? 0) + seconds * 1000 - 2000;
          win = samples.filter((s) => s.at >= from && s.at <= to);
        }
        const a = win[0];
        const z = win.at(-1);
        const rows = z.rows - a.rows;
        const secs = (z.at - a.at) / 1000;
        let sustained = null;
        if (flood) {
          sustained = 0;
          for (let i = 0; i < samples.length; i++) {
            const k = samples.findIndex((s, x) => x > i && s.at - samples[i].at >= 10000);
            if (k < 0) break;
            sustained = Math.max(sustained, (samples[k].rows - samples[i].rows) * 1000 / (samples[k].at - samples[i].at));
          }
        }
        const lat = await latency(bench.pg, from, to);
        const res = {
          load, variant: v.name, round, devices, offered: flood ? devices * 64 : devices, pub_rate: r.pub_rate,
          puback_refused: r.puback_refused, acked, stored, lost: flood ? acked - stored : null,
          samples_per_s: rows / secs, commits_per_s: (z.batches - a.batches) / secs,
          rows_per_commit: rows / Math.max(1, z.batches - a.batches),
          pg_total_ms_per_1000: (z.total - a.total) * 1e6 / rows, pg_writer_ms_per_1000: (z.writer - a.writer) * 1e6 / rows,
          pg_total_core: (z.total - a.total) / secs, pg_writer_core: (z.writer - a.writer) / secs,
          lat_p50_ms: lat.p50, lat_p99_ms: lat.p99, lat_max_ms: lat.max, lat_rows: lat.n, sustained,
          per_second: lat.perSecond, load_avg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number),
          hist: [...m.entries()].filter(([k]) => k.startsWith('vitalgate_writer_sample_commit_seconds_bucket'))
            .map(([k, n]) => [k.replace(/.*le="([^"]+)".*/, '$1'), n]),
        };
        results.push(res);
        log(`${load} ${v.name} round ${round}: ${res.samples_per_s.toFixed(0)} samples/s committed, ${res.commits_per_s.toFixed(1)} commits/s `
          + `(${res.rows_per_commit.toFixed(0)} rows each), PostgreSQL ${res.pg_total_ms_per_1000.toFixed(1)} ms CPU per 1,000 samples `
          + `(writer backend ${res.pg_writer_ms_per_1000.toFixed(1)}), ${(100 * res.pg_total_core).toFixed(1)} % of a core; `
          + `sample-to-committed p50 ${lat.p50.toFixed(0)} ms, p99 ${lat.p99.toFixed(0)} ms, max ${lat.max.toFixed(0)} ms`
          + `${flood ? `; sustained ${sustained.toFixed(0)}/s, acked ${acked}, stored ${stored}` : ''}`);
        if (r.puback_refused || r.connack_ok !== devices) log(`  WARNING: ${r.connack_ok} connected, ${r.puback_refused} refused`);
        if (!flood && lat.p99 > 1000) {
          log(`  per second (received, rows, worst ms, commits): ${lat.perSecond.map((x) => x.slice(1).join('/')).join(' ')}; load average ${res.load_avg.join(' ')}`);
        }
      }
    }
  }
} finally {
  await bench.stop();
}

const f = (x, d = 1) => (x === null || x === undefined ? '-' : x.toFixed(d));
console.log('| load | variant | rounds | samples/s committed | commits/s | rows/commit | PostgreSQL CPU per 1,000 samples (all / writer backend) | PostgreSQL CPU (% of a core) | sample-to-committed p50 / p99 / max | acked / stored |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const load of loads) {
  for (const v of variants) {
    const rs = results.filter((x) => x.load === load && x.variant === v.name);
    const med = (k) => median(rs.map((x) => x[k]));
    const spread = (k, d = 1) => rs.map((x) => f(x[k], d)).join(', ');
    console.log(`| ${load} | ${v.name} | ${rs.length} | ${f(med(load === 'flood' ? 'sustained' : 'samples_per_s'), 0)} | ${f(med('commits_per_s'))} `
      + `| ${f(med('rows_per_commit'), 0)} | ${f(med('pg_total_ms_per_1000'))} / ${f(med('pg_writer_ms_per_1000'))} ms (${spread('pg_total_ms_per_1000')}) `
      + `| ${f(100 * med('pg_total_core'))} % (${rs.map((x) => f(100 * x.pg_total_core)).join(', ')}) `
      + `| ${f(med('lat_p50_ms'), 0)} / ${f(med('lat_p99_ms'), 0)} / ${f(med('lat_max_ms'), 0)} ms (p99: ${spread('lat_p99_ms', 0)}) `
      + `| ${load === 'flood' ? rs.map((x) => `${x.acked}/${x.stored}`).join(', ') : '-'} |`);
  }
}
if (opt.json) {
  mkdirSync(path.dirname(path.resolve(opt.json)), { recursive: true });
  writeFileSync(opt.json, JSON.stringify({ opt, variants, results }, null, 2));
}
