#!/usr/bin/env node
/**
 * `rayts-tune` (also `rayts tune …`): `list DIR` prints one line per experiment under a storage path;
 * `show DIR` prints an experiment's trial table and best trial and writes an SVG plot of the metric
 * over iterations per trial.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ResultGrid } from './result-grid.js';
import { STATE_FILE } from './experiment-store.js';
import { writePlot } from './plot.js';

const USAGE = `usage: rayts tune list [STORAGE_PATH]      experiments under a storage path [./tune-results]
       rayts tune show EXPERIMENT_DIR [--metric NAME] [--out FILE.svg]
                                           trial table, best trial, and an SVG plot of the metric`;

function fail(msg: string): never {
  process.stderr.write(`rayts tune: ${msg}\n`);
  process.exit(2);
}

function experimentDirs(root: string): string[] {
  if (existsSync(join(root, STATE_FILE))) return [root];
  return readdirSync(root)
    .map((d) => join(root, d))
    .filter((d) => statSync(d).isDirectory() && existsSync(join(d, STATE_FILE)));
}

function main(argv: string[]): void {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h') {
    process.stdout.write(USAGE + '\n');
    return;
  }
  if (cmd === 'list') {
    const root = resolve(rest[0] ?? './tune-results');
    if (!existsSync(root)) fail(`${root} does not exist. Pass the storagePath of your experiments.`);
    const dirs = experimentDirs(root);
    if (!dirs.length) {
      process.stdout.write(`No experiments under ${root}.\n`);
      return;
    }
    for (const d of dirs) {
      const g = ResultGrid.fromPath(d);
      const counts = new Map<string, number>();
      for (const r of g) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
      let best = '';
      try {
        const b = g.getBestResult();
        best = `  best ${b.trialId} ${g.state.metric}=${String(b.metrics[g.state.metric!])}`;
      } catch {
        /* no metric reported */
      }
      process.stdout.write(`${g.state.name}  ${g.length} trials (${[...counts].map(([s, n]) => `${n} ${s}`).join(', ')})${g.state.finished ? '' : '  [unfinished: Tuner.restore resumes it]'}${best}\n  ${d}\n`);
    }
    return;
  }
  if (cmd === 'show') {
    const dir = rest[0];
    if (!dir || dir.startsWith('--')) fail('show needs an experiment directory (storagePath/name).');
    let metric: string | undefined;
    let out: string | undefined;
    for (let i = 1; i < rest.length; i++) {
      if (rest[i] === '--metric') metric = rest[++i];
      else if (rest[i] === '--out') out = rest[++i];
      else fail(`unknown argument ${rest[i]}.\n${USAGE}`);
    }
    const abs = resolve(dir);
    if (!existsSync(join(abs, STATE_FILE))) fail(`${abs} is not an experiment directory (no ${STATE_FILE}). Try rayts tune list ${abs}.`);
    const g = ResultGrid.fromPath(abs);
    process.stdout.write(`experiment ${g.state.name} (${abs})\n${g.toTable()}\n`);
    const m = metric ?? g.state.metric;
    if (m) {
      try {
        const b = g.getBestResult(m, g.state.mode);
        process.stdout.write(`best trial: ${b.trialId} ${m}=${String(b.metrics[m])} config=${JSON.stringify(b.config)}\n`);
      } catch {
        process.stdout.write(`no trial reported ${m}\n`);
      }
    }
    for (const e of g.errors) process.stdout.write(`error in ${e.trialId}: ${e.error.message.split('\n')[0]}\n`);
    process.stdout.write(`plot: ${writePlot(g, m, out ? resolve(out) : undefined)}\n`);
    return;
  }
  fail(`unknown command "${cmd}".\n${USAGE}`);
}

try {
  main(process.argv.slice(2));
} catch (e) {
  fail((e as Error).message);
}
