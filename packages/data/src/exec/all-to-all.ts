/**
 * All-to-all operators as distributed map/reduce over blocks: every input block is split into P
 * partitions by one map task (one output table, ordered by partition), then P reduce tasks each take
 * their slice of every map output — zero-copy on a node, one pull per remote map output per node.
 * Sort samples keys first to pick range boundaries; groupBy aggregates partially before the hash
 * split, so partial states move, not rows.
 */
import { get, type ObjectRef } from '@samsara/ray';
import type { BlockRef, Table } from '../block.js';
import type { AggregateFn } from '../plan/aggregate.js';
import { PhysicalOperator, type WorkItem } from './physical-operator.js';
import { shuffleMapTask, shuffleReduceTask, sampleTask, sliceTask } from './remote-fns.js';
import { measure } from './measure.js';
import { freeOwned } from './map-operator.js';
import { unwrapError } from './unwrap-error.js';

export type AllToAllSpec =
  | { readonly kind: 'randomShuffle'; readonly seed: number; readonly numBlocks?: number }
  | { readonly kind: 'sort'; readonly keys: readonly string[]; readonly descending: boolean }
  | { readonly kind: 'aggregate'; readonly keys: readonly string[]; readonly aggs: readonly AggregateFn[] }
  | { readonly kind: 'repartition'; readonly numBlocks: number };

type Bulk = (blocks: BlockRef[]) => Promise<BlockRef[]>;

/** Collects every input block (the barrier), then runs the bulk exchange and emits its outputs in order. */
export class AllToAllOperator extends PhysicalOperator {
  private readonly buffered: BlockRef[] = [];
  private running = 0;
  private finished = false;
  constructor(name: string, input: PhysicalOperator, private readonly spec: AllToAllSpec) {
    super(name, [input]);
  }
  activeTasks(): number {
    return this.running;
  }
  protected runningBytes(): number {
    let n = 0;
    for (const b of this.buffered) n += b.sizeBytes;
    return n;
  }
  protected addInputInner(item: WorkItem): void {
    this.buffered.push(item.block!);
  }
  protected override completedInner(): boolean {
    return this.finished;
  }
  protected override allInputsDoneInner(): void {
    this.running = 1;
    this.metrics.tasksStarted++;
    const t0 = performance.now();
    const blocks = this.buffered.splice(0);
    bulkFor(this.spec)(blocks).then(
      async (out) => {
        await freeOwned(blocks);
        this.metrics.taskMs += performance.now() - t0;
        this.metrics.tasksFinished++;
        for (const b of out) this.emit(b);
        this.running = 0;
        this.finished = true;
        this.ctx.wake();
      },
      (e) => {
        this.running = 0;
        this.finished = true;
        this.fail(unwrapError(e));
      },
    );
  }
}

function bulkFor(spec: AllToAllSpec): Bulk {
  switch (spec.kind) {
    case 'randomShuffle':
      return (blocks) => exchange(blocks, spec.numBlocks ?? Math.max(blocks.length, 1), (n) => ({ kind: 'random', seed: spec.seed, n }), null, { kind: 'shuffle', seed: spec.seed });
    case 'aggregate':
      return (blocks) =>
        exchange(blocks, Math.max(1, Math.min(blocks.length, 64)), (n) => ({ kind: 'hash', keys: spec.keys, n }), { keys: [...spec.keys], aggs: [...spec.aggs] }, { kind: 'aggregate', keys: spec.keys, aggs: spec.aggs });
    case 'sort':
      return async (blocks) => {
        const n = Math.max(blocks.length, 1);
        const samples = (await get(blocks.map((b) => sampleTask.remote([...spec.keys], 32, b.ref as never)))).flat();
        samples.sort(cmpKeys);
        const boundaries: unknown[][] = [];
        for (let i = 1; i < n; i++) if (samples.length) boundaries.push(samples[Math.min(samples.length - 1, Math.floor((i * samples.length) / n))]);
        return exchange(blocks, n, (p) => ({ kind: 'range', keys: spec.keys, boundaries, descending: spec.descending, n: p }), null, { kind: 'sort', keys: spec.keys, descending: spec.descending });
      };
    case 'repartition':
      return (blocks) => repartition(blocks, spec.numBlocks);
  }
}

function cmp(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
}

function cmpKeys(a: unknown[], b: unknown[]): number {
  for (let i = 0; i < a.length; i++) {
    const c = cmp(a[i], b[i]);
    if (c) return c;
  }
  return 0;
}

async function exchange(blocks: BlockRef[], n: number, part: (n: number) => unknown, preAgg: unknown, reduce: unknown): Promise<BlockRef[]> {
  const spec = part(n);
  const mapOuts = blocks.map((b, i) => shuffleMapTask.remote(spec, i, preAgg, b.ref as never) as ObjectRef<Table>);
  try {
    const outs = Array.from({ length: n }, (_, p) => shuffleReduceTask.remote(reduce, p, ...(mapOuts as never[])) as ObjectRef<Table>);
    return await Promise.all(outs.map((r) => measure(r, true)));
  } finally {
    await freeOwned(mapOuts.map((ref) => ({ ref, numRows: 0, sizeBytes: 0, owned: true })));
  }
}

async function repartition(blocks: BlockRef[], n: number): Promise<BlockRef[]> {
  const total = blocks.reduce((s, b) => s + b.numRows, 0);
  const outs: Promise<BlockRef>[] = [];
  const starts: number[] = [];
  let acc = 0;
  for (const b of blocks) (starts.push(acc), (acc += b.numRows));
  for (let p = 0; p < n; p++) {
    const lo = Math.floor((p * total) / n);
    const hi = Math.floor(((p + 1) * total) / n);
    const idx = blocks.map((_, i) => i).filter((i) => starts[i] < hi && starts[i] + blocks[i].numRows > lo);
    if (idx.length === 0) {
      const first = blocks[0];
      outs.push(measure(sliceTask.remote(0, 0, first.ref as never) as never, true));
      continue;
    }
    const base = starts[idx[0]];
    outs.push(measure(sliceTask.remote(lo - base, hi - base, ...(idx.map((i) => blocks[i].ref) as never[])) as never, true));
  }
  return Promise.all(outs);
}
