/**
 * Issue 4 acceptance through the public API: zero-copy reads of a 500 MB Arrow table, store usage back to
 * its baseline after refs are dropped, spilling at three times capacity, ObjectStoreFullError, and a
 * large table read on another node (a CLI cluster) with equal contents.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableFromArrays, type Table } from 'apache-arrow';
import {
  init,
  shutdown,
  remote,
  get,
  put,
  objectStoreStats,
  runtimeContext,
  ObjectStoreFullError,
  type ObjectRef,
} from '@samsara/ray';
import { until, useCliCluster } from './helpers/cli-cluster.js';

const MiB = 1024 * 1024;
const gc = (globalThis as { gc?: () => void }).gc;

async function collectUntil(check: () => Promise<boolean>, what: string): Promise<void> {
  await until(
    async () => {
      gc?.();
      await new Promise((r) => setImmediate(r));
      return check();
    },
    what,
    20_000,
  );
}

const sumColumn = remote((t: Table, name: string) => {
  const col = t.getChild(name)!;
  let s = 0;
  for (const chunk of col.data) {
    const v = chunk.values as Float64Array;
    for (let i = 0; i < v.length; i++) s += v[i];
  }
  return { sum: s, rows: t.numRows };
});

describe('object store on the embedded cluster', () => {
  beforeAll(async () => {
    await init({ numCpus: 2, objectStoreMemory: 1536 * MiB });
  });
  afterAll(async () => {
    await shutdown();
  });

  it('zero copy - a 500 MB Arrow table put by the driver is read by a task without a copy (process memory)', async () => {
    const rows = (500 * MiB) / 8;
    const values = new Float64Array(rows);
    for (let i = 0; i < rows; i++) values[i] = i % 1000;
    const ref = await put(tableFromArrays({ v: values }));
    const rssBefore = process.memoryUsage.rss() / MiB;
    const out = await get(sumColumn.remote(ref, 'v'));
    const rssAfter = process.memoryUsage.rss() / MiB;
    expect(out.rows).toBe(rows);
    expect(out.sum).toBe((rows / 1000) * ((999 * 1000) / 2));
    // A copy would add ~500 MiB to this process (the worker thread lives in it).
    expect(rssAfter - rssBefore).toBeLessThan(120);
    const back = await get(ref);
    expect(back.numRows).toBe(rows);
  });

  it('reference counting - store usage returns to its baseline after the refs are dropped', async () => {
    gc?.();
    const base = await objectStoreStats();
    const make = remote((n: number, fill: number) => new Uint8Array(n).fill(fill));
    let refs: ObjectRef<Uint8Array>[] = [];
    for (let i = 0; i < 5; i++) refs.push(await put(new Uint8Array(8 * MiB).fill(i)));
    for (let i = 0; i < 5; i++) refs.push(make.remote(8 * MiB, i));
    await get(refs.slice(5));
    const full = await objectStoreStats();
    expect(full.usedBytes - base.usedBytes).toBeGreaterThanOrEqual(80 * MiB);
    expect(full.numObjects - base.numObjects).toBe(10);
    refs = [];
    void refs;
    await collectUntil(async () => (await objectStoreStats()).numObjects === base.numObjects, 'the store to drop the objects');
    expect((await objectStoreStats()).usedBytes).toBe(base.usedBytes);
  });

  it('put inside a task - a large value is written by the task thread straight into the store and reads back equal', async () => {
    const putInTask = remote(async (n: number) => {
      const a = new Float64Array(n);
      for (let i = 0; i < n; i++) a[i] = i * 0.5;
      return { ref: await put(a) };
    });
    const { ref } = await get(putInTask.remote(4 * 1024 * 1024));
    const back = await get(ref);
    expect(back).toBeInstanceOf(Float64Array);
    expect(back.length).toBe(4 * 1024 * 1024);
    expect(back[12345]).toBe(12345 * 0.5);
    expect(back[back.length - 1]).toBe((back.length - 1) * 0.5);
  });
});

describe('spilling', () => {
  beforeAll(async () => {
    await init({ numCpus: 1, objectStoreMemory: 64 * MiB });
  });
  afterAll(async () => {
    await shutdown();
  });

  it('spilling - three times the capacity in objects all read back correct', async () => {
    const refs: ObjectRef<Float64Array>[] = [];
    for (let i = 0; i < 12; i++) refs.push(await put(new Float64Array((16 * MiB) / 8).fill(i + 0.5)));
    const stats = await objectStoreStats();
    expect(stats.spilledBytes).toBeGreaterThan(0);
    expect(stats.capacityBytes).toBe(64 * MiB);
    const check = remote((a: Float64Array) => a.length > 0 && a.every((x) => x === a[0]) && a[0]);
    for (let i = 0; i < 12; i++) {
      expect(await get(check.remote(refs[i]))).toBe(i + 0.5);
      const v = await get(refs[i]);
      expect(v[v.length - 1]).toBe(i + 0.5);
    }
  });

  it('ObjectStoreFullError - when everything is pinned, a put says how full the store is and what to do', async () => {
    gc?.();
    const held: Float64Array[] = [];
    for (let i = 0; i < 4; i++) held.push(await get(await put(new Float64Array((14 * MiB) / 8).fill(i))));
    const err = await put(new Float64Array((20 * MiB) / 8)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ObjectStoreFullError);
    expect((err as Error).message).toMatch(/MiB|bytes/);
    expect((err as Error).message).toMatch(/object-store-memory|free/i);
    expect(held.length).toBe(4);
  });
});

describe('transfer between nodes', () => {
  const c = useCliCluster({ numCpus: 1 }, [{ numCpus: 1 }], { RAYTS_OBJECT_STORE_MEMORY: String(1536 * MiB) });

  it('transfer - a 500 MB Arrow table put by the driver is read on another node with equal contents', async () => {
    const rows = (500 * MiB) / 8;
    const values = new Float64Array(rows);
    for (let i = 0; i < rows; i++) values[i] = (i * 7) % 1013;
    let expected = 0;
    for (let i = 0; i < rows; i++) expected += values[i];
    const ref = await put(tableFromArrays({ v: values }));
    const worker = c.cluster.nodeIds[1];
    const remoteSum = remote((t: Table) => {
      let s = 0;
      for (const chunk of t.getChild('v')!.data) {
        const v = chunk.values as Float64Array;
        for (let i = 0; i < v.length; i++) s += v[i];
      }
      return { s, node: runtimeContext().nodeId, rows: t.numRows };
    });
    const out = await get(remoteSum.options({ scheduling: { nodeId: worker } }).remote(ref));
    expect(out).toEqual({ s: expected, node: worker, rows });
  }, 120_000);

  it('transfer - a large task result on a worker node is pulled by the driver intact', async () => {
    const make = remote((n: number) => {
      const a = new Uint32Array(n);
      for (let i = 0; i < n; i++) a[i] = i;
      return a;
    });
    const arr = await get(make.options({ scheduling: { nodeId: c.cluster.nodeIds[1] } }).remote(16 * MiB));
    expect(arr.length).toBe(16 * MiB);
    expect(arr[12_345_678]).toBe(12_345_678);
    const st = await c.cluster.cli(['status']);
    expect(st.stdout).toMatch(/Object store: .* used of .*objects/);
  }, 60_000);
});
