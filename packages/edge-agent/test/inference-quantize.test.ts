import { beforeAll, describe, expect, it } from 'vitest';
import {
  FloatExecutor,
  InferenceError,
  Int8Executor,
  argmax,
  chooseActivationQuant,
  evaluate,
  quantize,
  quantizeBias,
  quantizeWeightsPerChannel,
  runFloat,
  runInt8,
  trainTinyClassifier,
  type FloatModel,
  type Int8Model,
  type TinyClassifier,
} from '../src/inference/index.js';

// Tolerances stated in INFERENCE.md.
const MIN_TEST_ACCURACY = 0.95;
const MAX_ACCURACY_DROP = 0.02;
const MIN_ARGMAX_AGREEMENT = 0.98;
const MAX_LOGIT_ERROR_STEPS = 8;
const MAX_LAYER_ERROR_STEPS = 3;

let tiny: TinyClassifier;
let int8: Int8Model;
let logitsFloat: FloatModel;
let logitsInt8: Int8Model;

beforeAll(() => {
  tiny = trainTinyClassifier();
  int8 = quantize(tiny.model, tiny.calibration);
  logitsFloat = { ...tiny.model, layers: tiny.model.layers.slice(0, -1) };
  logitsInt8 = quantize(logitsFloat, tiny.calibration);
});

describe('quantisation arithmetic', () => {
  it('quantizeWeightsPerChannel - dequantised weights are within half a step of their channel scale', () => {
    for (const layer of tiny.model.layers) {
      if (layer.kind !== 'dense' && layer.kind !== 'conv2d') continue;
      const outs = layer.kind === 'dense' ? layer.outFeatures : layer.outChannels;
      const { weights, scales } = quantizeWeightsPerChannel(layer.weights, outs);
      const per = layer.weights.length / outs;
      for (let o = 0; o < outs; o++) {
        let maxQ = 0;
        for (let i = o * per; i < (o + 1) * per; i++) {
          expect(Math.abs(weights[i] * scales[o] - layer.weights[i])).toBeLessThanOrEqual(scales[o] / 2 + 1e-7);
          maxQ = Math.max(maxQ, Math.abs(weights[i]));
        }
        expect(maxQ).toBe(127); // the channel's largest weight uses the full symmetric range
      }
    }
  });

  it('quantizeBias - dequantised biases are within half an accumulator step', () => {
    for (const layer of int8.layers) {
      if (layer.kind !== 'dense' && layer.kind !== 'conv2d') continue;
      const src = tiny.model.layers.find((l, i) => i <= layer.sourceLayer && l.kind === layer.kind && i >= layer.sourceLayer - 1);
      if (!src || (src.kind !== 'dense' && src.kind !== 'conv2d')) throw new Error('no source layer');
      const inScale = 0.02;
      const b = quantizeBias(src.bias, inScale, layer.weightScales);
      src.bias.forEach((v, o) => expect(Math.abs(b[o] * inScale * layer.weightScales[o] - v)).toBeLessThanOrEqual((inScale * layer.weightScales[o]) / 2 + 1e-9));
    }
  });

  it('chooseActivationQuant - covers the range, keeps 0 exact, round-trips within half a step', () => {
    for (const [lo, hi] of [[-1.5, 3], [0, 6], [0.5, 2], [-4, -1]]) {
      const q = chooseActivationQuant(lo, hi);
      expect(Math.fround(q.scale)).toBe(q.scale);
      expect(q.scale * (-128 - q.zeroPoint)).toBeLessThanOrEqual(Math.min(lo, 0) + q.scale);
      expect(q.scale * (127 - q.zeroPoint)).toBeGreaterThanOrEqual(Math.max(hi, 0) - q.scale);
      for (let r = Math.min(lo, 0); r <= Math.max(hi, 0); r += 0.01) {
        const code = Math.min(127, Math.max(-128, Math.round(r / q.scale) + q.zeroPoint));
        expect(Math.abs(q.scale * (code - q.zeroPoint) - r)).toBeLessThanOrEqual(q.scale / 2 + 1e-6);
      }
    }
  });

  it('quantize - fuses relu into dense/conv2d and uses per-channel scales', () => {
    expect(int8.layers.map((l) => `${l.kind}${'activation' in l ? `+${l.activation}` : ''}`)).toEqual([
      'conv2d+relu', 'maxpool2d', 'flatten', 'dense+relu', 'dense+none', 'softmax',
    ]);
    const conv = int8.layers[0];
    if (conv.kind !== 'conv2d') throw new Error('expected conv2d');
    expect(new Set(conv.weightScales).size).toBe(conv.outChannels);
  });
});

describe('int8 against float32 on the trained tiny classifier', () => {
  it('trainTinyClassifier - reaches the stated held-out accuracy deterministically', () => {
    expect(tiny.testAccuracy).toBeGreaterThanOrEqual(MIN_TEST_ACCURACY);
    const again = trainTinyClassifier({ trainSize: 200, testSize: 50, epochs: 1 });
    const twice = trainTinyClassifier({ trainSize: 200, testSize: 50, epochs: 1 });
    const w1 = again.model.layers[0];
    const w2 = twice.model.layers[0];
    if (w1.kind !== 'conv2d' || w2.kind !== 'conv2d') throw new Error('expected conv2d');
    expect(Array.from(w1.weights)).toEqual(Array.from(w2.weights));
  });

  it('Int8Executor - every layer stays within 3 output steps of float32 on in-range frames', () => {
    const fe = new FloatExecutor(tiny.model);
    const qe = new Int8Executor(int8);
    const worst = new Array<number>(int8.layers.length).fill(0);
    for (const frame of tiny.calibration.slice(0, 300)) {
      const ft = fe.trace(frame);
      for (const e of qe.trace(frame)) {
        const f = ft[e.sourceLayer];
        let m = 0;
        for (let i = 0; i < f.length; i++) m = Math.max(m, Math.abs(f[i] - e.values[i]));
        worst[e.layer] = Math.max(worst[e.layer], e.quant ? m / e.quant.scale : m);
      }
    }
    int8.layers.forEach((l, i) => {
      if (l.kind === 'softmax') expect(worst[i]).toBeLessThan(0.1); // probability difference
      else expect(worst[i]).toBeLessThanOrEqual(MAX_LAYER_ERROR_STEPS);
    });
  });

  it('runInt8 - logits agree with float32 on held-out frames (argmax ≥ 98%, max error ≤ 8 steps)', () => {
    const last = logitsInt8.layers[logitsInt8.layers.length - 1];
    if (last.kind !== 'dense') throw new Error('expected dense');
    let agree = 0;
    let maxErr = 0;
    for (const s of tiny.test) {
      const a = runFloat(logitsFloat, s.input);
      const b = runInt8(logitsInt8, s.input);
      if (argmax(a) === argmax(b)) agree++;
      for (let i = 0; i < a.length; i++) maxErr = Math.max(maxErr, Math.abs(a[i] - b[i]));
    }
    expect(agree / tiny.test.length).toBeGreaterThanOrEqual(MIN_ARGMAX_AGREEMENT);
    expect(maxErr / last.output.scale).toBeLessThanOrEqual(MAX_LOGIT_ERROR_STEPS);
  });

  it('evaluate - int8 accuracy is within 2 points of float32', () => {
    const f = evaluate(tiny.model, tiny.test, { warmupFrames: 0 });
    const q = evaluate(int8, tiny.test, { warmupFrames: 0 });
    expect(f.accuracy).toBeCloseTo(tiny.testAccuracy, 10);
    expect(q.accuracy).toBeGreaterThanOrEqual(f.accuracy - MAX_ACCURACY_DROP);
  });

  it('quantize - percentile calibration also meets the accuracy tolerance', () => {
    const p = quantize(tiny.model, tiny.calibration, { calibration: 'percentile', percentile: 99.9 });
    const q = evaluate(p, tiny.test, { warmupFrames: 0 });
    expect(q.accuracy).toBeGreaterThanOrEqual(tiny.testAccuracy - MAX_ACCURACY_DROP);
  });
});

describe('quantize input checks', () => {
  it('quantize - rejects an empty calibration set with INFERENCE_CALIBRATION', () => {
    try {
      quantize(tiny.model, []);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InferenceError);
      expect((e as InferenceError).code).toBe('INFERENCE_CALIBRATION');
      expect((e as Error).message).toBe(
        'quantize() needs at least one calibration sample to choose activation ranges. Pass representative frames (a few hundred is typical).',
      );
    }
  });

  it('quantize - rejects a mis-sized calibration frame', () => {
    expect(() => quantize(tiny.model, [new Float32Array(10)])).toThrow(
      'Calibration sample 0 is not a Float32Array of 64 values (input shape [8, 8, 1]). Pass frames shaped like the model input.',
    );
  });

  it('quantize - rejects an unknown option and lists the valid ones', () => {
    expect(() => quantize(tiny.model, tiny.calibration, { method: 'minmax' } as never)).toThrow(
      'quantize() has no option "method". Valid options: calibration, percentile, fuseRelu.',
    );
  });
});
