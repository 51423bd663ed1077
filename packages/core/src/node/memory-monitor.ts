/**
 * MemoryMonitor: keeps a node from running the host out of memory. Every `periodMs` it reads host
 * memory use (MemAvailable of /proc/meminfo); above `threshold` (default 0.95, as in Ray) it asks the
 * node to kill its newest retriable task, which the owner then retries with backoff. One kill per
 * period, so memory has time to come back.
 *
 * Configuration: RAYTS_MEMORY_THRESHOLD (0–1, 1 disables), RAYTS_MEMORY_MONITOR_MS, RAYTS_MEMINFO_PATH.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from '@samsara/ray-common';

export interface MemoryMonitorOptions {
  readonly threshold: number;
  readonly periodMs: number;
  readonly meminfoPath: string;
  /** Kills the newest retriable task; returns its id, or undefined when there is none. */
  readonly killNewest: (usage: number) => string | undefined;
  readonly log: Logger;
}

/** Fraction of host memory in use, from a meminfo file; undefined if it cannot be read. */
export function readMemoryUsage(path: string): number | undefined {
  try {
    const text = readFileSync(path, 'utf8');
    const total = Number(/MemTotal:\s+(\d+)/.exec(text)?.[1]);
    const avail = Number(/MemAvailable:\s+(\d+)/.exec(text)?.[1]);
    if (!total || !Number.isFinite(avail)) return undefined;
    return 1 - avail / total;
  } catch {
    return undefined;
  }
}

export function memoryMonitorOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): Pick<MemoryMonitorOptions, 'threshold' | 'periodMs' | 'meminfoPath'> {
  const threshold = Number(env.RAYTS_MEMORY_THRESHOLD ?? 0.95);
  const periodMs = Number(env.RAYTS_MEMORY_MONITOR_MS ?? 1000);
  return {
    threshold: Number.isFinite(threshold) && threshold > 0 ? threshold : 0.95,
    periodMs: Number.isFinite(periodMs) && periodMs >= 50 ? periodMs : 1000,
    meminfoPath: env.RAYTS_MEMINFO_PATH ?? '/proc/meminfo',
  };
}

export class MemoryMonitor {
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: MemoryMonitorOptions) {
    if (o.threshold >= 1) return;
    this.timer = setInterval(() => this.check(), o.periodMs);
    this.timer.unref();
  }

  check(): void {
    const usage = readMemoryUsage(this.o.meminfoPath);
    if (usage === undefined || usage < this.o.threshold) return;
    const killed = this.o.killNewest(usage);
    if (killed) this.o.log.warn({ taskId: killed, usage }, 'memory monitor killed the newest retriable task');
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
