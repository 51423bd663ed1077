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

The lean launcher (packages/edge-agent/src/cli.ts): \`--max-semi-space-size=1\`, \`--v8-pool-size=1\`, msgpackr's native extractor off; no
\`--lite-mode\`/\`--jitless\` (the int8 runtime keeps the optimizing compiler). Both rows load \`startEdgeNode\` from \`@samsara/ray/edge\`
(not the full index) and the slimmer generated protobuf module (no service classes, typeurl or comments). Before this work the
agent measured 72–79 MB (78.8 MB in the first run of the session). See docs/edge-agent.md for what the remaining megabytes are.
`;
writeSuiteSection('edge-idle', md);
process.stdout.write(md);
