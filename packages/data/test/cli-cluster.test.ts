/**
 * Data on a 3-process CLI cluster (head + two worker nodes, one offering `spark_executor`): SQL
 * executors land only on spark_executor nodes, a mapBatches with resources runs only there, and a
 * pipeline runs across processes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { runtimeContext } from '@samsara/ray';
import * as data from '@samsara/ray-data';
import { useCliCluster } from '../../../test/helpers/cli-cluster.js';

const c = useCliCluster({ numCpus: 1 }, [{ numCpus: 2 }, { numCpus: 4, resources: { spark_executor: 3 } }]);

describe('Data on a CLI cluster', () => {
  it('every SQL executor is placed on the spark_executor node, and queries run there', async () => {
    const sparkNode = c.cluster.nodeIds[2];
    const sql = await data.sqlSession({ numExecutors: 2, resourcesPerExecutor: { spark_executor: 1 } });
    try {
      expect(await sql.executorNodeIds()).toEqual([sparkNode, sparkNode]);
      const trips = data.range(1000, { parallelism: 4 }).map((r) => ({ camera: (r.id as number) % 4, kmh: r.id }));
      const rows = await sql.query('SELECT camera, count(*) AS n, sum(kmh) AS s FROM trips GROUP BY camera ORDER BY camera', { trips }).takeAll();
      expect(rows).toEqual([0, 1, 2, 3].map((k) => ({ camera: k, n: 250, s: Array.from({ length: 250 }, (_, i) => i * 4 + k).reduce((a, b) => a + b, 0) })));
    } finally {
      await sql.close();
    }
  });

  it('SQL over Parquet: the executors on the spark_executor node read the files themselves and shuffle partial aggregates', async () => {
    const sparkNode = c.cluster.nodeIds[2];
    const dir = mkdtempSync(join(tmpdir(), 'rayts-data-cli-pq-'));
    const duck = await (await DuckDBInstance.create(':memory:')).connect();
    const sql = await data.sqlSession({ numExecutors: 2, resourcesPerExecutor: { spark_executor: 1 } });
    try {
      await duck.run(`CREATE TABLE src AS SELECT i, i % 10 AS k, i * 0.5 AS v FROM range(5000) r(i)`);
      await duck.run(`CREATE TABLE t AS SELECT k, v FROM src`);
      for (let f = 0; f < 2; f++) await duck.run(`COPY (SELECT k, v FROM src WHERE i % 2 = ${f}) TO '${join(dir, `p${f}.parquet`)}' (FORMAT parquet)`);
      const q = 'SELECT k, count(*) AS n, avg(v) AS a, stddev(v) AS sd FROM t GROUP BY k ORDER BY k';
      const want = (await duck.runAndReadAll(q)).getRowObjectsJS().map((r) => ({ k: Number(r.k), n: Number(r.n), a: r.a, sd: r.sd }));
      expect(await sql.executorNodeIds()).toEqual([sparkNode, sparkNode]);
      const ds = sql.query(q, { t: data.readParquet(dir) });
      const got = await ds.takeAll();
      expect(got.map((r) => ({ ...r, sd: Math.round((r.sd as number) * 1e6) }))).toEqual(want.map((r) => ({ ...r, sd: Math.round((r.sd as number) * 1e6) })));
      const ops = ds.stats()!.operators;
      // No read task ran: the Parquet scan happened inside the executors' DuckDB.
      expect(ops.find((o) => o.name === 'ReadParquet(t, pushed into the executors)')?.tasks).toBe(0);
      expect(ops.find((o) => o.detail)?.detail).toMatch(/^SQL partial aggregation over 2 executors: plan \d+ ms \(t: Parquet read by each executor \(1\/1 parts\)\), partial aggregation on 2 executors .*, merge in the driver \d+ ms$/);
    } finally {
      await sql.close();
      duck.closeSync();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('mapBatches with resources runs only on the node that offers them', async () => {
    const where = await data
      .range(200, { parallelism: 4 })
      .mapBatches((b: unknown[]) => [{ node: runtimeContext().nodeId, n: b.length }], { batchFormat: 'rows', batchSize: null, resources: { spark_executor: 1 } })
      .takeAll();
    expect(where.map((r) => r.n).reduce((a, b) => (a as number) + (b as number), 0)).toBe(200);
    expect(new Set(where.map((r) => r.node))).toEqual(new Set([c.cluster.nodeIds[2]]));
    // Without the resource, work spreads to other nodes too, and all-to-all crosses processes.
    const sorted = await data.range(300, { parallelism: 6 }).map((r) => ({ v: ((r.id as number) * 7) % 300 })).sort('v').takeAll();
    expect(sorted.map((r) => r.v)).toEqual(Array.from({ length: 300 }, (_, i) => i));
  });
});
