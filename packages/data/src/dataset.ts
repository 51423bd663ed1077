/**
 * Dataset: a lazy, immutable plan over blocks of Arrow tables. Verbs return new datasets; consumers
 * (iterBatches, iterRows, take, takeAll, count, schema, materialize, write…) run the plan with the
 * streaming executor. See the package doc (index.ts) for an example.
 */
import { InvalidArgumentError, captureCallable, get, type ObjectRef } from '@samsara/ray';
import { arrow, type BlockRef, type Row, type Table } from './block.js';
import type { LogicalNode } from './plan/logical-plan.js';
import type { ShippedFn, Stage } from './plan/stages.js';
import type { ComputeSpec } from './exec/map-operator.js';
import type { AggregateFn } from './plan/aggregate.js';
import { explainPlan } from './plan/planner.js';
import { optimize } from './plan/optimizer.js';
import { executePlan } from './exec/execute.js';
import { DatasetStats } from './stats.js';
import { batchesOf, DataIterator, splitStream, type IterBatchesOptions } from './data-iterator.js';
import { checkOptions, columnList, describeValue, positiveInt, nonNegativeInt } from './config.js';
import { sliceTask } from './exec/remote-fns.js';
import { measure } from './exec/measure.js';

/** Options of map, filter and flatMap. */
export interface MapOptions {
  /** Most tasks running at once [2 × cluster CPUs]. */
  concurrency?: number;
  /** CPUs per task [1]. */
  numCpus?: number;
  /** Custom resources per task, e.g. `{ spark_executor: 1 }`. */
  resources?: Record<string, number>;
}

/** Options of mapBatches. */
export interface MapBatchesOptions<A extends unknown[] = unknown[]> extends MapOptions {
  /** Rows per batch handed to the function; null: one batch per block [1024]. */
  batchSize?: number | null;
  /** 'arrow': apache-arrow Tables (default); 'rows': arrays of row objects. */
  batchFormat?: 'arrow' | 'rows';
  /** Extra arguments after the batch. */
  fnArgs?: A;
  /** Arguments of the class constructor (when a class is given). */
  fnConstructorArgs?: unknown[];
}

const MAP_OPTS = ['concurrency', 'numCpus', 'resources'];
const MAP_BATCHES_OPTS = [...MAP_OPTS, 'batchSize', 'batchFormat', 'fnArgs', 'fnConstructorArgs'];

function ship(fn: unknown, where: string): ShippedFn {
  if (typeof fn !== 'function') throw new InvalidArgumentError(`${where}: expected a function, got ${describeValue(fn)}.`);
  const source = Function.prototype.toString.call(fn);
  if (/\{\s*\[native code\]\s*\}$/.test(source)) {
    throw new InvalidArgumentError(`${where}: ${fn.name || 'the function'} is native or bound; its source cannot be shipped.`, { hint: 'Pass a plain or arrow function.' });
  }
  // By the core's rules: self-contained, or using bindings its module imports (they travel).
  return Object.freeze(captureCallable(fn, { what: `${where} ${/^class[\s{]/.test(source) ? 'class' : 'function'}` }));
}

function checkShippable(v: unknown, what: string): void {
  const walk = (x: unknown, path: string, depth: number): void => {
    if (typeof x === 'function') throw new InvalidArgumentError(`${what}: ${path} is a function, which cannot be sent to workers.`, { hint: 'Pass data; functions go in as the map function itself.' });
    if (depth > 4 || x === null || typeof x !== 'object' || ArrayBuffer.isView(x) || x instanceof arrow.Table) return;
    for (const [k, y] of Object.entries(x)) walk(y, `${path}.${k}`, depth + 1);
  };
  walk(v, what, 0);
}

function computeOf(o: MapOptions, where: string, cls?: ShippedFn, ctorArgs?: unknown[]): ComputeSpec {
  if (o.concurrency !== undefined) positiveInt(o.concurrency, 'concurrency', where);
  if (o.numCpus !== undefined && (typeof o.numCpus !== 'number' || !(o.numCpus >= 0))) throw new InvalidArgumentError(`${where}: numCpus must be a non-negative number, got ${describeValue(o.numCpus)}.`);
  if (o.resources !== undefined) {
    if (typeof o.resources !== 'object' || o.resources === null) throw new InvalidArgumentError(`${where}: resources must be an object of amounts, got ${describeValue(o.resources)}.`);
    for (const [k, v] of Object.entries(o.resources)) if (typeof v !== 'number' || !(v >= 0)) throw new InvalidArgumentError(`${where}: resources.${k} must be a non-negative number, got ${describeValue(v)}.`);
  }
  return Object.freeze({
    kind: cls ? 'actors' : 'tasks',
    ...(o.concurrency !== undefined ? { concurrency: o.concurrency } : {}),
    ...(o.numCpus !== undefined ? { numCpus: o.numCpus } : {}),
    ...(o.resources ? { resources: { ...o.resources } } : {}),
    ...(cls ? { cls, ctorArgs: ctorArgs ?? [] } : {}),
  }) as ComputeSpec;
}

/** A lazy dataset of Arrow blocks. */
export class Dataset {
  private lastStats?: DatasetStats;

  /** @internal Use the creators (range, fromItems, readParquet, …). */
  constructor(readonly plan: LogicalNode) {}

  private withStages(stages: Stage[], compute: ComputeSpec = { kind: 'tasks' }): Dataset {
    return new Dataset({ kind: 'MapStages', input: this.plan, stages, compute });
  }

  // ---- transforms -----------------------------------------------------------------------------

  /** Applies `fn` to each row (a plain object); it returns the new row. */
  map(fn: (row: Row) => Row | Promise<Row>, opts?: MapOptions): Dataset {
    const o = checkOptions(opts, MAP_OPTS, 'map()');
    return this.withStages([{ kind: 'map', fn: ship(fn, 'map()') }], computeOf(o, 'map()'));
  }

  /** Keeps the rows for which `fn` returns true. */
  filter(fn: (row: Row) => boolean | Promise<boolean>, opts?: MapOptions): Dataset {
    const o = checkOptions(opts, MAP_OPTS, 'filter()');
    return this.withStages([{ kind: 'filter', fn: ship(fn, 'filter()') }], computeOf(o, 'filter()'));
  }

  /** Replaces each row by the rows `fn` returns. */
  flatMap(fn: (row: Row) => Row[] | Promise<Row[]>, opts?: MapOptions): Dataset {
    const o = checkOptions(opts, MAP_OPTS, 'flatMap()');
    return this.withStages([{ kind: 'flatMap', fn: ship(fn, 'flatMap()') }], computeOf(o, 'flatMap()'));
  }

  /**
   * Applies `fn` to batches (Arrow Tables by default, or row arrays with batchFormat 'rows'). `fn`
   * returns a Table, an array of rows, or an object of columns. Given a class, runs it on a pool of
   * `concurrency` actors: each constructs `new Class(...fnConstructorArgs)` once, then
   * `instance.call(batch, ...fnArgs)` per batch.
   */
  mapBatches<A extends unknown[]>(fn: ((batch: any, ...args: A) => unknown) | (new (...a: any[]) => { call(batch: any, ...args: A): unknown }), opts?: MapBatchesOptions<A>): Dataset {
    const o = checkOptions(opts, MAP_BATCHES_OPTS, 'mapBatches()');
    const shipped = ship(fn, 'mapBatches()');
    const batchSize = o.batchSize === undefined ? 1024 : o.batchSize === null ? null : positiveInt(o.batchSize, 'batchSize', 'mapBatches()');
    const batchFormat = o.batchFormat ?? 'arrow';
    if (batchFormat !== 'arrow' && batchFormat !== 'rows') throw new InvalidArgumentError(`mapBatches(): batchFormat must be 'arrow' or 'rows', got ${describeValue(batchFormat)}.`);
    if (o.fnArgs !== undefined && !Array.isArray(o.fnArgs)) throw new InvalidArgumentError(`mapBatches(): fnArgs must be an array, got ${describeValue(o.fnArgs)}.`);
    if (o.fnConstructorArgs !== undefined && !Array.isArray(o.fnConstructorArgs)) throw new InvalidArgumentError(`mapBatches(): fnConstructorArgs must be an array, got ${describeValue(o.fnConstructorArgs)}.`);
    if (o.fnConstructorArgs !== undefined && shipped.kind !== 'class') throw new InvalidArgumentError('mapBatches(): fnConstructorArgs is only for a class.', { hint: 'Use fnArgs to pass arguments to a function.' });
    checkShippable(o.fnArgs, 'mapBatches() fnArgs');
    checkShippable(o.fnConstructorArgs, 'mapBatches() fnConstructorArgs');
    const stage: Stage = { kind: 'mapBatches', fn: shipped, batchSize, batchFormat, fnArgs: o.fnArgs ?? [] };
    return this.withStages([stage], computeOf(o, 'mapBatches()', shipped.kind === 'class' ? shipped : undefined, o.fnConstructorArgs));
  }

  /** Adds (or replaces) column `name` with what `fn(batch)` returns: an Arrow Vector, typed array or array. */
  addColumn(name: string, fn: (batch: Table) => unknown, opts?: MapOptions): Dataset {
    if (typeof name !== 'string' || !name) throw new InvalidArgumentError(`addColumn(): name must be a non-empty string, got ${describeValue(name)}.`);
    const o = checkOptions(opts, MAP_OPTS, 'addColumn()');
    return this.withStages([{ kind: 'addColumn', column: name, fn: ship(fn, 'addColumn()') }], computeOf(o, 'addColumn()'));
  }

  /** Keeps only `columns`, in that order. */
  selectColumns(columns: string[] | string): Dataset {
    return this.withStages([{ kind: 'selectColumns', columns: columnList(columns, 'selectColumns()') }]);
  }

  /** Drops `columns`. */
  dropColumns(columns: string[] | string): Dataset {
    return this.withStages([{ kind: 'dropColumns', columns: columnList(columns, 'dropColumns()') }]);
  }

  /** Renames columns: `{ old: 'new' }`. */
  renameColumns(mapping: Record<string, string>): Dataset {
    if (typeof mapping !== 'object' || mapping === null || Object.values(mapping).some((v) => typeof v !== 'string' || !v)) {
      throw new InvalidArgumentError(`renameColumns(): expected an object { old: 'new' }, got ${describeValue(mapping)}.`);
    }
    return this.withStages([{ kind: 'renameColumns', mapping: { ...mapping } }]);
  }

  /** The first `n` rows (upstream work stops once they are produced). */
  limit(n: number): Dataset {
    return new Dataset({ kind: 'Limit', input: this.plan, n: nonNegativeInt(n, 'n', 'limit()') });
  }

  /** The blocks of this dataset and of `others`. */
  union(...others: Dataset[]): Dataset {
    for (const [i, d] of others.entries()) if (!(d instanceof Dataset)) throw new InvalidArgumentError(`union(): argument ${i} is not a Dataset.`);
    return new Dataset({ kind: 'Union', inputs: [this.plan, ...others.map((d) => d.plan)] });
  }

  // ---- all-to-all ---------------------------------------------------------------------------------

  /** Groups by `keys`; call `.aggregate(...)` on the result. */
  groupBy(keys: string | string[]): GroupedData {
    return new GroupedData(this, columnList(keys, 'groupBy()'));
  }

  /** Sorts by `key` (or keys) with sampled range partitioning. */
  sort(key: string | string[], opts?: { descending?: boolean }): Dataset {
    const o = checkOptions(opts, ['descending'], 'sort()');
    return new Dataset({ kind: 'AllToAll', input: this.plan, spec: { kind: 'sort', keys: columnList(key, 'sort()'), descending: o.descending === true } });
  }

  /** Shuffles rows randomly (deterministic for a given seed). */
  randomShuffle(opts?: { seed?: number; numBlocks?: number }): Dataset {
    const o = checkOptions(opts, ['seed', 'numBlocks'], 'randomShuffle()');
    const seed = o.seed ?? Math.floor(Math.random() * 2 ** 31);
    if (typeof seed !== 'number' || !Number.isFinite(seed)) throw new InvalidArgumentError(`randomShuffle(): seed must be a number, got ${describeValue(seed)}.`);
    return new Dataset({ kind: 'AllToAll', input: this.plan, spec: { kind: 'randomShuffle', seed, ...(o.numBlocks !== undefined ? { numBlocks: positiveInt(o.numBlocks, 'numBlocks', 'randomShuffle()') } : {}) } });
  }

  /** Re-splits the rows into `numBlocks` blocks of nearly equal rows, order kept. */
  repartition(numBlocks: number): Dataset {
    return new Dataset({ kind: 'AllToAll', input: this.plan, spec: { kind: 'repartition', numBlocks: positiveInt(numBlocks, 'numBlocks', 'repartition()') } });
  }

  // ---- consumption -----------------------------------------------------------------------------

  /** @internal The output blocks, streamed. */
  iterBlocks(): AsyncGenerator<BlockRef> {
    return executePlan(this.plan, (s) => (this.lastStats = s));
  }

  /** Batches of rows (Arrow Tables by default). */
  iterBatches(opts?: { batchSize?: number | null; batchFormat?: 'arrow' }): AsyncGenerator<Table>;
  iterBatches(opts: { batchSize?: number | null; batchFormat: 'rows' }): AsyncGenerator<Row[]>;
  iterBatches(opts?: IterBatchesOptions): AsyncGenerator<Table | Row[]> {
    return batchesOf(this.iterBlocks(), opts);
  }

  /** Rows as plain objects. */
  async *iterRows(): AsyncGenerator<Row> {
    for await (const b of batchesOf(this.iterBlocks(), { batchSize: null, batchFormat: 'rows' })) yield* b as Row[];
  }

  /** The first `n` rows [20]. */
  async take(n = 20): Promise<Row[]> {
    const rows: Row[] = [];
    const lim = this.limit(nonNegativeInt(n, 'n', 'take()'));
    for await (const r of lim.iterRows()) rows.push(r);
    this.lastStats = lim.lastStats;
    return rows;
  }

  /** Every row. */
  async takeAll(): Promise<Row[]> {
    const rows: Row[] = [];
    for await (const r of this.iterRows()) rows.push(r);
    return rows;
  }

  /** Number of rows (blocks are measured where they are; no data moves to the driver). */
  async count(): Promise<number> {
    let n = 0;
    const { freeOwned } = await import('./exec/map-operator.js');
    for await (const b of this.iterBlocks()) {
      n += b.numRows;
      await freeOwned([b]);
    }
    return n;
  }

  /** The Arrow schema (from the first block). */
  async schema(): Promise<arrow.Schema> {
    const it = this.iterBlocks();
    try {
      const first = await it.next();
      if (first.done) return new arrow.Schema([]);
      return ((await get(first.value.ref)) as Table).schema;
    } finally {
      await it.return(undefined);
    }
  }

  /** Runs the plan and keeps its blocks in the object store: later uses start from them. */
  async materialize(): Promise<Dataset> {
    const blocks: BlockRef[] = [];
    for await (const b of this.iterBlocks()) blocks.push({ ref: b.ref, numRows: b.numRows, sizeBytes: b.sizeBytes, owned: false });
    const out = new Dataset({ kind: 'InputBlocks', name: 'Materialized', blocks });
    out.lastStats = this.lastStats;
    return out;
  }

  /** Stats of this dataset's last execution (time, rows, bytes per operator), or undefined before one. */
  stats(): DatasetStats | undefined {
    return this.lastStats;
  }

  /** The operators the plan runs, after fusion: `ReadParquet->Map(f) -> Sort(x)`. */
  explain(): string {
    return explainPlan(optimize(this.plan));
  }

  // ---- splits --------------------------------------------------------------------------------------

  /** `n` datasets of nearly equal rows (this one is run once, on first use of any part). */
  split(n: number): Dataset[] {
    positiveInt(n, 'n', 'split()');
    return this.splitAtFractions(Array.from({ length: n - 1 }, (_, i) => (i + 1) / n), 'Split');
  }

  /** [train, test]: the last `testSize` (a fraction, or a row count when ≥ 1) go to test. With `seed` or `shuffle: true` rows are shuffled first. */
  trainTestSplit(testSize: number, opts?: { seed?: number; shuffle?: boolean }): [Dataset, Dataset] {
    const o = checkOptions(opts, ['seed', 'shuffle'], 'trainTestSplit()');
    if (typeof testSize !== 'number' || !(testSize > 0) || (testSize < 1 ? false : !Number.isInteger(testSize))) {
      throw new InvalidArgumentError(`trainTestSplit(): testSize must be a fraction in (0, 1) or a positive row count, got ${describeValue(testSize)}.`);
    }
    const base = o.shuffle === true || (o.seed !== undefined && o.shuffle !== false) ? this.randomShuffle({ seed: o.seed }) : this;
    const parts = base.splitAt((total) => (testSize < 1 ? total - Math.round(total * testSize) : Math.max(0, total - testSize)), 'TrainTestSplit');
    return [parts[0], parts[1]];
  }

  /** `n` iterators over one shared streaming execution; each is fed while the others consume. */
  streamingSplit(n: number): DataIterator[] {
    positiveInt(n, 'n', 'streamingSplit()');
    return splitStream(() => this.iterBlocks(), n);
  }

  private splitAtFractions(fracs: number[], name: string): Dataset[] {
    return this.splitAtMany((total) => fracs.map((f) => Math.round(total * f)), fracs.length + 1, name);
  }

  private splitAt(at: (total: number) => number, name: string): Dataset[] {
    return this.splitAtMany((total) => [at(total)], 2, name);
  }

  private splitAtMany(points: (total: number) => number[], parts: number, name: string): Dataset[] {
    let shared: Promise<BlockRef[][]> | undefined;
    const compute = async (): Promise<BlockRef[][]> => {
      const mat = await this.materialize();
      const blocks = (mat.plan as Extract<LogicalNode, { kind: 'InputBlocks' }>).blocks;
      const total = blocks.reduce((s, b) => s + b.numRows, 0);
      const cuts = [0, ...points(total), total];
      const out: BlockRef[][] = [];
      for (let p = 0; p < parts; p++) {
        const lo = cuts[p];
        const hi = cuts[p + 1];
        const pieces: Promise<BlockRef>[] = [];
        let off = 0;
        for (const b of blocks) {
          const s = Math.max(lo - off, 0);
          const e = Math.min(hi - off, b.numRows);
          if (e > s) {
            if (s === 0 && e === b.numRows) pieces.push(Promise.resolve(b));
            else pieces.push(measure(sliceTask.remote(s, e, b.ref as never) as ObjectRef<Table>, false));
          }
          off += b.numRows;
        }
        out.push(await Promise.all(pieces));
      }
      return out;
    };
    return Array.from({ length: parts }, (_, p) => new Dataset({ kind: 'Deferred', name: `${name}[${p}]`, blocks: async () => (await (shared ??= compute()))[p] }));
  }

  // ---- sinks ---------------------------------------------------------------------------------------

  /** Writes one Parquet file per block into `dir` (created). Returns the files written. */
  writeParquet(dir: string): Promise<string[]> {
    return this.write('parquet', dir);
  }

  /** Writes one CSV file (with header) per block into `dir`. */
  writeCsv(dir: string): Promise<string[]> {
    return this.write('csv', dir);
  }

  /** Writes one JSON lines file per block into `dir`. */
  writeJson(dir: string): Promise<string[]> {
    return this.write('json', dir);
  }

  private async write(format: 'parquet' | 'csv' | 'json', dir: string): Promise<string[]> {
    if (typeof dir !== 'string' || !dir) throw new InvalidArgumentError(`write${format}(): dir must be a non-empty path, got ${describeValue(dir)}.`);
    const { resolve } = await import('node:path');
    const prefix = `part-${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
    const ds = this.withStages([{ kind: 'write', format, dir: resolve(dir), prefix }]);
    const files: string[] = [];
    for await (const r of ds.iterRows()) files.push(r.path as string);
    this.lastStats = ds.lastStats;
    return files.sort();
  }
}

/** The result of groupBy(keys): aggregate it. */
export class GroupedData {
  constructor(
    private readonly ds: Dataset,
    readonly keys: readonly string[],
  ) {}

  /** One row per group: the keys and one column per aggregate (count(), sum(x), …). */
  aggregate(...aggs: AggregateFn[]): Dataset {
    if (aggs.length === 0) throw new InvalidArgumentError('aggregate(): give at least one aggregate, e.g. data.count().');
    for (const [i, a] of aggs.entries()) {
      if (!a || typeof a !== 'object' || !('kind' in a)) throw new InvalidArgumentError(`aggregate(): argument ${i} is not an aggregate (use data.count(), data.sum('x'), …).`);
    }
    return new Dataset({ kind: 'AllToAll', input: this.ds.plan, spec: { kind: 'aggregate', keys: this.keys, aggs } });
  }

  /** Rows per group (`count()`). */
  count(): Dataset {
    return this.aggregate({ kind: 'count', name: 'count()' });
  }
}
