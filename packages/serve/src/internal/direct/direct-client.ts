/**
 * DirectClient: the caller's end of the direct path (see direct-server.ts). One connection per replica
 * endpoint in this process, opened on first use; the requests of one event-loop turn go out in one
 * write and replies come back in any order.
 *
 * Responsible for: the HELLO exchange (offering a LocalLink, see local-link.ts, used once the replica
 * greets on it), matching replies to requests whichever lane they come on, and telling the two failures
 * apart — a connection that could not be set up (nothing was sent: {@link DirectUnavailableError}, the
 * caller uses the core's actor call instead and this endpoint is not tried again) versus a connection
 * that broke with requests in flight (the replica is gone: ActorDiedError, which the routers treat like
 * a dead actor). Not responsible for: choosing replicas, retries, taking held replies (callers do that
 * through the core).
 */
import net from 'node:net';
import { ActorDiedError } from '@samsara/ray';
import { encodeFrames, FrameReader, FrameType, machineKey, ReplyStatus, RequestKind, type DirectEndpoint } from './direct-wire.js';
import { LocalLink, newLinkId, processKey } from './local-link.js';
import type { HttpRequestData } from '../spec.js';

/** What a direct request answered: a value, or the id of a reply held on the replica (take it through the core). */
export type DirectReply = { readonly held: false; readonly value: unknown } | { readonly held: true; readonly holdId: number };

/** The direct path cannot be used for this replica (nothing was sent): use the core's actor call. */
export class DirectUnavailableError extends Error {}

/** How long connecting plus HELLO may take before the endpoint counts as unreachable. */
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * How a request's outcome is delivered: `err` set (DirectUnavailableError or ActorDiedError), else
 * `held` says whether `value` is the reply or the id of a reply held on the replica. A callback, not a
 * promise: the proxy's per-request path makes no promises (each costs the thread's async hooks).
 */
export type DirectCallback = (err: Error | undefined, held: boolean, value: unknown) => void;

/** Calls a request's callback; what it throws is its caller's bug and must not break the connection. */
function deliver(cb: DirectCallback, err: Error | undefined, held: boolean, value: unknown): void {
  try {
    cb(err, held, value);
  } catch (e) {
    process.emitWarning(`A direct-path reply callback threw: ${(e as Error)?.stack ?? String(e)}`, 'RaytsServeWarning');
  }
}

class DirectConnection {
  private readonly socket: net.Socket;
  private readonly pending = new Map<number, DirectCallback>();
  /** Whether the socket keeps the event loop alive (only while requests are in flight). */
  private refed = false;
  private nextId = 1;
  private out: unknown[] = [];
  private flushing = false;
  private ready = false;
  private dead: Error | undefined;
  /** The in-process lane, offered in the HELLO when the replica may be a thread of this process. */
  private link: LocalLink | undefined;
  /** True once the replica greeted on the link: requests whose values a clone keeps go on it. */
  private linked = false;

  constructor(
    private readonly ep: DirectEndpoint,
    private readonly replicaId: string,
    private readonly onDead: () => void,
    offerLink: boolean,
  ) {
    const s = net.connect({ host: ep.host, port: ep.port });
    this.socket = s;
    s.setNoDelay(true);
    s.unref();
    const timer = setTimeout(() => this.fail(new DirectUnavailableError(`no answer from ${ep.host}:${ep.port} within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
    timer.unref();
    const reader = new FrameReader();
    // Opened before the HELLO goes: the replica greets on it as soon as it reads the HELLO.
    const linkId = offerLink ? newLinkId() : '';
    if (offerLink) {
      this.link = new LocalLink(linkId, (f) => {
        if (f[0] === FrameType.welcome) {
          this.linked = f[1] === true && f[2] === replicaId;
          return;
        }
        if (f[0] === FrameType.reply) this.onReply(f[1] as number, f[2] === ReplyStatus.held, f[3]);
        else if (f[0] === FrameType.httpReply) this.onReply(f[1] as number, false, f[2]);
      });
    }
    s.on('connect', () => s.write(encodeFrames([offerLink ? [FrameType.hello, ep.secret, replicaId, processKey(), linkId] : [FrameType.hello, ep.secret, replicaId]])));
    s.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk, (f) => {
          if (f[0] === FrameType.welcome) {
            clearTimeout(timer);
            if (f[1] !== true || f[2] !== replicaId) throw new DirectUnavailableError(`${ep.host}:${ep.port} is not replica ${replicaId}`);
            this.ready = true;
            this.flush();
            return;
          }
          if (f[0] !== FrameType.reply) throw new TypeError(`unexpected frame type ${String(f[0])}`);
          this.onReply(f[1] as number, f[2] === ReplyStatus.held, f[3]);
        });
      } catch (e) {
        clearTimeout(timer);
        this.fail(e instanceof DirectUnavailableError ? e : new Error(`bad frame from replica ${replicaId}: ${(e as Error).message}`));
      }
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      this.fail(e);
    });
    s.on('close', () => {
      clearTimeout(timer);
      this.fail(new Error('connection closed'));
    });
  }

  get usable(): boolean {
    return !this.dead;
  }

  /** A reply, from either lane, to the request it answers. */
  private onReply(id: number, held: boolean, value: unknown): void {
    const cb = this.pending.get(id);
    if (!cb) return;
    this.pending.delete(id);
    if (this.pending.size === 0 && this.refed) {
      this.refed = false;
      this.socket.unref();
    }
    deliver(cb, undefined, held, value);
  }

  /**
   * Sends one request; `cb` gets its outcome. The requests of one event-loop turn go out in one write,
   * flushed from setImmediate: that runs right after the turn's I/O callbacks, so a lone request waits
   * for nothing, and under load a turn's requests share one syscall (writing the first one at once
   * would cost a second write per turn: each loopback write also runs the receiver's TCP path). On the
   * LocalLink a request goes at once: a message wakes only the replica's thread.
   *
   * `cloneSafe`: a structured clone keeps the payload as it is (no Node Buffer in it), so it may take
   * the LocalLink.
   */
  send(kind: number, method: string | null, requestId: string, payload: unknown, cb: DirectCallback, cloneSafe = true): void {
    if (this.dead) {
      const e = this.goneError(this.dead);
      process.nextTick(cb, e, false, undefined);
      return;
    }
    const id = this.nextId++;
    this.pending.set(id, cb);
    if (!this.refed) {
      // The socket keeps the thread alive while requests are in flight, whichever lane they took: its
      // close is also how a reply that will never come on the link is noticed.
      this.refed = true;
      this.socket.ref();
    }
    const msg = [FrameType.request, id, kind, method, requestId, payload];
    if (this.linked && cloneSafe && this.link!.post(msg)) return;
    this.out.push(msg);
    if (!this.ready || this.flushing) return;
    this.flushing = true;
    setImmediate(this.flushNow);
  }

  request(kind: number, method: string | null, requestId: string, payload: unknown, cloneSafe = true): Promise<DirectReply> {
    return new Promise<DirectReply>((resolve, reject) => {
      this.send(
        kind,
        method,
        requestId,
        payload,
        (err, held, value) => {
          if (err) reject(err);
          else resolve(held ? { held: true, holdId: value as number } : { held: false, value });
        },
        cloneSafe,
      );
    });
  }

  private readonly flushNow = (): void => this.flush();

  private flush(): void {
    this.flushing = false;
    if (!this.ready || this.dead || this.out.length === 0) return;
    const msgs = this.out;
    this.out = [];
    this.socket.write(encodeFrames(msgs));
  }

  private goneError(cause: Error): ActorDiedError {
    return new ActorDiedError(`Replica ${this.replicaId} is gone: its direct connection broke with requests in flight (${cause.message}).`, {
      cause,
      hint: 'The controller replaces it; idempotent HTTP requests are retried once on another replica.',
      ids: { replicaId: this.replicaId },
    });
  }

  private fail(e: unknown): void {
    if (this.dead) return;
    const err = e instanceof Error ? e : new Error(String(e));
    this.dead = err;
    this.onDead();
    this.socket.destroy();
    this.link?.close();
    // Before the WELCOME nothing reached the replica: the caller may send the same requests through the core.
    const notSent = !this.ready;
    const cbs = [...this.pending.values()];
    this.pending.clear();
    for (const cb of cbs) deliver(cb, notSent ? new DirectUnavailableError(`Replica ${this.replicaId} cannot be reached directly: ${err.message}`) : this.goneError(err), false, undefined);
  }
}

/** The direct connections of this process, by replica. */
export class DirectClient {
  private static current: DirectClient | undefined;
  static get(): DirectClient {
    return (DirectClient.current ??= new DirectClient());
  }

  /** Off with RAYTS_SERVE_DIRECT=0: every request takes the core's actor call. */
  readonly enabled = process.env.RAYTS_SERVE_DIRECT !== '0';
  /**
   * Offer a LocalLink to replicas that may be threads of this process (off with
   * RAYTS_SERVE_DIRECT_LOCAL=0: loopback TCP only). Applies to connections opened after a change.
   */
  localLinks = process.env.RAYTS_SERVE_DIRECT_LOCAL !== '0';
  private readonly conns = new Map<string, DirectConnection>();
  /** Replicas whose endpoint could not be reached (another machine, a firewall): not tried again. */
  private readonly unreachable = new Set<string>();

  /** True when requests to this replica may go direct (same machine, not known unreachable). */
  usable(replicaId: string, ep: DirectEndpoint | undefined): ep is DirectEndpoint {
    return this.enabled && ep !== undefined && ep.hostKey === machineKey() && !this.unreachable.has(replicaId);
  }

  http(replicaId: string, ep: DirectEndpoint, req: HttpRequestData, requestId: string): Promise<DirectReply> {
    return this.conn(replicaId, ep).request(RequestKind.http, null, requestId, req);
  }

  /** {@link http} with a callback instead of a promise (the proxy's per-request path). */
  sendHttp(replicaId: string, ep: DirectEndpoint, req: HttpRequestData, requestId: string, cb: DirectCallback): void {
    this.conn(replicaId, ep).send(RequestKind.http, null, requestId, req, cb);
  }

  /** {@link call} with a callback instead of a promise. */
  sendCall(replicaId: string, ep: DirectEndpoint, method: string, args: unknown[], requestId: string, cb: DirectCallback, cloneSafe = true): void {
    this.conn(replicaId, ep).send(RequestKind.call, method, requestId, args, cb, cloneSafe);
  }

  call(replicaId: string, ep: DirectEndpoint, method: string, args: unknown[], requestId: string, cloneSafe = true): Promise<DirectReply> {
    return this.conn(replicaId, ep).request(RequestKind.call, method, requestId, args, cloneSafe);
  }

  private conn(replicaId: string, ep: DirectEndpoint): DirectConnection {
    let c = this.conns.get(replicaId);
    if (c && c.usable) return c;
    const made: DirectConnection = new DirectConnection(
      ep,
      replicaId,
      () => {
        if (this.conns.get(replicaId) === made) this.conns.delete(replicaId);
      },
      this.localLinks && ep.processKey === processKey(),
    );
    c = made;
    this.conns.set(replicaId, c);
    return c;
  }

  /** Called when a connection could not be set up: later requests to this replica use the core. */
  markUnreachable(replicaId: string): void {
    this.unreachable.add(replicaId);
  }
}
