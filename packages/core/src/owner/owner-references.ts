/**
 * OwnerReferences: the reference counting and borrowing of one owner (CoreWorker). Responsible for when
 * an owned object may be freed (ReferenceCounter: ref instances here, tasks that take it, objects that
 * contain it, borrowers elsewhere), for the refs this process borrows from other owners (BorrowTable),
 * and for freeing an owned object's copies when nothing refers to it. Not responsible for creating
 * objects or fetching values (ObjectResolver) or for tasks (TaskSubmitter).
 */
import type * as grpc from '@grpc/grpc-js';
import { ObjectRef, RefCache, type ObjectId } from '@samsara/ray-common';
import type { rayts } from '@samsara/ray-proto';
import { ReferenceCounter } from './reference-counter.js';
import { BorrowTable } from './borrow-table.js';
import { OwnerClient } from '../rpc/services.js';
import { dialPeer } from '../edge/edge-address.js';
import { callUnary } from '../rpc/auth.js';
import type { OwnerState } from './owner-state.js';
import type { NestedRef, TaskRecord } from './task-record.js';

export class OwnerReferences {
  /** Frees owned objects nothing refers to any more (drivers only; see ReferenceCounter). */
  readonly refs?: ReferenceCounter;
  /** Refs this process holds to objects owned elsewhere (the borrower side; see BorrowTable). */
  readonly borrows?: BorrowTable;
  /** Owned objects → the borrowed refs they contain (held until the container is freed). */
  private readonly borrowedIn = new Map<string, string[]>();
  private readonly borrowRegistry = new FinalizationRegistry<string>((id) => this.borrows?.unhold(id));
  /** The live instance decoded for each ref (see RefCache). */
  private readonly decoded = new RefCache();
  /** Owned objects freed while their task was still pending: dropped when it settles. */
  readonly freeWhenSettled = new Set<string>();
  private readonly countInstances: boolean;
  /** OwnerService clients by address (borrower registrations, and asking owners for objects). */
  private readonly ownerClients = new Map<string, grpc.Client>();

  constructor(private readonly s: OwnerState) {
    const o = s.o;
    const counting = o.refCounting ?? (o.isDriver ? 'instances' : undefined);
    if (counting) {
      this.refs = new ReferenceCounter((id) => this.release(id));
      this.borrows = new BorrowTable({ update: (owner, deltas) => this.updateBorrowersAt(owner, this.s.o.ownAddress, deltas) });
    }
    this.countInstances = counting === 'instances';
  }

  ref(objectId: ObjectId): ObjectRef {
    const r = new ObjectRef(objectId, this.s.o.ownAddress);
    if (!this.refs) return r;
    if (this.countInstances) return this.refs.track(r);
    // Handed to a worker thread, which reports when its instance is collected.
    this.refs.addLocal([objectId]);
    return r;
  }

  /**
   * References reported by worker threads: `inc` new instances (id, owner), `dec` collected ones. An
   * instance of an object owned here is a local reference; of one owned elsewhere, a borrow.
   */
  workerRefs(inc: readonly NestedRef[], dec: readonly string[]): void {
    if (!this.refs) return;
    for (const [id, owner] of inc) {
      if (this.s.objects.has(id)) this.refs.addLocal([id]);
      else this.borrows!.hold(id, owner || this.s.o.ownAddress);
    }
    for (const id of dec) {
      if (this.borrows!.has(id)) this.borrows!.unhold(id);
      else this.refs.removeLocal([id]);
    }
  }

  /** Resolves when this process's borrower registrations in flight were acknowledged by the owners. */
  borrowsSettled(): Promise<void> {
    return this.borrows ? this.borrows.settled() : Promise.resolve();
  }

  /** Holds `n` borrows of a ref owned elsewhere (e.g. while a result carrying it is being sent). */
  holdBorrowed(id: string, owner: string): void {
    this.borrows?.hold(id, owner);
  }

  unholdBorrowed(id: string): void {
    this.borrows?.unhold(id);
  }

  /** OwnerService.UpdateBorrowers for objects owned here; returns the ids not known here. */
  updateBorrowers(borrower: string, deltas: readonly { objectId: string; delta: number }[]): string[] {
    if (!this.refs) return deltas.filter((d) => !this.s.objects.has(d.objectId)).map((d) => d.objectId);
    return this.refs.updateBorrowers(borrower, deltas);
  }

  /** Registers `borrower` (another process) with `owner` as a borrower of `ids`; resolves when counted. */
  async registerBorrowerFor(owner: string, borrower: string, ids: readonly string[]): Promise<void> {
    await this.updateBorrowersAt(owner, borrower, ids.map((objectId) => ({ objectId, delta: 1 }))).catch((e) =>
      this.s.o.log.warn({ err: (e as Error).message, owner, borrower }, 'could not register a borrower with the owner of refs in a result'),
    );
  }

  /** OwnerService.UpdateBorrowers at `owner`, for `borrower`. */
  private async updateBorrowersAt(owner: string, borrower: string, deltas: { objectId: string; delta: number }[]): Promise<void> {
    await callUnary(this.ownerClient(owner), 'updateBorrowers', { borrower, deltas }, this.s.o.token, 10_000);
  }

  /** A ref decoded in this process: a local reference when it names an object we own, else a borrow. */
  decodedRef(id: ObjectId, owner: string): ObjectRef {
    if (!this.refs || !this.countInstances) return new ObjectRef(id, owner);
    // One counted instance per object: decoding the same ref again returns it.
    const live = this.decoded.get(id);
    if (live) return live;
    const r = new ObjectRef(id, owner);
    if (this.s.objects.has(id)) this.refs.track(r);
    else {
      this.borrows!.hold(id, owner || this.s.o.ownAddress);
      this.borrowRegistry.register(r, id);
    }
    this.decoded.set(r);
    return r;
  }

  /**
   * Refs inside an object this process owns (a put value or a task result): owned ones are counted as
   * contained, borrowed ones held until the container is freed. `registered[i]` is the owner address
   * when the sender already registered us as a borrower of ref i (task results), else ''.
   */
  holdContained(container: string, ids: readonly string[], owners: readonly string[] | undefined, registered: boolean): void {
    if (!this.refs) return;
    const owned: string[] = [];
    const borrowed: string[] = [];
    ids.forEach((id, i) => {
      const owner = owners?.[i] ?? '';
      if (this.s.objects.has(id)) {
        owned.push(id);
        // A node registered us as a borrower of our own object (it could not tell): undo it.
        if (registered && owner) this.refs!.updateBorrowers(this.s.o.ownAddress, [{ objectId: id, delta: -1 }]);
        return;
      }
      if (registered && owner) this.borrows!.registeredBy(id, owner);
      this.borrows!.hold(id, owner || this.s.o.ownAddress);
      borrowed.push(id);
    });
    if (owned.length) this.refs.addContained(container, owned);
    if (borrowed.length) this.borrowedIn.set(container, [...(this.borrowedIn.get(container) ?? []), ...borrowed]);
  }

  /** A result we will not keep: give back the borrower registrations its sender made for us. */
  dropRegisteredContained(r: rayts.TaskResult): void {
    if (!r.containedRefs?.length || !r.containedOwners?.length || !this.borrows) return;
    r.containedRefs.forEach((id, i) => {
      const owner = r.containedOwners[i];
      if (!owner) return;
      if (this.s.objects.has(id)) this.refs?.updateBorrowers(this.s.o.ownAddress, [{ objectId: id, delta: -1 }]);
      else this.borrows!.giveBack(id, owner);
    });
  }

  releaseContained(container: string): void {
    const held = this.borrowedIn.get(container);
    if (!held) return;
    this.borrowedIn.delete(container);
    for (const id of held) this.borrows?.unhold(id);
  }

  /** Records the refs a task holds (its arguments, top-level and nested) until it finishes. */
  holdArgs(rec: TaskRecord): void {
    if (!this.refs) return;
    const owned: string[] = [];
    const borrowed: string[] = [];
    const add = (id: string, owner: string) => {
      if (this.s.objects.has(id)) owned.push(id);
      else {
        this.borrows!.hold(id, owner || this.s.o.ownAddress);
        borrowed.push(id);
      }
    };
    for (const a of rec.args) {
      if (a.kind === 'ref') add(a.ref.id, a.ref.ownerAddress);
      else if (a.nested) for (const [id, owner] of a.nested) add(id, owner);
    }
    rec.argRefs = owned;
    if (borrowed.length) rec.borrowedArgs = borrowed;
    this.refs.addSubmitted(owned);
  }

  /** Nothing refers to an owned object any more: drop it and its stored copies. */
  private release(id: string): void {
    this.releaseContained(id);
    const e = this.s.objects.get(id);
    if (!e) return;
    if (e.state === 'pending') {
      this.freeWhenSettled.add(id);
      return;
    }
    this.dropObject(id);
  }

  dropObject(id: string): void {
    this.s.lineage.delete(id);
    const e = this.s.objects.delete(id);
    if (!e?.location) return;
    if (this.s.o.store.delete(id)) return;
    const loc = e.location;
    callUnary(this.s.pulls.client(loc), 'freeObjects', { objectIds: [id] }, this.s.o.token).catch(() => undefined);
  }

  ownerClient(address: string): grpc.Client {
    let c = this.ownerClients.get(address);
    if (!c) {
      c = dialPeer(OwnerClient, address);
      this.ownerClients.set(address, c);
    }
    return c;
  }

  /** Closes the clients and drops the borrows (the owner is closing). */
  close(): void {
    this.borrows?.clear();
    for (const c of this.ownerClients.values()) c.close();
  }
}
