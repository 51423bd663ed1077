/**
 * Pulling side of the object data plane (protocol in data-frames.ts).
 *
 * Responsible for: connections to peers' data planes (authenticated once with the cluster token, reused
 * for later pulls, a few idle ones kept per peer), and reading an object's bytes straight from the
 * socket into the destination the {@link PullSink} hands out — the shared-memory area of the local
 * store, so the JS heap never holds the object (objects bound for a spill file go through one 4 MiB
 * buffer). Flow control is TCP's: the kernel buffers fill when this process reads slower than the peer
 * writes. Not responsible for: merging pulls and resuming broken ones (PullManager), choosing between
 * this and gRPC (PullClient).
 */
import net from 'node:net';
import { AuthenticationError, ConnectionError, ObjectLostError, shortId } from '@samsara/ray-common';
import type { PullSink, StoredMeta } from '@samsara/ray-object-store';
import { connectStream } from './tls.js';
import {
  DataPlaneErrorCode,
  FRAME_HEADER_BYTES,
  FrameError,
  FrameType,
  MAX_FRAME_PAYLOAD_BYTES,
  decodeError,
  decodeObjectHeader,
  encodeHello,
  encodePull,
} from './data-frames.js';

/** Where a peer's data plane listens. */
export interface DataPlaneTarget {
  readonly host: string;
  readonly port: number;
  /** The peer's gRPC address, as the rest of the runtime names it (for messages). */
  readonly location: string;
}

/** Options of {@link DataPlaneClient}. */
export interface DataPlaneClientOptions {
  /** Give up connecting after this long (then PullClient falls back to gRPC). Default 5 s. */
  readonly connectTimeoutMs?: number;
  /** A transfer that receives nothing for this long is broken (and resumed). Default 30 s. */
  readonly stallTimeoutMs?: number;
  /** Idle connections kept per peer for later pulls. Default 4. */
  readonly maxIdlePerPeer?: number;
}

/** The peer's data plane could not be reached at all: nothing was sent, use another transport. */
export class DataPlaneUnreachableError extends ConnectionError {}

/** A reused connection that turned out to be closed before the peer answered: retry on a new one. */
class StaleConnectionError extends ConnectionError {}

const SPILL_CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * Pulls objects over peers' data planes.
 *
 * @example
 * const dp = new DataPlaneClient(token);
 * await dp.pull({ host: '127.0.0.1', port: 40123, location: '127.0.0.1:40001' }, objectId, sink);
 * dp.close();
 */
export class DataPlaneClient {
  private readonly idle = new Map<string, DataConnection[]>();
  private readonly open = new Set<DataConnection>();
  private readonly o: Required<DataPlaneClientOptions>;
  private closed = false;

  constructor(
    private readonly token: string,
    opts: DataPlaneClientOptions = {},
  ) {
    this.o = {
      connectTimeoutMs: opts.connectTimeoutMs ?? 5000,
      stallTimeoutMs: opts.stallTimeoutMs ?? 30_000,
      maxIdlePerPeer: opts.maxIdlePerPeer ?? 4,
    };
  }

  /**
   * Moves object `id` from `target` into `sink`, from `sink.offset` to the object's end.
   * @throws DataPlaneUnreachableError when no connection could be made (nothing was transferred);
   *   AuthenticationError when the peer refuses the token; ObjectLostError when the peer does not hold
   *   the object; ConnectionError when the transfer broke (PullManager resumes it); whatever the sink
   *   throws (ObjectStoreFullError).
   */
  async pull(target: DataPlaneTarget, id: string, sink: PullSink): Promise<void> {
    if (this.closed) throw new ConnectionError('The data-plane client is closed.', { ids: { objectId: id } });
    const key = `${target.host}:${target.port}`;
    for (let conn = this.takeIdle(key); conn; conn = this.takeIdle(key)) {
      try {
        await conn.pull(id, sink);
        this.putIdle(key, conn);
        return;
      } catch (e) {
        if (!(e instanceof StaleConnectionError)) {
          this.putIdle(key, conn);
          throw e;
        }
      }
    }
    const conn = await this.connect(target);
    try {
      await conn.pull(id, sink);
    } finally {
      this.putIdle(key, conn);
    }
  }

  /** Open connections (idle or busy), for tests. */
  get connections(): number {
    return this.open.size;
  }

  /** Closes every connection; transfers in flight fail with ConnectionError. */
  close(): void {
    this.closed = true;
    for (const c of this.open) c.destroy(new ConnectionError('The data-plane client was closed.'));
    this.open.clear();
    this.idle.clear();
  }

  private takeIdle(key: string): DataConnection | undefined {
    const list = this.idle.get(key);
    while (list && list.length) {
      const c = list.pop()!;
      if (c.usable) return c;
    }
    return undefined;
  }

  private putIdle(key: string, c: DataConnection): void {
    if (!c.usable || this.closed) {
      c.destroy();
      return;
    }
    const list = this.idle.get(key) ?? [];
    if (list.length >= this.o.maxIdlePerPeer) {
      c.destroy();
      return;
    }
    list.push(c);
    this.idle.set(key, list);
  }

  private connect(target: DataPlaneTarget): Promise<DataConnection> {
    return new Promise((resolve, reject) => {
      const c = new DataConnection(target, this.token, this.o.stallTimeoutMs, () => this.open.delete(c));
      this.open.add(c);
      const timer = setTimeout(() => {
        c.destroy();
        reject(unreachable(target, `no connection after ${this.o.connectTimeoutMs} ms`));
      }, this.o.connectTimeoutMs);
      c.socket.once('connect', () => {
        clearTimeout(timer);
        resolve(c);
      });
      c.socket.once('error', (e) => {
        clearTimeout(timer);
        reject(unreachable(target, e.message));
      });
    });
  }
}

function unreachable(t: DataPlaneTarget, why: string): DataPlaneUnreachableError {
  return new DataPlaneUnreachableError(`Cannot reach the object data plane of ${t.location} at ${t.host}:${t.port}: ${why}.`, {
    hint: 'Pulls from that peer fall back to gRPC; check firewalls between nodes, or set RAYTS_DATA_PLANE=0.',
    ids: { location: t.location },
  });
}

interface Job {
  readonly id: string;
  readonly sink: PullSink;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
  /** The offset asked for. */
  readonly from: number;
  total: number;
  remaining: number;
  /** The peer answered (any frame after WELCOME): a failure now is not a stale pooled connection. */
  answered: boolean;
}

/** One authenticated connection, serving one pull at a time. */
class DataConnection {
  readonly socket: net.Socket;
  /** Control frames are read here, each read asking for exactly the bytes the frame still lacks. */
  private readonly scratch = Buffer.allocUnsafe(FRAME_HEADER_BYTES + MAX_FRAME_PAYLOAD_BYTES);
  private spillChunk: Buffer | undefined;
  private phase: 'prefix' | 'body' | 'data' = 'prefix';
  private have = 0;
  private need = FRAME_HEADER_BYTES;
  private frameType = 0;
  /** The last buffer handed to the socket was a region of the destination (bytes land in place). */
  private inPlace = false;
  private welcomed = false;
  /** Pulls completed on this connection. */
  private served = 0;
  private dead: Error | undefined;
  private job: Job | undefined;

  constructor(
    private readonly target: DataPlaneTarget,
    token: string,
    private readonly stallTimeoutMs: number,
    private readonly onGone: () => void,
  ) {
    this.socket = connectStream({
      host: target.host,
      port: target.port,
      onread: { buffer: () => this.nextBuffer(), callback: (n: number) => this.onRead(n) },
    });
    this.socket.setKeepAlive(true, 30_000);
    this.socket.on('error', (e) => this.destroy(this.broken(`${e.message}`)));
    this.socket.on('close', () => {
      this.destroy(this.broken('the peer closed the connection'));
      this.onGone();
    });
    this.socket.on('timeout', () => this.destroy(this.broken(`nothing arrived for ${this.stallTimeoutMs} ms`)));
    this.socket.write(encodeHello(token));
  }

  /** Authenticated (or not yet answered) and not broken: may carry another pull. */
  get usable(): boolean {
    return !this.dead && !this.job;
  }

  pull(id: string, sink: PullSink): Promise<void> {
    if (this.dead) return Promise.reject(new StaleConnectionError(this.dead.message));
    return new Promise<void>((resolve, reject) => {
      this.job = { id, sink, resolve, reject, from: sink.offset, total: -1, remaining: 0, answered: false };
      this.socket.ref();
      this.socket.setTimeout(this.stallTimeoutMs);
      this.socket.write(encodePull(id, sink.offset));
    });
  }

  /** Closes the connection; a pull in flight fails with `why`. Idempotent. */
  destroy(why?: Error): void {
    if (!this.dead) this.dead = why ?? new ConnectionError('connection closed');
    this.socket.destroy();
    this.settle(this.dead);
  }

  private settle(err?: Error): void {
    const job = this.job;
    if (!job) return;
    this.job = undefined;
    this.socket.setTimeout(0);
    this.socket.unref();
    if (!err) job.resolve();
    // A pooled connection the peer closed while it sat idle fails before any answer: not a broken transfer.
    else if (!job.answered && this.served > 0 && err instanceof ConnectionError) job.reject(new StaleConnectionError(err.message));
    else job.reject(err);
  }

  private nextBuffer(): Uint8Array {
    try {
      const job = this.job;
      if (this.phase === 'data' && job && !this.dead) {
        const r = job.sink.region(job.remaining);
        if (r && r.byteLength > 0) {
          this.inPlace = true;
          return r;
        }
        this.inPlace = false;
        this.spillChunk ??= Buffer.allocUnsafe(SPILL_CHUNK_BYTES);
        return this.spillChunk.subarray(0, Math.min(job.remaining, SPILL_CHUNK_BYTES));
      }
    } catch (e) {
      this.destroy(e as Error);
    }
    this.inPlace = false;
    // Never a zero-length buffer: after a failure, anything still read lands here and is ignored.
    return this.scratch.subarray(this.have, Math.max(this.need, this.have + 1));
  }

  private onRead(n: number): boolean {
    if (this.dead) return true;
    try {
      const job = this.job;
      if (this.phase === 'data' && job) {
        if (this.inPlace) job.sink.advance(n);
        else job.sink.write(this.spillChunk!.subarray(0, n));
        job.remaining -= n;
        if (job.remaining === 0) this.endObject();
        return true;
      }
      this.have += n;
      if (this.have < this.need) return true;
      if (this.phase === 'prefix') {
        const len = this.scratch.readUInt32BE(0);
        this.frameType = this.scratch[4]!;
        if (len > MAX_FRAME_PAYLOAD_BYTES) throw new FrameError(`frame of ${len} bytes is over the ${MAX_FRAME_PAYLOAD_BYTES}-byte bound`);
        if (len > 0) {
          this.phase = 'body';
          this.need = FRAME_HEADER_BYTES + len;
          return true;
        }
      }
      const payload = this.scratch.subarray(FRAME_HEADER_BYTES, this.need);
      this.phase = 'prefix';
      this.have = 0;
      this.need = FRAME_HEADER_BYTES;
      this.onFrame(this.frameType, payload);
    } catch (e) {
      this.destroy(e instanceof FrameError ? this.broken(`the peer sent a malformed frame (${e.message})`) : (e as Error));
    }
    return true;
  }

  private onFrame(type: number, payload: Buffer): void {
    const job = this.job;
    if (type === FrameType.WELCOME) {
      this.welcomed = true;
      return;
    }
    if (type === FrameType.ERROR) {
      const { code, message } = decodeError(payload);
      const what = job ? `Object pull of ${shortId(job.id)} from ${this.target.location}` : `Object data plane of ${this.target.location}`;
      if (code === DataPlaneErrorCode.AUTH) {
        this.destroy(
          new AuthenticationError(`${what}: the data plane at ${this.target.host}:${this.target.port} rejected this process's cluster token (${message}).`, {
            hint: "Set RAYTS_TOKEN (or --token) to the token in the head's session directory (<session>/token).",
            ids: { location: this.target.location, ...(job ? { objectId: job.id } : {}) },
          }),
        );
        return;
      }
      if (code === DataPlaneErrorCode.NOT_FOUND && job) {
        job.answered = true;
        this.settle(
          new ObjectLostError(`Object ${shortId(job.id)} is no longer stored at ${this.target.location} (${message}).`, {
            hint: 'It was freed or its node restarted; ask its owner for another copy, or recompute it.',
            ids: { objectId: job.id, location: this.target.location },
          }),
        );
        return;
      }
      this.destroy(new ConnectionError(`${what} failed: the peer answered "${message}" (code ${code}).`, {
        hint: 'This is a bug or a version mismatch between the two processes; the pull is retried and then falls back to its owner.',
        ids: { location: this.target.location, ...(job ? { objectId: job.id } : {}) },
      }));
      return;
    }
    if (type === FrameType.OBJECT && job && !job.answered && this.welcomed) {
      job.answered = true;
      const h = decodeObjectHeader(payload);
      if (h.offset !== job.from) throw new FrameError(`OBJECT at offset ${h.offset}, asked for ${job.from}`);
      let meta: StoredMeta;
      try {
        meta = JSON.parse(h.meta) as StoredMeta;
      } catch {
        throw new FrameError('OBJECT meta is not JSON');
      }
      job.sink.begin(h.totalBytes, meta);
      job.total = h.totalBytes;
      job.remaining = h.totalBytes - h.offset;
      if (job.remaining === 0) this.endObject();
      else this.phase = 'data';
      return;
    }
    throw new FrameError(`unexpected frame type ${type}`);
  }

  private endObject(): void {
    this.spillChunk = undefined; // not kept by an idle connection
    this.phase = 'prefix';
    this.have = 0;
    this.need = FRAME_HEADER_BYTES;
    this.served++;
    this.settle();
  }

  /** A broken transfer (retriable): says which object, which peer, and where it stopped. */
  private broken(why: string): ConnectionError {
    const job = this.job;
    if (!job) return new ConnectionError(`Object data-plane connection to ${this.target.location} closed: ${why}.`, { ids: { location: this.target.location } });
    const at = job.total >= 0 ? ` at byte ${job.total - job.remaining} of ${job.total}` : ' before the object started';
    return new ConnectionError(`Object pull of ${shortId(job.id)} from ${this.target.location} (data plane ${this.target.host}:${this.target.port}) broke${at}: ${why}.`, {
      hint: 'The peer may have died or restarted; the pull resumes from the last byte received, and the owner can name another copy.',
      ids: { objectId: job.id, location: this.target.location },
    });
  }
}
