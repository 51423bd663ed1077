import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { InvalidArgumentError } from '@samsara/ray-common';
import { mapForeignArea } from '../src/index.js';
import { makeStore, MiB } from './helpers.js';

const run = promisify(execFile);
const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups) c();
  cleanups = [];
});

describe('sharing the store', () => {
  it('SharedObjectStore - a worker thread reads an object through the SharedArrayBuffer without a copy', async () => {
    const s = makeStore({ capacityBytes: 64 * MiB });
    cleanups.push(() => s.cleanup());
    const arr = Float64Array.from({ length: 4 * MiB / 8 }, (_, i) => i % 1000);
    const expected = arr.reduce((a, b) => a + b, 0);
    s.store.putValue('a', arr);
    const loc = s.store.locate('a')!;
    const view = s.store.get('a')!; // pinned while the worker reads
    const markerOffset = loc.offset + loc.length; // padding after the object: free to scribble on
    const heapBefore = process.memoryUsage().arrayBuffers;
    const worker = new Worker(fixture('read-in-worker.mjs'), {
      workerData: { buffer: s.store.sharedBuffer, offset: loc.offset, length: loc.length, markerOffset },
    });
    const reply = await new Promise<{ sum: number; isShared: boolean; byteLength: number }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(reply).toEqual({ sum: expected, isShared: true, byteLength: s.store.sharedBuffer.byteLength });
    // the worker's write is visible here: same memory, not a copy
    expect(new Uint8Array(s.store.sharedBuffer)[markerOffset]).toBe(0xab);
    expect(process.memoryUsage().arrayBuffers - heapBefore).toBeLessThan(MiB);
    view.release();
  });

  it('mapForeignArea - a second process maps the area and reads an Arrow table equal to the original, in place', async () => {
    const s = makeStore({ capacityBytes: 128 * MiB });
    cleanups.push(() => s.cleanup());
    const n = 4_000_000; // x alone is 32 MiB: a copy in the child would show in its anonymous memory
    const x = Float64Array.from({ length: n }, (_, i) => i % 100);
    const label = Array.from({ length: 1000 }, (_, i) => `row-${i}`);
    const table = tableFromArrays({ x, y: new Float32Array(n).fill(0.5), label: Array.from({ length: n }, (_, i) => label[i % 1000]) });
    s.store.putValue('t', table);
    const view = s.store.get('t')!;
    const loc = s.store.locate('t')!;
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', fixture('map-in-child.mts'), loc.path, String(loc.offset), String(loc.length), JSON.stringify(loc.meta)],
      { cwd: fileURLToPath(new URL('..', import.meta.url)) },
    );
    const got = JSON.parse(stdout) as { numRows: number; sum: number; label: string; inPlace: boolean; hash: string; anonGrowthMiB: number };
    expect(got).toMatchObject({ numRows: n, sum: x.reduce((a, b) => a + b, 0), label: 'row-3', inPlace: true });
    expect(got.hash).toBe(createHash('sha256').update(tableToIPC(table, 'stream')).digest('hex'));
    expect(got.anonGrowthMiB).toBeLessThan(16);
    // the child's write stayed in its private copy
    expect((table.getChild('x')!.get(0) as number)).toBe(0);
    const again = (await import('../src/index.js')).decodeFromStore(view.meta, view.data) as typeof table;
    expect(again.getChild('x')!.get(0)).toBe(0);
    view.release();
  });

  it('mapForeignArea - a path that is not an area is an InvalidArgumentError with a hint', () => {
    expect(() => mapForeignArea('/dev/shm/rayts-store-does-not-exist')).toThrow(InvalidArgumentError);
    expect(() => mapForeignArea('/dev/shm/rayts-store-does-not-exist')).toThrow(/Cannot map object store area.*locate\(\)/);
  });
});
