/**
 * Post-training quantisation: float32 model + calibration frames → {@link Int8Model}.
 *
 * Weights are quantised symmetrically per output channel; each activation tensor that a dense/conv2d
 * layer produces gets an asymmetric per-tensor scale/zero point from the calibration frames (see
 * `calibration.ts` for `minmax` vs `percentile`). A relu directly after dense/conv2d is fused: its output
 * range (≥ 0) is what gets calibrated, so the whole int8 grid is spent on non-negative values.
 */

import { InferenceError } from './errors.js';
import { FloatExecutor } from './float-executor.js';
import type { Int8Layer, Int8Model, QuantParams } from './int8-model.js';
import { validateInt8Model } from './int8-model.js';
import { shapeSize, validateFloatModel, type FloatModel } from './model.js';
import { RangeObserver, type CalibrationMethod } from './calibration.js';
import { isBoolean, numberIn, oneOf, resolveOptions } from './options.js';
import { chooseActivationQuant, quantizeBias, quantizeWeightsPerChannel } from './quant-math.js';

/** Options of {@link quantize}. */
export interface QuantizeOptions {
  /** How activation ranges are calibrated. Default `'minmax'`. */
  calibration?: CalibrationMethod;
  /** For `'percentile'`: the upper percentile kept, in (50, 100]. Default 99.99. */
  percentile?: number;
  /** Fuse a relu that directly follows dense/conv2d into its requantisation. Default true. */
  fuseRelu?: boolean;
}

type ResolvedQuantizeOptions = Required<QuantizeOptions>;

const DEFAULTS: ResolvedQuantizeOptions = { calibration: 'minmax', percentile: 99.99, fuseRelu: true };

/** Resolves {@link QuantizeOptions} into a frozen form; exported for tests. */
export function resolveQuantizeOptions(opts?: QuantizeOptions): Readonly<ResolvedQuantizeOptions> {
  const r = resolveOptions('quantize()', opts, DEFAULTS, {
    calibration: oneOf('minmax', 'percentile'),
    percentile: numberIn(50, 100),
    fuseRelu: isBoolean,
  });
  return r;
}

/**
 * Converts a float32 model to int8, calibrating activations on `calibrationSamples` (frames shaped like
 * `model.inputShape`; a few hundred representative frames is typical, more only costs time).
 *
 * @throws InferenceError `INFERENCE_INVALID_MODEL` for an inconsistent model,
 *   `INFERENCE_CALIBRATION` for no or mis-sized samples, `INFERENCE_INVALID_OPTIONS` for bad options.
 */
export function quantize(model: FloatModel, calibrationSamples: readonly Float32Array[], opts?: QuantizeOptions): Int8Model {
  const o = resolveQuantizeOptions(opts);
  validateFloatModel(model);
  const n = shapeSize(model.inputShape);
  if (!Array.isArray(calibrationSamples) || calibrationSamples.length === 0) {
    throw new InferenceError(
      'INFERENCE_CALIBRATION',
      'quantize() needs at least one calibration sample to choose activation ranges. Pass representative frames (a few hundred is typical).',
    );
  }
  calibrationSamples.forEach((s, i) => {
    if (!(s instanceof Float32Array) || s.length !== n) {
      throw new InferenceError(
        'INFERENCE_CALIBRATION',
        `Calibration sample ${i} is not a Float32Array of ${n} values (input shape [${model.inputShape.join(', ')}]). Pass frames shaped like the model input.`,
      );
    }
    for (const v of s) {
      if (!Number.isFinite(v)) {
        throw new InferenceError('INFERENCE_CALIBRATION', `Calibration sample ${i} contains a non-finite value. Clean the frame before calibrating.`);
      }
    }
  });

  // Which float layer outputs need their own quantisation: each dense/conv2d group's last layer.
  const layers = model.layers;
  const groupEnd = new Map<number, number>();
  for (let i = 0; i < layers.length; i++) {
    const k = layers[i].kind;
    if (k !== 'dense' && k !== 'conv2d') continue;
    const fused = o.fuseRelu && layers[i + 1]?.kind === 'relu';
    groupEnd.set(i, fused ? i + 1 : i);
  }
  const observed = new Map<number, RangeObserver>();
  for (const end of groupEnd.values()) observed.set(end, new RangeObserver());
  const inputObserver = new RangeObserver();

  const ex = new FloatExecutor(model);
  const pass = (observe: (obs: RangeObserver, v: Float32Array) => void): void => {
    for (const s of calibrationSamples) {
      observe(inputObserver, s);
      const outs = ex.trace(s);
      for (const [idx, obs] of observed) observe(obs, outs[idx]);
    }
  };
  pass((obs, v) => obs.observeRange(v));
  if (o.calibration === 'percentile') pass((obs, v) => obs.observeHistogram(v));
  const quantOf = (obs: RangeObserver): QuantParams => {
    const r = obs.range(o.calibration, o.percentile);
    return chooseActivationQuant(r.min, r.max);
  };

  const input = quantOf(inputObserver);
  let current = input;
  const out: Int8Layer[] = [];
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i];
    switch (layer.kind) {
      case 'dense':
      case 'conv2d': {
        const end = groupEnd.get(i)!;
        const outChannels = layer.kind === 'dense' ? layer.outFeatures : layer.outChannels;
        const { weights, scales } = quantizeWeightsPerChannel(layer.weights, outChannels);
        const bias = quantizeBias(layer.bias, current.scale, scales);
        const output = quantOf(observed.get(end)!);
        const activation = end > i ? 'relu' : 'none';
        if (layer.kind === 'dense') {
          out.push({
            kind: 'dense', sourceLayer: end, inFeatures: layer.inFeatures, outFeatures: layer.outFeatures,
            weights, weightScales: scales, bias, activation, output,
          });
        } else {
          out.push({
            kind: 'conv2d', sourceLayer: end, inChannels: layer.inChannels, outChannels: layer.outChannels,
            kernelSize: [layer.kernelSize[0], layer.kernelSize[1]], stride: [layer.stride[0], layer.stride[1]],
            padding: layer.padding, weights, weightScales: scales, bias, activation, output,
          });
        }
        current = output;
        i = end;
        break;
      }
      case 'maxpool2d':
        out.push({
          kind: 'maxpool2d', sourceLayer: i,
          poolSize: [layer.poolSize[0], layer.poolSize[1]], stride: [layer.stride[0], layer.stride[1]],
        });
        break;
      case 'relu':
      case 'flatten':
      case 'softmax':
        out.push({ kind: layer.kind, sourceLayer: i });
        break;
    }
  }
  const result: Int8Model = { dtype: 'int8', inputShape: [...model.inputShape], input, layers: out };
  validateInt8Model(result);
  return result;
}
