#!/usr/bin/env node
/**
 * `node bench/run.mjs --suite edge-idle` (or `node bench/edge-idle/run.mjs [--rounds 3]`): idle RSS of
 * `rayts-edge`, started as the bin starts it (lean node flags from its shebang) and, in the same run,
 * bare (`node cli.js`, RAYTS_EDGE_LEAN=0: the footprint before the launcher), alternating, each
 * measured by bench/edge-idle.mjs --seconds 5. Writes the `edge-idle` section of bench/RESULTS.md.
 */
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { writeSuiteSection } from '../lib/results-section.mjs';

const argv = process.argv.slice(2);
const ROUNDS = Number(argv[argv.indexOf('--rounds') + 1] || 3) || 3;
const SCRIPT = fileURLToPath(new URL('../edge-idle.mjs', import.meta.url));
const measure = (extra) => JSON.parse(execFileSync(process.execPath, [SCRIPT, '--seconds', '5', '--json', ...extra], { encoding: 'utf8' }));

const rows = { bin: [], bare: [] };
for (let i = 0; i < ROUNDS; i++) {
  rows.bin.push(measure([]));
  rows.bare.push(measure(['--bare']));
}
const mb = (x) => (x / 1e6).toFixed(1);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const line = (name, how, rs) =>
  `| ${name} | \`${how}\` | **${mb(median(rs.map((r) => r.idleRssBytes)))}** | ${rs.map((r) => mb(r.idleRssBytes)).join(', ')} | ${rs.map((r) => mb(r.rssAt5sBytes)).join(', ')} | ${mb(median(rs.map((r) => r.peakRssBytes)))} | ${rs[0].threads} |`;
const md = `## edge-idle — rayts-edge idle RSS

Command: \`node bench/run.mjs --suite edge-idle\` (${ROUNDS} alternating rounds of \`node bench/edge-idle.mjs --seconds 5 [--bare]\`),
${new Date().toISOString()}, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}. The machine was shared with
other engineers' builds and tests (load average well above the core count), so ±2 MB is noise. Goal: ≤ 60 MB.

| agent | started as | idle RSS MB (median) | each run (10 s after joining) | each run (5 s after joining) | peak MB | threads |
| --- | --- | --- | --- | --- | --- | --- |
${line('lean (the bin)', `node ${rows.bin[0].nodeFlags.join(' ')} cli.js`, rows.bin)}
${line('bare (no lean flags)', 'RAYTS_EDGE_LEAN=0 node cli.js', rows.bare)}

The lean launcher (packages/edge-agent/src/cli.ts): \`--max-semi-space-size=1\`, \`--v8-pool-size=1\`, msgpackr's native extractor off,
and \`--no-turbofan --no-maglev --optimize-for-size\` until the agent starts its first worker thread (src/optimizer.ts): start-up no
longer has the optimizing compilers compile Node's module-loader helpers (~4.5 MB of compiler pages kept resident); V8's defaults are back
before any task or actor thread runs user code, so the int8 runtime is optimized as usual (never \`--lite-mode\`/\`--jitless\`). Both rows
load \`startEdgeNode\` from \`@samsara/ray/edge\` (not the full index), the slimmer generated protobuf module, prom-client only when something
is counted or scraped, and the owner code (task submission, actor calls) only when a worker thread attaches. Before the launcher work the
agent measured 72–79 MB; 64.6 MB before the start-up flags and lazy loading. See docs/edge-agent.md for what the remaining megabytes are.
`;
writeSuiteSection('edge-idle', md);
process.stdout.write(md);
