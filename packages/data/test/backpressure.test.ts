/**
 * A pipeline over a dataset four times the object store's capacity (an embedded cluster with a 64 MiB
 * store) completes without ObjectStoreFullError: every operator holds a bounded number of bytes in
 * flight, blocks are freed as soon as they are consumed, and the consumer is the backpressure.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { init, shutdown, objectStoreStats } from '@samsara/ray';
import * as arrow from 'apache-arrow';
import * as data from '@samsara/ray-data';

const MiB = 1 << 20;
const CAPACITY = 64 * MiB;

beforeAll(async () => {
  await init({ numCpus: 2, objectStoreMemory: CAPACITY });
}, 60_000);
afterAll(async () => {
  await shutdown();
});

describe('Backpressure', () => {
  it('streams 4x the store capacity through read -> mapBatches -> consumer with store use bounded', async () => {
    const rows = 16 * 1024 * 1024; // id Int64 + y Float64: 256 MiB made in total
    const ds = data.range(rows, { parallelism: 64 }).mapBatches(
      (b: arrow.Table) => {
        const ids = b.getChild('id')!.toArray() as BigInt64Array;
        const y = new Float64Array(ids.length);
        for (let i = 0; i < ids.length; i++) y[i] = Number(ids[i]) * 2 + 1;
        return { id: ids, y };
      },
      { batchSize: null },
    );
    let peakUsed = 0;
    let sum = 0;
    let n = 0;
    for await (const batch of ds.iterBatches({ batchSize: null })) {
      const y = batch.getChild('y')!.toArray() as Float64Array;
      for (let i = 0; i < y.length; i += 4096) sum += y[i];
      n += batch.numRows;
      peakUsed = Math.max(peakUsed, (await objectStoreStats()).usedBytes);
    }
    expect(n).toBe(rows);
    let want = 0;
    for (let b = 0; b < 64; b++) {
      const start = Math.floor((b * rows) / 64);
      const end = Math.floor(((b + 1) * rows) / 64);
      for (let i = start; i < end; i += 4096) want += i * 2 + 1;
    }
    expect(sum).toBe(want);
    const stats = ds.stats()!;
    const made = stats.operators.reduce((s, o) => s + o.bytesOut, 0);
    expect(made).toBeGreaterThanOrEqual(4 * CAPACITY);
    expect(peakUsed).toBeLessThanOrEqual(CAPACITY);
    // Each operator stayed near its budget (half the store split between operators, plus one block).
    for (const o of stats.operators) expect(o.peakBytesInFlight).toBeLessThanOrEqual(CAPACITY / 2);
    const st = await objectStoreStats();
    expect(st.spilledBytes).toBeGreaterThanOrEqual(0);
  }, 180_000);
});
