/** Whether the merge step of a partial aggregation gives the user's query's columns. */
import type { DuckDBConnection } from '@duckdb/node-api';

/**
 * Why `finalSql` cannot stand for the user's query on `conn` (its columns, names and DuckDB types, are
 * not `want`, or it does not bind), or undefined when it can. Nothing is scanned (DESCRIBE).
 */
export async function mergeMismatch(conn: DuckDBConnection, finalSql: string, want: readonly { name: string; type: string }[]): Promise<string | undefined> {
  let got: string[];
  try {
    got = (await conn.runAndReadAll(`DESCRIBE ${finalSql}`)).getRows().map((x) => `${String(x[0])} ${String(x[1])}`);
  } catch (e) {
    return `the rewrite does not bind (${String((e as Error).message).split('\n')[0]})`;
  }
  const w = want.map((x) => `${x.name} ${x.type}`);
  return JSON.stringify(w) !== JSON.stringify(got) ? `the merged result would have columns (${got.join(', ')}) instead of (${w.join(', ')})` : undefined;
}
