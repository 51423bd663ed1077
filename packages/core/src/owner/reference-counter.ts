/**
 * ReferenceCounter: when an object owned by this driver may be freed. An object stays alive while any
 * of these hold it:
 * - local references: ObjectRef instances in this process (counted with a FinalizationRegistry, so a
 *   dropped variable is noticed at the next garbage collection);
 * - submitted tasks that take it as an argument (top-level or nested), until they finish;
 * - other live objects that contain it (a put value or a task result holding the ref);
 * - borrowers: other processes that hold the ref (registered through OwnerService.UpdateBorrowers by
 *   their BorrowTable), counted per borrower address with signed deltas so that the order in which
 *   registrations and removals arrive does not matter.
 * When every count is zero, `onZero` frees the object (and its stored copies).
 */
import type { ObjectRef } from '@samsara/ray-common';

interface Counts {
  local: number;
  submitted: number;
  contained: number;
  /** Net registrations per borrower address (may be transiently negative, see BorrowTable). */
  borrowers?: Map<string, number>;
}

export class ReferenceCounter {
  private readonly counts = new Map<string, Counts>();
  /** Container object → the refs it holds (released when the container is freed). */
  private readonly containers = new Map<string, string[]>();
  private readonly registry = new FinalizationRegistry<string>((id) => this.change(id, 'local', -1));

  constructor(private readonly onZero: (id: string) => void) {}

  private entry(id: string): Counts {
    let c = this.counts.get(id);
    if (!c) {
      c = { local: 0, submitted: 0, contained: 0 };
      this.counts.set(id, c);
    }
    return c;
  }

  private change(id: string, kind: 'local' | 'submitted' | 'contained', delta: number): void {
    const c = this.counts.get(id);
    if (!c) return;
    c[kind] = Math.max(0, c[kind] + delta);
    this.freeIfUnused(id, c);
  }

  private freeIfUnused(id: string, c: Counts): void {
    if (c.local === 0 && c.submitted === 0 && c.contained === 0 && !c.borrowers) {
      this.counts.delete(id);
      const held = this.containers.get(id);
      if (held) {
        this.containers.delete(id);
        for (const h of held) this.change(h, 'contained', -1);
      }
      this.onZero(id);
    }
  }

  /** Counts a new ObjectRef instance of an owned object; returns it. */
  track<T extends ObjectRef>(ref: T): T {
    this.entry(ref.id).local++;
    this.registry.register(ref, ref.id);
    return ref;
  }

  /** A reference held elsewhere (a worker thread's ObjectRef instance), counted by explicit messages. */
  addLocal(ids: readonly string[]): void {
    for (const id of ids) this.entry(id).local++;
  }

  removeLocal(ids: readonly string[]): void {
    for (const id of ids) this.change(id, 'local', -1);
  }

  addSubmitted(ids: readonly string[]): void {
    for (const id of ids) if (this.counts.has(id)) this.entry(id).submitted++;
  }

  removeSubmitted(ids: readonly string[]): void {
    for (const id of ids) this.change(id, 'submitted', -1);
  }

  /** `container` holds `ids` until it is freed itself. */
  addContained(container: string, ids: readonly string[]): void {
    const owned = ids.filter((id) => this.counts.has(id));
    if (owned.length === 0) return;
    for (const id of owned) this.entry(id).contained++;
    const list = this.containers.get(container) ?? [];
    list.push(...owned);
    this.containers.set(container, list);
  }

  /**
   * Applies a borrower's deltas; returns the ids this counter does not know (freed or not owned here).
   */
  updateBorrowers(borrower: string, deltas: readonly { objectId: string; delta: number }[]): string[] {
    const unknown: string[] = [];
    for (const { objectId, delta } of deltas) {
      const c = this.counts.get(objectId);
      if (!c) {
        unknown.push(objectId);
        continue;
      }
      const b = c.borrowers ?? new Map<string, number>();
      const n = (b.get(borrower) ?? 0) + delta;
      if (n === 0) b.delete(borrower);
      else b.set(borrower, n);
      c.borrowers = b.size ? b : undefined;
      this.freeIfUnused(objectId, c);
    }
    return unknown;
  }

  /** A borrower process died: what it held is released. */
  dropBorrower(borrower: string): void {
    for (const [id, c] of [...this.counts]) {
      if (!c.borrowers?.delete(borrower)) continue;
      if (c.borrowers.size === 0) c.borrowers = undefined;
      this.freeIfUnused(id, c);
    }
  }

  /** Borrower addresses of an object (introspection and tests). */
  borrowersOf(id: string): string[] {
    return [...(this.counts.get(id)?.borrowers?.keys() ?? [])];
  }

  /** Forgets an object that was freed explicitly. */
  forget(id: string): void {
    this.counts.delete(id);
  }

  get size(): number {
    return this.counts.size;
  }
}
