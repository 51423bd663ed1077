/**
 * ActorPool (issue 11 point 2) through the public API on the embedded cluster: input order and finish
 * order, at most one call per actor (or `maxInFlightPerActor`), submit/getNext/getNextUnordered with
 * timeouts, errors at their item, pushActor/popIdle, and a pool used inside an actor. Nothing here waits
 * on timing: calls block on a Gate actor that the test opens once it has seen what it needs.
 * The CLI-cluster case is in core-cluster.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { init, shutdown, actor, get, ActorPool, GetTimeoutError, InvalidArgumentError, TaskError, type ActorHandle } from '@samsara/ray';
import { until } from './helpers/cli-cluster.js';

/** Calls wait on `wait()` until `open()`; counts finished calls (a finish order). */
class Gate {
  private release!: () => void;
  private readonly opened = new Promise<void>((r) => (this.release = r));
  started = 0;
  finished = 0;
  async wait() {
    this.started++;
    await this.opened;
    return true;
  }
  open() {
    this.release();
  }
  finish() {
    return ++this.finished;
  }
  counts() {
    return { started: this.started, finished: this.finished };
  }
}
const GateActor = actor(Gate);

class Worker {
  active = 0;
  maxActive = 0;
  /** Blocks on the gate when `block` says so; throws for 'boom'. */
  async run(x: number | string, gate: ActorHandle<Gate>, block: boolean) {
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      if (block) await get(gate.wait.remote());
      if (x === 'boom') throw new Error(`bad input ${x}`);
      const order = await get(gate.finish.remote());
      return { x, order, maxActive: this.maxActive };
    } finally {
      this.active--;
    }
  }
  double(x: number) {
    if (x < 0) throw new RangeError(`negative: ${x}`);
    return 2 * x;
  }
}
const WorkerActor = actor(Worker);
type W = ActorHandle<Worker>;

/** Inside an actor: maps over a pool of the handles it was given (the Serve controller's pattern). */
class Fanout {
  async doubleAll(workers: W[], xs: number[]) {
    const pool = new ActorPool(workers);
    const out: number[] = [];
    for await (const y of pool.map((w, x: number) => w.double.remote(x), xs)) out.push(y);
    return out;
  }
}
const FanoutActor = actor(Fanout);

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of it) out.push(v);
  return out;
}

let workers: W[];

beforeAll(async () => {
  await init({ numCpus: 4 });
  workers = [WorkerActor.options({ maxConcurrency: 4 }).remote(), WorkerActor.options({ maxConcurrency: 4 }).remote()];
  expect(await get(workers.map((w) => w.double.remote(1)))).toEqual([2, 2]);
});

afterAll(async () => {
  await shutdown();
});

describe('ActorPool', () => {
  it('ActorPool.map - yields in input order although the first call finishes last', async () => {
    const gate = GateActor.options({ maxConcurrency: 16 }).remote();
    const pool = new ActorPool(workers);
    const done = collect(pool.map((w, x: number) => w.run.remote(x, gate, x === 0), [0, 1, 2, 3]));
    // Calls 1-3 finish on the other actor while call 0 waits at the gate.
    await until(async () => (await get(gate.counts.remote())).finished === 3, 'three calls finished');
    await get(gate.open.remote());
    const out = await done;
    expect(out.map((r) => r.x)).toEqual([0, 1, 2, 3]);
    expect(out[0].order).toBe(4);
    expect(pool.hasNext()).toBe(false);
  });

  it('ActorPool.mapUnordered - yields as calls finish; an async iterable of values is read lazily', async () => {
    const gate = GateActor.options({ maxConcurrency: 16 }).remote();
    const pool = new ActorPool(workers);
    async function* values() {
      for (let i = 0; i < 4; i++) yield i;
    }
    const seen: number[] = [];
    for await (const r of pool.mapUnordered((w, x: number) => w.run.remote(x, gate, x === 0), values())) {
      seen.push(r.x as number);
      if (seen.length === 3) await get(gate.open.remote()); // 0 is held until the others came back
    }
    expect(seen.slice(0, 3).sort()).toEqual([1, 2, 3]);
    expect(seen[3]).toBe(0);
  });

  it('ActorPool - at most one call per actor by default; maxInFlightPerActor allows more', async () => {
    const fresh = (): W[] => [WorkerActor.options({ maxConcurrency: 4 }).remote(), WorkerActor.options({ maxConcurrency: 4 }).remote()];
    const gate1 = GateActor.options({ maxConcurrency: 16 }).remote();
    const one = new ActorPool(fresh());
    for (let i = 0; i < 4; i++) one.submit((w, x: number) => w.run.remote(x, gate1, true), i);
    await until(async () => (await get(gate1.counts.remote())).started === 2, 'one call started per actor');
    expect(one.hasFree()).toBe(false);
    await get(gate1.open.remote());
    const r1 = [await one.getNext<{ maxActive: number }>(), await one.getNext<{ maxActive: number }>(), await one.getNextUnordered<{ maxActive: number }>(), await one.getNextUnordered<{ maxActive: number }>()];
    expect(Math.max(...r1.map((r) => r.maxActive))).toBe(1);

    const gate2 = GateActor.options({ maxConcurrency: 16 }).remote();
    const two = new ActorPool(fresh(), { maxInFlightPerActor: 2 });
    for (let i = 0; i < 4; i++) two.submit((w, x: number) => w.run.remote(x, gate2, true), i);
    // All four start at once: only possible with two calls on each actor.
    await until(async () => (await get(gate2.counts.remote())).started === 4, 'two calls started per actor');
    await get(gate2.open.remote());
    const r2: { maxActive: number }[] = [];
    while (two.hasNext()) r2.push(await two.getNext());
    expect(r2.map((r) => r.maxActive)).toEqual([2, 2, 2, 2]);
  });

  it('ActorPool - submit/getNext in order; a timeout leaves the item next; getNextUnordered; nothing left is an error', async () => {
    const gate = GateActor.options({ maxConcurrency: 16 }).remote();
    const pool = new ActorPool(workers);
    expect(pool.hasNext()).toBe(false);
    for (const x of [10, 11, 12]) pool.submit((w, v: number) => w.run.remote(v, gate, true), x);
    expect(pool.hasNext()).toBe(true);
    const t = await pool.getNext({ timeoutMs: 50 }).catch((e: unknown) => e);
    expect(t).toBeInstanceOf(GetTimeoutError);
    expect((t as Error).message).toContain('not ready after 50 ms');
    await expect(pool.getNextUnordered({ timeoutMs: 20 })).rejects.toThrow(GetTimeoutError);
    await get(gate.open.remote());
    expect((await pool.getNext<{ x: number }>()).x).toBe(10);
    const rest = [(await pool.getNextUnordered<{ x: number }>()).x, (await pool.getNextUnordered<{ x: number }>()).x];
    expect(rest.sort()).toEqual([11, 12]);
    expect(pool.hasNext()).toBe(false);
    await expect(pool.getNext()).rejects.toThrow(InvalidArgumentError);
    await expect(pool.getNext()).rejects.toThrow('no submitted result is left to get');
  });

  it('ActorPool - a failed call throws at its item; the pool keeps working', async () => {
    const pool = new ActorPool(workers);
    const got: number[] = [];
    const err = await (async () => {
      for await (const y of pool.map((w, x: number) => w.double.remote(x), [1, 2, -3, 4, 5])) got.push(y);
    })().catch((e: unknown) => e);
    expect(got).toEqual([2, 4]);
    expect(err).toBeInstanceOf(TaskError);
    expect((err as Error).message).toContain('negative: -3');
    // The items after the failure were dropped with the loop; the pool and its actors go on.
    expect(pool.hasNext()).toBe(false);
    expect(await collect(pool.map((w, x: number) => w.double.remote(x), [6, 7]))).toEqual([12, 14]);
    pool.submit((w, x: number) => w.double.remote(x), -1);
    pool.submit((w, x: number) => w.double.remote(x), 8);
    pool.submit(() => 'not a ref' as never, 0);
    await expect(pool.getNext()).rejects.toThrow(/negative: -1/);
    expect(await pool.getNext()).toBe(16);
    await expect(pool.getNext()).rejects.toThrow('fn must return the ObjectRef of an actor call');
  });

  it('ActorPool - popIdle takes an idle actor out; calls queue until pushActor brings one back', async () => {
    const gate = GateActor.options({ maxConcurrency: 16 }).remote();
    const [a, b] = workers;
    const pool = new ActorPool([a]);
    pool.submit((w, x: number) => w.run.remote(x, gate, true), 1);
    expect(pool.popIdle()).toBeUndefined(); // its only actor is busy
    await get(gate.open.remote());
    expect((await pool.getNext<{ x: number }>()).x).toBe(1);
    expect(pool.popIdle()).toBe(a);
    expect(pool.size).toBe(0);
    pool.submit((w, x: number) => w.double.remote(x), 21);
    await expect(pool.getNext()).rejects.toThrow('1 call(s) wait in the pool, which has no actors');
    pool.pushActor(b);
    expect(await pool.getNext()).toBe(42);
    expect(() => pool.pushActor(b)).toThrow('this actor is already in the pool');
  });

  it('ActorPool - bad arguments are InvalidArgumentError', () => {
    expect(() => new ActorPool(workers, { maxInFlightPerActor: 0 })).toThrow('maxInFlightPerActor must be an integer ≥ 1, got 0');
    expect(() => new ActorPool(workers, { maxInflight: 2 } as never)).toThrow(InvalidArgumentError);
    expect(() => new ActorPool([workers[0], workers[0]])).toThrow('already in the pool');
    expect(() => new ActorPool(workers).map('x' as never, [1])).toThrow('fn must be a function');
    expect(() => new ActorPool(workers).map((w: W, x: number) => w.double.remote(x), 5 as never)).toThrow('values must be an array or an (async) iterable');
  });

  it('ActorPool - works inside an actor over handles passed to it', async () => {
    const f = FanoutActor.remote();
    expect(await get(f.doubleAll.remote(workers, [1, 2, 3, 4, 5]))).toEqual([2, 4, 6, 8, 10]);
  });
});
