/**
 * Creating datasets: from numbers (`range`), JS rows (`fromItems`), Arrow tables (`fromArrow`), and
 * files read by DuckDB inside tasks (`readParquet`, `readCsv`, `readJson`), in parallel by file and, for
 * Parquet, by groups of row groups. All are lazy: files are listed when the dataset first runs.
 */
import { statSync } from 'node:fs';
import { put, InvalidArgumentError } from '@samsara/ray';
import { arrow, rowsToTable, tableBytes, type BlockRef, type Row, type Table } from './block.js';
import { Dataset } from './dataset.js';
import { checkOptions, positiveInt, describeValue } from './config.js';
import { expandPaths } from './io/files.js';
import { DataReadError } from './errors.js';
import type { ReadSpec } from './plan/stages.js';

/** Options of range/fromItems. */
export interface ParallelismOptions {
  /** Number of blocks [range: n / 10,000 rows, between 1 and 200; fromItems: rows / 10,000, ≥ 1]. */
  parallelism?: number;
}

/** A dataset of `n` rows with one Int64 column, `id` = 0..n-1. */
export function range(n: number, opts?: ParallelismOptions): Dataset {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`range(): n must be a non-negative integer, got ${describeValue(n)}.`);
  const o = checkOptions(opts, ['parallelism'], 'range()');
  const blocks = o.parallelism !== undefined ? positiveInt(o.parallelism, 'parallelism', 'range()') : Math.min(200, Math.max(1, Math.ceil(n / 10_000)));
  return new Dataset({
    kind: 'Read',
    source: {
      name: 'ReadRange',
      async plan() {
        const out: { spec: ReadSpec; estBytes: number }[] = [];
        const k = Math.max(1, Math.min(blocks, n || 1));
        for (let i = 0; i < k; i++) {
          const start = Math.floor((i * n) / k);
          const end = Math.floor(((i + 1) * n) / k);
          if (end > start || (n === 0 && i === 0)) out.push({ spec: { kind: 'range', start, end }, estBytes: (end - start) * 8 });
        }
        return out;
      },
    },
  });
}

function memo<T>(f: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= f());
}

async function putBlocks(tables: Table[]): Promise<BlockRef[]> {
  return Promise.all(tables.map(async (t) => ({ ref: await put(t), numRows: t.numRows, sizeBytes: tableBytes(t), owned: false })));
}

/** A dataset of the given row objects (column types inferred). */
export function fromItems(items: readonly Row[] | readonly unknown[], opts?: ParallelismOptions): Dataset {
  if (!Array.isArray(items)) throw new InvalidArgumentError(`fromItems(): expected an array, got ${describeValue(items)}.`);
  const o = checkOptions(opts, ['parallelism'], 'fromItems()');
  const rows = (items as unknown[]).map((x) => (x !== null && typeof x === 'object' && !Array.isArray(x) ? (x as Row) : { item: x }));
  const k = o.parallelism !== undefined ? positiveInt(o.parallelism, 'parallelism', 'fromItems()') : Math.max(1, Math.ceil(rows.length / 10_000));
  const first = rows.length ? rowsToTable(rows) : undefined;
  const blocks = memo(async () => {
    if (!first) return putBlocks([new arrow.Table({})]);
    const n = rows.length;
    const parts: Table[] = [];
    const kk = Math.min(k, n);
    for (let i = 0; i < kk; i++) parts.push(first.slice(Math.floor((i * n) / kk), Math.floor(((i + 1) * n) / kk)));
    return putBlocks(parts.map((t) => new arrow.Table(t.schema, t.batches)));
  });
  return new Dataset({ kind: 'Deferred', name: 'FromItems', blocks });
}

/** A dataset of Arrow tables (each table one block). */
export function fromArrow(tables: Table | readonly Table[]): Dataset {
  const list = Array.isArray(tables) ? [...tables] : [tables];
  for (const [i, t] of list.entries()) {
    if (!(t instanceof arrow.Table)) throw new InvalidArgumentError(`fromArrow(): item ${i} is not an apache-arrow Table (got ${describeValue(t)}).`);
  }
  return new Dataset({ kind: 'Deferred', name: 'FromArrow', blocks: memo(() => putBlocks(list as Table[])) });
}

/** Options of readParquet. */
export interface ReadParquetOptions {
  /** Columns to read (projection pushed into the Parquet reader) [all]. */
  columns?: string[];
  /** Target bytes of one block: row groups are grouped up to this size [64 MiB]. */
  targetBlockBytes?: number;
}

/** Options of readCsv/readJson. */
export interface ReadTextOptions {
  /** Columns to keep [all]. */
  columns?: string[];
}

/** Options of readCsv. */
export interface ReadCsvOptions extends ReadTextOptions {
  /** Field separator [","]. */
  delimiter?: string;
}

const MiB = 1 << 20;

/** Reads Parquet files (a file, a directory or a glob): one task per group of row groups. */
export function readParquet(paths: string | string[], opts?: ReadParquetOptions): Dataset {
  const o = checkOptions(opts, ['columns', 'targetBlockBytes'], 'readParquet()');
  const target = o.targetBlockBytes ?? 64 * MiB;
  return new Dataset({
    kind: 'Read',
    source: {
      name: 'ReadParquet',
      async plan() {
        const files = expandPaths(paths, ['.parquet', '.pq'], 'readParquet()');
        const { parquetRowGroupsOf } = await import('./io/parquet-meta.js');
        const meta = await parquetRowGroupsOf(files);
        const out: { spec: ReadSpec; estBytes: number }[] = [];
        for (const f of files) {
          const groups = meta.get(f) ?? [];
          let start = 0;
          let rows = 0;
          let bytes = 0;
          const flush = (): void => {
            if (rows === 0) return;
            out.push({ spec: { kind: 'parquet', path: f, columns: o.columns, ...(groups.length > 1 ? { rowStart: start, rowEnd: start + rows } : {}) }, estBytes: bytes });
            start += rows;
            rows = 0;
            bytes = 0;
          };
          for (const g of groups) {
            if (rows > 0 && bytes + g.bytes > target) flush();
            rows += g.rows;
            bytes += g.bytes;
          }
          flush();
          if (groups.length === 0) out.push({ spec: { kind: 'parquet', path: f, columns: o.columns }, estBytes: 0 });
        }
        return out;
      },
    },
  });
}

function textSource(kind: 'csv' | 'json', paths: string | string[], opts: ReadCsvOptions | undefined, where: string): Dataset {
  const o = checkOptions(opts, kind === 'csv' ? ['columns', 'delimiter'] : ['columns'], where);
  return new Dataset({
    kind: 'Read',
    source: {
      name: kind === 'csv' ? 'ReadCsv' : 'ReadJson',
      async plan() {
        const files = expandPaths(paths, kind === 'csv' ? ['.csv', '.csv.gz'] : ['.json', '.jsonl', '.ndjson', '.json.gz', '.jsonl.gz'], where);
        return files.map((f) => {
          let size = 0;
          try {
            size = statSync(f).size;
          } catch {
            throw new DataReadError(`${where}: ${f} disappeared.`, { ids: { path: f } });
          }
          const spec: ReadSpec = kind === 'csv' ? { kind, path: f, columns: o.columns, ...(o.delimiter ? { delimiter: o.delimiter } : {}) } : { kind, path: f, columns: o.columns };
          return { spec, estBytes: size };
        });
      },
    },
  });
}

/** Reads CSV files with a header row (a row with the wrong number of fields is a DataReadError). */
export function readCsv(paths: string | string[], opts?: ReadCsvOptions): Dataset {
  return textSource('csv', paths, opts, 'readCsv()');
}

/** Reads JSON lines files (one object per line). */
export function readJson(paths: string | string[], opts?: ReadTextOptions): Dataset {
  return textSource('json', paths, opts, 'readJson()');
}
