/**
 * Runs float32 models. {@link FloatExecutor} plans a model once (shapes, buffers, padding) and then runs
 * frames without allocating; {@link runFloat} is the one-call form that caches an executor per model.
 * The float path is the reference the int8 path is measured against, so it is built the same way (same
 * buffer reuse and padded convolution) to keep latency comparisons fair.
 */

import { InferenceError } from './errors.js';
import { shapeSize, validateFloatModel, type FloatModel, type TensorShape } from './model.js';
import { conv2dFloat, copyIntoPaddedFloat, planConv } from './layers/conv2d.js';
import { denseFloat } from './layers/dense.js';
import { maxPoolFloat, reluFloat, softmaxFloat } from './layers/pointwise.js';

/** Checks that a frame matches the model input; `shape`, if given, must equal `inputShape`. */
export function checkInput(inputShape: TensorShape, input: ArrayLike<number>, shape?: TensorShape): void {
  if (shape !== undefined && (shape.length !== inputShape.length || shape.some((d, i) => d !== inputShape[i]))) {
    throw new InferenceError(
      'INFERENCE_INVALID_INPUT',
      `Input shape [${shape.join(', ')}] does not match the model's input shape [${inputShape.join(', ')}]. Resize or reshape the frame (NHWC, one frame).`,
    );
  }
  const n = shapeSize(inputShape);
  if (input.length !== n) {
    throw new InferenceError(
      'INFERENCE_INVALID_INPUT',
      `Input has ${input.length} values but the model's input shape [${inputShape.join(', ')}] needs ${n}. Pass one NHWC frame.`,
    );
  }
}

/** Plans a float32 model once and runs frames without allocating. Not thread-safe: one frame at a time. */
export class FloatExecutor {
  /** Shapes of the input (index 0) and of every layer output. */
  readonly shapes: readonly (readonly number[])[];
  readonly model: FloatModel;
  private readonly buffers: Float32Array[];
  /** One step per layer, in order (flatten's is a no-op: it aliases its input buffer). */
  private readonly steps: (() => void)[];

  /** @throws InferenceError `INFERENCE_INVALID_MODEL` when the model is inconsistent. */
  constructor(model: FloatModel) {
    this.model = model;
    const shapes = validateFloatModel(model);
    this.shapes = shapes;
    this.buffers = [new Float32Array(shapeSize(shapes[0]))];
    this.steps = [];
    model.layers.forEach((layer, i) => {
      const x = this.buffers[i];
      const n = shapeSize(shapes[i + 1]);
      const y = layer.kind === 'flatten' ? x : new Float32Array(n);
      this.buffers.push(y);
      switch (layer.kind) {
        case 'dense':
          this.steps.push(() => denseFloat(x, layer.weights, layer.bias, layer.inFeatures, layer.outFeatures, y));
          break;
        case 'conv2d': {
          const p = planConv(shapes[i], layer.outChannels, layer.kernelSize, layer.stride, layer.padding);
          const xp = p.unpadded ? x : new Float32Array(p.paddedH * p.paddedW * p.inC);
          this.steps.push(() => {
            if (!p.unpadded) copyIntoPaddedFloat(p, x, xp);
            conv2dFloat(p, xp, layer.weights, layer.bias, y);
          });
          break;
        }
        case 'relu':
          this.steps.push(() => reluFloat(x, y, n));
          break;
        case 'maxpool2d': {
          const [, inW, channels] = shapes[i];
          const [outH, outW] = shapes[i + 1];
          const plan = {
            inW, channels, outH, outW,
            poolH: layer.poolSize[0], poolW: layer.poolSize[1],
            strideH: layer.stride[0], strideW: layer.stride[1],
          };
          this.steps.push(() => maxPoolFloat(plan, x, y));
          break;
        }
        case 'flatten':
          this.steps.push(() => undefined);
          break;
        case 'softmax':
          this.steps.push(() => softmaxFloat(x, y, n));
          break;
      }
    });
  }

  /**
   * Runs one frame. Returns the executor's output buffer, valid until the next call; copy it to keep it.
   *
   * @throws InferenceError `INFERENCE_INVALID_INPUT` when the frame has the wrong size.
   */
  run(input: Float32Array): Float32Array {
    checkInput(this.model.inputShape, input);
    this.buffers[0].set(input);
    for (const step of this.steps) step();
    return this.buffers[this.buffers.length - 1];
  }

  /** Runs one frame and returns a copy of every layer's output (index `i` = layer `i`), for debugging. */
  trace(input: Float32Array): Float32Array[] {
    checkInput(this.model.inputShape, input);
    this.buffers[0].set(input);
    const out: Float32Array[] = [];
    this.steps.forEach((step, i) => {
      step();
      out.push(this.buffers[i + 1].slice());
    });
    return out;
  }
}

const cache = new WeakMap<FloatModel, FloatExecutor>();

/**
 * Runs one frame through a float32 model and returns a fresh copy of the output. The planned executor is
 * cached per model object, so treat models as immutable after the first run.
 *
 * @param shape optional; when given it must equal `model.inputShape`.
 * @throws InferenceError `INFERENCE_INVALID_MODEL` or `INFERENCE_INVALID_INPUT`.
 */
export function runFloat(model: FloatModel, input: Float32Array, shape?: TensorShape): Float32Array {
  let ex = cache.get(model);
  if (!ex) {
    ex = new FloatExecutor(model);
    cache.set(model, ex);
  }
  checkInput(model.inputShape, input, shape);
  return ex.run(input).slice();
}
