/**
 * Blocks: Arrow tables, and the conversions every operator needs (rows ⇄ table, slicing, concatenation,
 * byte sizes). Used on the driver and inside tasks. Int64 columns become JS numbers in row objects when
 * they fit (|v| ≤ 2^53), so `row.id * 2` works; values outside that range stay bigint.
 */
import * as arrow from 'apache-arrow';
import type { ObjectRef } from '@samsara/ray';

export type Table = arrow.Table;
export type Row = Record<string, unknown>;

/** A block of a dataset as the driver sees it: the ref, and its size once known. */
export interface BlockRef {
  readonly ref: ObjectRef<Table>;
  /** Rows, once measured. */
  numRows: number;
  /** Bytes of the Arrow data, once measured. */
  sizeBytes: number;
  /** True when the executor made this block and may free it once consumed. */
  readonly owned: boolean;
  /** Column names, once measured. */
  columns?: readonly string[];
  /** The node whose store holds the block, when the task that made it said so. */
  nodeId?: string;
}

/** Arrow data bytes of a table (sum of its buffers). */
export function tableBytes(t: Table): number {
  let n = 0;
  const visit = (d: arrow.Data): void => {
    for (const b of [d.values, d.valueOffsets, d.nullBitmap, d.typeIds] as (ArrayBufferView | undefined)[]) if (b) n += b.byteLength;
    // An empty result's batch may carry Data without children.
    for (const c of d.children ?? []) visit(c);
  };
  for (const b of t.batches) if (b.data) visit(b.data);
  return n;
}

function toJs(v: unknown): unknown {
  if (typeof v === 'bigint') return v <= 9007199254740991n && v >= -9007199254740991n ? Number(v) : v;
  if (v !== null && typeof v === 'object') {
    if (v instanceof Uint8Array) return v;
    const j = (v as { toJSON?: () => unknown }).toJSON;
    if (typeof j === 'function' && !(v instanceof Date)) return normalize(j.call(v));
  }
  return v;
}

function normalize(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(toJs);
  if (v !== null && typeof v === 'object' && !(v instanceof Date) && !(v instanceof Uint8Array)) {
    const o: Row = {};
    for (const [k, x] of Object.entries(v)) o[k] = toJs(x);
    return o;
  }
  return toJs(v);
}

/** Plain row objects of `t` (column values converted as described in the module doc). */
export function tableToRows(t: Table): Row[] {
  const names = t.schema.fields.map((f) => f.name);
  const cols = names.map((n) => t.getChild(n)!);
  const out: Row[] = new Array(t.numRows);
  const colArrays = cols.map((c) => columnValues(c));
  for (let i = 0; i < t.numRows; i++) {
    const r: Row = {};
    for (let j = 0; j < names.length; j++) r[names[j]] = colArrays[j][i];
    out[i] = r;
  }
  return out;
}

/** JS values of a column (numbers for safe int64, null for nulls). */
export function columnValues(c: arrow.Vector): unknown[] {
  const out = new Array(c.length);
  const typeId = c.type.typeId;
  const simple = typeId === arrow.Type.Float || typeId === arrow.Type.Int || typeId === arrow.Type.Utf8 || typeId === arrow.Type.Bool;
  let i = 0;
  for (const d of c.data) {
    const v = new arrow.Vector([d]);
    if (simple && d.nullCount === 0 && typeId === arrow.Type.Int && (d.type as arrow.Int).bitWidth === 64) {
      const arr = v.toArray() as BigInt64Array | BigUint64Array;
      for (let k = 0; k < arr.length; k++) {
        const x = arr[k];
        out[i++] = x <= 9007199254740991n && x >= -9007199254740991n ? Number(x) : x;
      }
    } else if (simple && d.nullCount === 0) {
      const arr = v.toArray() as ArrayLike<unknown>;
      for (let k = 0; k < arr.length; k++) out[i++] = arr[k];
    } else {
      for (let k = 0; k < d.length; k++) out[i++] = toJs(v.get(k));
    }
  }
  return out;
}

function inferType(values: unknown[], hint?: arrow.DataType): arrow.DataType | undefined {
  let kind: string | undefined;
  let allInt = true;
  for (const v of values) {
    if (v === null || v === undefined) continue;
    const k = typeof v === 'object' ? (v instanceof Date ? 'date' : Array.isArray(v) || ArrayBuffer.isView(v) ? 'other' : 'other') : typeof v;
    if (kind === undefined) kind = k;
    else if (kind !== k) return undefined;
    if (k === 'number' && !Number.isInteger(v)) allInt = false;
  }
  if (kind === 'number') {
    if (hint && arrow.DataType.isInt(hint) && allInt) return hint;
    if (hint && arrow.DataType.isFloat(hint)) return hint;
    return new arrow.Float64();
  }
  if (kind === 'string') return new arrow.Utf8();
  if (kind === 'boolean') return new arrow.Bool();
  if (kind === 'bigint') return new arrow.Int64();
  if (kind === 'date') return new arrow.DateMillisecond();
  if (kind === undefined) return hint ?? new arrow.Utf8();
  return undefined;
}

/** A vector of `values`, typed like `hint` when the values fit it. */
export function vectorOf(values: unknown[], hint?: arrow.DataType): arrow.Vector {
  const type = inferType(values, hint);
  // Fast paths: numbers without nulls go straight into typed arrays.
  if (type && (arrow.DataType.isFloat(type) || arrow.DataType.isInt(type)) && !values.some((v) => v === null || v === undefined)) {
    const t = type as arrow.Float | arrow.Int;
    if (arrow.DataType.isFloat(t) && (t as arrow.Float).precision === arrow.Precision.DOUBLE) return arrow.makeVector(Float64Array.from(values as number[]));
    if (arrow.DataType.isInt(t) && (t as arrow.Int).bitWidth === 64 && (t as arrow.Int).isSigned) return arrow.makeVector(BigInt64Array.from(values as number[], (v) => BigInt(v)));
    if (arrow.DataType.isInt(t) && (t as arrow.Int).bitWidth === 32 && (t as arrow.Int).isSigned) return arrow.makeVector(Int32Array.from(values as number[]));
  }
  if (type && arrow.DataType.isInt(type) && (type as arrow.Int).bitWidth === 64) {
    return arrow.vectorFromArray(values.map((v) => (v === null || v === undefined ? null : BigInt(v as number))), type);
  }
  return type ? arrow.vectorFromArray(values, type) : arrow.vectorFromArray(values);
}

/** A table from row objects; column order by first appearance, types from `hint` where the values fit. */
export function rowsToTable(rows: Row[], hint?: arrow.Schema): Table {
  const keys: string[] = [];
  const seen = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) if (!seen.has(k)) (seen.add(k), keys.push(k));
  if (rows.length === 0 && hint) return emptyTable(hint);
  const cols: Record<string, arrow.Vector> = {};
  for (const k of keys) {
    const vals = rows.map((r) => (r[k] === undefined ? null : r[k]));
    cols[k] = vectorOf(vals, hint?.fields.find((f) => f.name === k)?.type);
  }
  return new arrow.Table(cols);
}

/** A table with `schema` and no rows. */
export function emptyTable(schema: arrow.Schema): Table {
  return new arrow.Table(schema);
}

/** Rows [start, end) of `t`. */
export function sliceTable(t: Table, start: number, end: number): Table {
  return t.slice(start, end);
}

/** One table of all `tables` in order (schemas must agree on names; empty tables are skipped). */
export function concatTables(tables: Table[]): Table {
  const nonEmpty = tables.filter((t) => t.numRows > 0);
  if (nonEmpty.length === 0) return tables[0] ?? new arrow.Table({});
  if (nonEmpty.length === 1) return nonEmpty[0];
  const schema = nonEmpty[0].schema;
  const batches: arrow.RecordBatch[] = [];
  for (const t of nonEmpty) {
    const aligned = sameSchema(t.schema, schema) ? t : alignTo(t, schema);
    batches.push(...aligned.batches);
  }
  return new arrow.Table(schema, batches);
}

function sameSchema(a: arrow.Schema, b: arrow.Schema): boolean {
  return a.fields.length === b.fields.length && a.fields.every((f, i) => f.name === b.fields[i].name && String(f.type) === String(b.fields[i].type));
}

function alignTo(t: Table, schema: arrow.Schema): Table {
  const cols: Record<string, arrow.Vector> = {};
  for (const f of schema.fields) {
    const c = t.getChild(f.name);
    const vals = c ? columnValues(c) : new Array(t.numRows).fill(null);
    cols[f.name] = vectorOf(vals, f.type);
  }
  const out = new arrow.Table(cols);
  return new arrow.Table(schema, out.batches.map((b) => new arrow.RecordBatch(schema, b.data)));
}

/** The table with only `names`, in that order. */
export function selectTable(t: Table, names: readonly string[]): Table {
  return t.select(names as string[]);
}

/** Seeded PRNG (mulberry32): deterministic shuffles and splits. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Rows of `t` at `indices`, in that order. */
export function takeRows(t: Table, indices: ArrayLike<number>): Table {
  const cols: Record<string, arrow.Vector> = {};
  for (const f of t.schema.fields) {
    const c = t.getChild(f.name)!;
    const typed = c.nullCount === 0 && (arrow.DataType.isFloat(f.type) || arrow.DataType.isInt(f.type)) ? (c.toArray() as ArrayLike<number | bigint>) : undefined;
    if (typed) {
      const Ctor = (typed as unknown as { constructor: new (n: number) => { [i: number]: number | bigint } }).constructor;
      const out = new Ctor(indices.length);
      for (let i = 0; i < indices.length; i++) out[i] = typed[indices[i]];
      cols[f.name] = arrow.makeVector(out as never);
    } else {
      const vals = new Array(indices.length);
      for (let i = 0; i < indices.length; i++) vals[i] = c.get(indices[i]);
      cols[f.name] = arrow.vectorFromArray(vals, f.type);
    }
  }
  const out = new arrow.Table(cols);
  return out.numCols === t.numCols ? new arrow.Table(t.schema, out.batches.map((b) => new arrow.RecordBatch(t.schema, b.data))) : out;
}

export { arrow };
