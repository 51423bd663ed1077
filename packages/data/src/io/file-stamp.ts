/** A file's identity for caches of what was read from it: its size and modification time. */
import { statSync } from 'node:fs';

/** Puts `key` in `cache`, first dropping the oldest entry when a new key would exceed `max` entries. */
export function rememberBounded<K, V>(cache: Map<K, V>, key: K, value: V, max: number): void {
  if (!cache.has(key) && cache.size >= max) cache.delete(cache.keys().next().value!);
  cache.set(key, value);
}

/** Values read from files, each kept with the file's stamp (a changed file misses); at most `max` files. */
export class StampedCache<V> {
  private readonly entries = new Map<string, { stamp: string; value: V }>();
  constructor(private readonly max: number) {}

  /** What was remembered for `path` when its stamp is still `stamp`. */
  get(path: string, stamp: string | undefined): V | undefined {
    const hit = stamp === undefined ? undefined : this.entries.get(path);
    return hit && hit.stamp === stamp ? hit.value : undefined;
  }

  /** Remembers `value` for `path` at `stamp` (nothing when the file could not be stat'ed). */
  set(path: string, stamp: string | undefined, value: V): void {
    if (stamp !== undefined) rememberBounded(this.entries, path, { stamp, value }, this.max);
  }
}

/** `size:mtimeMs` of `path`, or undefined when it cannot be stat'ed (then nothing is cached for it). */
export function stampOf(path: string): string | undefined {
  try {
    const st = statSync(path);
    return `${st.size}:${st.mtimeMs}`;
  } catch {
    return undefined;
  }
}
