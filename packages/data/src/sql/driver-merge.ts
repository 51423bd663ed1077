/**
 * The merge step of a partial aggregation, run in the driver: the executors' partial aggregates came
 * back inline with their replies (small: one row per group and executor), so merging them here saves the
 * hops of merging on an executor (another actor call, the partials moved between nodes, the result
 * measured and fetched). One DuckDB instance of its own (1 thread), calls serialized.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Table } from '../block.js';
import { mergeMismatch } from './merge-check.js';

let conn: Promise<DuckDBConnection> | undefined;
let queue: Promise<unknown> = Promise.resolve();

async function connection(): Promise<DuckDBConnection> {
  conn ??= (async () => {
    const { newInstance } = await import('../io/duckdb-arrow.js');
    return (await newInstance(1)).connect();
  })();
  return conn;
}

/** Opens the merge's DuckDB ahead of the first query (sqlSession() calls it). */
export async function warmDriverMerge(): Promise<void> {
  await connection();
  await import('../io/arrow-scan.js');
}

/**
 * Runs `finalSql` over the union of `partials` (`rayts_arrow_scan('__partial')`) when its columns are
 * `want` (the user's query's names and DuckDB types); otherwise says why not (the caller falls back to a
 * plan that moves rows). `want` undefined: this query and inputs were checked before, skip the check.
 */
export function mergeOnDriver(partials: readonly Table[], finalSql: string, want: readonly { name: string; type: string }[] | undefined): Promise<{ table: Table } | { mismatch: string }> {
  const run = async (): Promise<{ table: Table } | { mismatch: string }> => {
    const c = await connection();
    const scan = await import('../io/arrow-scan.js');
    const { queryToArrow } = await import('../io/duckdb-arrow.js');
    scan.setArrow(c, '__partial', partials);
    try {
      const mismatch = want && (await mergeMismatch(c, finalSql, want));
      if (mismatch) return { mismatch };
      return { table: await queryToArrow(c, finalSql) };
    } finally {
      scan.clearArrow(c, '__partial');
    }
  };
  const p = queue.then(run, run);
  queue = p.catch(() => undefined);
  return p;
}
