/**
 * Shape-preserving and pooling kernels: relu, maxpool2d, softmax. No allocation.
 */

/*
 * Float and int8 variants are separate functions on purpose: one function fed both array types becomes
 * polymorphic in V8 and slows both paths. The int8 variants use Math.max: relu and pooling
 * decisions are unpredictable on real frames and integer max does not mispredict; for float32 a plain
 * comparison measured faster.
 */

/** Float relu: `y = max(x, 0)`. */
export function reluFloat(x: Float32Array, y: Float32Array, n: number): void {
  // A comparison measured faster than Math.max for float32 (Math.max must handle NaN and -0).
  for (let i = 0; i < n; i++) {
    const v = x[i];
    y[i] = v > 0 ? v : 0;
  }
}

/** Int8 relu: `y = max(x, zeroPoint)` (the zero point is the real value 0). */
export function reluInt8(x: Int8Array, zeroPoint: number, y: Int8Array, n: number): void {
  for (let i = 0; i < n; i++) y[i] = Math.max(x[i], zeroPoint);
}

/** Geometry of a `'valid'` max pool over `[inH, inW, channels]`. */
export interface PoolPlan {
  readonly inW: number;
  readonly channels: number;
  readonly outH: number;
  readonly outW: number;
  readonly poolH: number;
  readonly poolW: number;
  readonly strideH: number;
  readonly strideW: number;
}

/** Float max pool. */
export function maxPoolFloat(p: PoolPlan, x: Float32Array, y: Float32Array): void {
  const c = p.channels;
  const rowStride = p.inW * c;
  let yi = 0;
  for (let oy = 0; oy < p.outH; oy++) {
    for (let ox = 0; ox < p.outW; ox++) {
      const base = oy * p.strideH * rowStride + ox * p.strideW * c;
      for (let ch = 0; ch < c; ch++) {
        let m = -Infinity;
        for (let ky = 0; ky < p.poolH; ky++) {
          let xi = base + ky * rowStride + ch;
          for (let kx = 0; kx < p.poolW; kx++, xi += c) {
            const v = x[xi];
            if (v > m) m = v;
          }
        }
        y[yi++] = m;
      }
    }
  }
}

/** Int8 max pool: works directly on quantised values because quantisation preserves order. */
export function maxPoolInt8(p: PoolPlan, x: Int8Array, y: Int8Array): void {
  const c = p.channels;
  const rowStride = p.inW * c;
  let yi = 0;
  for (let oy = 0; oy < p.outH; oy++) {
    for (let ox = 0; ox < p.outW; ox++) {
      const base = oy * p.strideH * rowStride + ox * p.strideW * c;
      for (let ch = 0; ch < c; ch++) {
        let m = -128;
        for (let ky = 0; ky < p.poolH; ky++) {
          let xi = base + ky * rowStride + ch;
          for (let kx = 0; kx < p.poolW; kx++, xi += c) m = Math.max(m, x[xi]);
        }
        y[yi++] = m;
      }
    }
  }
}

/** Numerically stable float softmax of the first `n` values. */
export function softmaxFloat(x: Float32Array, y: Float32Array, n: number): void {
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (x[i] > max) max = x[i];
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp(x[i] - max);
    y[i] = e;
    sum += e;
  }
  for (let i = 0; i < n; i++) y[i] /= sum;
}

/**
 * `expTable[d] = exp(-d * inputScale)` for d in [0, 255]: every difference `max - q` of two int8 logits,
 * so the int8 softmax needs no `Math.exp` per frame.
 */
export function makeExpTable(inputScale: number): Float64Array {
  const t = new Float64Array(256);
  for (let d = 0; d < 256; d++) t[d] = Math.exp(-d * inputScale);
  return t;
}

/** Softmax of int8 logits into float32 probabilities, via the precomputed exp table. */
export function softmaxInt8(x: Int8Array, expTable: Float64Array, y: Float32Array, n: number): void {
  let max = -128;
  for (let i = 0; i < n; i++) if (x[i] > max) max = x[i];
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const e = expTable[max - x[i]];
    y[i] = e;
    sum += e;
  }
  for (let i = 0; i < n; i++) y[i] /= sum;
}
