/**
 * Reads one file (or one row range of a Parquet file) into an Arrow table with DuckDB's readers, inside
 * a task. DuckDB's errors become DataReadError naming the file.
 */
import { DataReadError, ColumnNotFoundError } from '../errors.js';
import { arrow, type Table } from '../block.js';
import type { ReadSpec } from '../plan/stages.js';

function lit(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** The SQL DuckDB runs to read `spec`. */
export function readSql(spec: Exclude<ReadSpec, { kind: 'range' }>): string {
  const cols = spec.columns?.length ? spec.columns.map((c) => `"${c.replace(/"/g, '""')}"`).join(', ') : '*';
  if (spec.kind === 'parquet') {
    const where = spec.rowStart !== undefined ? ` WHERE file_row_number >= ${spec.rowStart} AND file_row_number < ${spec.rowEnd}` : '';
    const src = spec.rowStart !== undefined ? `read_parquet(${lit(spec.path)}, file_row_number = true)` : `read_parquet(${lit(spec.path)})`;
    return `SELECT ${cols} FROM ${src}${where}`;
  }
  if (spec.kind === 'csv') return `SELECT ${cols} FROM read_csv(${lit(spec.path)}, header = true, delim = ${lit(spec.delimiter ?? ',')}, strict_mode = true)`;
  return `SELECT ${cols} FROM read_json(${lit(spec.path)}, format = 'newline_delimited')`;
}

/** Reads `spec` into a table. */
export async function readBlock(spec: ReadSpec): Promise<Table> {
  if (spec.kind === 'range') {
    const n = spec.end - spec.start;
    const ids = new BigInt64Array(n);
    for (let i = 0; i < n; i++) ids[i] = BigInt(spec.start + i);
    return new arrow.Table({ id: arrow.makeVector(ids) });
  }
  const { connect, queryToArrow } = await import('../io/duckdb-arrow.js');
  const conn = await connect();
  try {
    return await queryToArrow(conn, readSql(spec));
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    if (/Referenced column .* not found|not found in FROM clause/i.test(msg)) {
      throw new ColumnNotFoundError(`Reading ${spec.path}: ${firstLine(msg)}`, { ids: { path: spec.path }, hint: 'Check the column names passed in `columns`.' });
    }
    throw new DataReadError(`Cannot read ${spec.kind} file ${spec.path}: ${firstLine(msg)}`, { ids: { path: spec.path }, hint: hintFor(spec.kind, msg) });
  } finally {
    conn.closeSync();
  }
}

function firstLine(s: string): string {
  return s.split('\n').slice(0, 3).join(' ').trim();
}

function hintFor(kind: string, msg: string): string {
  if (/No such file|does not exist|No files found/i.test(msg)) return 'Check the path.';
  if (kind === 'parquet') return 'The file is not valid Parquet (truncated or corrupt?).';
  if (kind === 'csv') return 'Every row must have the same number of fields as the header.';
  return 'Each line must be one JSON object.';
}
