/**
 * ActorPool (Ray's `ray.util.ActorPool`): spreads calls over a fixed set of actors with bounded work
 * per actor, and hands results back in submission order or as they finish.
 *
 * Responsible for which actor runs which call (the least loaded actor with room; calls wait in the
 * pool's queue while every actor is at `maxInFlightPerActor`), and for the order results are taken in.
 * Not responsible for the actors' lifetime: the pool never creates, restarts or kills them.
 *
 * `fn(actor, value)` makes the call and returns its ObjectRef (`(a, v) => a.infer.remote(v)`). A call
 * that fails (the method threw, the actor died, or `fn` itself threw) fails only its own item: the
 * error is thrown where that item is taken (`getNext`, or the loop over `map`), and the actor goes back
 * to the pool. Completion is watched with `wait`, so values are fetched only when taken.
 *
 * @example
 * const pool = new ActorPool([Model.remote(), Model.remote()]);
 * for await (const y of pool.map((a, x) => a.infer.remote(x), [1, 2, 3, 4])) console.log(y);   // input order
 * pool.submit((a, x) => a.infer.remote(x), 5);
 * while (pool.hasNext()) console.log(await pool.getNextUnordered());
 */
import { GetTimeoutError, InvalidArgumentError, ObjectRef, describe } from '@samsara/ray-common';
import { get, wait } from './objects-api.js';
import { checkKnownKeys } from './options.js';

/** Options of {@link ActorPool}. */
export interface ActorPoolOptions {
  /**
   * How many calls one actor runs at once [1, as in Ray]. Raise it for actors whose methods are async
   * and overlap (an actor created with `maxConcurrency` > 1); extra calls wait in the pool, not at the actor.
   */
  maxInFlightPerActor?: number;
}

/** Options of {@link ActorPool.getNext} and {@link ActorPool.getNextUnordered}. */
export interface ActorPoolGetOptions {
  /** Give up after this long with GetTimeoutError; the item stays in the pool [wait forever]. */
  timeoutMs?: number;
}

/** Makes one call on `actor` for `value` and returns the call's ObjectRef. */
export type ActorPoolFn<A, V, R> = (actor: A, value: V) => ObjectRef<R>;

interface Item {
  readonly index: number;
  readonly fn: ActorPoolFn<unknown, unknown, unknown>;
  readonly value: unknown;
  actor?: unknown;
  ref?: ObjectRef;
  /** `fn` threw instead of returning a ref. */
  error?: unknown;
  done: boolean;
  /** Resolves when the call finished (or failed). */
  readonly finished: Promise<void>;
  readonly finish: () => void;
  /** Taken by a getter (or dropped by a map that ended early): no longer a result of the pool. */
  taken: boolean;
  /** Belongs to a map()/mapUnordered() loop, not to submit(). */
  readonly private: boolean;
}

type Waiter = { resolve: (it: Item) => void; reject: (e: unknown) => void; timer?: NodeJS.Timeout };

const POOL_OPTIONS = ['maxInFlightPerActor'] as const;

export class ActorPool<A = unknown> {
  private readonly maxInFlight: number;
  /** Actors in the pool and the calls each runs now. */
  private readonly load = new Map<A, number>();
  /** Submitted calls not yet given to an actor, oldest first. */
  private readonly queue: Item[] = [];
  /** submit() items not yet taken, in submission order (taken ones are pruned lazily). */
  private readonly submitted: Item[] = [];
  /** getNextUnordered() callers waiting for a call to finish. */
  private readonly unorderedWaiters: Waiter[] = [];
  private nextIndex = 0;

  /**
   * @param actors the actor handles to spread calls over (at least one, each once).
   * @throws InvalidArgumentError for an unknown option, a bad `maxInFlightPerActor`, or a repeated actor.
   */
  constructor(actors: Iterable<A>, options: ActorPoolOptions = {}) {
    checkKnownKeys(options, POOL_OPTIONS, 'new ActorPool()');
    const m = options.maxInFlightPerActor ?? 1;
    if (!Number.isInteger(m) || m < 1) {
      throw new InvalidArgumentError(`new ActorPool(): maxInFlightPerActor must be an integer ≥ 1, got ${describe(options.maxInFlightPerActor)}.`);
    }
    this.maxInFlight = m;
    if (actors === null || typeof (actors as Iterable<A>)?.[Symbol.iterator] !== 'function') {
      throw new InvalidArgumentError(`new ActorPool() takes an array of actor handles, got ${describe(actors)}.`);
    }
    for (const a of actors) this.add(a, 'new ActorPool()');
  }

  /** Number of actors in the pool. */
  get size(): number {
    return this.load.size;
  }

  /**
   * Schedules `fn(actor, value)` on an actor with room now, or as soon as one has room. Its result is
   * taken with getNext() (in submission order) or getNextUnordered().
   */
  submit<V, R>(fn: ActorPoolFn<A, V, R>, value: V): void {
    const it = this.enqueue(fn as ActorPoolFn<A, unknown, unknown>, value, false);
    this.submitted.push(it);
  }

  /** True while a submitted result has not been taken (running, queued, or finished). */
  hasNext(): boolean {
    this.prune();
    return this.submitted.length > 0;
  }

  /** True when an actor has room and no call waits in the pool's queue. */
  hasFree(): boolean {
    return this.queue.length === 0 && [...this.load.values()].some((n) => n < this.maxInFlight);
  }

  /**
   * The result of the oldest submitted call not yet taken (waits for it). Rejects with the call's error
   * (the item is then taken), with GetTimeoutError after `timeoutMs` (the item stays next), or with
   * InvalidArgumentError when there is nothing to get.
   */
  async getNext<R = unknown>(opts: ActorPoolGetOptions = {}): Promise<R> {
    const timeoutMs = this.checkGetOptions(opts, 'getNext()');
    this.prune();
    const it = this.submitted.find((i) => !i.taken);
    if (!it) throw this.nothingToGet('getNext()');
    this.checkRunnable('getNext()');
    it.taken = true;
    if (!it.done) {
      const ok = await within(it.finished, timeoutMs);
      if (!ok) {
        it.taken = false;
        throw new GetTimeoutError(`ActorPool.getNext(): the next result (call #${it.index}) is not ready after ${timeoutMs} ms.`, {
          hint: 'It stays the next result: call getNext() again, or raise timeoutMs.',
        });
      }
    }
    return (await this.valueOf(it)) as R;
  }

  /**
   * The result of whichever submitted call finishes first (one already finished if any). Rejects like
   * {@link getNext}; after a timeout nothing is taken.
   */
  async getNextUnordered<R = unknown>(opts: ActorPoolGetOptions = {}): Promise<R> {
    const timeoutMs = this.checkGetOptions(opts, 'getNextUnordered()');
    this.prune();
    if (!this.submitted.some((i) => !i.taken)) throw this.nothingToGet('getNextUnordered()');
    this.checkRunnable('getNextUnordered()');
    const ready = this.submitted.find((i) => !i.taken && i.done);
    if (ready) {
      ready.taken = true;
      return (await this.valueOf(ready)) as R;
    }
    const it = await new Promise<Item>((resolve, reject) => {
      const w: Waiter = { resolve, reject };
      if (timeoutMs !== undefined) {
        w.timer = setTimeout(() => {
          this.unorderedWaiters.splice(this.unorderedWaiters.indexOf(w), 1);
          reject(
            new GetTimeoutError(`ActorPool.getNextUnordered(): no call finished within ${timeoutMs} ms.`, {
              hint: 'Nothing was taken: call getNextUnordered() again, or raise timeoutMs.',
            }),
          );
        }, timeoutMs);
      }
      this.unorderedWaiters.push(w);
    });
    return (await this.valueOf(it)) as R;
  }

  /**
   * Runs `fn(actor, value)` for every value and yields the results in input order. Values are read as
   * actors get room (an async iterable is consumed lazily; results that finished behind a slow first
   * one are held as refs, not fetched); a failed call throws at its item. Leaving
   * the loop early drops the remaining results (calls already running finish; queued ones never run).
   * Results of earlier submit() calls are left for getNext().
   */
  map<V, R>(fn: ActorPoolFn<A, V, R>, values: Iterable<V> | AsyncIterable<V>): AsyncIterableIterator<R> {
    return this.run(checkFn(fn) as ActorPoolFn<A, unknown, unknown>, iteratorOf(values, 'map()'), true) as AsyncIterableIterator<R>;
  }

  /** Like {@link map}, but yields each result as soon as its call finishes. */
  mapUnordered<V, R>(fn: ActorPoolFn<A, V, R>, values: Iterable<V> | AsyncIterable<V>): AsyncIterableIterator<R> {
    return this.run(checkFn(fn) as ActorPoolFn<A, unknown, unknown>, iteratorOf(values, 'mapUnordered()'), false) as AsyncIterableIterator<R>;
  }

  /** Adds an actor (idle); queued calls start on it at once. Throws InvalidArgumentError if it is already in the pool. */
  pushActor(actor: A): void {
    this.add(actor, 'ActorPool.pushActor()');
    this.dispatch();
  }

  /** Removes and returns an actor that runs no call, or undefined if every actor is busy. */
  popIdle(): A | undefined {
    for (const [a, n] of this.load) {
      if (n === 0) {
        this.load.delete(a);
        return a;
      }
    }
    return undefined;
  }

  // ------------------------------------------------------------------------------------------------

  private add(actor: A, what: string): void {
    if (actor === null || (typeof actor !== 'object' && typeof actor !== 'function')) {
      throw new InvalidArgumentError(`${what}: an actor handle is needed, got ${describe(actor)}.`, { hint: 'Pass handles made by MyActor.remote().' });
    }
    if (this.load.has(actor)) throw new InvalidArgumentError(`${what}: this actor is already in the pool.`, { hint: 'Add each actor handle once.' });
    this.load.set(actor, 0);
  }

  private enqueue(fn: ActorPoolFn<A, unknown, unknown>, value: unknown, priv: boolean): Item {
    checkFn(fn);
    let finish!: () => void;
    const finished = new Promise<void>((r) => (finish = r));
    const it: Item = { index: this.nextIndex++, fn: fn as Item['fn'], value, done: false, finished, finish, taken: false, private: priv };
    this.queue.push(it);
    this.dispatch();
    return it;
  }

  /** Starts queued calls on the least loaded actors with room. */
  private dispatch(): void {
    while (this.queue.length > 0) {
      let best: A | undefined;
      let bestLoad = this.maxInFlight;
      for (const [a, n] of this.load) {
        if (n < bestLoad) {
          best = a;
          bestLoad = n;
          if (n === 0) break;
        }
      }
      if (best === undefined) return;
      const it = this.queue.shift()!;
      if (it.taken) continue; // dropped by a map() that ended before it started
      this.start(it, best);
    }
  }

  private start(it: Item, actor: A): void {
    this.load.set(actor, (this.load.get(actor) ?? 0) + 1);
    it.actor = actor;
    let ref: unknown;
    try {
      ref = it.fn(actor, it.value);
      if (!(ref instanceof ObjectRef)) {
        throw new InvalidArgumentError(`ActorPool: fn must return the ObjectRef of an actor call, got ${describe(ref)}.`, {
          hint: 'Return the call, e.g. (a, v) => a.infer.remote(v), not its awaited value.',
        });
      }
    } catch (e) {
      it.error = e;
      queueMicrotask(() => this.finished(it));
      return;
    }
    it.ref = ref;
    wait([ref], { numReturns: 1 }).then(
      () => this.finished(it),
      (e: unknown) => {
        it.error = e;
        this.finished(it);
      },
    );
  }

  private finished(it: Item): void {
    it.done = true;
    const a = it.actor as A;
    // An actor popped meanwhile cannot be: popIdle only takes actors that run nothing.
    if (this.load.has(a)) this.load.set(a, Math.max(0, (this.load.get(a) ?? 1) - 1));
    it.finish();
    if (!it.private && !it.taken) {
      const w = this.unorderedWaiters.shift();
      if (w) {
        if (w.timer) clearTimeout(w.timer);
        it.taken = true;
        w.resolve(it);
      }
    }
    this.dispatch();
  }

  private async valueOf(it: Item): Promise<unknown> {
    if (it.error !== undefined) throw it.error;
    return get(it.ref!);
  }

  private prune(): void {
    let n = 0;
    while (n < this.submitted.length && this.submitted[n].taken) n++;
    if (n > 0) this.submitted.splice(0, n);
    if (this.submitted.length > 64 && this.submitted.length > 2 * this.submitted.filter((i) => !i.taken).length) {
      const keep = this.submitted.filter((i) => !i.taken);
      this.submitted.length = 0;
      this.submitted.push(...keep);
    }
  }

  private checkGetOptions(opts: ActorPoolGetOptions, what: string): number | undefined {
    checkKnownKeys(opts, ['timeoutMs'], `ActorPool.${what}`);
    const t = opts.timeoutMs;
    if (t !== undefined && (typeof t !== 'number' || !Number.isFinite(t) || t < 0)) {
      throw new InvalidArgumentError(`ActorPool.${what}: timeoutMs must be a finite number ≥ 0, got ${describe(t)}.`);
    }
    return t;
  }

  private nothingToGet(what: string): InvalidArgumentError {
    return new InvalidArgumentError(`ActorPool.${what}: no submitted result is left to get.`, { hint: 'Check hasNext() first, or submit() work.' });
  }

  /** Calls queued with no actor to run them would wait forever: say so instead. */
  private checkRunnable(what: string): void {
    if (this.load.size === 0 && this.queue.some((i) => !i.taken)) {
      throw new InvalidArgumentError(`ActorPool.${what}: ${this.queue.length} call(s) wait in the pool, which has no actors.`, {
        hint: 'Add one with pushActor(actor).',
      });
    }
  }

  private async *run(fn: ActorPoolFn<A, unknown, unknown>, iter: AsyncIterator<unknown> | Iterator<unknown>, ordered: boolean): AsyncGenerator<unknown> {
    const mine: Item[] = [];
    let exhausted = false;
    const capacity = () => Math.max(1, this.load.size * this.maxInFlight);
    const inFlight = () => mine.reduce((n, i) => n + (i.done ? 0 : 1), 0);
    try {
      for (;;) {
        // Keep every actor busy: read values while this loop has fewer calls running than the pool has room.
        while (!exhausted && inFlight() < capacity()) {
          const r = await iter.next();
          if (r.done) exhausted = true;
          else mine.push(this.enqueue(fn, r.value, true));
        }
        if (mine.length === 0) return;
        if (this.load.size === 0 && this.queue.some((i) => mine.includes(i))) {
          this.checkRunnable(ordered ? 'map()' : 'mapUnordered()');
        }
        let it: Item | undefined = ordered ? (mine[0].done ? mine[0] : undefined) : mine.find((i) => i.done);
        if (!it) {
          // Wait for any call of this loop: a finished one frees room for the next value even when
          // (in order) the oldest is still running.
          const first = await Promise.race(mine.filter((i) => !i.done).map((i) => i.finished.then(() => i)));
          if (ordered && first !== mine[0]) continue;
          it = first;
        }
        mine.splice(mine.indexOf(it), 1);
        it.taken = true;
        yield await this.valueOf(it);
      }
    } finally {
      // Left early (break, or a failed item): drop what this loop still holds.
      for (const i of mine) i.taken = true;
      if (!exhausted) await iter.return?.();
    }
  }
}

function checkFn<F>(fn: F): F {
  if (typeof fn !== 'function') {
    throw new InvalidArgumentError(`ActorPool: fn must be a function (actor, value) => ObjectRef, got ${describe(fn)}.`, {
      hint: 'For example (a, v) => a.infer.remote(v).',
    });
  }
  return fn;
}

function iteratorOf<V>(values: Iterable<V> | AsyncIterable<V>, what: string): AsyncIterator<V> | Iterator<V> {
  if (values && typeof (values as AsyncIterable<V>)[Symbol.asyncIterator] === 'function') return (values as AsyncIterable<V>)[Symbol.asyncIterator]();
  if (values && typeof (values as Iterable<V>)[Symbol.iterator] === 'function') return (values as Iterable<V>)[Symbol.iterator]();
  throw new InvalidArgumentError(`ActorPool.${what}: values must be an array or an (async) iterable, got ${describe(values)}.`);
}

/** Resolves true when `p` settles within `timeoutMs` (always, without one), false on timeout. */
function within(p: Promise<void>, timeoutMs: number | undefined): Promise<boolean> {
  if (timeoutMs === undefined) return p.then(() => true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), timeoutMs);
    void p.then(() => {
      clearTimeout(t);
      resolve(true);
    });
  });
}
