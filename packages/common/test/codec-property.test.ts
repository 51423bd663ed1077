/**
 * The codec's promise, checked by property: a value encodeValue accepts is a value decodeValue returns
 * equal (issue 13 D: BigInts beyond 64 bits were stored and then unreadable), and what it refuses it
 * refuses with a SerializationError saying why (issue 13 C: deep nesting threw a raw RangeError).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { decodeValue, encodeValue, SerializationError, MAX_NESTING_DEPTH } from '../src/index.js';

const RUNS = Number(process.env.RAYTS_FUZZ_RUNS ?? 300);

/** Values a user can put: plain data plus the types the docs list (Map, Set, Date, typed arrays, BigInt). */
const leaf = fc.oneof(
  fc.integer(),
  fc.double().map((d) => (Object.is(d, -0) ? 0 : d)),
  fc.bigInt(),
  fc.bigInt({ min: -(2n ** 4096n), max: 2n ** 4096n }),
  fc.string(),
  fc.boolean(),
  fc.constant(null),
  fc.date({ noInvalidDate: true }),
  fc.uint8Array(),
  fc.float64Array().map((a) => a),
  fc.int32Array(),
  fc.bigInt64Array(),
);
const { value } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.string(), tie('value'), { maxKeys: 5, noNullPrototype: true }),
    fc.array(fc.tuple(fc.oneof(fc.string(), fc.integer()), tie('value')), { maxLength: 4 }).map((e) => new Map(e)),
    fc.array(fc.oneof(fc.string(), fc.integer(), fc.bigInt()), { maxLength: 4 }).map((e) => new Set(e)),
  ),
}));

describe('codec property', () => {
  it('codec - every value encodeValue accepts decodes to an equal value', () => {
    fc.assert(
      fc.property(fc.oneof(value, fc.dictionary(fc.constantFrom('__proto__', 'constructor', 'a'), value, { noNullPrototype: true })), (v) => {
        let bytes: Uint8Array;
        try {
          bytes = encodeValue(v);
        } catch (e) {
          // Refusing is allowed, but only with a SerializationError.
          expect(e).toBeInstanceOf(SerializationError);
          return;
        }
        const back = decodeValue(bytes);
        // node's deep strict equality: same types, prototypes, keys, BigInt values, Map/Set contents.
        if (!isDeepStrictEqual(back, v)) expect(back).toStrictEqual(v);
      }),
      { numRuns: RUNS },
    );
  });

  it('codec - BigInts of any size round-trip (2^64, 2^70, -2^64, 2^100000)', () => {
    for (const b of [2n ** 64n, 2n ** 70n, -(2n ** 64n), 2n ** 63n, -(2n ** 63n) - 1n, 2n ** 100_000n, -(3n ** 5000n)]) {
      expect(decodeValue(encodeValue(b))).toBe(b);
      expect(decodeValue(encodeValue({ n: [b] }))).toEqual({ n: [b] });
    }
  });

  it('codec - a value nested deeper than the limit is a SerializationError that says so', () => {
    for (const depth of [MAX_NESTING_DEPTH + 1, 3_000, 10_000, 100_000]) {
      let x: unknown = 1;
      for (let i = 0; i < depth; i++) x = i % 2 ? [x] : { a: x };
      expect(() => encodeValue(x)).toThrow(SerializationError);
      expect(() => encodeValue(x)).toThrow(/nested more than 1000 levels deep/);
    }
    let ok: unknown = 'leaf';
    for (let i = 0; i < MAX_NESTING_DEPTH - 1; i++) ok = [ok];
    expect(decodeValue(encodeValue(ok))).toEqual(ok);
  });

  it('codec - values that cannot read back equal are refused, not altered (a "__proto__" own key)', () => {
    const v = JSON.parse('{"__proto__": {"polluted": 1}, "a": 2}') as unknown;
    expect(() => encodeValue(v)).toThrow(SerializationError);
    expect(() => encodeValue(v)).toThrow(/own key named "__proto__"/);
    // -0 is the one documented change: msgpack has no negative integer zero, so -0 arrives as 0 (=== -0).
    expect(decodeValue(encodeValue([-0]))).toEqual([0]);
  });

  it('codec - a reference cycle is a SerializationError naming where it closes', () => {
    const a: Record<string, unknown> = { x: 1 };
    a.b = { back: a };
    expect(() => encodeValue(a)).toThrow(/value\.b\.back refers back/);
    const shared = { k: 1 };
    expect(decodeValue(encodeValue([shared, shared]))).toEqual([{ k: 1 }, { k: 1 }]);
  });

  it('codec - bytes that are not a value decode to a SerializationError, never a raw error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        try {
          decodeValue(b);
        } catch (e) {
          expect(e).toBeInstanceOf(SerializationError);
        }
      }),
      { numRuns: RUNS * 3 },
    );
  });
});
