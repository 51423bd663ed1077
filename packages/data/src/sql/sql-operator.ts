/**
 * The physical operator of a SQL query: one input per named dataset, executors from the session. In
 * perBlock mode it streams (each block queried where an executor is free, outputs in input order);
 * otherwise it collects every block, then partitions, loads, queries and finishes as the plan says.
 * Executor tables are dropped after every query; the session runs one barrier query at a time.
 */
import { put, type ObjectRef } from '@samsara/ray';
import { rememberBounded, stampOf, StampedCache } from '../io/file-stamp.js';
import { tableBytes } from '../block.js';
import type { BlockRef, Table } from '../block.js';
import { PhysicalOperator, type WorkItem } from '../exec/physical-operator.js';
import { registerPlanFn } from '../plan/planner.js';
import type { LogicalNode } from '../plan/logical-plan.js';
import { measure } from '../exec/measure.js';
import { freeOwned } from '../exec/map-operator.js';
import { locateTask } from '../exec/remote-fns.js';
import { InputOperator } from '../exec/simple-operators.js';
import type { ReadSource } from '../plan/logical-plan.js';
import type { ReadSpec } from '../plan/stages.js';
import { unwrapError } from '../exec/unwrap-error.js';
import { planSql, BROADCAST_BYTES, type SqlPlan } from './sql-planner.js';
import { LimitOperator } from '../exec/simple-operators.js';
import type { Attachment, PartialResult, PartialSpec } from '../worker/sql-executor.js';

/** What the operator needs from a session. */
export interface SqlSessionLike {
  readonly executors: readonly unknown[];
  /** Serializes barrier queries of one session. */
  lock(): Promise<() => void>;
  /** The executors' node ids, when known (asked once per session). */
  nodeIds?: readonly string[];
}

type Exec = {
  nodeId: { remote(): ObjectRef<string> };
  load: { remote(name: string, part: number, ...t: unknown[]): ObjectRef<unknown> };
  attach: { remote(attach: Attachment[], ...t: unknown[]): ObjectRef<void> };
  partialAggregate: { remote(spec: PartialSpec, ...t: unknown[]): ObjectRef<PartialResult> };
  takeKept: { remote(): ObjectRef<Table> };
  describe: { remote(sql: string): ObjectRef<unknown> };
  finalize: { remote(want: readonly { name: string; type: string }[], finalSql: string, ...partials: unknown[]): ObjectRef<Table> };
  partitionPrepare: { remote(name: string, keyExprs: string[], n: number): ObjectRef<number> };
  partOf: { remote(name: string, p: number): ObjectRef<Table> };
  query: { remote(sql: string): ObjectRef<Table> };
  queryBlock: { remote(sql: string, name: string, t: unknown): ObjectRef<Table> };
  reset: { remote(): ObjectRef<void> };
};

export class SqlOperator extends PhysicalOperator {
  notes: string[] = [];
  /** Where the time of the last barrier query went (partition+load vs query), for benchmarks. */
  timing?: string;
  private plan?: SqlPlan;
  private readonly buffered: BlockRef[][];
  private inFlight = 0;
  private bulkRunning = false;
  private bulkDone = false;
  private next_ = 0;
  private emitted = 0;
  private readonly done = new Map<number, BlockRef>();
  private rr = 0;
  private nodes?: readonly string[];

  constructor(
    inputs: readonly PhysicalOperator[],
    private readonly names: readonly string[],
    private readonly text: string,
    private readonly session: SqlSessionLike,
    initialPlan: SqlPlan,
    /** Inputs the executors read themselves (Parquet scans pushed down), by table name. */
    private readonly pushed: Readonly<Record<string, ReadSource>> = {},
  ) {
    super(initialPlan.mode === 'perBlock' ? 'Sql(per block)' : 'Sql', inputs);
    this.plan = initialPlan;
    this.buffered = inputs.map(() => []);
  }

  private get execs(): Exec[] {
    return this.session.executors as unknown as Exec[];
  }

  activeTasks(): number {
    return this.inFlight + this.done.size + (this.bulkRunning ? 1 : 0);
  }

  protected runningBytes(): number {
    let n = 0;
    for (const l of this.buffered) for (const b of l) n += b.sizeBytes;
    for (const b of this.done.values()) n += b.sizeBytes;
    return n;
  }

  protected override canAddInputInner(): boolean {
    return this.plan?.mode !== 'perBlock' || this.inFlight < this.execs.length * 2;
  }

  protected override completedInner(): boolean {
    return this.plan?.mode === 'perBlock' ? true : this.bulkDone;
  }

  protected addInputInner(item: WorkItem, inputIndex: number): void {
    const b = item.block!;
    if (this.plan?.mode !== 'perBlock') {
      this.buffered[inputIndex].push(b);
      return;
    }
    const idx = this.next_++;
    const ex = this.execs[this.rr++ % this.execs.length];
    this.inFlight++;
    this.metrics.tasksStarted++;
    measure(ex.queryBlock.remote(this.text, this.plan.table, b.ref), true).then(
      (out) => {
        this.inFlight--;
        this.metrics.tasksFinished++;
        void freeOwned([b]);
        this.done.set(idx, out);
        while (this.done.has(this.emitted)) {
          this.emit(this.done.get(this.emitted)!);
          this.done.delete(this.emitted++);
        }
        this.ctx.wake();
      },
      (e) => {
        this.inFlight--;
        this.fail(unwrapError(e));
      },
    );
  }

  protected override allInputsDoneInner(): void {
    if (this.plan?.mode === 'perBlock') return;
    this.bulkRunning = true;
    this.metrics.tasksStarted++;
    this.bulk().then(
      (outs) => {
        this.bulkRunning = false;
        this.bulkDone = true;
        this.metrics.tasksFinished++;
        for (const o of outs) this.emit(o);
        this.ctx.wake();
      },
      (e) => {
        this.bulkRunning = false;
        this.bulkDone = true;
        this.fail(unwrapError(e));
      },
    );
  }

  private async bulk(): Promise<BlockRef[]> {
    const execs = this.execs;
    const E = execs.length;
    const phases: string[] = [];
    const t0 = performance.now();
    const mark = (() => {
      let last = t0;
      const f = (what: string) => {
        const now = performance.now();
        phases.push(`${what} ${Math.round(now - last)} ms`);
        last = now;
      };
      f.reset = () => (last = performance.now());
      return f;
    })();
    // What each input is: blocks in the store, or Parquet files the executors read themselves.
    const sources = new Map<string, Source>();
    for (const [i, n] of this.names.entries()) {
      const src = this.pushed[n];
      if (src) {
        const specs = (await src.plan()).filter((x): x is { spec: ParquetSpec; estBytes: number } => x.spec.kind === 'parquet');
        sources.set(n, { kind: 'parquet', specs, columns: specs[0] ? await parquetColumns(specs[0].spec) : [] });
      } else sources.set(n, { kind: 'blocks', blocks: this.buffered[i] });
    }
    const columnsOf = (t: string): readonly string[] | undefined => {
      const s = sources.get(t);
      return s?.kind === 'parquet' ? s.columns : s?.blocks.find((b) => b.columns)?.columns;
    };
    const sizeOf = (t: string): number | undefined => {
      const s = sources.get(t);
      if (!s) return undefined;
      return s.kind === 'parquet' ? s.specs.reduce((a, x) => a + x.estBytes, 0) : s.blocks.reduce((a, b) => a + b.sizeBytes, 0);
    };
    let plan = await planSql(this.text, this.names, { columnsOf, sizeOf });
    const unlock = await this.session.lock();
    const temp: ObjectRef<Table>[] = [];
    // Executors keep tables between calls unless a plan dropped them itself (partialAggregate does).
    let needsReset = true;
    try {
      this.nodes ??= this.session.nodeIds ?? ((await Promise.all(execs.map((ex) => awaitRef(ex.nodeId.remote())))) as string[]);
      let attach = new Attacher(execs, this.nodes, sources);

      if (plan.mode === 'partial') {
        const agg = plan.agg;
        await attach.share(plan.big);
        for (const b of plan.broadcast) await attach.all(b);
        // The aggregates' types and the output names (for the merge's casts and aliases): remembered per
        // query text and inputs (describeKey); else described by executor 0 after its partial query, in
        // the same call.
        const key = describeKey(this.text, this.names, sources);
        const known = key !== undefined ? describedCache.get(key) : undefined;
        const inlineMaxBytes = Math.floor(MERGE_ON_DRIVER_BYTES / E);
        const calls = attach.per.map((p, e) => {
          const spec: PartialSpec = { attach: p.attach, sql: agg.partialSql, originalSql: this.text, inlineMaxBytes, ...(e === 0 && !known ? { describe: [agg.typesSql, this.text] } : {}) };
          return awaitRef(execs[e].partialAggregate.remote(spec, ...p.refs));
        });
        const attached = attach.describe();
        attach = new Attacher(execs, this.nodes, sources);
        // Planning: the inputs' files (footers remembered), the rewrite (memoized per query text), the lock.
        phases.push(`plan ${Math.round(performance.now() - t0)} ms (${attached})`);
        mark.reset();
        const results = (await Promise.all(calls)) as PartialResult[];
        mark(`partial aggregation on ${E} executors (in each: ${results.map((r) => `attach ${Math.round(r.ms.attach)} ms, scan + aggregate ${Math.round(r.ms.query)} ms${r.described ? ` + describe ${Math.round(r.ms.describe)} ms` : ''}`).join('; ')}; ${results.reduce((a, r) => a + r.rows, 0).toLocaleString('en')} partial rows)`);
        let bad: string | undefined;
        const failed = results.find((r) => r.error !== undefined);
        const [aggCols, outCols] = known ?? results[0].described ?? [{ error: failed?.error ?? 'not described' }, { error: 'not described' }];
        if (failed) bad = `the partial states do not bind (${failed.error})`;
        // E.g. avg(DATE) is fine but sum(DATE), its partial state, does not exist.
        else if ('error' in aggCols) bad = `the partial states do not bind (${aggCols.error.split('\n')[0]})`;
        else if ('error' in outCols) throw new Error(`internal: the query binds on executor 0 but DESCRIBE says ${outCols.error}`);
        else {
          const finalSql = await agg.finalSql(
            aggCols.map((c) => c.type),
            outCols.map((c) => c.name),
          );
          if (results.every((r) => r.table)) {
            // Small partials came back inline: merged here, no further hop.
            const { mergeOnDriver } = await import('./driver-merge.js');
            const m = await mergeOnDriver(results.map((r) => r.table!), finalSql, known ? undefined : outCols);
            if ('table' in m) {
              if (key !== undefined && !known) rememberDescribed(key, [aggCols, outCols]);
              const ref = (await put(m.table)) as ObjectRef<Table>;
              mark('merge in the driver');
              needsReset = false;
              this.timing = `SQL partial aggregation over ${E} executors: ${phases.join(', ')}`;
              return [{ ref, numRows: m.table.numRows, sizeBytes: tableBytes(m.table), owned: true, columns: m.table.schema.fields.map((f) => f.name) }];
            }
            bad = m.mismatch;
          } else {
            // Large partials stay where they were made; one executor merges them.
            const partials = results.map((r, e) => (r.table ? r.table : execs[e].takeKept.remote()));
            temp.push(...(partials.filter((x) => !isTable(x)) as ObjectRef<Table>[]));
            const out = await measure(execs[0].finalize.remote(outCols, finalSql, ...partials), true);
            mark('merge on one executor');
            bad = out.columns?.length === 1 && out.columns[0] === '__rayts_mismatch' ? String(((await awaitRef(out.ref)) as Table).getChild('__rayts_mismatch')?.get(0)) : undefined;
            if (!bad) {
              if (key !== undefined && !known) rememberDescribed(key, [aggCols, outCols]);
              this.timing = `SQL partial aggregation over ${E} executors: ${phases.join(', ')}`;
              return [out];
            }
            await freeOwned([out]);
          }
        }
        if (key !== undefined) describedCache.delete(key);
        this.notes.push(`SQL partial aggregation was not used: ${bad}; the query ran with a plan that moves rows instead.`);
        await Promise.all(execs.map((ex) => awaitRef(ex.reset.remote())));
        plan = await planSql(this.text, this.names, { columnsOf, sizeOf, decompose: false });
      }

      if (!phases.length) mark('plan');
      if (plan.mode === 'single') {
        this.notes.push(`SQL ran on one executor: the query has ${plan.reason}, which cannot be split without changing the answer.`);
        for (const n of this.names) await attach.all(n, 0);
        await attach.done();
        mark(`attach (${attach.describe()})`);
        const out = await measure(execs[0].query.remote(this.text), true);
        mark('query on one executor');
        this.timing = `SQL on one executor: ${phases.join(', ')}`;
        return [out];
      }

      if (plan.mode === 'broadcast' || plan.mode === 'spread') {
        const bigName = plan.mode === 'broadcast' ? plan.big : plan.table;
        await attach.share(bigName);
        for (const n of this.names) if (n !== bigName) await attach.all(n);
        await attach.done();
        mark(`attach (${attach.describe()})`);
      } else if (plan.mode === 'hash') {
        // hash: each executor gets its share, then DuckDB repartitions it by key across the executors.
        const keys = plan.keys;
        for (const n of this.names) {
          if (keys[n]) await attach.share(n, `__src_${n}`);
          else await attach.all(n);
        }
        await attach.done();
        mark(`attach (${attach.describe()})`);
        const keyed = this.names.filter((n) => keys[n]);
        const exprs = await hashKeyExprs(execs[0], keyed.map((n) => ({ name: `__src_${n}`, keys: keys[n] })));
        if (!exprs) {
          // Join keys of types whose equality DuckDB decides by casting: hashing cannot agree on both sides.
          this.notes.push('SQL ran on one executor: the join keys have different types, so a hash partition could separate equal keys.');
          await Promise.all(execs.map((ex) => awaitRef(ex.reset.remote())));
          const one = new Attacher(execs, this.nodes, sources);
          for (const n of this.names) await one.all(n, 0);
          await one.done();
          return [await measure(execs[0].query.remote(this.text), true)];
        }
        let rows = 0;
        for (const [k, n] of keyed.entries()) {
          const counts = await Promise.all(execs.map((ex) => awaitRef(ex.partitionPrepare.remote(`__src_${n}`, exprs[k], E))));
          rows += (counts as number[]).reduce((a, b) => a + b, 0);
          const parts = execs.map((ex) => execs.map((_, p) => ex.partOf.remote(`__src_${n}`, p)));
          for (const row of parts) temp.push(...row);
          await Promise.all(execs.map((ex, p) => awaitRef(ex.load.remote(n, -1, ...parts.map((row) => row[p])))));
        }
        mark(`repartition by key in DuckDB (${rows.toLocaleString('en')} rows)`);
      } else throw new Error(`internal: SQL plan ${plan.mode} in a barrier query`);
      const results = execs.map((ex) => ex.query.remote(this.text));
      const finish = plan.mode === 'spread' || plan.mode === 'hash' || plan.mode === 'broadcast' ? plan.finish : undefined;
      let out: BlockRef[];
      if (!finish) {
        out = await Promise.all(results.map((r) => measure(r, true)));
        mark(`query on ${E} executors`);
      } else {
        temp.push(...results);
        // Measured where they are (errors surface here); the rows go straight to the finishing executor.
        await Promise.all(results.map((r) => measure(r, true)));
        mark(`query on ${E} executors`);
        await awaitRef(execs[0].load.remote('__partial', -1, ...results));
        out = [await measure(execs[0].query.remote(finish), true)];
        mark('finish on one executor');
      }
      this.timing = `SQL ${plan.mode} over ${E} executors: ${phases.join(', ')}`;
      return out;
    } finally {
      // Cleanup runs after the result is handed on; the session lock is held until it is done, so the
      // next query never sees this one's tables.
      const inputs = this.buffered.flatMap((l) => l.splice(0));
      void (async () => {
        if (needsReset) await Promise.all(execs.map((ex) => awaitRef(ex.reset.remote()).catch(() => undefined)));
        await freeOwned(temp.map((ref) => ({ ref, numRows: 0, sizeBytes: 0, owned: true }))).catch(() => undefined);
        await freeOwned(inputs).catch(() => undefined);
      })().finally(unlock);
    }
  }
}

type ParquetSpec = Extract<ReadSpec, { kind: 'parquet' }>;

/** Partial aggregates at most this big in total come back inline and are merged in the driver. */
const MERGE_ON_DRIVER_BYTES = 8 * 1024 * 1024;

type Described = readonly ({ name: string; type: string }[] | { error: string })[];
/** DESCRIBE results of partial aggregations, by query text and input files (see describeKey). */
const describedCache = new Map<string, Described>();

function rememberDescribed(key: string, d: Described): void {
  rememberBounded(describedCache, key, d, 256);
}

/**
 * What the types of a query over these inputs depend on: the text and, per table, its Parquet files with
 * their size and modification time, or the ids of its Arrow blocks (objects are immutable: the same ids
 * are the same data). Undefined when a file cannot be stat'ed.
 */
function describeKey(text: string, names: readonly string[], sources: Map<string, Source>): string | undefined {
  const parts: unknown[] = [text];
  for (const n of names) {
    const s = sources.get(n);
    if (!s) return undefined;
    if (s.kind === 'blocks') {
      parts.push(n, s.blocks.map((b) => String((b.ref as unknown as { id: unknown }).id)));
      continue;
    }
    const files = [...new Set(s.specs.map((x) => x.spec.path))];
    const stamps = files.map(stampOf);
    if (stamps.some((x) => x === undefined)) return undefined;
    parts.push(n, s.specs[0]?.spec.columns ?? null, files, stamps);
  }
  return JSON.stringify(parts);
}

function isTable(x: unknown): x is Table {
  return !!x && typeof x === 'object' && 'batches' in x && 'schema' in x;
}
type Source = { kind: 'blocks'; blocks: BlockRef[] } | { kind: 'parquet'; specs: { spec: ParquetSpec; estBytes: number }[]; columns: readonly string[] };

/** Column names of a Parquet file (footer only), for the planner; remembered per file size and time. */
async function parquetColumns(spec: ParquetSpec): Promise<readonly string[]> {
  if (spec.columns?.length) return spec.columns;
  const stamp = stampOf(spec.path);
  const hit = columnsCache.get(spec.path, stamp);
  if (hit) return hit;
  const { connect } = await import('../io/duckdb-arrow.js');
  const conn = await connect();
  try {
    const r = await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${spec.path.replace(/'/g, "''")}')`);
    const columns = r.getRows().map((x) => String(x[0]));
    columnsCache.set(spec.path, stamp, columns);
    return columns;
  } catch {
    return [];
  } finally {
    conn.closeSync();
  }
}

/** Column names per Parquet file, remembered with the file's size and modification time. */
const columnsCache = new StampedCache<readonly string[]>(1024);

const INT_TYPES = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT']);
const FLOAT_TYPES = /^(FLOAT|DOUBLE|DECIMAL)/;

/**
 * The expressions to hash for each keyed table so equal keys land on the same executor: integers of
 * any width hash as HUGEINT, floats and decimals (or a float against an integer) as DOUBLE, equal types
 * as they are. Undefined when a key pair has types DuckDB would compare by casting otherwise.
 */
async function hashKeyExprs(ex: Exec, tables: { name: string; keys: readonly string[] }[]): Promise<string[][] | undefined> {
  const types = await Promise.all(
    tables.map(async (t) => {
      const cols = (await awaitRef(ex.describe.remote(`SELECT * FROM "${t.name.replace(/"/g, '""')}"`))) as { name: string; type: string }[];
      return t.keys.map((k) => cols.find((c) => c.name === k)?.type ?? 'VARCHAR');
    }),
  );
  const out: string[][] = tables.map(() => []);
  const nKeys = tables[0]?.keys.length ?? 0;
  for (let j = 0; j < nKeys; j++) {
    const ts = types.map((t) => t[j]);
    let cast: string | undefined;
    if (ts.every((t) => INT_TYPES.has(t))) cast = 'HUGEINT';
    else if (ts.every((t) => INT_TYPES.has(t) || FLOAT_TYPES.test(t))) cast = 'DOUBLE';
    else if (ts.every((t) => t === ts[0])) cast = undefined;
    else return undefined;
    tables.forEach((t, i) => {
      const col = `"${t.keys[j].replace(/"/g, '""')}"`;
      out[i].push(cast ? `CAST(${col} AS ${cast})` : col);
    });
  }
  return out;
}

/**
 * Puts tables on executors: a share of the rows on each (Parquet files split by bytes; blocks on the
 * executor of their node first, balanced by rows), or all of them on every executor (or one). It collects
 * what each executor attaches; done() sends it in one call per executor, or a plan passes it along with
 * its query (partialAggregate) so attaching costs no round trip of its own.
 */
class Attacher {
  private readonly notes: string[] = [];
  /** Per executor: what to attach, and the Arrow blocks it consumes in order. */
  readonly per: { attach: Attachment[]; refs: ObjectRef<unknown>[] }[];
  constructor(
    private readonly execs: Exec[],
    private readonly nodes: readonly string[],
    private readonly sources: Map<string, Source>,
  ) {
    this.per = execs.map(() => ({ attach: [], refs: [] }));
  }

  async share(name: string, as = name): Promise<void> {
    const src = this.sources.get(name)!;
    const E = this.execs.length;
    if (src.kind === 'parquet') {
      const shares = splitParquet(src.specs, E);
      shares.forEach((parts, e) => this.per[e].attach.push({ name: as, parquet: { parts, columns: src.specs[0]?.spec.columns, schemaPath: src.specs[0]?.spec.path ?? '' } }));
      this.notes.push(`${name}: Parquet read by each executor (${shares.map((s) => s.length).join('/')} parts)`);
      return;
    }
    // Where each block is stored: known for blocks a map task made, else asked by a task next to it.
    const where = (await Promise.all(src.blocks.map((b) => b.nodeId ?? awaitRef(locateTask.remote(b.ref as never))))) as string[];
    const load = new Array(E).fill(0);
    const total = src.blocks.reduce((a, b) => a + b.numRows, 0);
    const cap = Math.ceil(total / E) * 1.1;
    const assign: BlockRef[][] = this.execs.map(() => []);
    let local = 0;
    const order = src.blocks.map((b, i) => i).sort((a, b) => src.blocks[b].numRows - src.blocks[a].numRows);
    for (const i of order) {
      const b = src.blocks[i];
      const mine = this.nodes.map((n, e) => e).filter((e) => this.nodes[e] === where[i] && load[e] + b.numRows <= cap);
      const pool = mine.length ? mine : this.nodes.map((_, e) => e);
      const e = pool.reduce((x, y) => (load[y] < load[x] ? y : x));
      if (this.nodes[e] === where[i]) local++;
      load[e] += b.numRows;
      assign[e].push(b);
    }
    assign.forEach((bs, e) => {
      this.per[e].attach.push({ name: as, blocks: bs.length });
      this.per[e].refs.push(...bs.map((b) => b.ref));
    });
    this.notes.push(`${name}: ${src.blocks.length} Arrow blocks, ${local} on their executor's node`);
  }

  async all(name: string, only?: number): Promise<void> {
    const src = this.sources.get(name)!;
    const targets = only === undefined ? this.execs.map((_, e) => e) : [only];
    for (const e of targets) {
      if (src.kind === 'parquet') {
        const parts = src.specs.map((x) => ({ path: x.spec.path }));
        const uniq = [...new Map(parts.map((p) => [p.path, p])).values()];
        this.per[e].attach.push({ name, parquet: { parts: uniq, columns: src.specs[0]?.spec.columns, schemaPath: src.specs[0]?.spec.path ?? '' } });
      } else {
        // A whole copy on every executor is a join's small side: a DuckDB table (with statistics) is
        // cheaper to join against than the scan in place (see Attachment.materialize).
        const small = only === undefined && src.blocks.reduce((a, b) => a + b.sizeBytes, 0) <= BROADCAST_BYTES;
        this.per[e].attach.push({ name, blocks: src.blocks.length, ...(small ? { materialize: true } : {}) });
        this.per[e].refs.push(...src.blocks.map((b) => b.ref));
      }
    }
    this.notes.push(`${name}: whole on ${only === undefined ? 'every executor' : 'one executor'}`);
  }

  /** Sends what was collected: one call per executor that has something to attach. */
  async done(): Promise<void> {
    const calls = this.per.map((p, e) => (p.attach.length ? awaitRef(this.execs[e].attach.remote(p.attach, ...p.refs)) : undefined));
    this.per.forEach((p) => ((p.attach = []), (p.refs = [])));
    await Promise.all(calls);
  }

  describe(): string {
    return this.notes.join('; ');
  }
}

/** Parquet parts for `E` executors: whole files when there are enough, else row ranges; balanced by bytes. */
function splitParquet(specs: { spec: ParquetSpec; estBytes: number }[], E: number): { path: string; rowStart?: number; rowEnd?: number }[][] {
  const byFile = new Map<string, { spec: ParquetSpec; estBytes: number }[]>();
  for (const s of specs) byFile.set(s.spec.path, [...(byFile.get(s.spec.path) ?? []), s]);
  const items: { part: { path: string; rowStart?: number; rowEnd?: number }; bytes: number }[] =
    byFile.size >= E
      ? [...byFile.entries()].map(([path, l]) => ({ part: { path }, bytes: l.reduce((a, x) => a + x.estBytes, 0) }))
      : specs.map((s) => ({ part: { path: s.spec.path, ...(s.spec.rowStart !== undefined ? { rowStart: s.spec.rowStart, rowEnd: s.spec.rowEnd } : {}) }, bytes: s.estBytes }));
  const out: { path: string; rowStart?: number; rowEnd?: number }[][] = Array.from({ length: E }, () => []);
  const load = new Array(E).fill(0);
  for (const it of items.sort((a, b) => b.bytes - a.bytes)) {
    const e = load.indexOf(Math.min(...load));
    out[e].push(it.part);
    load[e] += it.bytes;
  }
  return out;
}

async function awaitRef(r: ObjectRef<unknown>): Promise<unknown> {
  const { get } = await import('@samsara/ray');
  try {
    return await get(r);
  } catch (e) {
    throw unwrapError(e);
  }
}

registerPlanFn('Sql', async (n, ctx) => {
  const node = n as Extract<LogicalNode, { kind: 'Sql' }>;
  const plan = await planSql(node.sql.text, Object.keys(node.inputs), () => undefined);
  // A per-block query reads one table: the other inputs are not run at all.
  const names = plan.mode === 'perBlock' ? [plan.table] : Object.keys(node.inputs);
  const ins: PhysicalOperator[] = [];
  const pushed: Record<string, ReadSource> = {};
  for (const name of names) {
    const input = node.inputs[name];
    if (plan.mode !== 'perBlock' && input.kind === 'Read' && input.source.name === 'ReadParquet') {
      // The executors read these files themselves: nothing goes through blocks.
      pushed[name] = input.source;
      const none = new InputOperator(`ReadParquet(${name}, pushed into the executors)`, []);
      ctx.ops.push(none);
      ins.push(none);
    } else ins.push(await ctx.planNode(input));
  }
  const op = new SqlOperator(ins, names, node.sql.text, node.sql.session as SqlSessionLike, plan, pushed);
  ctx.ops.push(op);
  if (plan.mode === 'perBlock' && plan.limit !== undefined) {
    const lim = new LimitOperator(`Limit(${plan.limit})`, op, plan.limit);
    ctx.ops.push(lim);
    return lim;
  }
  return op;
});
