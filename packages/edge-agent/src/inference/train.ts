/**
 * `trainTinyClassifier`: trains the package's own small model on the synthetic shapes dataset, so tests,
 * benchmarks and on-device smoke checks have a real trained model without downloading anything.
 */

import type { LabelledSample } from './evaluate.js';
import { argmax } from './evaluate.js';
import { FloatExecutor } from './float-executor.js';
import type { FloatLayer, FloatModel } from './model.js';
import { generateShapesDataset, SHAPE_CLASSES, SHAPE_IMAGE_SIZE } from './dataset.js';
import { intIn, numberIn, oneOf, resolveOptions } from './options.js';
import { createPrng, type Prng } from './prng.js';
import { SgdTrainer } from './sgd-trainer.js';

/** Architecture of the tiny classifier. */
export type TinyArchitecture = 'conv' | 'mlp';

/** Options of {@link trainTinyClassifier}; defaults reproduce the documented model. */
export interface TrainTinyClassifierOptions {
  /** `'conv'`: conv3×3(8)+relu → maxpool2 → flatten → dense 32+relu → dense 5 → softmax (default).
   *  `'mlp'`: flatten → dense 32+relu → dense 5 → softmax. */
  architecture?: TinyArchitecture;
  /** Seed of data generation, shuffling and weight init. Default 7. */
  seed?: number;
  /** Training images. Default 4000. */
  trainSize?: number;
  /** Held-out test images (generated with a different seed). Default 1000. */
  testSize?: number;
  /** Epochs of SGD. Default 8. */
  epochs?: number;
  /** SGD learning rate (per-batch mean gradient). Default 0.05. */
  learningRate?: number;
  /** Mini-batch size. Default 8. */
  batchSize?: number;
  /** Background noise (std) of the images. Default 0.2. */
  noise?: number;
}

/** A trained tiny model with its data. */
export interface TinyClassifier {
  readonly model: FloatModel;
  readonly classes: readonly string[];
  readonly train: LabelledSample[];
  /** Held-out frames, never seen in training. */
  readonly test: LabelledSample[];
  /** Frames for `quantize()` calibration: the first 1000 training frames. */
  readonly calibration: Float32Array[];
  /** Float32 accuracy on `train` after training. */
  readonly trainAccuracy: number;
  /** Float32 accuracy on `test`. */
  readonly testAccuracy: number;
}

function he(fanIn: number, n: number, rng: Prng): Float32Array {
  const std = Math.sqrt(2 / fanIn);
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) w[i] = std * rng.normal();
  return w;
}

function buildModel(arch: TinyArchitecture, rng: Prng): FloatModel {
  const classes = SHAPE_CLASSES.length;
  const layers: FloatLayer[] = [];
  let features = SHAPE_IMAGE_SIZE * SHAPE_IMAGE_SIZE;
  if (arch === 'conv') {
    const c = 8;
    layers.push(
      { kind: 'conv2d', inChannels: 1, outChannels: c, kernelSize: [3, 3], stride: [1, 1], padding: 'same', weights: he(9, c * 9, rng), bias: new Float32Array(c) },
      { kind: 'relu' },
      { kind: 'maxpool2d', poolSize: [2, 2], stride: [2, 2] },
    );
    features = (SHAPE_IMAGE_SIZE / 2) * (SHAPE_IMAGE_SIZE / 2) * c;
  }
  const hidden = 32;
  layers.push(
    { kind: 'flatten' },
    { kind: 'dense', inFeatures: features, outFeatures: hidden, weights: he(features, hidden * features, rng), bias: new Float32Array(hidden) },
    { kind: 'relu' },
    { kind: 'dense', inFeatures: hidden, outFeatures: classes, weights: he(hidden, classes * hidden, rng), bias: new Float32Array(classes) },
    { kind: 'softmax' },
  );
  return { dtype: 'float32', inputShape: [SHAPE_IMAGE_SIZE, SHAPE_IMAGE_SIZE, 1], layers };
}

function accuracy(model: FloatModel, samples: readonly LabelledSample[]): number {
  const ex = new FloatExecutor(model);
  let ok = 0;
  for (const s of samples) if (argmax(ex.run(s.input)) === s.label) ok++;
  return ok / samples.length;
}

/**
 * Generates the shapes dataset and trains a tiny classifier on it with plain mini-batch SGD, entirely in
 * TypeScript and deterministically (same options → same weights). With the defaults it takes about a
 * second or two and reaches ≥ 95% held-out accuracy (see INFERENCE.md for measured numbers).
 *
 * @throws InferenceError `INFERENCE_INVALID_OPTIONS` for bad options.
 */
export function trainTinyClassifier(opts?: TrainTinyClassifierOptions): TinyClassifier {
  const o = resolveOptions<Required<TrainTinyClassifierOptions>>(
    'trainTinyClassifier()',
    opts,
    { architecture: 'conv', seed: 7, trainSize: 4000, testSize: 1000, epochs: 8, learningRate: 0.05, batchSize: 8, noise: 0.2 },
    {
      architecture: oneOf('conv', 'mlp'),
      seed: intIn(0, 2 ** 31 - 2),
      trainSize: intIn(1, 1_000_000),
      testSize: intIn(1, 1_000_000),
      epochs: intIn(1, 10_000),
      learningRate: numberIn(0, 10),
      batchSize: intIn(1, 100_000),
      noise: numberIn(-1e-9, 10),
    },
  );
  const train = generateShapesDataset({ count: o.trainSize, seed: o.seed, noise: o.noise });
  const test = generateShapesDataset({ count: o.testSize, seed: o.seed + 1_000_003, noise: o.noise });
  const rng = createPrng(o.seed ^ 0x5eed);
  const model = buildModel(o.architecture, rng);
  const trainer = new SgdTrainer(model);
  for (let e = 0; e < o.epochs; e++) {
    // Halve the rate for the last third of the epochs: settles the weights without a scheduler.
    const lr = e >= Math.ceil((2 * o.epochs) / 3) ? o.learningRate / 2 : o.learningRate;
    trainer.epoch(train, lr, o.batchSize, rng);
  }
  return {
    model,
    classes: SHAPE_CLASSES,
    train,
    test,
    calibration: train.slice(0, 1000).map((s) => s.input),
    trainAccuracy: accuracy(model, train),
    testAccuracy: accuracy(model, test),
  };
}
