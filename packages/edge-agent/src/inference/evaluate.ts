/**
 * On-device evaluation: accuracy and per-frame latency of a float32 or int8 model over labelled frames.
 * Each frame is timed on its own with a monotonic nanosecond clock (`process.hrtime.bigint` by default),
 * covering exactly what a camera pays per frame: input quantisation (int8), all layers, and output
 * dequantisation/softmax. Warm-up frames run first and are not counted, so JIT compilation does not
 * pollute the percentiles.
 */

import { InferenceError } from './errors.js';
import { FloatExecutor } from './float-executor.js';
import { Int8Executor } from './int8-executor.js';
import type { Int8Model } from './int8-model.js';
import type { FloatModel } from './model.js';
import { intIn, isFunction, resolveOptions } from './options.js';

/** One labelled frame. */
export interface LabelledSample {
  readonly input: Float32Array;
  /** Index of the correct class (argmax of the model output). */
  readonly label: number;
}

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  /** Frames run before timing starts (taken cyclically from the samples). Default 20. */
  warmupFrames?: number;
  /** Monotonic clock in nanoseconds. Default `process.hrtime.bigint`. Injected by tests. */
  now?: () => bigint;
}

/** Latency percentiles in milliseconds (nearest-rank). */
export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly mean: number;
}

/** What {@link evaluate} measured. */
export interface EvaluationResult {
  /** Fraction of frames whose output argmax equals the label, in [0, 1]. */
  readonly accuracy: number;
  /** Per-frame latency. */
  readonly latencyMs: LatencySummary;
  /** Number of timed frames (= samples). */
  readonly frames: number;
}

/** Index of the largest value (first one on ties). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Nearest-rank percentile of ascending `sorted` (p in (0, 100]). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/**
 * Runs every sample once (after warm-up) and reports accuracy and latency percentiles.
 *
 * @throws InferenceError `INFERENCE_INVALID_INPUT` for an empty sample list or a bad frame,
 *   `INFERENCE_INVALID_MODEL` for an invalid model, `INFERENCE_INVALID_OPTIONS` for bad options.
 */
export function evaluate(
  model: FloatModel | Int8Model,
  samples: readonly LabelledSample[],
  opts?: EvaluateOptions,
): EvaluationResult {
  const o = resolveOptions<Required<EvaluateOptions>>(
    'evaluate()',
    opts,
    { warmupFrames: 20, now: process.hrtime.bigint },
    { warmupFrames: intIn(0, 1_000_000), now: isFunction },
  );
  if (!Array.isArray(samples) || samples.length === 0) {
    throw new InferenceError('INFERENCE_INVALID_INPUT', 'evaluate() needs at least one labelled sample ({ input, label }).');
  }
  const ex: { run(x: Float32Array): Float32Array } =
    model?.dtype === 'int8' ? new Int8Executor(model) : new FloatExecutor(model as FloatModel);
  for (let i = 0; i < o.warmupFrames; i++) ex.run(samples[i % samples.length].input);

  const now = o.now;
  const latencies = new Float64Array(samples.length);
  let correct = 0;
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i];
    const t0 = now();
    const out = ex.run(s.input);
    const t1 = now();
    latencies[i] = Number(t1 - t0) / 1e6;
    if (argmax(out) === s.label) correct++;
  }
  let sum = 0;
  for (const l of latencies) sum += l;
  latencies.sort();
  return {
    accuracy: correct / samples.length,
    latencyMs: {
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      mean: sum / samples.length,
    },
    frames: samples.length,
  };
}
