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

/** Extension type numbers: stable wire constants. */
export const EXT = { objectRef: 0x40, map: 0x41, set: 0x42, arrowTable: 0x43, rayError: 0x44, handle: 0x45 } as const;

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
  const seen = new Set<object>();
  const walk = (x: unknown, path: string): void => {
    if (budget-- <= 0) return;
    if (typeof x === 'function') {
      throw new SerializationError(`${what}: ${path} is a function, which cannot be sent to another worker.`, {
        hint: 'Pass data, not functions; to run code remotely, wrap it with remote() and pass the result ObjectRef.',
      });
    }
    if (typeof x !== 'object' || x === null || ArrayBuffer.isView(x) || x instanceof ArrayBuffer) return;
    if (x instanceof ObjectRef || seen.has(x) || isArrowTable(x)) return;
    seen.add(x);
    if (Array.isArray(x)) {
      for (let i = 0; i < x.length && budget > 0; i++) walk(x[i], `${path}[${i}]`);
    } else if (x instanceof Map) {
      hasMap = true;
      for (const [k, val] of x) walk(val, `${path}.get(${String(k)})`);
    } else if (x instanceof Set) {
      for (const val of x) walk(val, `${path} item`);
    } else {
      for (const k of Object.keys(x)) walk((x as Record<string, unknown>)[k], `${path}.${k}`);
    }
  };
  walk(v, 'value');
  return hasMap;
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
    throw new SerializationError(`${what} cannot be encoded: ${(e as Error).message}.`, {
      cause: e,
      hint: 'Send plain data, typed arrays, Buffers, Maps, Sets, Dates, Arrow tables or ObjectRefs.',
    });
  } finally {
    collecting = prev;
  }
}

export function decodeValue(b: Uint8Array): unknown {
  return packr.unpack(b);
}

/** Encodes an error in wire form (for task results with status "error"). */
export function encodeError(e: unknown): Uint8Array {
  return packr.pack(errorToWire(e));
}

export function decodeError(b: Uint8Array): Error {
  return errorFromWire(packr.unpack(b) as ErrorWire);
}

/** Plain msgpack for internal structured data (no function check, no ref collection). */
export function packInternal(v: unknown): Uint8Array {
  return packr.pack(v);
}
export function unpackInternal<T = unknown>(b: Uint8Array): T {
  return packr.unpack(b) as T;
}

export { isRayError };
