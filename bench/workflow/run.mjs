#!/usr/bin/env node
/**
 * Workflow orchestration overhead (issue 17): a chain of 100 no-op ops (each waits for the previous one)
 * and a fan-out of 100 parallel no-op ops (one root, 100 children), run with runWorkflow on a fresh
 * store; time per op = run time / 100. The run time includes the per-run fixed cost (git lineage,
 * creating the journal). Same-run baselines: that fixed cost alone (a workflow of one no-op op), and the
 * journal writes alone (the 4 events per op the runner appends, without scheduling).
 *
 *   node bench/run.mjs --suite workflow [--runs N]     (default 7 runs per row; the median is reported)
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadWorkflow, runWorkflow } from '@samsara/ray-workflow';
import { writeSuiteSection } from '../lib/results-section.mjs';

const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const RUNS = runsAt >= 0 ? Number(args[runsAt + 1]) : 7;
const N = 100;
const dir = mkdtempSync(join(os.tmpdir(), 'rayts-wf-bench-'));

function chain(n) {
  const ops = ['name: chain', 'ops:', '  op0: { op: noop, args: { value: 0 } }'];
  for (let i = 1; i < n; i++) ops.push(`  op${i}: { op: noop, args: { value: "{op${i - 1}.value}" } }`);
  return ops.join('\n') + '\n';
}
function fanOut(n) {
  const ops = ['name: fanout', 'ops:', '  root: { op: noop, args: { value: 1 } }'];
  for (let i = 0; i < n; i++) ops.push(`  leaf${i}: { op: noop, args: { value: "{root.value}" } }`);
  return ops.join('\n') + '\n';
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timeRuns(name, text) {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, text);
  const t0 = performance.now();
  const def = await loadWorkflow(file);
  const loadMs = performance.now() - t0;
  const times = [];
  for (let r = 0; r < RUNS + 1; r++) {
    const t = performance.now();
    const run = await runWorkflow(def, { home: join(dir, 'home') });
    if (run.status !== 'success') throw new Error(`${name}: ${run.status}`);
    if (r > 0) times.push(performance.now() - t); // the first run warms up
  }
  return { loadMs, runMs: median(times), runs: times.length };
}

function journalOnly() {
  const times = [];
  for (let r = 0; r < RUNS; r++) {
    const fd = openSync(join(dir, `journal-${r}.jsonl`), 'a');
    const t = performance.now();
    for (let i = 0; i < N; i++) {
      for (const type of ['op_started', 'op_succeeded']) writeSync(fd, JSON.stringify({ type, t: Date.now(), op: `op${i}`, attempt: 1, output: { value: i } }) + '\n');
    }
    times.push(performance.now() - t);
    closeSync(fd);
  }
  return median(times);
}

const one = await timeRuns('one', 'name: one\nops:\n  a: { op: noop }\n');
const ch = await timeRuns('chain', chain(N));
const fo = await timeRuns('fanout', fanOut(N));
const jo = journalOnly();
rmSync(dir, { recursive: true, force: true });

const f = (x) => x.toFixed(2);
const rows = [
  ['chain of 100 no-op ops', f(ch.runMs), f(ch.runMs / N), f((ch.runMs - one.runMs) / N), f(ch.loadMs)],
  ['fan-out of 100 no-op ops (+1 root)', f(fo.runMs), f(fo.runMs / (N + 1)), f((fo.runMs - one.runMs) / N), f(fo.loadMs)],
  ['baseline: workflow of 1 no-op op (fixed cost per run)', f(one.runMs), '', '', f(one.loadMs)],
  ['baseline: journal writes only (2 events per op, 200)', f(jo), f(jo / N), '', ''],
];
const load = os.loadavg().map((x) => x.toFixed(1)).join(' ');
const md = `## Workflow (orchestration overhead)

Command: \`node bench/run.mjs --suite workflow\` (${RUNS} runs per row after one warm-up, median). ${new Date().toISOString()}.
Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, load average ${load} — **shared** with other engineers' builds and tests, so these are upper bounds.

| case | run ms | ms per op | ms per op beyond the fixed cost | load+validate ms |
| --- | ---: | ---: | ---: | ---: |
${rows.map((r) => `| ${r.join(' | ')} |`).join('\n')}

Goal (issue 17): ≤ 20 ms per op in the chain. The fixed cost per run is mostly the git lineage (\`git rev-parse\`, \`git status\`) and creating the run's journal; per op the runner writes 2 journal events synchronously (started, succeeded), interpolates arguments, validates them against the op's schema and re-scans for ready ops.
`;
writeSuiteSection('workflow', md);
process.stdout.write(md);
