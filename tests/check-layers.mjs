#!/usr/bin/env node
// Folders are threads (docs/ARCHITECTURE.md "Folders and threads"): checks
// that the code keeps to it, and fails with one line per violation.
//
//   node tests/check-layers.mjs <source dir> <generated headers dir> <objects list>
//
// The objects list (written by tests/CMakeLists.txt) has one "<folder> <object
// file>" line per object of the libraries vg_common and vg_pg (common), vg_bridge
// (bridge), vg_plugin (plugin) and of vitalgate-admin (admin).
//
// 1. Includes point down. Every #include "x.h" of a .c/.h in common/, bridge/,
//    plugin/, admin/ must resolve to its own folder or one below it:
//      plugin -> plugin, bridge, common      bridge -> bridge, common
//      admin  -> admin, common               common -> common
//    (and the generated headers of the build's gen/ folder, from anywhere).
//    Worker and shared code never includes the broker's headers
//    (<mosquitto*.h>); nothing plugin/ includes, directly or through a
//    header, includes libpq or libcurl.
// 2. Objects agree (nm): no common/, bridge/ or admin/ object references a
//    mosquitto_* function (workers post completions, TICK calls the broker);
//    no plugin/ object references PQ* (libpq) or curl_* (libcurl).
// 3. No circle between object files: if a.o uses a symbol b.o defines and
//    b.o (directly or through others) uses one a.o defines, the two are one
//    module in two files.
// 4. No banned functions in product code: sprintf, vsprintf, strcpy, strcat,
//    atoi, atol, atoll, gets (house style: bounded copies, strict parsers).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const [srcDir, genDir, objList] = process.argv.slice(2);
if (!srcDir || !genDir || !objList) {
  process.stderr.write('usage: check-layers.mjs <source dir> <gen dir> <objects list>\n');
  process.exit(2);
}

const FOLDERS = ['common', 'bridge', 'plugin', 'admin'];
const ALLOWED = {
  plugin: ['plugin', 'bridge', 'common'],
  bridge: ['bridge', 'common'],
  admin: ['admin', 'common'],
  common: ['common'],
};
const errors = [];
const fail = (m) => errors.push(m);

// ---- 1. includes ------------------------------------------------------------
const files = new Map(); // "folder/name" -> { folder, name, text }
for (const folder of FOLDERS) {
  for (const name of readdirSync(path.join(srcDir, folder)).sort()) {
    if (!/\.[ch]$/.test(name)) continue;
    files.set(`${folder}/${name}`, { folder, name, text: readFileSync(path.join(srcDir, folder, name), 'utf8') });
  }
}

function includesOf(text) {
  const out = [];
  for (const m of text.matchAll(/^[ \t]*#[ \t]*include[ \t]*([<"])([^>"]+)[>"]/gm)) {
    out.push({ local: m[1] === '"', name: m[2] });
  }
  return out;
}

// Where a local include resolves: its own folder first (as the compiler does),
// then the generated headers, then the folders it may reach, then anywhere.
function resolve(folder, name) {
  if (files.has(`${folder}/${name}`)) return { folder, key: `${folder}/${name}` };
  if (existsSync(path.join(genDir, name))) return { folder: 'gen', key: null };
  for (const f of [...ALLOWED[folder], ...FOLDERS]) {
    if (files.has(`${f}/${name}`)) return { folder: f, key: `${f}/${name}` };
  }
  return null;
}

const deps = new Map(); // key -> [keys of local headers it includes]
for (const [key, f] of files) {
  const list = [];
  for (const inc of includesOf(f.text)) {
    if (!inc.local) {
      if (f.folder !== 'plugin' && /^mosquitto/.test(inc.name)) {
        fail(`${key}: includes <${inc.name}>: only plugin/ code talks to the broker`);
      }
      continue;
    }
    const r = resolve(f.folder, inc.name);
    if (r === null) {
      fail(`${key}: includes "${inc.name}", which is no header of common/, bridge/, plugin/, admin/ or gen/`);
    } else if (r.folder !== 'gen' && !ALLOWED[f.folder].includes(r.folder)) {
      fail(`${key}: includes ${r.key}: ${f.folder}/ may include only ${ALLOWED[f.folder].join('/, ')}/ (an arrow up or sideways)`);
    }
    if (r && r.key) list.push(r.key);
  }
  deps.set(key, list);
}

// Nothing plugin/ includes brings in libpq or libcurl, however deep.
for (const [key, f] of files) {
  if (f.folder !== 'plugin') continue;
  const seen = new Set([key]);
  const stack = [[key, [key]]];
  while (stack.length) {
    const [k, chain] = stack.pop();
    for (const inc of includesOf(files.get(k).text)) {
      if (!inc.local && (inc.name === 'libpq-fe.h' || inc.name.startsWith('curl/'))) {
        fail(`${chain.join(' -> ')}: includes <${inc.name}> on the broker thread's side`);
      }
    }
    for (const d of deps.get(k) ?? []) {
      if (!seen.has(d)) {
        seen.add(d);
        stack.push([d, [...chain, d]]);
      }
    }
  }
}

// ---- 2. and 3. objects --------------------------------------------------------
const objects = readFileSync(objList, 'utf8').split('\n').filter(Boolean).map((l) => {
  const sp = l.indexOf(' ');
  return { folder: l.slice(0, sp), file: l.slice(sp + 1) };
});
if (objects.length === 0) fail(`${objList}: no objects listed`);
const nm = (args, file) => execFileSync('nm', [...args, file], { encoding: 'utf8' })
  .split('\n').map((l) => l.trim().split(/\s+/)).filter((p) => p.length >= 2);
const definedBy = new Map();
for (const o of objects) {
  o.name = `${o.folder}/${path.basename(o.file).replace(/\.o(bj)?$/, '')}`;
  o.undefined = nm(['-u'], o.file).map((p) => p[p.length - 1]);
  for (const p of nm(['-g', '--defined-only'], o.file)) {
    definedBy.set(p[p.length - 1], o);
  }
  for (const sym of o.undefined) {
    if (o.folder !== 'plugin' && /^mosquitto_/.test(sym)) {
      fail(`${o.name}: references ${sym}: only the broker thread (plugin/) may call the broker`);
    }
    if (o.folder === 'plugin' && (/^PQ/.test(sym) || /^curl_/.test(sym))) {
      fail(`${o.name}: references ${sym}: the broker thread never talks to PostgreSQL or HTTP`);
    }
  }
}

// Circles: strongly connected components of "uses a symbol defined by".
const edges = new Map(objects.map((o) => [o, new Set()]));
for (const o of objects) {
  for (const sym of o.undefined) {
    const d = definedBy.get(sym);
    if (d && d !== o) edges.get(o).add(d);
  }
}
{
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const onStack = new Set();
  const stack = [];
  const strong = (v) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v)) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v), idx.get(w)));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) {
        const names = comp.map((c) => c.name).sort();
        const why = comp.flatMap((a) => [...edges.get(a)].filter((b) => comp.includes(b))
          .map((b) => `${a.name} uses ${a.undefined.find((s) => definedBy.get(s) === b)} of ${b.name}`));
        fail(`a circle between ${names.join(', ')}: ${why.sort().join('; ')}`);
      }
    }
  };
  for (const o of objects) if (!idx.has(o)) strong(o);
}

// ---- 4. banned functions --------------------------------------------------------
const BANNED = /\b(sprintf|vsprintf|strcpy|strcat|atoi|atol|atoll|gets)\s*\(/;
function code(text) {
  // Comments and string/char literals out, line structure kept.
  return text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'/g,
    (m) => m.replace(/[^\n]/g, ' '));
}
for (const [key, f] of files) {
  code(f.text).split('\n').forEach((line, i) => {
    const m = line.match(BANNED);
    if (m) fail(`${key}:${i + 1}: calls ${m[1]}() (banned: use snprintf, vg_strlcpy, vg_concat, vg_parse_i64)`);
  });
}

if (errors.length) {
  for (const e of errors) process.stderr.write(`check-layers: ${e}\n`);
  process.stderr.write(`check-layers: ${errors.length} violation(s)\n`);
  process.exit(1);
}
const count = (f) => objects.filter((o) => o.folder === f).length;
process.stdout.write(`check-layers: ${files.size} sources, ${objects.length} objects (common ${count('common')}, `
  + `bridge ${count('bridge')}, plugin ${count('plugin')}, admin ${count('admin')}): includes point down, `
  + 'no broker calls off the broker thread, no libpq/libcurl on it, no circle between objects, no banned functions\n');
