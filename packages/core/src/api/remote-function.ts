/**
 * `remote(fn)`: turns a function into a RemoteFunction whose `.remote(...args)` runs it as a task
 * somewhere in the cluster and returns an ObjectRef of its result. Types flow: parameters accept the
 * value or an ObjectRef of it; the ref carries the awaited return type. A generator or async generator
 * function (`function*`, `async function*`) streams instead: `.remote()` returns an ObjectRefGenerator
 * whose items arrive while it runs (see object-ref-generator.ts). Which one it is, is decided from the
 * function itself when `remote()` is called (isGeneratorFunction).
 */
import { InvalidArgumentError, ObjectRef, describe } from '@samsara/ray-common';
import { describeCallable, type CallableInfo } from '../code/function-descriptor.js';
import { resolveTaskOptions, type RemoteOptions, type ResolvedTaskOptions } from './options.js';
import { requireRuntime } from '../runtime/runtime.js';
import { generatorOf, type ObjectRefGenerator } from './object-ref-generator.js';

/** Each parameter may be passed as its value or as an ObjectRef of it (resolved before the task runs). */
export type RemoteArgs<A extends readonly unknown[]> = { [K in keyof A]: A[K] | ObjectRef<A[K]> };

/**
 * What a call returns for a function returning R: an ObjectRefGenerator of the items for a generator
 * or async generator, else an ObjectRef of the awaited result.
 */
export type RemoteResult<R> = 0 extends 1 & R
  ? ObjectRef<any> // eslint-disable-line @typescript-eslint/no-explicit-any
  : R extends AsyncGenerator<infer T, unknown, unknown>
    ? ObjectRefGenerator<Awaited<T>>
    : R extends Generator<infer T, unknown, unknown>
      ? ObjectRefGenerator<Awaited<T>>
      : ObjectRef<Awaited<R>>;

export interface RemoteFunction<A extends unknown[], R> {
  /**
   * Submits one task; never blocks. Throws SerializationError if the function cannot be shipped.
   * For a generator function, returns an ObjectRefGenerator of its items.
   */
  remote(...args: RemoteArgs<A>): RemoteResult<R>;
  /** A copy with some options overridden; validated now (unknown names, bad amounts → InvalidArgumentError). */
  options(opts: RemoteOptions): RemoteFunction<A, R>;
  /** The function's name. */
  readonly name: string;
}

class RemoteFunctionImpl<A extends unknown[], R> implements RemoteFunction<A, R> {
  constructor(
    readonly info: CallableInfo,
    private readonly raw: RemoteOptions,
    private readonly resolved: ResolvedTaskOptions,
  ) {}

  get name(): string {
    return this.info.name;
  }

  remote(...args: RemoteArgs<A>): RemoteResult<R> {
    const rt = requireRuntime(`${this.info.name}.remote()`);
    if (this.info.generator) return generatorOf(rt.submitGeneratorTask(this.info, args, this.resolved)) as RemoteResult<R>;
    return rt.submitTask(this.info, args, this.resolved) as RemoteResult<R>;
  }

  options(opts: RemoteOptions): RemoteFunction<A, R> {
    const merged = { ...this.raw, ...opts };
    return new RemoteFunctionImpl<A, R>(this.info, merged, resolveTaskOptions(merged, `${this.info.name}.options()`));
  }
}

/**
 * Makes a function remote.
 * @example
 * const square = remote((x: number) => x * x);
 * await get(square.remote(4)); // 16
 */
export function remote<A extends unknown[], R>(fn: (...args: A) => R, opts: RemoteOptions = {}): RemoteFunction<A, R> {
  if (typeof fn !== 'function') {
    throw new InvalidArgumentError(`remote() takes a function, got ${describe(fn)}.`, {
      hint: 'For a class, use actor(Class).',
    });
  }
  if (/^class[\s{]/.test(Function.prototype.toString.call(fn))) {
    throw new InvalidArgumentError(`remote() got class ${fn.name}; classes become actors.`, { hint: `Use actor(${fn.name}).` });
  }
  const info = describeCallable(fn, 'function');
  return new RemoteFunctionImpl<A, R>(info, opts, resolveTaskOptions(opts, `remote(${info.name})`));
}
