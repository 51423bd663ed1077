import { describe, expect, it } from 'vitest';
import { tableFromArrays, tableToIPC, type Table } from 'apache-arrow';
import { SerializationError } from '@samsara/ray-common';
import { decodeFromStore, encodeForStore, type EncodedObject } from '../src/index.js';

/** Lays the segments out in a SharedArrayBuffer at a 64-byte offset, as the store does. */
function intoShared(obj: EncodedObject, at = 64): { data: Uint8Array; sab: SharedArrayBuffer } {
  const sab = new SharedArrayBuffer(at + obj.meta.sizeBytes + 64);
  const data = new Uint8Array(sab, at, obj.meta.sizeBytes);
  let pos = 0;
  for (const s of obj.segments) {
    data.set(s, pos);
    pos += s.byteLength;
  }
  return { data, sab };
}

function roundTrip(value: unknown): { out: unknown; sab: SharedArrayBuffer; obj: EncodedObject } {
  const obj = encodeForStore(value);
  const { data, sab } = intoShared(obj);
  return { out: decodeFromStore(obj.meta, data), sab, obj };
}

describe('stored form', () => {
  it('encodeForStore - Arrow table round trip keeps contents and reads columns in place', () => {
    const n = 10_000;
    const t = tableFromArrays({
      id: Int32Array.from({ length: n }, (_, i) => i),
      score: Float64Array.from({ length: n }, (_, i) => i / 3),
      camera: Array.from({ length: n }, (_, i) => `cam-${i % 7}`),
    });
    const { out, sab, obj } = roundTrip(t);
    expect(obj.meta.format).toBe('arrow');
    const back = out as Table;
    expect(back.numRows).toBe(n);
    expect(back.schema.fields.map((f) => f.name)).toEqual(['id', 'score', 'camera']);
    expect(back.getChild('camera')!.get(12)).toBe('cam-5');
    expect(Array.from(back.getChild('score')!.toArray() as Float64Array)).toEqual(Array.from(t.getChild('score')!.toArray() as Float64Array));
    // zero copy: the column's values are a view of the shared memory
    const values = back.getChild('score')!.data[0].values as Float64Array;
    expect(values.buffer).toBe(sab);
  });

  it('encodeForStore - an Arrow table encodes to the IPC stream without copying its columns', () => {
    const score = Float64Array.from({ length: 4096 }, (_, i) => i * 0.5);
    const t = tableFromArrays({ score, n: Int32Array.from({ length: 4096 }, (_, i) => i) });
    const obj = encodeForStore(t);
    expect(Buffer.concat(obj.segments as Uint8Array[])).toEqual(Buffer.from(tableToIPC(t, 'stream')));
    const columnBuffer = (t.getChild('score')!.data[0].values as Float64Array).buffer;
    expect(obj.segments.some((s) => s.buffer === columnBuffer)).toBe(true);
  });

  it('encodeForStore - typed arrays come back as the same class over the same memory', () => {
    const cases: ArrayBufferView[] = [
      new Float32Array([1.5, -2, 3]),
      new Float64Array([Math.PI, -0]),
      new Int16Array([-3, 4]),
      new Uint8Array([1, 2, 3]),
      new Uint8ClampedArray([255, 0]),
      new BigInt64Array([1n, -(2n ** 62n)]),
      new Uint32Array(0),
    ];
    for (const v of cases) {
      const { out, sab, obj } = roundTrip(v);
      expect(obj.meta.format).toBe('typed');
      expect(obj.meta.typedArray).toBe(v.constructor.name);
      expect(out).toBeInstanceOf(v.constructor);
      expect(Array.from(out as ArrayLike<unknown>)).toEqual(Array.from(v as unknown as ArrayLike<unknown>));
      expect((out as ArrayBufferView).buffer).toBe(sab);
    }
  });

  it('encodeForStore - a typed array segment is a view of the source (no copy on encode)', () => {
    const src = new Float64Array(1024);
    const obj = encodeForStore(src.subarray(8, 16));
    expect(obj.segments[0].buffer).toBe(src.buffer);
    expect(obj.segments[0].byteOffset).toBe(64);
  });

  it('decodeFromStore - misaligned typed array bytes are copied (the one allowed copy)', () => {
    const obj = encodeForStore(new Float64Array([1, 2]));
    const { data } = intoShared(obj, 3);
    const out = decodeFromStore(obj.meta, data) as Float64Array;
    expect(Array.from(out)).toEqual([1, 2]);
    expect(out.buffer).not.toBe(data.buffer);
  });

  it('encodeForStore - Buffers come back as Buffers over shared memory', () => {
    const b = Buffer.from('hello shared world');
    const { out, sab, obj } = roundTrip(b);
    expect(obj.meta.format).toBe('buffer');
    expect(Buffer.isBuffer(out)).toBe(true);
    expect((out as Buffer).toString()).toBe('hello shared world');
    expect((out as Buffer).buffer).toBe(sab);
  });

  it('encodeForStore - nested plain values go through msgpack and come back equal', () => {
    const v = {
      name: 'trial-7',
      params: { lr: 0.001, layers: [64, 32], tags: new Set(['a', 'b']) },
      byCamera: new Map<string, number>([['front', 1], ['rear', 2]]),
      when: new Date(1_700_000_000_000),
      nothing: null,
      big: 2n ** 60n,
    };
    const { out, obj } = roundTrip(v);
    expect(obj.meta.format).toBe('msgpack');
    expect(out).toEqual(v);
  });

  it('encodeForStore - a function inside a value is a SerializationError, not silent nil', () => {
    expect(() => encodeForStore({ f: () => 1 })).toThrow(SerializationError);
  });

  it('decodeFromStore - unknown typed array name is an InvalidArgumentError listing valid names', () => {
    expect(() => decodeFromStore({ format: 'typed', typedArray: 'Evil', sizeBytes: 0 }, new Uint8Array(0))).toThrow(/unknown typed array "Evil".*Valid: Int8Array/);
  });
});
