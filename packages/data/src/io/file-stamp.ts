/** A file's identity for caches of what was read from it: its size and modification time. */
import { statSync } from 'node:fs';

/** `size:mtimeMs` of `path`, or undefined when it cannot be stat'ed (then nothing is cached for it). */
export function stampOf(path: string): string | undefined {
  try {
    const st = statSync(path);
    return `${st.size}:${st.mtimeMs}`;
  } catch {
    return undefined;
  }
}
