import { existsSync, readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, ObjectLostError, ObjectStoreFullError } from '@samsara/ray-common';
import { alignedSize, decodeFromStore, encodeForStore, SharedObjectStore } from '../src/index.js';
import { makeStore, MiB, pattern } from './helpers.js';

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups) c();
  cleanups = [];
});
function store(opts: Parameters<typeof makeStore>[0] = {}): ReturnType<typeof makeStore> {
  const s = makeStore(opts);
  cleanups.push(() => s.cleanup());
  return s;
}

describe('SharedObjectStore', () => {
  it('SharedObjectStore - put and get return a pinned view into the shared area', () => {
    const { store: s } = store();
    expect(s.mode).toBe('shm');
    const meta = s.putValue('a', new Float32Array([1, 2, 3]));
    expect(meta).toEqual({ format: 'typed', typedArray: 'Float32Array', sizeBytes: 12 });
    const v = s.get('a')!;
    const arr = decodeFromStore(v.meta, v.data) as Float32Array;
    expect(Array.from(arr)).toEqual([1, 2, 3]);
    expect(arr.buffer).toBe(s.sharedBuffer);
    expect(arr.byteOffset % 64).toBe(0);
    expect(s.stats()).toMatchObject({ numObjects: 1, usedBytes: 64, pinnedBytes: 64, mode: 'shm' });
    v.release();
    v.release(); // idempotent
    expect(s.stats().pinnedBytes).toBe(0);
    expect(s.has('a')).toBe(true);
    expect(s.get('missing')).toBeUndefined();
  });

  it('SharedObjectStore - a second put of the same id keeps the first (objects are immutable)', () => {
    const { store: s } = store();
    s.putValue('a', { v: 1 });
    s.putValue('a', { v: 2 });
    const v = s.get('a')!;
    expect(decodeFromStore(v.meta, v.data)).toEqual({ v: 1 });
    v.release();
  });

  it('SharedObjectStore - delete frees memory, or at the last release when pinned', () => {
    const { store: s } = store();
    s.putValue('a', pattern(MiB, 1));
    s.putValue('b', pattern(MiB, 2));
    const used = s.stats().usedBytes;
    const v = s.get('a')!;
    expect(s.delete('a')).toBe(true);
    expect(s.has('a')).toBe(false);
    expect(s.stats().usedBytes).toBe(used); // still pinned: bytes stay valid
    expect(v.data[5]).toBe(pattern(MiB, 1)[5]);
    v.release();
    expect(s.stats().usedBytes).toBe(used - MiB);
    expect(s.delete('a')).toBe(false);
    s.delete('b');
    expect(s.stats()).toMatchObject({ usedBytes: 0, numObjects: 0 });
  });

  it('SharedObjectStore - memory is reused: put/delete cycles never grow usage', () => {
    const { store: s } = store({ capacityBytes: 8 * MiB, spillingEnabled: false });
    for (let i = 0; i < 200; i++) {
      s.putValue(`o${i}`, pattern(((i * 7919) % 3) * MiB + 100, i));
      if (i >= 2) s.delete(`o${i - 2}`);
    }
    expect(s.stats().numObjects).toBe(2);
    s.delete('o198');
    s.delete('o199');
    expect(s.stats().usedBytes).toBe(0);
  });

  it('SharedObjectStore - holding 3x capacity in objects, every one reads back correct via spilling', async () => {
    const { store: s, spillDir } = store({ capacityBytes: 8 * MiB });
    const n = 24; // 24 x 1 MiB into 8 MiB
    for (let i = 0; i < n; i++) s.putValue(`o${i}`, pattern(MiB, i));
    const st = s.stats();
    expect(st.numObjects).toBe(n);
    expect(st.usedBytes).toBeLessThanOrEqual(0.8 * 8 * MiB);
    expect(st.numSpilled).toBeGreaterThanOrEqual(n - 8);
    expect(st.spilledBytes).toBe(st.numSpilled * MiB);
    expect(s.get('o0')).toBeUndefined(); // spilled: get() is in-memory only
    for (let i = 0; i < n; i++) {
      const v = (await s.getAsync(`o${i}`))!;
      expect(v).toBeDefined();
      const got = decodeFromStore(v.meta, v.data) as Uint8Array;
      expect(Buffer.compare(got, pattern(MiB, i))).toBe(0);
      v.release();
    }
    expect(s.stats().numObjects).toBe(n);
    for (let i = 0; i < n; i++) s.delete(`o${i}`);
    expect(s.stats()).toMatchObject({ usedBytes: 0, spilledBytes: 0, numSpilled: 0, numObjects: 0 });
    // spill files are gone with their objects; the directory goes at close
    const dirs = readdirSync(spillDir);
    expect(dirs.length).toBe(1);
    expect(readdirSync(`${spillDir}/${dirs[0]}`)).toEqual([]);
  });

  it('SharedObjectStore - concurrent getAsync of one spilled object share one restore', async () => {
    const { store: s } = store({ capacityBytes: 4 * MiB });
    for (let i = 0; i < 8; i++) s.putValue(`o${i}`, pattern(MiB, i));
    const [a, b] = await Promise.all([s.getAsync('o0'), s.getAsync('o0')]);
    expect(a!.data.byteOffset).toBe(b!.data.byteOffset);
    expect(Buffer.compare(a!.data, pattern(MiB, 0))).toBe(0);
    a!.release();
    b!.release();
  });

  it('SharedObjectStore - full store without spilling throws ObjectStoreFullError saying how full and what to do', () => {
    const { store: s } = store({ capacityBytes: 4 * MiB, spillingEnabled: false });
    s.putValue('a', pattern(3 * MiB, 1));
    let err: unknown;
    try {
      s.putValue('b', pattern(2 * MiB, 2));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ObjectStoreFullError);
    const msg = (err as Error).message;
    expect(msg).toContain('Object store is full: cannot place object b (2.0 MiB); 3.0 MiB of 4.0 MiB used (75%)');
    expect(msg).toContain('spilling disabled');
    expect(msg).toMatch(/free\(refs\).*raise --object-store-memory/);
    expect((err as ObjectStoreFullError).ids).toEqual({ objectId: 'b' });
  });

  it('SharedObjectStore - everything pinned with spilling on throws ObjectStoreFullError naming pinned bytes', () => {
    const { store: s } = store({ capacityBytes: 4 * MiB });
    s.putValue('a', pattern(3 * MiB, 1));
    const v = s.get('a')!;
    expect(() => s.putValue('b', pattern(2 * MiB, 2))).toThrow(ObjectStoreFullError);
    expect(() => s.putValue('b', pattern(2 * MiB, 2))).toThrow(/3\.0 MiB pinned by readers or writers.*Everything left in memory is pinned/);
    v.release();
    s.putValue('b', pattern(2 * MiB, 2)); // now 'a' can be spilled
    expect(s.stats().numSpilled).toBe(1);
  });

  it('SharedObjectStore - an object larger than capacity goes straight to disk with spilling, and throws without', async () => {
    const { store: s } = store({ capacityBytes: 2 * MiB });
    s.putValue('big', pattern(3 * MiB, 9));
    expect(s.stats()).toMatchObject({ usedBytes: 0, numSpilled: 1, spilledBytes: 3 * MiB });
    expect(s.get('big')).toBeUndefined();
    const v = (await s.getAsync('big'))!;
    expect(Buffer.compare(v.data, pattern(3 * MiB, 9))).toBe(0);
    v.release();
    const { store: t } = store({ capacityBytes: 2 * MiB, spillingEnabled: false });
    expect(() => t.putValue('big', pattern(3 * MiB, 9))).toThrow(/larger than the whole store: raise --object-store-memory above 3\.0 MiB/);
  });

  it('SharedObjectStore - readChunks/createWriter move a 256 MiB object between two stores', async () => {
    const size = 256 * MiB;
    const { store: a } = store({ capacityBytes: size + MiB });
    const { store: b } = store({ capacityBytes: size + MiB });
    const src = new Float64Array(size / 8);
    for (let i = 0; i < src.length; i += 4096) src[i] = i;
    src[src.length - 1] = 42;
    a.putValue('big', src);
    const heapBefore = process.memoryUsage().arrayBuffers;
    const w = b.createWriter('big', { format: 'typed', typedArray: 'Float64Array', sizeBytes: size });
    expect(b.has('big')).toBe(false);
    let off = 0;
    let chunks = 0;
    for await (const chunk of a.readChunks('big', 0, 4 * MiB)) {
      expect(chunk.buffer).toBe(a.sharedBuffer); // served from shared memory, not copied
      w.write(off, chunk);
      off += chunk.byteLength;
      chunks++;
    }
    w.seal();
    expect(chunks).toBe(64);
    expect(process.memoryUsage().arrayBuffers - heapBefore).toBeLessThan(64 * MiB);
    const va = a.get('big')!;
    const vb = b.get('big')!;
    expect(Buffer.compare(va.data, vb.data)).toBe(0);
    const out = decodeFromStore(vb.meta, vb.data) as Float64Array;
    expect(out[4096]).toBe(4096);
    expect(out[out.length - 1]).toBe(42);
    va.release();
    vb.release();
  });

  it('SharedObjectStore - readChunks of a spilled object streams from its file, resuming at an offset', async () => {
    const { store: s } = store({ capacityBytes: 4 * MiB });
    s.putValue('x', pattern(3 * MiB, 3));
    s.putValue('y', pattern(3 * MiB, 4)); // spills x
    expect(s.get('x')).toBeUndefined();
    const parts: Uint8Array[] = [];
    for await (const c of s.readChunks('x', MiB, 512 * 1024)) parts.push(c);
    expect(parts.length).toBe(4);
    expect(Buffer.compare(Buffer.concat(parts), pattern(3 * MiB, 3).subarray(MiB))).toBe(0);
  });

  it('SharedObjectStore - readChunks of a missing object is an ObjectLostError', async () => {
    const { store: s } = store();
    const it = s.readChunks('nope', 0, 1024)[Symbol.asyncIterator]();
    await expect(it.next()).rejects.toThrow(ObjectLostError);
  });

  it('SharedObjectStore - a writer checks bounds, refuses an early seal and frees on abort', () => {
    const { store: s } = store();
    const w = s.createWriter('w', { format: 'buffer', sizeBytes: 100 });
    expect(() => w.write(90, new Uint8Array(20))).toThrow(InvalidArgumentError);
    w.write(0, new Uint8Array(50));
    expect(() => w.seal()).toThrow(/seal\(\) after 50 of 100 bytes/);
    expect(() => s.createWriter('w', { format: 'buffer', sizeBytes: 100 })).toThrow(/already exists or is being received/);
    w.abort();
    expect(s.has('w')).toBe(false);
    expect(s.stats().usedBytes).toBe(0);
    expect(() => w.write(0, new Uint8Array(1))).toThrow(/after seal\(\) or abort\(\)/);
  });

  it('SharedObjectStore - a writer hands out its memory to receive in place; a delete meanwhile keeps it reserved until abort', () => {
    const { store: s } = store();
    const w = s.createWriter('r', { format: 'buffer', sizeBytes: 4 * MiB });
    const region = w.region(0, 4 * MiB)!;
    region.fill(9);
    w.commit(0, 4 * MiB);
    expect(() => w.region(4 * MiB - 1, 2)).toThrow(InvalidArgumentError);
    expect(s.delete('r')).toBe(true);
    // Still reserved: a socket may be reading into the region. Another object must not land there.
    s.putValue('other', new Uint8Array(8 * MiB).fill(1));
    expect(region.every((b) => b === 9)).toBe(true);
    expect(() => w.seal()).toThrow(/after the object was deleted/);
    w.abort();
    expect(s.has('r')).toBe(false);
    expect(s.stats().usedBytes).toBe(alignedSize(8 * MiB));
  });

  it('SharedObjectStore - a writer to a spill file has no in-place region', () => {
    const { store: s } = store({ capacityBytes: MiB });
    const w = s.createWriter('big', { format: 'buffer', sizeBytes: 2 * MiB });
    expect(w.region(0, 10)).toBeUndefined();
    w.write(0, new Uint8Array(2 * MiB).fill(3));
    w.seal();
    expect(s.has('big')).toBe(true);
  });

  it('SharedObjectStore - locate gives the area file, offset and length of an object', () => {
    const { store: s } = store();
    s.putValue('a', Buffer.from('abc'));
    const loc = s.locate('a')!;
    expect(loc.path).toBe(s.areaPath);
    expect(existsSync(loc.path)).toBe(true);
    expect(loc.length).toBe(3);
    expect(Buffer.from(s.sharedBuffer, loc.offset, 3).toString()).toBe('abc');
  });

  it('SharedObjectStore - close removes the shm file and spill dir; stale views read zeros', () => {
    const { store: s, spillDir } = store({ capacityBytes: 2 * MiB });
    s.putValue('a', pattern(MiB, 1));
    s.putValue('b', pattern(MiB, 2)); // spills a
    const v = s.get('b')!;
    const path = s.areaPath!;
    expect(existsSync(path)).toBe(true);
    expect(existsSync(spillDir)).toBe(true);
    s.close();
    expect(existsSync(path)).toBe(false);
    expect(existsSync(spillDir)).toBe(false);
    expect(v.data[100]).toBe(0);
    expect(() => s.putValue('c', 1)).toThrow(/closed/);
  });

  it('SharedObjectStore - heap mode (no shared memory file) works the same within the process', async () => {
    const { store: s } = store({ capacityBytes: 2 * MiB, useSharedMemoryFile: false });
    expect(s.mode).toBe('heap');
    expect(s.areaPath).toBeUndefined();
    s.putValue('a', pattern(MiB, 1));
    s.putValue('b', pattern(MiB, 2));
    expect(s.locate('a')).toBeUndefined();
    const v = (await s.getAsync('a'))!;
    expect(Buffer.compare(v.data, pattern(MiB, 1))).toBe(0);
    expect(v.data.buffer).toBe(s.sharedBuffer);
    expect(s.stats().mode).toBe('heap');
  });

  it('SharedObjectStore - bad options are InvalidArgumentErrors listing the valid keys', () => {
    expect(() => new SharedObjectStore({ capacityBytes: 1 << 20, spillDir: '/tmp/x', spilThreshold: 0.5 } as never)).toThrow(
      /unknown option "spilThreshold".*Valid keys: capacityBytes, spillDir, spillThreshold/,
    );
    expect(() => new SharedObjectStore({ capacityBytes: -1, spillDir: '/tmp/x' })).toThrow(/capacityBytes must be an integer/);
    expect(() => new SharedObjectStore({ capacityBytes: 1 << 20, spillDir: '/tmp/x', spillThreshold: 2 })).toThrow(/spillThreshold must be in \(0, 1\]/);
  });

  it('SharedObjectStore - putEncoded checks that the segments match the meta', () => {
    const { store: s } = store();
    const enc = encodeForStore(new Uint8Array(10));
    expect(() => s.putEncoded('a', { meta: { ...enc.meta, sizeBytes: 11 }, segments: enc.segments })).toThrow(/segments hold 10 bytes but meta.sizeBytes is 11/);
  });
});

describe('store helpers', () => {
  it('removeStaleAreas - removes area files of dead processes and keeps live ones', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { spawnSync } = await import('node:child_process');
    const { removeStaleAreas } = await import('../src/index.js');
    const dir = mkdtempSync(`${tmpdir()}/rayts-shm-`);
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(`${dir}/rayts-store-${dead}-aaaa`, '');
    writeFileSync(`${dir}/rayts-store-${process.pid}-bbbb`, '');
    writeFileSync(`${dir}/other-file`, '');
    expect(removeStaleAreas(dir)).toEqual([`${dir}/rayts-store-${dead}-aaaa`]);
    expect(readdirSync(dir).sort()).toEqual(['other-file', `rayts-store-${process.pid}-bbbb`]);
    rmSync(dir, { recursive: true });
  });

  it('releaseWhenCollected - a primitive value cannot alias the store and releases at once', async () => {
    const { releaseWhenCollected } = await import('../src/index.js');
    let released = 0;
    releaseWhenCollected(42, { release: () => released++ });
    expect(released).toBe(1);
  });

  it('defaultObjectStoreMemory - 30% of available memory, whole MiB, within /dev/shm', async () => {
    const { defaultObjectStoreMemory } = await import('../src/index.js');
    const os = await import('node:os');
    const bytes = defaultObjectStoreMemory();
    expect(bytes % MiB).toBe(0);
    expect(bytes).toBeGreaterThanOrEqual(64 * MiB);
    expect(bytes).toBeLessThanOrEqual(0.3 * os.totalmem());
  });
});
