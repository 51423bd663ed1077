/**
 * The value codec: msgpackr for plain values, with extensions for ObjectRef, Map, Set, errors and Arrow
 * tables (Arrow IPC). Functions cannot be shipped as values; msgpackr would silently turn them into nil,
 * so {@link encodeValue} looks for them first and throws a SerializationError naming the path.
 *
 * apache-arrow is not imported here: tables are recognised by shape ({@link isArrowTable}) and the
 * library is loaded on the first table encoded or decoded (see arrow.ts), so threads that never see a
 * table (most actors, the edge agent) do not pay for it.
 */
import { Packr, addExtension } from 'msgpackr';
import { arrow, isArrowTable, ArrowTableLike } from './arrow.js';
import { ObjectRef, makeDecodedRef } from './object-ref.js';
import { SerializationError, errorFromWire, errorToWire, isRayError, type ErrorWire } from './errors.js';
import type { ObjectId } from './ids.js';

/**
 * Extension type numbers: stable wire constants. 0x42 is msgpackr's own BigInt extension (BigInts beyond
 * 64 bits); Sets once used it too, so a large BigInt was written as 0x42 and read back through the Set
 * reader ("currentExtensions[type] is not a function"). Sets are 0x46 now.
 */
export const EXT = { objectRef: 0x40, map: 0x41, set: 0x46, arrowTable: 0x43, rayError: 0x44, handle: 0x45 } as const;

/**
 * How deeply values may nest (arrays, objects, Maps, Sets). Deeper values are refused with a
 * SerializationError: packing and unpacking recurse, and a value that encodes on one thread must decode
 * on every other (worker threads have the same stack, but the decoder adds frames per level).
 */
export const MAX_NESTING_DEPTH = 1000;

const packr = new Packr({ useRecords: false, moreTypes: true, structuredClone: false, int64AsType: 'bigint' } as never);

let collecting: ObjectRef[] | null = null;

addExtension({
  Class: ObjectRef,
  type: EXT.objectRef,
  write(ref: ObjectRef) {
    if (collecting) collecting.push(ref);
    return [ref.id, ref.ownerAddress];
  },
  read(data: [string, string]) {
    return makeDecodedRef(data[0] as ObjectId, data[1]);
  },
} as never);

/**
 * msgpackr writes a Map as a plain msgpack map, which decodes as an object. Maps are therefore boxed
 * before packing (only when the pre-walk saw one) and rebuilt as Maps on decode.
 */
class MapBox {
  constructor(readonly entries: [unknown, unknown][]) {}
}

addExtension({
  Class: MapBox,
  type: EXT.map,
  write(m: MapBox) {
    return m.entries;
  },
  read(entries: [unknown, unknown][]) {
    return new Map(entries);
  },
} as never);

addExtension({
  Class: Set,
  type: EXT.set,
  write(s: Set<unknown>) {
    return [...s];
  },
  read(items: unknown[]) {
    return new Set(items);
  },
} as never);

addExtension({
  Class: ArrowTableLike,
  type: EXT.arrowTable,
  pack(t: import('apache-arrow').Table) {
    return arrow().tableToIPC(t, 'stream');
  },
  unpack(b: Uint8Array) {
    return arrow().tableFromIPC(b);
  },
} as never);

/** Lets the core register extensions for its own classes (actor handles). */
export function registerExtension(ext: {
  Class: new (...args: never[]) => unknown;
  type: number;
  write(v: never): unknown;
  read(data: never): unknown;
}): void {
  addExtension(ext as never);
}

const MAX_WALK = 20_000;

/**
 * Throws SerializationError if a function hides in plain objects or arrays of `v`. Returns true when
 * the value holds a Map (which must be boxed before packing).
 */
export function assertShippable(v: unknown, what: string): boolean {
  let hasMap = false;
  let budget = MAX_WALK;
  const onPath = new Set<object>();
  const done = new Set<object>();
  const walk = (x: unknown, path: string, depth: number): void => {
    if (budget-- <= 0) return;
    if (typeof x === 'function') {
      throw new SerializationError(`${what}: ${path} is a function, which cannot be sent to another worker.`, {
        hint: 'Pass data, not functions; to run code remotely, wrap it with remote() and pass the result ObjectRef.',
      });
    }
    if (typeof x !== 'object' || x === null || ArrayBuffer.isView(x) || x instanceof ArrayBuffer) return;
    if (x instanceof ObjectRef || done.has(x) || isArrowTable(x)) return;
    if (onPath.has(x)) {
      throw new SerializationError(`${what}: ${path} refers back to an object that contains it (a reference cycle), which cannot be encoded.`, {
        hint: 'Break the cycle before sending (e.g. replace back-references with ids).',
      });
    }
    if (depth >= MAX_NESTING_DEPTH) throw tooDeep(what);
    onPath.add(x);
    const d = depth + 1;
    // Paths are built only for the first levels: a path 1,000 levels long would cost more than it tells.
    const at = (suffix: string): string => (depth < 32 ? path + suffix : path);
    if (Array.isArray(x)) {
      for (let i = 0; i < x.length && budget > 0; i++) walk(x[i], at(`[${i}]`), d);
    } else if (x instanceof Map) {
      hasMap = true;
      for (const [k, val] of x) walk(val, at(`.get(${String(k)})`), d);
    } else if (x instanceof Set) {
      for (const val of x) walk(val, at(' item'), d);
    } else {
      for (const k of Object.keys(x)) {
        if (k === '__proto__') {
          // msgpackr renames this key on decode (it would otherwise set the prototype): refuse it rather
          // than store a value that reads back different.
          throw new SerializationError(`${what}: ${path} has an own key named "__proto__", which does not survive decoding.`, {
            hint: 'Rename the key, or send the entries as a Map.',
          });
        }
        walk((x as Record<string, unknown>)[k], at(`.${k}`), d);
      }
    }
    onPath.delete(x);
    done.add(x);
  };
  walk(v, 'value', 0);
  return hasMap;
}

function tooDeep(what: string): SerializationError {
  return new SerializationError(`${what} is nested more than ${MAX_NESTING_DEPTH} levels deep, which rayts does not encode.`, {
    hint: 'Flatten the structure (e.g. a list of nodes with parent indices instead of nested objects), or store it as a Buffer you encode yourself.',
  });
}

/** A copy of `v` in which every Map is a MapBox (plain objects, arrays, Sets and Maps are copied). */
function boxMaps(v: unknown, seen = new Map<object, unknown>()): unknown {
  if (typeof v !== 'object' || v === null || ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return v;
  if (v instanceof ObjectRef || v instanceof Date || isArrowTable(v)) return v;
  const hit = seen.get(v);
  if (hit) return hit;
  if (v instanceof Map) {
    const box = new MapBox([]);
    seen.set(v, box);
    for (const [k, val] of v) box.entries.push([boxMaps(k, seen), boxMaps(val, seen)]);
    return box;
  }
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    seen.set(v, out);
    for (const x of v) out.push(boxMaps(x, seen));
    return out;
  }
  if (v instanceof Set) {
    const out = new Set<unknown>();
    seen.set(v, out);
    for (const x of v) out.add(boxMaps(x, seen));
    return out;
  }
  if (Object.getPrototypeOf(v) !== Object.prototype) return v;
  const out: Record<string, unknown> = {};
  seen.set(v, out);
  for (const k of Object.keys(v)) out[k] = boxMaps((v as Record<string, unknown>)[k], seen);
  return out;
}

/**
 * Encodes a value. `refs` (if given) receives every ObjectRef found inside, for reference counting.
 */
export function encodeValue(v: unknown, refs?: ObjectRef[], what = 'value'): Uint8Array {
  const hasMap = assertShippable(v, what);
  const prev = collecting;
  collecting = refs ?? null;
  try {
    return packr.pack(hasMap ? boxMaps(v) : v);
  } catch (e) {
    if (e instanceof SerializationError) throw e;
    if (e instanceof RangeError && /call stack/i.test(e.message)) throw tooDeep(what);
    throw new SerializationError(`${what} cannot be encoded: ${(e as Error).message}.`, {
      cause: e,
      hint: 'Send plain data, typed arrays, Buffers, Maps, Sets, Dates, Arrow tables or ObjectRefs.',
    });
  } finally {
    collecting = prev;
  }
}

/**
 * Decodes a value made by {@link encodeValue}. Bytes that are not such a value (truncated, corrupted,
 * or nested beyond what the decoder can follow) throw a SerializationError saying so, never a raw
 * RangeError/TypeError from msgpackr.
 */
export function decodeValue(b: Uint8Array): unknown {
  try {
    return packr.unpack(b);
  } catch (e) {
    throw decodeFailure(e, 'value');
  }
}

function decodeFailure(e: unknown, what: string): SerializationError {
  if (e instanceof SerializationError) return e;
  const msg = e instanceof RangeError && /call stack/i.test(e.message) ? 'it is nested too deeply' : (e as Error)?.message ?? String(e);
  return new SerializationError(`A ${what} received could not be decoded: ${msg}.`, {
    cause: e,
    hint: 'The bytes were truncated or corrupted, or were not written by rayts; check that every process of the cluster runs the same rayts version.',
  });
}

/** Encodes an error in wire form (for task results with status "error"). */
export function encodeError(e: unknown): Uint8Array {
  return packr.pack(errorToWire(e));
}

export function decodeError(b: Uint8Array): Error {
  let wire: ErrorWire;
  try {
    wire = packr.unpack(b) as ErrorWire;
  } catch (e) {
    return decodeFailure(e, 'error');
  }
  return errorFromWire(wire);
}

/** Plain msgpack for internal structured data (no function check, no ref collection). */
export function packInternal(v: unknown): Uint8Array {
  return packr.pack(v);
}
export function unpackInternal<T = unknown>(b: Uint8Array): T {
  try {
    return packr.unpack(b) as T;
  } catch (e) {
    throw decodeFailure(e, 'message');
  }
}

export { isRayError };
