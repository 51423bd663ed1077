/**
 * On-device inference runtime of the edge agent: float32 and int8 execution of small sequential models
 * (dense, conv2d, relu, maxpool2d, flatten, softmax) in pure TypeScript on typed arrays, post-training
 * int8 quantisation with calibration, a checksummed binary model format for shipping to cameras, and an
 * evaluation call reporting accuracy and per-frame latency. See INFERENCE.md for formats and tolerances.
 *
 * @example
 * ```ts
 * import { trainTinyClassifier, quantize, serializeModel, deserializeModel, evaluate } from '@samsara/ray-edge';
 *
 * const { model, calibration, test } = trainTinyClassifier();
 * const int8 = quantize(model, calibration);
 * const bytes = serializeModel(int8);              // ship these to the camera
 * const onDevice = deserializeModel(bytes);        // throws ModelFormatError if damaged
 * const { accuracy, latencyMs } = evaluate(onDevice, test);
 * ```
 */

export { InferenceError, ModelFormatError, isInferenceError } from './errors.js';
export type { InferenceErrorCode, ModelFormatReason } from './errors.js';
export { inferShapes, layerOutputShape, shapeSize, validateFloatModel } from './model.js';
export type {
  Conv2dLayer,
  DenseLayer,
  FlattenLayer,
  FloatLayer,
  FloatModel,
  LayerGeometry,
  MaxPool2dLayer,
  Padding,
  ReluLayer,
  SoftmaxLayer,
  TensorShape,
} from './model.js';
export { activationQuant, validateInt8Model } from './int8-model.js';
export type {
  FusedActivation,
  Int8Conv2dLayer,
  Int8DenseLayer,
  Int8FlattenLayer,
  Int8Layer,
  Int8MaxPool2dLayer,
  Int8Model,
  Int8ReluLayer,
  Int8SoftmaxLayer,
  QuantParams,
} from './int8-model.js';
export { FloatExecutor, runFloat } from './float-executor.js';
export { Int8Executor, runInt8 } from './int8-executor.js';
export type { Int8TraceEntry } from './int8-executor.js';
export { quantize, resolveQuantizeOptions } from './quantize.js';
export type { QuantizeOptions } from './quantize.js';
export type { CalibrationMethod } from './calibration.js';
export {
  chooseActivationQuant,
  dequantizeInto,
  quantizeBias,
  quantizeInto,
  quantizeValue,
  quantizeWeightsPerChannel,
} from './quant-math.js';
export { deserializeModel, serializeModel, MODEL_FORMAT_VERSION, MODEL_MAGIC } from './serialize.js';
export { argmax, evaluate, percentile } from './evaluate.js';
export type { EvaluateOptions, EvaluationResult, LabelledSample, LatencySummary } from './evaluate.js';
export { generateShapesDataset, SHAPE_CLASSES, SHAPE_IMAGE_SIZE } from './dataset.js';
export type { ShapesDatasetOptions } from './dataset.js';
export { createPrng } from './prng.js';
export type { Prng } from './prng.js';
export { SgdTrainer } from './sgd-trainer.js';
export { trainTinyClassifier } from './train.js';
export type { TinyArchitecture, TinyClassifier, TrainTinyClassifierOptions } from './train.js';
