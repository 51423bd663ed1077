/**
 * Actors that start fast (issue 11.10): nodes keep actor threads booted ahead, so a new actor lands on a
 * thread that started before it was asked for. When a worker thread finished
 * booting (`timeOrigin` + `nodeTiming.bootstrapComplete`), which makes this
 * observable without timing anything.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actor, get, init, kill, shutdown } from '@samsara/ray';

describe('warm actor threads (embedded)', () => {
  beforeAll(async () => {
    await init({ numCpus: 2 });
  });
  afterAll(async () => {
    await shutdown();
  });

  it('warm actors - new actors start on threads booted before they were created, and warm threads are refilled', async () => {
    const Probe = actor(
      class Probe {
        born() {
          // In a worker thread, nodeTiming.bootstrapComplete is when this thread finished booting.
          return performance.timeOrigin + performance.nodeTiming.bootstrapComplete;
        }
        add(a: number, b: number) {
          return a + b;
        }
      },
    );
    for (let round = 0; round < 3; round++) {
      const asked = performance.timeOrigin + performance.now();
      const a = Probe.remote();
      expect(await get(a.add.remote(2, round))).toBe(2 + round);
      expect(await get(a.born.remote())).toBeLessThan(asked);
      await kill(a);
    }
  });
});
