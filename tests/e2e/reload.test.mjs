// Reload on SIGHUP (issue 9): the plugin re-reads its own plugin_opt_ lines
// from the broker's configuration file (Mosquitto 2.0 passes none on
// reload), applies the reloadable ones without dropping a connection, warns
// about the ones that need a restart, and refuses an invalid file as a
// whole, keeping the running configuration. Thresholds, identities and
// webhook secrets are re-read too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Bench, connect, publishQos1, sample, waitFor, collect, subscribeRc } from '../lib/bench.mjs';

let bench;
let dev;
let devClosed = false;
let sys;
let seq = 1;

const ahead = (s) => sample({ v: 1, seq: seq++, ts: Date.now() + s * 1000, hr: 70 });

async function hup(options) {
  const b = bench.broker;
  b.opts.options = options;
  b.writeConf();
  const from = b.mark();
  process.kill(b.proc.pid, 'SIGHUP');
  return from;
}

before(async () => {
  bench = await Bench.start({ webhook: true, options: { stats_interval_s: 1, ts_max_future_s: 300 } });
  const secret = await bench.addDevice('dev-r', 'RW', 'B1');
  await bench.waitIdentity(bench.broker.port, 'dev-r', secret);
  dev = await connect(bench.broker.port, { id: 'dev-r', password: secret });
  dev.on('close', () => { devClosed = true; });
  const coreSecret = await bench.adminOk(['service', 'add', 'core-r']);
  await bench.waitIdentity(bench.broker.port, 'core-r', coreSecret);
  const core = await connect(bench.broker.port, { id: 'core-r', password: coreSecret });
  sys = collect(core);
  assert.equal(await subscribeRc(core, '$SYS/broker/vitalgate/reload/#', 0), 0);
  bench.cleanups.push(() => core.endAsync());
});

after(async () => {
  await dev?.endAsync();
  await bench?.stop();
});

const lastSys = (name) => {
  const m = sys.filter((x) => x.topic === `$SYS/broker/vitalgate/reload/${name}`).at(-1);
  return m ? Number(m.text) : null;
};

test('a valid change applies at once, connections stay, restart-only options are named', async () => {
  assert.equal(await publishQos1(dev, 'vitals/dev-r', ahead(120)), 0, '120 s ahead is within 300 s');

  const from = await hup({ stats_interval_s: 1, ts_max_future_s: 60, writer_batch_rows: 100 });
  await bench.broker.waitLog(/Vitalgate: reloaded .* \(1 option\(s\) changed/, 10000, from);
  await bench.broker.waitLog(/reload: plugin_opt_ts_max_future_s applied/, 1000, from);
  await bench.broker.waitLog(/reload: plugin_opt_writer_batch_rows changed but takes effect only at the next restart/, 1000, from);
  // Thresholds and identities were re-read from PostgreSQL as well.
  await bench.broker.waitLog(/alert thresholds and bed settings loaded/, 10000, from);

  assert.equal(await publishQos1(dev, 'vitals/dev-r', ahead(120)), 0x87, 'now 120 s ahead is bad_time');
  assert.equal(await publishQos1(dev, 'vitals/dev-r', ahead(30)), 0, '30 s ahead still fine');
  assert.equal(devClosed, false, 'the device stayed connected through the reload');
  assert.ok(dev.connected);
  await waitFor(() => lastSys('applied') === 1, { what: '$SYS reload/applied = 1' });
});

test('an invalid file is refused as a whole and the running configuration stays', async () => {
  // ts_max_future_s would go back to 300, but silence_s is malformed.
  const from = await hup({ stats_interval_s: 1, ts_max_future_s: 300, silence_s: 'soon' });
  const line = await bench.broker.waitLog(/Vitalgate: reload refused/, 10000, from);
  assert.match(line, /plugin_opt_silence_s: "soon" is not an integer/);
  assert.match(line, /the running configuration stays/);
  assert.ok(!bench.broker.lines.slice(from).some((l) => /ts_max_future_s applied/.test(l)));
  assert.equal(await publishQos1(dev, 'vitals/dev-r', ahead(120)), 0x87, 'the old 60 s limit is still in force');
  await waitFor(() => lastSys('refused') === 1, { what: '$SYS reload/refused = 1' });

  // An unknown option is refused too, naming it.
  const from2 = await hup({ stats_interval_s: 1, ts_max_future_s: 300, silense_s: 30 });
  assert.match(await bench.broker.waitLog(/Vitalgate: reload refused/, 10000, from2), /plugin_opt_silense_s: unknown option/);
  assert.equal(await publishQos1(dev, 'vitals/dev-r', ahead(120)), 0x87);

  // Fixed, the file applies.
  const from3 = await hup({ stats_interval_s: 1, ts_max_future_s: 300 });
  await bench.broker.waitLog(/Vitalgate: reloaded/, 10000, from3);
  assert.equal(await publishQos1(dev, 'vitals/dev-r', ahead(120)), 0);
  assert.equal(devClosed, false);
});

test('SIGHUP re-reads the webhook secrets even when the file looks unchanged', async () => {
  const from = await hup({ stats_interval_s: 1, ts_max_future_s: 300 });
  await bench.broker.waitLog(/webhook secrets reloaded from .* \(1 secret\(s\)\)/, 10000, from);
  const stored = await waitFor(async () => {
    const r = await bench.pg.query("SELECT count(*)::int AS n FROM vitals WHERE device_id = 'dev-r'");
    return r.rows[0].n === 3 ? r.rows[0].n : null;
  }, { what: 'the three accepted samples stored' });
  assert.equal(stored, 3);
});
