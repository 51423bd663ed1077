/**
 * Actors that start fast (issue 11.10): nodes keep actor threads booted ahead, so a new actor lands on a
 * thread that started before it was asked for. When a worker thread's Node environment was created
 * (`timeOrigin` + `nodeTiming.environment`, per thread) makes this observable without timing anything:
 * a thread started for the creation would have a later one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actor, cancel, get, init, kill, shutdown, TaskCancelledError } from '@samsara/ray';

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
          // In a worker thread, nodeTiming.environment is when this thread's Node environment was made.
          return performance.timeOrigin + performance.nodeTiming.environment;
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

  it('calls behind a creation - calls made right after creating an actor whose creation waits for CPUs run once it is built, in order; one cancelled meanwhile never runs', async () => {
    const Hog = actor(class Hog { ping() { return 'hog'; } }, { numCpus: 2 });
    const Log = actor(
      class Log {
        seen: number[] = [];
        add(i: number) {
          this.seen.push(i);
          return this.seen.length;
        }
        all() {
          return this.seen;
        }
      },
      { numCpus: 1 },
    );
    const hog = Hog.remote();
    expect(await get(hog.ping.remote())).toBe('hog');
    // Both CPUs are held: the creation of `log` waits on the node, and these calls go right behind it.
    const log = Log.remote();
    const refs = [1, 2, 3, 4, 5].map((i) => log.add.remote(i));
    await cancel(refs[2]);
    await kill(hog);
    expect(await get(refs[0])).toBe(1);
    expect(await get(refs[1])).toBe(2);
    await expect(get(refs[2])).rejects.toBeInstanceOf(TaskCancelledError);
    expect(await get(refs[3])).toBe(3);
    expect(await get(refs[4])).toBe(4);
    expect(await get(log.all.remote())).toEqual([1, 2, 4, 5]);
    await kill(log);
  });
});
