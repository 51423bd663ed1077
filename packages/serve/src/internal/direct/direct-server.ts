/**
 * DirectServer: the replica thread's end of the direct path. A TCP listener on loopback that runs HTTP
 * requests and method calls on the replica's runtime for callers on the same machine (the proxy, driver
 * handles, other replicas), without the core's actor-call hops (caller thread → node bridge → task
 * stream → actor host → replica thread, and the object store for the reply).
 *
 * Responsible for: checking each connection's secret, answering requests in any order as they finish,
 * coalescing the replies of one event-loop turn into one write, and holding replies that are not plain
 * values (and thrown errors) until the caller takes them through the core (`take`), so they keep the
 * core's codec, error types and reference bookkeeping. Not responsible for: admission or queueing
 * (callers' routers enforce maxOngoingRequests), streaming (generators go through the core).
 */
import net from 'node:net';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { encodeFrames, FrameReader, FrameType, isPlainValue, machineKey, MAX_FRAME_BYTES, ReplyStatus, RequestKind, type DirectEndpoint } from './direct-wire.js';
import type { CallMeta, HttpRequestData, HttpResponseData } from '../spec.js';

/** What the server runs requests on (the replica runtime). */
export interface DirectTarget {
  http(req: HttpRequestData, meta: CallMeta): Promise<HttpResponseData>;
  call(method: string, meta: CallMeta, args: unknown[]): Promise<unknown>;
}

/** A held reply is dropped when nobody took it by then (its caller died). */
const HOLD_MS = 60_000;
const HELLO_TIMEOUT_MS = 10_000;

export class DirectServer {
  private readonly server: net.Server;
  private readonly secret = randomBytes(18).toString('base64url');
  private readonly held = new Map<number, { ok: boolean; value: unknown; timer: NodeJS.Timeout }>();
  private nextHold = 1;
  private readonly sockets = new Set<net.Socket>();
  /** Requests this server ran (HTTP and method calls). */
  served = 0;

  private constructor(
    private readonly target: DirectTarget,
    private readonly replicaId: string,
  ) {
    this.server = net.createServer((s) => this.accept(s));
    this.server.unref();
  }

  /** Listens on loopback; resolves with the endpoint callers use. */
  static async start(target: DirectTarget, replicaId: string, host = '127.0.0.1'): Promise<{ server: DirectServer; endpoint: DirectEndpoint }> {
    const ds = new DirectServer(target, replicaId);
    await new Promise<void>((resolve, reject) => {
      ds.server.once('error', reject);
      ds.server.listen(0, host, () => {
        ds.server.off('error', reject);
        resolve();
      });
    });
    const a = ds.server.address() as net.AddressInfo;
    return { server: ds, endpoint: { host, port: a.port, hostKey: machineKey(), secret: ds.secret } };
  }

  /** The reply held under `id` (a thrown error is thrown again); each is taken once. */
  take(id: number): unknown {
    const h = this.held.get(id);
    if (!h) throw new Error(`No held reply ${id} on replica ${this.replicaId} (taken already, or dropped after ${HOLD_MS / 1000} s).`);
    this.held.delete(id);
    clearTimeout(h.timer);
    if (!h.ok) throw h.value;
    return h.value;
  }

  close(): void {
    this.server.close();
    for (const s of this.sockets) s.destroy();
  }

  private secretMatches(given: unknown): boolean {
    if (typeof given !== 'string') return false;
    const a = Buffer.from(given);
    const b = Buffer.from(this.secret);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private hold(ok: boolean, value: unknown): number {
    const id = this.nextHold++;
    const timer = setTimeout(() => this.held.delete(id), HOLD_MS);
    timer.unref();
    this.held.set(id, { ok, value, timer });
    return id;
  }

  private accept(s: net.Socket): void {
    s.setNoDelay(true);
    this.sockets.add(s);
    const reader = new FrameReader();
    // Before the HELLO is checked a peer may send only a small frame.
    reader.maxFrameBytes = 4096;
    let authed = false;
    let out: unknown[] = [];
    let flushing = false;
    const send = (m: unknown): void => {
      out.push(m);
      if (flushing) return;
      flushing = true;
      setImmediate(() => {
        flushing = false;
        const msgs = out;
        out = [];
        if (!s.destroyed) s.write(encodeFrames(msgs));
      });
    };
    const helloTimer = setTimeout(() => s.destroy(), HELLO_TIMEOUT_MS);
    helloTimer.unref();
    s.on('close', () => {
      clearTimeout(helloTimer);
      this.sockets.delete(s);
    });
    s.on('error', () => s.destroy());
    s.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk, (f) => {
          if (!authed) {
            if (f[0] !== FrameType.hello || !this.secretMatches(f[1]) || f[2] !== this.replicaId) {
              s.end(encodeFrames([[FrameType.welcome, false, this.replicaId]]));
              return;
            }
            authed = true;
            reader.maxFrameBytes = MAX_FRAME_BYTES;
            clearTimeout(helloTimer);
            send([FrameType.welcome, true, this.replicaId]);
            return;
          }
          if (f[0] !== FrameType.request) throw new TypeError(`unexpected frame type ${String(f[0])}`);
          this.run(f, send);
        });
      } catch {
        // A peer that sends what this protocol does not say gets its connection closed, nothing else.
        s.destroy();
      }
    });
  }

  private run(f: unknown[], send: (m: unknown) => void): void {
    const [, id, kind, method, requestId, payload] = f as [number, number, number, string | null, string, unknown];
    const meta: CallMeta = { requestId: String(requestId) };
    this.served++;
    const p = kind === RequestKind.http ? this.target.http(payload as HttpRequestData, meta) : this.target.call(String(method), meta, Array.isArray(payload) ? payload : []);
    p.then(
      (v) => send(isPlainValue(v) ? [FrameType.reply, id, ReplyStatus.value, v] : [FrameType.reply, id, ReplyStatus.held, this.hold(true, v)]),
      (e: unknown) => send([FrameType.reply, id, ReplyStatus.held, this.hold(false, e)]),
    );
  }
}
