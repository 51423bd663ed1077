/**
 * The arithmetic of int8 quantisation, shared by the converter, the executor and the tests.
 * `real = scale * (q - zeroPoint)`; rounding is half towards +∞ (`Math.round`'s rule) everywhere,
 * written `Math.floor(x + 0.5)` in hot loops because it compiles branch-free.
 */

import type { QuantParams } from './int8-model.js';

/** Quantises one real value with saturation to [-128, 127]. */
export function quantizeValue(r: number, q: QuantParams): number {
  return Math.min(127, Math.max(-128, Math.floor(r / q.scale + 0.5) + q.zeroPoint));
}

/** Quantises `x` into `out` (same length). Allocation-free. */
export function quantizeInto(x: Float32Array, q: QuantParams, out: Int8Array): void {
  const inv = 1 / q.scale;
  const zp = q.zeroPoint;
  for (let i = 0; i < x.length; i++) {
    out[i] = Math.min(127, Math.max(-128, Math.floor(x[i] * inv + 0.5) + zp));
  }
}

/** Dequantises the first `n` values of `q` into `out`. Allocation-free. */
export function dequantizeInto(x: Int8Array, q: QuantParams, out: Float32Array, n: number): void {
  const s = q.scale;
  const zp = q.zeroPoint;
  for (let i = 0; i < n; i++) out[i] = s * (x[i] - zp);
}

/**
 * Asymmetric int8 parameters covering [min, max]. The range is widened to include 0 so that the real
 * value 0 (padding, relu floor) is exactly representable; a degenerate range gets scale 1.
 * The scale is rounded to float32 so models serialise exactly.
 */
export function chooseActivationQuant(min: number, max: number): QuantParams {
  const lo = Math.min(min, 0);
  const hi = Math.max(max, 0);
  if (!(hi - lo > 0) || !Number.isFinite(hi - lo)) return { scale: 1, zeroPoint: 0 };
  const scale = Math.fround((hi - lo) / 255);
  let zeroPoint = Math.round(-128 - lo / scale);
  if (zeroPoint < -128) zeroPoint = -128;
  if (zeroPoint > 127) zeroPoint = 127;
  return { scale, zeroPoint };
}

/**
 * Symmetric per-output-channel weight quantisation: `scale[o] = max|w[o, :]| / 127`,
 * `q = clamp(round(w / scale[o]), -127, 127)`. An all-zero channel gets scale 1.
 */
export function quantizeWeightsPerChannel(w: Float32Array, outChannels: number): { weights: Int8Array; scales: Float32Array } {
  const per = w.length / outChannels;
  const weights = new Int8Array(w.length);
  const scales = new Float32Array(outChannels);
  for (let o = 0; o < outChannels; o++) {
    let maxAbs = 0;
    for (let i = o * per; i < (o + 1) * per; i++) maxAbs = Math.max(maxAbs, Math.abs(w[i]));
    const s = maxAbs > 0 ? Math.fround(maxAbs / 127) : 1;
    scales[o] = s;
    for (let i = o * per; i < (o + 1) * per; i++) {
      const v = Math.round(w[i] / s);
      weights[i] = v < -127 ? -127 : v > 127 ? 127 : v;
    }
  }
  return { weights, scales };
}

/** Bias in accumulator scale `inputScale * weightScale[o]`, rounded and saturated to int32. */
export function quantizeBias(b: Float32Array, inputScale: number, weightScales: Float32Array): Int32Array {
  const out = new Int32Array(b.length);
  for (let o = 0; o < b.length; o++) {
    const v = Math.round(b[o] / (inputScale * weightScales[o]));
    out[o] = Math.max(-(2 ** 31) + 1, Math.min(2 ** 31 - 1, v));
  }
  return out;
}
