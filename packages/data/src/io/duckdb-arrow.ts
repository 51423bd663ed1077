/**
 * The bridge between DuckDB and Arrow (`@duckdb/node-api` has no Arrow API yet): query results become
 * Arrow tables by copying DuckDB's vectors (numeric columns as whole typed arrays, validity bitmaps
 * byte for byte — both use Arrow's LSB-first layout), and Arrow tables are appended to DuckDB tables in
 * data chunks of 2,048 rows the same way. One DuckDB instance per thread, made on first use.
 */
import { DuckDBInstance, DuckDBDataChunk, DuckDBTypeId, type DuckDBConnection, type DuckDBType } from '@duckdb/node-api';
import * as duck from '@duckdb/node-api';
import { arrow, type Table } from '../block.js';

let instance: Promise<DuckDBInstance> | undefined;

/** A connection to this thread's DuckDB (threads: `threads`, default 1: tasks are the parallelism). */
export async function connect(threads = 1): Promise<DuckDBConnection> {
  instance ??= DuckDBInstance.create(':memory:', { threads: String(threads) });
  return (await instance).connect();
}

/** A new DuckDB instance (SQL executors own theirs). */
export async function newInstance(threads: number): Promise<DuckDBInstance> {
  return DuckDBInstance.create(':memory:', { threads: String(threads) });
}

interface NumericKind {
  readonly arrowType: () => arrow.DataType;
  readonly Ctor: { new (n: number): ArrayBufferView & ArrayLike<unknown> & { set(a: ArrayLike<unknown>, o?: number): void }; BYTES_PER_ELEMENT: number };
}

const NUMERIC: Partial<Record<DuckDBTypeId, NumericKind>> = {
  [DuckDBTypeId.DOUBLE]: { arrowType: () => new arrow.Float64(), Ctor: Float64Array },
  [DuckDBTypeId.FLOAT]: { arrowType: () => new arrow.Float32(), Ctor: Float32Array },
  [DuckDBTypeId.BIGINT]: { arrowType: () => new arrow.Int64(), Ctor: BigInt64Array as never },
  [DuckDBTypeId.INTEGER]: { arrowType: () => new arrow.Int32(), Ctor: Int32Array },
  [DuckDBTypeId.SMALLINT]: { arrowType: () => new arrow.Int16(), Ctor: Int16Array },
  [DuckDBTypeId.TINYINT]: { arrowType: () => new arrow.Int8(), Ctor: Int8Array },
  [DuckDBTypeId.UBIGINT]: { arrowType: () => new arrow.Uint64(), Ctor: BigUint64Array as never },
  [DuckDBTypeId.UINTEGER]: { arrowType: () => new arrow.Uint32(), Ctor: Uint32Array },
  [DuckDBTypeId.USMALLINT]: { arrowType: () => new arrow.Uint16(), Ctor: Uint16Array },
  [DuckDBTypeId.UTINYINT]: { arrowType: () => new arrow.Uint8(), Ctor: Uint8Array },
  [DuckDBTypeId.DATE]: { arrowType: () => new arrow.DateDay(), Ctor: Int32Array },
  [DuckDBTypeId.TIMESTAMP]: { arrowType: () => new arrow.TimestampMicrosecond(), Ctor: BigInt64Array as never },
};

interface ColumnBuilder {
  add(vector: unknown, n: number): void;
  finish(): arrow.Vector;
}

function numericBuilder(kind: NumericKind): ColumnBuilder {
  const parts: { items: ArrayBufferView; valid?: Uint8Array; n: number }[] = [];
  let total = 0;
  let anyNull = false;
  return {
    add(vector, n) {
      const v = vector as { items: ArrayBufferView & { slice(): ArrayBufferView }; validity: { data: BigUint64Array | null } };
      // The vector's items are already a copy of DuckDB's memory (the binding copies): keep them.
      const all = v.items as unknown as ArrayBufferView & { length: number; subarray(a: number, b: number): ArrayBufferView };
      const items = all.length === n ? all : all.subarray(0, n);
      let valid: Uint8Array | undefined;
      if (v.validity.data) {
        valid = new Uint8Array(v.validity.data.buffer.slice(v.validity.data.byteOffset, v.validity.data.byteOffset + Math.ceil(n / 8)));
        anyNull = true;
      }
      parts.push({ items, valid, n });
      total += n;
    },
    finish() {
      const out = new kind.Ctor(total);
      let off = 0;
      let bitmap: Uint8Array | undefined;
      if (anyNull) bitmap = new Uint8Array(Math.ceil(total / 8)).fill(0xff);
      let nulls = 0;
      for (const p of parts) {
        out.set(p.items as unknown as ArrayLike<unknown>, off);
        if (bitmap && p.valid) {
          for (let i = 0; i < p.n; i++) {
            if (!(p.valid[i >> 3] & (1 << (i & 7)))) {
              const j = off + i;
              bitmap[j >> 3] &= ~(1 << (j & 7));
              nulls++;
            }
          }
        }
        off += p.n;
      }
      const type = kind.arrowType();
      const data = arrow.makeData({ type: type as never, length: total, nullCount: nulls, nullBitmap: nulls ? bitmap : undefined, data: out as never });
      return arrow.makeVector(data);
    },
  };
}

function genericBuilder(t: DuckDBType): ColumnBuilder {
  const vals: unknown[] = [];
  let type: arrow.DataType = new arrow.Utf8();
  const id = t.typeId;
  if (id === DuckDBTypeId.BOOLEAN) type = new arrow.Bool();
  else if (id === DuckDBTypeId.DECIMAL || id === DuckDBTypeId.HUGEINT || id === DuckDBTypeId.UHUGEINT) type = new arrow.Float64();
  return {
    add(vector, n) {
      const v = vector as { getItem(i: number): unknown };
      for (let i = 0; i < n; i++) {
        const x = v.getItem(i);
        if (x === null || x === undefined) vals.push(null);
        else if (type instanceof arrow.Bool) vals.push(x);
        else if (type instanceof arrow.Float64) vals.push(typeof x === 'bigint' ? Number(x) : typeof x === 'number' ? x : Number(String(x)));
        else vals.push(typeof x === 'string' ? x : String(x));
      }
    },
    finish() {
      return arrow.vectorFromArray(vals, type);
    },
  };
}

/** Runs `sql` and returns its result as one Arrow table. Throws DuckDB's error. */
export async function queryToArrow(conn: DuckDBConnection, sql: string): Promise<Table> {
  // Materialized, then read chunk by chunk synchronously: streaming costs one async hop per 2,048 rows.
  const result = await conn.run(sql);
  const names = result.columnNames();
  const types = result.columnTypes();
  const builders = types.map((t) => (NUMERIC[t.typeId] ? numericBuilder(NUMERIC[t.typeId]!) : genericBuilder(t)));
  const chunks = result.chunkCount;
  for (let i = 0; i < chunks; i++) {
    const chunk = result.getChunk(i);
    const n = chunk.rowCount;
    if (n === 0) continue;
    for (let c = 0; c < builders.length; c++) builders[c].add(chunk.getColumnVector(c), n);
  }
  const cols: Record<string, arrow.Vector> = {};
  names.forEach((name, i) => (cols[uniqueName(cols, name)] = builders[i].finish()));
  return new arrow.Table(cols);
}

function uniqueName(cols: Record<string, unknown>, name: string): string {
  let n = name;
  for (let i = 1; n in cols; i++) n = `${name}_${i}`;
  return n;
}

function duckTypeOf(t: arrow.DataType): DuckDBType {
  switch (t.typeId) {
    case arrow.Type.Float:
      return (t as arrow.Float).precision === arrow.Precision.SINGLE ? duck.FLOAT : duck.DOUBLE;
    case arrow.Type.Int: {
      const i = t as arrow.Int;
      const m: Record<string, DuckDBType> = { '8s': duck.TINYINT, '16s': duck.SMALLINT, '32s': duck.INTEGER, '64s': duck.BIGINT, '8u': duck.UTINYINT, '16u': duck.USMALLINT, '32u': duck.UINTEGER, '64u': duck.UBIGINT };
      return m[`${i.bitWidth}${i.isSigned ? 's' : 'u'}`];
    }
    case arrow.Type.Bool:
      return duck.BOOLEAN;
    case arrow.Type.Date:
      return duck.DATE;
    default:
      return duck.VARCHAR;
  }
}

function quoteIdent(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

/** Creates (or replaces) table `name` in DuckDB with the rows of `t`. */
export async function arrowToDuck(conn: DuckDBConnection, name: string, t: Table, replace = true): Promise<void> {
  const fields = t.schema.fields;
  const types = fields.map((f) => duckTypeOf(f.type));
  const cols = fields.map((f, i) => `${quoteIdent(f.name)} ${types[i].toString()}`).join(', ');
  await conn.run(`CREATE ${replace ? 'OR REPLACE ' : ''}TABLE ${quoteIdent(name)} (${cols || 'dummy INTEGER'})`);
  await appendArrow(conn, name, t);
}

/** Appends the rows of `t` to an existing DuckDB table whose columns match by position. */
export async function appendArrow(conn: DuckDBConnection, name: string, t: Table): Promise<void> {
  if (t.numRows === 0 || t.numCols === 0) return;
  const fields = t.schema.fields;
  const types = fields.map((f) => duckTypeOf(f.type));
  const appender = await conn.createAppender(name);
  const arrays = fields.map((f) => {
    const c = t.getChild(f.name)!;
    const numeric = (arrow.DataType.isFloat(f.type) || arrow.DataType.isInt(f.type)) && duckTypeOf(f.type) !== duck.VARCHAR;
    if (numeric) return { typed: c.toArray() as ArrayLike<unknown> & { subarray(a: number, b: number): ArrayLike<unknown> }, c };
    if (f.type.typeId === arrow.Type.Date) return { values: Array.from({ length: c.length }, (_, i) => { const v = c.get(i) as Date | number | null; return v === null ? null : duck.dateValue(Math.floor((v instanceof Date ? v.getTime() : v) / 86400000)); }), c };
    if (f.type.typeId === arrow.Type.Bool) return { values: Array.from({ length: c.length }, (_, i) => c.get(i) as boolean | null), c };
    return { values: Array.from({ length: c.length }, (_, i) => { const v = c.get(i); return v === null || v === undefined ? null : typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v); }), c };
  });
  const STEP = 2048;
  for (let off = 0; off < t.numRows; off += STEP) {
    const n = Math.min(STEP, t.numRows - off);
    const chunk = DuckDBDataChunk.create(types, n);
    arrays.forEach((a, ci) => {
      if (a.typed) {
        const vec = chunk.getColumnVector(ci) as unknown as { items: { set(x: ArrayLike<unknown>): void }; setItem(i: number, v: null): void; flush(): void };
        vec.items.set(a.typed.subarray(off, off + n));
        if (a.c.nullCount > 0) for (let i = 0; i < n; i++) if (!a.c.isValid(off + i)) vec.setItem(i, null);
        vec.flush();
      } else {
        chunk.setColumnValues(ci, a.values!.slice(off, off + n) as never);
      }
    });
    appender.appendDataChunk(chunk);
  }
  appender.flushSync();
  appender.closeSync();
}

export { quoteIdent };
