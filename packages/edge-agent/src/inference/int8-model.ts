/**
 * The int8 model: the float model's layer sequence with quantised parameters.
 *
 * Quantisation scheme (TFLite-compatible in spirit):
 * - real value `r = scale * (q - zeroPoint)`;
 * - weights: int8 in [-127, 127], symmetric (zero point 0), one scale per output channel;
 * - activations: int8 in [-128, 127], asymmetric, one scale/zero point per tensor from calibration;
 * - bias: int32 in the accumulator scale `inputScale * weightScale[o]` (zero point 0);
 * - dense/conv2d accumulate in int32 and requantise to the output tensor's scale; a following relu is
 *   fused into that requantisation (the lower clamp becomes the output zero point);
 * - relu (unfused), maxpool2d and flatten keep their input's scale and zero point;
 * - softmax (last layer only) dequantises its input and returns float32 probabilities.
 */

import { InferenceError } from './errors.js';
import { inferShapes, type Padding, type TensorShape } from './model.js';

/** Scale and zero point of an asymmetric int8 tensor: `real = scale * (q - zeroPoint)`. */
export interface QuantParams {
  /** Positive, finite, a float32 value (so it survives serialisation unchanged). */
  readonly scale: number;
  /** Integer in [-128, 127]. */
  readonly zeroPoint: number;
}

/** Activation fused into a dense or conv2d layer's requantisation. */
export type FusedActivation = 'none' | 'relu';

interface Int8LayerBase {
  /** Index of the last float layer this int8 layer stands for (a fused relu's index, say). */
  readonly sourceLayer: number;
}

/** Int8 fully connected layer. */
export interface Int8DenseLayer extends Int8LayerBase {
  readonly kind: 'dense';
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** `[outFeatures, inFeatures]`, values in [-127, 127]. */
  readonly weights: Int8Array;
  /** `[outFeatures]` per-output-channel weight scales. */
  readonly weightScales: Float32Array;
  /** `[outFeatures]` bias in accumulator scale `inputScale * weightScales[o]`. */
  readonly bias: Int32Array;
  readonly activation: FusedActivation;
  /** Quantisation of the layer's output tensor. */
  readonly output: QuantParams;
}

/** Int8 2-D convolution (NHWC, OHWI weights). */
export interface Int8Conv2dLayer extends Int8LayerBase {
  readonly kind: 'conv2d';
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: readonly [number, number];
  readonly stride: readonly [number, number];
  readonly padding: Padding;
  /** `[outChannels, kernelH, kernelW, inChannels]`, values in [-127, 127]. */
  readonly weights: Int8Array;
  /** `[outChannels]` per-output-channel weight scales. */
  readonly weightScales: Float32Array;
  /** `[outChannels]` bias in accumulator scale. */
  readonly bias: Int32Array;
  readonly activation: FusedActivation;
  readonly output: QuantParams;
}

/** Unfused relu: `max(q, zeroPoint)`, same quantisation as its input. */
export interface Int8ReluLayer extends Int8LayerBase {
  readonly kind: 'relu';
}

/** Max pooling on int8 values (order-preserving, so no requantisation). */
export interface Int8MaxPool2dLayer extends Int8LayerBase {
  readonly kind: 'maxpool2d';
  readonly poolSize: readonly [number, number];
  readonly stride: readonly [number, number];
}

/** Reshape to rank 1; no data moves. */
export interface Int8FlattenLayer extends Int8LayerBase {
  readonly kind: 'flatten';
}

/** Final softmax: dequantises logits and outputs float32 probabilities. */
export interface Int8SoftmaxLayer extends Int8LayerBase {
  readonly kind: 'softmax';
}

/** Any int8 layer. */
export type Int8Layer =
  | Int8DenseLayer
  | Int8Conv2dLayer
  | Int8ReluLayer
  | Int8MaxPool2dLayer
  | Int8FlattenLayer
  | Int8SoftmaxLayer;

/** A quantised model, as produced by `quantize()` and shipped with `serializeModel()`. */
export interface Int8Model {
  readonly dtype: 'int8';
  readonly inputShape: TensorShape;
  /** Quantisation of the model input (float frames are quantised with it). */
  readonly input: QuantParams;
  readonly layers: readonly Int8Layer[];
}

const INT32_MAX = 2 ** 31 - 1;

function bad(what: string): InferenceError {
  return new InferenceError('INFERENCE_INVALID_MODEL', `Int8 model ${what}. Re-create it with quantize() from a valid float model.`);
}

function checkQuant(q: QuantParams, where: string): void {
  if (!q || !(q.scale > 0) || !Number.isFinite(q.scale) || Math.fround(q.scale) !== q.scale) {
    throw bad(`${where} has scale ${q?.scale}; it must be a positive finite float32`);
  }
  if (!Number.isInteger(q.zeroPoint) || q.zeroPoint < -128 || q.zeroPoint > 127) {
    throw bad(`${where} has zero point ${q.zeroPoint}; it must be an integer in [-128, 127]`);
  }
}

/**
 * Quantisation of the model input and of every layer output: element 0 is the input's, element `i + 1`
 * layer `i`'s; `null` after a softmax (float output).
 */
export function activationQuant(model: Int8Model): (QuantParams | null)[] {
  const out: (QuantParams | null)[] = [model.input];
  for (const layer of model.layers) {
    const prev = out[out.length - 1];
    out.push(layer.kind === 'dense' || layer.kind === 'conv2d' ? layer.output : layer.kind === 'softmax' ? null : prev);
  }
  return out;
}

/**
 * Checks an int8 model completely: shapes chain, array types and lengths, weights in [-127, 127],
 * scales positive float32, zero points in range, and that no accumulator can overflow int32
 * (`fanIn * 127 * 255 + max|bias| < 2^31`). Returns per-layer shapes like `inferShapes`.
 *
 * @throws InferenceError `INFERENCE_INVALID_MODEL` naming the first problem.
 */
export function validateInt8Model(model: Int8Model): number[][] {
  if (model === null || typeof model !== 'object' || model.dtype !== 'int8' || !Array.isArray(model.layers)) {
    throw new InferenceError(
      'INFERENCE_INVALID_MODEL',
      'Expected an int8 model ({ dtype: "int8", inputShape, input, layers }). Create one with quantize() or deserializeModel().',
    );
  }
  const shapes = inferShapes(model.inputShape, model.layers);
  checkQuant(model.input, 'input');
  model.layers.forEach((layer, i) => {
    if (!Number.isInteger(layer.sourceLayer) || layer.sourceLayer < 0 || layer.sourceLayer > 0xffff) {
      throw bad(`layer ${i} (${layer.kind}) has sourceLayer ${layer.sourceLayer}; it must be an integer in [0, 65535]`);
    }
    if (layer.kind !== 'dense' && layer.kind !== 'conv2d') return;
    const where = `layer ${i} (${layer.kind})`;
    const fanIn = layer.kind === 'dense' ? layer.inFeatures : layer.kernelSize[0] * layer.kernelSize[1] * layer.inChannels;
    const outs = layer.kind === 'dense' ? layer.outFeatures : layer.outChannels;
    if (!(layer.weights instanceof Int8Array) || layer.weights.length !== outs * fanIn) {
      throw bad(`${where} needs an Int8Array of ${outs * fanIn} weights`);
    }
    for (const w of layer.weights) if (w === -128) throw bad(`${where} has weight -128; symmetric weights lie in [-127, 127]`);
    if (!(layer.weightScales instanceof Float32Array) || layer.weightScales.length !== outs) {
      throw bad(`${where} needs a Float32Array of ${outs} weight scales`);
    }
    for (const s of layer.weightScales) if (!(s > 0) || !Number.isFinite(s)) throw bad(`${where} has weight scale ${s}; it must be positive and finite`);
    if (!(layer.bias instanceof Int32Array) || layer.bias.length !== outs) throw bad(`${where} needs an Int32Array of ${outs} biases`);
    let maxBias = 0;
    for (const b of layer.bias) maxBias = Math.max(maxBias, Math.abs(b));
    if (fanIn * 127 * 255 + maxBias > INT32_MAX) throw bad(`${where} could overflow its int32 accumulator (fan-in ${fanIn}, max |bias| ${maxBias})`);
    if (layer.activation !== 'none' && layer.activation !== 'relu') throw bad(`${where} has activation ${JSON.stringify(layer.activation)}; use 'none' or 'relu'`);
    checkQuant(layer.output, `${where} output`);
  });
  return shapes;
}
