/**
 * The producer side of a streaming generator task, inside the worker thread that runs it (a task
 * thread or an actor's thread). Pulls the user's generator (sync or async) item by item, encodes each
 * item (inline when small, else its stored form, exactly like a task result) and hands it to an
 * {@link ItemOutbox}; pauses while `backpressure` items are unconsumed by the caller (acks come from
 * the caller through the node); stops — calling the generator's `return()`, so its `finally` runs —
 * when told to. A re-run skips the first `skip` items (the caller has them). Not responsible for where
 * items go: the thread's entry posts them to the node's main thread.
 */
import { InvalidArgumentError, describe } from '@samsara/ray-common';
import { encodeResult, type EncodedResult } from './values.js';

/** How one run of a streaming task goes (from its TaskSpec). */
export interface GeneratorPlan {
  /** Unconsumed items at which the producer pauses; 0 = unbounded. */
  readonly backpressure: number;
  /** Items at the start not to send again (a re-run: the caller has them). */
  readonly skip: number;
  /** Items the caller had consumed when the task was sent. */
  readonly consumed: number;
}

/** One produced item on its way to the node. */
export interface StreamItem {
  readonly index: number;
  readonly reply: EncodedResult;
}

/** What the node tells a running producer: consumption (acks) and stop. */
export class GeneratorControl {
  private wake: (() => void) | undefined;
  stopped = false;

  constructor(public consumed: number) {}

  ack(consumed: number): void {
    if (consumed <= this.consumed) return;
    this.consumed = consumed;
    this.signal();
  }

  stop(): void {
    this.stopped = true;
    this.signal();
  }

  /** Resolves at the next ack or stop. */
  changed(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  private signal(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}

/**
 * Items on their way out of the thread, sent in batches: at the end of the event-loop turn, or at 64
 * items, or 2 ms after the first of a batch (a producer that yields in a tight loop without giving the
 * loop a turn still streams).
 */
export class ItemOutbox {
  private items: StreamItem[] = [];
  private since = 0;
  private scheduled = false;

  constructor(private readonly send: (items: StreamItem[]) => void) {}

  push(item: StreamItem): void {
    if (this.items.length === 0) {
      this.since = performance.now();
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    }
    this.items.push(item);
    if (this.items.length >= 64 || performance.now() - this.since > 2) this.flush();
  }

  flush(): void {
    if (this.items.length === 0) return;
    const items = this.items;
    this.items = [];
    this.send(items);
  }
}

/** How a producer ended: after `count` items; `stopped` when told to stop; `error` when it threw. */
export interface GeneratorOutcome {
  readonly count: number;
  readonly stopped: boolean;
  readonly error?: unknown;
}

type AnyIterator = { next(): unknown; return?(v?: unknown): unknown };

function isIterator(v: unknown): v is AnyIterator {
  return typeof v === 'object' && v !== null && typeof (v as AnyIterator).next === 'function';
}

/**
 * Runs a generator object to its end (or its stop), sending its items through `out`. Never rejects:
 * the user's throw comes back as `error`, at the index where it happened.
 */
export async function driveGenerator(gen: unknown, plan: GeneratorPlan, ctl: GeneratorControl, label: string, out: ItemOutbox): Promise<GeneratorOutcome> {
  let index = 0;
  try {
    if (!isIterator(gen)) {
      throw new InvalidArgumentError(`${label} was called as a generator but returned ${describe(gen)}.`, {
        hint: 'Streaming calls need a generator function (function* or async function*) or generator method (*m() or async *m()).',
      });
    }
    for (;;) {
      if (ctl.stopped) {
        await gen.return?.(undefined);
        return { count: index, stopped: true };
      }
      if (plan.backpressure > 0 && index - ctl.consumed >= plan.backpressure) {
        out.flush();
        await ctl.changed();
        continue;
      }
      const r = (await gen.next()) as IteratorResult<unknown>;
      if (r.done) return { count: index, stopped: false };
      if (index >= plan.skip) out.push({ index, reply: encodeResult(await r.value, `item ${index} of ${label}`) });
      index++;
    }
  } catch (e) {
    return { count: index, stopped: false, error: e };
  } finally {
    out.flush();
  }
}
