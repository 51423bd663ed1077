/**
 * Dense kernels. Both write into caller-owned buffers and allocate nothing; both unroll the dot product
 * by four (independent partial sums let the CPU overlap the multiply-adds).
 */

import type { PackedWeights } from './swar.js';

/** Float32 dense: `y[o] = b[o] + Σ_i w[o, i] x[i]`. */
export function denseFloat(
  x: Float32Array,
  w: Float32Array,
  b: Float32Array,
  inFeatures: number,
  outFeatures: number,
  y: Float32Array,
): void {
  const tail = inFeatures & ~3;
  for (let o = 0; o < outFeatures; o++) {
    const wb = o * inFeatures;
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    let i = 0;
    for (; i < tail; i += 4) {
      a0 += w[wb + i] * x[i];
      a1 += w[wb + i + 1] * x[i + 1];
      a2 += w[wb + i + 2] * x[i + 2];
      a3 += w[wb + i + 3] * x[i + 3];
    }
    for (; i < inFeatures; i++) a0 += w[wb + i] * x[i];
    y[o] = b[o] + a0 + a1 + a2 + a3;
  }
}

/**
 * Requantises one int32 accumulator: `clamp(round(acc * multiplier) + zeroPoint, lo, 127)`.
 * `lo` is -128, or the output zero point when a relu is fused.
 */
export function requantize(acc: number, multiplier: number, zeroPoint: number, lo: number): number {
  // Kept branch-free: about half of all values hit the relu clamp, unpredictably, so branches mispredict
  // on real frames. floor(x + 0.5) is Math.round's rounding (half towards +∞) as one instruction (V8's
  // Math.round adds a data-dependent branch), and Math.min/max become min/max instructions.
  return Math.min(127, Math.max(lo, Math.floor(acc * multiplier + 0.5) + zeroPoint));
}

/**
 * Int8 dense with exact int32 accumulation (two channels per float64, see `swar.ts`) and per-channel
 * requantisation. `biasEff[o] = bias[o] - inputZeroPoint * Σ_i w[o, i]` folds the input zero point into
 * the bias, so the inner loop is a plain dot product with the raw int8 activations.
 */
export function denseInt8(
  x: Int8Array,
  pw: PackedWeights,
  biasEff: Int32Array,
  multiplier: Float64Array,
  inFeatures: number,
  outFeatures: number,
  outZeroPoint: number,
  lo: number,
  y: Int8Array,
): void {
  const w = pw.packed;
  const tail = inFeatures & ~3;
  const two = pw.lanes === 2;
  const S = pw.laneScale;
  const invS = pw.invLaneScale;
  for (let g = 0; g < pw.groups; g++) {
    const wb = g * inFeatures;
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    let i = 0;
    for (; i < tail; i += 4) {
      a0 += w[wb + i] * x[i];
      a1 += w[wb + i + 1] * x[i + 1];
      a2 += w[wb + i + 2] * x[i + 2];
      a3 += w[wb + i + 3] * x[i + 3];
    }
    for (; i < inFeatures; i++) a0 += w[wb + i] * x[i];
    const acc = a0 + a1 + a2 + a3;
    if (two) {
      const o = 2 * g;
      const hi = Math.floor(acc * invS + 0.5);
      y[o] = requantize(biasEff[o] + (acc - hi * S), multiplier[o], outZeroPoint, lo);
      if (o + 1 < outFeatures) y[o + 1] = requantize(biasEff[o + 1] + hi, multiplier[o + 1], outZeroPoint, lo);
    } else {
      y[g] = requantize(biasEff[g] + acc, multiplier[g], outZeroPoint, lo);
    }
  }
}
