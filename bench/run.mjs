#!/usr/bin/env node
/**
 * Runs the benchmark suites and records the results.
 *
 *   node bench/run.mjs [--suite baselines|core|all] [--only REGEX] [--runs N] [--seconds S] [--md|--no-md] [--verbose]
 *   node bench/run.mjs --render bench/results/<file>.json      (only regenerate RESULTS.md)
 *
 * Suites: `baselines` = bench/cases/*.mjs, `core` = bench/cases/core/*.mjs (Ray's rows, embedded and
 * on a three-process loopback cluster). Each case file runs in its own child process (lib/case-runner.mjs).
 * Writes bench/results/<timestamp>.json and regenerates bench/RESULTS.md (not for --only runs unless --md).
 * Timing: RAYTS_BENCH_RUNS [4], RAYTS_BENCH_SECONDS [2], RAYTS_BENCH_WARMUP_SECONDS [1]; --runs/--seconds set them.
 * Library suites: `--suite NAME` where bench/NAME/run.mjs exists (data, tune, serve, workflow, ops…) runs
 * that script with the remaining arguments; it writes its own section of RESULTS.md (lib/results-section.mjs).
 * A case file that cannot be imported (the core is not built yet) is recorded as skipped, with the reason.
 */
import { execFileSync, fork } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatNumber, messageOf, timingFromEnv } from './harness.mjs';
import { stopChild } from './lib/child.mjs';
import { clusterUnavailableReason, startLoopbackCluster } from './lib/loopback-cluster.mjs';
import { memInfo } from './lib/meminfo.mjs';
import { deriveRatios, renderResultsMd } from './lib/report.mjs';
import { RAY_248 } from './ray-2.48.mjs';

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
const REPO_ROOT = join(BENCH_DIR, '..');
const RESULTS_DIR = join(BENCH_DIR, 'results');
const RESULTS_MD = join(BENCH_DIR, 'RESULTS.md');
const CASE_RUNNER = join(BENCH_DIR, 'lib', 'case-runner.mjs');
const SUITES = ['baselines', 'core', 'all'];
const FLAGS = ['--suite', '--only', '--runs', '--seconds', '--md', '--no-md', '--verbose', '--render', '--help'];

function parseArgs(argv) {
  const o = { suite: 'all', only: undefined, md: undefined, verbose: false };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--suite') o.suite = value();
    else if (a === '--only') o.only = value();
    else if (a === '--runs') process.env.RAYTS_BENCH_RUNS = value();
    else if (a === '--seconds') process.env.RAYTS_BENCH_SECONDS = value();
    else if (a === '--md') o.md = true;
    else if (a === '--no-md') o.md = false;
    else if (a === '--verbose') o.verbose = true;
    else if (a === '--render') o.render = value();
    else if (a === '--help' || a === '-h') o.help = true;
    else throw new Error(`unknown argument "${a}"; valid: ${FLAGS.join(', ')}`);
  }
  if (!SUITES.includes(o.suite)) throw new Error(`--suite ${o.suite}: expected one of ${SUITES.join(', ')}`);
  if (o.only !== undefined) new RegExp(o.only); // a bad pattern fails here, not in every child
  return o;
}

function caseFiles(suite) {
  const list = (dir) =>
    existsSync(dir)
      ? readdirSync(dir)
          .filter((f) => f.endsWith('.mjs') && !f.startsWith('_'))
          .map((f) => join(dir, f))
      : [];
  const files = [];
  if (suite !== 'core') files.push(...list(join(BENCH_DIR, 'cases')).sort().map((file) => ({ suite: 'baselines', file })));
  if (suite !== 'baselines') {
    const order = (f) => {
      const i = RAY_248.findIndex((r) => r.file === basename(f, '.mjs'));
      return i < 0 ? RAY_248.length : i;
    };
    files.push(...list(join(BENCH_DIR, 'cases', 'core')).sort((a, b) => order(a) - order(b) || a.localeCompare(b)).map((file) => ({ suite: 'core', file })));
  }
  return files;
}

function gitCommit() {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty', '--abbrev=12'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function machine() {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model?.trim() ?? 'unknown',
    cpuCount: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadavgStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

function commandLine(argv) {
  const env = ['RAYTS_BENCH_RUNS', 'RAYTS_BENCH_SECONDS', 'RAYTS_BENCH_WARMUP_SECONDS']
    .filter((k) => process.env[k])
    .map((k) => `${k}=${process.env[k]}`);
  const quote = (s) => (/^[\w./=:-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);
  return [...env, 'node', 'bench/run.mjs', ...argv.map(quote)].join(' ');
}

/** Hang guard per bench (not a timed assertion): generous, derived from the timing settings. */
function watchdogMs(timing) {
  return (180 + 3 * (timing.warmupSeconds + timing.runs * timing.seconds)) * 1000;
}

/**
 * Memory guard (the machine is shared): a case is stopped when the machine's available memory falls
 * below RAYTS_BENCH_MIN_FREE_FRACTION [0.2] of the total, instead of letting the kernel's OOM killer pick
 * a process (it picked a case process at 23 GB once, and could pick anyone's).
 */
const MIN_FREE_FRACTION = Number(process.env.RAYTS_BENCH_MIN_FREE_FRACTION || 0.2);

/** Runs one case file in a child; resolves to the records it produced (and skip records if it could not load). */
function runCaseFile({ suite, file }, { env, timing, verbose, onLine }) {
  return new Promise((resolve) => {
    const records = [];
    const child = fork(CASE_RUNNER, [file], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    let output = '';
    const keep = (chunk) => {
      output = (output + chunk).slice(-4000);
      if (verbose) process.stderr.write(chunk);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let current;
    let timer;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        records.push({ ...current, error: `no result after ${watchdogMs(timing) / 1000} s; case process killed` });
        onLine(`  ${label(current)}: killed (hung)`);
        current = undefined;
        stopChild(child).catch(() => {});
      }, watchdogMs(timing));
    };
    const guard = setInterval(() => {
      const mem = memInfo();
      if (!mem || !current || mem.available >= MIN_FREE_FRACTION * mem.total) return;
      clearTimeout(timer);
      const gib = (b) => (b / 2 ** 30).toFixed(1);
      records.push({ ...current, error: `stopped by the bench's memory guard: the machine had ${gib(mem.available)} of ${gib(mem.total)} GiB available (< ${MIN_FREE_FRACTION * 100}%); case process killed (objects not freed?)` });
      onLine(`  ${label(current)}: killed (memory guard)`);
      current = undefined;
      stopChild(child, 200).catch(() => {});
    }, 250);
    child.on('message', (m) => {
      if (m.type === 'load-failed') {
        const row = RAY_248.find((r) => r.file === basename(file, '.mjs'));
        if (suite === 'core' && row) {
          for (const variant of ['embedded', 'cluster']) records.push({ name: row.metric, variant, unit: row.unit, ray248: row.value, skipped: m.reason });
        } else records.push({ name: basename(file, '.mjs'), skipped: m.reason });
        onLine(`  ${relative(BENCH_DIR, file)}: skipped (${m.reason.split('\n')[0].slice(0, 160)})`);
      } else if (m.type === 'start') {
        current = { name: m.name, variant: m.variant };
        arm();
      } else if (m.type === 'result') {
        clearTimeout(timer);
        current = undefined;
        records.push(m.result);
        onLine(`  ${describe(m.result)}`);
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      clearInterval(guard);
      if (current) records.push({ ...current, error: `case process exited (${signal ?? code}) mid-bench: ${output.trim().slice(-600)}` });
      else if (code !== 0 && records.length === 0) records.push({ name: basename(file, '.mjs'), error: `case process exited (${signal ?? code}): ${output.trim().slice(-600)}` });
      resolve(records);
    });
  });
}

const label = (r) => (r.variant ? `${r.name} [${r.variant}]` : r.name);

function describe(r) {
  if (r.skipped) return `${label(r)}: skipped (${r.skipped.slice(0, 160)})`;
  if (r.error) return `${label(r)}: FAILED (${r.error.slice(0, 300)})`;
  return `${label(r)}: ${formatNumber(r.mean)} ± ${formatNumber(r.sd)} ${r.unit}`;
}

/** `--suite NAME` of a library suite: bench/NAME/run.mjs, or undefined. */
function librarySuite(argv) {
  const i = argv.indexOf('--suite');
  const name = i >= 0 ? argv[i + 1] : undefined;
  if (!name || SUITES.includes(name) || !/^[\w-]+$/.test(name)) return undefined;
  const script = join(BENCH_DIR, name, 'run.mjs');
  return existsSync(script) ? { script, args: [...argv.slice(0, i), ...argv.slice(i + 2)] } : undefined;
}

async function main() {
  const argv = process.argv.slice(2);
  const lib = librarySuite(argv);
  if (lib) {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, [lib.script, ...lib.args], { cwd: REPO_ROOT, stdio: 'inherit' });
    process.exitCode = r.status ?? 1;
    return;
  }
  const opts = parseArgs(argv);
  if (opts.help) {
    process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0].replace(/^#!.*\n\/\*\*?/, '').replace(/^ \* ?/gm, ''));
    return;
  }
  if (opts.render) {
    const run = JSON.parse(readFileSync(opts.render, 'utf8'));
    writeFileSync(RESULTS_MD, renderResultsMd(run, existsSync(RESULTS_MD) ? readFileSync(RESULTS_MD, 'utf8') : ''));
    process.stdout.write(`wrote ${relative(process.cwd(), RESULTS_MD)} from ${opts.render}\n`);
    return;
  }

  const timing = timingFromEnv();
  const files = caseFiles(opts.suite);
  const only = opts.only ? new RegExp(opts.only) : undefined;
  const log = (line) => process.stdout.write(`${line}\n`);
  const date = new Date();
  const run = {
    date: date.toISOString(),
    command: commandLine(argv),
    node: process.version,
    commit: gitCommit(),
    machine: machine(),
    timing,
    suites: opts.suite === 'all' ? ['baselines', 'core'] : [opts.suite],
    only: opts.only,
    results: [],
  };
  log(`rayts bench: ${run.command}`);
  log(`  ${run.machine.cpuCount} × ${run.machine.cpuModel}, Node ${run.node}, commit ${run.commit}, ${timing.runs} runs × ${timing.seconds} s`);

  // Embedded runs get their own session root, so nothing here touches another cluster's session_latest.
  const sessionRoot = mkdtempSync(join(os.tmpdir(), 'rayts-bench-embedded-'));
  let cluster;
  const cleanup = async () => {
    if (cluster) await cluster.stop().catch((e) => log(`  loopback cluster stop failed: ${messageOf(e)}`));
    cluster = undefined;
    rmSync(sessionRoot, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      log(`\n${sig}: stopping`);
      cleanup().finally(() => process.exit(130));
    });
  }

  const env = {
    ...process.env,
    RAYTS_TMPDIR: sessionRoot,
    RAYTS_BENCH_ONLY: opts.only ?? '',
    RAYTS_BENCH_VERBOSE: opts.verbose ? '1' : '0',
    RAYTS_BENCH_RUNS: String(timing.runs),
    RAYTS_BENCH_SECONDS: String(timing.seconds),
    RAYTS_BENCH_WARMUP_SECONDS: String(timing.warmupSeconds),
  };

  try {
    for (const suite of run.suites) {
      const selected = files.filter((f) => {
        if (f.suite !== suite) return false;
        if (!only || suite !== 'core') return true; // baseline files filter by bench name in the child
        const row = RAY_248.find((r) => r.file === basename(f.file, '.mjs'));
        return only.test(basename(f.file, '.mjs')) || (row && (only.test(row.metric) || only.test(`${row.metric} [embedded]`) || only.test(`${row.metric} [cluster]`)));
      });
      if (selected.length === 0) continue;
      log(`\n== ${suite} (${selected.length} file${selected.length === 1 ? '' : 's'})`);
      const suiteEnv = { ...env };
      if (suite === 'core') {
        let reason = clusterUnavailableReason();
        if (!reason) {
          log('  starting the three-process loopback cluster (rayts start --head + 2 × rayts start --address)');
          try {
            cluster = await startLoopbackCluster();
            log(`  cluster head at ${cluster.address}`);
          } catch (err) {
            reason = `loopback cluster failed to start: ${messageOf(err)}`;
          }
        }
        if (reason) {
          log(`  3-process variant will be skipped: ${reason}`);
          suiteEnv.RAYTS_BENCH_CLUSTER_SKIP = reason;
        } else Object.assign(suiteEnv, cluster.env);
      }
      for (const f of selected) {
        log(` ${relative(BENCH_DIR, f.file)}`);
        const records = await runCaseFile(f, { env: suiteEnv, timing, verbose: opts.verbose, onLine: log });
        run.results.push(...records.map((r) => ({ suite, file: relative(BENCH_DIR, f.file), ...r })));
      }
      if (suite === 'core') await cleanup();
    }
  } finally {
    await cleanup();
  }

  run.results = deriveRatios(run.results);
  run.machine.loadavgEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);
  mkdirSync(RESULTS_DIR, { recursive: true });
  run.file = `${date.toISOString().replace(/[:]/g, '-').replace(/\.\d+Z$/, 'Z')}.json`;
  const out = join(RESULTS_DIR, run.file);
  writeFileSync(`${out}.tmp`, `${JSON.stringify(run, null, 2)}\n`);
  renameSync(`${out}.tmp`, out);
  log(`\nwrote ${relative(process.cwd(), out)}`);

  const writeMd = opts.md ?? !opts.only;
  if (writeMd) {
    const previous = existsSync(RESULTS_MD) ? readFileSync(RESULTS_MD, 'utf8') : '';
    writeFileSync(RESULTS_MD, renderResultsMd(run, previous));
    log(`wrote ${relative(process.cwd(), RESULTS_MD)}`);
  } else log(`RESULTS.md left as it is (${opts.md === false ? '--no-md' : '--only run; pass --md to regenerate it from this run'})`);
}

main().catch((err) => {
  process.stderr.write(`bench/run.mjs: ${messageOf(err)}\n`);
  process.exit(1);
});
