import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SharedObjectStore, type ObjectStoreOptions } from '../src/index.js';

const MiB = 1024 * 1024;
export { MiB };

/** A store in a fresh spill dir; `cleanup()` closes it and removes the dir. */
export function makeStore(opts: Partial<ObjectStoreOptions> = {}): { store: SharedObjectStore; spillDir: string; cleanup(): void } {
  const root = mkdtempSync(join(tmpdir(), 'rayts-os-test-'));
  const spillDir = join(root, 'spill');
  const store = new SharedObjectStore({ capacityBytes: 16 * MiB, spillDir, ...opts });
  return {
    store,
    spillDir,
    cleanup() {
      store.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Bytes whose content depends on `seed` and position. */
export function pattern(sizeBytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(sizeBytes);
  const words = new Uint32Array(out.buffer, 0, Math.floor(sizeBytes / 4));
  for (let i = 0; i < words.length; i++) words[i] = (i * 2654435761 + seed * 40503) >>> 0;
  for (let i = words.length * 4; i < sizeBytes; i++) out[i] = (i + seed) & 0xff;
  return out;
}
