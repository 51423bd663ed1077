/**
 * The object store as the core sees it inside one process: encoded values by object id, read whole or
 * in chunks for pulls. The node daemon and the driver each have one; in an embedded cluster they share it.
 */
export interface ProcessStore {
  /** Stores encoded bytes; the store may keep a view, callers must not mutate `data` afterwards. */
  putBytes(id: string, data: Uint8Array): void;
  getBytes(id: string): Uint8Array | undefined;
  has(id: string): boolean;
  delete(id: string): boolean;
  sizeOf(id: string): number | undefined;
  stats(): { usedBytes: number; capacityBytes: number; spilledBytes: number; numObjects: number };
}

/** A heap-backed store (used when no shared-memory store is configured). */
export class HeapProcessStore implements ProcessStore {
  private readonly m = new Map<string, Uint8Array>();
  private used = 0;
  constructor(private readonly capacityBytes = Number.MAX_SAFE_INTEGER) {}
  putBytes(id: string, data: Uint8Array): void {
    const prev = this.m.get(id);
    if (prev) this.used -= prev.byteLength;
    this.m.set(id, data);
    this.used += data.byteLength;
  }
  getBytes(id: string): Uint8Array | undefined {
    return this.m.get(id);
  }
  has(id: string): boolean {
    return this.m.has(id);
  }
  delete(id: string): boolean {
    const prev = this.m.get(id);
    if (!prev) return false;
    this.used -= prev.byteLength;
    this.m.delete(id);
    return true;
  }
  sizeOf(id: string): number | undefined {
    return this.m.get(id)?.byteLength;
  }
  stats(): { usedBytes: number; capacityBytes: number; spilledBytes: number; numObjects: number } {
    return { usedBytes: this.used, capacityBytes: this.capacityBytes, spilledBytes: 0, numObjects: this.m.size };
  }
}
