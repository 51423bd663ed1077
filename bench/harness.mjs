/**
 * The benchmark harness: one definition per benchmark question, timed the way Ray's
 * `ray_microbenchmark_helpers.timeit` times its rows, so our figures and Ray's mean the same thing.
 *
 *   warm-up: call `run` repeatedly for ~1 s (RAYTS_BENCH_WARMUP_SECONDS), counting calls;
 *   step = calls / 10 + 1;
 *   then RAYTS_BENCH_RUNS runs [4]: call `run` in groups of `step` until RAYTS_BENCH_SECONDS [2] have
 *   passed; rate = (sum of the counts `run` returned) / elapsed seconds;
 *   report the mean and the population standard deviation of the rates (numpy's np.std, as Ray).
 *
 * `run` does one unit of Ray's timed function and returns how many units of the row's `unit` it did
 * (Ray's multiplier): 1000 for "submit 1000 tasks, get all" in tasks/s, 1 for the same in batches/s.
 *
 * This module only measures. Which files are loaded, in which process, and how results are written is
 * bench/run.mjs's job. Nothing here asserts on time: a slow figure is a figure, never a failure.
 *
 * @example
 *   import { defineBench } from '../harness.mjs';
 *   export default defineBench({
 *     name: 'array_push', unit: 'pushes/s',
 *     setup: () => [],                       // its value is ctx.state
 *     run: async (ctx) => { ctx.state.push(1); return 1; },
 *   });
 */

const BENCH = Symbol.for('rayts.bench.definition');

const KEYS = ['name', 'unit', 'ray248', 'baseline', 'anchor', 'target', 'variant', 'skip', 'setup', 'run', 'teardown'];

/**
 * Declares one benchmark.
 *
 * @param {object} def
 * @param {string} def.name      metric name; core rows use Ray's metric names exactly.
 * @param {string} def.unit      e.g. 'tasks/s', 'GB/s' (count per second of what `run` returns).
 * @param {number} [def.ray248]  Ray 2.48's published figure for the same metric (see bench/ray-2.48.mjs).
 * @param {string} [def.baseline] name of a baseline bench measured in the same run to compare with.
 * @param {number} [def.anchor]  this machine's figure from shared/anchors/node-baselines.md, for context.
 * @param {{atLeast?: number, atLeastOfBaseline?: number}} [def.target] issue 7's target; reported, never asserted.
 * @param {string} [def.variant] 'embedded' | 'cluster' for core rows; absent for baselines.
 * @param {() => (string|undefined|Promise<string|undefined>)} [def.skip] returns a reason to skip, or nothing.
 * @param {(ctx: object) => unknown} [def.setup] its (awaited) value becomes `ctx.state`.
 * @param {(ctx: object) => Promise<number>} def.run one unit of work; returns the count it did.
 * @param {(ctx: object) => unknown} [def.teardown] always called after setup succeeded.
 * @returns {object} the frozen definition.
 * @throws {TypeError} on a missing name/unit/run or an unknown key (the message lists the valid keys).
 */
export function defineBench(def) {
  if (def === null || typeof def !== 'object') throw new TypeError('defineBench: expected an object');
  for (const k of Object.keys(def)) {
    if (!KEYS.includes(k)) throw new TypeError(`defineBench: unknown key "${k}"; valid keys: ${KEYS.join(', ')}`);
  }
  if (typeof def.name !== 'string' || def.name === '') throw new TypeError('defineBench: name must be a non-empty string');
  if (typeof def.unit !== 'string' || def.unit === '') throw new TypeError(`defineBench(${def.name}): unit must be a non-empty string`);
  if (typeof def.run !== 'function') throw new TypeError(`defineBench(${def.name}): run must be a function`);
  for (const k of ['skip', 'setup', 'teardown']) {
    if (def[k] !== undefined && typeof def[k] !== 'function') throw new TypeError(`defineBench(${def.name}): ${k} must be a function`);
  }
  if (def.ray248 !== undefined && !(typeof def.ray248 === 'number' && def.ray248 > 0)) {
    throw new TypeError(`defineBench(${def.name}): ray248 must be a positive number`);
  }
  return Object.freeze({ ...def, [BENCH]: true });
}

/** True for values made by defineBench. */
export function isBench(value) {
  return value !== null && typeof value === 'object' && value[BENCH] === true;
}

/** Collects the definitions a case module exports (default or named; single or arrays). */
export function benchesOf(mod) {
  const out = [];
  const visit = (v) => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (isBench(v) && !out.includes(v)) out.push(v);
  };
  visit(mod.default); // the default export first: it can fix the order (namespace keys are alphabetical)
  for (const v of Object.values(mod)) visit(v);
  return out;
}

function envNumber(name, fallback, env) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new TypeError(`${name}=${raw}: expected a positive number`);
  return n;
}

/** Timing settings from the environment: RAYTS_BENCH_RUNS [4], RAYTS_BENCH_SECONDS [2], RAYTS_BENCH_WARMUP_SECONDS [1]. */
export function timingFromEnv(env = process.env) {
  return Object.freeze({
    runs: Math.max(1, Math.round(envNumber('RAYTS_BENCH_RUNS', 4, env))),
    seconds: envNumber('RAYTS_BENCH_SECONDS', 2, env),
    warmupSeconds: envNumber('RAYTS_BENCH_WARMUP_SECONDS', 1, env),
  });
}

const now = () => Number(process.hrtime.bigint()) / 1e9;

function checkCount(name, count) {
  if (typeof count !== 'number' || !Number.isFinite(count) || count < 0) {
    throw new TypeError(`${name}: run() must return the count of units it did (a number >= 0), got ${String(count)}`);
  }
  return count;
}

/** Population mean and standard deviation (np.mean / np.std, as Ray reports). */
export function meanSd(xs) {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
  return { mean, sd };
}

/**
 * Runs one definition: skip check, setup, warm-up, timed runs, teardown.
 * Resolves to a result record; never rejects (a failure is a record with `error`).
 *
 * @param {object} bench a defineBench value
 * @param {{runs: number, seconds: number, warmupSeconds: number}} [timing]
 * @param {(line: string) => void} [log]
 */
export async function runBench(bench, timing = timingFromEnv(), log = () => {}) {
  const base = {
    name: bench.name,
    variant: bench.variant,
    unit: bench.unit,
    ray248: bench.ray248,
    baseline: bench.baseline,
    anchor: bench.anchor,
    target: bench.target,
  };
  let reason;
  try {
    reason = bench.skip ? await bench.skip() : undefined;
  } catch (err) {
    reason = `skip check threw: ${messageOf(err)}`;
  }
  if (reason) return { ...base, skipped: String(reason) };

  const ctx = { name: bench.name, variant: bench.variant, timing, state: undefined, log };
  const started = now();
  try {
    ctx.state = bench.setup ? await bench.setup(ctx) : undefined;
  } catch (err) {
    return { ...base, error: `setup failed: ${messageOf(err)}`, stack: stackOf(err) };
  }
  let result;
  try {
    let calls = 0;
    const w0 = now();
    while (now() - w0 < timing.warmupSeconds) {
      checkCount(bench.name, await bench.run(ctx));
      calls += 1;
    }
    const step = Math.floor(calls / 10) + 1;
    const runs = [];
    const counts = [];
    for (let r = 0; r < timing.runs; r += 1) {
      let count = 0;
      const t0 = now();
      while (now() - t0 < timing.seconds) {
        for (let i = 0; i < step; i += 1) count += checkCount(bench.name, await bench.run(ctx));
      }
      const elapsed = now() - t0;
      runs.push(count / elapsed);
      counts.push(count);
      log(`  run ${r + 1}/${timing.runs}: ${formatNumber(count / elapsed)} ${bench.unit}`);
    }
    const { mean, sd } = meanSd(runs);
    result = { ...base, mean, sd, runs, counts, warmupCalls: calls, step, timing };
  } catch (err) {
    result = { ...base, error: `run failed: ${messageOf(err)}`, stack: stackOf(err) };
  }
  try {
    if (bench.teardown) await bench.teardown(ctx);
  } catch (err) {
    result.teardownError = messageOf(err);
  }
  result.wallSeconds = now() - started;
  return result;
}

export function messageOf(err) {
  if (err instanceof Error) return err.code ? `${err.code}: ${err.message}` : err.message;
  return String(err);
}

function stackOf(err) {
  return err instanceof Error ? err.stack : undefined;
}

/** 1234567 → "1,234,567"; 12.345 → "12.3"; 0.01234 → "0.0123". */
export function formatNumber(x) {
  if (x === undefined || x === null || !Number.isFinite(x)) return '–';
  const abs = Math.abs(x);
  if (abs >= 100) return Math.round(x).toLocaleString('en-US');
  if (abs >= 10) return x.toFixed(1);
  if (abs >= 1) return x.toFixed(2);
  return x.toPrecision(3);
}
