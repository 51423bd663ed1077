/**
 * Sources, sinks and bad input through the public API on an embedded cluster: Parquet (row groups read
 * in parallel, column projection), CSV and JSON lines over files, directories and globs; writes; and the
 * typed errors of missing paths, corrupt files, malformed rows, throwing user code and unknown columns.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync, mkdirSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { init, shutdown, availableResources, clusterResources } from '@samsara/ray';
import { DuckDBInstance } from '@duckdb/node-api';
import * as data from '@samsara/ray-data';

let dir: string;

beforeAll(async () => {
  await init({ numCpus: 3 });
  dir = mkdtempSync(join(tmpdir(), 'ray-data-io-'));
  mkdirSync(join(dir, 'pq'));
  // Parquet written by DuckDB itself: 2 files, 4 row groups of 1,000 rows each.
  const conn = await (await DuckDBInstance.create(':memory:')).connect();
  for (const f of [0, 1]) {
    await conn.run(
      `COPY (SELECT ${f} * 4000 + i AS id, i % 10 AS camera, i / 10.0 AS kmh, 'r' || i AS note FROM range(4000) t(i)) TO '${join(dir, 'pq', `part-${f}.parquet`)}' (FORMAT parquet, ROW_GROUP_SIZE 1000)`,
    );
  }
  writeFileSync(join(dir, 'events.csv'), 'camera,speed\n1,10\n2,20\n3,30\n');
  writeFileSync(join(dir, 'events2.csv'), 'camera,speed\n4,40\n');
  writeFileSync(join(dir, 'bad.csv'), 'camera,speed\n1,10\n2,20,99\n3,30\n');
  writeFileSync(join(dir, 'events.jsonl'), '{"camera":1,"tag":"a"}\n{"camera":2,"tag":"b"}\n');
  writeFileSync(join(dir, 'corrupt.parquet'), Buffer.concat([Buffer.from('PAR1'), Buffer.alloc(100, 7)]));
}, 60_000);

afterAll(async () => {
  await shutdown();
  rmSync(dir, { recursive: true, force: true });
});

describe('Sources and sinks', () => {
  it('readParquet of a directory reads row groups in parallel with column projection', async () => {
    const ds = data.readParquet(join(dir, 'pq'), { columns: ['id', 'kmh'], targetBlockBytes: 1 });
    const rows = await ds.takeAll();
    expect(rows).toHaveLength(8000);
    expect(Object.keys(rows[0])).toEqual(['id', 'kmh']);
    expect(rows.map((r) => r.id)).toEqual(Array.from({ length: 8000 }, (_, i) => i));
    // One task per row group (targetBlockBytes 1 keeps them apart): more tasks than files.
    const conn = await (await DuckDBInstance.create(':memory:')).connect();
    const groups = Number((await conn.runAndReadAll(`SELECT count(DISTINCT (file_name, row_group_id)) FROM parquet_metadata('${join(dir, 'pq')}/*.parquet')`)).getRows()[0][0]);
    expect(groups).toBeGreaterThan(2);
    expect(ds.stats()!.operators[0].tasks).toBe(groups);
    expect(await data.readParquet(join(dir, 'pq', '*-1.parquet')).count()).toBe(4000);
  });

  it('readCsv over a glob and readJson over a file', async () => {
    const csv = await data.readCsv(join(dir, 'events*.csv')).takeAll();
    expect(csv).toEqual([
      { camera: 1, speed: 10 },
      { camera: 2, speed: 20 },
      { camera: 3, speed: 30 },
      { camera: 4, speed: 40 },
    ]);
    expect(await data.readJson(join(dir, 'events.jsonl')).takeAll()).toEqual([
      { camera: 1, tag: 'a' },
      { camera: 2, tag: 'b' },
    ]);
  });

  it('writeParquet/writeCsv/writeJson write one file per block that read back the same', async () => {
    const src = data.range(30, { parallelism: 3 }).map((r) => ({ id: r.id, name: `n${r.id}`, half: (r.id as number) / 2 }));
    const pq = await src.writeParquet(join(dir, 'out-pq'));
    expect(pq).toHaveLength(3);
    expect(readdirSync(join(dir, 'out-pq'))).toHaveLength(3);
    const back = await data.readParquet(join(dir, 'out-pq')).takeAll();
    expect(back).toEqual(await src.takeAll());
    expect(await src.writeCsv(join(dir, 'out-csv'))).toHaveLength(3);
    expect(await data.readCsv(join(dir, 'out-csv')).count()).toBe(30);
    expect(await src.writeJson(join(dir, 'out-json'))).toHaveLength(3);
    const js = await data.readJson(join(dir, 'out-json')).takeAll();
    expect(js.map((r) => r.name).sort()).toEqual(Array.from({ length: 30 }, (_, i) => `n${i}`).sort());
  });
});

describe('Bad input', () => {
  it('a missing path is a DataReadError naming it', async () => {
    const err = await data.readParquet(join(dir, 'nope')).take(1).catch((e) => e);
    expect(err).toBeInstanceOf(data.DataReadError);
    expect(err.message).toContain('nope');
    expect(err.message).toContain('does not exist');
    await expect(data.readCsv(join(dir, 'zz*.csv')).count()).rejects.toThrow(/no file matches/);
  });

  it('a corrupt Parquet file is a DataReadError naming the file', async () => {
    const err = await data.readParquet(join(dir, 'corrupt.parquet')).count().catch((e) => e);
    expect(err).toBeInstanceOf(data.DataReadError);
    expect(err.message).toContain('corrupt.parquet');
  });

  it('a CSV row with the wrong number of fields is a DataReadError with the file', async () => {
    const err = await data.readCsv(join(dir, 'bad.csv')).takeAll().catch((e) => e);
    expect(err).toBeInstanceOf(data.DataReadError);
    expect(err.message).toContain('bad.csv');
    expect(err.message).toMatch(/column|field/i);
  });

  it('a throwing map function names the operator, the block and the row; nothing is left running', async () => {
    const ds = data.range(40, { parallelism: 4 }).map(function explode(r) {
      if (r.id === 27) throw new RangeError('speed out of range');
      return r;
    });
    const err = await ds.takeAll().catch((e) => e);
    expect(err).toBeInstanceOf(data.UserCodeError);
    expect(err.message).toContain('Map(explode) threw RangeError: speed out of range');
    expect(err.message).toContain('block 2, row 7');
    expect(err.ids).toMatchObject({ operator: 'ReadRange->Map(explode)', block: '2', row: '7' });
    class Boom {
      call() {
        throw new Error('model failed');
      }
    }
    const err2 = await data.range(10).mapBatches(Boom, { concurrency: 2, numCpus: 1 }).count().catch((e) => e);
    expect(err2).toBeInstanceOf(data.UserCodeError);
    expect(err2.message).toContain('MapBatches(Boom) threw Error: model failed');
    const total = (await clusterResources()).CPU;
    await expect.poll(async () => (await availableResources()).CPU, { timeout: 20_000 }).toBe(total);
  });

  it('a column that does not exist is a ColumnNotFoundError listing the columns', async () => {
    const e1 = await data.range(5).selectColumns(['idd']).takeAll().catch((e) => e);
    expect(e1).toBeInstanceOf(data.ColumnNotFoundError);
    expect(e1.message).toContain('"idd" not found');
    expect(e1.message).toContain('The columns are: id');
    await expect(data.range(5).sort('speed').takeAll()).rejects.toBeInstanceOf(data.ColumnNotFoundError);
    await expect(data.range(5).groupBy('camera').count().takeAll()).rejects.toBeInstanceOf(data.ColumnNotFoundError);
    await expect(data.readParquet(join(dir, 'pq'), { columns: ['nope'] }).count()).rejects.toBeInstanceOf(data.ColumnNotFoundError);
  });
});
