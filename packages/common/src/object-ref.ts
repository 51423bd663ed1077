/**
 * ObjectRef: a reference to a value in the cluster. It names the object and its owner (the process that
 * created it by a call or `put`). An ObjectRef is deliberately not thenable: `await put(x)` yields the
 * ref itself; read the value with `get(ref)`.
 */
import type { ObjectId } from './ids.js';

export class ObjectRef<T = unknown> {
  /** Phantom field carrying the value type; never set at run time. */
  declare readonly __valueType?: T;
  constructor(
    /** Cluster-unique id of the object. */
    readonly id: ObjectId,
    /** gRPC address (host:port) of the owner process; empty for an object owned by this process. */
    readonly ownerAddress: string,
  ) {}

  toString(): string {
    return `ObjectRef(${this.id})`;
  }

  /** Refs print as their id in JSON and logs. */
  toJSON(): string {
    return this.toString();
  }
}

/** Hooks the core runtime installs to learn about refs created by decoding (borrowed refs). */
export interface RefHooks {
  /** Called for every ObjectRef a decode produces. May return a canonical instance. */
  onDecode?(id: ObjectId, ownerAddress: string): ObjectRef;
}

let hooks: RefHooks = {};
export function setRefHooks(h: RefHooks): void {
  hooks = h;
}
export function makeDecodedRef(id: ObjectId, ownerAddress: string): ObjectRef {
  return hooks.onDecode ? hooks.onDecode(id, ownerAddress) : new ObjectRef(id, ownerAddress);
}
