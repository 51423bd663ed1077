/**
 * The head's node table: membership and health. A node is alive while its reports arrive within
 * `deadAfterMs`; then it is declared dead for good (a node that comes back registers under a new id,
 * and nothing of the old id is trusted again). The clock is injected so the policy is testable.
 *
 * Node states: alive → dead (deadline passed, the node asked to leave, or the same process registered
 * again and its new entry replaced this one). Never dead → alive.
 *
 * A head that was itself stalled (SIGSTOP, a long GC or event-loop block) has not heard from anyone for
 * as long as it stood still; that silence is its own, not the nodes'. The sweep measures the gap between
 * its own runs on a monotonic clock, and after a gap longer than `stallAfterMs` it gives every alive
 * node a fresh deadline from now instead of judging it by the head's silence.
 */
import { newNodeId, type ResourceMap } from '@samsara/ray-common';
import type { rayts } from '@samsara/ray-proto';

export interface NodeRecord {
  nodeId: string;
  address: string;
  total: ResourceMap;
  available: ResourceMap;
  labels: Record<string, string>;
  kind: string;
  isHead: boolean;
  hostname: string;
  pid: number;
  alive: boolean;
  startedAtMs: number;
  lastHeartbeatMs: number;
  deathReason: string;
  telemetry?: rayts.ITelemetry;
  store?: rayts.IObjectStoreInfo;
  queuedTasks: number;
  runningTasks: number;
  pending: rayts.IPendingDemand[];
}

export class NodeTable {
  private readonly nodes = new Map<string, NodeRecord>();
  private lastSweepMono: number | undefined;
  /** The last stall the sweep noticed (ms the head stood still), cleared by {@link takeStall}. */
  private stallMs = 0;

  constructor(
    private readonly deadAfterMs: number,
    private readonly now: () => number = Date.now,
    private readonly stallAfterMs: number = Math.min(Math.max(2000, deadAfterMs / 4), deadAfterMs / 2),
    private readonly mono: () => number = () => performance.now(),
  ) {}

  /**
   * Registers a node under a new id. An alive entry of the same process (same address and pid: a node
   * that re-registers because the head declared it dead, or lost its channel) is replaced, never kept
   * beside the new one; it is returned as `replaced` so the caller moves what referred to it.
   */
  register(req: rayts.IRegisterNodeRequest, isHead: boolean): NodeRecord & { replaced?: NodeRecord } {
    const t = this.now();
    let replaced: NodeRecord | undefined;
    for (const old of this.nodes.values()) {
      if (old.alive && old.address === (req.address ?? '') && old.pid === (req.pid ?? 0) && (old.kind === (req.kind || 'worker'))) {
        old.alive = false;
        old.available = {};
        replaced = old;
      }
    }
    const rec: NodeRecord = {
      nodeId: newNodeId(),
      address: req.address ?? '',
      total: { ...(req.resources ?? {}) },
      available: { ...(req.resources ?? {}) },
      labels: { ...(req.labels ?? {}) },
      kind: req.kind || 'worker',
      isHead,
      hostname: req.hostname ?? '',
      pid: req.pid ?? 0,
      alive: true,
      startedAtMs: t,
      lastHeartbeatMs: t,
      deathReason: '',
      queuedTasks: 0,
      runningTasks: 0,
      pending: [],
    };
    if (replaced) {
      replaced.deathReason = `replaced: the same process registered again as ${rec.nodeId}`;
      // Committed placement-group bundles are still held by that process: keep its capacity view.
      rec.total = { ...replaced.total };
    }
    this.nodes.set(rec.nodeId, rec);
    return replaced ? Object.assign(rec, { replaced }) : rec;
  }

  get(nodeId: string): NodeRecord | undefined {
    return this.nodes.get(nodeId);
  }

  /**
   * Puts back a node recorded before a head restart. An alive one counts as heard from now: it keeps
   * its id if its reports resume within the deadline, else the sweep declares it dead.
   */
  restore(rec: NodeRecord): void {
    this.nodes.set(rec.nodeId, { ...rec, lastHeartbeatMs: this.now() });
  }

  all(): NodeRecord[] {
    return [...this.nodes.values()];
  }

  /** Applies a report. Returns false when the node is unknown or already dead (it must re-register). */
  report(r: rayts.INodeReport): boolean {
    const rec = this.nodes.get(r.nodeId ?? '');
    if (!rec || !rec.alive) return false;
    rec.lastHeartbeatMs = this.now();
    if (r.available) rec.available = { ...r.available };
    if (r.telemetry) rec.telemetry = r.telemetry;
    if (r.store) rec.store = r.store;
    rec.queuedTasks = r.queuedTasks ?? 0;
    rec.runningTasks = r.runningTasks ?? 0;
    rec.pending = r.pending ?? [];
    return true;
  }

  /**
   * Adds or removes capacity (placement-group bundles committed on a node). With `available` false only
   * the total changes: the node's next report brings what is available (a released bundle's resources
   * count as free only once the node has them back).
   */
  adjustTotal(nodeId: string, delta: ResourceMap, sign: 1 | -1, available = true): void {
    const rec = this.nodes.get(nodeId);
    if (!rec) return;
    for (const [k, v] of Object.entries(delta)) {
      rec.total[k] = (rec.total[k] ?? 0) + sign * v;
      if (available) rec.available[k] = (rec.available[k] ?? 0) + sign * v;
      if (Math.abs(rec.total[k]) < 1e-9) {
        delete rec.total[k];
        delete rec.available[k];
      }
    }
  }

  /** Corrects what a node's last report said is available (it predates a change the head made). */
  adjustAvailable(nodeId: string, delta: ResourceMap, sign: 1 | -1): void {
    const rec = this.nodes.get(nodeId);
    if (!rec) return;
    for (const [k, v] of Object.entries(delta)) rec.available[k] = (rec.available[k] ?? 0) + sign * v;
  }

  markDead(nodeId: string, reason: string): NodeRecord | undefined {
    const rec = this.nodes.get(nodeId);
    if (!rec || !rec.alive) return undefined;
    rec.alive = false;
    rec.deathReason = reason;
    rec.available = {};
    return rec;
  }

  /** Declares dead every alive node whose last report is older than the deadline. Returns them. */
  sweep(): NodeRecord[] {
    const t = this.now();
    const m = this.mono();
    const gap = this.lastSweepMono === undefined ? 0 : m - this.lastSweepMono;
    this.lastSweepMono = m;
    if (gap > this.stallAfterMs) {
      // The head stood still: nobody could be heard meanwhile. Judge the nodes from now on.
      this.stallMs = gap;
      for (const rec of this.nodes.values()) if (rec.alive) rec.lastHeartbeatMs = t;
      return [];
    }
    const dead: NodeRecord[] = [];
    for (const rec of this.nodes.values()) {
      if (rec.alive && t - rec.lastHeartbeatMs > this.deadAfterMs) {
        rec.alive = false;
        rec.available = {};
        rec.deathReason = `no heartbeat for ${Math.round((t - rec.lastHeartbeatMs) / 1000)} s`;
        dead.push(rec);
      }
    }
    return dead;
  }

  /** How long the head stood still before the last sweep that noticed it (0: no stall since last asked). */
  takeStall(): number {
    const g = this.stallMs;
    this.stallMs = 0;
    return g;
  }

  toInfo(rec: NodeRecord): rayts.INodeInfo {
    return {
      nodeId: rec.nodeId,
      address: rec.address,
      total: rec.total,
      available: rec.available,
      labels: rec.labels,
      alive: rec.alive,
      isHead: rec.isHead,
      kind: rec.kind,
      startedAtMs: rec.startedAtMs,
      lastHeartbeatMs: rec.lastHeartbeatMs,
      telemetry: rec.telemetry,
      store: rec.store,
      hostname: rec.hostname,
      pid: rec.pid,
      deathReason: rec.deathReason,
      queuedTasks: rec.queuedTasks,
      runningTasks: rec.runningTasks,
    };
  }
}
