/**
 * The streaming executor: runs a DAG of physical operators and exposes the last one's output as a
 * pull-based AsyncIterable of blocks. A small synchronous `step()` moves outputs to the input queues of
 * their consumers, then hands inputs to operators — downstream first, so finishing work beats starting
 * new work (Ray's regret #40754) — as far as each operator and every backpressure policy allow. The
 * consumer pulling blocks is itself the backpressure of the last operator. Failures travel as values
 * and are thrown at the consumer; every operator is shut down (actors killed, owned blocks freed) when
 * the iteration ends for any reason.
 */
import type { BlockRef } from '../block.js';
import type { PhysicalOperator, WorkItem } from './physical-operator.js';
import type { BackpressurePolicy } from './backpressure.js';
import { freeOwned } from './map-operator.js';
import { unwrapError } from './unwrap-error.js';

interface OpState {
  readonly op: PhysicalOperator;
  /** Items waiting for this operator, per input index. */
  readonly queues: WorkItem[][];
  /** Operators that consume this one's output: [state, input index]. */
  readonly consumers: [OpState, number][];
  inputsClosed: boolean[];
}

export interface ExecutorOptions {
  readonly policies: readonly BackpressurePolicy[];
  /** Called after every step (progress bars). */
  readonly onStep?: (ops: readonly PhysicalOperator[]) => void;
}

export class StreamingExecutor {
  private readonly states: OpState[];
  private wakeResolve?: () => void;
  private woken = false;
  private shutdownDone = false;

  /** `ops` in topological order; the last one is the output. */
  constructor(
    readonly ops: readonly PhysicalOperator[],
    private readonly opts: ExecutorOptions,
  ) {
    const byOp = new Map<PhysicalOperator, OpState>();
    this.states = ops.map((op) => {
      const s: OpState = { op, queues: op.inputs.map(() => []), consumers: [], inputsClosed: op.inputs.map(() => false) };
      byOp.set(op, s);
      return s;
    });
    for (const s of this.states) s.op.inputs.forEach((inp, i) => byOp.get(inp)!.consumers.push([s, i]));
  }

  private wake = (): void => {
    this.woken = true;
    const r = this.wakeResolve;
    this.wakeResolve = undefined;
    r?.();
  };

  private queuedFor(s: OpState): number {
    let n = 0;
    for (const [c, i] of s.consumers) for (const it of c.queues[i]) n += it.estBytes;
    return n;
  }

  /** One scheduling round; returns whether anything changed. */
  private step(): boolean {
    let progressed = false;
    // 1. Route outputs to consumers' queues (the output op keeps its own for the consumer).
    for (const s of this.states) {
      if (s.consumers.length === 0) continue;
      while (s.op.hasNext()) {
        const b = s.op.next();
        progressed = true;
        const [c, i] = s.consumers[0];
        c.queues[i].push({ block: b, estBytes: b.sizeBytes });
        for (const [c2, i2] of s.consumers.slice(1)) c2.queues[i2].push({ block: b, estBytes: b.sizeBytes });
      }
    }
    // 2. Stop upstream of operators that want no more input (limit reached).
    for (const s of this.states) {
      if (!s.op.wantsNoMoreInput()) continue;
      for (const q of s.queues) void freeOwned(q.splice(0).flatMap((it) => (it.block ? [it.block] : [])));
      for (const inp of s.op.inputs) this.stopUpstream(inp);
    }
    // 3. Dispatch, downstream first.
    for (let k = this.states.length - 1; k >= 0; k--) {
      const s = this.states[k];
      if (s.op.wantsNoMoreInput()) continue;
      const downstream = this.queuedFor(s);
      for (let i = 0; i < s.queues.length; i++) {
        const q = s.queues[i];
        while (q.length && s.op.canAddInput() && this.opts.policies.every((p) => p.canAddInput(s.op, downstream))) {
          s.op.addInput(q.shift()!, i);
          progressed = true;
        }
      }
    }
    // 4. Close inputs whose producers completed and whose queues are drained.
    for (const s of this.states) {
      s.op.inputs.forEach((inp, i) => {
        if (!s.inputsClosed[i] && this.done(inp) && !inp.hasNext() && s.queues[i].length === 0) {
          s.inputsClosed[i] = true;
          s.op.inputDone(i);
          progressed = true;
        }
      });
    }
    this.opts.onStep?.(this.ops);
    return progressed;
  }

  /** An operator is done when it completed and (for a source) its items were all handed over. */
  private done(op: PhysicalOperator): boolean {
    const s = this.states.find((x) => x.op === op)!;
    return op.completed() && (op.inputs.length > 0 || s.queues.every((q) => q.length === 0));
  }

  private stopUpstream(op: PhysicalOperator): void {
    const s = this.states.find((x) => x.op === op)!;
    for (const q of s.queues) void freeOwned(q.splice(0).flatMap((it) => (it.block ? [it.block] : [])));
    if (op.completed()) return;
    void op.shutdown(true);
    for (const inp of op.inputs) this.stopUpstream(inp);
  }

  private firstError(): unknown {
    for (const s of this.states) if (s.op.error !== undefined) return s.op.error;
    return undefined;
  }

  /** Runs the DAG; yields the output operator's blocks as the consumer pulls. */
  async *run(): AsyncGenerator<BlockRef> {
    const out = this.states[this.states.length - 1];
    try {
      for (const s of this.states) {
        await s.op.start({ wake: this.wake });
      }
      // Source items go through the same queues (and budgets) as blocks.
      for (const s of this.states) {
        const items = s.op.sourceItems();
        if (s.op.inputs.length === 0) {
          (s.queues as WorkItem[][])[0] = items;
        }
      }
      for (;;) {
        const err = this.firstError();
        if (err !== undefined) throw unwrapError(err);
        while (this.step()) {
          /* until nothing moves */
        }
        const err2 = this.firstError();
        if (err2 !== undefined) throw unwrapError(err2);
        if (out.op.hasNext()) {
          yield out.op.next();
          continue;
        }
        if (this.done(out.op)) return;
        if (!this.woken) await new Promise<void>((r) => (this.wakeResolve = r));
        this.woken = false;
      }
    } finally {
      await this.shutdown();
    }
  }

  /** Stops every operator (idempotent). */
  async shutdown(): Promise<void> {
    if (this.shutdownDone) return;
    this.shutdownDone = true;
    for (const s of this.states) {
      for (const q of s.queues) await freeOwned(q.splice(0).flatMap((it) => (it.block ? [it.block] : [])));
      await s.op.shutdown(true);
    }
  }
}
