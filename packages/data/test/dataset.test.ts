/**
 * Datasets through the public API on an embedded cluster: creation, transforms (tasks and an actor
 * pool), consumption, splits, all-to-all operators, stats and explain.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { init, shutdown, availableResources, clusterResources, InvalidArgumentError } from '@samsara/ray';
import * as arrow from 'apache-arrow';
import * as data from '@samsara/ray-data';

beforeAll(async () => {
  await init({ numCpus: 3 });
}, 60_000);
afterAll(async () => {
  await shutdown();
});

const ids = (rows: Record<string, unknown>[], k = 'id') => rows.map((r) => r[k] as number);

describe('Dataset - creation and row transforms', () => {
  it('range, map, filter, flatMap keep order and fuse into one operator', async () => {
    const ds = data
      .range(100, { parallelism: 4 })
      .map((r) => ({ ...r, sq: (r.id as number) * (r.id as number) }))
      .filter((r) => (r.id as number) % 10 === 0)
      .flatMap((r) => [r, { ...r, id: (r.id as number) + 1000 }]);
    expect(ds.explain()).toBe('ReadRange->Map(anonymous)->Filter(anonymous)->FlatMap(anonymous)');
    const rows = await ds.takeAll();
    expect(ids(rows)).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90].flatMap((i) => [i, i + 1000]));
    expect(rows[2]).toEqual({ id: 10, sq: 100 });
    const st = ds.stats()!;
    expect(st.operators).toHaveLength(1);
    expect(st.operators[0].tasks).toBe(4);
    expect(st.operators[0].rowsOut).toBe(20);
    expect(String(st)).toContain('ReadRange->Map(anonymous)');
  });

  it('fromItems, fromArrow, schema, count, take, limit and union', async () => {
    const items = data.fromItems([{ camera: 1, speed: 42 }, { camera: 2, speed: 7 }]);
    expect(await items.count()).toBe(2);
    const t = new arrow.Table({ a: arrow.vectorFromArray([1, 2, 3], new arrow.Int32()), b: arrow.vectorFromArray(['x', 'y', 'z']) });
    const fa = data.fromArrow([t, t]);
    const schema = await fa.schema();
    expect(schema.fields.map((f) => f.name)).toEqual(['a', 'b']);
    expect(String(schema.fields[0].type)).toBe('Int32');
    expect(await fa.count()).toBe(6);
    expect(await data.range(1000, { parallelism: 10 }).take(3)).toEqual([{ id: 0 }, { id: 1 }, { id: 2 }]);
    expect(await data.range(1000, { parallelism: 10 }).limit(15).count()).toBe(15);
    const u = await data.range(3).union(data.range(2)).takeAll();
    expect(ids(u).sort()).toEqual([0, 0, 1, 1, 2]);
  });

  it('column verbs: addColumn, selectColumns, dropColumns, renameColumns', async () => {
    const ds = data
      .range(10, { parallelism: 2 })
      .addColumn('double', (batch) => Float64Array.from(batch.getChild('id')!.toArray() as BigInt64Array, (v) => Number(v) * 2))
      .addColumn('label', (batch) => Array.from({ length: batch.numRows }, () => 'x'))
      .renameColumns({ id: 'n' })
      .dropColumns(['label'])
      .selectColumns(['double', 'n']);
    const rows = await ds.takeAll();
    expect(rows[3]).toEqual({ double: 6, n: 3 });
    expect(Object.keys(rows[0])).toEqual(['double', 'n']);
  });
});

describe('Dataset - mapBatches', () => {
  it('a function with batchSize, fnArgs and both batch formats', async () => {
    const sizes = await data
      .range(100, { parallelism: 2 })
      .mapBatches((b: arrow.Table) => ({ n: [b.numRows] }), { batchSize: 16 })
      .takeAll();
    expect(ids(sizes, 'n')).toEqual([16, 16, 16, 2, 16, 16, 16, 2]);
    const scaled = await data
      .range(5)
      .mapBatches((rows: Record<string, number>[], k: number) => rows.map((r) => ({ v: r.id * k })), { batchFormat: 'rows', fnArgs: [10] })
      .takeAll();
    expect(ids(scaled, 'v')).toEqual([0, 10, 20, 30, 40]);
  });

  it('a class runs on an actor pool: constructed once per actor with fnConstructorArgs, call(batch) per batch', async () => {
    class AddOffset {
      offset: number;
      calls = 0;
      constructor(offset: number) {
        this.offset = offset;
      }
      call(batch: Record<string, number>[]) {
        this.calls++;
        return batch.map((r) => ({ id: r.id + this.offset, calls: this.calls }));
      }
    }
    const ds = data.range(40, { parallelism: 4 }).mapBatches(AddOffset, { concurrency: 2, fnConstructorArgs: [1000], batchFormat: 'rows', batchSize: 10, numCpus: 0.5 });
    const rows = await ds.takeAll();
    expect(ids(rows)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1000));
    // Instances persist across batches: some actor saw more than one call.
    expect(Math.max(...ids(rows, 'calls'))).toBeGreaterThan(1);
    // The pool is gone once the run ended: every CPU is free again.
    const total = (await clusterResources()).CPU;
    await expect.poll(async () => (await availableResources()).CPU, { timeout: 20_000 }).toBe(total);
  });

  it('options are checked: unknown keys and bad values are InvalidArgumentErrors', () => {
    const ds = data.range(3);
    expect(() => ds.mapBatches((b: unknown) => b, { batchSise: 3 } as never)).toThrow(InvalidArgumentError);
    expect(() => ds.mapBatches((b: unknown) => b, { batchSize: 0 })).toThrow(/batchSize must be a positive integer/);
    expect(() => ds.map((r) => r, { concurrency: -1 })).toThrow(/concurrency/);
    expect(() => ds.mapBatches((b: unknown) => b, { fnArgs: [() => 1] })).toThrow(/is a function/);
  });
});

describe('Dataset - consumption and splits', () => {
  it('iterBatches rebatches across blocks; iterRows streams rows', async () => {
    const sizes: number[] = [];
    for await (const b of data.range(50, { parallelism: 3 }).iterBatches({ batchSize: 20 })) sizes.push(b.numRows);
    expect(sizes).toEqual([20, 20, 10]);
    let n = 0;
    for await (const r of data.range(30, { parallelism: 3 }).iterRows()) n += r.id as number;
    expect(n).toBe(435);
  });

  it('materialize keeps blocks; split and trainTestSplit divide rows; streamingSplit feeds every iterator', async () => {
    const m = await data.range(100, { parallelism: 4 }).map((r) => ({ id: r.id })).materialize();
    expect(m.stats()!.operators[0].rowsOut).toBe(100);
    expect(await m.count()).toBe(100);
    const parts = m.split(3);
    const counts = await Promise.all(parts.map((p) => p.count()));
    expect(counts).toEqual([33, 34, 33]);
    const all = (await Promise.all(parts.map((p) => p.takeAll()))).flat();
    expect(ids(all)).toEqual(Array.from({ length: 100 }, (_, i) => i));

    const [train, test] = data.range(100, { parallelism: 4 }).trainTestSplit(0.2, { seed: 1 });
    const tr = ids(await train.takeAll());
    const te = ids(await test.takeAll());
    expect(tr).toHaveLength(80);
    expect(te).toHaveLength(20);
    expect([...tr, ...te].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(te).not.toEqual(Array.from({ length: 20 }, (_, i) => 80 + i));

    const its = data.range(200, { parallelism: 8 }).streamingSplit(2);
    const got = await Promise.all(
      its.map(async (it) => {
        const seen: number[] = [];
        for await (const b of it.iterBatches({ batchSize: null })) seen.push(...(Array.from(b.getChild('id')!.toArray() as BigInt64Array, Number)));
        return seen;
      }),
    );
    expect(got[0].length).toBeGreaterThan(0);
    expect(got[1].length).toBeGreaterThan(0);
    expect([...got[0], ...got[1]].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });
});

describe('Dataset - all-to-all', () => {
  it('groupBy().aggregate() matches a plain computation', async () => {
    const rows = Array.from({ length: 300 }, (_, i) => ({ camera: i % 7, kmh: (i * 13) % 101 }));
    const out = await data
      .fromItems(rows, { parallelism: 5 })
      .groupBy('camera')
      .aggregate(data.count(), data.sum('kmh'), data.mean('kmh'), data.min('kmh'), data.max('kmh'), data.std('kmh'))
      .takeAll();
    expect(out).toHaveLength(7);
    for (const g of out) {
      const vs = rows.filter((r) => r.camera === g.camera).map((r) => r.kmh);
      const mean = vs.reduce((a, b) => a + b, 0) / vs.length;
      const std = Math.sqrt(vs.reduce((a, b) => a + (b - mean) ** 2, 0) / (vs.length - 1));
      expect(g['count()']).toBe(vs.length);
      expect(g['sum(kmh)']).toBe(vs.reduce((a, b) => a + b, 0));
      expect(g['mean(kmh)']).toBeCloseTo(mean, 9);
      expect(g['min(kmh)']).toBe(Math.min(...vs));
      expect(g['max(kmh)']).toBe(Math.max(...vs));
      expect(g['std(kmh)']).toBeCloseTo(std, 9);
    }
  });

  it('sort (descending, across blocks), randomShuffle (seeded permutation) and repartition', async () => {
    const src = data.range(500, { parallelism: 5 }).map((r) => ({ v: ((r.id as number) * 7919) % 500 }));
    const sorted = ids(await src.sort('v', { descending: true }).takeAll(), 'v');
    expect(sorted).toEqual(Array.from({ length: 500 }, (_, i) => 499 - i));
    const a = ids(await data.range(200, { parallelism: 4 }).randomShuffle({ seed: 7 }).takeAll());
    const b = ids(await data.range(200, { parallelism: 4 }).randomShuffle({ seed: 7 }).takeAll());
    expect(a).toEqual(b);
    expect(a).not.toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    const re = data.range(100, { parallelism: 3 }).repartition(4);
    const blocks: number[] = [];
    for await (const bt of re.iterBatches({ batchSize: null })) blocks.push(bt.numRows);
    expect(blocks).toEqual([25, 25, 25, 25]);
    expect(re.explain()).toBe('ReadRange -> Repartition(4)');
  });
});
