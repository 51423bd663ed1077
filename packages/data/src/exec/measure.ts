/**
 * Measuring a block where it lives: a zero-CPU task reads its row count and byte size (locality puts it
 * on the block's node, so nothing moves), and the driver learns them without pulling the data.
 */
import { get, type ObjectRef } from '@samsara/ray';
import type { BlockRef, Table } from '../block.js';
import { unwrapError } from './unwrap-error.js';
import { metaTask } from './remote-fns.js';

/** The block behind `ref`, measured. Rejects with the error of the task that made it, retyped. */
export async function measure(ref: ObjectRef<Table>, owned: boolean): Promise<BlockRef> {
  try {
    const m = await get(metaTask.remote(ref));
    return { ref, numRows: m.numRows, sizeBytes: m.sizeBytes, owned, columns: m.columns };
  } catch (e) {
    throw unwrapError(e);
  }
}
