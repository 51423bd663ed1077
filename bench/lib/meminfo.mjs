/** MemAvailable and MemTotal from /proc/meminfo, for the benches' memory guards. */
import { readFileSync } from 'node:fs';

/** MemAvailable and MemTotal in bytes (undefined where there is no /proc/meminfo). */
export function memInfo() {
  try {
    const t = readFileSync('/proc/meminfo', 'utf8');
    const kb = (k) => Number(t.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm'))?.[1]) * 1024;
    const available = kb('MemAvailable');
    const total = kb('MemTotal');
    return Number.isFinite(available) && Number.isFinite(total) ? { available, total } : undefined;
  } catch {
    return undefined;
  }
}
