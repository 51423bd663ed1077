/**
 * ObjectRefGenerator: what calling a remote generator function (or an actor method that is a
 * generator) returns — the caller's end of a streaming task. It is an `AsyncIterable<ObjectRef<T>>`:
 * each item the producer yields arrives as an ObjectRef while the producer still runs (small items
 * inline, large ones left in the producing node's store and pulled on `get`).
 *
 * Rules (docs/core.md, "Streaming generators"):
 * - Items come in the order they were yielded, each once.
 * - An error thrown by the producer (or a failure that ends it: cancel, node death with no retries
 *   left) arrives as one last ref whose `get` rejects with that error, after the items before it; then
 *   the iteration ends (Ray's behaviour).
 * - Leaving the iteration early (`break`, `return()`), or dropping the generator unread, stops the
 *   producer (its generator's `return()` runs, so `finally` blocks run) and frees the items not yet
 *   yielded. `cancel(gen)` stops the producer too, but the items that already arrived stay readable.
 * - With `generatorBackpressure: N` the producer pauses while N yielded items are unconsumed; an item
 *   counts as consumed once this iterator has handed out its ref.
 */
import { ObjectRef, objectIdOf } from '@samsara/ray-common';
import type { GeneratorStream, StreamHandle } from '../runtime/runtime.js';

export type { GeneratorStream } from '../runtime/runtime.js';

/** Generators dropped unread stop their producer when collected. */
const dropped = new FinalizationRegistry<GeneratorStream>((s) => s.close());

export class ObjectRefGenerator<T = unknown> implements AsyncIterableIterator<ObjectRef<T>> {
  readonly #stream: GeneratorStream;
  #done = false;

  /** Made by the runtime; user code gets generators from `.remote()`. */
  constructor(
    /** The streaming task's id. */
    readonly taskId: string,
    /** Address of the process that owns the items (the caller). */
    readonly ownerAddress: string,
    stream: GeneratorStream,
  ) {
    this.#stream = stream;
    dropped.register(this, stream, this);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The next item's ref (waits until the producer yielded it); `done` once the stream ended. */
  async next(): Promise<IteratorResult<ObjectRef<T>, undefined>> {
    if (this.#done) return { done: true, value: undefined };
    const ref = await this.#stream.next();
    if (ref) return { done: false, value: ref as ObjectRef<T> };
    this.#finish();
    return { done: true, value: undefined };
  }

  /** Ends the iteration early: the producer stops and items not handed out are freed. */
  async return(): Promise<IteratorResult<ObjectRef<T>, undefined>> {
    if (!this.#done) {
      this.#finish();
      this.#stream.close();
    }
    return { done: true, value: undefined };
  }

  /** Whether the iteration ended (all items handed out, or left early). */
  get done(): boolean {
    return this.#done;
  }

  /** A ref naming the streaming task (what `cancel(gen)` cancels). */
  taskRef(): ObjectRef {
    return new ObjectRef(objectIdOf(this.taskId as never, 0), this.ownerAddress);
  }

  #finish(): void {
    this.#done = true;
    dropped.unregister(this);
  }
}

/** The generator of a streaming task a runtime submitted. */
export function generatorOf<T>(h: StreamHandle): ObjectRefGenerator<T> {
  return new ObjectRefGenerator<T>(h.taskId, h.ownerAddress, h.stream);
}

/** True for the value of a remote generator call. */
export function isObjectRefGenerator(v: unknown): v is ObjectRefGenerator {
  return v instanceof ObjectRefGenerator;
}
