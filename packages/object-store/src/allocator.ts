/**
 * Offset allocator for one fixed-size shared area.
 *
 * Responsible for: handing out 64-byte aligned ranges of `[0, capacity)` and taking them back, with
 * neighbouring free ranges merged at once (coalescing) so that freed space is reusable for large objects.
 * Not responsible for: memory itself, pinning or spilling (the store decides what to free).
 *
 * Free ranges sit in segregated size classes (TLSF-style: exact classes below 1 KiB, then four classes per
 * power of two), indexed by start and by end so that merging is O(1). `allocate` looks at a bounded number
 * of ranges in the request's own class, then takes the first range of the lowest larger non-empty class
 * (every range there fits). All operations are O(1) in the number of objects (at most ~200 classes are
 * visited); only a request that fits nothing but a range in its own class may scan that class.
 */

/** Alignment of every allocation (Arrow wants 8, typed arrays their element size, cache lines 64). */
export const ALIGNMENT = 64;

const EXACT_CLASSES = 16; // units (64 B) 1..15 get a class each
const SUBCLASS_BITS = 2; // 4 classes per power of two above that
const SCAN_LIMIT = 16; // ranges tried in the request's own class before moving up

interface FreeRange {
  start: number; // in bytes
  size: number; // in bytes
  cls: number;
}

function classOf(units: number): number {
  if (units < EXACT_CLASSES) return units;
  const e = Math.floor(Math.log2(units));
  const sub = Math.floor(units / 2 ** (e - SUBCLASS_BITS)) & ((1 << SUBCLASS_BITS) - 1);
  return EXACT_CLASSES + (e - 4) * (1 << SUBCLASS_BITS) + sub;
}

/** Rounds `bytes` up to the allocation unit; a zero-byte object still takes one unit (unique offset). */
export function alignedSize(bytes: number): number {
  return Math.max(ALIGNMENT, Math.ceil(bytes / ALIGNMENT) * ALIGNMENT);
}

/** Allocator statistics, for tests and the store's error messages. */
export interface AllocatorStats {
  readonly capacityBytes: number;
  readonly usedBytes: number;
  readonly freeBytes: number;
  readonly numAllocations: number;
  readonly numFreeRanges: number;
  readonly largestFreeBytes: number;
}

/**
 * Hands out aligned ranges of a fixed area. Sizes are rounded up to {@link ALIGNMENT}.
 *
 * @example
 * const a = new Allocator(1 << 20);
 * const off = a.allocate(1000); // 0
 * a.free(off);
 */
export class Allocator {
  readonly capacityBytes: number;
  private readonly classes: Set<FreeRange>[] = [];
  private readonly byStart = new Map<number, FreeRange>();
  private readonly byEnd = new Map<number, FreeRange>();
  private readonly allocated = new Map<number, number>();
  private used = 0;

  /** `capacityBytes` is rounded down to {@link ALIGNMENT}. */
  constructor(capacityBytes: number) {
    this.capacityBytes = Math.floor(capacityBytes / ALIGNMENT) * ALIGNMENT;
    const n = classOf(this.capacityBytes / ALIGNMENT || 1) + 1;
    for (let i = 0; i < n; i++) this.classes.push(new Set());
    if (this.capacityBytes > 0) this.insert(0, this.capacityBytes);
  }

  /** Bytes in allocated ranges (after rounding). */
  get usedBytes(): number {
    return this.used;
  }

  /**
   * Reserves `sizeBytes` (rounded up to 64) and returns the range's offset, or `undefined` when no free
   * range is large enough (the caller may free something and retry).
   */
  allocate(sizeBytes: number): number | undefined {
    const size = alignedSize(sizeBytes);
    if (size > this.capacityBytes - this.used) return undefined;
    const cls = classOf(size / ALIGNMENT);
    let found: FreeRange | undefined;
    if (cls < this.classes.length) {
      let tried = 0;
      for (const r of this.classes[cls]) {
        if (r.size >= size) {
          found = r;
          break;
        }
        if (++tried >= SCAN_LIMIT) break;
      }
    }
    for (let c = cls + 1; !found && c < this.classes.length; c++) {
      const set = this.classes[c];
      if (set.size > 0) found = set.values().next().value;
    }
    if (!found && cls < this.classes.length) {
      for (const r of this.classes[cls]) {
        if (r.size >= size) {
          found = r;
          break;
        }
      }
    }
    if (!found) return undefined;
    this.remove(found);
    if (found.size > size) this.insert(found.start + size, found.size - size);
    this.allocated.set(found.start, size);
    this.used += size;
    return found.start;
  }

  /** Returns the range that starts at `offset`. Throws on an offset that is not allocated (a store bug). */
  free(offset: number): void {
    const size = this.allocated.get(offset);
    if (size === undefined) throw new Error(`Allocator.free: no allocation at offset ${offset}`);
    this.allocated.delete(offset);
    this.used -= size;
    let start = offset;
    let end = offset + size;
    const left = this.byEnd.get(start);
    if (left) {
      this.remove(left);
      start = left.start;
    }
    const right = this.byStart.get(end);
    if (right) {
      this.remove(right);
      end = right.start + right.size;
    }
    this.insert(start, end - start);
  }

  /** Size (after rounding) of the allocation at `offset`, or undefined. */
  sizeOf(offset: number): number | undefined {
    return this.allocated.get(offset);
  }

  stats(): AllocatorStats {
    let largest = 0;
    for (let c = this.classes.length - 1; c >= 0 && largest === 0; c--) {
      for (const r of this.classes[c]) largest = Math.max(largest, r.size);
    }
    return {
      capacityBytes: this.capacityBytes,
      usedBytes: this.used,
      freeBytes: this.capacityBytes - this.used,
      numAllocations: this.allocated.size,
      numFreeRanges: this.byStart.size,
      largestFreeBytes: largest,
    };
  }

  private insert(start: number, size: number): void {
    const r: FreeRange = { start, size, cls: classOf(size / ALIGNMENT) };
    this.classes[r.cls].add(r);
    this.byStart.set(start, r);
    this.byEnd.set(start + size, r);
  }

  private remove(r: FreeRange): void {
    this.classes[r.cls].delete(r);
    this.byStart.delete(r.start);
    this.byEnd.delete(r.start + r.size);
  }
}
