/**
 * Minimal backpropagation for the layer set of {@link FloatModel}: plain mini-batch SGD on softmax
 * cross-entropy. It exists so the package can train its own test model without downloads; it is not a
 * training framework (one frame at a time, no optimiser state, no regularisation).
 *
 * The model must end in `softmax`; its weights are updated in place.
 */

import { InferenceError } from './errors.js';
import type { LabelledSample } from './evaluate.js';
import { argmax } from './evaluate.js';
import { conv2dFloat, copyIntoPaddedFloat, planConv, type ConvPlan } from './layers/conv2d.js';
import { denseFloat } from './layers/dense.js';
import { reluFloat, softmaxFloat } from './layers/pointwise.js';
import { shapeSize, validateFloatModel, type FloatModel } from './model.js';
import type { Prng } from './prng.js';

interface Step {
  forward(): void;
  /** Propagates the gradient of this layer's output into its input (when `needInput`) and its params. */
  backward(needInput: boolean): void;
  /** Applies and clears accumulated parameter gradients. */
  update(lr: number): void;
}

/** Trains a float model in place with mini-batch SGD. */
export class SgdTrainer {
  private readonly acts: Float32Array[];
  private readonly grads: Float32Array[];
  private readonly steps: Step[];
  private readonly numClasses: number;

  /** @throws InferenceError `INFERENCE_INVALID_MODEL` when the model is invalid or does not end in softmax. */
  constructor(private readonly model: FloatModel) {
    const shapes = validateFloatModel(model);
    const layers = model.layers;
    if (layers.length === 0 || layers[layers.length - 1].kind !== 'softmax') {
      throw new InferenceError('INFERENCE_INVALID_MODEL', 'SgdTrainer needs a model that ends in softmax (it minimises cross-entropy). Append { kind: "softmax" }.');
    }
    this.numClasses = shapeSize(shapes[shapes.length - 1]);
    this.acts = [new Float32Array(shapeSize(shapes[0]))];
    this.grads = [new Float32Array(shapeSize(shapes[0]))];
    this.steps = [];
    layers.forEach((layer, i) => {
      const x = this.acts[i];
      const gx = this.grads[i];
      const n = shapeSize(shapes[i + 1]);
      const alias = layer.kind === 'flatten';
      const y = alias ? x : new Float32Array(n);
      const gy = alias ? gx : new Float32Array(n);
      this.acts.push(y);
      this.grads.push(gy);
      const noUpdate = (): void => undefined;
      switch (layer.kind) {
        case 'dense': {
          const { weights: w, bias: b, inFeatures: inF, outFeatures: outF } = layer;
          const gw = new Float32Array(w.length);
          const gb = new Float32Array(b.length);
          this.steps.push({
            forward: () => denseFloat(x, w, b, inF, outF, y),
            backward: (needInput) => {
              if (needInput) gx.fill(0);
              for (let o = 0, wi = 0; o < outF; o++) {
                const g = gy[o];
                gb[o] += g;
                for (let k = 0; k < inF; k++, wi++) {
                  gw[wi] += g * x[k];
                  if (needInput) gx[k] += g * w[wi];
                }
              }
            },
            update: (lr) => sgd(w, gw, b, gb, lr),
          });
          break;
        }
        case 'conv2d': {
          const p = planConv(shapes[i], layer.outChannels, layer.kernelSize, layer.stride, layer.padding);
          const { weights: w, bias: b } = layer;
          const xp = new Float32Array(p.paddedH * p.paddedW * p.inC);
          const gxp = new Float32Array(xp.length);
          const gw = new Float32Array(w.length);
          const gb = new Float32Array(b.length);
          this.steps.push({
            forward: () => {
              copyIntoPaddedFloat(p, x, xp);
              conv2dFloat(p, xp, w, b, y);
            },
            backward: (needInput) => {
              convBackward(p, xp, w, gy, gw, gb, needInput ? gxp : undefined);
              if (needInput) copyFromPadded(p, gxp, gx);
            },
            update: (lr) => sgd(w, gw, b, gb, lr),
          });
          break;
        }
        case 'relu':
          this.steps.push({
            forward: () => reluFloat(x, y, n),
            backward: () => {
              for (let k = 0; k < n; k++) gx[k] = y[k] > 0 ? gy[k] : 0;
            },
            update: noUpdate,
          });
          break;
        case 'maxpool2d': {
          const [, inW, c] = shapes[i];
          const [outH, outW] = shapes[i + 1];
          const [ph, pw] = layer.poolSize;
          const [sh, sw] = layer.stride;
          const argIdx = new Int32Array(n);
          this.steps.push({
            forward: () => {
              let yi = 0;
              for (let oy = 0; oy < outH; oy++) {
                for (let ox = 0; ox < outW; ox++) {
                  for (let ch = 0; ch < c; ch++, yi++) {
                    let m = -Infinity;
                    let mi = 0;
                    for (let ky = 0; ky < ph; ky++) {
                      for (let kx = 0; kx < pw; kx++) {
                        const xi = ((oy * sh + ky) * inW + ox * sw + kx) * c + ch;
                        if (x[xi] > m) {
                          m = x[xi];
                          mi = xi;
                        }
                      }
                    }
                    y[yi] = m;
                    argIdx[yi] = mi;
                  }
                }
              }
            },
            backward: () => {
              gx.fill(0);
              for (let k = 0; k < n; k++) gx[argIdx[k]] += gy[k];
            },
            update: noUpdate,
          });
          break;
        }
        case 'flatten':
          this.steps.push({ forward: noUpdate, backward: noUpdate, update: noUpdate });
          break;
        case 'softmax':
          // Backward is folded into the loss: d(CE)/d(logits) = p - onehot.
          this.steps.push({
            forward: () => softmaxFloat(x, y, n),
            backward: () => {
              for (let k = 0; k < n; k++) gx[k] = gy[k];
            },
            update: noUpdate,
          });
          break;
      }
    });
  }

  /**
   * One epoch over `samples` in the order given by `rng` (shuffled), updating after every `batchSize`
   * frames. Returns the epoch's training accuracy (measured before each frame's update).
   */
  epoch(samples: readonly LabelledSample[], lr: number, batchSize: number, rng: Prng): number {
    const order = samples.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    const last = this.acts.length - 1;
    let correct = 0;
    let inBatch = 0;
    for (const idx of order) {
      const s = samples[idx];
      this.acts[0].set(s.input);
      for (const step of this.steps) step.forward();
      const probs = this.acts[last];
      if (argmax(probs) === s.label) correct++;
      const g = this.grads[last];
      for (let k = 0; k < this.numClasses; k++) g[k] = probs[k] - (k === s.label ? 1 : 0);
      for (let i = this.steps.length - 1; i >= 0; i--) this.steps[i].backward(i > 0);
      if (++inBatch === batchSize) {
        for (const step of this.steps) step.update(lr / inBatch);
        inBatch = 0;
      }
    }
    if (inBatch > 0) for (const step of this.steps) step.update(lr / inBatch);
    return correct / samples.length;
  }

  /** The model being trained (same object as given). */
  get trained(): FloatModel {
    return this.model;
  }
}

function sgd(w: Float32Array, gw: Float32Array, b: Float32Array, gb: Float32Array, lr: number): void {
  for (let k = 0; k < w.length; k++) {
    w[k] -= lr * gw[k];
    gw[k] = 0;
  }
  for (let k = 0; k < b.length; k++) {
    b[k] -= lr * gb[k];
    gb[k] = 0;
  }
}

function convBackward(
  p: ConvPlan,
  xp: Float32Array,
  w: Float32Array,
  gy: Float32Array,
  gw: Float32Array,
  gb: Float32Array,
  gxp: Float32Array | undefined,
): void {
  if (gxp) gxp.fill(0);
  const rowStride = p.paddedW * p.inC;
  const rowLen = p.kernelW * p.inC;
  const wPerOut = p.kernelH * rowLen;
  let yi = 0;
  for (let oy = 0; oy < p.outH; oy++) {
    for (let ox = 0; ox < p.outW; ox++) {
      const base = oy * p.strideH * rowStride + ox * p.strideW * p.inC;
      for (let oc = 0; oc < p.outC; oc++, yi++) {
        const g = gy[yi];
        if (g === 0) continue;
        gb[oc] += g;
        let wi = oc * wPerOut;
        for (let ky = 0; ky < p.kernelH; ky++) {
          const row = base + ky * rowStride;
          for (let j = 0; j < rowLen; j++, wi++) {
            gw[wi] += g * xp[row + j];
            if (gxp) gxp[row + j] += g * w[wi];
          }
        }
      }
    }
  }
}

function copyFromPadded(p: ConvPlan, padded: Float32Array, x: Float32Array): void {
  const rowLen = p.inW * p.inC;
  const paddedRow = p.paddedW * p.inC;
  for (let y = 0; y < p.inH; y++) {
    let src = (y + p.padTop) * paddedRow + p.padLeft * p.inC;
    let dst = y * rowLen;
    for (let i = 0; i < rowLen; i++) x[dst++] = padded[src++];
  }
}
