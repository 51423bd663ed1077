/**
 * Streaming generators (issue 11.1): a remote generator function or actor generator method returns an
 * ObjectRefGenerator whose items arrive while the producer runs; backpressure, errors mid-stream,
 * cancel, early drop, large items, nested use, and (on a CLI cluster) across nodes and through a node
 * death with retry.
 */
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import {
  init,
  shutdown,
  remote,
  actor,
  get,
  free,
  cancel,
  getActor,
  nodes,
  objectStoreStats,
  runtimeContext,
  ObjectRefGenerator,
  TaskError,
  TaskCancelledError,
  InvalidArgumentError,
  type ObjectRef,
} from '@samsara/ray';
import { useCliCluster, until, isAlive } from './helpers/cli-cluster.js';

/** A side channel the tests read: how far a producer got, and whether its `finally` ran. */
const Progress = actor(
  class Progress {
    produced = 0;
    finished = false;
    opened = 0;
    private waiters: (() => void)[] = [];
    mark(n: number) {
      this.produced = n;
    }
    finish() {
      this.finished = true;
    }
    read() {
      return { produced: this.produced, finished: this.finished };
    }
    open(n: number) {
      this.opened = n;
      for (const w of this.waiters.splice(0)) w();
    }
    async waitOpen(n: number) {
      while (this.opened < n) await new Promise<void>((r) => this.waiters.push(r));
      return n;
    }
  },
  { maxConcurrency: 16 },
);

/** Yields 0 … n-1, marking each in `p` before yielding it; `finally` tells `p` it ran. */
const counted = remote(async function* (n: number, p: { mark: { remote(n: number): unknown }; finish: { remote(): unknown } }) {
  try {
    for (let i = 0; i < n; i++) {
      await get(p.mark.remote(i + 1) as never);
      yield i;
    }
  } finally {
    await get(p.finish.remote() as never);
  }
});

async function collect<T>(gen: AsyncIterable<ObjectRef<T>>): Promise<(T | Error)[]> {
  const out: (T | Error)[] = [];
  for await (const ref of gen) out.push(await get(ref).catch((e: Error) => e));
  return out;
}

describe('streaming generators (embedded cluster)', () => {
  beforeAll(async () => {
    await init({ numCpus: 2 });
  });
  afterAll(async () => {
    await shutdown();
  });

  it('remote generator - items arrive while the producer runs (it waits for the caller to see each one)', async () => {
    const gate = Progress.remote();
    const stepped = remote(async function* (n: number, g: typeof gate) {
      for (let i = 0; i < n; i++) {
        yield i * 10;
        // Goes on only once the caller read item i: deadlocks unless items stream.
        await get(g.waitOpen.remote(i + 1));
      }
    });
    const gen = stepped.remote(5, gate);
    expectTypeOf(gen).toEqualTypeOf<ObjectRefGenerator<number>>();
    expect(gen).toBeInstanceOf(ObjectRefGenerator);
    const seen: number[] = [];
    for await (const ref of gen) {
      seen.push(await get(ref));
      await get(gate.open.remote(seen.length));
    }
    expect(seen).toEqual([0, 10, 20, 30, 40]);
    expect(gen.done).toBe(true);
  });

  it('remote generator - a sync function* streams too; large items (> 100 KiB) are stored and read back', async () => {
    const frames = remote(function* (n: number) {
      for (let i = 0; i < n; i++) yield i % 2 ? new Uint8Array(300_000).fill(i) : { i };
    });
    const out = await collect(frames.remote(4));
    expect(out[0]).toEqual({ i: 0 });
    expect(out[1]).toBeInstanceOf(Uint8Array);
    expect((out[1] as Uint8Array).length).toBe(300_000);
    expect((out[3] as Uint8Array)[299_999]).toBe(3);
    expect(out[2]).toEqual({ i: 2 });
  });

  it('error mid-stream - the items before it, then one ref whose get rejects with the TaskError, then the end', async () => {
    const failing = remote(async function* () {
      yield 'a';
      yield 'b';
      throw new RangeError('sensor 7 went dark');
    });
    const out = await collect(failing.remote());
    expect(out.slice(0, 2)).toEqual(['a', 'b']);
    expect(out).toHaveLength(3);
    expect(out[2]).toBeInstanceOf(TaskError);
    expect((out[2] as Error).message).toMatch(/sensor 7 went dark/);
  });

  it('backpressure - with generatorBackpressure 3 the producer pauses 3 unconsumed items ahead; unbounded it runs on', async () => {
    const p = Progress.remote();
    const it = counted.options({ generatorBackpressure: 3 }).remote(20, p)[Symbol.asyncIterator]();
    await until(async () => (await get(p.read.remote())).produced === 3, 'the producer to reach 3 items');
    // Paused: however long we look, it stays at 3 while nothing is consumed.
    for (let i = 0; i < 10; i++) expect((await get(p.read.remote())).produced).toBe(3);
    const first = await it.next();
    expect(await get(first.value!)).toBe(0);
    await until(async () => (await get(p.read.remote())).produced === 4, 'the producer to go one item further');
    for (let i = 0; i < 10; i++) expect((await get(p.read.remote())).produced).toBe(4);
    const rest: number[] = [];
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(await get(r.value));
    expect(rest).toEqual(Array.from({ length: 19 }, (_, i) => i + 1));

    // The same producer without backpressure runs to the end with nothing consumed.
    const q = Progress.remote();
    const unbounded = counted.remote(20, q);
    await until(async () => (await get(q.read.remote())).finished, 'the unbounded producer to finish');
    expect((await get(q.read.remote())).produced).toBe(20);
    expect(await collect(unbounded)).toHaveLength(20);
  });

  it('options - generatorBackpressure must be an integer ≥ 1 or -1', () => {
    expect(() => counted.options({ generatorBackpressure: 0 })).toThrow(InvalidArgumentError);
    expect(() => counted.options({ generatorBackpressure: 1.5 })).toThrow(/generatorBackpressure must be an integer ≥ 1/);
    expect(() => counted.options({ generatorBackpressure: -1 })).not.toThrow();
  });

  it('cancel(gen) - stops a paused producer (its finally runs); arrived items stay readable, then TaskCancelledError', async () => {
    const p = Progress.remote();
    const gen = counted.options({ generatorBackpressure: 2 }).remote(1_000_000, p);
    const it = gen[Symbol.asyncIterator]();
    expect(await get((await it.next()).value!)).toBe(0);
    await until(async () => (await get(p.read.remote())).produced === 3, 'the producer to pause');
    await cancel(gen);
    await until(async () => (await get(p.read.remote())).finished, "the producer's finally block");
    const rest: unknown[] = [];
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(await get(r.value).catch((e: Error) => e));
    expect(rest.slice(0, -1)).toEqual([1, 2]);
    expect(rest[rest.length - 1]).toBeInstanceOf(TaskCancelledError);
    expect((await get(p.read.remote())).produced).toBe(3);
  });

  it('early drop - leaving for-await stops a running producer (finally runs) and frees the stored items not handed out', async () => {
    const before = (await objectStoreStats()).numObjects;
    const p = Progress.remote();
    const big = remote(async function* (pp: typeof p) {
      let i = 0;
      try {
        for (;;) {
          await get(pp.mark.remote(i + 1));
          yield new Float64Array(20_000).fill(i++);
        }
      } finally {
        await get(pp.finish.remote());
      }
    });
    const kept: ObjectRef<Float64Array>[] = [];
    for await (const ref of big.options({ generatorBackpressure: 4 }).remote(p)) {
      kept.push(ref);
      if (kept.length === 2) break;
    }
    await until(async () => (await get(p.read.remote())).finished, "the producer's finally block");
    expect((await get(kept[1]))[0]).toBe(1);
    // Only the two items handed out are still stored (the others were freed, arrived or not).
    await until(async () => (await objectStoreStats()).numObjects === before + 2, 'the items not handed out to be freed');
    await free(kept);
    await until(async () => (await objectStoreStats()).numObjects === before, 'the store to be back where it was');
  });

  it('actor generator method - streams items, keeps state; options() sets backpressure; getActor handles stream too', async () => {
    const Camera = actor(
      class Camera {
        frames = 0;
        async *capture(n: number) {
          for (let i = 0; i < n; i++) yield `frame-${++this.frames}`;
        }
        *burst(n: number) {
          for (let i = 0; i < n; i++) yield i;
        }
        count() {
          return this.frames;
        }
      },
    );
    const cam = Camera.options({ name: 'gen-camera' }).remote();
    const gen = cam.capture.remote(3);
    expectTypeOf(gen).toEqualTypeOf<ObjectRefGenerator<string>>();
    expect(await collect(gen)).toEqual(['frame-1', 'frame-2', 'frame-3']);
    expect(await collect(cam.burst.options({ generatorBackpressure: 1 }).remote(5))).toEqual([0, 1, 2, 3, 4]);
    const same = await getActor<InstanceType<typeof Camera.prototype.constructor>>('gen-camera');
    expect(await collect((same as unknown as typeof cam).capture.remote(2))).toEqual(['frame-4', 'frame-5']);
    expect(await get(cam.count.remote())).toBe(5);
  });

  it('actor generator method - backpressure pauses it, cancel stops it and the actor goes on', async () => {
    const p = Progress.remote();
    const Source = actor(
      class Source {
        async *read(pp: typeof p) {
          let i = 0;
          try {
            for (;;) {
              await get(pp.mark.remote(i + 1));
              yield i++;
            }
          } finally {
            await get(pp.finish.remote());
          }
        }
        ping() {
          return 'pong';
        }
      },
      { maxConcurrency: 2 },
    );
    const s = Source.remote();
    const gen = s.read.options({ generatorBackpressure: 2 }).remote(p);
    await until(async () => (await get(p.read.remote())).produced === 2, 'the actor producer to pause');
    for (let i = 0; i < 5; i++) expect((await get(p.read.remote())).produced).toBe(2);
    await cancel(gen);
    await until(async () => (await get(p.read.remote())).finished, "the actor producer's finally block");
    const out = await collect(gen);
    expect(out.slice(0, 2)).toEqual([0, 1]);
    expect(out[2]).toBeInstanceOf(TaskCancelledError);
    expect(await get(s.ping.remote())).toBe('pong');
  });

  it('nested - a task reads a generator it started', async () => {
    const outer = remote(async (n: number) => {
      const inner = remote(async function* (k: number) {
        for (let i = 1; i <= k; i++) yield i;
      });
      let sum = 0;
      for await (const ref of inner.remote(n)) sum += await get(ref);
      return sum;
    });
    expect(await get(outer.remote(10))).toBe(55);
  });
});

describe('streaming generators (CLI cluster: head + 2 worker nodes)', () => {
  useCliCluster({ numCpus: 1 }, [{ numCpus: 1 }, { numCpus: 1 }], { RAYTS_DEAD_AFTER_MS: '2500' });
  const workerNodes = async () => (await nodes()).filter((n) => n.alive && !n.isHead && isAlive(n.pid));

  it('across nodes - small and large items from a generator on a worker node, and from an actor there', async () => {
    const [w] = await workerNodes();
    const frames = remote(async function* (n: number) {
      for (let i = 0; i < n; i++) yield i === 2 ? new Uint8Array(250_000).fill(7) : i;
    });
    const out = await collect(frames.options({ scheduling: { nodeId: w.nodeId, soft: false } }).remote(5));
    expect(out.filter((_, i) => i !== 2)).toEqual([0, 1, 3, 4]);
    expect((out[2] as Uint8Array).length).toBe(250_000);
    expect((out[2] as Uint8Array)[0]).toBe(7);

    const Tail = actor(class Tail {
      async *lines(n: number) {
        for (let i = 0; i < n; i++) yield { line: i, pad: i === n - 1 ? 'x'.repeat(200_000) : '' };
      }
    });
    const t = Tail.options({ scheduling: { nodeId: w.nodeId, soft: false } }).remote();
    const lines = (await collect(t.lines.remote(4))) as { line: number; pad: string }[];
    expect(lines.map((l) => l.line)).toEqual([0, 1, 2, 3]);
    expect(lines[3].pad.length).toBe(200_000);
  });

  it('backpressure and early drop across nodes', async () => {
    const [w] = await workerNodes();
    const p = Progress.remote();
    const gen = counted.options({ generatorBackpressure: 2, scheduling: { nodeId: w.nodeId, soft: false } }).remote(1000, p);
    let n = 0;
    for await (const ref of gen) {
      expect(await get(ref)).toBe(n);
      if (++n === 5) break;
    }
    await until(async () => (await get(p.read.remote())).finished, "the remote producer's finally block");
    expect((await get(p.read.remote())).produced).toBeLessThanOrEqual(5 + 2);
  });

  it('node death - the producer is re-run elsewhere and the items already delivered are not delivered again', async () => {
    const [victim] = await workerNodes();
    const stream = remote(async function* (n: number, victimId: string) {
      for (let i = 0; i < n; i++) {
        // On the victim it stalls after 5 items (until the node is killed); elsewhere it runs through.
        if (i === 5 && runtimeContext().nodeId === victimId) await new Promise(() => undefined);
        yield i;
      }
    });
    const it = stream.options({ scheduling: { nodeId: victim.nodeId, soft: true }, maxRetries: 2 }).remote(12, victim.nodeId)[Symbol.asyncIterator]();
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) seen.push(await get((await it.next()).value!));
    process.kill(victim.pid, 'SIGKILL');
    for (let r = await it.next(); !r.done; r = await it.next()) seen.push(await get(r.value));
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });
});
