/**
 * `remote(fn)`: turns a function into a RemoteFunction whose `.remote(...args)` runs it as a task
 * somewhere in the cluster and returns an ObjectRef of its result. Types flow: parameters accept the
 * value or an ObjectRef of it; the ref carries the awaited return type.
 */
import { InvalidArgumentError, ObjectRef, describe } from '@samsara/ray-common';
import { describeCallable, type CallableInfo } from './function-descriptor.js';
import { resolveTaskOptions, type RemoteOptions, type ResolvedTaskOptions } from './options.js';
import { requireRuntime } from './runtime.js';

/** Each parameter may be passed as its value or as an ObjectRef of it (resolved before the task runs). */
export type RemoteArgs<A extends readonly unknown[]> = { [K in keyof A]: A[K] | ObjectRef<A[K]> };

export interface RemoteFunction<A extends unknown[], R> {
  /** Submits one task; never blocks. Throws SerializationError if the function cannot be shipped. */
  remote(...args: RemoteArgs<A>): ObjectRef<Awaited<R>>;
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

  remote(...args: RemoteArgs<A>): ObjectRef<Awaited<R>> {
    return requireRuntime(`${this.info.name}.remote()`).submitTask(this.info, args, this.resolved) as ObjectRef<Awaited<R>>;
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
