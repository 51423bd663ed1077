/**
 * Actors: `actor(Class)` → `.remote(...ctorArgs)` creates one instance in its own worker on a node
 * chosen like a task's; `handle.method.remote(...args)` calls it. Calls from one caller run in
 * submission order; methods that return promises run concurrently up to `maxConcurrency`.
 * Handles can be passed to tasks and other actors; named actors are found with `getActor`.
 */
import { InvalidArgumentError, ObjectRef, describe, registerExtension, EXT } from '@samsara/ray-common';
import { describeCallable, type CallableInfo } from '../code/function-descriptor.js';
import { checkKnownKeys } from './options.js';
import { resolveActorOptions, type ActorOptions, type ResolvedActorOptions } from './actor-options.js';
import type { RemoteArgs, RemoteResult } from './remote-function.js';
import { resolveGeneratorBackpressure } from './options.js';
import { generatorOf } from './object-ref-generator.js';

export { resolveActorOptions, ACTOR_OPTION_NAMES, type ActorOptions, type ResolvedActorOptions } from './actor-options.js';
import { requireRuntime } from '../runtime/runtime.js';

type AnyFn = (...a: never[]) => unknown;
/**
 * A method of an actor handle: `.remote(...args)` returns an ObjectRef of its (awaited) result, or an
 * ObjectRefGenerator of its items when the method is a generator or async generator (`*m()`,
 * `async *m()`, decided from the class's prototype when `actor()` is called).
 */
export interface ActorMethod<A extends unknown[], R> {
  remote(...args: RemoteArgs<A>): RemoteResult<R>;
  /** Options of one call: `generatorBackpressure` (generator methods; see RemoteOptions). */
  options(opts: ActorMethodOptions): ActorMethod<A, R>;
}

/** Options of an actor method call. */
export interface ActorMethodOptions {
  /** For a generator method: the producer pauses while this many items are unconsumed [-1: unbounded]. */
  generatorBackpressure?: number;
}
/** A handle to one actor, typed from its class: every method becomes an ActorMethod. */
export type ActorHandle<T> = {
  readonly [K in keyof T as T[K] extends AnyFn ? (K extends `__${string}` ? never : K) : never]: T[K] extends (...a: infer A) => infer R
    ? ActorMethod<A, R>
    : never;
} & { readonly actorId: string; readonly className: string };

export interface ActorClass<C extends new (...a: never[]) => unknown> {
  /** Creates the actor; returns its handle at once (construction happens on the chosen node). */
  remote(...args: RemoteArgs<ConstructorParameters<C>>): ActorHandle<InstanceType<C>>;
  options(opts: ActorOptions): ActorClass<C>;
  readonly className: string;
}

/** The data of a handle; the Proxy around it turns property reads into methods. */
export class ActorHandleData {
  constructor(
    readonly actorId: string,
    readonly className: string,
    /** Methods that are generators (their calls stream); travels with the handle. */
    readonly generatorMethods: readonly string[] = [],
  ) {}
}

const NOT_METHODS = new Set(['then', 'toJSON', 'constructor', 'actorId', 'className', 'inspect', 'asymmetricMatch', '$$typeof', 'nodeType', 'tagName']);

function actorMethod(actorId: string, className: string, method: string, generator: boolean, backpressure: number): ActorMethod<unknown[], unknown> {
  const what = `${className}.${method}`;
  return {
    remote: (...args: unknown[]) => {
      const rt = requireRuntime(`${what}.remote()`);
      return (generator ? generatorOf(rt.submitActorGeneratorCall(actorId, className, method, args, backpressure)) : rt.submitActorCall(actorId, className, method, args)) as never;
    },
    options: (opts: ActorMethodOptions) => {
      checkKnownKeys(opts, ['generatorBackpressure'], `${what}.options()`);
      return actorMethod(actorId, className, method, generator, resolveGeneratorBackpressure(opts.generatorBackpressure, `${what}.options()`));
    },
  };
}

/** Wraps handle data in the Proxy that exposes `handle.method.remote(...)`. */
export function makeActorHandle<T>(actorId: string, className: string, generatorMethods: readonly string[] = []): ActorHandle<T> {
  const data = new ActorHandleData(actorId, className, generatorMethods);
  const generators = new Set(generatorMethods);
  const methods = new Map<string, ActorMethod<unknown[], unknown>>();
  return new Proxy(data, {
    get(target, prop, receiver) {
      if (typeof prop === 'symbol' || NOT_METHODS.has(prop) || prop in target) return Reflect.get(target, prop, receiver);
      let m = methods.get(prop);
      if (!m) {
        m = actorMethod(actorId, className, prop, generators.has(prop), 0);
        methods.set(prop, m);
      }
      return m;
    },
  }) as unknown as ActorHandle<T>;
}

registerExtension({
  Class: ActorHandleData as never,
  type: EXT.handle,
  write: ((h: ActorHandleData) => (h.generatorMethods.length ? [h.actorId, h.className, h.generatorMethods] : [h.actorId, h.className])) as never,
  read: ((d: [string, string, string[]?]) => makeActorHandle(d[0], d[1], d[2] ?? [])) as never,
});

class ActorClassImpl<C extends new (...a: never[]) => unknown> implements ActorClass<C> {
  constructor(
    readonly info: CallableInfo,
    private readonly raw: ActorOptions,
    private readonly resolved: ResolvedActorOptions,
  ) {}
  get className(): string {
    return this.info.name;
  }
  remote(...args: RemoteArgs<ConstructorParameters<C>>): ActorHandle<InstanceType<C>> {
    const actorId = requireRuntime(`${this.info.name}.remote()`).createActor(this.info, args, this.resolved);
    return makeActorHandle(actorId, this.info.name, this.info.generatorMethods);
  }
  options(opts: ActorOptions): ActorClass<C> {
    const merged = { ...this.raw, ...opts };
    return new ActorClassImpl<C>(this.info, merged, resolveActorOptions(merged, `${this.info.name}.options()`));
  }
}

/**
 * Makes a class an actor class.
 * @example
 * const Counter = actor(class Counter { n = 0; incr(by = 1) { return (this.n += by); } });
 * const c = Counter.remote();
 * await get(c.incr.remote(2)); // 2
 */
export function actor<C extends new (...a: never[]) => unknown>(cls: C, opts: ActorOptions = {}): ActorClass<C> {
  if (typeof cls !== 'function' || !/^class[\s{]/.test(Function.prototype.toString.call(cls))) {
    throw new InvalidArgumentError(`actor() takes a class, got ${typeof cls === 'function' ? 'a function' : describe(cls)}.`, {
      hint: 'For a function, use remote(fn).',
    });
  }
  const info = describeCallable(cls, 'class');
  return new ActorClassImpl<C>(info, opts, resolveActorOptions(opts, `actor(${info.name})`));
}

function handleData(h: unknown, what: string): ActorHandleData {
  if (!(h instanceof ActorHandleData)) throw new InvalidArgumentError(`${what} takes an actor handle, got ${describe(h)}.`);
  return h;
}

/** Finds a named actor. Rejects with InvalidArgumentError when none of that name is alive. */
export async function getActor<T = Record<string, AnyFn>>(name: string, opts: { namespace?: string } = {}): Promise<ActorHandle<T>> {
  checkKnownKeys(opts, ['namespace'], 'getActor()');
  if (typeof name !== 'string' || !name) throw new InvalidArgumentError(`getActor() takes an actor name, got ${describe(name)}.`);
  const rt = requireRuntime('getActor()');
  const found = await rt.getActor(name, opts.namespace);
  if (!found) {
    throw new InvalidArgumentError(`No live actor named "${name}" in namespace "${opts.namespace ?? rt.namespace()}".`, {
      hint: 'Check the name and namespace (rayts list actors); actors that are not detached end with the job that created them.',
    });
  }
  return makeActorHandle<T>(found.actorId, found.className, found.generatorMethods ?? []);
}

/**
 * Ends an actor now (its thread is stopped; calls in flight fail).
 *
 * - `noRestart: true` (default): it is dead for good; later calls reject with ActorDiedError and its
 *   restarts (if any) are not used.
 * - `noRestart: false`: as in Ray, the kill counts as a failure: an actor with restarts left
 *   (`maxRestarts` -1 or > 0) is created again by its creator (one restart spent) and answers later
 *   calls with its state reset; without restarts left it is dead as above. Resolves once the old instance
 *   is gone (the new one may still be starting; calls made meanwhile wait for it).
 */
export async function kill(handle: ActorHandle<unknown>, opts: { noRestart?: boolean } = {}): Promise<void> {
  checkKnownKeys(opts, ['noRestart'], 'kill()');
  const h = handleData(handle, 'kill()');
  await requireRuntime('kill()').killActor(h.actorId, opts.noRestart !== false);
}
