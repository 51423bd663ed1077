/**
 * @samsara/ray-data — streaming datasets of Arrow blocks on a rayts cluster, and SQL run by DuckDB
 * inside executor actors.
 *
 * @example
 * import { init } from '@samsara/ray';
 * import * as data from '@samsara/ray-data';
 * await init();
 * const ds = data.range(1_000_000).map((r) => ({ ...r, sq: r.id * r.id })).filter((r) => r.id % 2 === 0);
 * console.log(await ds.count());                               // 500000
 * const g = await ds.groupBy('bucket').aggregate(data.count(), data.mean('sq')).takeAll();
 */
export { Dataset, GroupedData, type MapOptions, type MapBatchesOptions } from './dataset.js';
export { range, fromItems, fromArrow, readParquet, readCsv, readJson, type ParallelismOptions, type ReadParquetOptions, type ReadTextOptions, type ReadCsvOptions } from './read-api.js';
export { count, sum, mean, min, max, std, type AggregateFn, type AggregateKind } from './plan/aggregate.js';
export { DataIterator, type IterBatchesOptions } from './data-iterator.js';
export { DatasetStats, type OperatorStats } from './stats.js';
export { DataError, UserCodeError, DataReadError, DataWriteError, ColumnNotFoundError, SqlError } from './errors.js';
export type { Row, Table, BlockRef } from './block.js';
export { sqlSession, SqlSession, type SqlSessionOptions } from './sql/sql-session.js';
