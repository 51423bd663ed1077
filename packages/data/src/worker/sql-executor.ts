/**
 * What runs inside a SQL executor actor: one DuckDB instance (threads = the CPUs the executor holds).
 * Tables are attached, never copied row by row:
 * - Parquet files as views over DuckDB's own `read_parquet` (the executor reads its share of the files
 *   where it runs; no row passes through JavaScript);
 * - Arrow blocks (zero copy from the object store on the executor's node) registered with the
 *   `rayts_arrow_scan` table function (io/arrow-scan.ts), which copies column buffers into DuckDB's
 *   vectors only while a query scans them.
 * A partial aggregation is one call (partialAggregate: attach, partial query, describe, drop).
 * Repartitioning by key happens in DuckDB (`hash(keys) % n`), one Arrow table per target executor.
 * Queries come back as Arrow tables. Calls are serialized: one DuckDB connection per executor, kept for
 * the session (Parquet metadata cached in it).
 */
import { runtimeContext } from '@samsara/ray';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { Table } from '../block.js';
import { partitionOf } from './shuffle.js';
import { sqlError } from '../sql/sql-error.js';
import { mergeMismatch } from '../sql/merge-check.js';

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

/** A table to attach on an executor: a Parquet share it reads itself, or the next `blocks` Arrow tables. */
export interface Attachment {
  readonly name: string;
  readonly parquet?: ParquetShare;
  readonly blocks?: number;
  /**
   * Copy the blocks into a DuckDB temp table instead of scanning them in place: for small tables every
   * executor joins against (a broadcast side). A table has statistics (key ranges), which DuckDB's join
   * needs for its fast paths (perfect hash join, join filters pushed into the Parquet scan); a table
   * function has none: a 1,000-row side scanned in place made a 5M-row join ~1.8× slower.
   */
  readonly materialize?: boolean;
}

/** One executor's part of a partial aggregation (SqlExecutorImpl.partialAggregate). */
export interface PartialSpec {
  /** Tables to attach first (dropped again at the end of the call unless the partial is kept). */
  readonly attach: readonly Attachment[];
  /** The partial query (partial-agg.ts). */
  readonly sql: string;
  /** The user's query: when the partial query fails, binding it says whether the query itself is wrong. */
  readonly originalSql: string;
  /** Queries to DESCRIBE after the partial query ran (the merge needs the aggregates' types). */
  readonly describe?: readonly string[];
  /** A partial larger than this stays on the executor (takeKept()) instead of coming back inline. */
  readonly inlineMaxBytes: number;
}

/** What partialAggregate() returns. */
export interface PartialResult {
  /** The partial aggregate, when at most inlineMaxBytes (else kept: fetch it with takeKept()). */
  readonly table?: Table;
  readonly rows: number;
  readonly bytes: number;
  /** The partial query does not bind (the user's query does): DuckDB's message. */
  readonly error?: string;
  readonly described?: ({ name: string; type: string }[] | { error: string })[];
  /** Milliseconds inside the executor: attaching, the partial query (scan + aggregate + to Arrow). */
  readonly ms: { readonly attach: number; readonly query: number; readonly describe: number };
}

/** Binds `sql` without running it; a query that does not bind throws DuckDB's error, with its position. */
async function throwIfWrong(conn: DuckDBConnection, sql: string): Promise<void> {
  try {
    (await conn.prepare(sql)).destroySync();
  } catch (e) {
    throw sqlError(sql, e);
  }
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
  /** Milliseconds of each call's own work (DuckDB and Arrow conversion), for benchmarks. */
  private readonly timings: string[] = [];

  constructor(private readonly threads: number) {}

  /** The timings recorded since the last call, and clears them. */
  takeTimings(): string[] {
    return this.timings.splice(0);
  }

  private timed<T>(what: string, f: () => Promise<T>): Promise<T> {
    return this.serial(async () => {
      const t = performance.now();
      try {
        return await f();
      } finally {
        if (this.timings.length < 1000) this.timings.push(`${what} ${(performance.now() - t).toFixed(1)} ms`);
      }
    });
  }

  private duck?: typeof import('../io/duckdb-arrow.js');
  private scan?: typeof import('../io/arrow-scan.js');

  private async c(): Promise<DuckDBConnection> {
    this.duck ??= await import('../io/duckdb-arrow.js');
    this.scan ??= await import('../io/arrow-scan.js');
    if (!this.conn) {
      this.instance = await this.duck.newInstance(this.threads);
      this.conn = await this.instance.connect();
      // Footers parsed once per file (DuckDB checks the file's modification time before reusing them).
      await this.conn.run('SET parquet_metadata_cache = true');
    }
    return this.conn;
  }

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const p = this.queue.then(f, f);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Opens this executor's DuckDB (session start, so the first query does not pay for it). */
  async warm(): Promise<void> {
    await this.c();
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

  /** Attaches every table of `attach` (Parquet shares as views, Arrow tables registered in place). */
  private async attachAll(conn: DuckDBConnection, attach: readonly Attachment[], tables: readonly Table[]): Promise<void> {
    let next = 0;
    for (const a of attach) {
      if (a.parquet) {
        const q = parquetShareSql(a.parquet);
        try {
          await conn.run(`CREATE OR REPLACE TEMP VIEW ${ident(a.name)} AS ${q}`);
        } catch (e) {
          throw sqlError(q, e);
        }
        this.views.add(a.name);
      } else if (a.materialize) {
        const ts = tables.slice(next, next + (a.blocks ?? 0));
        next += a.blocks ?? 0;
        const tmp = `__arrow_${a.name}`;
        this.scan!.setArrow(conn, tmp, ts);
        try {
          await conn.run(`CREATE OR REPLACE TEMP TABLE ${ident(a.name)} AS SELECT * FROM rayts_arrow_scan(${lit(tmp)})`);
        } finally {
          this.scan!.clearArrow(conn, tmp);
        }
        this.tables.add(a.name);
      } else {
        const ts = tables.slice(next, next + (a.blocks ?? 0));
        next += a.blocks ?? 0;
        await this.scan!.registerArrow(conn, a.name, ts, this.views.has(a.name));
        this.views.add(a.name);
      }
    }
  }

  /** Attaches every table of `attach` in one call (the plans that move rows keep them until reset()). */
  attach(attach: readonly Attachment[], tables: Table[]): Promise<void> {
    return this.timed('attach', async () => this.attachAll(await this.c(), attach, tables));
  }

  /**
   * One call per executor for a partial aggregation: attach this executor's share, run the partial
   * query, describe what the merge needs, drop the share again. A small partial comes back inline (the
   * driver merges); a large one stays here for takeKept().
   */
  partialAggregate(spec: PartialSpec, tables: Table[]): Promise<PartialResult> {
    return this.timed('partialAggregate', async () => {
      const conn = await this.c();
      const t0 = performance.now();
      await this.attachAll(conn, spec.attach, tables);
      const t1 = performance.now();
      let table: Table;
      try {
        table = await this.duck!.queryToArrow(conn, spec.sql);
      } catch (e) {
        // The user's query itself may be wrong: binding it gives DuckDB's error at its own position.
        await throwIfWrong(conn, spec.originalSql);
        await this.dropAll(conn);
        return { rows: 0, bytes: 0, error: String((e as Error).message).split('\n')[0], ms: { attach: t1 - t0, query: performance.now() - t1, describe: 0 } };
      }
      const t2 = performance.now();
      let described: PartialResult['described'];
      if (spec.describe) {
        described = [];
        for (const q of spec.describe) {
          try {
            const r = await conn.runAndReadAll(`DESCRIBE ${q}`);
            described.push(r.getRows().map((x) => ({ name: String(x[0]), type: String(x[1]) })));
          } catch (e) {
            // The user's query does not bind (e.g. a wrong column only in ORDER BY or HAVING, which the
            // partial query leaves out): binding it gives DuckDB's error at its own position.
            if (q === spec.originalSql) await throwIfWrong(conn, spec.originalSql);
            described.push({ error: String((e as Error).message) });
          }
        }
      }
      const t3 = performance.now();
      const { tableBytes } = await import('../block.js');
      const bytes = tableBytes(table);
      const ms = { attach: t1 - t0, query: t2 - t1, describe: t3 - t2 };
      await this.dropAll(conn);
      if (bytes > spec.inlineMaxBytes) {
        this.kept = table;
        return { rows: table.numRows, bytes, described, ms };
      }
      return { table, rows: table.numRows, bytes, described, ms };
    });
  }

  private kept?: Table;

  /** The partial a partialAggregate() call kept here (too large to come back inline), once. */
  takeKept(): Table {
    const t = this.kept;
    this.kept = undefined;
    if (!t) throw new Error('internal: no partial aggregate kept on this executor');
    return t;
  }

  /** Column names and DuckDB types of the result of `sql` (nothing is scanned). */
  describe(sql: string): Promise<{ name: string; type: string }[]> {
    return this.timed('describe', async () => {
      const conn = await this.c();
      try {
        const r = await conn.runAndReadAll(`DESCRIBE ${sql}`);
        return r.getRows().map((x) => ({ name: String(x[0]), type: String(x[1]) }));
      } catch (e) {
        throw sqlError(sql, e);
      }
    });
  }

  /**
   * The merge step of a partial aggregation whose partials were too large to come back inline:
   * `__partial` is the union of `partials`; runs `finalSql` over it when its columns (names and DuckDB
   * types) are `want`, the user's query's. Otherwise returns a one-column table `__rayts_mismatch` saying
   * why, and the driver falls back to another plan.
   */
  finalize(want: readonly { name: string; type: string }[], finalSql: string, partials: Table[]): Promise<Table> {
    return this.timed('finalize', async () => {
      const conn = await this.c();
      await this.scan!.registerArrow(conn, '__partial', partials);
      this.views.add('__partial');
      const why = await mergeMismatch(conn, finalSql, want);
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
    return this.timed('query', async () => {
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

  private async dropAll(conn: DuckDBConnection): Promise<void> {
    for (const n of this.views) await this.scan!.unregisterArrow(conn, n);
    for (const n of this.tables) await conn.run(`DROP TABLE IF EXISTS ${ident(n)}`);
    this.views.clear();
    this.tables.clear();
  }

  /** Drops every view, table and registration made for a query, and a kept partial. */
  reset(): Promise<void> {
    return this.serial(async () => {
      this.kept = undefined;
      await this.dropAll(await this.c());
    });
  }

  close(): void {
    this.conn?.closeSync();
    this.instance?.closeSync();
    this.conn = undefined;
  }
}
