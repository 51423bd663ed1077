/**
 * Conv2d kernels over NHWC tensors with OHWI weights. The input is first copied into a padded buffer whose
 * border already holds the padding value (0, or the input zero point for int8: the real value 0), so the
 * kernel has no bounds checks: for each output pixel it walks the kernel taps through a precomputed
 * offset table.
 */

import { requantize } from './dense.js';
import { axisGeometry, type Padding } from './geometry.js';
import type { PackedWeights } from './swar.js';

/** Precomputed geometry of one conv2d (or padded copy). */
export interface ConvPlan {
  readonly inH: number;
  readonly inW: number;
  readonly inC: number;
  readonly outH: number;
  readonly outW: number;
  readonly outC: number;
  readonly kernelH: number;
  readonly kernelW: number;
  readonly strideH: number;
  readonly strideW: number;
  readonly padTop: number;
  readonly padLeft: number;
  /** Padded input width. */
  readonly paddedW: number;
  /** Padded input height. */
  readonly paddedH: number;
  /** True when there is no padding, so the input can be read in place. */
  readonly unpadded: boolean;
  /**
   * Offset in the padded input of every weight tap (`ky, kx, ic` in OHWI order) relative to the window's
   * top-left corner, so the kernel's inner loop is one flat loop over taps.
   */
  readonly tapOffsets: Int32Array;
}

/** Builds the plan; the shapes must already be validated. */
export function planConv(
  inShape: readonly number[],
  outC: number,
  kernel: readonly [number, number],
  stride: readonly [number, number],
  padding: Padding,
): ConvPlan {
  const [inH, inW, inC] = inShape;
  const gh = axisGeometry(inH, kernel[0], stride[0], padding)!;
  const gw = axisGeometry(inW, kernel[1], stride[1], padding)!;
  const paddedW = inW + gw.padBefore + gw.padAfter;
  const tapOffsets = new Int32Array(kernel[0] * kernel[1] * inC);
  for (let ky = 0, t = 0; ky < kernel[0]; ky++) {
    for (let kx = 0; kx < kernel[1]; kx++) {
      for (let c = 0; c < inC; c++) tapOffsets[t++] = (ky * paddedW + kx) * inC + c;
    }
  }
  return {
    tapOffsets,
    inH, inW, inC,
    outH: gh.out, outW: gw.out, outC,
    kernelH: kernel[0], kernelW: kernel[1],
    strideH: stride[0], strideW: stride[1],
    padTop: gh.padBefore, padLeft: gw.padBefore,
    paddedH: inH + gh.padBefore + gh.padAfter,
    paddedW,
    unpadded: gh.padBefore + gh.padAfter + gw.padBefore + gw.padAfter === 0,
  };
}

/**
 * Copies `x` into the interior of `padded`. The border is never written here: fill it once with the
 * padding value when the buffer is created.
 */
export function copyIntoPaddedFloat(p: ConvPlan, x: Float32Array, padded: Float32Array): void {
  const rowLen = p.inW * p.inC;
  const paddedRow = p.paddedW * p.inC;
  for (let y = 0; y < p.inH; y++) {
    let src = y * rowLen;
    let dst = (y + p.padTop) * paddedRow + p.padLeft * p.inC;
    for (let i = 0; i < rowLen; i++) padded[dst++] = x[src++];
  }
}

/**
 * Copies `x` into the interior of `padded`. The border is never written here: fill it once with the
 * padding value (the input zero point) when the buffer is created. Separate from the float copy to keep
 * both monomorphic.
 */
export function copyIntoPaddedInt8(p: ConvPlan, x: Int8Array, padded: Int8Array): void {
  const rowLen = p.inW * p.inC;
  const paddedRow = p.paddedW * p.inC;
  for (let y = 0; y < p.inH; y++) {
    let src = y * rowLen;
    let dst = (y + p.padTop) * paddedRow + p.padLeft * p.inC;
    for (let i = 0; i < rowLen; i++) padded[dst++] = x[src++];
  }
}

/** Float32 conv2d on an already padded input. */
export function conv2dFloat(p: ConvPlan, xp: Float32Array, w: Float32Array, b: Float32Array, y: Float32Array): void {
  const off = p.tapOffsets;
  const taps = off.length;
  const rowStride = p.paddedW * p.inC;
  let yi = 0;
  for (let oy = 0; oy < p.outH; oy++) {
    for (let ox = 0; ox < p.outW; ox++) {
      const base = oy * p.strideH * rowStride + ox * p.strideW * p.inC;
      for (let oc = 0; oc < p.outC; oc++) {
        const wb = oc * taps;
        let acc = b[oc];
        for (let t = 0; t < taps; t++) acc += w[wb + t] * xp[base + off[t]];
        y[yi++] = acc;
      }
    }
  }
}

/**
 * Int8 conv2d on an already padded input (border = input zero point), exact int32 accumulation with two
 * output channels per float64 (see `swar.ts`), per-channel requantisation. `biasEff` folds the input zero
 * point in, as in `denseInt8`.
 */
export function conv2dInt8(
  p: ConvPlan,
  xp: Int8Array,
  pw: PackedWeights,
  biasEff: Int32Array,
  multiplier: Float64Array,
  outZeroPoint: number,
  lo: number,
  y: Int8Array,
): void {
  const off = p.tapOffsets;
  const taps = off.length;
  const rowStride = p.paddedW * p.inC;
  const w = pw.packed;
  const two = pw.lanes === 2;
  const S = pw.laneScale;
  const invS = pw.invLaneScale;
  const outC = p.outC;
  let yi = 0;
  for (let oy = 0; oy < p.outH; oy++) {
    for (let ox = 0; ox < p.outW; ox++) {
      const base = oy * p.strideH * rowStride + ox * p.strideW * p.inC;
      for (let g = 0; g < pw.groups; g++) {
        const wb = g * taps;
        let acc = 0;
        for (let t = 0; t < taps; t++) acc += w[wb + t] * xp[base + off[t]];
        if (two) {
          const o = 2 * g;
          const hi = Math.floor(acc * invS + 0.5);
          y[yi + o] = requantize(biasEff[o] + (acc - hi * S), multiplier[o], outZeroPoint, lo);
          if (o + 1 < outC) y[yi + o + 1] = requantize(biasEff[o + 1] + hi, multiplier[o + 1], outZeroPoint, lo);
        } else {
          y[yi + g] = requantize(biasEff[g] + acc, multiplier[g], outZeroPoint, lo);
        }
      }
      yi += outC;
    }
  }
}
