/**
 * SQL sessions on an embedded cluster: every split the planner makes gives DuckDB's own answer over the
 * whole data (partial aggregation with std/mean/NULLs, broadcast joins, DuckDB-side hash repartition,
 * Parquet read by the executors themselves); queries it cannot split run on one executor with a note;
 * errors carry DuckDB's message and position.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { init, shutdown } from '@samsara/ray';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import * as data from '@samsara/ray-data';

let sql: data.SqlSession;
let ref: DuckDBConnection;
const trips = () =>
  data.range(2000, { parallelism: 5 }).map((r) => {
    const i = r.id as number;
    // opt: NULL every 5th row; grp: a group key that is NULL every 11th row.
    return { camera: i % 7, kmh: (i * 37) % 113, id: i, opt: i % 5 === 0 ? null : ((i * 13) % 97) / 7, grp: i % 11 === 0 ? null : i % 4 };
  });
const pqDir = mkdtempSync(join(tmpdir(), 'rayts-sql-test-'));
const dims = () => data.fromItems(Array.from({ length: 7 }, (_, c) => ({ camera: c, name: `cam${c % 3}` })), { parallelism: 2 });

beforeAll(async () => {
  await init({ numCpus: 4 });
  sql = await data.sqlSession({ numExecutors: 2, resourcesPerExecutor: { CPU: 1 } });
  // The reference: the same tables in one DuckDB.
  ref = await (await DuckDBInstance.create(':memory:')).connect();
  await ref.run(
    `CREATE TABLE trips AS SELECT i % 7 AS camera, (i * 37) % 113 AS kmh, i AS id, CASE WHEN i % 5 = 0 THEN NULL ELSE ((i * 13) % 97) / 7 END AS opt, CASE WHEN i % 11 = 0 THEN NULL ELSE i % 4 END AS grp FROM range(2000) t(i)`,
  );
  await ref.run(`CREATE TABLE dims AS SELECT c AS camera, 'cam' || (c % 3) AS name FROM range(7) t(c)`);
  // The same trips as 3 Parquet files for the pushed-down scans.
  for (let f = 0; f < 3; f++) await ref.run(`COPY (SELECT * FROM trips WHERE id % 3 = ${f}) TO '${join(pqDir, `part-${f}.parquet`)}' (FORMAT parquet)`);
}, 60_000);

afterAll(async () => {
  await sql?.close();
  await shutdown();
  rmSync(pqDir, { recursive: true, force: true });
});

async function reference(q: string): Promise<Record<string, unknown>[]> {
  const r = await ref.runAndReadAll(q);
  return r.getRowObjectsJS().map((o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])));
}

const norm = (rows: Record<string, unknown>[]) =>
  rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' ? Math.round(v * 1e6) / 1e6 : v])));

/** Rows in a canonical order (for queries without ORDER BY). */
const sorted = (rows: Record<string, unknown>[]) => rows.map((r) => JSON.stringify(r)).sort();

/** The plan a query ran with (the SQL operator's timing detail starts with it). */
const planOf = (ds: data.Dataset) => ds.stats()!.operators.find((o) => o.detail?.startsWith('SQL'))?.detail ?? '';

describe('sql.query', () => {
  const cases: [string, string, boolean][] = [
    ['per block (filter + projection)', 'SELECT id, kmh * 2 AS k2 FROM trips WHERE kmh > 100', false],
    ['GROUP BY hash-partitioned (median does not decompose), ORDER BY finished on one executor', 'SELECT camera, avg(kmh) AS v, sum(kmh) AS s, count(*) AS n, median(kmh) AS med FROM trips GROUP BY camera ORDER BY camera', true],
    ['DISTINCT', 'SELECT DISTINCT camera FROM trips ORDER BY camera', true],
    ['ORDER BY + LIMIT spread then merged', 'SELECT id, kmh FROM trips ORDER BY kmh DESC, id LIMIT 7', true],
    ['equi-join grouped by the join key', 'SELECT t.camera, count(*) AS n, max(d.name) AS nm FROM trips t JOIN dims d ON t.camera = d.camera GROUP BY t.camera ORDER BY camera', true],
    ['global aggregate (partial aggregation)', 'SELECT count(*) AS n, sum(kmh) AS s FROM trips', true],
    ['join grouped by a non-key column (small side broadcast, partial aggregation)', 'SELECT d.name, count(*) AS n FROM trips t JOIN dims d ON t.camera = d.camera GROUP BY d.name ORDER BY d.name', true],
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
    // A query planned as a partial aggregation: the error points into the user's text, not the rewrite.
    const e3 = await sql.query('SELECT camera, sum(nope) AS s FROM trips GROUP BY camera', { trips: trips() }).takeAll().catch((e) => e);
    expect(e3).toBeInstanceOf(data.SqlError);
    expect(e3.message).toContain('Referenced column "nope" not found');
    expect(e3.position).toBe(19);
    // Wrong only in ORDER BY, which the partial query leaves out: still the user's error and position.
    const e4 = await sql.query('SELECT camera, sum(kmh) AS s FROM trips GROUP BY camera ORDER BY nope', { trips: trips() }).takeAll().catch((e) => e);
    expect(e4).toBeInstanceOf(data.SqlError);
    expect(e4.message).toContain('"nope" not found');
    expect(e4.position).toBe(65);
  });
});

describe('sql.query: partial aggregation (partials merged in the driver, or on one executor when large)', () => {
  const cases: string[] = [
    'SELECT camera, avg(kmh) AS a, sum(kmh) AS s, count(*) AS n, min(opt) AS lo, max(opt) AS hi FROM trips GROUP BY camera ORDER BY camera',
    // NULLs: count(x) skips them, avg/std over NULL-only groups, NULL group keys form one group.
    'SELECT grp, count(opt) AS c, count(*) AS n, mean(opt) AS m, sum(opt) AS s, stddev(opt) AS sd, stddev_pop(opt) AS sdp, var_samp(opt) AS vs, var_pop(kmh) AS vp FROM trips GROUP BY grp ORDER BY grp NULLS FIRST',
    'SELECT camera, grp, stddev(opt) AS sd, variance(opt) AS v FROM trips WHERE opt IS NULL OR opt > 3 GROUP BY camera, grp ORDER BY camera, grp',
    // Expressions over aggregates and keys, FILTER, HAVING and ORDER BY on an aggregate, LIMIT.
    'SELECT camera + 1 AS c1, round(sum(kmh) / count(*), 3) AS r, sum(kmh) FILTER (WHERE kmh > 50) AS big FROM trips GROUP BY camera HAVING count(*) > 10 ORDER BY sum(kmh) DESC LIMIT 4',
    // Unnamed aggregates keep DuckDB's column names; a global aggregate over no rows.
    'SELECT count(*), avg(opt), stddev_samp(kmh) FROM trips WHERE id < 0',
    'SELECT count(opt) AS c, stddev(opt) AS sd, min(camera) AS lo FROM trips',
    // A group with one row: sample std is NULL.
    'SELECT id, stddev(kmh) AS sd, var_pop(kmh) AS vp FROM trips WHERE id < 5 GROUP BY id ORDER BY id',
  ];
  for (const q of cases) {
    it(`${q.slice(0, 90)}…`, async () => {
      const ds = sql.query(q, { trips: trips() });
      const got = norm(await ds.takeAll());
      const want = norm(await reference(q));
      expect(got).toEqual(want);
      expect(planOf(ds)).toMatch(/^SQL partial aggregation over 2 executors/);
      expect(ds.stats()!.notes).toEqual([]);
    });
  }

  it('an aggregate whose partial state does not exist (avg of DATE) falls back to a plan that moves rows, with a note', async () => {
    const q = "SELECT camera, strftime(avg(day), '%Y-%m-%d %H:%M') AS d, count(*) AS n FROM days GROUP BY camera ORDER BY camera";
    const days = data.range(300, { parallelism: 3 }).map((r) => ({ camera: (r.id as number) % 3, day: new Date(Date.UTC(2024, 0, 1 + ((r.id as number) % 30))) }));
    await ref.run(`CREATE OR REPLACE TABLE days AS SELECT i % 3 AS camera, DATE '2024-01-01' + (i % 30)::INTEGER AS day FROM range(300) t(i)`);
    const ds = sql.query(q, { days });
    const got = await ds.takeAll();
    expect(got).toEqual(await reference(q));
    expect(got[0].d).toMatch(/^2024-01-1/);
    expect(ds.stats()!.notes.join(' ')).toMatch(/partial aggregation was not used: the partial states do not bind/);
    expect(planOf(ds)).toMatch(/^SQL hash/);
  });
});

describe('sql.query: what a partial aggregation learns is reused only for the same inputs', () => {
  it('the same blocks again skip describing; other blocks with other types are described again', async () => {
    const q = 'SELECT k, sum(x) AS s, count(*) AS n FROM f GROUP BY k ORDER BY k';
    const ints = await data.fromItems(Array.from({ length: 90 }, (_, i) => ({ k: i % 3, x: i })), { parallelism: 3 }).materialize();
    const first = sql.query(q, { f: ints });
    expect(await first.takeAll()).toEqual([
      { k: 0, s: 1305, n: 30 },
      { k: 1, s: 1335, n: 30 },
      { k: 2, s: 1365, n: 30 },
    ]);
    expect(planOf(first)).toMatch(/merge in the driver/);
    expect(planOf(first)).toMatch(/\+ describe \d+ ms/);
    const again = sql.query(q, { f: ints });
    expect(await again.takeAll()).toEqual(await first.takeAll());
    expect(planOf(again)).not.toMatch(/describe/);
    // Same query text, same column names, fractional values: a reused DESCRIBE would cast the sums wrongly.
    const halves = await data.fromItems(Array.from({ length: 90 }, (_, i) => ({ k: i % 3, x: i + 0.25 })), { parallelism: 3 }).materialize();
    const other = sql.query(q, { f: halves });
    expect(await other.takeAll()).toEqual([
      { k: 0, s: 1312.5, n: 30 },
      { k: 1, s: 1342.5, n: 30 },
      { k: 2, s: 1372.5, n: 30 },
    ]);
    expect(planOf(other)).toMatch(/\+ describe \d+ ms/);
  });
});

describe('sql.query: broadcast joins', () => {
  it('a join without aggregates joins each share with a copy of the small side', async () => {
    const q = 'SELECT t.id, t.kmh, d.name FROM trips t JOIN dims d ON t.camera = d.camera WHERE t.kmh > 100';
    const ds = sql.query(q, { trips: trips(), dims: dims() });
    expect(sorted(norm(await ds.takeAll()))).toEqual(sorted(norm(await reference(q))));
    expect(planOf(ds)).toMatch(/^SQL broadcast over 2 executors.*dims: whole on every executor/);
  });

  it('a non-equi join grouped by the small side, ordered and limited', async () => {
    const q = 'SELECT d.name, count(*) AS n, avg(t.kmh) AS a FROM trips t JOIN dims d ON t.camera < d.camera GROUP BY d.name ORDER BY n DESC, d.name LIMIT 2';
    const ds = sql.query(q, { trips: trips(), dims: dims() });
    expect(norm(await ds.takeAll())).toEqual(norm(await reference(q)));
    expect(planOf(ds)).toMatch(/^SQL partial aggregation/);
  });

  it('a LEFT join keeps unmatched rows of the big side', async () => {
    const q = 'SELECT t.id, d.name FROM trips t LEFT JOIN dims d ON t.camera = d.camera AND d.camera < 3 WHERE t.id < 50';
    const ds = sql.query(q, { trips: trips(), dims: dims() });
    expect(sorted(norm(await ds.takeAll()))).toEqual(sorted(norm(await reference(q))));
    expect(planOf(ds)).toMatch(/^SQL broadcast/);
  });
});

describe('sql.query over Parquet: the executors read the files', () => {
  it('GROUP BY with partial aggregation, join with a broadcast side, hash repartition in DuckDB', async () => {
    const queries: [string, RegExp][] = [
      ['SELECT grp, count(*) AS n, avg(opt) AS a, stddev(kmh) AS sd FROM trips GROUP BY grp ORDER BY grp', /^SQL partial aggregation/],
      ['SELECT d.name, sum(t.kmh) AS s FROM trips t JOIN dims d ON t.camera = d.camera GROUP BY d.name ORDER BY d.name', /^SQL partial aggregation/],
      ['SELECT camera, median(kmh) AS m, count(DISTINCT grp) AS g FROM trips GROUP BY camera ORDER BY camera', /^SQL hash over 2 executors.*repartition by key in DuckDB \(2,000 rows\)/],
      ['SELECT id, kmh FROM trips ORDER BY kmh DESC, id LIMIT 5', /^SQL spread/],
    ];
    for (const [q, plan] of queries) {
      const ds = sql.query(q, { trips: data.readParquet(pqDir), dims: dims() });
      expect(norm(await ds.takeAll())).toEqual(norm(await reference(q)));
      expect(planOf(ds)).toMatch(plan);
      expect(planOf(ds)).toMatch(/trips: Parquet read by each executor/);
      expect(ds.stats()!.operators.map((o) => o.name)).toContain('ReadParquet(trips, pushed into the executors)');
    }
  });

  it('a query run again answers from the files as they are now (rewritten with other rows and another column type)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rayts-sql-rewrite-'));
    try {
      const q = 'SELECT k, sum(x) AS s, avg(x) AS a, count(*) AS n FROM f GROUP BY k ORDER BY k';
      const write = async (sel: string) => {
        await ref.run(`CREATE OR REPLACE TABLE f AS ${sel}`);
        for (let i = 0; i < 2; i++) await ref.run(`COPY (SELECT * FROM f WHERE id % 2 = ${i}) TO '${join(dir, `p${i}.parquet`)}' (FORMAT parquet)`);
      };
      await write('SELECT i AS id, i % 3 AS k, (i % 10)::INTEGER AS x FROM range(600) t(i)');
      for (let run = 0; run < 2; run++) {
        const ds = sql.query(q, { f: data.readParquet(dir) });
        expect(await ds.takeAll()).toEqual(await reference(q));
        expect(planOf(ds)).toMatch(/^SQL partial aggregation.*merge in the driver/);
      }
      // sum(INTEGER) is HUGEINT, sum(DOUBLE) is DOUBLE: the merge must not reuse what it learned of the old files.
      await write('SELECT i AS id, i % 4 AS k, (i % 10) / 3 + 0.1 AS x FROM range(800) t(i)');
      const ds = sql.query(q, { f: data.readParquet(dir) });
      const got = await ds.takeAll();
      expect(got).toEqual(await reference(q));
      expect(got.length).toBe(4);
      expect(Number.isInteger(got[0].s)).toBe(false);
      expect(ds.stats()!.notes).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('partial aggregates too large to come back inline are merged on one executor', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rayts-sql-large-'));
    try {
      // 400,000 groups: each executor's partial is ~8 MB, over the inline limit.
      await ref.run('CREATE OR REPLACE TABLE big AS SELECT i AS id, (i * 7) % 13 AS kmh FROM range(400000) t(i)');
      for (let i = 0; i < 2; i++) await ref.run(`COPY (SELECT * FROM big WHERE id % 2 = ${i}) TO '${join(dir, `p${i}.parquet`)}' (FORMAT parquet)`);
      const q = 'SELECT id, sum(kmh) AS s, avg(kmh) AS a, count(*) AS n FROM big GROUP BY id ORDER BY s DESC, id LIMIT 5';
      const ds = sql.query(q, { big: data.readParquet(dir) });
      expect(norm(await ds.takeAll())).toEqual(norm(await reference(q)));
      expect(planOf(ds)).toMatch(/^SQL partial aggregation over 2 executors.*400,000 partial rows.*merge on one executor/);
      // The session is clean afterwards: a small query still merges in the driver.
      const small = sql.query('SELECT count(*) AS n FROM big', { big: data.readParquet(dir) });
      expect(await small.takeAll()).toEqual([{ n: 400000 }]);
      expect(planOf(small)).toMatch(/merge in the driver/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
