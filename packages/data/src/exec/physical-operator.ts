/**
 * The base class of every physical operator. The executor calls the public methods only; they record
 * metrics and delegate to the protected `…Inner` methods subclasses write. An operator takes input
 * blocks (`addInput`), runs work for them as tasks or actor calls, and queues output blocks (`next`).
 * Work finishes asynchronously: the operator queues results and calls `wake()` so the executor steps.
 *
 * Contract (after Ray Data's PhysicalOperator): `addInput` only when `canAddInput()`; `inputDone(i)` once
 * per input; `completed()` when all inputs are done, nothing runs and the output queue is empty.
 */
import { free } from '@samsara/ray';
import type { BlockRef } from '../block.js';
import type { ReadSpec } from '../plan/stages.js';

/** What an operator receives: a block, or (for a read operator) a read to perform. */
export interface WorkItem {
  readonly block?: BlockRef;
  readonly read?: ReadSpec;
  /** Estimated bytes the item produces. */
  readonly estBytes: number;
}

/** Per-operator metrics, shown by stats() and the progress bars. */
export interface OperatorMetrics {
  tasksStarted: number;
  tasksFinished: number;
  rowsOut: number;
  bytesOut: number;
  blocksOut: number;
  rowsIn: number;
  blocksIn: number;
  startedAt?: number;
  finishedAt?: number;
  /** Sum of task run times seen by the driver (submission to result). */
  taskMs: number;
  /** Highest bytes this operator held in flight at once (running + queued outputs). */
  peakBytesInFlight: number;
}

export interface OperatorContext {
  /** Called when asynchronous work finished: the executor should step. */
  wake(): void;
}

export abstract class PhysicalOperator {
  readonly metrics: OperatorMetrics = { tasksStarted: 0, tasksFinished: 0, rowsOut: 0, bytesOut: 0, blocksOut: 0, rowsIn: 0, blocksIn: 0, taskMs: 0, peakBytesInFlight: 0 };
  protected readonly outQueue: BlockRef[] = [];
  protected ctx!: OperatorContext;
  private readonly doneInputs: boolean[];
  /** The first failure; the executor throws it at the consumer. */
  error: unknown;
  private stopped = false;

  constructor(
    readonly name: string,
    readonly inputs: readonly PhysicalOperator[],
  ) {
    this.doneInputs = inputs.map(() => false);
  }

  /** Prepares the operator (e.g. plans reads, starts actors). */
  async start(ctx: OperatorContext): Promise<void> {
    this.ctx = ctx;
    this.metrics.startedAt = performance.now();
    await this.startInner();
  }

  /** Hands a work item to the operator. */
  addInput(item: WorkItem, inputIndex: number): void {
    this.metrics.blocksIn++;
    if (item.block) this.metrics.rowsIn += item.block.numRows;
    this.addInputInner(item, inputIndex);
  }

  /** No more input will come on `inputIndex`. */
  inputDone(inputIndex: number): void {
    if (this.doneInputs[inputIndex]) return;
    this.doneInputs[inputIndex] = true;
    if (this.allInputsDone()) this.allInputsDoneInner();
  }

  allInputsDone(): boolean {
    return this.doneInputs.every(Boolean);
  }

  hasNext(): boolean {
    return this.outQueue.length > 0;
  }

  /** The next output block. */
  next(): BlockRef {
    const b = this.outQueue.shift()!;
    return b;
  }

  /** Whether the operator itself accepts more input now (e.g. below its concurrency cap). */
  canAddInput(): boolean {
    return !this.stopped && this.canAddInputInner();
  }

  /** Bytes of work running now (estimated) plus outputs queued here. */
  bytesInFlight(): number {
    let q = 0;
    for (const b of this.outQueue) q += b.sizeBytes;
    const n = q + this.runningBytes();
    if (n > this.metrics.peakBytesInFlight) this.metrics.peakBytesInFlight = n;
    return n;
  }

  /** True when every input is done, nothing runs and no output waits. */
  completed(): boolean {
    return this.stopped || (this.allInputsDone() && this.activeTasks() === 0 && this.outQueue.length === 0 && this.completedInner());
  }

  /** True when this operator needs no more input (a limit reached): upstream can stop. */
  wantsNoMoreInput(): boolean {
    return this.stopped;
  }

  /** Stops the operator; frees owned queued outputs; `force` also cancels running work. */
  async shutdown(force: boolean): Promise<void> {
    this.stopped = true;
    this.metrics.finishedAt ??= performance.now();
    const owned = this.outQueue.splice(0).filter((b) => b.owned).map((b) => b.ref);
    if (owned.length) await free(owned).catch(() => undefined);
    await this.shutdownInner(force);
  }

  /** Records an output block. */
  protected emit(b: BlockRef): void {
    this.metrics.blocksOut++;
    this.metrics.rowsOut += b.numRows;
    this.metrics.bytesOut += b.sizeBytes;
    this.outQueue.push(b);
  }

  /** Records a failure and wakes the executor. */
  protected fail(e: unknown): void {
    this.error ??= e;
    this.ctx.wake();
  }

  protected markStopped(): void {
    this.stopped = true;
  }

  abstract activeTasks(): number;
  protected abstract runningBytes(): number;
  protected abstract addInputInner(item: WorkItem, inputIndex: number): void;
  protected async startInner(): Promise<void> {}
  protected allInputsDoneInner(): void {}
  protected canAddInputInner(): boolean {
    return true;
  }
  protected completedInner(): boolean {
    return true;
  }
  protected async shutdownInner(_force: boolean): Promise<void> {}
  /** Work items the operator generates itself (reads, given blocks), fed through the same budget. */
  sourceItems(): WorkItem[] {
    return [];
  }
}
