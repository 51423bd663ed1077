/**
 * The stored form of values: how a value is laid out in the store so that a reader rebuilds it without
 * copying.
 *
 * | value | format | bytes |
 * | --- | --- | --- |
 * | Arrow `Table` | `'arrow'` | Arrow IPC stream |
 * | `Buffer` | `'buffer'` | the bytes |
 * | typed array (`Float32Array`, `Uint8Array`, `BigInt64Array`, ...) | `'typed'` | the elements' bytes |
 * | anything else | `'msgpack'` | `encodeValue` of `@samsara/ray-common` |
 */
import type { Table } from 'apache-arrow';
// apache-arrow is loaded on the first table stored or read (`arrow()`), not at import: every actor
// thread imports this module, and most never see a table.
import { arrow, decodeValue, encodeValue, isArrowTable, InvalidArgumentError, type ObjectRef } from '@samsara/ray-common';
import type { EncodedObject, StoredMeta } from './types.js';

type TypedArrayCtor = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): ArrayBufferView;
  new (length: number): ArrayBufferView;
  readonly BYTES_PER_ELEMENT: number;
};

const TYPED_ARRAYS: Record<string, TypedArrayCtor | undefined> = {
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
  // Node 24+ has Float16Array; older versions store it through msgpack (it is not a known typed array there).
  Float16Array: (globalThis as Record<string, unknown>).Float16Array as TypedArrayCtor | undefined,
};

/** Name of a typed array's class ('Float32Array'...), or undefined for DataView and non-views. */
function typedArrayName(v: unknown): string | undefined {
  if (!ArrayBuffer.isView(v) || v instanceof DataView) return undefined;
  const tag = (v as unknown as Record<symbol, unknown>)[Symbol.toStringTag];
  return typeof tag === 'string' && TYPED_ARRAYS[tag] ? tag : undefined;
}

/**
 * The Arrow IPC stream of a table as the writer's own pieces: message headers, padding and the column
 * buffers themselves (views, not copies), so the store copies each byte once. `tableToIPC` would first
 * concatenate them into a fresh buffer (a second copy, into pages never touched before). The pieces sit
 * in the writer's queue (`_sink._values`, not a public API); if that shape changes, this falls back to
 * `tableToIPC`.
 */
function arrowStreamSegments(table: Table): Uint8Array[] {
  const { RecordBatchStreamWriter, tableToIPC } = arrow();
  const writer = RecordBatchStreamWriter.writeAll(table);
  const pieces = (writer as unknown as { _sink?: { _values?: unknown } })._sink?._values;
  if (Array.isArray(pieces) && pieces.length > 0 && pieces.every((p) => p instanceof Uint8Array)) return pieces as Uint8Array[];
  return [tableToIPC(table, 'stream')];
}

/**
 * Encodes a value into its stored form. Typed arrays and Buffers are not copied (the segment is a view
 * of the value's memory); an Arrow table becomes the pieces of its IPC stream, whose column buffers are
 * views of the table's own memory; other values are encoded by `encodeValue` (msgpackr with the rayts
 * extensions).
 *
 * @param refs when given, receives every ObjectRef found inside a msgpack-encoded value (for reference
 *   counting of nested refs).
 * @throws SerializationError (from the codec) for values that cannot be shipped, such as functions.
 */
export function encodeForStore(value: unknown, refs?: ObjectRef[]): EncodedObject {
  if (isArrowTable(value)) {
    const segments = arrowStreamSegments(value as Table);
    let size = 0;
    for (const s of segments) size += s.byteLength;
    return { meta: { format: 'arrow', sizeBytes: size }, segments };
  }
  if (Buffer.isBuffer(value)) {
    return { meta: { format: 'buffer', sizeBytes: value.byteLength }, segments: [value] };
  }
  const name = typedArrayName(value);
  if (name) {
    const v = value as ArrayBufferView;
    const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    return { meta: { format: 'typed', typedArray: name, sizeBytes: bytes.byteLength }, segments: [bytes] };
  }
  const bytes = encodeValue(value, refs);
  return { meta: { format: 'msgpack', sizeBytes: bytes.byteLength }, segments: [bytes] };
}

/**
 * Rebuilds a value from its stored bytes without copying: `tableFromIPC` over the view (column buffers
 * point into `data`), a typed array or Buffer over the same memory, or a msgpack decode (binary fields
 * inside are views of `data` too).
 *
 * The one copy: a typed array whose `data.byteOffset` is not a multiple of its element size cannot be a
 * view (JavaScript forbids it), so it is copied. The store always places objects at 64-byte offsets, so
 * this only happens for bytes that come from elsewhere (e.g. a chunk of a network message).
 *
 * The result aliases `data`: keep the store's pin (the ObjectView) for as long as the value is used, for
 * example with {@link releaseWhenCollected}.
 *
 * @throws InvalidArgumentError for an unknown format or typed array name, or a size that does not match.
 */
export function decodeFromStore(meta: StoredMeta, data: Uint8Array): unknown {
  if (data.byteLength !== meta.sizeBytes) {
    throw new InvalidArgumentError(`decodeFromStore: got ${data.byteLength} bytes for an object of ${meta.sizeBytes} bytes.`);
  }
  switch (meta.format) {
    case 'arrow':
      return arrow().tableFromIPC(data);
    case 'buffer':
      return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    case 'typed': {
      const ctor = meta.typedArray ? TYPED_ARRAYS[meta.typedArray] : undefined;
      if (!ctor) {
        throw new InvalidArgumentError(`decodeFromStore: unknown typed array "${meta.typedArray}".`, {
          hint: `Valid: ${Object.keys(TYPED_ARRAYS).filter((k) => TYPED_ARRAYS[k]).join(', ')}.`,
        });
      }
      const bpe = ctor.BYTES_PER_ELEMENT;
      if (data.byteLength % bpe !== 0) {
        throw new InvalidArgumentError(`decodeFromStore: ${data.byteLength} bytes is not a whole number of ${meta.typedArray} elements.`);
      }
      if (data.byteOffset % bpe === 0) return new ctor(data.buffer, data.byteOffset, data.byteLength / bpe);
      const copy = new Uint8Array(data.byteLength);
      copy.set(data);
      return new ctor(copy.buffer, 0, data.byteLength / bpe);
    }
    case 'msgpack':
      return decodeValue(data);
    default:
      throw new InvalidArgumentError(`decodeFromStore: unknown format "${String((meta as StoredMeta).format)}".`, {
        hint: 'Valid: arrow, typed, buffer, msgpack.',
      });
  }
}

const registry = new FinalizationRegistry<() => void>((release) => release());

/**
 * Keeps a store pin for as long as a decoded value lives: `view.release()` runs after `value` has been
 * garbage-collected. Use it when handing a zero-copy value to user code, whose lifetime the runtime cannot
 * see. Primitive values (which cannot alias the store) release at once.
 */
export function releaseWhenCollected(value: unknown, view: { release(): void }): void {
  if ((typeof value === 'object' && value !== null) || typeof value === 'function') {
    registry.register(value as object, () => view.release());
  } else {
    view.release();
  }
}
