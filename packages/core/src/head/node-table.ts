/**
 * The head's node table: membership and health. A node is alive while its reports arrive within
 * `deadAfterMs`; then it is declared dead for good (a node that comes back registers under a new id,
 * and nothing of the old id is trusted again). The clock is injected so the policy is testable.
 *
 * Node states: alive → dead (deadline passed, or the node asked to leave). Never dead → alive.
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

  constructor(
    private readonly deadAfterMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  register(req: rayts.IRegisterNodeRequest, isHead: boolean): NodeRecord {
    const t = this.now();
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
    this.nodes.set(rec.nodeId, rec);
    return rec;
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

  /** Adds or removes capacity (placement-group bundles committed on a node). */
  adjustTotal(nodeId: string, delta: ResourceMap, sign: 1 | -1): void {
    const rec = this.nodes.get(nodeId);
    if (!rec) return;
    for (const [k, v] of Object.entries(delta)) {
      rec.total[k] = (rec.total[k] ?? 0) + sign * v;
      rec.available[k] = (rec.available[k] ?? 0) + sign * v;
      if (Math.abs(rec.total[k]) < 1e-9) {
        delete rec.total[k];
        delete rec.available[k];
      }
    }
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
