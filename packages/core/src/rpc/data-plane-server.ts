/**
 * Serving side of the object data plane (protocol in data-frames.ts): a TCP listener beside the
 * process's gRPC server that streams stored objects to authenticated peers.
 *
 * Responsible for: the token check on each connection's first frame, answering PULLs one at a time per
 * connection with the object's bytes straight from the store (no copy: shared-memory views are written
 * to the socket), keeping the object pinned until the socket has taken the last byte, socket
 * back-pressure, and surviving anything a peer sends (bounded frames, a deadline for HELLO, every
 * failure closes only that connection). Not responsible for: deciding who pulls what (PullClient), nor
 * the gRPC fallback (object-server.ts).
 */
import net from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { ConnectionError, shortId, type Logger } from '@samsara/ray-common';
import type { rayts } from '@samsara/ray-proto';
import type { ProcessStore } from '../owner/process-store.js';
import type { HostedService } from './server-host.js';
import {
  DATA_PLANE_VERSION,
  DataPlaneErrorCode,
  FrameError,
  FrameReader,
  FrameType,
  decodeHello,
  decodePull,
  encodeError,
  encodeObjectHeader,
  encodeWelcome,
} from './data-frames.js';
import { transferServiceDefinition } from './transfer-service.js';
import { objectServedBytes } from '../metrics/node-metrics.js';
import { createStreamServer } from './tls.js';

/** Options of {@link DataPlaneServer.listen}. */
export interface DataPlaneServerOptions {
  /** Address to bind (the gRPC server's host). */
  readonly host: string;
  /** Port to bind; 0 (default) picks a free one. */
  readonly port?: number;
  readonly token: string;
  readonly store: ProcessStore;
  readonly log: Logger;
  /** A connection that has not sent a valid HELLO by then is closed. Default 10 s. */
  readonly helloTimeoutMs?: number;
  /** Bytes handed to the socket per write; a new write waits until less than this is queued. Default 8 MiB. */
  readonly writeChunkBytes?: number;
}

const DEFAULT_HELLO_TIMEOUT_MS = 10_000;
const DEFAULT_WRITE_CHUNK_BYTES = 8 * 1024 * 1024;
/** PULLs a client may send ahead of the one being served (clients send one at a time). */
const MAX_QUEUED_PULLS = 4;
/** Connections that have not authenticated yet; more are closed at once (a flood cannot use up descriptors). */
const MAX_UNAUTHENTICATED = 256;
/** TCP keepalive, so that connections of peers that vanished without a FIN do not stay forever. */
const KEEPALIVE_MS = 30_000;

/**
 * The data-plane listener of one process.
 *
 * @example
 * const dp = await DataPlaneServer.listen({ host: '127.0.0.1', token, store, log });
 * host.add(transferService(() => dp.port));   // peers learn the port over gRPC
 * await dp.close();
 */
export class DataPlaneServer {
  private readonly sockets = new Set<net.Socket>();
  private unauthenticated = 0;
  private closed = false;

  private constructor(
    private readonly server: net.Server,
    private readonly o: Required<Omit<DataPlaneServerOptions, 'port'>>,
  ) {}

  /**
   * Binds `host:port` and starts serving.
   * @throws ConnectionError when the address cannot be bound.
   */
  static async listen(opts: DataPlaneServerOptions): Promise<DataPlaneServer> {
    const o = {
      host: opts.host,
      token: opts.token,
      store: opts.store,
      log: opts.log,
      helloTimeoutMs: opts.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS,
      writeChunkBytes: opts.writeChunkBytes ?? DEFAULT_WRITE_CHUNK_BYTES,
    };
    let dp!: DataPlaneServer;
    const server = createStreamServer(
      (s) => dp.accept(s),
      (e) => o.log.debug({ err: e.message }, 'data plane refused a peer that did not complete TLS'),
    );
    dp = new DataPlaneServer(server, o);
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) =>
        reject(
          new ConnectionError(`Cannot listen for object transfers on ${opts.host}:${opts.port ?? 0}: ${e.message}.`, {
            cause: e,
            hint: 'Check the bind address, or set RAYTS_DATA_PLANE=0 to move objects over gRPC only.',
          }),
        ),
      );
      server.listen(opts.port ?? 0, opts.host, () => resolve());
    });
    server.on('error', (e) => o.log.warn({ err: e.message }, 'data plane listener error'));
    o.log.info({ host: opts.host, port: dp.port }, 'object data plane listening');
    return dp;
  }

  /** The bound port. */
  get port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  /** Connections open now (for tests and stats). */
  get connections(): number {
    return this.sockets.size;
  }

  /** Stops listening and closes every connection (transfers in flight break; their pins are released). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(s: net.Socket): void {
    if (this.closed || this.unauthenticated >= MAX_UNAUTHENTICATED) {
      s.destroy();
      return;
    }
    this.sockets.add(s);
    this.unauthenticated++;
    s.setKeepAlive(true, KEEPALIVE_MS);
    const peer = `${s.remoteAddress}:${s.remotePort}`;
    const log = this.o.log;
    const reader = new FrameReader();
    let authed = false;
    let ending = false;
    let queued = 0;
    let chain: Promise<void> = Promise.resolve();
    const helloTimer = setTimeout(() => fail(DataPlaneErrorCode.BAD_FRAME, `no HELLO within ${this.o.helloTimeoutMs} ms`), this.o.helloTimeoutMs);
    helloTimer.unref();
    s.on('error', (e) => log.debug({ peer, err: e.message }, 'data plane connection error'));
    s.on('close', () => {
      clearTimeout(helloTimer);
      this.sockets.delete(s);
      if (!authed) this.unauthenticated--;
    });
    const fail = (code: DataPlaneErrorCode, why: string): void => {
      if (ending) return;
      ending = true;
      log.debug({ peer, why }, 'data plane connection refused');
      try {
        s.end(encodeError(code, why));
      } catch {
        s.destroy();
      }
      // A peer that does not read its error must not hold the socket open.
      setTimeout(() => s.destroy(), 1000).unref();
    };
    s.on('data', (data: Buffer) => {
      if (ending) return;
      let frames;
      try {
        frames = reader.push(data);
      } catch (e) {
        fail(DataPlaneErrorCode.BAD_FRAME, (e as Error).message);
        return;
      }
      for (const f of frames) {
        if (ending) return;
        try {
          if (!authed) {
            if (f.type !== FrameType.HELLO) throw new FrameError(`first frame must be HELLO, got type ${f.type}`);
            const hello = decodeHello(f.payload);
            if (hello.version !== DATA_PLANE_VERSION) throw new FrameError(`protocol version ${hello.version} is not supported (this process speaks ${DATA_PLANE_VERSION})`);
            if (!this.tokenOk(hello.token)) {
              fail(DataPlaneErrorCode.AUTH, 'rayts: authentication failed: missing or wrong cluster token.');
              return;
            }
            authed = true;
            this.unauthenticated--;
            clearTimeout(helloTimer);
            s.write(encodeWelcome());
            continue;
          }
          if (f.type !== FrameType.PULL) throw new FrameError(`unexpected frame type ${f.type}`);
          const req = decodePull(f.payload);
          if (++queued > MAX_QUEUED_PULLS) throw new FrameError(`more than ${MAX_QUEUED_PULLS} PULLs queued on one connection`);
          chain = chain
            .then(() => this.serve(s, req.objectId, req.offset, peer))
            .catch((e: unknown) => {
              log.debug({ peer, objectId: req.objectId, err: (e as Error)?.message }, 'data plane pull failed');
              s.destroy();
            })
            .finally(() => queued--);
        } catch (e) {
          fail(DataPlaneErrorCode.BAD_FRAME, e instanceof FrameError ? e.message : `bad frame: ${(e as Error)?.message}`);
          return;
        }
      }
    });
  }

  private tokenOk(got: Buffer): boolean {
    const want = Buffer.from(this.o.token, 'utf8');
    return got.length === want.length && timingSafeEqual(got, want);
  }

  /** Streams one object (from `offset`) to `s`; the object stays pinned until the socket took every byte. */
  private async serve(s: net.Socket, objectId: string, offset: number, peer: string): Promise<void> {
    if (s.destroyed) return;
    let view;
    try {
      view = await this.o.store.getAsync(objectId);
    } catch (e) {
      // e.g. a spilled object that cannot be restored now: the puller may try another copy.
      s.write(encodeError(DataPlaneErrorCode.NOT_FOUND, `object ${objectId} cannot be read here now: ${(e as Error).message}`));
      return;
    }
    if (!view) {
      s.write(encodeError(DataPlaneErrorCode.NOT_FOUND, `object ${objectId} is not stored here`));
      return;
    }
    const release = once(() => view.release());
    const total = view.meta.sizeBytes;
    if (offset > total) {
      release();
      // Answer with an ERROR frame (the puller learns why), then close: the peer asked for bytes that do
      // not exist, so its view of the object is wrong.
      s.end(encodeError(DataPlaneErrorCode.BAD_FRAME, `PULL of ${shortId(objectId)} at offset ${offset} is beyond its ${total} bytes`));
      setTimeout(() => s.destroy(), 1000).unref();
      return;
    }
    const onClose = (): void => release();
    s.once('close', onClose);
    try {
      s.write(encodeObjectHeader(total, offset, JSON.stringify(view.meta)));
      const chunk = this.o.writeChunkBytes;
      const data = view.data;
      let pos = offset;
      while (pos < total) {
        if (s.destroyed) return;
        const end = Math.min(total, pos + chunk);
        // A view of the pinned object: the socket writes from shared memory without a copy.
        if (end === total) s.write(data.subarray(pos, end), () => release());
        else s.write(data.subarray(pos, end));
        pos = end;
        if (s.writableLength > chunk && pos < total) await drainOrClose(s);
      }
      if (offset === total) release();
      objectServedBytes.inc({ transport: 'data_plane' }, total - offset);
      this.o.log.debug({ peer, objectId, bytes: total - offset }, 'data plane served an object');
    } finally {
      s.off('close', onClose);
      // Released by the last write's callback, or here when the socket went away first.
      if (s.destroyed) release();
    }
  }
}

/** The TransferService implementation: tells peers where this process's data plane listens (0: none). */
export function transferService(port: () => number): HostedService {
  const impl = {
    dataPlane: async (_call: unknown): Promise<rayts.IDataPlaneInfo> => ({ port: port(), version: DATA_PLANE_VERSION }),
  };
  return { definition: transferServiceDefinition, implementation: impl as unknown as HostedService['implementation'] };
}

function drainOrClose(s: net.Socket): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      s.off('drain', done);
      s.off('close', done);
      resolve();
    };
    s.on('drain', done);
    s.on('close', done);
  });
}

function once(f: () => void): () => void {
  let called = false;
  return () => {
    if (called) return;
    called = true;
    f();
  };
}
