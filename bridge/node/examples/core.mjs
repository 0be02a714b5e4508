#!/usr/bin/env node
// The sample Node.js core: an HTTP server that receives Vitalgate's alert
// webhooks through @vitalgate/node (signature, timestamp and duplicate
// checks) and prints each alert. Stands in for the hospital's real core in
// `scripts/run.sh` and in the documentation.
//
//   VITALGATE_WEBHOOK_SECRETS_FILE=... PORT=3000 node bridge/node/examples/core.mjs
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';

import { createHandler } from '../src/index.js';

const secretsFile = process.env.VITALGATE_WEBHOOK_SECRETS_FILE;
if (!secretsFile) {
  console.error('core: set VITALGATE_WEBHOOK_SECRETS_FILE to the whsec_ secrets file');
  process.exit(2);
}
const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';

const handler = createHandler({
  secrets: readFileSync(secretsFile, 'utf8'),
  // Called once per webhook-id; throwing makes the handler answer 500, so
  // the broker retries and the retry is processed.
  onEvent: async (ev) => {
    const d = ev.data;
    const where = d.ward ? `${d.ward}/${d.bed}` : `device ${d.device_id}`;
    const what = d.vital ? `${d.vital} ${d.value ?? ''} ${d.unit ?? ''}`.trim() : d.kind;
    console.log(`core: ${ev.type.padEnd(14)} ${where.padEnd(10)} ${what} (${d.kind}, alert ${d.alert_id})`);
  },
  onReject: (e, req) => console.warn(`core: rejected a webhook from ${req.socket.remoteAddress}: ${e.message}`),
  onError: (e, _req, ev) => console.error(`core: webhook ${ev?.id ?? '?'} failed: ${e.message}`),
});

const server = createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/vitalgate/webhooks') return handler(req, res);
  if (req.method === 'GET' && req.url === '/health') return res.end('ok\n');
  res.statusCode = 404;
  res.end();
});
server.listen(port, host, () => {
  // The actual port: PORT=0 picks a free one.
  console.log(`core: listening on http://${host}:${server.address().port}/vitalgate/webhooks`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.close(() => process.exit(0)));
