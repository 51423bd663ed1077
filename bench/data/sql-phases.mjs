/**
 * Where the time of Data's SQL GROUP BY over Parquet goes (issue 14's 0.5× row), phase by phase.
 *
 *   flock /tmp/rayts-bench.lock node bench/data/sql-phases.mjs [--scale 1] [--runs 7]
 *
 * Same setup as the data suite's SQL rows: a 3-process CLI cluster (head with no CPUs, 2 worker nodes ×
 * 1 CPU with `spark_executor`), 10M rows × scale in 4 Parquet files, 2 executors × 1 DuckDB thread,
 * DuckDB in this process with 2 threads as the baseline. Prints, per run: end to end, the operator's
 * phases (stats detail) and what each executor spent inside its own calls; then the medians, an actor
 * round trip, and DuckDB's own time for one executor's share on 1 thread.
 */
import { spawnSync } from 'node:child_process';
import { rmSync, readdirSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { startSqlCluster } from './sql-cluster.mjs';

const argv = process.argv.slice(2);
const arg = (k, d) => (argv.includes(k) ? Number(argv[argv.indexOf(k) + 1]) : d);
const scale = arg('--scale', 1);
const runs = arg('--runs', 7);
const { init, nodes, get, put, free, objectStoreStats, clusterResources } = await import('@samsara/ray');
const arrow = await import('apache-arrow');
const data = await import('@samsara/ray-data');
const { DuckDBInstance } = await import('@duckdb/node-api');
const log = (s) => process.stdout.write(`${s}\n`);
const median = (a) => a.slice().sort((p, q) => p - q)[Math.floor(a.length / 2)];

log(`load average before: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
const { tmp, stop, address, token } = await startSqlCluster('rayts-sql-phases-');
const pqDir = join(tmp, 'parquet');
try {
  await init({ address, token });
  for (let i = 0; i < 200 && (await nodes()).filter((n) => n.alive).length < 3; i++) await new Promise((r) => setTimeout(r, 100));
  const n = Math.floor(10_000_000 * scale);
  const duck = await (await DuckDBInstance.create(':memory:', { threads: '2' })).connect();
  await duck.run(`CREATE TABLE t AS SELECT (i % 1000)::INTEGER AS k, random() AS v, i::BIGINT AS id FROM range(${n}) r(i)`);
  spawnSync('mkdir', ['-p', pqDir]);
  for (let f = 0; f < 4; f++) await duck.run(`COPY (SELECT * FROM t WHERE id % 4 = ${f}) TO '${join(pqDir, `part-${f}.parquet`)}' (FORMAT parquet, ROW_GROUP_SIZE 262144)`);
  await duck.run('DROP TABLE t');
  const files = readdirSync(pqDir).sort().map((f) => join(pqDir, f));
  const list = (fs) => `[${fs.map((f) => `'${f}'`).join(', ')}]`;
  const qAgg = 'SELECT k, avg(v) AS a, sum(v) AS s, count(*) AS c FROM t GROUP BY k';
  const duckMs = async (conn, q, k = 5) => {
    const ts = [];
    for (let i = 0; i < k; i++) {
      const t = performance.now();
      await conn.runAndReadAll(q);
      ts.push(performance.now() - t);
    }
    return median(ts);
  };
  const base2 = await duckMs(duck, qAgg.replace('FROM t', `FROM read_parquet(${list(files)}) t`));
  const one = await (await DuckDBInstance.create(':memory:', { threads: '1' })).connect();
  const half1 = await duckMs(one, `SELECT k, sum(v), count(v), count(*) FROM read_parquet(${list(files.slice(0, 2))}) GROUP BY k`);

  const sql = await data.sqlSession({ numExecutors: 2, resourcesPerExecutor: { spark_executor: 1 } });
  const ex = sql.executors;
  try {
    const rt = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      await get(ex[0].nodeId.remote());
      rt.push(performance.now() - t);
    }
    // A merged result's trip: put in the driver, then fetched by the consumer.
    const small = new arrow.Table({ k: arrow.makeVector(Int32Array.from({ length: 1000 }, (_, i) => i)), a: arrow.makeVector(new Float64Array(1000)) });
    const pg = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      const r = await put(small);
      await get(r);
      pg.push(performance.now() - t);
      await free([r]).catch(() => {});
    }
    // What every Dataset run asks the head first (executePlan sizes its budget from these).
    const heads = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      await Promise.all([objectStoreStats(), clusterResources()]);
      heads.push(performance.now() - t);
    }
    for (let i = 0; i < 2; i++) await sql.query(qAgg, { t: data.readParquet(pqDir) }).takeAll();
    await Promise.all(ex.map((e) => get(e.takeTimings.remote())));
    const totals = [];
    for (let r = 0; r < runs; r++) {
      const ds = sql.query(qAgg, { t: data.readParquet(pqDir) });
      const t = performance.now();
      const res = await ds.takeAll();
      const ms = performance.now() - t;
      if (res.length !== 1000) throw new Error(`got ${res.length} groups`);
      totals.push(ms);
      const st = ds.stats();
      const op = st.operators.find((o) => o.detail);
      // Cleanup (reset) runs after the result is handed on: wait for it by queueing behind it.
      const timings = await Promise.all(ex.map((e) => get(e.takeTimings.remote())));
      log(`run ${r}: ${ms.toFixed(1)} ms end to end; executePlan ${st.totalMs} ms; Sql op ${op?.wallMs} ms: ${op?.detail}`);
      timings.forEach((tm, i) => log(`   executor ${i}: ${tm.join(', ')}`));
    }
    // The 2-table join (the small side from Arrow blocks, broadcast), as in the data suite.
    await duck.run(`CREATE TABLE d AS SELECT i::INTEGER AS k, 'name' || (i % 100) AS name FROM range(1000) r(i)`);
    const dims = data.fromArrow(new arrow.Table({ k: arrow.makeVector(Int32Array.from({ length: 1000 }, (_, i) => i)), name: arrow.vectorFromArray(Array.from({ length: 1000 }, (_, i) => `name${i % 100}`)) }));
    const qJoin = 'SELECT t.k, max(d.name) AS name, sum(t.v) AS s FROM t JOIN d ON t.k = d.k GROUP BY t.k';
    const baseJoin = await duckMs(duck, qJoin.replace('FROM t', `FROM read_parquet(${list(files)}) t`));
    await sql.query(qJoin, { t: data.readParquet(pqDir), d: dims }).takeAll();
    const joins = [];
    let joinDetail = '';
    for (let r = 0; r < runs; r++) {
      const ds = sql.query(qJoin, { t: data.readParquet(pqDir), d: dims });
      const t = performance.now();
      await ds.takeAll();
      joins.push(performance.now() - t);
      joinDetail = ds.stats().operators.find((o) => o.detail)?.detail;
    }
    log('');
    log(`join: median ${median(joins).toFixed(1)} ms; DuckDB 2 threads ${baseJoin.toFixed(1)} ms → ratio ${(baseJoin / median(joins)).toFixed(3)}×; last run: ${joinDetail}`);
    log(`median end to end: ${median(totals).toFixed(1)} ms over ${runs} runs (min ${Math.min(...totals).toFixed(1)})`);
    log(`DuckDB in this process, 2 threads, all files: ${base2.toFixed(1)} ms → ratio ${(base2 / median(totals)).toFixed(3)}×`);
    log(`DuckDB in this process, 1 thread, half the files (one executor's share): ${half1.toFixed(1)} ms`);
    log(`actor round trip (nodeId): median ${median(rt).toFixed(2)} ms`);
    log(`objectStoreStats() + clusterResources() (each Dataset run starts with them): median ${median(heads).toFixed(2)} ms`);
    log(`put + get of a 1,000-row table in the driver: median ${median(pg).toFixed(2)} ms`);
  } finally {
    await sql.close();
  }
} finally {
  await stop();
  rmSync(tmp, { recursive: true, force: true });
  log(`load average after: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}
