/**
 * What runs inside a SQL executor actor: one DuckDB instance (threads = the CPUs the executor holds).
 * Tables are attached, never copied row by row:
 * - Parquet files as views over DuckDB's own `read_parquet` (the executor reads its share of the files
 *   where it runs; no row passes through JavaScript);
 * - Arrow blocks (zero copy from the object store on the executor's node) registered with the
 *   `rayts_arrow_scan` table function (io/arrow-scan.ts), which copies column buffers into DuckDB's
 *   vectors only while a query scans them.
 * Repartitioning by key happens in DuckDB (`hash(keys) % n`), one Arrow table per target executor.
 * Queries come back as Arrow tables. Calls are serialized: one DuckDB connection per executor.
 */
import { runtimeContext } from '@samsara/ray';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { Table } from '../block.js';
import { partitionOf } from './shuffle.js';
import { sqlError } from '../sql/sql-error.js';

/** A share of Parquet files (or row ranges of them) an executor reads itself. */
export interface ParquetShare {
  readonly parts: readonly { readonly path: string; readonly rowStart?: number; readonly rowEnd?: number }[];
  readonly columns?: readonly string[];
  /** A file to take the schema from when `parts` is empty. */
  readonly schemaPath: string;
}

function lit(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

function ident(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

/** The SQL of a view over a Parquet share. */
export function parquetShareSql(share: ParquetShare): string {
  const cols = share.columns?.length ? share.columns.map(ident).join(', ') : '*';
  if (!share.parts.length) return `SELECT ${cols} FROM read_parquet(${lit(share.schemaPath)}) LIMIT 0`;
  const whole = share.parts.filter((p) => p.rowStart === undefined).map((p) => p.path);
  const ranged = share.parts.filter((p) => p.rowStart !== undefined);
  const sel: string[] = [];
  if (whole.length) sel.push(`SELECT ${cols} FROM read_parquet([${whole.map(lit).join(', ')}])`);
  for (const r of ranged) {
    const rc = share.columns?.length ? cols : '* EXCLUDE (file_row_number)';
    sel.push(`SELECT ${rc} FROM read_parquet(${lit(r.path)}, file_row_number = true) WHERE file_row_number >= ${r.rowStart} AND file_row_number < ${r.rowEnd}`);
  }
  return sel.join(' UNION ALL ');
}

export class SqlExecutorImpl {
  private instance?: DuckDBInstance;
  private conn?: DuckDBConnection;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly views = new Set<string>();
  private readonly tables = new Set<string>();

  constructor(private readonly threads: number) {}

  private duck?: typeof import('../io/duckdb-arrow.js');
  private scan?: typeof import('../io/arrow-scan.js');

  private async c(): Promise<DuckDBConnection> {
    this.duck ??= await import('../io/duckdb-arrow.js');
    this.scan ??= await import('../io/arrow-scan.js');
    if (!this.conn) {
      this.instance = await this.duck.newInstance(this.threads);
      this.conn = await this.instance.connect();
    }
    return this.conn;
  }

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const p = this.queue.then(f, f);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** The node this executor runs on. */
  nodeId(): string {
    return runtimeContext().nodeId;
  }

  /**
   * Makes `name` the rows of `tables` (partition `part` of each, when part ≥ 0: the JS-partitioned
   * plan), appending to what an earlier load of the same query put there. Zero copy: the tables are
   * scanned in place.
   */
  load(name: string, part: number, tables: Table[]): Promise<{ rows: number }> {
    return this.serial(async () => {
      const conn = await this.c();
      const ts = tables.map((x) => (part >= 0 ? partitionOf(x, part) : x));
      await this.scan!.registerArrow(conn, name, ts, this.views.has(name));
      this.views.add(name);
      return { rows: ts.reduce((s, t) => s + t.numRows, 0) };
    });
  }

  /** Makes `name` a view over this executor's share of Parquet files (DuckDB reads them here). */
  attachParquet(name: string, share: ParquetShare): Promise<void> {
    return this.serial(async () => {
      const conn = await this.c();
      const q = parquetShareSql(share);
      try {
        await conn.run(`CREATE OR REPLACE TEMP VIEW ${ident(name)} AS ${q}`);
      } catch (e) {
        throw sqlError(q, e);
      }
      this.views.add(name);
    });
  }

  /** Column names and DuckDB types of the result of `sql` (nothing is scanned). */
  describe(sql: string): Promise<{ name: string; type: string }[]> {
    return this.serial(async () => {
      const conn = await this.c();
      try {
        const r = await conn.runAndReadAll(`DESCRIBE ${sql}`);
        return r.getRows().map((x) => ({ name: String(x[0]), type: String(x[1]) }));
      } catch (e) {
        throw sqlError(sql, e);
      }
    });
  }

  /** describe() of several queries in one call (an error per query that does not bind). */
  async describeAll(sqls: string[]): Promise<({ name: string; type: string }[] | { error: string })[]> {
    const out: ({ name: string; type: string }[] | { error: string })[] = [];
    for (const q of sqls) out.push(await this.describe(q).catch((e: Error) => ({ error: String(e.message) })));
    return out;
  }

  /**
   * The merge step of a partial aggregation: `__partial` is the union of `partials`; runs `finalSql` over
   * it when its columns (names and types) are those of `originalSql`. Otherwise returns a one-column
   * table `__rayts_mismatch` saying why, and the driver falls back to another plan.
   */
  finalize(originalSql: string, finalSql: string, partials: Table[]): Promise<Table> {
    return this.serial(async () => {
      const conn = await this.c();
      await this.scan!.registerArrow(conn, '__partial', partials);
      this.views.add('__partial');
      const cols = async (q: string) => (await conn.runAndReadAll(`DESCRIBE ${q}`)).getRows().map((x) => `${String(x[0])} ${String(x[1])}`);
      let why: string | undefined;
      try {
        const want = await cols(originalSql);
        const got = await cols(finalSql);
        if (JSON.stringify(want) !== JSON.stringify(got)) why = `the merged result would have columns (${got.join(', ')}) instead of (${want.join(', ')})`;
      } catch (e) {
        why = `the rewrite does not bind (${String((e as Error).message).split('\n')[0]})`;
      }
      if (why) return this.duck!.queryToArrow(conn, `SELECT ${lit(why)} AS __rayts_mismatch`);
      try {
        return await this.duck!.queryToArrow(conn, finalSql);
      } catch (e) {
        throw sqlError(finalSql, e);
      }
    });
  }

  /** Computes each row's target executor, `hash(keyExprs) % n`, into a temp table for partOf(). */
  partitionPrepare(name: string, keyExprs: readonly string[], n: number): Promise<number> {
    return this.serial(async () => {
      const conn = await this.c();
      const q = `SELECT *, (hash(${keyExprs.join(', ')}) % ${n})::INTEGER AS __part FROM ${ident(name)}`;
      try {
        await conn.run(`CREATE OR REPLACE TEMP TABLE ${ident(`__x_${name}`)} AS ${q}`);
      } catch (e) {
        throw sqlError(q, e);
      }
      this.tables.add(`__x_${name}`);
      const r = await conn.runAndReadAll(`SELECT count(*) FROM ${ident(`__x_${name}`)}`);
      return Number(r.getRows()[0][0]);
    });
  }

  /** The rows of partition `p` prepared by partitionPrepare(), as one Arrow table. */
  partOf(name: string, p: number): Promise<Table> {
    return this.serial(async () => {
      const conn = await this.c();
      return this.duck!.queryToArrow(conn, `SELECT * EXCLUDE (__part) FROM ${ident(`__x_${name}`)} WHERE __part = ${p}`);
    });
  }

  /** Runs `sql` over the attached tables. */
  query(sql: string): Promise<Table> {
    return this.serial(async () => {
      const conn = await this.c();
      try {
        return await this.duck!.queryToArrow(conn, sql);
      } catch (e) {
        throw sqlError(sql, e);
      }
    });
  }

  /** Per-block mode: `name` is this one block; runs `sql` over it. */
  queryBlock(sql: string, name: string, table: Table): Promise<Table> {
    return this.serial(async () => {
      const conn = await this.c();
      await this.scan!.registerArrow(conn, name, [table]);
      try {
        return await this.duck!.queryToArrow(conn, sql);
      } catch (e) {
        throw sqlError(sql, e);
      } finally {
        await this.scan!.unregisterArrow(conn, name);
      }
    });
  }

  /** Drops every view, table and registration made for a query. */
  reset(): Promise<void> {
    return this.serial(async () => {
      const conn = await this.c();
      for (const n of this.views) await this.scan!.unregisterArrow(conn, n);
      for (const n of this.tables) await conn.run(`DROP TABLE IF EXISTS ${ident(n)}`);
      this.views.clear();
      this.tables.clear();
    });
  }

  close(): void {
    this.conn?.closeSync();
    this.instance?.closeSync();
    this.conn = undefined;
  }
}
