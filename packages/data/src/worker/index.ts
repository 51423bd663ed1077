/**
 * `@samsara/ray-data/worker`: the code Data's tasks and actors run. Not a user API: the remote function
 * bodies of the package are tiny and self-contained (they import this entry on the worker), so they
 * ship by source to any node whatever the job's working directory.
 */
import { columnValues, type Table } from '../block.js';
import type { MapTaskSpec, ShippedFn } from '../plan/stages.js';
import type { AggregateFn } from '../plan/aggregate.js';
import { runMapTask, type CallableInstance } from './map-task.js';
import { partitionBlock, partialAggregate, reducePartitions, type PartitionSpec, type ReduceSpec } from './shuffle.js';
import { rebuild, userError } from './user-code.js';
import { SqlExecutorImpl } from './sql-executor.js';

export { runMapTask, SqlExecutorImpl };

/** Map half of an all-to-all: optional partial aggregation, then partitioning. */
export function shuffleMap(part: PartitionSpec, blockIndex: number, preAggregate: { keys: string[]; aggs: AggregateFn[] } | null, inputs: Table[]): Table {
  let t = inputs[0];
  if (preAggregate) t = partialAggregate(t, preAggregate.keys, preAggregate.aggs);
  return partitionBlock(part, t, blockIndex);
}

/** Reduce half of an all-to-all. */
export function shuffleReduce(spec: ReduceSpec, p: number, inputs: Table[]): Table {
  return reducePartitions(spec, p, inputs);
}

/** Up to `k` evenly spaced key tuples of a block (sort's sample). */
export function sampleKeys(keys: string[], k: number, t: Table): unknown[][] {
  if (t.numRows === 0) return [];
  for (const key of keys) if (!t.getChild(key)) return [];
  const cols = keys.map((key) => columnValues(t.getChild(key)!));
  const out: unknown[][] = [];
  const step = Math.max(1, Math.floor(t.numRows / k));
  for (let i = 0; i < t.numRows && out.length < k; i += step) out.push(cols.map((c) => (typeof c[i] === 'bigint' ? Number(c[i]) : c[i])));
  return out;
}

/** The instance behind a mapBatches actor: the user's class built from source with its constructor args. */
export async function makeInstance(cls: ShippedFn, ctorArgs: unknown[], opName: string): Promise<CallableInstance> {
  const C = (await rebuild(cls, opName)) as unknown as new (...a: unknown[]) => CallableInstance;
  let inst: CallableInstance;
  try {
    inst = new C(...ctorArgs);
  } catch (e) {
    throw userError(opName, -1, undefined, e);
  }
  if (typeof inst.call !== 'function') {
    throw userError(opName, -1, undefined, new TypeError(`class ${cls.name} given to mapBatches has no call(batch) method`));
  }
  return inst;
}

/** Runs one map task inside a mapBatches actor. */
export function runWithInstance(spec: MapTaskSpec, inst: CallableInstance, inputs: Table[]): Promise<Table> {
  return runMapTask(spec, inputs, inst);
}
