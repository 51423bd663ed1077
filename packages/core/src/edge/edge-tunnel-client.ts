/**
 * EdgeTunnelClient: the edge agent's one outbound HeadService.EdgeTunnel. Responsible for keeping the
 * tunnel up (reconnect with exponential backoff and jitter, resuming sub-streams by sequence number, see
 * tunnel-frames.ts) and for presenting each sub-stream the head opens to the node's ordinary gRPC
 * handlers as a call object ({@link TunnelCall}: request, 'data'/'end'/'cancelled' events, write, end,
 * emit('error') to fail it, 'drain' for flow control) — so the node daemon runs relayed calls with the
 * same code as direct ones.
 *
 * Not responsible for registration or heartbeats (the node daemon's own head connection does those).
 */
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { isRayError, type Logger } from '@samsara/ray-common';
import type { rayts } from '@samsara/ray-proto';
import { HeadClient, CHANNEL_OPTIONS, pb } from '../rpc/services.js';
import { authMetadata, fromGrpcError } from '../rpc/auth.js';
import { Inbox, Outbox, TUNNEL_MAX_UNACKED_BYTES, TUNNEL_WINDOW_BYTES, backoffMs, type OutFrame } from './tunnel-frames.js';
import { channelCredentials } from '../rpc/tls.js';
import { probeTlsPeer, tlsMismatchError } from '../rpc/tls-diagnosis.js';

type MethodDef = grpc.MethodDefinition<unknown, unknown>;
type Handler = (call: never, ...rest: never[]) => unknown;

export interface EdgeTunnelOptions {
  readonly headAddress: string;
  readonly token: string;
  readonly edgeId: string;
  /** Method definitions by name (NodeService and OwnerService). */
  readonly methods: Record<string, MethodDef>;
  /** The node's handlers by method name, as a gRPC server would call them. */
  readonly handlers: Record<string, Handler>;
  readonly log: Logger;
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  readonly random?: () => number;
  /** Called on every (re)connect with the address submitters use for this node. */
  readonly onWelcome?: (address: string) => void;
}

/** A relayed call as the node's handlers see it: the subset of a grpc-js server call they use. */
export class TunnelCall extends EventEmitter {
  request: unknown;
  readonly metadata = new grpc.Metadata();
  cancelled = false;
  readonly out = new Outbox();
  readonly in = new Inbox();
  finished = false;
  private blocked = false;

  constructor(
    readonly id: number,
    readonly method: MethodDef,
    private readonly tunnel: EdgeTunnelClient,
  ) {
    super();
  }

  /** Sends one response message; false asks the writer to wait for 'drain'. */
  write(msg: unknown): boolean {
    if (this.finished || this.cancelled) return false;
    this.tunnel.send(this, { kind: 'data', data: this.method.responseSerialize(msg) });
    if (this.out.unackedBytes >= TUNNEL_WINDOW_BYTES) this.blocked = true;
    return !this.blocked;
  }

  end(): void {
    if (this.finished || this.cancelled) return;
    this.finished = true;
    this.tunnel.send(this, { kind: 'end' });
  }

  /** `emit('error', { code, details })` from a handler fails the call, as on a grpc-js server call. */
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event !== 'error') return super.emit(event, ...args);
    if (this.finished || this.cancelled) return true;
    const e = args[0] as { code?: number; details?: string; message?: string } | undefined;
    this.finished = true;
    this.tunnel.send(this, { kind: 'error', code: e?.code ?? grpc.status.INTERNAL, details: e?.details ?? e?.message ?? 'error' });
    return true;
  }

  getPeer(): string {
    return 'edge-tunnel';
  }

  /** Acknowledgement from the head: frees window, and completes a finished call. */
  acked(seq: number): void {
    this.out.ack(seq);
    if (this.blocked && this.out.unackedBytes < TUNNEL_WINDOW_BYTES / 2) {
      this.blocked = false;
      super.emit('drain');
    }
  }

  /** The head dropped the call (its caller went away, or it was lost). */
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    super.emit('cancelled');
  }
}

export class EdgeTunnelClient {
  private readonly client: grpc.Client;
  private stream: grpc.ClientDuplexStream<rayts.EdgeUp, rayts.EdgeDown> | undefined;
  private readonly calls = new Map<number, TunnelCall>();
  private attempt = 0;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private ackTimer: NodeJS.Timeout | undefined;
  private address = '';
  private firstWelcome: { resolve: (a: string) => void; reject: (e: Error) => void; promise: Promise<string> };
  private welcomedOnce = false;

  constructor(private readonly o: EdgeTunnelOptions) {
    this.client = new HeadClient(o.headAddress, channelCredentials(), CHANNEL_OPTIONS);
    let resolve!: (a: string) => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<string>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.firstWelcome = { resolve, reject, promise };
  }

  /**
   * Connects (retrying while the head is unreachable) and resolves with this node's address once
   * welcomed. Rejects with AuthenticationError when the head refuses the token.
   */
  start(): Promise<string> {
    this.connect();
    return this.firstWelcome.promise;
  }

  get connected(): boolean {
    return !!this.stream && !!this.address;
  }

  private connect(): void {
    if (this.closed) return;
    const s = (this.client as unknown as { edgeTunnel(md: grpc.Metadata): grpc.ClientDuplexStream<rayts.EdgeUp, rayts.EdgeDown> }).edgeTunnel(
      authMetadata(this.o.token),
    );
    this.stream = s;
    let welcomed = false;
    s.on('data', (d: rayts.EdgeDown) => {
      try {
        if (d.kind === 'welcome') {
          welcomed = true;
          this.welcome(d);
        } else if (welcomed) this.fromHead(d);
      } catch (e) {
        this.o.log.warn({ err: (e as Error).message }, 'bad edge tunnel frame');
      }
    });
    const broke = (why: string) => {
      if (this.stream !== s) return;
      this.stream = undefined;
      this.address = '';
      if (this.closed) return;
      const delay = backoffMs(this.attempt++, this.o.backoff?.initialMs ?? 200, this.o.backoff?.maxMs ?? 10_000, this.o.random);
      this.o.log.warn({ why, retryInMs: delay }, 'edge tunnel down; reconnecting');
      this.timer = setTimeout(() => this.connect(), delay);
    };
    s.on('error', (e: grpc.ServiceError) => {
      if (e.code === grpc.status.UNAUTHENTICATED && !this.welcomedOnce) {
        this.firstWelcome.reject(fromGrpcError(e, 'EdgeTunnel', this.o.headAddress));
        this.close();
        return;
      }
      if (e.code === grpc.status.UNAVAILABLE && !this.welcomedOnce) {
        // TLS on one side only never heals by retrying: say so instead of reconnecting forever.
        const head = this.o.headAddress;
        const mismatch = tlsMismatchError(head, String(e.details ?? ''));
        void (mismatch ? Promise.resolve(mismatch) : probeTlsPeer(head)).then((err) => {
          if (!err || this.welcomedOnce) return;
          this.firstWelcome.reject(err);
          this.close();
        });
      }
      broke(e.message);
    });
    s.on('end', () => broke('ended by the head'));
    s.write(pb.EdgeUp.create({ kind: 'hello', edgeId: this.o.edgeId, streams: [...this.calls.keys()] }));
  }

  private welcome(d: rayts.EdgeDown): void {
    this.attempt = 0;
    this.address = d.address;
    const held = new Set(d.streams);
    for (const c of [...this.calls.values()]) {
      if (!held.has(c.id)) {
        this.calls.delete(c.id);
        c.cancel();
        continue;
      }
      if (c.in.delivered) this.write({ kind: 'ack', stream: c.id, ack: c.in.delivered });
      for (const f of c.out.pending()) this.writeFrame(c.id, f);
    }
    this.o.log.info({ address: d.address, resumedStreams: this.calls.size }, 'edge tunnel connected');
    this.welcomedOnce = true;
    this.o.onWelcome?.(d.address);
    this.firstWelcome.resolve(d.address);
  }

  private fromHead(d: rayts.EdgeDown): void {
    if (d.kind === 'open' && !this.calls.has(d.stream)) {
      if (d.seq !== 1) return;
      this.open(d);
      return;
    }
    const c = this.calls.get(d.stream);
    if (!c) return;
    switch (d.kind) {
      case 'ack':
        c.acked(d.ack);
        if (c.finished && c.out.empty) this.calls.delete(c.id);
        return;
      case 'cancel':
        this.calls.delete(c.id);
        c.cancel();
        return;
    }
    const verdict = c.in.accept(d.seq);
    if (verdict === 'dup') return;
    if (verdict === 'gap') {
      this.calls.delete(c.id);
      c.cancel();
      return;
    }
    this.scheduleAck();
    if (d.kind === 'data') c.emit('data', c.method.requestDeserialize(Buffer.from(d.data)));
    else if (d.kind === 'end') c.emit('end');
  }

  private open(d: rayts.EdgeDown): void {
    const m = this.o.methods[d.method];
    const h = this.o.handlers[d.method];
    const c = new TunnelCall(d.stream, m ?? ({} as MethodDef), this);
    this.calls.set(c.id, c);
    c.in.accept(1);
    this.scheduleAck();
    if (!m || !h) {
      c.emit('error', { code: grpc.status.UNIMPLEMENTED, details: `edge node does not serve ${d.method}` });
      return;
    }
    try {
      if (!m.requestStream) c.request = m.requestDeserialize(Buffer.from(d.data));
      const r = (h as unknown as (call: TunnelCall) => unknown)(c);
      if (!m.requestStream && !m.responseStream) {
        Promise.resolve(r).then(
          (v) => {
            c.write(v ?? {});
            c.end();
          },
          (e) => c.emit('error', statusOf(e)),
        );
      } else if (r && typeof (r as Promise<unknown>).then === 'function') {
        (r as Promise<unknown>).catch((e) => c.emit('error', statusOf(e)));
      }
    } catch (e) {
      c.emit('error', statusOf(e));
    }
  }

  /** Queues a sequenced frame of `c` and writes it when connected. */
  send(c: TunnelCall, f: Omit<OutFrame, 'seq'>): void {
    const frame = c.out.push(f);
    if (c.out.unackedBytes > TUNNEL_MAX_UNACKED_BYTES) {
      // Bounded memory while disconnected: give the call up (its caller sees it fail and retries).
      this.o.log.warn({ stream: c.id }, 'edge tunnel backlog over limit; dropping the call');
      this.calls.delete(c.id);
      c.cancel();
      return;
    }
    this.writeFrame(c.id, frame);
  }

  private writeFrame(stream: number, f: OutFrame): void {
    this.write({ kind: f.kind, stream, seq: f.seq, data: f.data, code: f.code ?? 0, details: f.details ?? '' });
  }

  private write(up: rayts.IEdgeUp): void {
    if (!this.stream || !this.address) return;
    try {
      this.stream.write(pb.EdgeUp.create(up));
    } catch (e) {
      this.o.log.debug({ err: (e as Error).message }, 'edge tunnel write failed');
    }
  }

  private scheduleAck(): void {
    if (this.ackTimer) return;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = undefined;
      for (const c of this.calls.values()) {
        if (!c.in.ackDue) continue;
        c.in.acked = c.in.delivered;
        this.write({ kind: 'ack', stream: c.id, ack: c.in.delivered });
      }
    }, 20);
    this.ackTimer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.ackTimer) clearTimeout(this.ackTimer);
    for (const c of this.calls.values()) c.cancel();
    this.calls.clear();
    try {
      this.stream?.end();
    } catch {
      /* already gone */
    }
    this.stream = undefined;
    this.client.close();
  }
}

function statusOf(e: unknown): { code: number; details: string } {
  if (isRayError(e) && e.code === 'INVALID_ARGUMENT') return { code: grpc.status.INVALID_ARGUMENT, details: e.message };
  if (isRayError(e)) return { code: grpc.status.FAILED_PRECONDITION, details: `${e.code}: ${e.message}` };
  return { code: grpc.status.INTERNAL, details: `internal error: ${(e as Error)?.message ?? String(e)}` };
}
