#!/usr/bin/env node
// Generates from schemas/vitals/v<N>.json, the single source of truth
// (renderers in schemas/schema.mjs):
//
//   node schemas/gen.mjs <schema.json> [--c DIR] [--md FILE] [--js FILE] [--ts FILE]
//     --c   DIR/vg_schema_gen.h and DIR/vg_schema_gen.c (the build does this)
//     --md  the schema reference (docs/schema-v1.md)
//     --js  the station page's module (stations/web/vitals-schema.js)
//     --ts  the TypeScript sample types (the generated part of bridge/node/src/index.d.ts)
//   node schemas/gen.mjs [<schema.json>] --update-tree
//     rewrites every committed generated file of this tree: docs/schema-v1.md,
//     stations/web/vitals-schema.js, the marked parts of
//     bridge/node/src/index.d.ts and docs/alerts.md (a test, schema_current,
//     fails while one of them is out of date).
//
// Fails (exit 1, one line on stderr) on a schema it does not understand.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { committedOutputs, loadSchema, renderC, renderMarkdown, renderStationJs, renderTs } from './schema.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function fail(msg) {
  process.stderr.write(`gen.mjs: ${msg}\n`);
  process.exit(1);
}

const args = process.argv.slice(2);
const opt = {};
let schemaPath = null;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--update-tree') opt.tree = true;
  else if (['--c', '--md', '--js', '--ts'].includes(a)) {
    if (i + 1 >= args.length) fail(`${a} needs a path`);
    opt[a.slice(2)] = args[++i];
  } else if (!a.startsWith('--') && schemaPath === null) schemaPath = a;
  else fail(`unknown argument ${a}`);
}
schemaPath ??= opt.tree ? path.join(root, 'schemas/vitals/v1.json') : null;
if (!schemaPath || !(opt.tree || opt.c || opt.md || opt.js || opt.ts)) {
  fail('usage: gen.mjs <schema.json> [--c DIR] [--md FILE] [--js FILE] [--ts FILE] | gen.mjs [<schema.json>] --update-tree');
}

let s;
try {
  s = loadSchema(schemaPath);
} catch (e) {
  fail(e.message);
}
const source = `schemas/vitals/${path.basename(schemaPath)}`;

function write(file, text) {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}

try {
  if (opt.c) {
    const { h, c } = renderC(s, source);
    write(path.join(opt.c, 'vg_schema_gen.h'), h);
    write(path.join(opt.c, 'vg_schema_gen.c'), c);
  }
  if (opt.md) write(opt.md, renderMarkdown(s, source));
  if (opt.js) write(opt.js, renderStationJs(s, source));
  if (opt.ts) write(opt.ts, renderTs(s));
  if (opt.tree) {
    const outs = committedOutputs(s, source, (f) => readFileSync(path.join(root, f), 'utf8'));
    for (const [f, text] of Object.entries(outs)) {
      const file = path.join(root, f);
      let old = null;
      try { old = readFileSync(file, 'utf8'); } catch { /* a new file */ }
      if (old !== text) {
        write(file, text);
        console.log(`gen.mjs: wrote ${f}`);
      }
    }
  }
} catch (e) {
  fail(e.message);
}
