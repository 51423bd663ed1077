/**
 * GeneratorStream (owner side): the items of one streaming generator task as its caller receives them.
 * Responsible for handing items out in index order, each once, whatever order they arrive in and
 * whichever attempt sent them; for the end of the stream (the count the producer reported, or an error
 * handed out as one last failed item, as Ray does); and for what the caller's consumption means to the
 * producer (acks for `generatorBackpressure`, a stop when the caller leaves early). Not responsible for
 * sending anything: the CoreWorker does that through {@link StreamHost}.
 *
 * Item i of task T is object `T.(i+1)` (`T.0` names the task itself). A re-run of the task (retry after
 * a node or worker death) starts its generator again and skips the `received` items the caller already
 * has (Ray's rule: re-execute and skip); items it sends again anyway are ignored.
 *
 * States: open → ended (the producer finished or failed) → drained (every item and the error handed
 * out); open | ended → closed (the caller left early). drained and closed streams are forgotten.
 */
import { objectIdOf, type ObjectId, type ObjectRef } from '@samsara/ray-common';
import type { GeneratorStream } from '../runtime/runtime.js';
import type { ObjectTable } from './object-table.js';

/** What a stream needs from its CoreWorker. */
export interface StreamHost {
  readonly objects: ObjectTable;
  /** A counted ref to an owned object, for the caller. */
  ref(id: ObjectId): ObjectRef;
  /** Frees an owned item that was never handed out. */
  drop(id: string): void;
  /** The caller consumed `consumed` items (sent only with backpressure). */
  ack(taskId: string, consumed: number): void;
  /** The caller left before the end: stop the producer. */
  stop(taskId: string): void;
  /** The stream is done with (drained or closed). */
  forget(taskId: string): void;
}

export class GeneratorStreamState implements GeneratorStream {
  /** Indexes of items that arrived and were not handed out yet. */
  private readonly arrived = new Set<number>();
  /** Items 0 … received-1 all arrived (what a re-run skips). */
  received = 0;
  /** Items handed out to the caller (consumed, for backpressure). */
  yielded = 0;
  /** Items the producer reported at its end (they may still be on their way). */
  private reported = 0;
  private ended = false;
  private error: Error | undefined;
  private errorHandedOut = false;
  private closed = false;
  private waiters: (() => void)[] = [];

  constructor(
    readonly taskId: string,
    /** Unconsumed items at which the producer pauses (0 = unbounded). */
    readonly backpressure: number,
    private readonly host: StreamHost,
  ) {}

  itemId(index: number): ObjectId {
    return objectIdOf(this.taskId as never, index + 1);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Whether item `index` is new (its object is to be recorded): false for one already received or
   * handed out, or when the caller left.
   */
  wants(index: number): boolean {
    return !this.closed && index >= this.yielded && !this.arrived.has(index) && Number.isInteger(index) && index >= 0;
  }

  /** Item `index` arrived (its object is recorded in the ObjectTable). */
  arrive(index: number): void {
    this.arrived.add(index);
    while (this.arrived.has(this.received) || this.received < this.yielded) this.received++;
    this.wake();
  }

  /** A final result said the producer yielded `count` items (some may still be on their way). */
  reportCount(count: number): void {
    if (Number.isInteger(count) && count > this.reported) this.reported = count;
  }

  /** The producer ended, with `error` if it failed; the items it reported come first. */
  end(error?: Error): void {
    if (this.ended || this.closed) return;
    this.ended = true;
    this.reported = Math.max(this.reported, this.received);
    this.error = error;
    this.wake();
  }

  async next(): Promise<ObjectRef | undefined> {
    for (;;) {
      if (this.closed) return undefined;
      if (this.arrived.has(this.yielded)) {
        const index = this.yielded++;
        this.arrived.delete(index);
        if (this.backpressure > 0 && !this.ended) this.host.ack(this.taskId, this.yielded);
        return this.host.ref(this.itemId(index));
      }
      if (this.ended && this.yielded >= this.reported) {
        if (this.error && !this.errorHandedOut) {
          this.errorHandedOut = true;
          const id = this.itemId(this.yielded);
          this.host.objects.fail(id, this.error);
          return this.host.ref(id);
        }
        this.forget();
        return undefined;
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  close(): void {
    if (this.closed) return;
    const stop = !this.ended;
    this.closed = true;
    for (const index of this.arrived) this.host.drop(this.itemId(index));
    this.arrived.clear();
    if (stop) this.host.stop(this.taskId);
    this.forget();
  }

  private forget(): void {
    this.closed = true;
    this.host.forget(this.taskId);
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    if (w.length === 0) return;
    this.waiters = [];
    for (const f of w) f();
  }
}
