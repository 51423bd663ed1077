/**
 * What runs inside a SQL executor actor: one DuckDB instance (threads = the CPUs the executor holds),
 * tables loaded from Arrow blocks (whole, or one hash partition of each), queries answered as Arrow
 * tables. Calls are serialized: one DuckDB connection per executor.
 */
import { runtimeContext } from '@samsara/ray';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { concatTables, tableBytes, type Table } from '../block.js';
import { partitionOf } from './shuffle.js';
import { sqlError } from '../sql/sql-error.js';

export class SqlExecutorImpl {
  private instance?: DuckDBInstance;
  private conn?: DuckDBConnection;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly created = new Set<string>();

  constructor(private readonly threads: number) {}

  private duck?: typeof import('../io/duckdb-arrow.js');

  private async c(): Promise<DuckDBConnection> {
    this.duck ??= await import('../io/duckdb-arrow.js');
    const { newInstance } = this.duck;
    if (!this.conn) {
      this.instance = await newInstance(this.threads);
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

  /** Appends partition `part` (or all rows when part < 0) of each table to DuckDB table `name`. */
  load(name: string, part: number, tables: Table[]): Promise<{ rows: number; bytes: number }> {
    return this.serial(async () => {
      const conn = await this.c();
      const t = concatTables(tables.map((x) => (part >= 0 ? partitionOf(x, part) : x)));
      const clean = stripOffsets(t);
      if (!this.created.has(name)) {
        await this.duck!.arrowToDuck(conn, name, clean);
        this.created.add(name);
      } else {
        await this.duck!.appendArrow(conn, name, clean);
      }
      return { rows: clean.numRows, bytes: tableBytes(clean) };
    });
  }

  /** Runs `sql` over the loaded tables. */
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
      await this.duck!.arrowToDuck(conn, name, table);
      try {
        return await this.duck!.queryToArrow(conn, sql);
      } catch (e) {
        throw sqlError(sql, e);
      } finally {
        await conn.run(`DROP TABLE IF EXISTS ${this.duck!.quoteIdent(name)}`);
      }
    });
  }

  /** Drops every table loaded for a query. */
  reset(): Promise<void> {
    return this.serial(async () => {
      const conn = await this.c();
      for (const n of this.created) await conn.run(`DROP TABLE IF EXISTS ${this.duck!.quoteIdent(n)}`);
      this.created.clear();
    });
  }

  close(): void {
    this.conn?.closeSync();
    this.instance?.closeSync();
    this.conn = undefined;
  }
}

function stripOffsets(t: Table): Table {
  return t.schema.metadata.size ? concatTables([t]).select(t.schema.fields.map((f) => f.name)) : t;
}
