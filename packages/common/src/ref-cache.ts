/**
 * RefCache: the live ObjectRef instance decoded for each object id in this thread, so that decoding the
 * same ref again (a `get` of an object holding 10,000 refs, repeated) returns that instance instead of
 * making and counting a new one. Reference counting watches instances with a FinalizationRegistry; one
 * instance per id keeps that cost per object rather than per decode. Entries whose instance was
 * collected are swept as the map grows.
 */
import type { ObjectRef } from './object-ref.js';

export class RefCache {
  private readonly byId = new Map<string, WeakRef<ObjectRef>>();
  private sweepAt = 1024;

  /** The live instance for `id`, if one was decoded and is still reachable. */
  get(id: string): ObjectRef | undefined {
    return this.byId.get(id)?.deref();
  }

  set(ref: ObjectRef): void {
    this.byId.set(ref.id, new WeakRef(ref));
    if (this.byId.size >= this.sweepAt) {
      for (const [id, w] of this.byId) if (w.deref() === undefined) this.byId.delete(id);
      this.sweepAt = Math.max(1024, 2 * this.byId.size);
    }
  }
}
