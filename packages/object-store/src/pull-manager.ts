/**
 * Receiving side of object transfer between nodes.
 *
 * Responsible for: merging concurrent pulls of one object into one transfer, placing the bytes in the
 * store as they arrive (memory bounded by the chunk size: a 1 GiB object never sits whole on the JS
 * heap), resuming from the last written offset when a transfer breaks, and aborting the half-written
 * object on failure. Not responsible for: finding locations or the wire. The core passes either a
 * {@link PullFetch} (an async iterable of chunks, as a gRPC stream gives them; the next chunk is
 * requested only after the previous one was written) or a {@link PullSource} that receives bytes in
 * place through a {@link PullSink} (a socket reading straight into the shared area).
 */
import { InvalidArgumentError, ObjectLostError, RayError } from '@samsara/ray-common';
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

/**
 * The receiving end of one attempt to move an object (see {@link PullSource}). Bytes arrive in order from
 * `offset`; `begin` comes first.
 */
export interface PullSink {
  /** Bytes already in the store: the attempt asks the peer for the object from here. */
  readonly offset: number;
  /**
   * The peer's first answer: the object's size and stored form. Reserves the destination on the first
   * attempt and checks that the size did not change on a resume.
   * @throws ObjectStoreFullError when the store cannot make room; ObjectLostError for an inconsistent answer.
   */
  begin(totalBytes: number, meta: StoredMeta): void;
  /**
   * Memory to receive the next bytes in place (at most `maxBytes`, starting at `offset`), or undefined
   * when the destination is a spill file (then pass the bytes to `write`). Valid until `advance`, or
   * until the attempt ends; the transport must stop writing into it before its promise settles.
   */
  region(maxBytes: number): Uint8Array | undefined;
  /** `n` bytes were placed at the start of the last region. */
  advance(n: number): void;
  /** Copies `chunk` at `offset`. */
  write(chunk: Uint8Array): void;
}

/**
 * Moves object `id` from `location` into `sink`, resolving when the peer has sent every byte up to the
 * object's end. Throw an ObjectLostError when the peer says it does not hold the object, an
 * AuthenticationError when it refuses this process: neither is retried. Any other failure is a broken
 * transfer, reopened from `sink.offset` up to `maxResumes` times.
 */
export type PullSource = (location: string, id: string, sink: PullSink) => Promise<void>;

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
 * const direct = new PullManager(store, { source: (loc, id, sink) => socketPull(loc, id, sink) });
 */
export class PullManager {
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly maxResumes: number;
  private readonly source: PullSource;

  constructor(
    private readonly store: SharedObjectStore,
    fetch: PullFetch | { readonly source: PullSource },
    opts: PullManagerOptions = {},
  ) {
    const unknown = Object.keys(opts).filter((k) => k !== 'maxResumes');
    if (unknown.length > 0) {
      throw new InvalidArgumentError(`PullManager: unknown option ${unknown.join(', ')}.`, { hint: 'Valid keys: maxResumes.' });
    }
    this.maxResumes = opts.maxResumes ?? 2;
    this.source = typeof fetch === 'function' ? fromFetch(fetch) : fetch.source;
  }

  /** Number of transfers running now. */
  get activePulls(): number {
    return this.inFlight.size;
  }

  /**
   * Resolves when `id` is sealed in the local store (at once if it already is). Concurrent calls for the
   * same id share one transfer (the first caller's location is used).
   * @throws ObjectLostError when the transfer fails beyond `maxResumes`, is malformed, or the peer no
   *   longer holds the object (the cause is kept); ObjectStoreFullError when the store cannot make room;
   *   AuthenticationError when the peer refuses this process's token.
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
    let began = false;
    const store = this.store;
    const sink: PullSink = {
      get offset() {
        return offset;
      },
      begin(totalBytes: number, meta: StoredMeta): void {
        if (!writer) {
          if (meta.sizeBytes !== totalBytes) {
            throw new BrokenTransfer(`totalBytes ${totalBytes} ≠ meta.sizeBytes ${meta.sizeBytes}`);
          }
          writer = store.createWriter(id, meta);
        } else if (totalBytes !== writer.sizeBytes) {
          throw new BrokenTransfer('the object changed size between attempts');
        }
        began = true;
      },
      region(maxBytes: number): Uint8Array | undefined {
        const w = mustBegin(writer, began);
        return w.region(offset, Math.min(maxBytes, w.sizeBytes - offset));
      },
      advance(n: number): void {
        mustBegin(writer, began).commit(offset, n);
        offset += n;
      },
      write(chunk: Uint8Array): void {
        mustBegin(writer, began).write(offset, chunk);
        offset += chunk.byteLength;
      },
    };
    try {
      for (;;) {
        try {
          began = false;
          await this.source(location, id, sink);
          if (!writer) throw new BrokenTransfer('the transfer ended before any data');
          if (offset !== writer.sizeBytes) throw new BrokenTransfer(`the transfer ended at ${offset} of ${writer.sizeBytes} bytes`);
          writer.seal();
          return;
        } catch (e) {
          if (isPermanent(e) || resumes >= this.maxResumes) throw e;
          resumes++;
          // A peer that refused or did not answer the dial: give it a moment (a gRPC channel that failed
          // to connect fails every call at once until its reconnect backoff ends).
          if ((e as { code?: unknown } | null)?.code === 'CONNECTION') await new Promise((r) => setTimeout(r, CONNECTION_RETRY_MS * 4 ** (resumes - 1)));
        }
      }
    } catch (e) {
      writer?.abort();
      if (isPermanent(e)) throw e;
      const why = e instanceof BrokenTransfer ? e.message : (e as Error).message;
      throw new ObjectLostError(`Pull of object ${id} from ${location} failed after ${resumes} resume(s) at byte ${offset}: ${why}.`, {
        cause: e,
        ids: { objectId: id, location },
        hint: 'Ask the owner for another location; the object can be rebuilt from lineage if every copy is gone.',
      });
    }
  }
}

/** First wait before reopening a transfer whose peer could not be reached (then ×4 per resume: 250 ms, 1 s). */
const CONNECTION_RETRY_MS = 250;

/** A malformed or cut-short transfer: reopened from the last offset. */
class BrokenTransfer extends Error {}

function mustBegin(writer: ObjectWriter | undefined, began: boolean): ObjectWriter {
  if (!writer || !began) throw new BrokenTransfer('bytes arrived before the object\'s size and form');
  return writer;
}

/** Adapts a chunk stream to a {@link PullSource}. */
function fromFetch(fetch: PullFetch): PullSource {
  return async (location, id, sink) => {
    let total: number | undefined;
    for await (const chunk of fetch(location, id, sink.offset)) {
      if (total === undefined) {
        sink.begin(chunk.totalBytes, chunk.meta);
        total = chunk.totalBytes;
      } else if (chunk.totalBytes !== total) {
        throw new BrokenTransfer('the object changed size mid-transfer');
      }
      sink.write(chunk.data);
    }
  };
}

/**
 * Errors that reopening the transfer cannot fix: store full, bad arguments, a refused token, and the
 * peer saying it does not hold the object (a transport's ObjectLostError).
 */
function isPermanent(e: unknown): boolean {
  if (e instanceof BrokenTransfer) return false;
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'OBJECT_STORE_FULL' || code === 'INVALID_ARGUMENT' || code === 'AUTHENTICATION' || (e instanceof RayError && code === 'OBJECT_LOST');
}
