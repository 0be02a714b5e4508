// examples/core.mjs (the sample core that scripts/run.sh starts) still works.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { newSecret, post, raisedBody, signHeaders } from '../test-support/helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'vg-core-'));
after(() => rmSync(dir, { recursive: true, force: true }));

it('examples/core.mjs verifies, prints and dedupes alerts', async (t) => {
  const oldS = newSecret();
  const newS = newSecret();
  const file = path.join(dir, 'webhook-secrets');
  writeFileSync(file, `${newS}\n# previous key, kept during rotation\n${oldS}\n`, { mode: 0o600 });
  const core = spawn(process.execPath, [path.join(here, '../examples/core.mjs')], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', VITALGATE_WEBHOOK_SECRETS_FILE: file },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => core.kill('SIGKILL'));
  let out = '';
  core.stdout.on('data', (c) => (out += c));
  core.stderr.on('data', (c) => (out += c));
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`core did not start: ${out}`)), 10_000);
    core.stdout.on('data', () => {
      const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)\/vitalgate\/webhooks/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    core.on('exit', (code) => reject(new Error(`core exited (${code}): ${out}`)));
  });
  assert.equal((await fetch(`${base}/health`)).status, 200);
  const url = `${base}/vitalgate/webhooks`;
  const body = raisedBody();
  const h = signHeaders(oldS, body);
  assert.equal((await post(url, body, h)).status, 204);
  assert.equal((await post(url, body, h)).status, 200);
  assert.equal((await post(url, body, signHeaders(newSecret(), body))).status, 400);
  const resolved = raisedBody({ type: 'alert.resolved' });
  assert.equal((await post(url, resolved, signHeaders(newS, resolved))).status, 204);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(out.match(/core: alert\.raised +3W\/02 +hr 142 \/min/g)?.length, 1, out);
  assert.match(out, /core: alert\.resolved/);
  assert.match(out, /rejected a webhook .*no v1 signature matches/);
});

it('examples/core.mjs refuses to start without a secrets file', async () => {
  const env = { ...process.env };
  delete env.VITALGATE_WEBHOOK_SECRETS_FILE;
  const core = spawn(process.execPath, [path.join(here, '../examples/core.mjs')], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  core.stderr.on('data', (c) => (err += c));
  const code = await new Promise((resolve) => core.on('exit', resolve));
  assert.equal(code, 2);
  assert.match(err, /VITALGATE_WEBHOOK_SECRETS_FILE/);
});
