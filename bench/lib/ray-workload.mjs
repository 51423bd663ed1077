/**
 * The actors of Ray's ray_perf.py, written against the public API of '@samsara/ray'.
 *
 * The classes are self-contained (DESIGN.md "Code on other nodes"): they read no module variables, only
 * the API names the runtime binds on every worker (`remote`, `get`, `put`), so they run on any node of
 * the cluster without a working directory. Ray's `small_value` returns b"ok"; ours returns 'ok'.
 * (They are imported here too, so the classes also read correctly as module code.) Factories are called
 * after `init()`, as Ray creates its actors after `ray.init()`.
 */
import { actor, get, put, remote } from '@samsara/ray';

/** Ray's `Actor` (num_cpus=0): sync methods, plus a batch of no-op tasks submitted from inside. */
export class BenchActor {
  smallValue() {
    return 'ok';
  }

  smallValueArg(_x) {
    return 'ok';
  }

  async smallValueBatch(n) {
    this.small ??= remote(() => 'ok');
    const refs = [];
    for (let i = 0; i < n; i += 1) refs.push(this.small.remote());
    await get(refs);
  }
}

/** Ray's `AsyncActor`: the same calls as async methods. */
export class BenchAsyncActor {
  async smallValue() {
    return 'ok';
  }

  async smallValueWithArg(_x) {
    return 'ok';
  }
}

/** Ray's `Client` (num_cpus=0): calls other actors, whose handles it was given, from inside an actor. */
export class BenchClient {
  constructor(servers) {
    this.servers = Array.isArray(servers) ? servers : [servers];
  }

  async smallValueBatch(n) {
    const refs = [];
    for (const s of this.servers) for (let i = 0; i < n; i += 1) refs.push(s.smallValue.remote());
    await get(refs);
  }

  async smallValueBatchArg(n) {
    const x = await put(0);
    const refs = [];
    for (const s of this.servers) for (let i = 0; i < n; i += 1) refs.push(s.smallValueArg.remote(x));
    await get(refs);
  }
}

/** `Actor.remote()` with Ray's num_cpus=0, plus extra options such as `{ maxConcurrency: 16 }`. */
export function newActor(extra = {}) {
  return actor(BenchActor).options({ numCpus: 0, ...extra }).remote();
}

export function newAsyncActor() {
  return actor(BenchAsyncActor).remote();
}

export function newClient(servers) {
  return actor(BenchClient).options({ numCpus: 0 }).remote(servers);
}

/** `count` no-op submissions of `f`, as an array (Ray's list comprehension). */
export function times(count, f) {
  const out = new Array(count);
  for (let i = 0; i < count; i += 1) out[i] = f(i);
  return out;
}
