/**
 * Receiving side of object transfer between nodes.
 *
 * Responsible for: merging concurrent pulls of one object into one transfer, writing chunks into the
 * store as they arrive (memory bounded by the chunk size: a 1 GiB object never sits whole on the JS
 * heap), resuming from the last written offset when a stream breaks, and aborting the half-written
 * object on failure. Not responsible for: finding locations or the wire (the core passes a `fetch`
 * that opens a gRPC stream to a node), nor reference counting.
 *
 * Flow control is pull-based: the next chunk is requested only after the previous one was written.
 */
import { InvalidArgumentError, ObjectLostError } from '@samsara/ray-common';
import type { SharedObjectStore } from './shared-object-store.js';
import type { ObjectWriter, StoredMeta } from './types.js';

/** One chunk of a pull stream: bytes from the current offset, the object's size and its stored form. */
export interface PullChunk {
  readonly data: Uint8Array;
  readonly totalBytes: number;
  readonly meta: StoredMeta;
}

/** Opens a stream of an object's bytes from `offset` at `location` (a node address). */
export type PullFetch = (location: string, id: string, offset: number) => AsyncIterable<PullChunk>;

/** Options of {@link PullManager}. */
export interface PullManagerOptions {
  /** Times a broken stream is reopened from the last written offset before the pull fails. Default 2. */
  readonly maxResumes?: number;
}

/**
 * Pulls objects from other nodes into the local store.
 *
 * @example
 * const pulls = new PullManager(store, (loc, id, off) => client(loc).pullObject(id, off));
 * await Promise.all([pulls.pull(id, 'node-b:7001'), pulls.pull(id, 'node-b:7001')]); // one transfer
 */
export class PullManager {
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly maxResumes: number;

  constructor(
    private readonly store: SharedObjectStore,
    private readonly fetch: PullFetch,
    opts: PullManagerOptions = {},
  ) {
    const unknown = Object.keys(opts).filter((k) => k !== 'maxResumes');
    if (unknown.length > 0) {
      throw new InvalidArgumentError(`PullManager: unknown option ${unknown.join(', ')}.`, { hint: 'Valid keys: maxResumes.' });
    }
    this.maxResumes = opts.maxResumes ?? 2;
  }

  /** Number of transfers running now. */
  get activePulls(): number {
    return this.inFlight.size;
  }

  /**
   * Resolves when `id` is sealed in the local store (at once if it already is). Concurrent calls for the
   * same id share one transfer (the first caller's location is used).
   * @throws ObjectLostError when the stream fails beyond `maxResumes` or is malformed (the cause is kept);
   *   ObjectStoreFullError when the store cannot make room.
   */
  pull(id: string, location: string): Promise<void> {
    if (this.store.has(id)) return Promise.resolve();
    const running = this.inFlight.get(id);
    if (running) return running;
    const p = this.transfer(id, location).finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, p);
    return p;
  }

  private async transfer(id: string, location: string): Promise<void> {
    let writer: ObjectWriter | undefined;
    let offset = 0;
    let resumes = 0;
    try {
      for (;;) {
        try {
          for await (const chunk of this.fetch(location, id, offset)) {
            if (!writer) {
              if (chunk.meta.sizeBytes !== chunk.totalBytes) {
                throw new ObjectLostError(`Pull of ${id} from ${location}: totalBytes ${chunk.totalBytes} ≠ meta.sizeBytes ${chunk.meta.sizeBytes}.`, {
                  ids: { objectId: id },
                });
              }
              writer = this.store.createWriter(id, chunk.meta);
            }
            if (chunk.totalBytes !== writer.sizeBytes) {
              throw new ObjectLostError(`Pull of ${id} from ${location}: the object changed size mid-transfer.`, { ids: { objectId: id } });
            }
            writer.write(offset, chunk.data);
            offset += chunk.data.byteLength;
          }
          if (!writer) throw new ObjectLostError(`Pull of ${id} from ${location}: the stream ended before any data.`, { ids: { objectId: id } });
          if (offset !== writer.sizeBytes) {
            throw new ObjectLostError(`Pull of ${id} from ${location}: the stream ended at ${offset} of ${writer.sizeBytes} bytes.`, {
              ids: { objectId: id },
            });
          }
          writer.seal();
          return;
        } catch (e) {
          if (isPermanent(e) || resumes >= this.maxResumes) throw e;
          resumes++;
        }
      }
    } catch (e) {
      writer?.abort();
      if (isPermanent(e) || e instanceof ObjectLostError) throw e;
      throw new ObjectLostError(`Pull of ${id} from ${location} failed after ${resumes} resume(s) at byte ${offset}: ${(e as Error).message}.`, {
        cause: e,
        ids: { objectId: id },
        hint: 'Ask the owner for another location; the object can be rebuilt from lineage if every copy is gone.',
      });
    }
  }
}

/** Errors that reopening the stream cannot fix (store full, bad arguments). */
function isPermanent(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'OBJECT_STORE_FULL' || code === 'INVALID_ARGUMENT';
}
