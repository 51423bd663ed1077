import { beforeAll, describe, expect, it } from 'vitest';
import {
  InferenceError,
  MODEL_FORMAT_VERSION,
  ModelFormatError,
  deserializeModel,
  isInferenceError,
  quantize,
  runInt8,
  serializeModel,
  trainTinyClassifier,
  type Int8Model,
  type TinyClassifier,
} from '../src/inference/index.js';

let tiny: TinyClassifier;
let model: Int8Model;
let bytes: Uint8Array;

beforeAll(() => {
  tiny = trainTinyClassifier({ trainSize: 500, testSize: 50, epochs: 2 });
  model = quantize(tiny.model, tiny.calibration);
  bytes = serializeModel(model);
});

function rejects(b: Uint8Array): ModelFormatError {
  try {
    deserializeModel(b);
  } catch (e) {
    expect(e).toBeInstanceOf(ModelFormatError);
    expect(e).toBeInstanceOf(InferenceError);
    expect(isInferenceError(e)).toBe(true);
    expect((e as ModelFormatError).code).toBe('MODEL_FORMAT');
    return e as ModelFormatError;
  }
  throw new Error('deserializeModel accepted bad bytes');
}

/** Rewrites the header CRC so the payload passes the checksum and reaches structural validation. */
function withFixedCrc(b: Uint8Array): Uint8Array {
  const out = b.slice();
  let c = 0xffffffff;
  for (let i = 16; i < out.length; i++) {
    c ^= out[i];
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  new DataView(out.buffer).setUint32(12, (c ^ 0xffffffff) >>> 0, true);
  return out;
}

describe('serializeModel / deserializeModel', () => {
  it('serializeModel - round-trips to an equal model that computes identical outputs', () => {
    const back = deserializeModel(bytes);
    expect(back).toEqual(model);
    expect(serializeModel(back)).toEqual(bytes);
    for (const s of tiny.test.slice(0, 20)) expect(runInt8(back, s.input)).toEqual(runInt8(model, s.input));
  });

  it('serializeModel - writes magic "RTI8", the version and the payload length', () => {
    expect(Array.from(bytes.subarray(0, 4))).toEqual([0x52, 0x54, 0x49, 0x38]);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    expect(view.getUint16(4, true)).toBe(MODEL_FORMAT_VERSION);
    expect(view.getUint32(8, true)).toBe(bytes.length - 16);
    // int8 weights make the file about a quarter of the float32 weights' size.
    const floatBytes = tiny.model.layers.reduce((n, l) => n + ('weights' in l ? 4 * (l.weights.length + l.bias.length) : 0), 0);
    expect(bytes.length).toBeLessThan(floatBytes * 0.3);
  });

  it('deserializeModel - decodes from an unaligned offset inside a larger buffer', () => {
    const big = new Uint8Array(bytes.length + 3);
    big.set(bytes, 3);
    expect(deserializeModel(big.subarray(3))).toEqual(model);
  });

  it('deserializeModel - rejects bytes that are not a model (bad-magic)', () => {
    const e = rejects(new TextEncoder().encode('{"dtype":"int8"}'));
    expect(e.reason).toBe('bad-magic');
    expect(e.message).toBe('These bytes are not an rayts int8 model (magic "RTI8" missing). Pass the output of serializeModel().');
  });

  it('deserializeModel - rejects every truncation with reason truncated', () => {
    for (const cut of [0, 3, 10, 16, 17, 100, bytes.length - 1]) {
      const e = rejects(bytes.subarray(0, cut));
      expect(e.reason).toBe('truncated');
    }
    expect(rejects(bytes.subarray(0, 10)).message).toBe(
      'Int8 model is truncated: 10 bytes, shorter than the 16-byte header. Re-send the complete model file.',
    );
    expect(rejects(bytes.subarray(0, bytes.length - 1)).message).toBe(
      `Int8 model is truncated: the header announces ${bytes.length - 16} payload bytes but only ${bytes.length - 17} follow. Re-send the complete model file.`,
    );
  });

  it('deserializeModel - rejects a flipped bit anywhere in the payload (checksum-mismatch)', () => {
    for (const at of [16, 20, 40, Math.floor(bytes.length / 2), bytes.length - 1]) {
      const bad = bytes.slice();
      bad[at] ^= 0x10;
      const e = rejects(bad);
      expect(e.reason).toBe('checksum-mismatch');
      expect(e.message).toMatch(/^Int8 model is corrupted: payload CRC-32 is 0x[0-9a-f]{8} but the header says 0x[0-9a-f]{8}\. Re-send the model file\.$/);
    }
  });

  it('deserializeModel - rejects another version and trailing bytes', () => {
    const v2 = bytes.slice();
    new DataView(v2.buffer).setUint16(4, 2, true);
    const e = rejects(v2);
    expect(e.reason).toBe('unsupported-version');
    expect(e.message).toBe(
      'Int8 model format version 2 is not supported (this runtime reads version 1). Re-export the model with the same rayts version as the agent.',
    );
    const longer = new Uint8Array(bytes.length + 4);
    longer.set(bytes);
    expect(rejects(longer).reason).toBe('trailing-bytes');
  });

  it('deserializeModel - rejects a checksummed payload describing an impossible model (invalid-structure)', () => {
    // Input zero point byte: rank(1) + 3 dims(12) + scale(4) → offset 16 + 17. Make the scale 0.
    const zeroScale = bytes.slice();
    new DataView(zeroScale.buffer).setFloat32(16 + 13, 0, true);
    const e = rejects(withFixedCrc(zeroScale));
    expect(e.reason).toBe('invalid-structure');
    expect(e.message).toBe(
      'Int8 model decodes but is not valid: Int8 model input has scale 0; it must be a positive finite float32. Re-create it with quantize() from a valid float model.',
    );
    expect(e.cause).toBeInstanceOf(InferenceError);

    // Layer count 0xffff: the parser runs out of payload.
    const manyLayers = bytes.slice();
    new DataView(manyLayers.buffer).setUint16(16 + 18, 0xffff, true);
    expect(rejects(withFixedCrc(manyLayers)).reason).toBe('invalid-structure');
  });

  it('serializeModel - refuses to write an invalid model', () => {
    const broken = { ...model, input: { scale: -1, zeroPoint: 0 } };
    expect(() => serializeModel(broken)).toThrow('Int8 model input has scale -1; it must be a positive finite float32.');
  });
});
