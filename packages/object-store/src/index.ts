/**
 * `@samsara/ray-object-store`: the per-node shared-memory object store of rayts.
 *
 * - {@link SharedObjectStore}: one shared area per node (a /dev/shm file mapped by our native addon and
 *   exposed as a SharedArrayBuffer; a plain SharedArrayBuffer without the addon), a 64-byte aligned
 *   allocator with coalescing, LRU spilling to disk from 80% and transparent restore, chunked writers and
 *   readers for transfers between nodes.
 * - {@link encodeForStore} / {@link decodeFromStore}: the stored form (Arrow IPC for tables, raw bytes for
 *   typed arrays and Buffers, msgpack otherwise) and its zero-copy rebuild.
 * - {@link PullManager}: merged, resumable, memory-bounded pulls from other nodes.
 * - {@link mapForeignArea}: a driver on the same machine reads a node's objects in place.
 *
 * @example
 * import { SharedObjectStore, decodeFromStore, defaultObjectStoreMemory } from '@samsara/ray-object-store';
 * const store = new SharedObjectStore({ capacityBytes: defaultObjectStoreMemory(), spillDir: '/tmp/rayts/spill' });
 * store.putValue('o1', arrowTable);
 * const view = await store.getAsync('o1');   // pinned until view.release()
 * const table = decodeFromStore(view!.meta, view!.data); // columns point into shared memory
 */
export * from './types.js';
export { encodeForStore, decodeFromStore, releaseWhenCollected } from './stored-form.js';
export { SharedObjectStore, type ObjectLocation } from './shared-object-store.js';
export { mapForeignArea, removeStaleAreas, nativeAddonProblem, NATIVE_ADDON_PATH, type AreaMode, type ForeignArea } from './shm-area.js';
export { PullManager, type PullChunk, type PullFetch, type PullSink, type PullSource, type PullManagerOptions } from './pull-manager.js';
export { defaultObjectStoreMemory, DEFAULT_MEMORY_FRACTION, DEFAULT_MEMORY_MAX_BYTES } from './config.js';
export { Allocator, ALIGNMENT, alignedSize, type AllocatorStats } from './allocator.js';
