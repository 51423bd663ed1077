/**
 * PlacementGroupManager: reserves placement-group bundles atomically (all bundles or none) on the head's
 * node table, tells the chosen nodes to convert the reserved resources into group resources
 * (`CPU_group_<i>_<pg>` …, see @samsara/ray-scheduler), and gives them back on removal. Groups that
 * cannot be placed yet stay PENDING with the reason, and are retried when the cluster changes.
 *
 * States: PENDING → CREATED → REMOVED; PENDING → REMOVED; CREATED → PENDING when a node holding one of
 * its bundles dies (the whole group is placed again).
 */
import { InvalidArgumentError, packInternal, validateResources, type Logger, type ResourceMap } from '@samsara/ray-common';
import { bundleResources, placeBundles, type PlacementGroupStrategy } from '@samsara/ray-scheduler';
import type { rayts } from '@samsara/ray-proto';
import type { NodeTable } from './node-table.js';

const STRATEGIES: readonly PlacementGroupStrategy[] = ['PACK', 'SPREAD', 'STRICT_PACK', 'STRICT_SPREAD'];

interface GroupRecord {
  pgId: string;
  name: string;
  strategy: PlacementGroupStrategy;
  bundles: ResourceMap[];
  state: 'PENDING' | 'CREATED' | 'REMOVED';
  nodeIds: string[];
  reason: string;
  jobId: string;
  waiters: (() => void)[];
}

export interface PlacementGroupHooks {
  command(nodeId: string, cmd: rayts.IHeadCommand): void;
  changed(): void;
}

export class PlacementGroupManager {
  private readonly groups = new Map<string, GroupRecord>();

  constructor(
    private readonly nodes: NodeTable,
    private readonly hooks: PlacementGroupHooks,
    private readonly log: Logger,
  ) {}

  list(): rayts.IPlacementGroupInfo[] {
    return [...this.groups.values()].filter((g) => g.state !== 'REMOVED').map((g) => this.info(g));
  }

  info(g: GroupRecord): rayts.IPlacementGroupInfo {
    return {
      pgId: g.pgId,
      name: g.name,
      strategy: g.strategy,
      state: g.state,
      reason: g.reason,
      jobId: g.jobId,
      bundles: g.bundles.map((b, i) => ({ resources: b, nodeId: g.nodeIds[i] ?? '' })),
    };
  }

  create(req: rayts.IPlacementGroupInfo): rayts.IPlacementGroupInfo {
    const pgId = req.pgId ?? '';
    if (!/^[0-9a-f]{8,40}$/.test(pgId)) throw new InvalidArgumentError(`placement group id ${JSON.stringify(pgId)} is malformed.`);
    const existing = this.groups.get(pgId);
    if (existing) return this.info(existing);
    const strategy = (req.strategy || 'PACK') as PlacementGroupStrategy;
    if (!STRATEGIES.includes(strategy)) throw new InvalidArgumentError(`placement group strategy ${JSON.stringify(strategy)} is not one of ${STRATEGIES.join(', ')}.`);
    const bundles = (req.bundles ?? []).map((b, i) => validateResources({ ...(b.resources ?? {}) }, `placementGroup bundle ${i}`));
    if (bundles.length === 0) throw new InvalidArgumentError('placementGroup() needs at least one bundle.');
    const g: GroupRecord = { pgId, name: req.name ?? '', strategy, bundles, state: 'PENDING', nodeIds: [], reason: '', jobId: req.jobId ?? '', waiters: [] };
    this.groups.set(pgId, g);
    this.tryPlace(g);
    this.hooks.changed();
    return this.info(g);
  }

  private tryPlace(g: GroupRecord): void {
    if (g.state !== 'PENDING') return;
    const views = this.nodes.all().filter((n) => n.alive);
    const d = placeBundles(views, g.bundles, g.strategy);
    if (d.kind !== 'placed') {
      g.reason = d.reason;
      return;
    }
    g.nodeIds = [...d.nodeIds];
    g.bundles.forEach((bundle, i) => {
      const nodeId = g.nodeIds[i];
      this.nodes.adjustTotal(nodeId, bundle, -1);
      this.nodes.adjustTotal(nodeId, bundleResources(g.pgId, i, bundle), 1);
      this.hooks.command(nodeId, { kind: 'pg_commit', targetId: g.pgId, payload: packInternal({ index: i, bundle }) });
    });
    g.state = 'CREATED';
    g.reason = '';
    this.wake(g);
  }

  /**
   * Puts back a group recorded before a head restart, as it was (its bundles' resources are already in
   * the restored node totals, and the nodes still hold them).
   */
  restore(info: rayts.IPlacementGroupInfo): void {
    const pgId = info.pgId ?? '';
    if (!pgId || info.state === 'REMOVED') return;
    const bundles = (info.bundles ?? []).map((b) => ({ ...(b.resources ?? {}) }));
    const state = info.state === 'CREATED' ? 'CREATED' : 'PENDING';
    const nodeIds = state === 'CREATED' ? (info.bundles ?? []).map((b) => b.nodeId ?? '') : [];
    const strategy = (STRATEGIES as readonly string[]).includes(info.strategy ?? '') ? (info.strategy as PlacementGroupStrategy) : 'PACK';
    this.groups.set(pgId, { pgId, name: info.name ?? '', strategy, bundles, state, nodeIds, reason: info.reason ?? '', jobId: info.jobId ?? '', waiters: [] });
  }

  /** Retries pending groups (after a node joined, died, or resources were freed). */
  retryPending(): void {
    let changed = false;
    for (const g of this.groups.values()) {
      if (g.state === 'PENDING') {
        this.tryPlace(g);
        changed ||= g.state !== 'PENDING';
      }
    }
    if (changed) this.hooks.changed();
  }

  remove(pgId: string): rayts.IPlacementGroupInfo | undefined {
    const g = this.groups.get(pgId);
    if (!g) return undefined;
    if (g.state === 'CREATED') this.release(g);
    g.state = 'REMOVED';
    g.reason = 'removed';
    this.wake(g);
    this.hooks.changed();
    this.groups.delete(pgId);
    return this.info(g);
  }

  private release(g: GroupRecord): void {
    g.bundles.forEach((bundle, i) => {
      const nodeId = g.nodeIds[i];
      const n = this.nodes.get(nodeId);
      if (n?.alive) {
        this.nodes.adjustTotal(nodeId, bundleResources(g.pgId, i, bundle), -1);
        this.nodes.adjustTotal(nodeId, bundle, 1);
        this.hooks.command(nodeId, { kind: 'pg_release', targetId: g.pgId, payload: packInternal({ index: i, bundle }) });
      }
    });
    g.nodeIds = [];
  }

  /** A node died: groups with a bundle there give back the rest and are placed again. */
  /** A node process registered again under a new id: its committed bundles are still there. */
  nodeReplaced(oldNodeId: string, newNodeId: string): void {
    for (const g of this.groups.values()) g.nodeIds = g.nodeIds.map((n) => (n === oldNodeId ? newNodeId : n));
  }

  nodeDied(nodeId: string): void {
    for (const g of this.groups.values()) {
      if (g.state === 'CREATED' && g.nodeIds.includes(nodeId)) {
        this.release(g);
        g.state = 'PENDING';
        g.reason = `node ${nodeId} holding one of its bundles died; placing it again`;
        this.log.warn({ pgId: g.pgId, nodeId }, 'placement group lost a node');
      }
    }
    this.retryPending();
  }

  /** Groups a finished job created are removed, as in Ray (unless detached, which is not supported). */
  jobFinished(jobId: string): void {
    for (const g of [...this.groups.values()]) if (g.jobId === jobId) this.remove(g.pgId);
  }

  /** Resolves with the group's info once it is CREATED or REMOVED, or after `timeoutMs` as it is. */
  wait(pgId: string, timeoutMs: number): Promise<rayts.IPlacementGroupInfo | undefined> {
    const g = this.groups.get(pgId);
    if (!g || g.state !== 'PENDING') return Promise.resolve(g ? this.info(g) : undefined);
    return new Promise((resolve) => {
      const t = setTimeout(() => done(), timeoutMs);
      const done = () => {
        clearTimeout(t);
        const cur = this.groups.get(pgId);
        resolve(cur ? this.info(cur) : { pgId, state: 'REMOVED', reason: 'removed' });
      };
      g.waiters.push(done);
    });
  }

  private wake(g: GroupRecord): void {
    const w = g.waiters.splice(0);
    for (const f of w) f();
  }
}
