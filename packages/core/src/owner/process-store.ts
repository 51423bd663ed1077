/**
 * The object store of one process: a SharedObjectStore (shared memory, native forms, spilling) from
 * @samsara/ray-object-store. A node daemon and an embedded driver share one; a driver that joins a
 * cluster has its own for the objects it puts and pulls.
 */
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { constants } from 'node:buffer';
import { InvalidArgumentError, randomId } from '@samsara/ray-common';

const MAX_LENGTH = constants.MAX_LENGTH;
import { SharedObjectStore, defaultObjectStoreMemory, removeStaleAreas } from '@samsara/ray-object-store';

export type ProcessStore = SharedObjectStore;

export interface ProcessStoreOptions {
  /** Bytes of object store [a documented fraction of RAM, see docs/object-store.md]. */
  readonly capacityBytes?: number;
  /** Directory for spill files; a per-process sub-directory is created. */
  readonly spillRoot?: string;
}

/** Default cap of one process's store: 2 GiB unless `--object-store-memory` / RAYTS_OBJECT_STORE_MEMORY says more. */
export const DEFAULT_STORE_CAP_BYTES = 2 * 1024 ** 3;

export function createProcessStore(o: ProcessStoreOptions = {}): ProcessStore {
  const envCap = Number(process.env.RAYTS_OBJECT_STORE_MEMORY);
  let capacityBytes = o.capacityBytes ?? (Number.isFinite(envCap) && envCap > 0 ? envCap : Math.min(defaultObjectStoreMemory(), DEFAULT_STORE_CAP_BYTES));
  // One area is one typed array: Node 20 caps those at 4 GiB (buffer.constants.MAX_LENGTH).
  if (capacityBytes > MAX_LENGTH) {
    throw new InvalidArgumentError(`object store memory ${capacityBytes} bytes is more than this Node.js can map as one area (${MAX_LENGTH} bytes).`, {
      hint: 'Use a smaller --object-store-memory, or Node 22+ which allows larger areas.',
    });
  }
  capacityBytes = Math.floor(capacityBytes);
  // Areas of processes that were killed (SIGKILL leaves their /dev/shm file behind).
  removeStaleAreas();
  return new SharedObjectStore({
    capacityBytes,
    spillDir: join(o.spillRoot || join(tmpdir(), 'rayts-spill'), `spill-${process.pid}-${randomId(3)}`),
  });
}
