/**
 * The physical operator of a SQL query: one input per named dataset, executors from the session. In
 * perBlock mode it streams (each block queried where an executor is free, outputs in input order);
 * otherwise it collects every block, then partitions, loads, queries and finishes as the plan says.
 * Executor tables are dropped after every query; the session runs one barrier query at a time.
 */
import type { ObjectRef } from '@samsara/ray';
import type { BlockRef, Table } from '../block.js';
import { PhysicalOperator, type WorkItem } from '../exec/physical-operator.js';
import { registerPlanFn } from '../plan/planner.js';
import type { LogicalNode } from '../plan/logical-plan.js';
import { measure } from '../exec/measure.js';
import { freeOwned } from '../exec/map-operator.js';
import { shuffleMapTask } from '../exec/remote-fns.js';
import { unwrapError } from '../exec/unwrap-error.js';
import { planSql, type SqlPlan } from './sql-planner.js';
import { LimitOperator } from '../exec/simple-operators.js';

/** What the operator needs from a session. */
export interface SqlSessionLike {
  readonly executors: readonly unknown[];
  /** Serializes barrier queries of one session. */
  lock(): Promise<() => void>;
}

type Exec = {
  load: { remote(name: string, part: number, ...t: unknown[]): ObjectRef<unknown> };
  query: { remote(sql: string): ObjectRef<Table> };
  queryBlock: { remote(sql: string, name: string, t: unknown): ObjectRef<Table> };
  reset: { remote(): ObjectRef<void> };
};

export class SqlOperator extends PhysicalOperator {
  notes: string[] = [];
  /** Where the time of the last barrier query went (partition+load vs query), for benchmarks. */
  timing?: string;
  private plan?: SqlPlan;
  private readonly buffered: BlockRef[][];
  private inFlight = 0;
  private bulkRunning = false;
  private bulkDone = false;
  private next_ = 0;
  private emitted = 0;
  private readonly done = new Map<number, BlockRef>();
  private rr = 0;

  constructor(
    inputs: readonly PhysicalOperator[],
    private readonly names: readonly string[],
    private readonly text: string,
    private readonly session: SqlSessionLike,
    initialPlan: SqlPlan,
  ) {
    super(initialPlan.mode === 'perBlock' ? 'Sql(per block)' : 'Sql', inputs);
    this.plan = initialPlan;
    this.buffered = inputs.map(() => []);
  }

  private get execs(): Exec[] {
    return this.session.executors as unknown as Exec[];
  }

  activeTasks(): number {
    return this.inFlight + this.done.size + (this.bulkRunning ? 1 : 0);
  }

  protected runningBytes(): number {
    let n = 0;
    for (const l of this.buffered) for (const b of l) n += b.sizeBytes;
    for (const b of this.done.values()) n += b.sizeBytes;
    return n;
  }

  protected override canAddInputInner(): boolean {
    return this.plan?.mode !== 'perBlock' || this.inFlight < this.execs.length * 2;
  }

  protected override completedInner(): boolean {
    return this.plan?.mode === 'perBlock' ? true : this.bulkDone;
  }

  protected addInputInner(item: WorkItem, inputIndex: number): void {
    const b = item.block!;
    if (this.plan?.mode !== 'perBlock') {
      this.buffered[inputIndex].push(b);
      return;
    }
    const idx = this.next_++;
    const ex = this.execs[this.rr++ % this.execs.length];
    this.inFlight++;
    this.metrics.tasksStarted++;
    measure(ex.queryBlock.remote(this.text, this.plan.table, b.ref), true).then(
      (out) => {
        this.inFlight--;
        this.metrics.tasksFinished++;
        void freeOwned([b]);
        this.done.set(idx, out);
        while (this.done.has(this.emitted)) {
          this.emit(this.done.get(this.emitted)!);
          this.done.delete(this.emitted++);
        }
        this.ctx.wake();
      },
      (e) => {
        this.inFlight--;
        this.fail(unwrapError(e));
      },
    );
  }

  protected override allInputsDoneInner(): void {
    if (this.plan?.mode === 'perBlock') return;
    this.bulkRunning = true;
    this.metrics.tasksStarted++;
    this.bulk().then(
      (outs) => {
        this.bulkRunning = false;
        this.bulkDone = true;
        this.metrics.tasksFinished++;
        for (const o of outs) this.emit(o);
        this.ctx.wake();
      },
      (e) => {
        this.bulkRunning = false;
        this.bulkDone = true;
        this.fail(unwrapError(e));
      },
    );
  }

  private async bulk(): Promise<BlockRef[]> {
    const cols = new Map<string, readonly string[] | undefined>();
    this.names.forEach((n, i) => cols.set(n, this.buffered[i].find((b) => b.columns)?.columns));
    const plan = await planSql(this.text, this.names, (t) => cols.get(t));
    const execs = this.execs;
    const unlock = await this.session.lock();
    const t0 = performance.now();
    const temp: ObjectRef<Table>[] = [];
    try {
      if (plan.mode === 'single') {
        this.notes.push(`SQL ran on one executor: the query has ${plan.reason}, which cannot be split without changing the answer.`);
        await Promise.all(this.names.map((n, i) => awaitRef(execs[0].load.remote(n, -1, ...this.buffered[i].map((b) => b.ref)))));
        return [await measure(execs[0].query.remote(this.text), true)];
      }
      const E = execs.length;
      const loads: Promise<unknown>[] = [];
      this.names.forEach((n, i) => {
        const keys = plan.mode === 'hash' ? plan.keys[n] : undefined;
        if (plan.mode === 'hash' && !keys) {
          // A table the query does not partition: every executor gets all of it.
          for (const ex of execs) loads.push(awaitRef(ex.load.remote(n, -1, ...this.buffered[i].map((b) => b.ref))));
          return;
        }
        const spec = keys ? { kind: 'hash', keys, n: E } : { kind: 'random', seed: 1, n: E };
        const parts = this.buffered[i].map((b, j) => shuffleMapTask.remote(spec, j, null, b.ref as never) as ObjectRef<Table>);
        temp.push(...parts);
        execs.forEach((ex, e) => loads.push(awaitRef(ex.load.remote(n, e, ...parts))));
      });
      await Promise.all(loads);
      const tLoaded = performance.now();
      const results = execs.map((ex) => ex.query.remote(this.text));
      const finish = plan.mode === 'spread' || plan.mode === 'hash' ? plan.finish : undefined;
      let out: BlockRef[];
      if (!finish) out = await Promise.all(results.map((r) => measure(r, true)));
      else {
        temp.push(...results);
        await awaitRef(execs[0].load.remote('__partial', -1, ...results));
        out = [await measure(execs[0].query.remote(finish), true)];
      }
      this.timing = `SQL ${plan.mode} over ${E} executors: partition+load ${Math.round(tLoaded - t0)} ms, query+finish ${Math.round(performance.now() - tLoaded)} ms`;
      return out;
    } finally {
      await Promise.all(execs.map((ex) => awaitRef(ex.reset.remote()).catch(() => undefined)));
      await freeOwned(temp.map((ref) => ({ ref, numRows: 0, sizeBytes: 0, owned: true })));
      unlock();
      for (const l of this.buffered) await freeOwned(l.splice(0));
    }
  }
}

async function awaitRef(r: ObjectRef<unknown>): Promise<unknown> {
  const { get } = await import('@samsara/ray');
  try {
    return await get(r);
  } catch (e) {
    throw unwrapError(e);
  }
}

registerPlanFn('Sql', async (n, ctx) => {
  const node = n as Extract<LogicalNode, { kind: 'Sql' }>;
  const plan = await planSql(node.sql.text, Object.keys(node.inputs), () => undefined);
  // A per-block query reads one table: the other inputs are not run at all.
  const names = plan.mode === 'perBlock' ? [plan.table] : Object.keys(node.inputs);
  const ins: PhysicalOperator[] = [];
  for (const name of names) ins.push(await ctx.planNode(node.inputs[name]));
  const op = new SqlOperator(ins, names, node.sql.text, node.sql.session as SqlSessionLike, plan);
  ctx.ops.push(op);
  if (plan.mode === 'perBlock' && plan.limit !== undefined) {
    const lim = new LimitOperator(`Limit(${plan.limit})`, op, plan.limit);
    ctx.ops.push(lim);
    return lim;
  }
  return op;
});
