/**
 * The float32 model description: a straight sequence of layers applied to one frame (no batch axis).
 *
 * Layout is NHWC without the N: an image tensor has shape `[height, width, channels]` and is stored
 * channel-fastest, as TFLite and most int8 NPUs do, so the inner loop of a convolution reads contiguous
 * channels. Conv2d weights are `[outChannels, kernelH, kernelW, inChannels]` (OHWI); dense weights are
 * `[outFeatures, inFeatures]`. A dense layer takes a rank-1 tensor, so image models put a `flatten` before it.
 * `softmax` may only be the last layer.
 */

import { InferenceError } from './errors.js';
import { axisGeometry, type Padding } from './layers/geometry.js';

export type { Padding } from './layers/geometry.js';

/** Shape of one frame's tensor: `[features]` or `[height, width, channels]`. */
export type TensorShape = readonly number[];

/** Fully connected layer: `y[o] = bias[o] + Σ_i weights[o * inFeatures + i] * x[i]`. */
export interface DenseLayer {
  readonly kind: 'dense';
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Row-major `[outFeatures, inFeatures]`. */
  readonly weights: Float32Array;
  /** `[outFeatures]`. */
  readonly bias: Float32Array;
}

/** 2-D convolution over an NHWC tensor. */
export interface Conv2dLayer {
  readonly kind: 'conv2d';
  readonly inChannels: number;
  readonly outChannels: number;
  /** `[kernelH, kernelW]`. */
  readonly kernelSize: readonly [number, number];
  /** `[strideH, strideW]`. */
  readonly stride: readonly [number, number];
  readonly padding: Padding;
  /** OHWI: `[outChannels, kernelH, kernelW, inChannels]`. */
  readonly weights: Float32Array;
  /** `[outChannels]`. */
  readonly bias: Float32Array;
}

/** `max(x, 0)` elementwise. */
export interface ReluLayer {
  readonly kind: 'relu';
}

/** Max pooling with `'valid'` padding. */
export interface MaxPool2dLayer {
  readonly kind: 'maxpool2d';
  /** `[poolH, poolW]`. */
  readonly poolSize: readonly [number, number];
  /** `[strideH, strideW]`; usually equal to `poolSize`. */
  readonly stride: readonly [number, number];
}

/** Reshape `[h, w, c]` to `[h * w * c]` (NHWC order, so no data moves). */
export interface FlattenLayer {
  readonly kind: 'flatten';
}

/** Softmax over a rank-1 tensor; only allowed as the last layer. */
export interface SoftmaxLayer {
  readonly kind: 'softmax';
}

/** Any float32 layer. */
export type FloatLayer = DenseLayer | Conv2dLayer | ReluLayer | MaxPool2dLayer | FlattenLayer | SoftmaxLayer;

/** A float32 model: input shape plus layers, applied in order. */
export interface FloatModel {
  readonly dtype: 'float32';
  readonly inputShape: TensorShape;
  readonly layers: readonly FloatLayer[];
}

/** The geometric part of a layer, enough to infer shapes (shared by float and int8 layers). */
export type LayerGeometry =
  | { readonly kind: 'dense'; readonly inFeatures: number; readonly outFeatures: number }
  | {
      readonly kind: 'conv2d';
      readonly inChannels: number;
      readonly outChannels: number;
      readonly kernelSize: readonly [number, number];
      readonly stride: readonly [number, number];
      readonly padding: Padding;
    }
  | { readonly kind: 'relu' | 'flatten' | 'softmax' }
  | { readonly kind: 'maxpool2d'; readonly poolSize: readonly [number, number]; readonly stride: readonly [number, number] };

/** Number of elements of a tensor of `shape`. */
export function shapeSize(shape: TensorShape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function isPositiveInt(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n > 0;
}

function invalid(index: number, kind: string, what: string): InferenceError {
  return new InferenceError(
    'INFERENCE_INVALID_MODEL',
    `Layer ${index} (${kind}) ${what}. Fix the model description; shapes are NHWC [height, width, channels] per frame.`,
  );
}

/**
 * Output shape of `layer` applied to `input`.
 *
 * @throws InferenceError `INFERENCE_INVALID_MODEL` when the layer cannot take that input.
 */
export function layerOutputShape(layer: LayerGeometry, input: TensorShape, index: number): number[] {
  switch (layer.kind) {
    case 'dense': {
      if (!isPositiveInt(layer.inFeatures) || !isPositiveInt(layer.outFeatures)) {
        throw invalid(index, layer.kind, 'needs positive integer inFeatures and outFeatures');
      }
      if (input.length !== 1 || input[0] !== layer.inFeatures) {
        throw invalid(index, layer.kind, `expects input [${layer.inFeatures}] but gets [${input.join(', ')}]; put a flatten layer before it`);
      }
      return [layer.outFeatures];
    }
    case 'conv2d': {
      const [kh, kw] = layer.kernelSize;
      const [sh, sw] = layer.stride;
      if (![layer.inChannels, layer.outChannels, kh, kw, sh, sw].every(isPositiveInt)) {
        throw invalid(index, layer.kind, 'needs positive integer channels, kernelSize and stride');
      }
      if (layer.padding !== 'same' && layer.padding !== 'valid') {
        throw invalid(index, layer.kind, `has padding ${JSON.stringify(layer.padding)}; use 'same' or 'valid'`);
      }
      if (input.length !== 3 || input[2] !== layer.inChannels) {
        throw invalid(index, layer.kind, `expects input [h, w, ${layer.inChannels}] but gets [${input.join(', ')}]`);
      }
      const gh = axisGeometry(input[0], kh, sh, layer.padding);
      const gw = axisGeometry(input[1], kw, sw, layer.padding);
      if (!gh || !gw) throw invalid(index, layer.kind, `kernel ${kh}x${kw} does not fit input [${input.join(', ')}] with 'valid' padding`);
      return [gh.out, gw.out, layer.outChannels];
    }
    case 'maxpool2d': {
      const [ph, pw] = layer.poolSize;
      const [sh, sw] = layer.stride;
      if (![ph, pw, sh, sw].every(isPositiveInt)) throw invalid(index, layer.kind, 'needs positive integer poolSize and stride');
      if (input.length !== 3) throw invalid(index, layer.kind, `expects input [h, w, c] but gets [${input.join(', ')}]`);
      const gh = axisGeometry(input[0], ph, sh, 'valid');
      const gw = axisGeometry(input[1], pw, sw, 'valid');
      if (!gh || !gw) throw invalid(index, layer.kind, `pool ${ph}x${pw} does not fit input [${input.join(', ')}]`);
      return [gh.out, gw.out, input[2]];
    }
    case 'flatten':
      return [shapeSize(input)];
    case 'relu':
      return [...input];
    case 'softmax':
      if (input.length !== 1) throw invalid(index, layer.kind, `expects a rank-1 input but gets [${input.join(', ')}]; put a flatten layer before it`);
      return [...input];
    default:
      throw invalid(index, (layer as { kind: string }).kind, 'has an unknown kind; use dense, conv2d, relu, maxpool2d, flatten or softmax');
  }
}

/**
 * Shapes of the input and of every layer output: element 0 is the input shape, element `i + 1` the output
 * of layer `i`. Also checks that softmax, if present, is last.
 *
 * @throws InferenceError `INFERENCE_INVALID_MODEL` on any inconsistency.
 */
export function inferShapes(inputShape: TensorShape, layers: readonly LayerGeometry[]): number[][] {
  if (!Array.isArray(inputShape) || inputShape.length === 0 || !inputShape.every(isPositiveInt)) {
    throw new InferenceError(
      'INFERENCE_INVALID_MODEL',
      `Model inputShape ${JSON.stringify(inputShape)} is not a list of positive integers. Use [features] or [height, width, channels].`,
    );
  }
  const shapes: number[][] = [[...inputShape]];
  layers.forEach((layer, i) => {
    if (layer.kind === 'softmax' && i !== layers.length - 1) {
      throw invalid(i, 'softmax', 'is not the last layer; softmax is only supported as the final layer');
    }
    shapes.push(layerOutputShape(layer, shapes[i], i));
  });
  return shapes;
}

/**
 * Checks a float model: shapes chain, weight and bias lengths match, all parameters finite.
 * Returns the per-layer shapes as {@link inferShapes} does.
 *
 * @throws InferenceError `INFERENCE_INVALID_MODEL` naming the first bad layer.
 */
export function validateFloatModel(model: FloatModel): number[][] {
  if (model === null || typeof model !== 'object' || model.dtype !== 'float32' || !Array.isArray(model.layers)) {
    throw new InferenceError(
      'INFERENCE_INVALID_MODEL',
      'Expected a float32 model ({ dtype: "float32", inputShape, layers }). Build one with the FloatModel type or trainTinyClassifier().',
    );
  }
  const shapes = inferShapes(model.inputShape, model.layers);
  model.layers.forEach((layer, i) => {
    if (layer.kind !== 'dense' && layer.kind !== 'conv2d') return;
    const fanIn = layer.kind === 'dense' ? layer.inFeatures : layer.kernelSize[0] * layer.kernelSize[1] * layer.inChannels;
    const outs = layer.kind === 'dense' ? layer.outFeatures : layer.outChannels;
    if (!(layer.weights instanceof Float32Array) || layer.weights.length !== outs * fanIn) {
      throw invalid(i, layer.kind, `needs a Float32Array of ${outs * fanIn} weights but has ${layer.weights?.length ?? 'none'}`);
    }
    if (!(layer.bias instanceof Float32Array) || layer.bias.length !== outs) {
      throw invalid(i, layer.kind, `needs a Float32Array of ${outs} biases but has ${layer.bias?.length ?? 'none'}`);
    }
    for (const v of layer.weights) if (!Number.isFinite(v)) throw invalid(i, layer.kind, 'has a non-finite weight');
    for (const v of layer.bias) if (!Number.isFinite(v)) throw invalid(i, layer.kind, 'has a non-finite bias');
  });
  return shapes;
}
