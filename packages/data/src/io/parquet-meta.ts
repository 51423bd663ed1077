/**
 * Row groups of a Parquet file (rows and uncompressed bytes each), from its footer through DuckDB's
 * parquet_metadata — only the footer is read. A file that is not Parquet is a DataReadError. Footers of
 * several files are remembered per file with its size and modification time (planning the same read
 * again, e.g. a query run repeatedly, reads no footer).
 */
import { stampOf, StampedCache } from './file-stamp.js';
import { connect } from './duckdb-arrow.js';
import { DataReadError } from '../errors.js';

export async function parquetRowGroups(path: string): Promise<{ rows: number; bytes: number }[]> {
  const conn = await connect();
  try {
    const r = await conn.runAndReadAll(
      `SELECT row_group_id, any_value(row_group_num_rows)::DOUBLE AS r, sum(total_uncompressed_size)::DOUBLE AS b FROM parquet_metadata('${path.replace(/'/g, "''")}') GROUP BY row_group_id ORDER BY row_group_id`,
    );
    return r.getRows().map((row) => ({ rows: Number(row[1]), bytes: Number(row[2]) }));
  } catch (e) {
    throw new DataReadError(`readParquet(): cannot read ${path}: ${(e as Error).message.split('\n')[0]}`, {
      ids: { path },
      hint: 'The file is not valid Parquet (truncated or corrupt?).',
    });
  } finally {
    conn.closeSync();
  }
}

/**
 * Row groups of several files in one footer query (planning a read of many files costs one DuckDB call,
 * not one per file); a file that is not Parquet is found file by file and named in the DataReadError.
 */
export async function parquetRowGroupsOf(paths: readonly string[]): Promise<Map<string, { rows: number; bytes: number }[]>> {
  const out = new Map<string, { rows: number; bytes: number }[]>();
  const stamps = new Map<string, string>();
  const missing: string[] = [];
  for (const p of paths) {
    const stamp = stampOf(p);
    const hit = footers.get(p, stamp);
    if (hit) out.set(p, hit);
    else {
      missing.push(p);
      if (stamp !== undefined) stamps.set(p, stamp);
    }
  }
  if (!missing.length) return out;
  const read = await readRowGroupsOf(missing);
  for (const [p, groups] of read) {
    out.set(p, groups);
    footers.set(p, stamps.get(p), groups);
  }
  // In the order of `paths`.
  return new Map(paths.map((p) => [p, out.get(p) ?? []]));
}

/** Row groups by file, remembered with the file's size and modification time (a changed file is read again). */
const footers = new StampedCache<{ rows: number; bytes: number }[]>(4096);

async function readRowGroupsOf(paths: readonly string[]): Promise<Map<string, { rows: number; bytes: number }[]>> {
  const out = new Map<string, { rows: number; bytes: number }[]>(paths.map((p) => [p, []]));
  if (paths.length <= 1) {
    for (const p of paths) out.set(p, await parquetRowGroups(p));
    return out;
  }
  const conn = await connect();
  try {
    const list = paths.map((p) => `'${p.replace(/'/g, "''")}'`).join(', ');
    const r = await conn.runAndReadAll(
      `SELECT file_name, row_group_id, any_value(row_group_num_rows)::DOUBLE AS r, sum(total_uncompressed_size)::DOUBLE AS b FROM parquet_metadata([${list}]) GROUP BY file_name, row_group_id ORDER BY file_name, row_group_id`,
    );
    for (const row of r.getRows()) out.get(String(row[0]))?.push({ rows: Number(row[2]), bytes: Number(row[3]) });
    return out;
  } catch {
    for (const p of paths) out.set(p, await parquetRowGroups(p));
    return out;
  } finally {
    conn.closeSync();
  }
}
