/**
 * Measuring a block where it lives: a zero-CPU task reads its row count and byte size (locality puts it
 * on the block's node, so nothing moves), and the driver learns them without pulling the data.
 */
import { get, type ObjectRef } from '@samsara/ray';
import type { BlockRef, Table } from '../block.js';
import { unwrapError } from './unwrap-error.js';
import { metaTask } from './remote-fns.js';
import type { ObjectRefGenerator } from '@samsara/ray';

/**
 * The block a measured map task streams (mapTaskMeasured: its meta, then the block): one round trip,
 * no measuring task. Rejects with the task's error, retyped.
 */
export async function measuredBlock(gen: ObjectRefGenerator<unknown>, owned: boolean): Promise<BlockRef> {
  try {
    const first = await gen.next();
    if (first.done) throw new Error('internal: a map task streamed nothing');
    const m = (await get(first.value)) as { numRows: number; sizeBytes: number; columns: string[]; nodeId?: string };
    const second = await gen.next();
    if (second.done) throw new Error('internal: a map task streamed no block');
    void gen.next().catch(() => undefined);
    return { ref: second.value as ObjectRef<Table>, numRows: m.numRows, sizeBytes: m.sizeBytes, owned, columns: m.columns, ...(m.nodeId ? { nodeId: m.nodeId } : {}) };
  } catch (e) {
    throw unwrapError(e);
  }
}

/** The block behind `ref`, measured. Rejects with the error of the task that made it, retyped. */
export async function measure(ref: ObjectRef<Table>, owned: boolean): Promise<BlockRef> {
  try {
    const m = await get(metaTask.remote(ref));
    return { ref, numRows: m.numRows, sizeBytes: m.sizeBytes, owned, columns: m.columns };
  } catch (e) {
    throw unwrapError(e);
  }
}
