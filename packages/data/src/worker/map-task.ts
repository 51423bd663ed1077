/**
 * Runs a map task: read (optionally), then each stage over the block, in the worker. Row-wise stages
 * convert to row objects once and back once; batch stages slice the block into `batchSize` batches.
 */
import { rowsToTable, tableToRows, concatTables, takeRows, tableBytes, arrow, vectorOf, type Row, type Table } from '../block.js';
import { ColumnNotFoundError, DataWriteError, UserCodeError } from '../errors.js';
import type { MapTaskSpec, Stage } from '../plan/stages.js';
import { readBlock } from './read-file.js';
import { rebuild, userError } from './user-code.js';

/** Something that answers `call(batch, ...args)`: the instance of a class given to mapBatches. */
export interface CallableInstance {
  call(batch: unknown, ...args: unknown[]): unknown;
}

/** Runs `spec` over `inputs` (concatenated) and returns the output block. */
export async function runMapTask(spec: MapTaskSpec, inputs: Table[], instance?: CallableInstance): Promise<Table> {
  let t = spec.read ? await readBlock(spec.read) : concatTables(inputs);
  for (const s of spec.stages) t = await runStage(spec, s, t, instance);
  return t;
}

function checkColumns(spec: MapTaskSpec, t: Table, cols: readonly string[]): void {
  const have = new Set(t.schema.fields.map((f) => f.name));
  const missing = cols.filter((c) => !have.has(c));
  if (missing.length) {
    throw new ColumnNotFoundError(`${spec.opName}: column${missing.length > 1 ? 's' : ''} ${missing.map((c) => `"${c}"`).join(', ')} not found (block ${spec.blockIndex}).`, {
      hint: `The columns are: ${[...have].join(', ')}.`,
      ids: { operator: spec.opName, block: String(spec.blockIndex) },
    });
  }
}

async function runStage(spec: MapTaskSpec, s: Stage, t: Table, instance?: CallableInstance): Promise<Table> {
  const op = spec.opName;
  switch (s.kind) {
    case 'map': {
      const fn = await rebuild(s.fn, op);
      const rows = tableToRows(t);
      const out: Row[] = new Array(rows.length);
      for (let i = 0; i < rows.length; i++) {
        try {
          const r = fn(rows[i]);
          out[i] = (r instanceof Promise ? await r : r) as Row;
        } catch (e) {
          throw userError(op, spec.blockIndex, i, e);
        }
        if (out[i] === null || typeof out[i] !== 'object') throw userError(op, spec.blockIndex, i, new TypeError(`map must return a row object, got ${typeof out[i]}`));
      }
      return rowsToTable(out, t.schema);
    }
    case 'filter': {
      const fn = await rebuild(s.fn, op);
      const rows = tableToRows(t);
      const keep: number[] = [];
      for (let i = 0; i < rows.length; i++) {
        try {
          const r = fn(rows[i]);
          if (r instanceof Promise ? await r : r) keep.push(i);
        } catch (e) {
          throw userError(op, spec.blockIndex, i, e);
        }
      }
      return keep.length === rows.length ? t : takeRows(t, keep);
    }
    case 'flatMap': {
      const fn = await rebuild(s.fn, op);
      const rows = tableToRows(t);
      const out: Row[] = [];
      for (let i = 0; i < rows.length; i++) {
        let r: unknown;
        try {
          r = fn(rows[i]);
          if (r instanceof Promise) r = await r;
        } catch (e) {
          throw userError(op, spec.blockIndex, i, e);
        }
        if (!Array.isArray(r)) throw userError(op, spec.blockIndex, i, new TypeError('flatMap must return an array of rows'));
        for (const x of r) out.push(x as Row);
      }
      return rowsToTable(out, t.schema);
    }
    case 'mapBatches': {
      const call = instance
        ? (b: unknown) => instance.call(b, ...s.fnArgs)
        : ((fn) => (b: unknown) => fn(b, ...s.fnArgs))(await rebuild(s.fn, op));
      const size = s.batchSize ?? Math.max(t.numRows, 1);
      const outs: Table[] = [];
      for (let off = 0; off < t.numRows || (off === 0 && t.numRows === 0 && false); off += size) {
        const slice = t.slice(off, Math.min(off + size, t.numRows));
        const batch = s.batchFormat === 'rows' ? tableToRows(slice) : slice;
        let r: unknown;
        try {
          r = await call(batch);
        } catch (e) {
          throw userError(op, spec.blockIndex, undefined, e);
        }
        outs.push(toTable(r, slice, op, spec.blockIndex));
      }
      return outs.length ? concatTables(outs) : t;
    }
    case 'addColumn': {
      const fn = await rebuild(s.fn, op);
      let r: unknown;
      try {
        r = await fn(t);
      } catch (e) {
        throw userError(op, spec.blockIndex, undefined, e);
      }
      const v = toVector(r, op, spec.blockIndex);
      if (v.length !== t.numRows) throw userError(op, spec.blockIndex, undefined, new RangeError(`addColumn function returned ${v.length} values for a batch of ${t.numRows} rows`));
      const cols: Record<string, arrow.Vector> = {};
      for (const f of t.schema.fields) if (f.name !== s.column) cols[f.name] = t.getChild(f.name)!;
      cols[s.column] = v;
      return new arrow.Table(cols);
    }
    case 'selectColumns':
      checkColumns(spec, t, s.columns);
      return t.select(s.columns as string[]);
    case 'dropColumns': {
      checkColumns(spec, t, s.columns);
      const drop = new Set(s.columns);
      return t.select(t.schema.fields.map((f) => f.name).filter((n) => !drop.has(n)));
    }
    case 'renameColumns': {
      checkColumns(spec, t, Object.keys(s.mapping));
      const cols: Record<string, arrow.Vector> = {};
      for (const f of t.schema.fields) cols[s.mapping[f.name] ?? f.name] = t.getChild(f.name)!;
      return new arrow.Table(cols);
    }
    case 'head':
      return t.numRows <= s.n ? t : t.slice(0, s.n);
    case 'write':
      return writeBlock(spec, s, t);
  }
}

function toVector(r: unknown, op: string, block: number): arrow.Vector {
  if (r instanceof arrow.Vector) return r;
  if (ArrayBuffer.isView(r) && !(r instanceof DataView)) return arrow.makeVector(r as never);
  if (Array.isArray(r)) return vectorOf(r);
  throw userError(op, block, undefined, new TypeError(`addColumn function must return an Arrow Vector, a typed array or an array, got ${r === null ? 'null' : typeof r}`));
}

function toTable(r: unknown, input: Table, op: string, block: number): Table {
  if (r instanceof arrow.Table) return r;
  if (Array.isArray(r)) return rowsToTable(r as Row[], input.schema);
  if (r && typeof r === 'object') {
    const cols: Record<string, arrow.Vector> = {};
    for (const [k, v] of Object.entries(r)) cols[k] = toVector(v, op, block);
    return new arrow.Table(cols);
  }
  throw new UserCodeError(`${op} must return an Arrow Table, an array of rows or an object of columns, got ${r === null ? 'null' : typeof r} (block ${block}).`, {
    ids: { operator: op, block: String(block) },
  });
}

async function writeBlock(spec: MapTaskSpec, s: Extract<Stage, { kind: 'write' }>, t: Table): Promise<Table> {
  const { mkdirSync } = await import('node:fs');
  const { join } = await import('node:path');
  const file = join(s.dir, `${s.prefix}_${String(spec.blockIndex).padStart(6, '0')}.${s.format === 'json' ? 'jsonl' : s.format}`);
  const { connect, arrowToDuck, quoteIdent } = await import('../io/duckdb-arrow.js');
  const conn = await connect();
  const name = `__w${spec.blockIndex}_${process.hrtime.bigint()}`;
  try {
    mkdirSync(s.dir, { recursive: true });
    await arrowToDuck(conn, name, t);
    const fmt = s.format === 'parquet' ? 'FORMAT parquet' : s.format === 'csv' ? 'FORMAT csv, HEADER true' : 'FORMAT json';
    await conn.run(`COPY ${quoteIdent(name)} TO '${file.replace(/'/g, "''")}' (${fmt})`);
  } catch (e) {
    throw new DataWriteError(`Cannot write ${file}: ${(e as Error).message}`, { ids: { path: file } });
  } finally {
    await conn.run(`DROP TABLE IF EXISTS ${quoteIdent(name)}`).catch(() => undefined);
    conn.closeSync();
  }
  return new arrow.Table({ path: arrow.vectorFromArray([file]), num_rows: arrow.vectorFromArray([t.numRows], new arrow.Float64()), size_bytes: arrow.vectorFromArray([tableBytes(t)], new arrow.Float64()) });
}
