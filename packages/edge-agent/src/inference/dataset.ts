/**
 * A synthetic, deterministic dataset of tiny 8×8 grey "images" of shapes, so the runtime can train and
 * check a real model with no downloads. Each image is NHWC `[8, 8, 1]`, background noise plus one shape
 * at a random position, size and brightness.
 */

import type { LabelledSample } from './evaluate.js';
import { intIn, resolveOptions } from './options.js';
import { createPrng, type Prng } from './prng.js';

/** Class names, indexed by label. */
export const SHAPE_CLASSES = ['hline', 'vline', 'square', 'cross', 'diagonal'] as const;

/** Side of the square images. */
export const SHAPE_IMAGE_SIZE = 8;

/** Options of {@link generateShapesDataset}. */
export interface ShapesDatasetOptions {
  /** Number of images. Default 1000. */
  count?: number;
  /** PRNG seed; the same seed gives the same images. Default 1. */
  seed?: number;
  /** Standard deviation of the Gaussian background noise. Default 0.3. */
  noise?: number;
}

const S = SHAPE_IMAGE_SIZE;

function draw(img: Float32Array, label: number, rng: Prng): void {
  const v = 0.6 + 0.4 * rng.next();
  const put = (y: number, x: number): void => {
    if (y >= 0 && y < S && x >= 0 && x < S) img[y * S + x] += v;
  };
  switch (label) {
    case 0: {
      const len = rng.int(4, 7);
      const x0 = rng.int(0, S - len);
      const y = rng.int(0, S - 1);
      for (let i = 0; i < len; i++) put(y, x0 + i);
      break;
    }
    case 1: {
      const len = rng.int(4, 7);
      const y0 = rng.int(0, S - len);
      const x = rng.int(0, S - 1);
      for (let i = 0; i < len; i++) put(y0 + i, x);
      break;
    }
    case 2: {
      const side = rng.int(3, 6);
      const y0 = rng.int(0, S - side);
      const x0 = rng.int(0, S - side);
      for (let i = 0; i < side; i++) {
        put(y0, x0 + i);
        put(y0 + side - 1, x0 + i);
        if (i > 0 && i < side - 1) {
          put(y0 + i, x0);
          put(y0 + i, x0 + side - 1);
        }
      }
      break;
    }
    case 3: {
      const arm = rng.int(1, 3);
      const cy = rng.int(arm, S - 1 - arm);
      const cx = rng.int(arm, S - 1 - arm);
      put(cy, cx);
      for (let i = 1; i <= arm; i++) {
        put(cy - i, cx);
        put(cy + i, cx);
        put(cy, cx - i);
        put(cy, cx + i);
      }
      break;
    }
    default: {
      const len = rng.int(4, 7);
      const y0 = rng.int(0, S - len);
      const x0 = rng.int(0, S - len);
      const flip = rng.next() < 0.5;
      for (let i = 0; i < len; i++) put(y0 + i, flip ? x0 + len - 1 - i : x0 + i);
      break;
    }
  }
}

/**
 * Generates `count` labelled images, classes balanced round-robin.
 *
 * @throws InferenceError `INFERENCE_INVALID_OPTIONS` for bad options.
 */
export function generateShapesDataset(opts?: ShapesDatasetOptions): LabelledSample[] {
  const o = resolveOptions<Required<ShapesDatasetOptions>>(
    'generateShapesDataset()',
    opts,
    { count: 1000, seed: 1, noise: 0.3 },
    { count: intIn(1, 10_000_000), seed: intIn(0, 2 ** 32 - 1), noise: (v) => (typeof v === 'number' && v >= 0 && v < 10 ? undefined : `must be a number in [0, 10), got ${String(v)}`) },
  );
  const rng = createPrng(o.seed);
  const out: LabelledSample[] = [];
  for (let n = 0; n < o.count; n++) {
    const label = n % SHAPE_CLASSES.length;
    const img = new Float32Array(S * S);
    for (let i = 0; i < img.length; i++) img[i] = o.noise * rng.normal();
    draw(img, label, rng);
    out.push({ input: img, label });
  }
  return out;
}

