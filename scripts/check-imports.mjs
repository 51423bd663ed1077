#!/usr/bin/env node
// Fails when a package imports against the direction in DESIGN.md, or when source files form a cycle.
//   proto ← common ← object-store | scheduler ← core ← edge-agent | data | tune | serve
// Library packages import only '@samsara/ray' (public API), never internals of lower layers.
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join, dirname, resolve, relative } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const allowed = {
  common: ['@samsara/ray-proto'],
  'object-store': ['@samsara/ray-common'],
  scheduler: ['@samsara/ray-common'],
  core: ['@samsara/ray-common', '@samsara/ray-object-store', '@samsara/ray-scheduler', '@samsara/ray-proto'],
  'edge-agent': ['@samsara/ray', '@samsara/ray-common'],
  data: ['@samsara/ray'],
  tune: ['@samsara/ray', '@samsara/ray-data', '@samsara/ray-serve'],
  serve: ['@samsara/ray'],
  workflow: ['@samsara/ray'],
};
const ours = new Map([
  ['@samsara/ray-proto', 'proto'], ['@samsara/ray-common', 'common'], ['@samsara/ray-object-store', 'object-store'],
  ['@samsara/ray-scheduler', 'scheduler'], ['@samsara/ray', 'core'], ['@samsara/ray-edge', 'edge-agent'],
  ['@samsara/ray-data', 'data'], ['@samsara/ray-tune', 'tune'], ['@samsara/ray-serve', 'serve'], ['@samsara/ray-workflow', 'workflow'],
]);

/** Whether package `dir` declares `./sub` in its package.json `exports` (a public entry, like `@samsara/ray/edge`). */
function declaredSubpath(dir, sub) {
  try {
    const pkg = JSON.parse(readFileSync(join(root, dir === 'proto' ? 'proto' : join('packages', dir), 'package.json'), 'utf8'));
    return typeof pkg.exports === 'object' && pkg.exports !== null && Object.hasOwn(pkg.exports, `.${sub}`);
  } catch {
    return false;
  }
}

function walk(dir, out = []) {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.(ts|mts|js|mjs)$/.test(e) && !e.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const IMPORT = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;
const problems = [];
const graph = new Map();
const pkgsDir = join(root, 'packages');
for (const pkg of readdirSync(pkgsDir)) {
  const src = join(pkgsDir, pkg, 'src');
  if (!existsSync(src)) continue;
  for (const file of walk(src)) {
    const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    const edges = [];
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
        // Type-only imports are erased at build time: they cannot form a cycle between modules at run time.
        if (!/^(?:import|export)\s+type\s/.test(m[0])) edges.push(target);
        if (!target.startsWith(src)) problems.push(`${relative(root, file)}: relative import ${spec} leaves its package`);
        continue;
      }
      const base = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      const dep = ours.get(base);
      if (!dep) continue;
      if (dep === pkg) problems.push(`${relative(root, file)}: imports its own package by name (${spec})`);
      else if (!(allowed[pkg] ?? []).includes(base)) problems.push(`${relative(root, file)}: ${pkg} must not import ${base} (see DESIGN.md, import direction)`);
      else if (spec !== base && !declaredSubpath(dep, spec.slice(base.length))) problems.push(`${relative(root, file)}: deep import ${spec}; use the package's public entry`);
    }
    graph.set(file, edges);
  }
}
// cycle detection over files (DFS with colours), on the run-time import graph
const colour = new Map();
const stack = [];
function dfs(n) {
  colour.set(n, 1); stack.push(n);
  for (const m of graph.get(n) ?? []) {
    if (!graph.has(m)) continue;
    if (colour.get(m) === 1) {
      const cyc = stack.slice(stack.indexOf(m)).concat(m).map((f) => relative(root, f));
      problems.push(`import cycle: ${cyc.join(' → ')}`);
    } else if (!colour.get(m)) dfs(m);
  }
  stack.pop(); colour.set(n, 2);
}
for (const n of graph.keys()) if (!colour.get(n)) dfs(n);
if (problems.length) {
  console.error(`check-imports: ${problems.length} problem(s)\n` + problems.map((p) => `  ${p}`).join('\n'));
  process.exit(1);
}
console.log(`check-imports: ${graph.size} files, direction and cycles OK`);
