/**
 * Binary form of an {@link Int8Model}: the object shipped to a camera. All numbers little-endian.
 *
 * ```
 * header (16 bytes)
 *   0  magic        4 bytes  "RTI8"
 *   4  version      u16      1
 *   6  flags        u16      0 (reserved; non-zero is rejected)
 *   8  payloadBytes u32      length of everything after the header
 *  12  crc32        u32      CRC-32 (IEEE) of the payload
 * payload
 *   rank u8, dims u32[rank]                      input shape (NHWC, no batch)
 *   inputScale f32, inputZeroPoint i8
 *   layerCount u16, then per layer:
 *     kind u8 (1 dense, 2 conv2d, 3 relu, 4 maxpool2d, 5 flatten, 6 softmax), sourceLayer u16
 *     dense:     inFeatures u32, outFeatures u32, activation u8 (0 none, 1 relu),
 *                outScale f32, outZeroPoint i8, weightScales f32[out], bias i32[out], weights i8[out*in]
 *     conv2d:    inChannels u32, outChannels u32, kernelH u16, kernelW u16, strideH u16, strideW u16,
 *                padding u8 (0 valid, 1 same), activation u8, outScale f32, outZeroPoint i8,
 *                weightScales f32[out], bias i32[out], weights i8[out*kh*kw*in] (OHWI)
 *     maxpool2d: poolH u16, poolW u16, strideH u16, strideW u16
 * ```
 *
 * Decoding checks, in order: magic, version, flags, length (truncated / trailing bytes), CRC-32, then
 * every section's bounds while parsing, then the whole model with `validateInt8Model`. Any failure is a
 * {@link ModelFormatError} whose `reason` names the check.
 */

import { crc32 } from './crc32.js';
import { InferenceError, ModelFormatError } from './errors.js';
import { validateInt8Model, type FusedActivation, type Int8Layer, type Int8Model } from './int8-model.js';

/** The 4 magic bytes, "RTI8". */
export const MODEL_MAGIC = Uint8Array.of(0x52, 0x54, 0x49, 0x38);
/** Format version written by {@link serializeModel}; the only one {@link deserializeModel} reads. */
export const MODEL_FORMAT_VERSION = 1;
const HEADER_BYTES = 16;

const KIND_CODE = { dense: 1, conv2d: 2, relu: 3, maxpool2d: 4, flatten: 5, softmax: 6 } as const;
const CODE_KIND = ['', 'dense', 'conv2d', 'relu', 'maxpool2d', 'flatten', 'softmax'] as const;

class Writer {
  private buf = new Uint8Array(1024);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): number {
    if (this.length + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }
  // reserve() may replace the buffer, so it must run before `this.view` is read.
  u8(v: number): void { const at = this.reserve(1); this.view.setUint8(at, v); }
  i8(v: number): void { const at = this.reserve(1); this.view.setInt8(at, v); }
  u16(v: number): void { const at = this.reserve(2); this.view.setUint16(at, v, true); }
  u32(v: number): void { const at = this.reserve(4); this.view.setUint32(at, v, true); }
  f32(v: number): void { const at = this.reserve(4); this.view.setFloat32(at, v, true); }
  f32s(a: Float32Array): void { for (const v of a) this.f32(v); }
  i32s(a: Int32Array): void { const at = this.reserve(4 * a.length); a.forEach((v, i) => this.view.setInt32(at + 4 * i, v, true)); }
  i8s(a: Int8Array): void { const at = this.reserve(a.length); this.buf.set(new Uint8Array(a.buffer, a.byteOffset, a.length), at); }
  bytes(): Uint8Array { return this.buf.slice(0, this.length); }
}

/**
 * Encodes an int8 model into the versioned binary format above.
 *
 * @throws InferenceError `INFERENCE_INVALID_MODEL` when the model is inconsistent (nothing invalid is
 *   ever written), or when a field does not fit its binary width.
 */
export function serializeModel(model: Int8Model): Uint8Array {
  validateInt8Model(model);
  const w = new Writer();
  const fits16 = (v: number, what: string): number => {
    if (v > 0xffff) throw new InferenceError('INFERENCE_INVALID_MODEL', `Cannot serialise: ${what} ${v} exceeds 65535 (format v1 stores it as u16). Use a smaller value.`);
    return v;
  };
  if (model.inputShape.length > 255) throw new InferenceError('INFERENCE_INVALID_MODEL', 'Cannot serialise: input rank exceeds 255.');
  fits16(model.layers.length, 'layer count');
  w.u8(model.inputShape.length);
  for (const d of model.inputShape) w.u32(d);
  w.f32(model.input.scale);
  w.i8(model.input.zeroPoint);
  w.u16(model.layers.length);
  for (const layer of model.layers) {
    w.u8(KIND_CODE[layer.kind]);
    w.u16(layer.sourceLayer);
    switch (layer.kind) {
      case 'dense':
        w.u32(layer.inFeatures);
        w.u32(layer.outFeatures);
        w.u8(layer.activation === 'relu' ? 1 : 0);
        w.f32(layer.output.scale);
        w.i8(layer.output.zeroPoint);
        w.f32s(layer.weightScales);
        w.i32s(layer.bias);
        w.i8s(layer.weights);
        break;
      case 'conv2d':
        w.u32(layer.inChannels);
        w.u32(layer.outChannels);
        for (const v of [...layer.kernelSize, ...layer.stride]) w.u16(fits16(v, 'conv2d kernel/stride'));
        w.u8(layer.padding === 'same' ? 1 : 0);
        w.u8(layer.activation === 'relu' ? 1 : 0);
        w.f32(layer.output.scale);
        w.i8(layer.output.zeroPoint);
        w.f32s(layer.weightScales);
        w.i32s(layer.bias);
        w.i8s(layer.weights);
        break;
      case 'maxpool2d':
        for (const v of [...layer.poolSize, ...layer.stride]) w.u16(fits16(v, 'maxpool2d pool/stride'));
        break;
      default:
        break;
    }
  }
  const payload = w.bytes();
  const out = new Uint8Array(HEADER_BYTES + payload.length);
  const view = new DataView(out.buffer);
  out.set(MODEL_MAGIC, 0);
  view.setUint16(4, MODEL_FORMAT_VERSION, true);
  view.setUint16(6, 0, true);
  view.setUint32(8, payload.length, true);
  view.setUint32(12, crc32(payload), true);
  out.set(payload, HEADER_BYTES);
  return out;
}

class Reader {
  private readonly view: DataView;
  pos: number;
  constructor(private readonly bytes: Uint8Array, start: number, private readonly end: number) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
  }
  private take(n: number, what: string): number {
    if (n > this.end - this.pos) {
      // The header length matched, so this is a layout disagreement, not a short file.
      throw new ModelFormatError(
        'invalid-structure',
        `Int8 model payload ends inside ${what}: needs ${n} bytes at offset ${this.pos}, ${this.end - this.pos} left. The file is damaged or from an incompatible writer; re-export it with serializeModel().`,
      );
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }
  u8(what: string): number { return this.view.getUint8(this.take(1, what)); }
  i8(what: string): number { return this.view.getInt8(this.take(1, what)); }
  u16(what: string): number { return this.view.getUint16(this.take(2, what), true); }
  u32(what: string): number { return this.view.getUint32(this.take(4, what), true); }
  f32(what: string): number { return this.view.getFloat32(this.take(4, what), true); }
  f32s(n: number, what: string): Float32Array {
    const at = this.take(4 * n, what);
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.view.getFloat32(at + 4 * i, true);
    return a;
  }
  i32s(n: number, what: string): Int32Array {
    const at = this.take(4 * n, what);
    const a = new Int32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.view.getInt32(at + 4 * i, true);
    return a;
  }
  i8s(n: number, what: string): Int8Array {
    const at = this.take(n, what);
    return new Int8Array(this.bytes.buffer.slice(this.bytes.byteOffset + at, this.bytes.byteOffset + at + n));
  }
}

function activationFrom(code: number, where: string): FusedActivation {
  if (code === 0) return 'none';
  if (code === 1) return 'relu';
  throw new ModelFormatError('invalid-structure', `Int8 model ${where} has unknown activation code ${code} (0 none, 1 relu). The file is damaged or from an incompatible writer.`);
}

function readLayer(r: Reader, index: number): Int8Layer {
  const where = `layer ${index}`;
  const code = r.u8(`${where} kind`);
  const kind = CODE_KIND[code];
  if (!kind) {
    throw new ModelFormatError('invalid-structure', `Int8 model ${where} has unknown kind code ${code}. The file is damaged or from a newer writer; re-export it.`);
  }
  const sourceLayer = r.u16(`${where} sourceLayer`);
  switch (kind) {
    case 'dense': {
      const inFeatures = r.u32(`${where} inFeatures`);
      const outFeatures = r.u32(`${where} outFeatures`);
      const activation = activationFrom(r.u8(`${where} activation`), where);
      const output = { scale: r.f32(`${where} output scale`), zeroPoint: r.i8(`${where} output zero point`) };
      const weightScales = r.f32s(outFeatures, `${where} weight scales`);
      const bias = r.i32s(outFeatures, `${where} bias`);
      const weights = r.i8s(outFeatures * inFeatures, `${where} weights`);
      return { kind, sourceLayer, inFeatures, outFeatures, activation, output, weightScales, bias, weights };
    }
    case 'conv2d': {
      const inChannels = r.u32(`${where} inChannels`);
      const outChannels = r.u32(`${where} outChannels`);
      const kernelSize: [number, number] = [r.u16(`${where} kernel`), r.u16(`${where} kernel`)];
      const stride: [number, number] = [r.u16(`${where} stride`), r.u16(`${where} stride`)];
      const padCode = r.u8(`${where} padding`);
      if (padCode > 1) {
        throw new ModelFormatError('invalid-structure', `Int8 model ${where} has unknown padding code ${padCode} (0 valid, 1 same). The file is damaged; re-export it.`);
      }
      const activation = activationFrom(r.u8(`${where} activation`), where);
      const output = { scale: r.f32(`${where} output scale`), zeroPoint: r.i8(`${where} output zero point`) };
      const weightScales = r.f32s(outChannels, `${where} weight scales`);
      const bias = r.i32s(outChannels, `${where} bias`);
      const weights = r.i8s(outChannels * kernelSize[0] * kernelSize[1] * inChannels, `${where} weights`);
      return {
        kind, sourceLayer, inChannels, outChannels, kernelSize, stride, padding: padCode === 1 ? 'same' : 'valid',
        activation, output, weightScales, bias, weights,
      };
    }
    case 'maxpool2d': {
      const poolSize: [number, number] = [r.u16(`${where} pool size`), r.u16(`${where} pool size`)];
      const stride: [number, number] = [r.u16(`${where} stride`), r.u16(`${where} stride`)];
      return { kind, sourceLayer, poolSize, stride };
    }
    default:
      return { kind, sourceLayer };
  }
}

/**
 * Decodes and fully validates a model written by {@link serializeModel}. The returned model owns its
 * arrays (nothing aliases `bytes`).
 *
 * @throws ModelFormatError with `reason` `bad-magic`, `unsupported-version`, `truncated`, `trailing-bytes`,
 *   `checksum-mismatch` or `invalid-structure`; the message says what was wrong and what to do.
 */
export function deserializeModel(bytes: Uint8Array): Int8Model {
  if (!(bytes instanceof Uint8Array)) {
    throw new ModelFormatError('bad-magic', 'deserializeModel() needs a Uint8Array (a Buffer works). Read the model file as bytes.');
  }
  const magicLen = Math.min(bytes.length, MODEL_MAGIC.length);
  for (let i = 0; i < magicLen; i++) {
    if (bytes[i] !== MODEL_MAGIC[i]) {
      throw new ModelFormatError('bad-magic', 'These bytes are not an rayts int8 model (magic "RTI8" missing). Pass the output of serializeModel().');
    }
  }
  if (bytes.length < HEADER_BYTES) {
    throw new ModelFormatError(
      'truncated',
      `Int8 model is truncated: ${bytes.length} bytes, shorter than the ${HEADER_BYTES}-byte header. Re-send the complete model file.`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(4, true);
  if (version !== MODEL_FORMAT_VERSION) {
    throw new ModelFormatError(
      'unsupported-version',
      `Int8 model format version ${version} is not supported (this runtime reads version ${MODEL_FORMAT_VERSION}). Re-export the model with the same rayts version as the agent.`,
    );
  }
  const flags = view.getUint16(6, true);
  if (flags !== 0) {
    throw new ModelFormatError('unsupported-version', `Int8 model header has flags 0x${flags.toString(16)}; version ${MODEL_FORMAT_VERSION} defines none. Re-export the model.`);
  }
  const payloadBytes = view.getUint32(8, true);
  const have = bytes.length - HEADER_BYTES;
  if (have < payloadBytes) {
    throw new ModelFormatError(
      'truncated',
      `Int8 model is truncated: the header announces ${payloadBytes} payload bytes but only ${have} follow. Re-send the complete model file.`,
    );
  }
  if (have > payloadBytes) {
    throw new ModelFormatError(
      'trailing-bytes',
      `Int8 model has ${have - payloadBytes} bytes after the ${payloadBytes}-byte payload the header announces. Pass exactly one serialised model.`,
    );
  }
  const expected = view.getUint32(12, true);
  const actual = crc32(bytes, HEADER_BYTES);
  if (actual !== expected) {
    throw new ModelFormatError(
      'checksum-mismatch',
      `Int8 model is corrupted: payload CRC-32 is 0x${actual.toString(16).padStart(8, '0')} but the header says 0x${expected.toString(16).padStart(8, '0')}. Re-send the model file.`,
    );
  }

  const r = new Reader(bytes, HEADER_BYTES, bytes.length);
  const rank = r.u8('input rank');
  const inputShape: number[] = [];
  for (let i = 0; i < rank; i++) inputShape.push(r.u32('input shape'));
  const input = { scale: r.f32('input scale'), zeroPoint: r.i8('input zero point') };
  const count = r.u16('layer count');
  const layers: Int8Layer[] = [];
  for (let i = 0; i < count; i++) layers.push(readLayer(r, i));
  if (r.pos !== bytes.length) {
    throw new ModelFormatError(
      'invalid-structure',
      `Int8 model payload has ${bytes.length - r.pos} unused bytes after the last layer. The file is damaged or from an incompatible writer; re-export it.`,
    );
  }
  const model: Int8Model = { dtype: 'int8', inputShape, input, layers };
  try {
    validateInt8Model(model);
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    throw new ModelFormatError('invalid-structure', `Int8 model decodes but is not valid: ${detail}`, { cause: e });
  }
  return model;
}
