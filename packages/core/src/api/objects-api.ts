/**
 * The object and introspection half of the public API: get, put, wait, cancel, free, runtimeContext,
 * nodes, clusterResources, availableResources, objectStoreStats.
 */
import { InvalidArgumentError, ObjectRef, describe, addResources, type ResourceMap } from '@samsara/ray-common';
import { checkKnownKeys } from './options.js';
import { ObjectRefGenerator } from './object-ref-generator.js';
import { requireRuntime, type NodeSummary, type ObjectStoreStats, type RuntimeContext, type WaitResult } from '../runtime/runtime.js';

export interface GetOptions {
  /** Give up after this long with GetTimeoutError (which includes why pending tasks wait). Default: wait forever. */
  timeoutMs?: number;
}

export interface WaitOptions {
  /** How many refs must be ready [1]. */
  numReturns?: number;
  /** Return what is ready after this long [forever]. */
  timeoutMs?: number;
}

export interface CancelOptions {
  /** Also stop a task that is already running by ending its worker [false]. */
  force?: boolean;
}

type Values<T extends readonly unknown[]> = { -readonly [K in keyof T]: T[K] extends ObjectRef<infer U> ? U : never };

function checkRef(r: unknown, what: string): ObjectRef {
  if (!(r instanceof ObjectRef)) {
    if (r instanceof Promise || (typeof r === 'object' && r !== null && typeof (r as { then?: unknown }).then === 'function')) {
      throw new InvalidArgumentError(`${what} takes ObjectRefs, got a Promise: put() returns a Promise of an ObjectRef.`, {
        hint: 'Await it first: `const ref = await put(value); await get(ref)` (or `await get(await put(value))`).',
      });
    }
    throw new InvalidArgumentError(`${what} takes ObjectRefs, got ${describe(r)}.`, {
      hint: 'Pass the value returned by fn.remote(...), actor.method.remote(...) or put(...).',
    });
  }
  return r;
}

function checkTimeout(t: unknown, what: string): number | undefined {
  if (t === undefined) return undefined;
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0) {
    throw new InvalidArgumentError(`${what}: timeoutMs must be a finite number ≥ 0, got ${describe(t)}.`);
  }
  return t;
}

/**
 * Reads the value of one ref, or of an array of refs (in order).
 * Rejects with TaskError if the task threw, GetTimeoutError after `timeoutMs`, or the failure's class.
 */
export function get<T>(ref: ObjectRef<T>, opts?: GetOptions): Promise<T>;
export function get<const T extends readonly ObjectRef<unknown>[]>(refs: T, opts?: GetOptions): Promise<Values<T>>;
export async function get(refOrRefs: ObjectRef | readonly ObjectRef[], opts: GetOptions = {}): Promise<unknown> {
  checkKnownKeys(opts, ['timeoutMs'], 'get()');
  const timeoutMs = checkTimeout(opts.timeoutMs, 'get()');
  const rt = requireRuntime('get()');
  if (Array.isArray(refOrRefs)) {
    const refs = refOrRefs.map((r, i) => checkRef(r, `get() item ${i}`));
    return rt.get(refs, timeoutMs);
  }
  const [v] = await rt.get([checkRef(refOrRefs, 'get()')], timeoutMs);
  return v;
}

/** Stores a value in the cluster and returns its ref (owned by this process). */
export async function put<T>(value: T): Promise<ObjectRef<T>> {
  if (value instanceof ObjectRef) {
    throw new InvalidArgumentError('put() got an ObjectRef; it is already in the cluster.', { hint: 'Pass the ref itself where it is needed.' });
  }
  return (await requireRuntime('put()').put(value)) as ObjectRef<T>;
}

/** Waits until `numReturns` refs are ready or the timeout passes; never fetches values. */
export async function wait<T>(refs: readonly ObjectRef<T>[], opts: WaitOptions = {}): Promise<WaitResult<T>> {
  checkKnownKeys(opts, ['numReturns', 'timeoutMs'], 'wait()');
  if (!Array.isArray(refs)) throw new InvalidArgumentError(`wait() takes an array of ObjectRefs, got ${describe(refs)}.`);
  refs.forEach((r, i) => checkRef(r, `wait() item ${i}`));
  const numReturns = opts.numReturns ?? 1;
  if (!Number.isInteger(numReturns) || numReturns < 0 || numReturns > refs.length) {
    throw new InvalidArgumentError(`wait(): numReturns must be an integer between 0 and ${refs.length} (the number of refs), got ${describe(opts.numReturns)}.`);
  }
  if (new Set(refs.map((r) => r.id)).size !== refs.length) {
    throw new InvalidArgumentError('wait(): the same ObjectRef appears more than once.', { hint: 'Pass each ref once.' });
  }
  return (await requireRuntime('wait()').wait(refs, numReturns, checkTimeout(opts.timeoutMs, 'wait()'))) as WaitResult<T>;
}

/**
 * Cancels the task that produces `ref`. A queued task never runs; a running one is stopped with
 * `force`. `get` then rejects with TaskCancelledError; a cancelled task is never retried.
 *
 * Given an ObjectRefGenerator, stops its producer even without `force` (its generator's `return()` runs
 * at the next item): the items that already arrived stay readable, then the iteration yields one ref
 * whose `get` rejects with TaskCancelledError, and ends.
 */
export async function cancel(ref: ObjectRef | ObjectRefGenerator, opts: CancelOptions = {}): Promise<void> {
  checkKnownKeys(opts, ['force'], 'cancel()');
  const target = ref instanceof ObjectRefGenerator ? ref.taskRef() : checkRef(ref, 'cancel()');
  await requireRuntime('cancel()').cancel(target, opts.force === true);
}

/** Frees objects now instead of when their refs are dropped. Later `get`s fail with ObjectLostError. */
export async function free(refs: readonly ObjectRef[]): Promise<void> {
  if (!Array.isArray(refs)) throw new InvalidArgumentError(`free() takes an array of ObjectRefs, got ${describe(refs)}.`);
  await requireRuntime('free()').free(refs.map((r, i) => checkRef(r, `free() item ${i}`)));
}

/** Ids of the node, job, task (and actor) the calling code runs in. */
export function runtimeContext(): RuntimeContext {
  return requireRuntime('runtimeContext()').context();
}

/** Every node the head knows, alive or dead, with resources, availability and labels. */
export function nodes(): Promise<NodeSummary[]> {
  return requireRuntime('nodes()').nodes();
}

/** Capacity of alive nodes, summed (placement-group reservations included, never listed apart). */
export async function clusterResources(): Promise<ResourceMap> {
  const ns = await nodes();
  return ns.filter((n) => n.alive).reduce<ResourceMap>((acc, n) => addResources(acc, n.resources), {});
}

/**
 * Resources free for new work on alive nodes, summed (as of the nodes' last reports). What placement-group
 * bundles reserve is not available here; what is free inside them is in `nodes()[i].bundles`.
 */
export async function availableResources(): Promise<ResourceMap> {
  const ns = await nodes();
  return ns.filter((n) => n.alive).reduce<ResourceMap>((acc, n) => addResources(acc, n.available), {});
}

/** Usage of the object store of this process's node. */
export function objectStoreStats(): Promise<ObjectStoreStats> {
  return requireRuntime('objectStoreStats()').objectStoreStats();
}
