/**
 * SQL sessions on an embedded cluster: every split the planner makes gives DuckDB's own answer over the
 * whole data; queries it cannot split run on one executor with a note; errors carry DuckDB's message
 * and position.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { init, shutdown } from '@samsara/ray';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import * as data from '@samsara/ray-data';

let sql: data.SqlSession;
let ref: DuckDBConnection;
const trips = () => data.range(2000, { parallelism: 5 }).map((r) => ({ camera: (r.id as number) % 7, kmh: ((r.id as number) * 37) % 113, id: r.id }));
const dims = () => data.fromItems(Array.from({ length: 7 }, (_, c) => ({ camera: c, name: `cam${c % 3}` })), { parallelism: 2 });

beforeAll(async () => {
  await init({ numCpus: 4 });
  sql = await data.sqlSession({ numExecutors: 2, resourcesPerExecutor: { CPU: 1 } });
  // The reference: the same tables in one DuckDB.
  ref = await (await DuckDBInstance.create(':memory:')).connect();
  await ref.run(`CREATE TABLE trips AS SELECT i % 7 AS camera, (i * 37) % 113 AS kmh, i AS id FROM range(2000) t(i)`);
  await ref.run(`CREATE TABLE dims AS SELECT c AS camera, 'cam' || (c % 3) AS name FROM range(7) t(c)`);
}, 60_000);

afterAll(async () => {
  await sql?.close();
  await shutdown();
});

async function reference(q: string): Promise<Record<string, unknown>[]> {
  const r = await ref.runAndReadAll(q);
  return r.getRowObjectsJS().map((o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])));
}

const norm = (rows: Record<string, unknown>[]) =>
  rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' ? Math.round(v * 1e6) / 1e6 : v])));

describe('sql.query', () => {
  const cases: [string, string, boolean][] = [
    ['per block (filter + projection)', 'SELECT id, kmh * 2 AS k2 FROM trips WHERE kmh > 100', false],
    ['GROUP BY hash-partitioned, ORDER BY finished on one executor', 'SELECT camera, avg(kmh) AS v, sum(kmh) AS s, count(*) AS n, median(kmh) AS med FROM trips GROUP BY camera ORDER BY camera', true],
    ['DISTINCT', 'SELECT DISTINCT camera FROM trips ORDER BY camera', true],
    ['ORDER BY + LIMIT spread then merged', 'SELECT id, kmh FROM trips ORDER BY kmh DESC, id LIMIT 7', true],
    ['equi-join grouped by the join key', 'SELECT t.camera, count(*) AS n, max(d.name) AS nm FROM trips t JOIN dims d ON t.camera = d.camera GROUP BY t.camera ORDER BY camera', true],
    ['global aggregate (one executor)', 'SELECT count(*) AS n, sum(kmh) AS s FROM trips', true],
    ['join grouped by a non-key column (one executor)', 'SELECT d.name, count(*) AS n FROM trips t JOIN dims d ON t.camera = d.camera GROUP BY d.name ORDER BY d.name', true],
    ['window function (one executor)', 'SELECT id, rank() OVER (PARTITION BY camera ORDER BY kmh, id) AS r FROM trips ORDER BY id LIMIT 20', true],
  ];
  for (const [what, q, ordered] of cases) {
    it(`${what} gives DuckDB's answer`, async () => {
      const ds = sql.query(q, { trips: trips(), dims: dims() });
      const got = norm(await ds.takeAll());
      const want = norm(await reference(q));
      if (ordered) expect(got).toEqual(want);
      else expect(got.sort((a, b) => (a.id as number) - (b.id as number))).toEqual(want.sort((a, b) => (a.id as number) - (b.id as number)));
      const notes = ds.stats()!.notes;
      if (what.includes('(one executor)')) expect(notes.join(' ')).toMatch(/ran on one executor/);
      else expect(notes).toEqual([]);
    });
  }

  it('a per-block query streams without running the tables it does not read', async () => {
    const ds = sql.query('SELECT id FROM trips WHERE id < 3', { trips: trips(), dims: dims() });
    expect(await ds.takeAll()).toEqual([{ id: 0 }, { id: 1 }, { id: 2 }]);
    expect(ds.stats()!.operators.map((o) => o.name)).toEqual(['ReadRange->Map(anonymous)', 'Sql(per block)']);
  });

  it('errors are SqlErrors with DuckDB message and position', async () => {
    const e1 = await sql.query('SELECT nope FROM trips', { trips: trips() }).takeAll().catch((e) => e);
    expect(e1).toBeInstanceOf(data.SqlError);
    expect(e1.message).toContain('Referenced column "nope" not found');
    expect(e1.position).toBe(7);
    const e2 = await sql.query('SELECT camera FROM trips GROUP BY', { trips: trips() }).takeAll().catch((e) => e);
    expect(e2).toBeInstanceOf(data.SqlError);
    expect(e2.message).toMatch(/syntax error/);
    expect(e2.position).toBe(33);
    expect(() => sql.query('SELECT 1', { trips: [] as never })).toThrow(/not a Dataset/);
  });
});
