/**
 * Runs int8 models. {@link Int8Executor} plans a model once — int8 activation buffers, padded conv inputs
 * with a zero-point border, zero-point-folded int32 biases, float64 requantisation multipliers, the
 * softmax exp table — and then runs frames with no allocation. {@link runInt8} is the one-call form.
 *
 * Requantisation uses one float64 multiplier per output channel (`inputScale * weightScale[o] /
 * outputScale`) rather than TFLite's int32 multiplier + shift: the accumulator is an exact integer below
 * 2^31, so a double multiply is at least as precise, and in JavaScript it is faster than emulating a
 * 64-bit fixed-point product.
 */

import { InferenceError } from './errors.js';
import { checkInput } from './float-executor.js';
import { activationQuant, validateInt8Model, type Int8Model, type QuantParams } from './int8-model.js';
import { shapeSize } from './model.js';
import { conv2dInt8, copyIntoPaddedInt8, planConv } from './layers/conv2d.js';
import { denseInt8 } from './layers/dense.js';
import { packWeights } from './layers/swar.js';
import { makeExpTable, maxPoolInt8, reluInt8, softmaxInt8 } from './layers/pointwise.js';
import { dequantizeInto, quantizeInto } from './quant-math.js';

/** One layer's output in {@link Int8Executor.trace}. */
export interface Int8TraceEntry {
  /** Index of the int8 layer. */
  readonly layer: number;
  /** Index of the float layer whose output this corresponds to. */
  readonly sourceLayer: number;
  readonly kind: string;
  /** Dequantised output (softmax: probabilities). */
  readonly values: Float32Array;
  /** Quantisation of the output; `null` for softmax (float output). */
  readonly quant: QuantParams | null;
}

function foldBias(bias: Int32Array, weights: Int8Array, inputZeroPoint: number): Int32Array {
  const outs = bias.length;
  const per = weights.length / outs;
  const eff = new Int32Array(outs);
  for (let o = 0; o < outs; o++) {
    let sum = 0;
    for (let i = o * per; i < (o + 1) * per; i++) sum += weights[i];
    eff[o] = bias[o] - inputZeroPoint * sum;
  }
  return eff;
}

function multipliers(inputScale: number, weightScales: Float32Array, outputScale: number): Float64Array {
  const m = new Float64Array(weightScales.length);
  for (let o = 0; o < m.length; o++) m[o] = (inputScale * weightScales[o]) / outputScale;
  return m;
}

/** Plans an int8 model once and runs frames without allocating. Not thread-safe: one frame at a time. */
export class Int8Executor {
  readonly model: Int8Model;
  /** Shapes of the input (index 0) and of every layer output. */
  readonly shapes: readonly (readonly number[])[];
  private readonly buffers: Int8Array[];
  private readonly steps: (() => void)[];
  private readonly quants: (QuantParams | null)[];
  /** Final float output: softmax probabilities or the dequantised last tensor. */
  private readonly output: Float32Array;
  private readonly finish: () => void;

  /** @throws InferenceError `INFERENCE_INVALID_MODEL` when the model is inconsistent. */
  constructor(model: Int8Model) {
    this.model = model;
    const shapes = validateInt8Model(model);
    this.shapes = shapes;
    this.quants = activationQuant(model);
    this.buffers = [new Int8Array(shapeSize(shapes[0]))];
    this.steps = [];
    const outN = shapeSize(shapes[shapes.length - 1]);
    this.output = new Float32Array(outN);
    let finish: (() => void) | undefined;
    model.layers.forEach((layer, i) => {
      const x = this.buffers[i];
      const inQ = this.quants[i]!;
      const n = shapeSize(shapes[i + 1]);
      const y = layer.kind === 'flatten' || layer.kind === 'softmax' ? x : new Int8Array(n);
      this.buffers.push(y);
      switch (layer.kind) {
        case 'dense': {
          const biasEff = foldBias(layer.bias, layer.weights, inQ.zeroPoint);
          const mult = multipliers(inQ.scale, layer.weightScales, layer.output.scale);
          const zp = layer.output.zeroPoint;
          const lo = layer.activation === 'relu' ? zp : -128;
          const { inFeatures, outFeatures } = layer;
          const pw = packWeights(layer.weights, outFeatures);
          this.steps.push(() => denseInt8(x, pw, biasEff, mult, inFeatures, outFeatures, zp, lo, y));
          break;
        }
        case 'conv2d': {
          const p = planConv(shapes[i], layer.outChannels, layer.kernelSize, layer.stride, layer.padding);
          // The border holds the input zero point, i.e. the real value 0, and is never overwritten.
          const xp = p.unpadded ? x : new Int8Array(p.paddedH * p.paddedW * p.inC).fill(inQ.zeroPoint);
          const biasEff = foldBias(layer.bias, layer.weights, inQ.zeroPoint);
          const mult = multipliers(inQ.scale, layer.weightScales, layer.output.scale);
          const zp = layer.output.zeroPoint;
          const lo = layer.activation === 'relu' ? zp : -128;
          const pw = packWeights(layer.weights, layer.outChannels);
          this.steps.push(() => {
            if (!p.unpadded) copyIntoPaddedInt8(p, x, xp);
            conv2dInt8(p, xp, pw, biasEff, mult, zp, lo, y);
          });
          break;
        }
        case 'relu': {
          const floor = inQ.zeroPoint;
          this.steps.push(() => reluInt8(x, floor, y, n));
          break;
        }
        case 'maxpool2d': {
          const [, inW, channels] = shapes[i];
          const [outH, outW] = shapes[i + 1];
          const plan = {
            inW, channels, outH, outW,
            poolH: layer.poolSize[0], poolW: layer.poolSize[1],
            strideH: layer.stride[0], strideW: layer.stride[1],
          };
          this.steps.push(() => maxPoolInt8(plan, x, y));
          break;
        }
        case 'flatten':
          this.steps.push(() => undefined);
          break;
        case 'softmax': {
          const table = makeExpTable(inQ.scale);
          const out = this.output;
          this.steps.push(() => softmaxInt8(x, table, out, n));
          finish = () => undefined;
          break;
        }
      }
    });
    if (!finish) {
      const last = this.buffers[this.buffers.length - 1];
      const q = this.quants[this.quants.length - 1]!;
      const out = this.output;
      finish = () => dequantizeInto(last, q, out, outN);
    }
    this.finish = finish;
  }

  /**
   * Runs one frame: a Float32Array is quantised with the model's input parameters; an Int8Array is taken
   * as already quantised. Returns float32 output (softmax probabilities, or the dequantised last tensor)
   * in the executor's own buffer, valid until the next call.
   *
   * @throws InferenceError `INFERENCE_INVALID_INPUT` when the frame has the wrong size or type.
   */
  run(input: Float32Array | Int8Array): Float32Array {
    this.load(input);
    const steps = this.steps;
    for (let i = 0; i < steps.length; i++) steps[i]();
    this.finish();
    return this.output;
  }

  /** Runs one frame and returns every layer's dequantised output, for debugging and error analysis. */
  trace(input: Float32Array | Int8Array): Int8TraceEntry[] {
    this.load(input);
    return this.model.layers.map((layer, i) => {
      this.steps[i]();
      const q = this.quants[i + 1];
      let values: Float32Array;
      if (q) {
        values = new Float32Array(this.buffers[i + 1].length);
        dequantizeInto(this.buffers[i + 1], q, values, values.length);
      } else {
        values = this.output.slice();
      }
      return { layer: i, sourceLayer: layer.sourceLayer, kind: layer.kind, values, quant: q };
    });
  }

  private load(input: Float32Array | Int8Array): void {
    checkInput(this.model.inputShape, input);
    if (input instanceof Float32Array) quantizeInto(input, this.model.input, this.buffers[0]);
    else if (input instanceof Int8Array) this.buffers[0].set(input);
    else {
      throw new InferenceError(
        'INFERENCE_INVALID_INPUT',
        'Int8 model input must be a Float32Array (quantised here) or an Int8Array (already quantised with model.input).',
      );
    }
  }
}

const cache = new WeakMap<Int8Model, Int8Executor>();

/**
 * Runs one frame through an int8 model and returns a fresh float32 copy of the output (probabilities when
 * the model ends in softmax). The planned executor is cached per model object.
 *
 * @throws InferenceError `INFERENCE_INVALID_MODEL` or `INFERENCE_INVALID_INPUT`.
 */
export function runInt8(model: Int8Model, input: Float32Array | Int8Array): Float32Array {
  let ex = cache.get(model);
  if (!ex) {
    ex = new Int8Executor(model);
    cache.set(model, ex);
  }
  return ex.run(input).slice();
}
