import { describe, expect, it } from 'vitest';
import {
  InferenceError,
  evaluate,
  generateShapesDataset,
  percentile,
  quantize,
  trainTinyClassifier,
  type FloatModel,
} from '../src/inference/index.js';

/** A model whose output is its input, so the label decides correctness. */
const identity: FloatModel = { dtype: 'float32', inputShape: [3], layers: [{ kind: 'relu' }] };

describe('evaluate', () => {
  it('evaluate - percentiles from an injected clock are exact (nearest rank)', () => {
    // Frame i takes (i + 1) ms: 1..100 ms.
    let t = 0n;
    let frame = 0;
    let inFrame = false;
    const now = (): bigint => {
      if (inFrame) {
        t += BigInt(++frame) * 1_000_000n;
        inFrame = false;
      } else inFrame = true;
      return t;
    };
    const samples = Array.from({ length: 100 }, (_, i) => ({ input: Float32Array.of(0, 1, 0), label: i < 75 ? 1 : 2 }));
    const r = evaluate(identity, samples, { warmupFrames: 0, now });
    expect(r).toEqual({ accuracy: 0.75, latencyMs: { p50: 50, p90: 90, p99: 99, mean: 50.5 }, frames: 100 });
  });

  it('evaluate - real timings of float32 and int8 are ordered and positive', () => {
    const tiny = trainTinyClassifier({ trainSize: 300, testSize: 200, epochs: 1 });
    const int8 = quantize(tiny.model, tiny.calibration);
    for (const m of [tiny.model, int8]) {
      const r = evaluate(m, tiny.test);
      expect(r.frames).toBe(200);
      expect(r.accuracy).toBeGreaterThan(0.3);
      expect(r.latencyMs.p50).toBeGreaterThan(0);
      expect(r.latencyMs.p50).toBeLessThanOrEqual(r.latencyMs.p90);
      expect(r.latencyMs.p90).toBeLessThanOrEqual(r.latencyMs.p99);
      expect(r.latencyMs.mean).toBeGreaterThan(0);
      expect(r.latencyMs.p99).toBeLessThan(50); // a 9k-MAC model; anything near 50 ms per frame is broken
    }
  });

  it('evaluate - rejects no samples and unknown options', () => {
    expect(() => evaluate(identity, [])).toThrow(InferenceError);
    expect(() => evaluate(identity, [])).toThrow('evaluate() needs at least one labelled sample ({ input, label }).');
    expect(() => evaluate(identity, [{ input: Float32Array.of(1, 2, 3), label: 0 }], { warmup: 3 } as never)).toThrow(
      'evaluate() has no option "warmup". Valid options: warmupFrames, now.',
    );
  });

  it('percentile - nearest rank at the edges', () => {
    expect(percentile([5], 50)).toBe(5);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 100)).toBe(4);
    expect(percentile([1, 2, 3, 4], 1)).toBe(1);
  });
});

describe('generateShapesDataset', () => {
  it('generateShapesDataset - deterministic per seed, balanced classes, 8x8 frames', () => {
    const a = generateShapesDataset({ count: 50, seed: 3 });
    const b = generateShapesDataset({ count: 50, seed: 3 });
    const c = generateShapesDataset({ count: 50, seed: 4 });
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a.every((s) => s.input.length === 64)).toBe(true);
    expect(a.filter((s) => s.label === 2).length).toBe(10);
  });
});
