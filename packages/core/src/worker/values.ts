/**
 * How values cross between a node's main thread and its workers. Small values travel as msgpack bytes;
 * stored objects travel as a place in the node's shared area (the worker reads them there without a
 * copy); large results travel as their stored form and are written into the area once by the node.
 */
import { INLINE_MAX_BYTES, decodeValue, encodeValue, isArrowTable, type ObjectRef } from '@samsara/ray-common';
import { decodeFromStore, encodeForStore, type EncodedObject, type StoredMeta } from '@samsara/ray-object-store';

/**
 * A copy of `b` that owns its whole buffer, unless it already does. Posting a typed array to another
 * thread clones its entire ArrayBuffer, and decoded protobuf fields and msgpackr output are views into
 * much larger buffers: without this every task would carry its whole batch across.
 */
export function compact(b: Uint8Array): Uint8Array {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : b.slice();
}

/** Where a stored object lies in the node's shared area. */
export interface SharedSlice {
  readonly meta: StoredMeta;
  readonly offset: number;
  readonly length: number;
}

/**
 * An argument as a worker receives it: inline msgpack bytes, a slice of the shared area, or (for an
 * object kept outside the area, e.g. larger than the store) its stored bytes.
 */
export type WorkerArg = Uint8Array | SharedSlice | { readonly meta: StoredMeta; readonly bytes: Uint8Array };

export function decodeArg(a: WorkerArg, shared: SharedArrayBuffer | undefined): unknown {
  if (a instanceof Uint8Array) return decodeValue(a);
  if ('bytes' in a) return decodeFromStore(a.meta, a.bytes);
  if (!shared) throw new Error('stored argument without a shared area');
  return decodeFromStore(a.meta, new Uint8Array(shared, a.offset, a.length));
}

export type EncodedResult = ({ readonly value: Uint8Array } | { readonly stored: EncodedObject }) & {
  /** Ids of the ObjectRefs inside the value. */
  readonly containedRefs?: string[];
  /** Their owners' addresses, in the same order ('' when the ref did not say). */
  readonly containedOwners?: string[];
};

/** Encodes a result: inline msgpack when small, else its stored form (Arrow IPC, raw typed array …). */
export function encodeResult(v: unknown, what: string): EncodedResult {
  // Tables are recognised without loading apache-arrow (threads that never see one do not load it).
  const native = ArrayBuffer.isView(v) || isArrowTable(v);
  if (!native) {
    const refs: ObjectRef[] = [];
    const bytes = encodeValue(v, refs, what);
    const containedRefs = refs.length ? refs.map((r) => r.id) : undefined;
    const containedOwners = refs.length ? refs.map((r) => r.ownerAddress) : undefined;
    if (bytes.byteLength <= INLINE_MAX_BYTES) return { value: compact(bytes), containedRefs, containedOwners };
    return { stored: { meta: { format: 'msgpack', sizeBytes: bytes.byteLength }, segments: [bytes] }, containedRefs, containedOwners };
  }
  const enc = encodeForStore(v);
  if (enc.meta.sizeBytes <= INLINE_MAX_BYTES) return { value: compact(encodeValue(v, undefined, what)) };
  return { stored: enc };
}
