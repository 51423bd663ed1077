/**
 * The remote functions and actor classes Data runs. Their bodies are self-contained on purpose: each
 * imports `@samsara/ray-data/worker` on the worker (through `Function`, so no bundler or test transform
 * rewrites the import into a closure) and calls into it. Top-level ObjectRef arguments (blocks) arrive
 * as Arrow tables, zero-copy on the node that stores them.
 */
import { remote, actor } from '@samsara/ray';

/**
 * Map task that measures its own output: it streams two items, first the output block's rows, bytes and
 * columns (small, inline), then the block itself (left in the store of the node that made it). The
 * driver learns the block's size from the first item, so it needs no second task to measure it; an
 * error arrives as the first item.
 */
export const mapTaskMeasured = remote(async function* dataMapMeasured(spec: unknown, ...inputs: unknown[]) {
  const w = await new Function('s', 'return import(s)')('@samsara/ray-data/worker');
  const t = await w.runMapTask(spec, inputs);
  yield w.blockMeta(t);
  yield t;
});

/** Rows and bytes of a block (runs where the block is, by locality). */
export const metaTask = remote(function dataBlockMeta(block: unknown) {
  // No imports: a table's rows and buffer sizes are plain properties.
  type D = { values?: ArrayBufferView; valueOffsets?: ArrayBufferView; nullBitmap?: ArrayBufferView; typeIds?: ArrayBufferView; children: D[] };
  const t = block as { numRows: number; batches: { data: D }[]; schema: { fields: { name: string }[] } };
  let n = 0;
  const visit = (d: D): void => {
    for (const b of [d.values, d.valueOffsets, d.nullBitmap, d.typeIds]) if (b) n += b.byteLength;
    for (const c of d.children) visit(c);
  };
  for (const b of t.batches) visit(b.data);
  return { numRows: t.numRows, sizeBytes: n, columns: t.schema.fields.map((f) => f.name) };
}, { numCpus: 0 });

/** The node a block is stored on (the task runs there, by locality; numCpus 0). */
export const locateTask = remote(async function dataLocate(block: unknown) {
  void block;
  const ray = await new Function('s', 'return import(s)')('@samsara/ray');
  return ray.runtimeContext().nodeId as string;
}, { numCpus: 0 });

/** Map half of an all-to-all. */
export const shuffleMapTask = remote(async function dataShuffleMap(part: unknown, blockIndex: number, preAgg: unknown, block: unknown) {
  const w = await new Function('s', 'return import(s)')('@samsara/ray-data/worker');
  return w.shuffleMap(part, blockIndex, preAgg, [block]);
});

/** Reduce half of an all-to-all: partition p of every map output. */
export const shuffleReduceTask = remote(async function dataShuffleReduce(spec: unknown, p: number, ...mapOutputs: unknown[]) {
  const w = await new Function('s', 'return import(s)')('@samsara/ray-data/worker');
  return w.shuffleReduce(spec, p, mapOutputs);
});

/** Sample of sort keys of a block. */
export const sampleTask = remote(async function dataSample(keys: string[], k: number, block: unknown) {
  const w = await new Function('s', 'return import(s)')('@samsara/ray-data/worker');
  return w.sampleKeys(keys, k, block) as unknown[][];
}, { numCpus: 0 });

/** Rows [start, end) of the concatenated blocks. */
export const sliceTask = remote(function dataSlice(start: number, end: number, ...blocks: unknown[]): unknown {
  // No imports: Table.slice and Table.concat are methods of the tables themselves.
  type T = { numRows: number; slice(a: number, b: number): T; concat(...o: T[]): T };
  const parts: T[] = [];
  let off = 0;
  for (const t of blocks as T[]) {
    const s = Math.max(start - off, 0);
    const e = Math.min(end - off, t.numRows);
    if (e > s) parts.push(t.slice(s, e));
    off += t.numRows;
  }
  if (parts.length === 0) return (blocks[0] as T).slice(0, 0);
  return parts.length === 1 ? parts[0] : parts[0].concat(...parts.slice(1));
}, { numCpus: 0 });

/** A mapBatches actor: holds the user's class instance, runs map tasks with it. */
export const MapWorker = actor(
  class DataMapWorker {
    inst: unknown;
    constructor(
      readonly cls: unknown,
      readonly ctorArgs: unknown[],
      readonly opName: string,
    ) {}
    async ready(): Promise<boolean> {
      const w = await new Function('s', 'return import(s)')('@samsara/ray-data/worker');
      this.inst ??= await w.makeInstance(this.cls, this.ctorArgs, this.opName);
      return true;
    }
    async run(spec: unknown, ...inputs: unknown[]): Promise<unknown> {
      const w = await new Function('s', 'return import(s)')('@samsara/ray-data/worker');
      this.inst ??= await w.makeInstance(this.cls, this.ctorArgs, this.opName);
      return w.runWithInstance(spec, this.inst, inputs);
    }
  },
);

/** A SQL executor: one DuckDB instance in an actor. */
export const SqlExecutor = actor(
  class DataSqlExecutor {
    impl: {
      nodeId(): string;
      load(name: string, part: number, tables: unknown[]): Promise<unknown>;
      attach(attach: unknown[], tables: unknown[]): Promise<void>;
      partialAggregate(spec: unknown, tables: unknown[]): Promise<unknown>;
      takeKept(): unknown;
      describe(sql: string): Promise<unknown>;
      finalize(want: unknown[], finalSql: string, partials: unknown[]): Promise<unknown>;
      partitionPrepare(name: string, keyExprs: string[], n: number): Promise<number>;
      partOf(name: string, p: number): Promise<unknown>;
      query(sql: string): Promise<unknown>;
      queryBlock(sql: string, name: string, t: unknown): Promise<unknown>;
      reset(): Promise<void>;
      takeTimings(): string[];
      warm(): Promise<void>;
      close(): void;
    } | undefined;
    constructor(readonly threads: number) {}
    async get() {
      if (!this.impl) {
        const w = await new Function('s', 'return import(s)')('@samsara/ray-data/worker');
        this.impl = new w.SqlExecutorImpl(this.threads);
      }
      return this.impl!;
    }
    async nodeId(): Promise<string> {
      return (await this.get()).nodeId();
    }
    async load(name: string, part: number, ...tables: unknown[]): Promise<unknown> {
      return (await this.get()).load(name, part, tables);
    }
    async attach(attach: unknown[], ...tables: unknown[]): Promise<void> {
      return (await this.get()).attach(attach, tables);
    }
    async partialAggregate(spec: unknown, ...tables: unknown[]): Promise<unknown> {
      return (await this.get()).partialAggregate(spec, tables);
    }
    async takeKept(): Promise<unknown> {
      return (await this.get()).takeKept();
    }
    async describe(sql: string): Promise<unknown> {
      return (await this.get()).describe(sql);
    }
    async finalize(want: unknown[], finalSql: string, ...partials: unknown[]): Promise<unknown> {
      return (await this.get()).finalize(want, finalSql, partials);
    }
    async partitionPrepare(name: string, keyExprs: string[], n: number): Promise<number> {
      return (await this.get()).partitionPrepare(name, keyExprs, n);
    }
    async partOf(name: string, p: number): Promise<unknown> {
      return (await this.get()).partOf(name, p);
    }
    async query(sql: string): Promise<unknown> {
      return (await this.get()).query(sql);
    }
    async queryBlock(sql: string, name: string, table: unknown): Promise<unknown> {
      return (await this.get()).queryBlock(sql, name, table);
    }
    async reset(): Promise<void> {
      return (await this.get()).reset();
    }
    async warm(): Promise<void> {
      return (await this.get()).warm();
    }
    async takeTimings(): Promise<string[]> {
      return (await this.get()).takeTimings();
    }
    async close(): Promise<void> {
      this.impl?.close();
    }
  },
);
