import { describe, expect, it } from 'vitest';
import { Allocator, ALIGNMENT } from '../src/index.js';

describe('Allocator', () => {
  it('Allocator - offsets are 64-byte aligned and sizes rounded up', () => {
    const a = new Allocator(1 << 20);
    const offs = [1, 63, 64, 65, 1000, 0].map((n) => a.allocate(n)!);
    for (const o of offs) expect(o % ALIGNMENT).toBe(0);
    expect(a.usedBytes).toBe(64 + 64 + 64 + 128 + 1024 + 64);
    expect(new Set(offs).size).toBe(offs.length);
  });

  it('Allocator - freed space is reused and neighbours coalesce into one range', () => {
    const a = new Allocator(64 * 1024);
    const blocks = Array.from({ length: 64 }, () => a.allocate(1024)!);
    expect(a.allocate(64)).toBeUndefined(); // full
    // free every other block: 32 KiB free, but no range above 1 KiB
    for (let i = 0; i < 64; i += 2) a.free(blocks[i]);
    expect(a.stats().freeBytes).toBe(32 * 1024);
    expect(a.allocate(2048)).toBeUndefined(); // fragmented
    expect(a.allocate(1024)).toBe(blocks[0]); // a hole is reused
    a.free(blocks[0]);
    // free the rest: everything coalesces back into one range
    for (let i = 1; i < 64; i += 2) a.free(blocks[i]);
    const s = a.stats();
    expect(s.numFreeRanges).toBe(1);
    expect(s.largestFreeBytes).toBe(64 * 1024);
    expect(a.allocate(64 * 1024)).toBe(0);
  });

  it('Allocator - a mixed workload of thousands of objects stays consistent (its speed is measured in bench/)', () => {
    const cap = 256 * 1024 * 1024;
    const a = new Allocator(cap);
    let seed = 12345;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const live: { off: number; size: number }[] = [];
    for (let i = 0; i < 50_000; i++) {
      if (live.length > 0 && (rnd() < 0.45 || live.length > 4000)) {
        const k = Math.floor(rnd() * live.length);
        a.free(live[k].off);
        live[k] = live[live.length - 1];
        live.pop();
      } else {
        const size = Math.floor(rnd() < 0.9 ? rnd() * 64 * 1024 : rnd() * 4 * 1024 * 1024) + 1;
        const off = a.allocate(size);
        if (off !== undefined) live.push({ off, size });
      }
    }
    // no two live ranges overlap
    const sorted = [...live].sort((x, y) => x.off - y.off);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i].off).toBeGreaterThanOrEqual(sorted[i - 1].off + sorted[i - 1].size);
    expect(a.stats().numAllocations).toBe(live.length);
    for (const l of live) a.free(l.off);
    expect(a.stats()).toMatchObject({ usedBytes: 0, numFreeRanges: 1, largestFreeBytes: cap });
  });

  it('Allocator - freeing an unknown offset throws', () => {
    const a = new Allocator(4096);
    expect(() => a.free(128)).toThrow(/no allocation at offset 128/);
  });
});
