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
