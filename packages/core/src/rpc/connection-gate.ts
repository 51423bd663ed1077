/**
 * ConnectionGate: bounds the connections of one listener that have not authenticated yet.
 *
 * Responsible for: accepting TCP connections for the gRPC server (handed on through grpc-js's connection
 * injector), holding at most `maxUnauthenticated` of them that have not yet made a call with the cluster
 * token — a new one beyond that evicts the oldest unauthenticated one, so a flood of idle sockets cycles
 * through the bound while a real peer, which authenticates within milliseconds of connecting, gets in —
 * and closing each one that has not authenticated within `authTimeoutMs`. Authenticated connections
 * are the server's (idle ones end through `grpc.max_connection_idle_ms`). Not responsible for checking
 * tokens (auth.ts's guard does, and tells the gate through {@link ConnectionGate.authenticated}).
 *
 * Issue 13 A: before it, 1,100 idle sockets made a head under `ulimit -n 1024` run out of descriptors.
 */
import type * as net from 'node:net';

export interface ConnectionGateOptions {
  /** Unauthenticated connections held at once [256]. */
  readonly maxUnauthenticated?: number;
  /** Time a connection has to make its first authenticated call [10 s]. */
  readonly authTimeoutMs?: number;
}

interface Pending {
  readonly socket: net.Socket;
  readonly timer: NodeJS.Timeout;
}

/** The key grpc-js's `call.getPeer()` gives for a connection. */
export function peerKey(s: { remoteAddress?: string; remotePort?: number }): string {
  return s.remotePort ? `${s.remoteAddress}:${s.remotePort}` : `${s.remoteAddress}`;
}

export class ConnectionGate {
  /** Insertion order is age order: the first entry is the oldest. */
  private readonly pending = new Map<string, Pending>();
  private readonly maxUnauthenticated: number;
  private readonly authTimeoutMs: number;
  /** Connections closed for not authenticating in time or to make room (for tests and logs). */
  evicted = 0;

  constructor(opts: ConnectionGateOptions = {}) {
    this.maxUnauthenticated = opts.maxUnauthenticated ?? Number(process.env.RAYTS_MAX_UNAUTHENTICATED ?? 256);
    this.authTimeoutMs = opts.authTimeoutMs ?? Number(process.env.RAYTS_AUTH_TIMEOUT_MS ?? 10_000);
  }

  /** Takes a new connection; returns false when it was closed at once. */
  admit(s: net.Socket): boolean {
    const key = peerKey(s);
    if (!s.remoteAddress) {
      s.destroy();
      return false;
    }
    while (this.pending.size >= this.maxUnauthenticated) {
      const [oldest, p] = this.pending.entries().next().value as [string, Pending];
      this.drop(oldest, p);
    }
    const timer = setTimeout(() => {
      const p = this.pending.get(key);
      if (p && p.socket === s) this.drop(key, p);
    }, this.authTimeoutMs);
    timer.unref();
    this.pending.set(key, { socket: s, timer });
    s.once('close', () => {
      const p = this.pending.get(key);
      if (p && p.socket === s) {
        clearTimeout(p.timer);
        this.pending.delete(key);
      }
    });
    return true;
  }

  /** A call with the right token arrived from `peer` (`call.getPeer()`): its connection stays. */
  authenticated(peer: string): void {
    const p = this.pending.get(peer);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(peer);
  }

  get unauthenticated(): number {
    return this.pending.size;
  }

  close(): void {
    for (const [k, p] of this.pending) this.drop(k, p);
  }

  private drop(key: string, p: Pending): void {
    clearTimeout(p.timer);
    this.pending.delete(key);
    this.evicted++;
    p.socket.destroy();
  }
}
