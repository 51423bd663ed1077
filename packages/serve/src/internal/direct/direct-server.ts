/**
 * DirectServer: the replica thread's end of the direct path. A TCP listener on loopback that runs HTTP
 * requests and method calls on the replica's runtime for callers on the same machine (the proxy, driver
 * handles, other replicas), without the core's actor-call hops (caller thread → node bridge → task
 * stream → actor host → replica thread, and the object store for the reply).
 *
 * Responsible for: checking each connection's secret, opening the connection's LocalLink when the
 * caller is a thread of this process (local-link.ts; requests that come on it are answered on it),
 * answering requests in any order as they finish, coalescing the replies of one event-loop turn into
 * one write, and holding replies that are not plain
 * values (and thrown errors) until the caller takes them through the core (`take`), so they keep the
 * core's codec, error types and reference bookkeeping. Not responsible for: admission or queueing
 * (callers' routers enforce maxOngoingRequests), streaming (generators go through the core).
 */
import net from 'node:net';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { encodeFrames, FrameReader, FrameType, isHttpResponse, machineKey, MAX_FRAME_BYTES, Plain, plainKind, ReplyStatus, RequestKind, type DirectEndpoint } from './direct-wire.js';
import { LocalLink, processKey } from './local-link.js';
import type { CallMeta, HttpRequestData, HttpResponseData } from '../spec.js';

/** What the server runs requests on (the replica runtime). */
export interface DirectTarget {
  /** May answer synchronously (a fetch that returned a plain value at once). */
  http(req: HttpRequestData, meta: CallMeta): Promise<HttpResponseData> | HttpResponseData;
  /** May answer synchronously (a method that returned a plain value at once). */
  call(method: string, meta: CallMeta, args: unknown[]): Promise<unknown> | unknown;
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
  /** Of those, the requests that came on a LocalLink (callers in this process). */
  servedLocal = 0;

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
    return { server: ds, endpoint: { host, port: a.port, hostKey: machineKey(), secret: ds.secret, processKey: processKey() } };
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
    const flush = (): void => {
      flushing = false;
      const msgs = out;
      out = [];
      if (!s.destroyed && msgs.length > 0) s.write(encodeFrames(msgs));
    };
    // The replies made while a chunk of requests is read (synchronous answers) go out in one write after
    // it; replies that come later (awaited) are gathered per event-loop turn (setImmediate).
    const conn: Conn = {
      reading: false,
      send(m: unknown): void {
        out.push(m);
        if (flushing || conn.reading) return;
        flushing = true;
        setImmediate(flush);
      },
    };
    let link: LocalLink | undefined;
    const helloTimer = setTimeout(() => s.destroy(), HELLO_TIMEOUT_MS);
    helloTimer.unref();
    s.on('close', () => {
      clearTimeout(helloTimer);
      this.sockets.delete(s);
      link?.close();
    });
    s.on('error', () => s.destroy());
    s.on('data', (chunk: Buffer) => {
      // Replies made while this chunk's requests are read go out in one write after it.
      conn.reading = true;
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
            conn.send([FrameType.welcome, true, this.replicaId]);
            if (f[3] === processKey() && typeof f[4] === 'string' && f[4].length > 0) link = this.openLink(f[4], conn);
            return;
          }
          if (f[0] !== FrameType.request) throw new TypeError(`unexpected frame type ${String(f[0])}`);
          this.run(f, conn);
        });
      } catch {
        // A peer that sends what this protocol does not say gets its connection closed, nothing else.
        s.destroy();
      } finally {
        conn.reading = false;
      }
      if (out.length > 0 && !flushing) flush();
    });
  }

  /**
   * The in-process lane of one connection: requests that come on it are answered on it, except replies
   * holding a Buffer (TCP keeps them Buffers). The greeting on the link tells the caller it works.
   */
  private openLink(linkId: string, tcp: Conn): LocalLink {
    const local: Conn = {
      reading: false,
      local: true,
      send(m: unknown): void {
        if ((m as unknown[])[0] === FrameType.bufferReply || !link.post(m as unknown[])) tcp.send(m);
      },
    };
    const link: LocalLink = new LocalLink(linkId, (f) => {
      if (f[0] !== FrameType.request) return;
      this.servedLocal++;
      this.run(f, local);
    });
    link.post([FrameType.welcome, true, this.replicaId]);
    return link;
  }

  private run(f: unknown[], conn: Conn): void {
    const id = f[1] as number;
    const meta: CallMeta = { requestId: String(f[4]) };
    const payload = f[5];
    this.served++;
    let p: Promise<unknown> | unknown;
    try {
      p = f[2] === RequestKind.http ? this.target.http(payload as HttpRequestData, meta) : this.target.call(String(f[3]), meta, Array.isArray(payload) ? payload : []);
    } catch (e) {
      conn.send([FrameType.reply, id, ReplyStatus.held, this.hold(false, e)]);
      return;
    }
    // A reply ready at once (a synchronous fetch) goes without a promise turn.
    const http = f[2] === RequestKind.http;
    if (!(p instanceof Promise)) {
      conn.send(this.replyFrame(id, p, http, conn.local));
      return;
    }
    p.then(
      (v) => conn.send(this.replyFrame(id, v, http, conn.local)),
      (e: unknown) => conn.send([FrameType.reply, id, ReplyStatus.held, this.hold(false, e)]),
    );
  }

  private replyFrame(id: number, v: unknown, http: boolean, local: boolean | undefined): unknown[] {
    // An HTTP reply the wire can encode as it is (see direct-wire.ts) skips the plain-value walk. (Only
    // the proxy makes HTTP requests; a Buffer body reaching it as a Uint8Array over the link is the same.)
    if (http && isHttpResponse(v)) return [FrameType.httpReply, id, v];
    const kind = plainKind(v);
    if (kind === Plain.no) return [FrameType.reply, id, ReplyStatus.held, this.hold(true, v)];
    return local && kind === Plain.withBuffer ? [FrameType.bufferReply, id, v] : [FrameType.reply, id, ReplyStatus.value, v];
  }
}

/** One caller connection's reply queue (its TCP socket, or its LocalLink). */
interface Conn {
  /** True while a chunk of requests is being read (replies wait for its end). */
  reading: boolean;
  /** The LocalLink lane (replies holding a Buffer go to the TCP lane instead). */
  readonly local?: boolean;
  send(m: unknown): void;
}
