/**
 * PlacementGroupManager: reserves placement-group bundles atomically (all bundles or none) on the head's
 * node table, tells the chosen nodes to convert the reserved resources into group resources
 * (`CPU_group_<i>_<pg>` …, see @samsara/ray-scheduler), and gives them back on removal. Groups that
 * cannot be placed yet stay PENDING with the reason, and are retried when the cluster changes.
 *
 * States: PENDING → CREATED → REMOVED; PENDING → REMOVED; CREATED → PENDING when a node holding one of
 * its bundles dies (the whole group is placed again).
 *
 * Order: pending groups are placed first come, first served (creation order; a group that lost a node
 * keeps its place). The oldest pending group that the cluster could hold (its bundles fit the alive
 * nodes' capacity) blocks every later one until it is placed, so a stream of small groups cannot starve
 * a big one; a group that could not fit even on the empty cluster is skipped (it waits, with an
 * "infeasible" reason, for nodes that can hold it) and blocks nobody.
 *
 * Removal: the head gives a group's bundles back at once in its own table and tells the nodes; the
 * removal is {@link released} once every node holding a bundle reported the bundle's resources back in
 * its pool (what ran in it stopped), or died.
 */
import { InvalidArgumentError, packInternal, validateResources, type Logger, type ResourceMap } from '@samsara/ray-common';
import { bundleResources, nodeCapacity, placeBundles, type NodeView, type PlacementGroupStrategy } from '@samsara/ray-scheduler';
import type { rayts } from '@samsara/ray-proto';
import type { NodeRecord, NodeTable } from './node-table.js';

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
  /** Creation order (first come, first served among pending groups). */
  seq: number;
}

export interface PlacementGroupHooks {
  command(nodeId: string, cmd: rayts.IHeadCommand): void;
  changed(): void;
}

/** How long a removal waits for the nodes' reports before it counts as done anyway. */
const RELEASE_TIMEOUT_MS = 20_000;

/**
 * A group's bundles committed on one node, and whether a report of that node showed them yet. Until it
 * does, the node's reports predate the commit: the head takes the bundles out of what they say is
 * available (else a stale report would hand the same resources to another group).
 */
interface Commit {
  readonly bundles: { index: number; bundle: ResourceMap }[];
  seen: boolean;
  releasing: boolean;
}

/** A removed group whose nodes have not yet reported its bundles back. */
interface Release {
  readonly nodeIds: Set<string>;
  readonly done: Promise<void>;
  resolve(): void;
}

export class PlacementGroupManager {
  private readonly groups = new Map<string, GroupRecord>();
  private readonly releases = new Map<string, Release>();
  /** Capacity of each node record (see capacityOf). */
  private readonly capacities = new WeakMap<NodeRecord, ResourceMap>();
  /** nodeId → pgId → the group's bundles committed there. */
  private readonly commits = new Map<string, Map<string, Commit>>();
  /** PENDING groups, in creation order. */
  private pending = new Set<GroupRecord>();
  private nextSeq = 0;
  /** At least the largest seq in {@link pending} (a new group, always the newest, needs no sort). */
  private pendingMaxSeq = -1;

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
    const g: GroupRecord = { pgId, name: req.name ?? '', strategy, bundles, state: 'PENDING', nodeIds: [], reason: '', jobId: req.jobId ?? '', waiters: [], seq: this.nextSeq++ };
    this.groups.set(pgId, g);
    this.setPending(g);
    // First come, first served: placed now only if no older pending group the cluster could hold waits.
    this.placePending();
    this.hooks.changed();
    return this.info(g);
  }

  /**
   * Tries to place `g` now. Returns 'placed', 'wait' (it fits the cluster's capacity, not what is free)
   * or 'infeasible' (not even the empty cluster could hold it).
   */
  private tryPlace(g: GroupRecord, views: readonly NodeView[]): 'placed' | 'wait' | 'infeasible' {
    const d = placeBundles(views, g.bundles, g.strategy);
    if (d.kind !== 'placed') {
      g.reason = d.reason;
      return d.kind;
    }
    g.nodeIds = [...d.nodeIds];
    g.bundles.forEach((bundle, i) => {
      const nodeId = g.nodeIds[i];
      this.commitOn(nodeId, g.pgId).bundles.push({ index: i, bundle });
      this.nodes.adjustTotal(nodeId, bundle, -1);
      this.nodes.adjustTotal(nodeId, bundleResources(g.pgId, i, bundle), 1);
      this.hooks.command(nodeId, { kind: 'pg_commit', targetId: g.pgId, payload: packInternal({ index: i, bundle }) });
    });
    g.state = 'CREATED';
    g.reason = '';
    this.pending.delete(g);
    this.wake(g);
    return 'placed';
  }

  /**
   * Places pending groups in creation order until the oldest one that could fit the cluster does not
   * fit now (strict FIFO, skipping groups no alive node set could ever hold). Returns whether any was placed.
   */
  private placePending(): boolean {
    let placed = false;
    let views: NodeView[] | undefined;
    for (const g of [...this.pending]) {
      // Totals are capacities (bundles' reservations added back): "infeasible" then means "never".
      views ??= this.nodes
        .all()
        .filter((n) => n.alive)
        .map((n) => ({ ...n, total: this.capacityOf(n) }));
      const r = this.tryPlace(g, views);
      if (r === 'placed') {
        placed = true;
        views = undefined;
      } else if (r === 'wait') {
        break;
      }
    }
    return placed;
  }

  /**
   * A node's capacity (its plain resources with committed bundles added back). Committing or releasing
   * a bundle moves resources between plain and group names without changing it, so it is computed once
   * per node record: placing 100 groups in one call stays linear (it was recomputed from every group
   * resource of the node for each group).
   */
  private capacityOf(n: NodeRecord): ResourceMap {
    let c = this.capacities.get(n);
    if (!c) this.capacities.set(n, (c = nodeCapacity(n.total)));
    return c;
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
    const g: GroupRecord = { pgId, name: info.name ?? '', strategy, bundles, state, nodeIds, reason: info.reason ?? '', jobId: info.jobId ?? '', waiters: [], seq: this.nextSeq++ };
    this.groups.set(pgId, g);
    if (state === 'PENDING') this.setPending(g);
  }

  /** Retries pending groups in creation order (after a node joined, died, or resources were freed). */
  retryPending(): void {
    if (this.placePending()) this.hooks.changed();
  }

  /**
   * Removes a group: its bundles go back to the nodes at once in the head's table, and the nodes are
   * told to stop what runs in them and give them back ({@link released} says when they did).
   */
  remove(pgId: string): rayts.IPlacementGroupInfo | undefined {
    const g = this.groups.get(pgId);
    if (!g) return undefined;
    if (g.state === 'CREATED') this.release(g);
    g.state = 'REMOVED';
    this.pending.delete(g);
    g.reason = 'removed';
    this.wake(g);
    this.hooks.changed();
    this.groups.delete(pgId);
    // Nothing to wait for (it was pending, or its nodes are gone): later groups may be placed now.
    if (!this.releases.has(pgId)) this.retryPending();
    return this.info(g);
  }

  private release(g: GroupRecord): void {
    const waitFor = new Set<string>();
    g.bundles.forEach((bundle, i) => {
      const nodeId = g.nodeIds[i];
      const n = this.nodes.get(nodeId);
      if (n?.alive) {
        waitFor.add(nodeId);
        this.commitOn(nodeId, g.pgId).releasing = true;
        // Capacity changes now; what is available changes when the node reports it (after what ran in
        // the bundle stopped), so that nothing is placed on resources still in use.
        this.nodes.adjustTotal(nodeId, bundleResources(g.pgId, i, bundle), -1, false);
        this.nodes.adjustTotal(nodeId, bundle, 1, false);
        this.hooks.command(nodeId, { kind: 'pg_release', targetId: g.pgId, payload: packInternal({ index: i, bundle }) });
      }
    });
    g.nodeIds = [];
    if (waitFor.size) this.trackRelease(g.pgId, waitFor);
  }

  private trackRelease(pgId: string, nodeIds: Set<string>): void {
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    const t = setTimeout(() => {
      this.log.warn({ pgId, nodeIds: [...nodeIds] }, 'nodes did not report a removed placement group released in time');
      finish();
    }, RELEASE_TIMEOUT_MS);
    t.unref();
    const finish = () => {
      clearTimeout(t);
      if (this.releases.get(pgId)?.done === done) this.releases.delete(pgId);
      resolve();
    };
    this.releases.set(pgId, { nodeIds, done, resolve: finish });
  }

  /**
   * Resolves once the nodes that held the removed group `pgId`'s bundles reported them back in their
   * pool (no resource of the group left: what ran in it stopped), or died; at once for a group with
   * nothing to give back. Bounded: after 20 s it resolves anyway (logged).
   */
  released(pgId: string): Promise<void> {
    return this.releases.get(pgId)?.done ?? Promise.resolve();
  }

  /**
   * A node's report arrived: removed groups whose resources it no longer lists are released there.
   * Returns true when a release completed (resources came back: pending groups may fit now).
   */
  nodeReported(nodeId: string, available: Readonly<Record<string, number>>): boolean {
    const onNode = this.commits.get(nodeId);
    if (!onNode) return false;
    let completed = false;
    const keys = Object.keys(available);
    for (const [pgId, c] of onNode) {
      if (c.bundles.every((b) => available[`bundle_group_${b.index}_${pgId}`] !== undefined)) {
        c.seen = true;
        continue;
      }
      if (!c.seen) {
        // The report predates the commit (the node reports at once after it commits): keep the bundles
        // out of what it says is free.
        if (!c.releasing) {
          for (const { index, bundle } of c.bundles) {
            this.nodes.adjustAvailable(nodeId, bundle, -1);
            this.nodes.adjustAvailable(nodeId, bundleResources(pgId, index, bundle), 1);
          }
        }
        continue;
      }
      // Seen committed, now no resource of the group left (what ran in it released what it held too):
      // the node gave the bundles back.
      if (!c.releasing || keys.some((k) => k.endsWith(pgId) && k.includes('_group_'))) continue;
      onNode.delete(pgId);
      const r = this.releases.get(pgId);
      if (r?.nodeIds.delete(nodeId) && r.nodeIds.size === 0) {
        r.resolve();
        completed = true;
      }
    }
    if (onNode.size === 0) this.commits.delete(nodeId);
    return completed;
  }

  private commitOn(nodeId: string, pgId: string): Commit {
    let onNode = this.commits.get(nodeId);
    if (!onNode) this.commits.set(nodeId, (onNode = new Map()));
    let c = onNode.get(pgId);
    if (!c) onNode.set(pgId, (c = { bundles: [], seen: false, releasing: false }));
    return c;
  }

  /** A node died: groups with a bundle there give back the rest and are placed again. */
  /** A node process registered again under a new id: its committed bundles are still there. */
  nodeReplaced(oldNodeId: string, newNodeId: string): void {
    for (const g of this.groups.values()) g.nodeIds = g.nodeIds.map((n) => (n === oldNodeId ? newNodeId : n));
    const c = this.commits.get(oldNodeId);
    this.commits.delete(oldNodeId);
    if (c) this.commits.set(newNodeId, c);
    for (const r of this.releases.values()) if (r.nodeIds.delete(oldNodeId)) r.nodeIds.add(newNodeId);
  }

  nodeDied(nodeId: string): void {
    this.commits.delete(nodeId);
    for (const r of [...this.releases.values()]) {
      r.nodeIds.delete(nodeId);
      if (r.nodeIds.size === 0) r.resolve();
    }
    for (const g of this.groups.values()) {
      if (g.state === 'CREATED' && g.nodeIds.includes(nodeId)) {
        this.release(g);
        g.state = 'PENDING';
        this.setPending(g);
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

  /** Adds `g` to the pending groups, keeping creation order (a group that lost a node keeps its place). */
  private setPending(g: GroupRecord): void {
    this.pending.add(g);
    if (g.seq < this.pendingMaxSeq) this.pending = new Set([...this.pending].sort((a, b) => a.seq - b.seq));
    this.pendingMaxSeq = Math.max(this.pendingMaxSeq, g.seq);
  }

  private wake(g: GroupRecord): void {
    const w = g.waiters.splice(0);
    for (const f of w) f();
  }
}
