/**
 * SQL sessions (RayDP's role): executor actors, each owning a DuckDB instance, placed by resources —
 * `resourcesPerExecutor: { spark_executor: 1 }` pins them to the nodes that offer `spark_executor`.
 * `query()` returns a lazy Dataset planned from DuckDB's parse tree (see sql-planner.ts).
 */
import { get, kill, InvalidArgumentError, type ObjectRef } from '@samsara/ray';
import { Dataset } from '../dataset.js';
import { checkOptions, positiveInt, describeValue } from '../config.js';
import { DataError } from '../errors.js';
import { SqlExecutor } from '../exec/remote-fns.js';
import { unwrapError } from '../exec/unwrap-error.js';
import type { SqlSessionLike } from './sql-operator.js';
import './sql-operator.js';

/** Options of sqlSession(). */
export interface SqlSessionOptions {
  /** Executor actors to start [2]. */
  numExecutors?: number;
  /**
   * Resources each executor holds, e.g. `{ spark_executor: 1 }`. `CPU` sets the CPUs it holds and its
   * DuckDB threads [no CPU held, 1 thread: like Ray actors, so executors never starve the tasks that
   * feed them].
   */
  resourcesPerExecutor?: Record<string, number>;
}

/** A set of SQL executors. Close it to stop them. */
export class SqlSession implements SqlSessionLike {
  private closed = false;
  private chain: Promise<void> = Promise.resolve();

  /** @internal Use sqlSession(). */
  constructor(readonly executors: readonly unknown[]) {}

  /** @internal */
  lock(): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const prev = this.chain;
    this.chain = prev.then(() => mine);
    return prev.then(() => release);
  }

  /**
   * A Dataset of the result of `text` over the named datasets (`{ trips: ds }` makes `ds` the table
   * `trips`). Runs when consumed; a DuckDB error is a SqlError with DuckDB's message and position.
   */
  query(text: string, tables: Record<string, Dataset> = {}): Dataset {
    if (this.closed) throw new DataError('sql.query(): the session is closed.', { hint: 'Start a new one with data.sqlSession().' });
    if (typeof text !== 'string' || !text.trim()) throw new InvalidArgumentError(`sql.query(): text must be a non-empty SQL string, got ${describeValue(text)}.`);
    if (typeof tables !== 'object' || tables === null) throw new InvalidArgumentError(`sql.query(): tables must be an object { name: dataset }, got ${describeValue(tables)}.`);
    for (const [k, v] of Object.entries(tables)) {
      if (!(v instanceof Dataset)) throw new InvalidArgumentError(`sql.query(): table "${k}" is not a Dataset (got ${describeValue(v)}).`);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new InvalidArgumentError(`sql.query(): table name "${k}" must be a plain identifier.`);
    }
    return new Dataset({ kind: 'Sql', inputs: Object.fromEntries(Object.entries(tables).map(([k, v]) => [k, v.plan])), sql: { text, session: this } });
  }

  /** The node id of each executor (where the resources placed them). */
  async executorNodeIds(): Promise<string[]> {
    const ids = await get(this.executors.map((e) => (e as unknown as { nodeId: { remote(): ObjectRef<string> } }).nodeId.remote()));
    this.nodeIds = ids;
    return ids;
  }

  /** @internal The executors' nodes as last asked (they do not move: executors are not restarted). */
  nodeIds?: readonly string[];

  /** Stops every executor. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.executors.map((e) => kill(e as never).catch(() => undefined)));
  }
}

/** Starts `numExecutors` SQL executors and waits until each has its DuckDB open. */
export async function sqlSession(opts?: SqlSessionOptions): Promise<SqlSession> {
  const o = checkOptions(opts, ['numExecutors', 'resourcesPerExecutor'], 'sqlSession()');
  const n = o.numExecutors === undefined ? 2 : positiveInt(o.numExecutors, 'numExecutors', 'sqlSession()');
  const res = { ...(o.resourcesPerExecutor ?? {}) };
  for (const [k, v] of Object.entries(res)) {
    if (typeof v !== 'number' || !(v >= 0)) throw new InvalidArgumentError(`sqlSession(): resourcesPerExecutor.${k} must be a non-negative number, got ${describeValue(v)}.`);
  }
  const numCpus = res.CPU ?? 0;
  delete res.CPU;
  const cls = SqlExecutor.options({ numCpus, ...(Object.keys(res).length ? { resources: res } : {}) });
  const execs = Array.from({ length: n }, () => cls.remote(Math.max(1, Math.round(numCpus))));
  const session = new SqlSession(execs);
  try {
    // Every executor opens its DuckDB now, and the driver the DuckDB it merges partial aggregates in:
    // the first query does not pay for them.
    const { warmDriverMerge } = await import('./driver-merge.js');
    await Promise.all([session.executorNodeIds(), ...execs.map((e) => get((e as unknown as { warm: { remote(): ObjectRef<void> } }).warm.remote())), warmDriverMerge()]);
  } catch (e) {
    await session.close();
    throw unwrapError(e);
  }
  return session;
}
