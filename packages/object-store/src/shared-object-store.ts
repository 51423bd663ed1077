/**
 * The per-node object store.
 *
 * Responsible for: placing immutable objects in one shared area (allocated once, reused), handing out
 * pinned zero-copy views, spilling least-recently-used unpinned objects to disk from `spillThreshold` of
 * capacity and restoring them on `getAsync`, receiving objects in chunks and serving them in chunks.
 * Not responsible for: reference counting, ownership, or moving bytes between nodes (the core decides
 * when to `delete`, and carries chunks over gRPC; see {@link PullManager} for the receiving side).
 *
 * Object states (`writing` only for objects received through {@link SharedObjectStore.createWriter}):
 * ```
 * writing --seal--> memory <--restore (getAsync)-- restoring <--getAsync-- spilled
 *    |                 \-------------------spill (LRU, unpinned)---------------^
 *    \--abort--> (gone)          any --delete--> (gone; memory freed when the last pin is released)
 * ```
 * Objects larger than the whole store go straight to disk when spilling is enabled: they are `spilled`
 * from the start, `getAsync` maps the file (page cache, no copy) or, without the addon, reads it into
 * process memory, and `get` never returns them.
 */
import { InvalidArgumentError, ObjectLostError, ObjectStoreFullError } from '@samsara/ray-common';
import { alignedSize, Allocator } from './allocator.js';
import { resolveStoreOptions, type ResolvedStoreOptions } from './config.js';
import { mapForeignArea, SharedArea, type AreaMode } from './shm-area.js';
import { SpillDirectory, type SpillFileWriter } from './spill.js';
import { encodeForStore } from './stored-form.js';
import type { EncodedObject, ObjectStoreOptions, ObjectView, ObjectWriter, StoredMeta, StoreStats } from './types.js';
import { readFileSync } from 'node:fs';

type EntryState = 'writing' | 'memory' | 'spilled' | 'restoring';

interface Entry {
  readonly id: string;
  readonly meta: StoredMeta;
  state: EntryState;
  /** Offset in the area while the bytes are there (writing, memory, restoring); -1 otherwise. */
  offset: number;
  pins: number;
  /** The object's spill file, kept after a restore so that spilling it again costs nothing. */
  spillPath?: string;
  /** Larger than the store: lives on disk only. */
  readonly oversized: boolean;
  deleted: boolean;
  restoring?: Promise<void>;
}

/** Where an object sits in the area, for another process on the same machine. */
export interface ObjectLocation {
  /** The area file to pass to {@link mapForeignArea}. */
  readonly path: string;
  readonly offset: number;
  readonly length: number;
  readonly meta: StoredMeta;
}

const FORMATS = ['arrow', 'typed', 'buffer', 'msgpack'];

function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/**
 * A node's shared-memory object store.
 *
 * @example
 * const store = new SharedObjectStore({ capacityBytes: defaultObjectStoreMemory(), spillDir: '/tmp/rayts/spill' });
 * store.putValue('obj1', new Float64Array([1, 2, 3]));
 * const view = store.get('obj1');            // pinned, zero copy
 * const arr = decodeFromStore(view.meta, view.data) as Float64Array;
 * view.release();
 * store.close();
 */
export class SharedObjectStore {
  private readonly opts: ResolvedStoreOptions;
  private readonly area: SharedArea;
  /** The area for reading and for handing out views (SharedArrayBuffer). */
  private readonly bytes: Uint8Array;
  /** The same memory for the store's own copies (memcpy speed; see SharedArea.writeBytes). */
  private readonly writeBytes: Uint8Array;
  private readonly allocator: Allocator;
  private readonly spill: SpillDirectory;
  private readonly entries = new Map<string, Entry>();
  /** Unpinned objects in memory, least recently used first (Map keeps insertion order). */
  private readonly lru = new Map<string, Entry>();
  /** Deleted objects whose memory waits for the last pin (or a restore) to end. */
  private readonly zombies = new Set<Entry>();
  private spilledBytes = 0;
  private numSpilled = 0;
  private closed = false;

  /**
   * Allocates the area (`capacityBytes`, rounded down to 64) once.
   * @throws InvalidArgumentError for bad options (the message lists the valid keys).
   */
  constructor(opts: ObjectStoreOptions) {
    this.opts = resolveStoreOptions(opts);
    this.area = SharedArea.create(this.opts);
    this.bytes = new Uint8Array(this.area.buffer);
    this.writeBytes = this.area.writeBytes;
    this.allocator = new Allocator(this.opts.capacityBytes);
    this.spill = new SpillDirectory(this.opts.spillDir);
  }

  /** The area's memory, to post to worker threads (no copy). Objects are at `locate(id).offset`. */
  get sharedBuffer(): SharedArrayBuffer {
    return this.area.buffer;
  }

  /** 'shm' when other processes can map the area ({@link locate}), 'heap' without the native addon. */
  get mode(): AreaMode {
    return this.area.mode;
  }

  /** The area file (mode 'shm'), or undefined. */
  get areaPath(): string | undefined {
    return this.area.path;
  }

  /**
   * Encodes `value` ({@link encodeForStore}) and stores it under `id`.
   * @throws ObjectStoreFullError when no room can be made (says how full the store is and what to do).
   * @throws SerializationError when the value cannot be encoded.
   */
  putValue(id: string, value: unknown): StoredMeta {
    return this.putEncoded(id, encodeForStore(value));
  }

  /**
   * Stores an encoded object under `id`, spilling least-recently-used unpinned objects when the store is
   * above its spill threshold. Objects are immutable: a second put of an existing id is ignored and returns
   * the stored meta (as in Ray).
   * @throws ObjectStoreFullError when no room can be made.
   */
  putEncoded(id: string, obj: EncodedObject): StoredMeta {
    this.assertOpen();
    checkId(id);
    checkMeta(obj.meta, id);
    let total = 0;
    for (const s of obj.segments) total += s.byteLength;
    if (total !== obj.meta.sizeBytes) {
      throw new InvalidArgumentError(`putEncoded ${id}: segments hold ${total} bytes but meta.sizeBytes is ${obj.meta.sizeBytes}.`);
    }
    const existing = this.entries.get(id);
    if (existing && existing.state !== 'writing') return existing.meta;
    if (existing) throw new InvalidArgumentError(`putEncoded ${id}: the object is being received from another node.`);
    if (alignedSize(total) > this.allocator.capacityBytes) {
      if (!this.opts.spillingEnabled) throw this.fullError(id, total);
      const path = this.spill.writeSegments(obj.segments);
      this.addEntry(id, obj.meta, 'spilled', -1, true, path);
      return obj.meta;
    }
    const offset = this.allocate(id, total);
    let pos = offset;
    for (const s of obj.segments) {
      this.writeBytes.set(s, pos);
      pos += s.byteLength;
    }
    this.addEntry(id, obj.meta, 'memory', offset, false);
    return obj.meta;
  }

  /**
   * Starts receiving an object in chunks (from another node). The object becomes visible at `seal()`.
   * Its memory is reserved now and cannot be spilled until then.
   * @throws InvalidArgumentError when `id` exists or is being received; ObjectStoreFullError without room.
   */
  createWriter(id: string, meta: StoredMeta): ObjectWriter {
    this.assertOpen();
    checkId(id);
    checkMeta(meta, id);
    if (this.entries.has(id)) {
      throw new InvalidArgumentError(`createWriter ${id}: the object already exists or is being received.`, {
        hint: 'Check has(id) first; PullManager merges concurrent pulls of one object.',
      });
    }
    const size = meta.sizeBytes;
    let file: SpillFileWriter | undefined;
    let entry: Entry;
    if (alignedSize(size) > this.allocator.capacityBytes) {
      if (!this.opts.spillingEnabled) throw this.fullError(id, size);
      file = this.spill.createWriter();
      entry = this.addEntry(id, meta, 'writing', -1, true, file.path);
    } else {
      entry = this.addEntry(id, meta, 'writing', this.allocate(id, size), false);
    }
    // The writer holds a pin: a delete while bytes are arriving (possibly straight from a socket into
    // `region`) parks the memory until seal or abort instead of handing it to another object.
    entry.pins++;
    let written = 0;
    let done = false;
    const finish = (): void => {
      done = true;
      this.unpin(entry);
    };
    const check = (what: string): void => {
      if (done) throw new InvalidArgumentError(`ObjectWriter ${id}: ${what} after seal() or abort().`);
      if (entry.deleted) {
        file?.discard();
        finish();
        throw new InvalidArgumentError(`ObjectWriter ${id}: ${what} after the object was deleted.`);
      }
    };
    const checkRange = (offset: number, length: number): void => {
      if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0 || offset + length > size) {
        throw new InvalidArgumentError(`ObjectWriter ${id}: chunk [${offset}, ${offset + length}) is outside the object's ${size} bytes.`);
      }
    };
    return {
      sizeBytes: size,
      write: (offset: number, chunk: Uint8Array): void => {
        check('write');
        checkRange(offset, chunk.byteLength);
        if (file) file.write(offset, chunk);
        else this.writeBytes.set(chunk, entry.offset + offset);
        written += chunk.byteLength;
      },
      region: (offset: number, length: number): Uint8Array | undefined => {
        check('region');
        checkRange(offset, length);
        if (file) return undefined;
        return this.writeBytes.subarray(entry.offset + offset, entry.offset + offset + length);
      },
      commit: (offset: number, length: number): void => {
        check('commit');
        checkRange(offset, length);
        if (file) throw new InvalidArgumentError(`ObjectWriter ${id}: commit() of an object written to a spill file; use write().`);
        written += length;
      },
      seal: (): void => {
        check('seal');
        if (written !== size) {
          throw new InvalidArgumentError(`ObjectWriter ${id}: seal() after ${written} of ${size} bytes were written.`, {
            hint: 'Write every byte once, or abort().',
          });
        }
        if (file) {
          file.finish();
          entry.state = 'spilled';
          this.spilledBytes += size;
          this.numSpilled++;
        } else {
          entry.state = 'memory';
        }
        finish();
      },
      abort: (): void => {
        if (done) return;
        file?.discard();
        if (!entry.deleted) {
          this.entries.delete(id);
          entry.deleted = true;
          entry.spillPath = undefined;
        }
        finish();
      },
    };
  }

  /**
   * A pinned zero-copy view of an object in memory, or undefined when the object is absent, spilled or
   * not sealed yet (use {@link getAsync} to restore spilled objects). Call `release()` when done; until
   * then the object is neither spilled nor freed.
   */
  get(id: string): ObjectView | undefined {
    this.assertOpen();
    const e = this.entries.get(id);
    if (!e || e.state !== 'memory') return undefined;
    return this.pinnedView(e);
  }

  /**
   * Like {@link get}, restoring a spilled object into memory first (spilling others if needed).
   * An object larger than the store is mapped from its file instead (read into process memory without
   * the addon). Resolves undefined when the object is absent or still being received.
   * @throws ObjectStoreFullError when a spilled object cannot be brought back (everything else pinned).
   */
  async getAsync(id: string): Promise<ObjectView | undefined> {
    this.assertOpen();
    for (;;) {
      const e = this.entries.get(id);
      if (!e || e.state === 'writing') return undefined;
      if (e.state === 'memory') return this.pinnedView(e);
      if (e.oversized) return this.diskView(e);
      await (e.restoring ?? this.restore(e));
      if (this.closed) return undefined;
    }
  }

  /** True when the object is stored (in memory or spilled) and sealed. */
  has(id: string): boolean {
    const e = this.entries.get(id);
    return e !== undefined && e.state !== 'writing';
  }

  /**
   * The sealed objects held here (at most `limit`, in insertion order) and how many there are, for
   * `rayts list objects`. An object being restored from disk counts as spilled until it is back.
   */
  list(limit = Number.POSITIVE_INFINITY): { objects: { id: string; sizeBytes: number; format: StoredMeta['format']; state: 'memory' | 'spilled' }[]; total: number } {
    const objects: { id: string; sizeBytes: number; format: StoredMeta['format']; state: 'memory' | 'spilled' }[] = [];
    let total = 0;
    for (const e of this.entries.values()) {
      if (e.state === 'writing') continue;
      total++;
      if (objects.length < limit) objects.push({ id: e.id, sizeBytes: e.meta.sizeBytes, format: e.meta.format, state: e.state === 'memory' ? 'memory' : 'spilled' });
    }
    return { objects, total };
  }

  /**
   * Removes an object: its memory (or spill file) is freed now, or when the last pinned view is released.
   * An object still being received is aborted. Returns false when there was no such object.
   */
  delete(id: string): boolean {
    if (this.closed) return false;
    const e = this.entries.get(id);
    if (!e) return false;
    this.entries.delete(id);
    e.deleted = true;
    this.release(e);
    return true;
  }

  /**
   * Serves a pull: the object's bytes from `offset` in chunks of at most `chunkBytes` (always at least one
   * chunk, empty for an empty object). Chunks of an object in memory are views of shared memory, valid
   * until the iteration ends (the object stays pinned meanwhile); chunks of a spilled object are read
   * from its file one at a time. The JS heap never holds more than one chunk.
   * @throws ObjectLostError (when iterated) if the object is not here.
   */
  async *readChunks(id: string, offset: number, chunkBytes: number): AsyncIterable<Uint8Array> {
    this.assertOpen();
    if (!Number.isSafeInteger(chunkBytes) || chunkBytes <= 0) {
      throw new InvalidArgumentError(`readChunks ${id}: chunkBytes must be a positive integer, got ${chunkBytes}.`);
    }
    const e = this.entries.get(id);
    if (!e || e.state === 'writing') {
      throw new ObjectLostError(`Object ${id} is not in this node's store${e ? ' yet (still being received)' : ''}.`, {
        ids: { objectId: id },
        hint: 'Ask the owner for its current locations and pull from another copy.',
      });
    }
    const size = e.meta.sizeBytes;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > size) {
      throw new InvalidArgumentError(`readChunks ${id}: offset ${offset} is outside the object's ${size} bytes.`);
    }
    if (size === 0) {
      yield new Uint8Array(0);
      return;
    }
    if (e.state === 'memory') {
      e.pins++;
      if (e.pins === 1) this.lru.delete(e.id);
      try {
        for (let pos = offset; pos < size; pos += chunkBytes) {
          const start = e.offset + pos;
          yield this.bytes.subarray(start, start + Math.min(chunkBytes, size - pos));
        }
      } finally {
        this.unpin(e);
      }
      return;
    }
    if (!e.spillPath) throw new ObjectLostError(`Object ${id} has no spill file.`, { ids: { objectId: id } });
    yield* this.spill.stream(e.spillPath, offset, size, chunkBytes);
  }

  /** Usage figures (`objectStoreStats()`, `rayts status`). */
  stats(): StoreStats {
    let numObjects = 0;
    for (const e of this.entries.values()) if (e.state !== 'writing') numObjects++;
    return {
      usedBytes: this.allocator.usedBytes,
      capacityBytes: this.allocator.capacityBytes,
      spilledBytes: this.spilledBytes,
      numObjects,
      numSpilled: this.numSpilled,
      pinnedBytes: this.pinnedBytes(),
      mode: this.area.mode,
    };
  }

  /**
   * Where another process on this machine can read the object in place ({@link mapForeignArea} on
   * `path`, then `offset`/`length`), or undefined when the object is not in memory or the store is in
   * 'heap' mode. This does not pin: hold a {@link get} view while the other process reads.
   */
  locate(id: string): ObjectLocation | undefined {
    const e = this.entries.get(id);
    if (!e || e.state !== 'memory' || !this.area.path) return undefined;
    return { path: this.area.path, offset: e.offset, length: e.meta.sizeBytes, meta: e.meta };
  }

  /**
   * Gives everything back: the area (its file is removed; views still held read zeros) and the spill
   * directory. Pending restores resolve undefined. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.entries.clear();
    this.lru.clear();
    this.zombies.clear();
    this.area.close();
    this.spill.close();
  }

  // ---- internals ----

  private assertOpen(): void {
    if (this.closed) throw new InvalidArgumentError('The object store is closed.');
  }

  private addEntry(id: string, meta: StoredMeta, state: EntryState, offset: number, oversized: boolean, spillPath?: string): Entry {
    const e: Entry = { id, meta, state, offset, pins: 0, oversized, deleted: false, spillPath };
    this.entries.set(id, e);
    if (state === 'memory') this.lru.set(id, e);
    if (state === 'spilled') {
      this.spilledBytes += meta.sizeBytes;
      this.numSpilled++;
    }
    return e;
  }

  /** Reserves room for `sizeBytes`, spilling LRU objects as needed. */
  private allocate(id: string, sizeBytes: number): number {
    const size = alignedSize(sizeBytes);
    if (this.opts.spillingEnabled) {
      const limit = this.opts.spillThreshold * this.allocator.capacityBytes;
      while (this.allocator.usedBytes + size > limit && this.spillOne()) {
        // spilled one; check again
      }
    }
    let offset = this.allocator.allocate(size);
    while (offset === undefined && this.opts.spillingEnabled && this.spillOne()) offset = this.allocator.allocate(size);
    if (offset === undefined) throw this.fullError(id, sizeBytes);
    return offset;
  }

  /** Spills the least recently used unpinned object; false when there is none. */
  private spillOne(): boolean {
    const first = this.lru.values().next();
    if (first.done) return false;
    const e = first.value;
    if (!e.spillPath) e.spillPath = this.spill.writeAll(this.bytes.subarray(e.offset, e.offset + e.meta.sizeBytes));
    this.lru.delete(e.id);
    this.allocator.free(e.offset);
    e.offset = -1;
    e.state = 'spilled';
    this.spilledBytes += e.meta.sizeBytes;
    this.numSpilled++;
    return true;
  }

  private restore(e: Entry): Promise<void> {
    const path = e.spillPath as string;
    e.offset = this.allocate(e.id, e.meta.sizeBytes);
    e.state = 'restoring';
    this.spilledBytes -= e.meta.sizeBytes;
    this.numSpilled--;
    const target = this.writeBytes.subarray(e.offset, e.offset + e.meta.sizeBytes);
    const done = this.spill.readInto(path, target).then(
      () => {
        e.restoring = undefined;
        if (this.closed) return;
        e.state = 'memory';
        if (e.deleted) this.release(e);
        else this.lru.set(e.id, e);
      },
      (err: unknown) => {
        e.restoring = undefined;
        if (this.closed) return;
        this.allocator.free(e.offset);
        e.offset = -1;
        e.state = 'spilled';
        this.spilledBytes += e.meta.sizeBytes;
        this.numSpilled++;
        throw new ObjectLostError(`Object ${e.id} could not be restored from its spill file: ${(err as Error).message}.`, {
          cause: err,
          ids: { objectId: e.id },
          hint: 'The spill directory may have been removed or the disk failed; the owner can rebuild it from lineage.',
        });
      },
    );
    e.restoring = done;
    return done;
  }

  private pinnedView(e: Entry): ObjectView {
    e.pins++;
    if (e.pins === 1) this.lru.delete(e.id);
    let released = false;
    return {
      meta: e.meta,
      data: this.bytes.subarray(e.offset, e.offset + e.meta.sizeBytes),
      release: () => {
        if (released) return;
        released = true;
        this.unpin(e);
      },
    };
  }

  private diskView(e: Entry): ObjectView {
    const path = e.spillPath as string;
    if (this.area.mode === 'shm') {
      const mapped = mapForeignArea(path);
      return { meta: e.meta, data: new Uint8Array(mapped.buffer, 0, e.meta.sizeBytes), release: () => mapped.close() };
    }
    const data = readFileSync(path);
    return { meta: e.meta, data, release: () => undefined };
  }

  private unpin(e: Entry): void {
    if (this.closed) return;
    e.pins--;
    if (e.pins > 0) return;
    if (e.deleted) this.release(e);
    else if (e.state === 'memory') this.lru.set(e.id, e);
  }

  /** Frees a deleted entry's memory and file now, or parks it until pins and restores end. */
  private release(e: Entry): void {
    this.lru.delete(e.id);
    if (e.pins > 0 || e.state === 'restoring') {
      this.zombies.add(e);
      return;
    }
    this.zombies.delete(e);
    if (e.offset >= 0) {
      this.allocator.free(e.offset);
      e.offset = -1;
    }
    if (e.state === 'spilled') {
      this.spilledBytes -= e.meta.sizeBytes;
      this.numSpilled--;
    }
    if (e.spillPath) {
      this.spill.remove(e.spillPath);
      e.spillPath = undefined;
    }
  }

  private pinnedBytes(): number {
    let n = 0;
    const count = (e: Entry): void => {
      if (e.offset >= 0 && (e.pins > 0 || e.state === 'writing' || e.state === 'restoring')) n += alignedSize(e.meta.sizeBytes);
    };
    for (const e of this.entries.values()) count(e);
    for (const e of this.zombies) count(e);
    return n;
  }

  private fullError(id: string, sizeBytes: number): ObjectStoreFullError {
    const a = this.allocator.stats();
    const pct = a.capacityBytes > 0 ? Math.round((100 * a.usedBytes) / a.capacityBytes) : 100;
    const what =
      `Object store is full: cannot place object ${id} (${formatBytes(sizeBytes)}); ` +
      `${formatBytes(a.usedBytes)} of ${formatBytes(a.capacityBytes)} used (${pct}%), ` +
      `${formatBytes(this.pinnedBytes())} pinned by readers or writers, largest free range ${formatBytes(a.largestFreeBytes)}, ` +
      `spilling ${this.opts.spillingEnabled ? 'enabled' : 'disabled'}.`;
    let hint: string;
    if (alignedSize(sizeBytes) > a.capacityBytes) {
      hint = `The object is larger than the whole store: raise --object-store-memory above ${formatBytes(sizeBytes)}, or enable spilling (objects larger than the store then go straight to disk).`;
    } else if (!this.opts.spillingEnabled) {
      hint = 'Free references to objects you no longer need (drop ObjectRefs, free(refs)), raise --object-store-memory, or enable spilling.';
    } else {
      hint = 'Everything left in memory is pinned: release views and references you no longer need (free(refs)), or raise --object-store-memory.';
    }
    return new ObjectStoreFullError(what, { hint, ids: { objectId: id } });
  }
}

function checkId(id: string): void {
  if (typeof id !== 'string' || id === '') throw new InvalidArgumentError(`Object id must be a non-empty string, got ${String(id)}.`);
}

function checkMeta(meta: StoredMeta, id: string): void {
  if (typeof meta !== 'object' || meta === null || !FORMATS.includes(meta.format)) {
    throw new InvalidArgumentError(`Object ${id}: meta.format must be one of ${FORMATS.join(', ')}, got ${String(meta?.format)}.`);
  }
  if (!Number.isSafeInteger(meta.sizeBytes) || meta.sizeBytes < 0) {
    throw new InvalidArgumentError(`Object ${id}: meta.sizeBytes must be a non-negative integer, got ${String(meta.sizeBytes)}.`);
  }
}
