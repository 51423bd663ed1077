import { describe, expect, it } from 'vitest';
import {
  FloatExecutor,
  InferenceError,
  Int8Executor,
  createPrng,
  quantize,
  runFloat,
  runInt8,
  type FloatModel,
  type Int8Model,
} from '../src/inference/index.js';

function conv(
  inShape: [number, number, number],
  outC: number,
  k: [number, number],
  stride: [number, number],
  padding: 'same' | 'valid',
  weights: number[],
  bias: number[],
): FloatModel {
  return {
    dtype: 'float32',
    inputShape: inShape,
    layers: [
      {
        kind: 'conv2d', inChannels: inShape[2], outChannels: outC, kernelSize: k, stride, padding,
        weights: Float32Array.from(weights), bias: Float32Array.from(bias),
      },
    ],
  };
}

/** Scalar reference int8 executor: direct int32 arithmetic, no packing, no folding. */
function referenceInt8(model: Int8Model, input: Int8Array): Int8Array {
  let x = input;
  let shape = [...model.inputShape];
  let q = model.input;
  for (const layer of model.layers) {
    if (layer.kind === 'flatten') {
      shape = [x.length];
    } else if (layer.kind === 'dense') {
      const y = new Int8Array(layer.outFeatures);
      for (let o = 0; o < layer.outFeatures; o++) {
        let acc = layer.bias[o];
        for (let i = 0; i < layer.inFeatures; i++) acc = (acc + layer.weights[o * layer.inFeatures + i] * (x[i] - q.zeroPoint)) | 0;
        const m = (q.scale * layer.weightScales[o]) / layer.output.scale;
        const lo = layer.activation === 'relu' ? layer.output.zeroPoint : -128;
        y[o] = Math.min(127, Math.max(lo, Math.round(acc * m) + layer.output.zeroPoint));
      }
      x = y;
      shape = [layer.outFeatures];
      q = layer.output;
    } else if (layer.kind === 'conv2d') {
      const [h, w, c] = shape;
      const [kh, kw] = layer.kernelSize;
      const [sh, sw] = layer.stride;
      const oh = layer.padding === 'same' ? Math.ceil(h / sh) : Math.floor((h - kh) / sh) + 1;
      const ow = layer.padding === 'same' ? Math.ceil(w / sw) : Math.floor((w - kw) / sw) + 1;
      const pt = layer.padding === 'same' ? Math.floor(Math.max((oh - 1) * sh + kh - h, 0) / 2) : 0;
      const pl = layer.padding === 'same' ? Math.floor(Math.max((ow - 1) * sw + kw - w, 0) / 2) : 0;
      const y = new Int8Array(oh * ow * layer.outChannels);
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          for (let oc = 0; oc < layer.outChannels; oc++) {
            let acc = layer.bias[oc];
            for (let ky = 0; ky < kh; ky++) {
              for (let kx = 0; kx < kw; kx++) {
                const iy = oy * sh + ky - pt;
                const ix = ox * sw + kx - pl;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                for (let ic = 0; ic < c; ic++) {
                  acc = (acc + layer.weights[((oc * kh + ky) * kw + kx) * c + ic] * (x[(iy * w + ix) * c + ic] - q.zeroPoint)) | 0;
                }
              }
            }
            const m = (q.scale * layer.weightScales[oc]) / layer.output.scale;
            const lo = layer.activation === 'relu' ? layer.output.zeroPoint : -128;
            y[(oy * ow + ox) * layer.outChannels + oc] = Math.min(127, Math.max(lo, Math.round(acc * m) + layer.output.zeroPoint));
          }
        }
      }
      x = y;
      shape = [oh, ow, layer.outChannels];
      q = layer.output;
    } else {
      throw new Error(`reference does not implement ${layer.kind}`);
    }
  }
  return x;
}

function randomModel(seed: number, inShape: [number, number, number], outC: number, hidden: number, padding: 'same' | 'valid', stride: number): FloatModel {
  const rng = createPrng(seed);
  const rand = (n: number, s: number): Float32Array => Float32Array.from({ length: n }, () => s * rng.normal());
  const [h, w, c] = inShape;
  const oh = padding === 'same' ? Math.ceil(h / stride) : Math.floor((h - 3) / stride) + 1;
  const ow = padding === 'same' ? Math.ceil(w / stride) : Math.floor((w - 3) / stride) + 1;
  const flat = oh * ow * outC;
  return {
    dtype: 'float32',
    inputShape: inShape,
    layers: [
      { kind: 'conv2d', inChannels: c, outChannels: outC, kernelSize: [3, 3], stride: [stride, stride], padding, weights: rand(outC * 9 * c, 0.4), bias: rand(outC, 0.1) },
      { kind: 'relu' },
      { kind: 'flatten' },
      { kind: 'dense', inFeatures: flat, outFeatures: hidden, weights: rand(hidden * flat, 0.2), bias: rand(hidden, 0.1) },
    ],
  };
}

describe('conv2d', () => {
  it('conv2d - matches a hand-computed 3x3 example with same padding', () => {
    // Input 3x3x1 = 1..9; kernel 3x3 of ones except the centre (2); bias 0.5.
    //   1 2 3
    //   4 5 6
    //   7 8 9
    // Output[y][x] = sum of the 3x3 neighbourhood (zero padded) + centre + 0.5.
    const model = conv([3, 3, 1], 1, [3, 3], [1, 1], 'same', [1, 1, 1, 1, 2, 1, 1, 1, 1], [0.5]);
    const out = runFloat(model, Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]), [3, 3, 1]);
    // (0,0): 1+2+4+5 + 1 = 13      (0,1): 1+2+3+4+5+6 + 2 = 23        (0,2): 2+3+5+6 + 3 = 19
    // (1,0): 1+2+4+5+7+8 + 4 = 31  (1,1): 45 + 5 = 50                 (1,2): 2+3+5+6+8+9 + 6 = 39
    // (2,0): 4+5+7+8 + 7 = 31      (2,1): 4+5+6+7+8+9 + 8 = 47        (2,2): 5+6+8+9 + 9 = 37
    // each + 0.5 bias.
    expect(Array.from(out)).toEqual([13.5, 23.5, 19.5, 31.5, 50.5, 39.5, 31.5, 47.5, 37.5]);
  });

  it('conv2d - valid padding, stride 2 and two channels in and out (NHWC, OHWI weights)', () => {
    // Input 3x3x2: channel 0 = 1..9, channel 1 = 10 * channel 0.
    const input = new Float32Array(18);
    for (let i = 0; i < 9; i++) {
      input[2 * i] = i + 1;
      input[2 * i + 1] = 10 * (i + 1);
    }
    // Out channel 0: 2x2 kernel reading channel 0 only, all ones. Out channel 1: reads channel 1 at the
    // top-left tap only, weight 0.1.
    const w = [
      1, 0, 1, 0, 1, 0, 1, 0,
      0, 0.1, 0, 0, 0, 0, 0, 0,
    ];
    const out = runFloat(conv([3, 3, 2], 2, [2, 2], [2, 2], 'valid', w, [0, 1]), input);
    // One output pixel (window rows 0-1, cols 0-1): ch0 = 1+2+4+5 = 12; ch1 = 0.1*10 + 1 = 2.
    expect(out.length).toBe(2);
    expect(out[0]).toBeCloseTo(12, 5);
    expect(out[1]).toBeCloseTo(2, 5);
  });

  it('conv2d - same padding with stride 2 pads bottom/right (TensorFlow convention)', () => {
    // 4x4 input, 3x3 kernel of ones, stride 2: out 2x2, total padding 1, all of it after.
    const input = Float32Array.from({ length: 16 }, (_, i) => i);
    const out = runFloat(conv([4, 4, 1], 1, [3, 3], [2, 2], 'same', new Array(9).fill(1), [0]), input);
    // (0,0): rows 0-2, cols 0-2 = 0+1+2+4+5+6+8+9+10 = 45; (0,1): rows 0-2, cols 2-3 = 2+3+6+7+10+11 = 39
    // (1,0): rows 2-3, cols 0-2 = 8+9+10+12+13+14 = 66; (1,1): rows 2-3, cols 2-3 = 10+11+14+15 = 50
    expect(Array.from(out)).toEqual([45, 39, 66, 50]);
  });

  it('int8 kernels - bit-exact against a scalar int32 reference (packed lanes, folded zero points, padding)', () => {
    for (const [seed, padding, stride, c, outC] of [
      [1, 'same', 1, 1, 8],
      [2, 'same', 2, 3, 5],
      [3, 'valid', 1, 2, 7],
    ] as const) {
      const model = randomModel(seed, [6, 7, c], outC, 9, padding, stride);
      const rng = createPrng(seed + 100);
      const frames = Array.from({ length: 40 }, () => Float32Array.from({ length: 6 * 7 * c }, () => rng.normal()));
      const q = quantize(model, frames);
      const ex = new Int8Executor(q);
      for (const f of frames.slice(0, 10)) {
        const qin = new Int8Array(f.length);
        for (let i = 0; i < f.length; i++) qin[i] = Math.min(127, Math.max(-128, Math.round(f[i] / q.input.scale) + q.input.zeroPoint));
        const expected = referenceInt8(q, qin);
        const got = ex.run(qin);
        const last = q.layers[q.layers.length - 1];
        if (last.kind !== 'dense') throw new Error('unexpected');
        const deq = Array.from(expected, (v) => last.output.scale * (v - last.output.zeroPoint));
        expect(Array.from(got)).toEqual(deq.map((v) => Math.fround(v)));
      }
    }
  });
});

describe('executors', () => {
  it('runFloat - rejects a frame of the wrong size with INFERENCE_INVALID_INPUT', () => {
    const model = conv([3, 3, 1], 1, [3, 3], [1, 1], 'same', new Array(9).fill(1), [0]);
    const call = (): unknown => runFloat(model, new Float32Array(8));
    expect(call).toThrow(InferenceError);
    expect(call).toThrow("Input has 8 values but the model's input shape [3, 3, 1] needs 9. Pass one NHWC frame.");
    expect(() => runFloat(model, new Float32Array(9), [9])).toThrow(
      "Input shape [9] does not match the model's input shape [3, 3, 1]. Resize or reshape the frame (NHWC, one frame).",
    );
  });

  it('FloatExecutor - rejects a dense layer fed an image and says to flatten', () => {
    const model: FloatModel = {
      dtype: 'float32',
      inputShape: [2, 2, 1],
      layers: [{ kind: 'dense', inFeatures: 4, outFeatures: 1, weights: new Float32Array(4), bias: new Float32Array(1) }],
    };
    try {
      new FloatExecutor(model);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InferenceError);
      expect((e as InferenceError).code).toBe('INFERENCE_INVALID_MODEL');
      expect((e as Error).message).toBe(
        'Layer 0 (dense) expects input [4] but gets [2, 2, 1]; put a flatten layer before it. Fix the model description; shapes are NHWC [height, width, channels] per frame.',
      );
    }
  });

  it('FloatExecutor - rejects softmax anywhere but last', () => {
    const model: FloatModel = { dtype: 'float32', inputShape: [3], layers: [{ kind: 'softmax' }, { kind: 'relu' }] };
    expect(() => new FloatExecutor(model)).toThrow('Layer 0 (softmax) is not the last layer; softmax is only supported as the final layer.');
  });

  it('runInt8 - maxpool, unfused relu and softmax run on int8 and match float', () => {
    const rng = createPrng(5);
    const model: FloatModel = {
      dtype: 'float32',
      inputShape: [4, 4, 2],
      layers: [
        { kind: 'maxpool2d', poolSize: [2, 2], stride: [2, 2] },
        { kind: 'relu' },
        { kind: 'flatten' },
        { kind: 'dense', inFeatures: 8, outFeatures: 3, weights: Float32Array.from({ length: 24 }, () => rng.normal()), bias: new Float32Array(3) },
        { kind: 'softmax' },
      ],
    };
    const frames = Array.from({ length: 50 }, () => Float32Array.from({ length: 32 }, () => rng.normal()));
    const q = quantize(model, frames);
    expect(q.layers.map((l) => l.kind)).toEqual(['maxpool2d', 'relu', 'flatten', 'dense', 'softmax']);
    for (const f of frames) {
      const a = runFloat(model, f);
      const b = runInt8(q, f);
      expect(b.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
      for (let i = 0; i < 3; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(0.05);
    }
  });
});
