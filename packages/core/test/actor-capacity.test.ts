import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActorThreadCapacity, MAPS_HEADROOM, MAPS_PER_THREAD_ESTIMATE, actorThreadRefusal } from '../src/node/actor-capacity.js';
import { actorBootConcurrency, actorResourceLimits, actorThreadEnv } from '../src/node/actor-host.js';

function files(maps: number, maxMaps: number, usedFraction: number) {
  const dir = mkdtempSync(join(tmpdir(), 'rayts-capacity-'));
  const paths = { mapsPath: join(dir, 'maps'), maxMapCountPath: join(dir, 'max_map_count'), meminfoPath: join(dir, 'meminfo') };
  writeFileSync(paths.mapsPath, 'x\n'.repeat(maps));
  writeFileSync(paths.maxMapCountPath, `${maxMaps}\n`);
  writeFileSync(paths.meminfoPath, `MemTotal: 1000 kB\nMemAvailable: ${Math.round(1000 * (1 - usedFraction))} kB\n`);
  return paths;
}

describe('ActorThreadCapacity', () => {
  it('actorThreadRefusal - refuses near vm.max_map_count and above the memory threshold, says why', () => {
    const base = { memoryThreshold: 0.95, actors: 700 };
    expect(actorThreadRefusal({ ...base, maps: 10_000, maxMaps: 65_530, memoryUsage: 0.5 })).toBeUndefined();
    const near = 65_530 - MAPS_HEADROOM - MAPS_PER_THREAD_ESTIMATE + 1;
    expect(actorThreadRefusal({ ...base, maps: near, maxMaps: 65_530, memoryUsage: 0.5 })).toMatch(/memory mappings with 700 actor threads; Linux allows 65530 \(vm\.max_map_count\)/);
    expect(actorThreadRefusal({ ...base, maps: 10_000, maxMaps: 65_530, memoryUsage: 0.96 })).toMatch(/host memory is 96% used \(RAYTS_MEMORY_THRESHOLD 0\.95\)/);
    expect(actorThreadRefusal({ ...base, memoryUsage: undefined })).toBeUndefined();
  });

  it('ActorThreadCapacity - counts mappings, estimates between counts, recounts near the cap and refuses', () => {
    const max = 10_000;
    const f = files(max - MAPS_HEADROOM - 3 * MAPS_PER_THREAD_ESTIMATE, max, 0.1);
    const cap = new ActorThreadCapacity(f);
    expect(cap.refusal(1)).toBeUndefined();
    cap.started();
    expect(cap.refusal(2)).toBeUndefined();
    cap.started();
    // Meanwhile the threads really grew the process's mappings: the recount near the cap sees it.
    writeFileSync(f.mapsPath, 'x\n'.repeat(max - MAPS_HEADROOM - MAPS_PER_THREAD_ESTIMATE + 1));
    expect(cap.refusal(3)).toBeUndefined(); // estimate (count + 2 threads) still leaves room for one
    cap.started();
    expect(cap.refusal(4)).toMatch(/has 5881 memory mappings with 4 actor threads; Linux allows 10000 \(vm\.max_map_count\)/);
  });

  it('ActorThreadCapacity - refuses when host memory is above the threshold', () => {
    expect(new ActorThreadCapacity(files(100, 65_530, 0.97)).refusal(5)).toMatch(/host memory is 97% used/);
    expect(new ActorThreadCapacity({ ...files(100, 65_530, 0.97), memoryThreshold: 1 }).refusal(5)).toBeUndefined();
  });

  it('actor threads - young generation capped (RAYTS_ACTOR_YOUNG_GEN_MB), msgpackr native extractor off unless set, boots at a time (RAYTS_ACTOR_BOOTS)', () => {
    expect(actorResourceLimits({})).toEqual({ maxOldGenerationSizeMb: 2048, maxYoungGenerationSizeMb: 16 });
    expect(actorResourceLimits({ RAYTS_ACTOR_YOUNG_GEN_MB: '0', RAYTS_WORKER_HEAP_MB: '512' })).toEqual({ maxOldGenerationSizeMb: 512 });
    expect(actorThreadEnv({ A: '1' })).toEqual({ A: '1', MSGPACKR_NATIVE_ACCELERATION_DISABLED: 'true' });
    expect(actorThreadEnv({ MSGPACKR_NATIVE_ACCELERATION_DISABLED: 'false' })).toEqual({ MSGPACKR_NATIVE_ACCELERATION_DISABLED: 'false' });
    expect(actorBootConcurrency({ RAYTS_ACTOR_BOOTS: '3' })).toBe(3);
    expect(actorBootConcurrency({ RAYTS_ACTOR_BOOTS: 'x' })).toBeGreaterThanOrEqual(2);
  });
});
