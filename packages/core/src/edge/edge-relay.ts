/**
 * EdgeRelay: the head's side of edge tunnels. Responsible for
 *  - accepting HeadService.EdgeTunnel from edge agents (one per agent, identified by its edge id),
 *  - passing NodeService/OwnerService calls that carry `rayts-edge-node: <edgeId>` into that tunnel as
 *    reliable sub-streams (tunnel-frames.ts), keeping them open across a tunnel outage until
 *    `holdMs` (the dead deadline) has passed, then failing them UNAVAILABLE,
 *  - proxying calls an edge agent sends with `rayts-relay-to: <address>` to that address (the agent can
 *    reach only the head).
 * Calls without either header are not its business: they go to this process's own node as usual.
 *
 * The head is on the task path only for edge nodes (they cannot be dialed); every other node is still
 * reached directly by submitters.
 */
import * as grpc from '@grpc/grpc-js';
import { InvalidArgumentError, RayError, type Logger } from '@samsara/ray-common';
import type { rayts } from '@samsara/ray-proto';
import { pb, nodeServiceDefinition, ownerServiceDefinition, CHANNEL_OPTIONS } from '../rpc/services.js';
import { authMetadata } from '../rpc/auth.js';
import type { HostedService } from '../rpc/server-host.js';
import { EDGE_NODE_HEADER, RELAY_TO_HEADER, edgeAddress, parseEdgeAddress } from './edge-address.js';
import { Inbox, Outbox, type OutFrame } from './tunnel-frames.js';
import { channelCredentials } from '../rpc/tls.js';

export interface EdgeRelayOptions {
  readonly token: string;
  /** This head's advertised address (known once it listens). */
  readonly headAddress: () => string;
  /** How long sub-streams wait for a lost tunnel to come back [the dead deadline]. */
  readonly holdMs: number;
  readonly log: Logger;
}

type AnyCall = grpc.ServerDuplexStream<unknown, unknown> & grpc.ServerUnaryCall<unknown, unknown>;
type MethodDef = grpc.MethodDefinition<unknown, unknown>;

/** One relayed call, as the head sees it. */
interface Relayed {
  readonly id: number;
  readonly out: Outbox;
  readonly in: Inbox;
  onData(bytes: Uint8Array): void;
  onEnd(): void;
  onError(code: number, details: string): void;
}

interface EdgeEntry {
  readonly edgeId: string;
  tunnel?: grpc.ServerDuplexStream<rayts.EdgeUp, rayts.EdgeDown>;
  readonly streams: Map<number, Relayed>;
  nextStream: number;
  expiry?: NodeJS.Timeout;
  ackTimer?: NodeJS.Timeout;
}

const METHODS: Record<string, MethodDef> = { ...nodeServiceDefinition, ...ownerServiceDefinition } as unknown as Record<string, MethodDef>;

function header(call: { metadata: grpc.Metadata }, key: string): string | undefined {
  const v = call.metadata.get(key)[0];
  return typeof v === 'string' && v ? v : undefined;
}

export class EdgeRelay {
  private readonly edges = new Map<string, EdgeEntry>();
  private readonly proxies = new Map<string, grpc.Client>();
  private closed = false;

  constructor(private readonly o: EdgeRelayOptions) {}

  /** Edge ids with a connected tunnel (for introspection and tests). */
  connected(): string[] {
    return [...this.edges.values()].filter((e) => e.tunnel).map((e) => e.edgeId);
  }

  // ------------------------------------------------------------------------------------------------
  // The tunnel
  // ------------------------------------------------------------------------------------------------

  /** Handler of HeadService.EdgeTunnel. */
  tunnelHandler() {
    return (call: grpc.ServerDuplexStream<rayts.EdgeUp, rayts.EdgeDown>): void => {
      let entry: EdgeEntry | undefined;
      call.on('data', (up: rayts.EdgeUp) => {
        try {
          if (!entry) {
            if (up.kind !== 'hello' || !up.edgeId || up.edgeId.length > 64) {
              call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: 'EdgeTunnel: the first frame must be a hello with an edge id.' });
              return;
            }
            entry = this.attach(up, call);
            return;
          }
          this.fromEdge(entry, up);
        } catch (e) {
          this.o.log.warn({ err: (e as Error).message }, 'bad edge tunnel frame');
        }
      });
      const gone = () => {
        if (entry && entry.tunnel === call) this.detach(entry);
      };
      call.on('end', () => {
        gone();
        call.end();
      });
      call.on('error', gone);
      call.on('cancelled', gone);
      call.on('close', gone);
    };
  }

  private attach(hello: rayts.EdgeUp, call: grpc.ServerDuplexStream<rayts.EdgeUp, rayts.EdgeDown>): EdgeEntry {
    let e = this.edges.get(hello.edgeId);
    if (!e) {
      e = { edgeId: hello.edgeId, streams: new Map(), nextStream: 1 };
      this.edges.set(e.edgeId, e);
    }
    const previous = e.tunnel;
    e.tunnel = call;
    if (previous && previous !== call) {
      try {
        previous.end();
      } catch {
        /* already gone */
      }
    }
    if (e.expiry) clearTimeout(e.expiry);
    e.expiry = undefined;
    // Streams the agent no longer holds were lost on its side — unless it never received their open.
    const held = new Set(hello.streams);
    for (const s of [...e.streams.values()]) {
      if (!held.has(s.id) && !s.out.openUnacked) {
        e.streams.delete(s.id);
        s.onError(grpc.status.UNAVAILABLE, 'the edge node lost this stream');
      }
    }
    call.write(pb.EdgeDown.create({ kind: 'welcome', address: edgeAddress(e.edgeId, this.o.headAddress()), streams: [...e.streams.keys()] }));
    for (const s of e.streams.values()) {
      if (s.in.delivered) call.write(pb.EdgeDown.create({ kind: 'ack', stream: s.id, ack: s.in.delivered }));
      for (const f of s.out.pending()) this.writeFrame(e, s.id, f);
    }
    this.o.log.info({ edgeId: e.edgeId, resumedStreams: e.streams.size }, 'edge tunnel connected');
    return e;
  }

  private detach(e: EdgeEntry): void {
    e.tunnel = undefined;
    if (this.closed) return;
    this.o.log.warn({ edgeId: e.edgeId, streams: e.streams.size }, 'edge tunnel lost; holding its streams');
    if (e.expiry) clearTimeout(e.expiry);
    e.expiry = setTimeout(() => {
      if (e.tunnel) return;
      this.edges.delete(e.edgeId);
      for (const s of e.streams.values()) s.onError(grpc.status.UNAVAILABLE, `edge node ${e.edgeId} has been unreachable for ${this.o.holdMs} ms`);
      e.streams.clear();
    }, this.o.holdMs);
    e.expiry.unref();
  }

  private writeFrame(e: EdgeEntry, stream: number, f: OutFrame): void {
    e.tunnel?.write(
      pb.EdgeDown.create({ kind: f.kind, stream, seq: f.seq, method: f.method ?? '', data: f.data ?? new Uint8Array(0) }),
    );
  }

  private send(e: EdgeEntry, s: Relayed, f: Omit<OutFrame, 'seq'>): void {
    const frame = s.out.push(f);
    this.writeFrame(e, s.id, frame);
  }

  private fromEdge(e: EdgeEntry, up: rayts.EdgeUp): void {
    const s = e.streams.get(up.stream);
    if (!s) return;
    if (up.kind === 'ack') {
      s.out.ack(up.ack);
      return;
    }
    const verdict = s.in.accept(up.seq);
    if (verdict === 'dup') return;
    if (verdict === 'gap') {
      e.streams.delete(s.id);
      s.onError(grpc.status.INTERNAL, 'edge tunnel frames were lost');
      return;
    }
    switch (up.kind) {
      case 'data':
        this.scheduleAck(e);
        s.onData(up.data);
        break;
      case 'end':
      case 'error':
        // Final frame: acknowledged at once, since the stream is forgotten here.
        this.sendAck(e, s);
        e.streams.delete(s.id);
        if (up.kind === 'end') s.onEnd();
        else s.onError(up.code || grpc.status.UNKNOWN, up.details);
        break;
    }
  }

  private scheduleAck(e: EdgeEntry): void {
    if (e.ackTimer) return;
    e.ackTimer = setTimeout(() => {
      e.ackTimer = undefined;
      for (const s of e.streams.values()) this.sendAck(e, s);
    }, 20);
    e.ackTimer.unref();
  }

  private sendAck(e: EdgeEntry, s: Relayed): void {
    if (!s.in.ackDue || !e.tunnel) return;
    s.in.acked = s.in.delivered;
    e.tunnel.write(pb.EdgeDown.create({ kind: 'ack', stream: s.id, ack: s.in.delivered }));
  }

  // ------------------------------------------------------------------------------------------------
  // Routing of NodeService / OwnerService calls
  // ------------------------------------------------------------------------------------------------

  /**
   * Wraps a service implementation so that calls for an edge node (or from an edge node to elsewhere)
   * are relayed, and every other call reaches `impl` as before. Methods `impl` lacks answer UNIMPLEMENTED
   * unless relayed.
   */
  wrap(definition: grpc.ServiceDefinition, impl: HostedService['implementation']): HostedService {
    const out: Record<string, (...a: never[]) => unknown> = {};
    for (const [name, m] of Object.entries(definition)) {
      const own = impl[name] as ((call: AnyCall) => unknown) | undefined;
      out[name] = ((call: AnyCall) => {
        const edgeId = header(call, EDGE_NODE_HEADER);
        const relayTo = header(call, RELAY_TO_HEADER);
        if (edgeId) return this.intoEdge(edgeId, name, m as MethodDef, call);
        if (relayTo) return this.relayTo(relayTo, name, m as MethodDef, call);
        if (!own) {
          const err = { code: grpc.status.UNIMPLEMENTED, details: `${name} is not served by this process` };
          if (m.requestStream || m.responseStream) {
            call.emit('error', err);
            return undefined;
          }
          return Promise.reject(new RayError(err.details));
        }
        return own(call);
      }) as never;
    }
    return { definition, implementation: out };
  }

  /** Passes one call into an edge node's tunnel. */
  private intoEdge(edgeId: string, name: string, m: MethodDef, call: AnyCall): unknown {
    const e = this.edges.get(edgeId);
    const unary = !m.requestStream && !m.responseStream;
    if (!e) {
      const details = `edge node ${edgeId} is not connected to this head`;
      if (unary) return Promise.reject(new RayError(details));
      call.emit('error', { code: grpc.status.UNAVAILABLE, details });
      return undefined;
    }
    const id = e.nextStream++;
    const open = (s: Relayed, request?: unknown) =>
      this.send(e, s, { kind: 'open', method: name, data: request === undefined ? undefined : m.requestSerialize(request) });
    if (unary) {
      return new Promise((resolve, reject) => {
        let value: unknown;
        const s: Relayed = {
          id,
          out: new Outbox(),
          in: new Inbox(),
          onData: (b) => (value = m.responseDeserialize(Buffer.from(b))),
          onEnd: () => resolve(value ?? {}),
          onError: (code, details) => reject(Object.assign(new RayError(`${name} on edge node ${edgeId}: ${details}`), { grpcCode: code })),
        };
        e.streams.set(id, s);
        open(s, call.request);
      });
    }
    let done = false;
    const s: Relayed = {
      id,
      out: new Outbox(),
      in: new Inbox(),
      onData: (b) => {
        if (!done) call.write(m.responseDeserialize(Buffer.from(b)));
      },
      onEnd: () => {
        if (done) return;
        done = true;
        call.end();
      },
      onError: (code, details) => {
        if (done) return;
        done = true;
        call.emit('error', { code, details });
      },
    };
    e.streams.set(id, s);
    open(s, m.requestStream ? undefined : call.request);
    const cancel = () => {
      if (done) return;
      done = true;
      if (e.streams.delete(id)) e.tunnel?.write(pb.EdgeDown.create({ kind: 'cancel', stream: id }));
    };
    call.on('cancelled', cancel);
    call.on('error', cancel);
    if (m.requestStream) {
      call.on('data', (msg: unknown) => {
        if (!done) this.send(e, s, { kind: 'data', data: m.requestSerialize(msg) });
      });
      call.on('end', () => {
        if (!done) this.send(e, s, { kind: 'end' });
      });
    }
    return undefined;
  }

  /** Proxies a call from an edge agent to `address` (an ordinary node or driver, or another edge node). */
  private relayTo(address: string, name: string, m: MethodDef, call: AnyCall): unknown {
    const edge = parseEdgeAddress(address);
    if (edge) return this.intoEdge(edge.edgeId, name, m, call);
    if (!METHODS[name] || !/^[\w.-]+:\d+$|^\[[\da-fA-F:]+\]:\d+$/.test(address)) {
      const err = new InvalidArgumentError(`relay: ${JSON.stringify(address)} is not a node address.`);
      if (!m.requestStream && !m.responseStream) return Promise.reject(err);
      call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: err.message });
      return undefined;
    }
    let client = this.proxies.get(address);
    if (!client) {
      client = new grpc.Client(address, channelCredentials(), CHANNEL_OPTIONS);
      this.proxies.set(address, client);
    }
    const md = authMetadata(this.o.token);
    const fail = (e: grpc.ServiceError) => call.emit('error', { code: e.code ?? grpc.status.UNAVAILABLE, details: e.details ?? e.message });
    if (!m.requestStream && !m.responseStream) {
      return new Promise((resolve, reject) =>
        client.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, call.request, md, (err, v) => (err ? reject(new RayError(`${name} via head: ${err.details}`)) : resolve(v))),
      );
    }
    const upstream = m.requestStream
      ? client.makeBidiStreamRequest(m.path, m.requestSerialize, m.responseDeserialize, md)
      : client.makeServerStreamRequest(m.path, m.requestSerialize, m.responseDeserialize, call.request, md);
    upstream.on('data', (msg: unknown) => {
      if (!call.write(msg)) {
        upstream.pause();
        call.once('drain', () => upstream.resume());
      }
    });
    upstream.on('end', () => call.end());
    upstream.on('error', fail);
    call.on('cancelled', () => upstream.cancel());
    if (m.requestStream) {
      const duplex = upstream as grpc.ClientDuplexStream<unknown, unknown>;
      call.on('data', (msg: unknown) => duplex.write(msg));
      call.on('end', () => duplex.end());
    }
    return undefined;
  }

  close(): void {
    this.closed = true;
    for (const e of this.edges.values()) {
      if (e.expiry) clearTimeout(e.expiry);
      if (e.ackTimer) clearTimeout(e.ackTimer);
      for (const s of e.streams.values()) s.onError(grpc.status.UNAVAILABLE, 'the head is shutting down');
      try {
        e.tunnel?.end();
      } catch {
        /* already gone */
      }
    }
    this.edges.clear();
    for (const c of this.proxies.values()) c.close();
    this.proxies.clear();
  }
}
