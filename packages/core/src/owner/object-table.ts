/**
 * The owner's table of objects it created (task returns and puts).
 *
 * States: pending → ready | failed; ready → failed (object lost); any → deleted (freed).
 * A ready object is either inline (encoded bytes held here, ≤ 100 KiB) or stored in a node's store,
 * in which case `location` is the address serving pulls.
 */
import type { ObjectId } from '@samsara/ray-common';

export interface ObjectEntry {
  state: 'pending' | 'ready' | 'failed';
  inline?: Uint8Array;
  location?: string;
  locationNodeId?: string;
  sizeBytes: number;
  error?: Error;
  waiters?: (() => void)[];
}

export class ObjectTable {
  private readonly entries = new Map<string, ObjectEntry>();

  get size(): number {
    return this.entries.size;
  }

  createPending(id: ObjectId): ObjectEntry {
    const e: ObjectEntry = { state: 'pending', sizeBytes: 0 };
    this.entries.set(id, e);
    return e;
  }

  get(id: string): ObjectEntry | undefined {
    return this.entries.get(id);
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  resolveInline(id: string, bytes: Uint8Array): void {
    const e = this.ensure(id);
    e.state = 'ready';
    e.inline = bytes;
    e.location = undefined;
    e.sizeBytes = bytes.byteLength;
    this.wake(e);
  }

  resolveStored(id: string, location: string, nodeId: string, sizeBytes: number): void {
    const e = this.ensure(id);
    e.state = 'ready';
    e.inline = undefined;
    e.location = location;
    e.locationNodeId = nodeId;
    e.sizeBytes = sizeBytes;
    this.wake(e);
  }

  fail(id: string, error: Error): void {
    const e = this.ensure(id);
    e.state = 'failed';
    e.error = error;
    e.inline = undefined;
    this.wake(e);
  }

  /** Pending again (a retry or a reconstruction is under way). */
  reset(id: string): void {
    const e = this.ensure(id);
    e.state = 'pending';
    e.error = undefined;
    e.inline = undefined;
    e.location = undefined;
  }

  delete(id: string): ObjectEntry | undefined {
    const e = this.entries.get(id);
    this.entries.delete(id);
    if (e) this.wake(e);
    return e;
  }

  /** Ids of ready objects stored on a node (their copies there are gone when it dies). */
  storedOn(nodeId: string): string[] {
    const out: string[] = [];
    for (const [id, e] of this.entries) if (e.state === 'ready' && e.location && e.locationNodeId === nodeId) out.push(id);
    return out;
  }

  /** Calls `fn` once the object leaves the pending state (at once if it already has). */
  onSettled(id: string, fn: () => void): () => void {
    const e = this.entries.get(id);
    if (!e || e.state !== 'pending') {
      fn();
      return () => undefined;
    }
    (e.waiters ??= []).push(fn);
    return () => {
      const i = e.waiters?.indexOf(fn) ?? -1;
      if (i >= 0) e.waiters!.splice(i, 1);
    };
  }

  /** True when the object is ready, failed or unknown (nothing to wait for). */
  isSettled(id: string): boolean {
    const e = this.entries.get(id);
    return !e || e.state !== 'pending';
  }

  whenSettled(id: string): Promise<void> {
    return new Promise((resolve) => this.onSettled(id, resolve));
  }

  private ensure(id: string): ObjectEntry {
    let e = this.entries.get(id);
    if (!e) {
      e = { state: 'pending', sizeBytes: 0 };
      this.entries.set(id, e);
    }
    return e;
  }

  private wake(e: ObjectEntry): void {
    const w = e.waiters;
    if (!w) return;
    e.waiters = undefined;
    for (const fn of w) fn();
  }
}
