/**
 * ActorThreadCapacity: whether this process can start one more actor thread without the kernel or the
 * host taking the whole node down. Responsible for the two limits a thread-per-actor node runs into
 * first; not for placing the actor elsewhere (the creator sees the refusal as ActorDiedError).
 *
 * - **Memory mappings.** Every V8 isolate maps its heap in many small regions (~50 per idle actor
 *   thread, more once its heap grows), and Linux caps mappings per process at `vm.max_map_count`
 *   (65,530 by default). At the cap an isolate cannot grow its heap and V8 aborts the *process* ("heap out
 *   of memory" in NewSpace): with threads of ~85 mappings that happened at ~760 actors in one process.
 * - **Host memory.** Above `RAYTS_MEMORY_THRESHOLD` (default 0.95, as the task memory monitor) no new
 *   actor thread is started.
 *
 * Reading /proc/self/maps costs a few ms at tens of thousands of lines, so the count is refreshed every
 * 16 creations (or when the estimate comes near the cap) and estimated in between.
 */
import { readFileSync } from 'node:fs';
import { memoryMonitorOptionsFromEnv, readMemoryUsage } from './memory-monitor.js';

/** Mappings assumed per new thread between two exact counts (an idle actor thread has ~50). */
export const MAPS_PER_THREAD_ESTIMATE = 120;
/** Mappings kept free for the rest of the process (task threads, heap growth of existing actors). */
export const MAPS_HEADROOM = 4_000;

function readNumber(path: string): number | undefined {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isFinite(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function countMaps(path: string): number | undefined {
  try {
    const text = readFileSync(path, 'utf8');
    let n = 0;
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
    return n;
  } catch {
    return undefined;
  }
}

/** Pure decision: why another thread must not start, or undefined. */
export function actorThreadRefusal(s: { maps?: number; maxMaps?: number; memoryUsage?: number; memoryThreshold: number; actors: number }): string | undefined {
  if (s.maps !== undefined && s.maxMaps !== undefined && s.maps + MAPS_PER_THREAD_ESTIMATE > s.maxMaps - MAPS_HEADROOM) {
    return `this node's process has ${s.maps} memory mappings with ${s.actors} actor threads; Linux allows ${s.maxMaps} (vm.max_map_count) and reaching it aborts the whole node, so ${MAPS_HEADROOM} are kept free`;
  }
  if (s.memoryUsage !== undefined && s.memoryUsage >= s.memoryThreshold) {
    return `host memory is ${Math.round(s.memoryUsage * 100)}% used (RAYTS_MEMORY_THRESHOLD ${s.memoryThreshold}) with ${s.actors} actor threads on this node`;
  }
  return undefined;
}

export interface ActorThreadCapacityOptions {
  readonly mapsPath?: string;
  readonly maxMapCountPath?: string;
  readonly meminfoPath?: string;
  readonly memoryThreshold?: number;
}

export class ActorThreadCapacity {
  private readonly mapsPath: string;
  private readonly maxMaps: number | undefined;
  private readonly meminfoPath: string;
  private readonly memoryThreshold: number;
  private maps: number | undefined;
  private startedSinceCount = Infinity;

  constructor(o: ActorThreadCapacityOptions = {}, env: NodeJS.ProcessEnv = process.env) {
    const mem = memoryMonitorOptionsFromEnv(env);
    this.mapsPath = o.mapsPath ?? '/proc/self/maps';
    this.maxMaps = readNumber(o.maxMapCountPath ?? '/proc/sys/vm/max_map_count');
    this.meminfoPath = o.meminfoPath ?? mem.meminfoPath;
    this.memoryThreshold = o.memoryThreshold ?? mem.threshold;
  }

  /** Why one more actor thread must not start now (with `actors` hosted), or undefined. */
  refusal(actors: number): string | undefined {
    if (this.maxMaps !== undefined) {
      const estimate = this.maps === undefined ? undefined : this.maps + this.startedSinceCount * MAPS_PER_THREAD_ESTIMATE;
      if (estimate === undefined || this.startedSinceCount >= 16 || estimate + MAPS_PER_THREAD_ESTIMATE > this.maxMaps - MAPS_HEADROOM) {
        this.maps = countMaps(this.mapsPath);
        this.startedSinceCount = 0;
      }
    }
    const maps = this.maps === undefined ? undefined : this.maps + this.startedSinceCount * MAPS_PER_THREAD_ESTIMATE;
    return actorThreadRefusal({
      maps,
      maxMaps: this.maxMaps,
      memoryUsage: this.memoryThreshold < 1 ? readMemoryUsage(this.meminfoPath) : undefined,
      memoryThreshold: this.memoryThreshold,
      actors,
    });
  }

  /** A thread was started (the estimate grows until the next exact count). */
  started(): void {
    this.startedSinceCount++;
  }
}
