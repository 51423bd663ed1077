/**
 * Contract between the object store and the core runtime. The core owns reference counting, ownership
 * and gRPC; the store owns memory (shared areas, allocation, spilling) and the stored form of values.
 */

/** How a value is laid out in the store, so that readers can rebuild it without copying. */
export interface StoredMeta {
  /** 'arrow' = Arrow IPC stream of a Table; 'typed' = one typed array; 'buffer' = Buffer/Uint8Array;
   *  'msgpack' = anything else, encoded by the common codec. */
  readonly format: 'arrow' | 'typed' | 'buffer' | 'msgpack';
  /** For 'typed': the constructor name, e.g. 'Float32Array'. */
  readonly typedArray?: string;
  readonly sizeBytes: number;
}

/** A value's stored form: metadata plus one or more byte segments written back to back. */
export interface EncodedObject {
  readonly meta: StoredMeta;
  readonly segments: readonly Uint8Array[];
}

/**
 * A readable stored object. `data` is a view into shared memory (a SharedArrayBuffer or a mapped area):
 * no copy was made. It stays valid while the object is pinned (until `release()`).
 */
export interface ObjectView {
  readonly meta: StoredMeta;
  readonly data: Uint8Array;
  /** Unpins the object so that it may be spilled or freed. Idempotent. */
  release(): void;
}

/** Receives an object in chunks (from another node). */
export interface ObjectWriter {
  readonly sizeBytes: number;
  write(offset: number, chunk: Uint8Array): void;
  /**
   * Writable memory for bytes [offset, offset + length) of the object, to receive them in place (a socket
   * reads straight into shared memory), or undefined when the object goes to a spill file (use `write`).
   * Bytes placed there count once `commit(offset, n)` is called. The memory stays reserved for the writer
   * until `seal()` or `abort()`, even if the object is deleted meanwhile: stop every reader of the region
   * before calling `abort()`.
   * @throws InvalidArgumentError for a range outside the object, or after seal/abort/delete.
   */
  region(offset: number, length: number): Uint8Array | undefined;
  /** `length` bytes at `offset` were placed through {@link region}. */
  commit(offset: number, length: number): void;
  /** Makes the object readable. */
  seal(): void;
  /** Frees what was written; the object does not appear. */
  abort(): void;
}

export interface StoreStats {
  readonly usedBytes: number;
  readonly capacityBytes: number;
  readonly spilledBytes: number;
  readonly numObjects: number;
  readonly numSpilled: number;
  /** Bytes of objects that cannot be spilled or freed now (pinned by readers, or being written). */
  readonly pinnedBytes?: number;
  /** 'shm' = /dev/shm file other processes can map; 'heap' = plain SharedArrayBuffer (addon not built). */
  readonly mode?: 'shm' | 'heap';
}

export interface ObjectStoreOptions {
  /** Bytes of shared memory for objects (`--object-store-memory`). */
  readonly capacityBytes: number;
  /** Directory for spilled objects (created on demand, removed on close). */
  readonly spillDir: string;
  /** Fraction of capacity above which objects are spilled. Default 0.8. */
  readonly spillThreshold?: number;
  /** Set false to make a full store throw ObjectStoreFullError instead of spilling. Default true. */
  readonly spillingEnabled?: boolean;
  /** Put the area in a /dev/shm file (needs the native addon) so other processes can map it. Default true;
   *  without the addon the store falls back to a plain SharedArrayBuffer either way. */
  readonly useSharedMemoryFile?: boolean;
  /** Directory of the area file. Default /dev/shm. */
  readonly shmDir?: string;
  /** Touch every page at start so the first puts run at warm-copy speed (costs ~1 s per GB at start).
   *  Default false. */
  readonly prefault?: boolean;
}
