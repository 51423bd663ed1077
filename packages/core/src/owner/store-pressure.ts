/**
 * Zero-copy values keep their stored objects pinned until the garbage collector takes them (JS has no
 * deterministic reference counts). When the store cannot make room because readers pin everything, a
 * collection usually frees pins whose values are long gone: run one and try again before giving up
 * with ObjectStoreFullError.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { isRayError } from '@samsara/ray-common';

let gcFn: (() => void) | undefined;

function collector(): () => void {
  if (!gcFn) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (exposed) gcFn = exposed;
    else {
      setFlagsFromString('--expose-gc');
      gcFn = runInNewContext('gc') as () => void;
    }
  }
  return gcFn;
}

const tick = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let lastForcedGc = 0;

/**
 * Before `incomingBytes` go into a store that is near its spill threshold, let dead values go: refs
 * dropped by user code free their objects only at a garbage collection, and a heap that holds little
 * (the data lives in shared memory) is rarely collected. At most one forced collection per 50 ms.
 */
export async function relieveStorePressure(store: { stats(): { usedBytes: number; capacityBytes: number } }, incomingBytes: number, threshold = 0.8): Promise<void> {
  const s = store.stats();
  if (s.usedBytes + incomingBytes <= threshold * s.capacityBytes) return;
  const now = performance.now();
  if (now - lastForcedGc < 50) return;
  lastForcedGc = now;
  collector()();
  // FinalizationRegistry callbacks run as separate tasks after the collection.
  await tick(1);
}

/** Runs `f`; on ObjectStoreFullError collects garbage (letting pins of dead values go) and retries. */
export async function withStoreRoom<T>(f: () => T | Promise<T>, attempts = 3): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await f();
    } catch (e) {
      if (!(isRayError(e) && e.code === 'OBJECT_STORE_FULL') || i >= attempts - 1) throw e;
      collector()();
      await tick(5 + 20 * i);
    }
  }
}
