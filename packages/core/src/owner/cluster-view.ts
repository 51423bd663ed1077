/**
 * The submitter's view of the cluster: the node table pushed by the head (WatchCluster) plus what this
 * submitter itself has in flight on each node. Placement reads `placementNodes()`, whose `available`
 * is the more pessimistic of the head's last report and this submitter's own accounting, so a burst of
 * submissions spreads before the next heartbeat arrives.
 */
import * as grpc from '@grpc/grpc-js';
import { subtractResources, type ResourceMap, type Logger } from '@samsara/ray-common';
import type { NodeView } from '@samsara/ray-scheduler';
import type { rayts } from '@samsara/ray-proto';
import { HeadClient } from '../rpc/services.js';
import { HEAD_CHANNEL_OPTIONS } from '../rpc/head-channel-options.js';
import { authMetadata, fromGrpcError } from '../rpc/auth.js';
import { channelCredentials } from '../rpc/tls.js';

export interface ClusterNode extends NodeView {
  readonly kind: string;
  readonly isHead: boolean;
}

/** In-place `m += sign × demand` (and a task count), exact to 1/10,000 like the resource helpers. */
function adjust(m: ResourceMap, demand: ResourceMap, sign: 1 | -1): void {
  for (const k in demand) m[k] = Math.round(((m[k] ?? 0) + sign * demand[k]) * 10_000) / 10_000;
  m.__tasks = (m.__tasks ?? 0) + sign;
}

export function nodeFromInfo(n: rayts.INodeInfo | rayts.NodeInfo): ClusterNode {
  return {
    nodeId: n.nodeId ?? '',
    address: n.address ?? '',
    total: { ...(n.total ?? {}) },
    available: { ...(n.available ?? {}) },
    labels: { ...(n.labels ?? {}) },
    alive: !!n.alive,
    kind: n.kind || 'worker',
    isHead: !!n.isHead,
  };
}

export class ClusterView {
  private nodes = new Map<string, ClusterNode>();
  /** Whether the head's first view has arrived (before it, `nodes` is empty, not "no node alive"). */
  private viewed = false;
  private readonly inflight = new Map<string, ResourceMap>();
  private stream: grpc.ClientReadableStream<rayts.ClusterView> | undefined;
  private readonly client: grpc.Client;
  private readonly listeners = new Set<(dead: ClusterNode[]) => void>();
  private readonly actorListeners = new Set<(actors: readonly rayts.IActorInfo[]) => void>();
  private closed = false;
  private firstView: Promise<void>;
  private resolveFirst!: () => void;
  private rejectFirst!: (e: Error) => void;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Set when the first subscription failed for good (e.g. bad token). */
  lastError: Error | undefined;

  constructor(
    private readonly headAddress: string,
    private readonly token: string,
    private readonly log: Logger,
    /** The driver's job: the head ends the job when this watch goes away. Empty for nodes. */
    private readonly jobId = '',
  ) {
    this.client = new HeadClient(headAddress, channelCredentials(), HEAD_CHANNEL_OPTIONS);
    this.firstView = new Promise((res, rej) => {
      this.resolveFirst = res;
      this.rejectFirst = rej;
    });
    this.firstView.catch(() => undefined);
    this.subscribe();
  }

  /** True once the head's first view has arrived. */
  get hasView(): boolean {
    return this.viewed;
  }

  /** Resolves after the first view arrives; rejects on authentication failure. */
  ready(): Promise<void> {
    return this.firstView;
  }

  private subscribe(): void {
    if (this.closed) return;
    const s = (this.client as unknown as { watchCluster(r: unknown, md: grpc.Metadata): grpc.ClientReadableStream<rayts.ClusterView> }).watchCluster(
      { jobId: this.jobId },
      authMetadata(this.token),
    );
    this.stream = s;
    s.on('data', (v: rayts.ClusterView) => this.apply(v));
    s.on('error', (e: grpc.ServiceError) => {
      if (this.closed) return;
      if (e.code === grpc.status.UNAUTHENTICATED) {
        this.lastError = fromGrpcError(e, 'WatchCluster', this.headAddress);
        this.rejectFirst(this.lastError);
        return;
      }
      if (e.code === grpc.status.CANCELLED) return;
      this.log.debug({ err: e.message }, 'cluster watch broke; resubscribing');
      this.retryTimer = setTimeout(() => this.subscribe(), 500);
      this.retryTimer.unref();
    });
  }

  private apply(v: rayts.ClusterView): void {
    const next = new Map<string, ClusterNode>();
    const dead: ClusterNode[] = [];
    for (const info of v.nodes) {
      const n = nodeFromInfo(info);
      next.set(n.nodeId, n);
      const prev = this.nodes.get(n.nodeId);
      if (prev?.alive && !n.alive) dead.push(n);
    }
    for (const [id, prev] of this.nodes) if (!next.has(id) && prev.alive) dead.push(prev);
    this.nodes = next;
    this.viewed = true;
    this.resolveFirst();
    for (const l of this.listeners) l(dead);
    if (v.actors?.length) for (const l of this.actorListeners) l(v.actors);
  }

  /** Called with the head's actor table after every view change. */
  onActors(fn: (actors: readonly rayts.IActorInfo[]) => void): () => void {
    this.actorListeners.add(fn);
    return () => this.actorListeners.delete(fn);
  }

  /** Called after every view change with the nodes that died in it. */
  onChange(fn: (dead: ClusterNode[]) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get(nodeId: string): ClusterNode | undefined {
    return this.nodes.get(nodeId);
  }

  all(): ClusterNode[] {
    return [...this.nodes.values()];
  }

  /** Nodes this submitter could not reach lately: kept out of placement for a while. */
  private readonly unreachable = new Map<string, number>();

  /** The stream to a node broke: do not place there for `forMs` (the head may not have noticed yet). */
  markUnreachable(nodeId: string, forMs = 10_000): void {
    this.unreachable.set(nodeId, Date.now() + forMs);
  }

  /** Nodes with `available` reduced by this submitter's in-flight work. */
  placementNodes(): NodeView[] {
    const out: NodeView[] = [];
    const now = Date.now();
    for (const n of this.nodes.values()) {
      if (!n.alive) continue;
      const until = this.unreachable.get(n.nodeId);
      if (until !== undefined) {
        if (until > now) continue;
        this.unreachable.delete(n.nodeId);
      }
      const mine = this.inflight.get(n.nodeId);
      if (!mine) {
        out.push(n);
        continue;
      }
      const byMe = subtractResources(n.total, mine);
      const available: ResourceMap = {};
      for (const k of Object.keys(n.total)) available[k] = Math.min(n.available[k] ?? 0, byMe[k] ?? 0);
      out.push({ ...n, available });
    }
    return out;
  }

  /** Load of this submitter on a node relative to its size, for queueing when every node is busy. */
  queueLoad(nodeId: string): number {
    const n = this.nodes.get(nodeId);
    const mine = this.inflight.get(nodeId);
    const cpu = n?.total.CPU ?? 0;
    return (mine?.CPU ?? 0) / (cpu > 0 ? cpu : 1) + (mine?.__tasks ?? 0) * 1e-6;
  }

  /** Counts a task this submitter sent to a node (in place: this runs once per task). */
  addInflight(nodeId: string, demand: ResourceMap): void {
    let cur = this.inflight.get(nodeId);
    if (!cur) {
      cur = {};
      this.inflight.set(nodeId, cur);
    }
    adjust(cur, demand, 1);
  }

  removeInflight(nodeId: string, demand: ResourceMap): void {
    const cur = this.inflight.get(nodeId);
    if (cur) adjust(cur, demand, -1);
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.stream?.cancel();
    this.client.close();
  }
}
