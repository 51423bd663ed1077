/**
 * Row groups of a Parquet file (rows and uncompressed bytes each), from its footer through DuckDB's
 * parquet_metadata — only the footer is read. A file that is not Parquet is a DataReadError.
 */
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
