/**
 * Runs a logical plan: optimize, plan operators, size the per-operator byte budget from the object
 * store (half of its capacity, split between operators), stream blocks to the caller, record stats.
 */
import { objectStoreStats, clusterResources } from '@samsara/ray';
import type { BlockRef } from '../block.js';
import type { LogicalNode } from '../plan/logical-plan.js';
import { optimize } from '../plan/optimizer.js';
import { planPhysical } from '../plan/planner.js';
import { StreamingExecutor } from './streaming-executor.js';
import { BytesInFlightPolicy } from './backpressure.js';
import { ProgressBars } from '../progress.js';
import { DatasetStats } from '../stats.js';

/** Streams the output blocks of `plan`; `onStats` gets the stats when the run ends (also on error). */
export async function* executePlan(plan: LogicalNode, onStats: (s: DatasetStats) => void): AsyncGenerator<BlockRef> {
  const t0 = performance.now();
  const optimized = optimize(plan);
  const [store, res] = await Promise.all([objectStoreStats(), clusterResources()]);
  const cpus = Math.max(1, Math.floor((res as Record<string, number>).CPU ?? 1));
  const notes: string[] = [];
  const ops = await planPhysical(optimized, Math.max(2, cpus * 2));
  const budget = Math.max(1 << 20, Math.floor((store.capacityBytes * 0.5) / Math.max(ops.length, 1)));
  const bars = new ProgressBars();
  const ex = new StreamingExecutor(ops, { policies: [new BytesInFlightPolicy(budget)], onStep: (o) => bars.update(o) });
  // Operators that explain themselves (SQL run on one executor) write into the run's notes.
  for (const op of ops) if ('notes' in op) (op as { notes: string[] }).notes = notes;
  try {
    yield* ex.run();
  } finally {
    bars.finish(ops);
    onStats(DatasetStats.from(ops, performance.now() - t0, notes));
  }
}
