/**
 * PlacementGroupClient: one owner's placement-group calls to the head (which reserves bundles on
 * nodes). Creations and removals made in one turn of the event loop go to the head in one call each
 * kind, in call order; `waitPlacementGroup` waits in slices until the group is ready.
 */
import { GetTimeoutError, SchedulingError, shortId, type ResourceMap } from '@samsara/ray-common';
import type { rayts } from '@samsara/ray-proto';
import type { OwnerState } from './owner-state.js';

/** A placement-group operation waiting to be sent to the head. */
type PgOp = { resolve: (r: rayts.PlacementGroupReply) => void; reject: (e: Error) => void } & (
  | { op: 'create'; group: rayts.IPlacementGroupInfo }
  | { op: 'remove'; pgId: string }
);

export class PlacementGroupClient {
  private readonly pgCreations = new Map<string, Promise<rayts.PlacementGroupReply>>();
  /** Creations and removals not yet sent, in call order. */
  private pgBatch: PgOp[] = [];

  /** The previous flush, so that batches reach the head in order. */
  private pgSent: Promise<void> = Promise.resolve();

  /** Queues a group's creation; creations made in one turn of the event loop go to the head in one call. */
  createPlacementGroup(id: string, bundles: readonly ResourceMap[], strategy: string, name: string): void {
    const p = new Promise<rayts.PlacementGroupReply>((resolve, reject) => {
      this.queuePgOp({ op: 'create', group: { pgId: id, name, strategy, jobId: this.s.o.jobId, bundles: bundles.map((b) => ({ resources: b })) }, resolve, reject });
    });
    p.catch(() => undefined);
    this.pgCreations.set(id, p);
  }

  private queuePgOp(op: PgOp): void {
    this.pgBatch.push(op);
    if (this.pgBatch.length === 1) setImmediate(() => this.flushPlacementGroups());
  }

  /** Sends queued operations as runs of create_many / remove_many, in order, after the previous flush. */
  private flushPlacementGroups(): void {
    const batch = this.pgBatch;
    this.pgBatch = [];
    const runs: PgOp[][] = [];
    for (const op of batch) {
      const last = runs[runs.length - 1];
      if (last && last[0].op === op.op) last.push(op);
      else runs.push([op]);
    }
    this.pgSent = this.pgSent.then(async () => {
      for (const run of runs) {
        const isCreate = run[0].op === 'create';
        const groups = run.map((o) => (o.op === 'create' ? o.group : { pgId: o.pgId }));
        try {
          const reply = await this.s.headCall<rayts.PlacementGroupReply>('placementGroupCall', { op: isCreate ? 'create_many' : 'remove_many', groups });
          run.forEach((o, i) => o.resolve({ group: reply.groups[i] } as rayts.PlacementGroupReply));
        } catch (e) {
          for (const o of run) o.reject(e as Error);
        }
      }
    });
  }

  async waitPlacementGroup(id: string, timeoutMs: number | undefined): Promise<void> {
    const created = await this.pgCreations.get(id);
    // The head places a group as it creates it: most groups are ready in the creation reply.
    if (created?.group?.state === 'CREATED') return;
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    // A removal queued before this wait reaches the head first.
    await this.pgSent;
    for (;;) {
      const slice = Math.max(1, Math.min(30_000, deadline - Date.now()));
      const r = await this.s.headCall<rayts.PlacementGroupReply>('placementGroupCall', { op: 'wait', pgId: id, timeoutMs: slice }, slice + 10_000);
      const g = r.group;
      if (g?.state === 'CREATED') return;
      if (!g || g.state === 'REMOVED') {
        throw new SchedulingError(`Placement group ${shortId(id)} was removed before it was ready.`, { ids: { pgId: id } });
      }
      if (Date.now() >= deadline) {
        throw new GetTimeoutError(`Placement group ${shortId(id)} is not ready after ${timeoutMs} ms: ${g.reason || 'waiting for resources'}.`, {
          hint: 'Add nodes that offer the missing resources, free resources, or choose a less strict strategy.',
          ids: { pgId: id },
        });
      }
    }
  }

  /**
   * Removes a group. The removal is queued in order with this process's other placement-group calls
   * (removals made in one turn of the event loop go to the head in one call) and resolves once the
   * nodes that held its bundles have them back in their pool: what ran in the group stopped, and
   * `availableResources()`, `nodes()` and new groups or tasks see the resources free. Rejects when the
   * head cannot be reached.
   */
  async removePlacementGroup(id: string): Promise<void> {
    this.pgCreations.delete(id);
    await new Promise<rayts.PlacementGroupReply>((resolve, reject) => this.queuePgOp({ op: 'remove', pgId: id, resolve, reject }));
  }

  constructor(private readonly s: OwnerState) {}
}
