#!/usr/bin/env node
/**
 * Summarises V8 .cpuprofile files (from `node --cpu-prof`): per profile, the top functions by self time,
 * self time by package/area, and the inclusive time of the functions named with --focus (each sample
 * counted once per function on its stack).
 *
 *   node bench/profile/summarize.mjs <dir-or-file>... [--top N] [--focus REGEX] [--json out.json]
 *
 * Areas: a file under node_modules/<pkg> is <pkg> (e.g. @grpc/grpc-js, protobufjs, msgpackr, piscina);
 * packages/<name>/ is @samsara/<name> (the workspace's own code); node:internal files are node:<first dir>;
 * V8's pseudo-frames ((garbage collector), (idle), (program)) are kept as they are.
 */
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const argv = process.argv.slice(2);
let top = 25;
let focus;
let jsonOut;
const inputs = [];
for (let i = 0; i < argv.length; i += 1) {
  if (argv[i] === '--top') top = Number(argv[++i]);
  else if (argv[i] === '--focus') focus = new RegExp(argv[++i]);
  else if (argv[i] === '--json') jsonOut = argv[++i];
  else inputs.push(argv[i]);
}
if (inputs.length === 0) {
  process.stderr.write('usage: summarize.mjs <dir-or-file>... [--top N] [--focus REGEX] [--json out.json]\n');
  process.exit(2);
}
const files = inputs.flatMap((p) => (statSync(p).isDirectory() ? readdirSync(p).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(p, f)) : [p]));

export function areaOf(url, name) {
  if (!url) return name.startsWith('(') ? name : '(native)';
  const nm = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (nm) return nm[1];
  const ws = url.match(/\/packages\/([^/]+)\//);
  if (ws) return `@samsara/${ws[1]}`;
  const ni = url.match(/^node:internal\/([^/]+)/);
  if (ni) return `node:${ni[1].replace(/\.js$/, '')}`;
  if (url.startsWith('node:')) return url;
  if (url.includes('/bench/')) return 'bench';
  return url.replace(/^file:\/\//, '').split('/').slice(-2).join('/');
}

function shortUrl(url) {
  return url.replace(/^file:\/\//, '').replace(/.*\/node_modules\//, '').replace(/.*\/packages\//, 'packages/');
}

function summarize(file) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map();
  const deltas = prof.timeDeltas;
  let total = 0;
  for (let i = 0; i < prof.samples.length; i += 1) {
    const dt = deltas[i + 1] ?? 0; // the delta after a sample is the time it stood for
    selfUs.set(prof.samples[i], (selfUs.get(prof.samples[i]) ?? 0) + dt);
    total += dt;
  }
  const key = (cf) => `${cf.functionName || '(anonymous)'} ${shortUrl(cf.url)}:${cf.lineNumber + 1}`;
  const fnSelf = new Map();
  const areaSelf = new Map();
  const incl = new Map();
  for (const [id, us] of selfUs) {
    const cf = byId.get(id).callFrame;
    const k = key(cf);
    fnSelf.set(k, (fnSelf.get(k) ?? 0) + us);
    const a = areaOf(cf.url, cf.functionName);
    areaSelf.set(a, (areaSelf.get(a) ?? 0) + us);
    if (focus) {
      const seen = new Set();
      for (let n = id; n !== undefined; n = parent.get(n)) {
        const c = byId.get(n).callFrame;
        const kk = key(c);
        if (!seen.has(kk) && focus.test(kk)) {
          seen.add(kk);
          incl.set(kk, (incl.get(kk) ?? 0) + us);
        }
      }
    }
  }
  const idle = (areaSelf.get('(idle)') ?? 0);
  const busy = total - idle;
  const sort = (m) => [...m].sort((a, b) => b[1] - a[1]);
  return { file, totalMs: total / 1000, busyMs: busy / 1000, fnSelf: sort(fnSelf), areaSelf: sort(areaSelf), incl: sort(incl), busy };
}

const pct = (us, of) => `${((100 * us) / of).toFixed(1).padStart(5)}%`;
const out = [];
for (const f of files.sort()) {
  const s = summarize(f);
  out.push({ file: f, totalMs: s.totalMs, busyMs: s.busyMs, areas: s.areaSelf.map(([a, us]) => [a, us / 1000]), functions: s.fnSelf.slice(0, top).map(([k, us]) => [k, us / 1000]) });
  process.stdout.write(`\n## ${f}\n   sampled ${s.totalMs.toFixed(0)} ms, busy (not idle) ${s.busyMs.toFixed(0)} ms; percentages are of busy time\n`);
  process.stdout.write('   self time by area:\n');
  for (const [a, us] of s.areaSelf.slice(0, 16)) if (a !== '(idle)') process.stdout.write(`   ${pct(us, s.busy)}  ${(us / 1000).toFixed(0).padStart(6)} ms  ${a}\n`);
  process.stdout.write(`   top ${top} functions by self time:\n`);
  for (const [k, us] of s.fnSelf.filter(([k]) => !k.startsWith('(idle)')).slice(0, top)) process.stdout.write(`   ${pct(us, s.busy)}  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}\n`);
  if (focus) {
    process.stdout.write(`   inclusive time of functions matching ${focus}:\n`);
    for (const [k, us] of s.incl.slice(0, top)) process.stdout.write(`   ${pct(us, s.busy)}  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}\n`);
  }
}
if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(out, null, 2)}\n`);
