#!/usr/bin/env node
// Fails when docs generated from code differ from the committed docs:
//  - docs/schema-v1.md must equal what schemas/gen.mjs produced;
//  - the option table in docs/configuration.md (between the
//    <!-- options:begin --> and <!-- options:end --> markers) must equal
//    what vg-gen-docs prints from plugin/config.c.
// Usage: check-docs.mjs <generated schema md> <committed schema md> <vg-gen-docs> <configuration.md>
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const [genSchema, docSchema, genDocs, confMd] = process.argv.slice(2);
let failed = false;

if (readFileSync(genSchema, 'utf8') !== readFileSync(docSchema, 'utf8')) {
  console.error(`${docSchema} is out of date: copy ${genSchema} over it (schemas/vitals/v1.json changed)`);
  failed = true;
}
const table = execFileSync(genDocs).toString();
const md = readFileSync(confMd, 'utf8');
const m = /<!-- options:begin -->\n([\s\S]*?)<!-- options:end -->/.exec(md);
if (!m) {
  console.error(`${confMd}: markers <!-- options:begin --> / <!-- options:end --> missing`);
  failed = true;
} else if (m[1] !== table) {
  console.error(`${confMd}: option table is out of date; regenerate it with:\n  build/vg-gen-docs`);
  console.error('--- expected ---\n' + table);
  failed = true;
}
if (failed) process.exit(1);
console.log('generated docs are current');
