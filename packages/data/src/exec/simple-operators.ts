/**
 * Operators that run little or no work of their own: the input of blocks already in the store, limit
 * and union.
 */
import type { BlockRef } from '../block.js';
import { PhysicalOperator, type WorkItem } from './physical-operator.js';
import { sliceTask } from './remote-fns.js';
import { measure } from './measure.js';
import { freeOwned } from './map-operator.js';

/** Blocks already in the object store (fromArrow, fromItems, a materialized dataset). */
export class InputOperator extends PhysicalOperator {
  constructor(name: string, private readonly blocks: readonly BlockRef[]) {
    super(name, []);
  }
  override sourceItems(): WorkItem[] {
    return this.blocks.map((b) => ({ block: b, estBytes: b.sizeBytes }));
  }
  activeTasks(): number {
    return 0;
  }
  protected runningBytes(): number {
    return 0;
  }
  protected addInputInner(item: WorkItem): void {
    this.emit(item.block!);
  }
}

/** Passes blocks through until `n` rows went by; slices the last one; then asks upstream to stop. */
export class LimitOperator extends PhysicalOperator {
  private remaining: number;
  private slicing = 0;
  constructor(name: string, input: PhysicalOperator, n: number) {
    super(name, [input]);
    this.remaining = n;
  }
  activeTasks(): number {
    return this.slicing;
  }
  protected runningBytes(): number {
    return 0;
  }
  override wantsNoMoreInput(): boolean {
    return this.remaining <= 0;
  }
  override completed(): boolean {
    return (this.remaining <= 0 || this.allInputsDone()) && this.slicing === 0 && this.outQueue.length === 0;
  }
  protected addInputInner(item: WorkItem): void {
    const b = item.block!;
    if (this.remaining <= 0) {
      void freeOwned([b]);
      return;
    }
    if (b.numRows <= this.remaining) {
      this.remaining -= b.numRows;
      this.emit(b);
      return;
    }
    const n = this.remaining;
    this.remaining = 0;
    this.slicing++;
    measure(sliceTask.remote(0, n, b.ref) as never, true).then(
      (out) => {
        this.slicing--;
        void freeOwned([b]);
        this.emit(out);
        this.ctx.wake();
      },
      (e) => {
        this.slicing--;
        this.fail(e);
      },
    );
  }
}

/** Every block of every input, as they come. */
export class UnionOperator extends PhysicalOperator {
  activeTasks(): number {
    return 0;
  }
  protected runningBytes(): number {
    return 0;
  }
  protected addInputInner(item: WorkItem): void {
    this.emit(item.block!);
  }
}
