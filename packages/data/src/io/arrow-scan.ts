/**
 * Arrow tables as DuckDB relations without loading them into DuckDB tables: a table function
 * `rayts_arrow_scan('name')` scans the Arrow tables registered under `name`, 2,048 rows per call,
 * writing each numeric column straight from the Arrow buffer into DuckDB's vector (one memcpy per column
 * and chunk, through `copy_data_to_vector`), validity bitmaps byte for byte (both LSB-first). Only the
 * columns the query uses are copied (projection pushdown). Strings, booleans and other types are written
 * value by value. `@duckdb/node-api` has no Arrow import; this is the cheapest path it allows: no row
 * objects, no appender, no second copy into table storage.
 */
import bindings from '@duckdb/node-bindings';
import * as duck from '@duckdb/node-api';
import { DuckDBTableFunction, type DuckDBConnection, type DuckDBDataChunk, type DuckDBType } from '@duckdb/node-api';
import { arrow, type Table } from '../block.js';

const CHUNK = 2048;

type Writer = (vec: bindings.Vector, data: arrow.Data, start: number, n: number) => void;

interface Column {
  readonly name: string;
  readonly type: DuckDBType;
  readonly write: Writer;
}

interface Entry {
  readonly columns: Column[];
  readonly fields: arrow.Field[];
  readonly tables: Table[];
}

interface ScanState {
  readonly entry: Entry;
  readonly cols: number[];
  /** Flattened record batches of every table. */
  readonly batches: arrow.RecordBatch[];
  batch: number;
  row: number;
}

let scratch = new Uint8Array(CHUNK * 16);

/**
 * Copies bytes into a DuckDB vector. The binding takes an ArrayBuffer; blocks mapped from the shared
 * object store may sit on a SharedArrayBuffer, whose bytes go through a scratch buffer (16 KiB).
 */
function copyIn(vec: bindings.Vector, buf: ArrayBufferLike, byteOffset: number, byteCount: number, validity = false): void {
  let b = buf as ArrayBuffer;
  let off = byteOffset;
  if (!(buf instanceof ArrayBuffer)) {
    if (scratch.length < byteCount) scratch = new Uint8Array(byteCount);
    scratch.set(new Uint8Array(buf, byteOffset, byteCount));
    b = scratch.buffer as ArrayBuffer;
    off = 0;
  }
  if (validity) bindings.copy_data_to_vector_validity(vec, 0, b, off, byteCount);
  else bindings.copy_data_to_vector(vec, 0, b, off, byteCount);
}

/**
 * A numeric column whose Arrow layout is DuckDB's layout: copy bytes. (apache-arrow slices `values` with
 * the data, so they start at the slice's first row; only the validity bitmap is indexed from `offset`.)
 */
function copyWriter(bytes: number): Writer {
  return (vec, data, start, n) => {
    const v = data.values as ArrayBufferView;
    copyIn(vec, v.buffer, v.byteOffset + start * bytes, n * bytes);
  };
}

/** Writes the validity of rows [start, start + n) of `data`, if it has nulls. */
function writeValidity(vec: bindings.Vector, data: arrow.Data, start: number, n: number): void {
  if (!data.nullCount || !data.nullBitmap) return;
  const bits = data.nullBitmap;
  const first = data.offset + start;
  bindings.vector_ensure_validity_writable(vec);
  const words = Math.ceil(n / 64) * 8;
  let mask: Uint8Array;
  if (first % 8 === 0) {
    mask = new Uint8Array(words).fill(0xff);
    mask.set(bits.subarray(first >> 3, Math.min(bits.length, (first >> 3) + Math.ceil(n / 8))));
  } else {
    mask = new Uint8Array(words).fill(0xff);
    for (let i = 0; i < n; i++) {
      const j = first + i;
      if (!(bits[j >> 3] & (1 << (j & 7)))) mask[i >> 3] &= ~(1 << (i & 7));
    }
  }
  copyIn(vec, mask.buffer, 0, mask.byteLength, true);
}

function valueWriter(convert: (v: unknown) => unknown, bytes: number, Ctor: new (n: number) => ArrayLike<unknown> & ArrayBufferView & { [i: number]: unknown }): Writer {
  return (vec, data, start, n) => {
    const vector = arrow.makeVector(data);
    const out = new Ctor(n);
    for (let i = 0; i < n; i++) {
      const x = vector.get(start + i);
      if (x !== null && x !== undefined) out[i] = convert(x);
    }
    copyIn(vec, out.buffer, out.byteOffset, n * bytes);
  };
}

/** Decoded dictionaries of dictionary-encoded string columns (a dictionary is decoded once, not per row). */
const decodedDictionaries = new WeakMap<object, (string | null)[]>();

const stringWriter: Writer = (vec, data, start, n) => {
  if (data.typeId === arrow.Type.Dictionary && data.dictionary && isString((data.type as arrow.Dictionary).dictionary)) {
    const dict = data.dictionary;
    let words = decodedDictionaries.get(dict);
    if (!words) decodedDictionaries.set(dict, (words = Array.from(dict as Iterable<string | null>)));
    const keys = data.values as ArrayLike<number | bigint>;
    for (let i = 0; i < n; i++) {
      if (!data.getValid(start + i)) continue;
      const w = words[Number(keys[start + i])];
      if (w !== null && w !== undefined) bindings.vector_assign_string_element(vec, i, w);
    }
    return;
  }
  const vector = arrow.makeVector(data);
  const enc = isString(data.type) || (data.typeId === arrow.Type.Dictionary && isString((data.type as arrow.Dictionary).dictionary));
  for (let i = 0; i < n; i++) {
    const x = vector.get(start + i);
    if (x === null || x === undefined) continue;
    bindings.vector_assign_string_element(vec, i, enc ? (x as string) : typeof x === 'object' ? JSON.stringify(x) : String(x));
  }
};

/** DuckDB type and writer of an Arrow field. */
function columnOf(f: arrow.Field): Column {
  const t = f.type as arrow.DataType;
  if (arrow.DataType.isFloat(t)) {
    const p = (t as arrow.Float).precision;
    if (p === arrow.Precision.DOUBLE) return { name: f.name, type: duck.DOUBLE, write: copyWriter(8) };
    if (p === arrow.Precision.SINGLE) return { name: f.name, type: duck.FLOAT, write: copyWriter(4) };
    return { name: f.name, type: duck.DOUBLE, write: valueWriter((x) => Number(x), 8, Float64Array as never) };
  }
  if (arrow.DataType.isInt(t)) {
    const i = t as arrow.Int;
    const m: Record<string, DuckDBType> = { '8s': duck.TINYINT, '16s': duck.SMALLINT, '32s': duck.INTEGER, '64s': duck.BIGINT, '8u': duck.UTINYINT, '16u': duck.USMALLINT, '32u': duck.UINTEGER, '64u': duck.UBIGINT };
    return { name: f.name, type: m[`${i.bitWidth}${i.isSigned ? 's' : 'u'}`], write: copyWriter(i.bitWidth / 8) };
  }
  if (t.typeId === arrow.Type.Date && (t as arrow.Date_).unit === arrow.DateUnit.DAY) return { name: f.name, type: duck.DATE, write: copyWriter(4) };
  if (t.typeId === arrow.Type.Date) return { name: f.name, type: duck.DATE, write: valueWriter((x) => Math.floor((x instanceof Date ? x.getTime() : Number(x)) / 86_400_000), 4, Int32Array as never) };
  if (t.typeId === arrow.Type.Bool) return { name: f.name, type: duck.BOOLEAN, write: valueWriter((x) => (x ? 1 : 0), 1, Uint8Array as never) };
  return { name: f.name, type: duck.VARCHAR, write: stringWriter };
}

/** Arrow tables registered per connection, by name. */
const registries = new WeakMap<DuckDBConnection, Map<string, Entry>>();

function registry(conn: DuckDBConnection): Map<string, Entry> {
  let r = registries.get(conn);
  if (!r) {
    r = new Map();
    registries.set(conn, r);
    conn.registerTableFunction(scanFunction(r));
  }
  return r;
}

function scanFunction(reg: Map<string, Entry>): DuckDBTableFunction {
  return DuckDBTableFunction.create({
    name: 'rayts_arrow_scan',
    parameterTypes: [duck.VARCHAR],
    supportsProjectionPushdown: true,
    bindFunction(bind) {
      const name = String(bind.getParameter(0));
      const entry = reg.get(name);
      if (!entry) {
        bind.setError(`rayts_arrow_scan: no Arrow table registered as "${name}"`);
        return;
      }
      for (const c of entry.columns) bind.addResultColumn(c.name, c.type);
      if (!entry.columns.length) bind.addResultColumn('dummy', duck.INTEGER);
      bind.setCardinality(entry.tables.reduce((s, t) => s + t.numRows, 0), true);
      bind.setBindData(entry);
    },
    initFunction(init) {
      const entry = init.bindData as Entry;
      const state: ScanState = { entry, cols: init.getColumnIndexes(), batches: entry.tables.flatMap((t) => t.batches), batch: 0, row: 0 };
      init.setMaxThreads(1);
      init.setInitData(state);
    },
    mainFunction(info, out: DuckDBDataChunk) {
      const s = info.initData as ScanState;
      while (s.batch < s.batches.length && s.row >= s.batches[s.batch].numRows) {
        s.batch++;
        s.row = 0;
      }
      if (s.batch >= s.batches.length) {
        out.rowCount = 0;
        return;
      }
      const b = s.batches[s.batch];
      const n = Math.min(CHUNK, b.numRows - s.row);
      out.rowCount = n;
      s.cols.forEach((ci, k) => {
        const col = s.entry.columns[ci];
        if (!col) return;
        const data = b.data.children[ci] as arrow.Data;
        const vec = bindings.data_chunk_get_vector(out.chunk, k);
        col.write(vec, data, s.row, n);
        writeValidity(vec, data, s.row, n);
      });
      s.row += n;
    },
  });
}

/**
 * Registers `tables` (same schema) under `name` on `conn` and makes `name` a view over them. More tables
 * under the same name are appended. The tables must stay valid until unregister().
 */
export async function registerArrow(conn: DuckDBConnection, name: string, tables: readonly Table[], append = false): Promise<void> {
  const have = append ? registry(conn).get(name) : undefined;
  if (have) {
    have.tables.push(...tables.filter((t) => t.numCols > 0).map((t) => conform(t, have.fields)));
    return;
  }
  setArrow(conn, name, tables);
  await conn.run(`CREATE OR REPLACE TEMP VIEW ${quoteIdent(name)} AS SELECT * FROM rayts_arrow_scan(${quoteLit(name)})`);
}

/**
 * Registers `tables` under `name` for `rayts_arrow_scan('name')` only (no view: nothing for DuckDB to
 * create or drop). Replaces what was registered under that name.
 */
export function setArrow(conn: DuckDBConnection, name: string, tables: readonly Table[]): void {
  const reg = registry(conn);
  const nonEmpty = tables.filter((t) => t.numCols > 0);
  const first = nonEmpty[0] ?? tables[0];
  const fields = first ? conform(first, undefined).schema.fields : [];
  reg.set(name, { columns: fields.map(columnOf), fields, tables: nonEmpty.map((t) => conform(t, fields)) });
}

/** Forgets what setArrow() registered under `name`. */
export function clearArrow(conn: DuckDBConnection, name: string): void {
  registries.get(conn)?.delete(name);
}

/** Forgets the tables registered under `name` and drops its view. */
export async function unregisterArrow(conn: DuckDBConnection, name: string): Promise<void> {
  clearArrow(conn, name);
  await conn.run(`DROP VIEW IF EXISTS ${quoteIdent(name)}`);
}

/**
 * `t` with plain columns (dictionaries decoded) in the order and types of `fields` (the first table's):
 * a block whose column has another type is rebuilt value by value, so the scan's byte copies stay right.
 */
function conform(t: Table, fields: readonly arrow.Field[] | undefined): Table {
  const want = fields ?? t.schema.fields.map((f) => (arrow.DataType.isDictionary(f.type) ? new arrow.Field(f.name, (f.type as arrow.Dictionary).dictionary, true) : f));
  const same = want.length === t.schema.fields.length && want.every((f, i) => t.schema.fields[i].name === f.name && sameType(t.schema.fields[i].type, f.type));
  if (same) return t;
  const cols: Record<string, arrow.Vector> = {};
  for (const f of want) {
    const c = t.getChild(f.name);
    const vals = Array.from({ length: t.numRows }, (_, i) => {
      const v = c?.get(i);
      if (typeof v === 'number' && arrow.DataType.isInt(f.type) && (f.type as arrow.Int).bitWidth === 64) return BigInt(Math.trunc(v));
      return typeof v === 'bigint' && !(arrow.DataType.isInt(f.type) && (f.type as arrow.Int).bitWidth === 64) ? Number(v) : v;
    });
    cols[f.name] = arrow.vectorFromArray(vals, f.type);
  }
  return new arrow.Table(cols);
}

/** Same Arrow type, as far as the scan's byte layout goes (tables from the store carry plain type objects). */
function sameType(a: arrow.DataType, b: arrow.DataType): boolean {
  // Dictionary-encoded strings (what apache-arrow's vectorFromArray makes of strings) are scanned as they
  // are: the string writer reads values through the vector, which decodes them; no copy of the column.
  if (a.typeId === arrow.Type.Dictionary && isString((a as arrow.Dictionary).dictionary) && isString(b)) return true;
  const x = a as unknown as Record<string, unknown>;
  const y = b as unknown as Record<string, unknown>;
  return a.typeId === b.typeId && x.bitWidth === y.bitWidth && x.isSigned === y.isSigned && x.precision === y.precision && x.unit === y.unit;
}

function isString(t: arrow.DataType): boolean {
  return t.typeId === arrow.Type.Utf8 || t.typeId === arrow.Type.LargeUtf8;
}

function quoteIdent(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

function quoteLit(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
