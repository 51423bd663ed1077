/**
 * The process-wide runtime behind the public API. A driver (after `init()`) has a DriverRuntime; a
 * worker thread has a WorkerThreadRuntime that forwards to its node. The current runtime is kept under a
 * global symbol so every copy of this package in a thread (e.g. one under a shipped working directory)
 * finds the same one.
 */
import { NotInitializedError, type ObjectRef, type ResourceMap } from '@samsara/ray-common';
import type { NodeBundle } from '@samsara/ray-scheduler';
import type { CallableInfo } from '../code/function-descriptor.js';
import type { ResolvedActorOptions, ResolvedTaskOptions } from './resolved-options.js';

/** Where the calling code runs. */
export interface RuntimeContext {
  readonly nodeId: string;
  readonly jobId: string;
  /** The running task's id; for a driver, the driver's own task id. */
  readonly taskId: string;
  readonly actorId?: string;
  readonly workerKind: 'driver' | 'task' | 'actor';
}

/** One node as `nodes()` reports it. */
export interface NodeSummary {
  readonly nodeId: string;
  readonly address: string;
  readonly alive: boolean;
  readonly isHead: boolean;
  /** "head" | "worker" | "edge" */
  readonly kind: string;
  /**
   * The node's capacity: CPU, GPU, memory and custom resources as it offers them. Placement-group
   * bundles do not change it (their internal `CPU_group_…` names never appear here).
   */
  readonly resources: Readonly<ResourceMap>;
  /**
   * What is free for new work outside placement groups, as of the node's last report: capacity minus
   * what tasks and actors use minus what committed bundles reserve.
   */
  readonly available: Readonly<ResourceMap>;
  /** The placement-group bundles committed on this node: what each reserved and what of it is free. */
  readonly bundles: readonly NodeBundle[];
  readonly labels: Readonly<Record<string, string>>;
  readonly hostname: string;
  readonly pid: number;
  readonly telemetry?: {
    readonly cpuLoad: number;
    readonly memUsedBytes: number;
    readonly memTotalBytes: number;
    /** Absent where the device has no thermal sensor. */
    readonly temperatureC?: number;
  };
  readonly deathReason?: string;
}

export interface ObjectStoreStats {
  readonly usedBytes: number;
  readonly capacityBytes: number;
  readonly spilledBytes: number;
  readonly numObjects: number;
}

export interface WaitResult<T = unknown> {
  ready: ObjectRef<T>[];
  notReady: ObjectRef<T>[];
}

/** The caller's side of one streaming task, kept by the runtime that submitted it. */
export interface GeneratorStream {
  /** The ref of the next item, waiting for it to arrive; undefined once the stream ended. */
  next(): Promise<ObjectRef | undefined>;
  /** The caller is done: stops the producer if it still runs and frees the items not handed out. */
  close(): void;
}

/** A streaming task as a runtime returns it (the public API wraps it in an ObjectRefGenerator). */
export interface StreamHandle {
  readonly taskId: string;
  /** Address of the process that owns the items. */
  readonly ownerAddress: string;
  readonly stream: GeneratorStream;
}

export interface Runtime {
  readonly kind: 'driver' | 'worker';
  submitTask(info: CallableInfo, args: readonly unknown[], opts: ResolvedTaskOptions): ObjectRef;
  /** Submits a generator function's task: its items stream back while it runs. */
  submitGeneratorTask(info: CallableInfo, args: readonly unknown[], opts: ResolvedTaskOptions): StreamHandle;
  get(refs: readonly ObjectRef[], timeoutMs?: number): Promise<unknown[]>;
  put(value: unknown): Promise<ObjectRef>;
  wait(refs: readonly ObjectRef[], numReturns: number, timeoutMs?: number): Promise<WaitResult>;
  cancel(ref: ObjectRef, force: boolean): Promise<void>;
  /** Starts creating an actor; returns its id at once. */
  createActor(info: CallableInfo, args: readonly unknown[], opts: ResolvedActorOptions): string;
  submitActorCall(actorId: string, className: string, method: string, args: readonly unknown[]): ObjectRef;
  /** Calls an actor method that is a generator: its items stream back while it runs (0 = unbounded backpressure). */
  submitActorGeneratorCall(actorId: string, className: string, method: string, args: readonly unknown[], backpressure: number): StreamHandle;
  killActor(actorId: string, noRestart: boolean): Promise<void>;
  getActor(name: string, namespace?: string): Promise<{ actorId: string; className: string; generatorMethods?: readonly string[] } | undefined>;
  /** Sends a placement group's creation to the head (fire and forget; `waitPlacementGroup` reports). */
  createPlacementGroup(id: string, bundles: readonly ResourceMap[], strategy: string, name: string): void;
  waitPlacementGroup(id: string, timeoutMs?: number): Promise<void>;
  removePlacementGroup(id: string): Promise<void>;
  /** The namespace named actors are created and looked up in by default. */
  namespace(): string;
  free(refs: readonly ObjectRef[]): Promise<void>;
  context(): RuntimeContext;
  nodes(): Promise<NodeSummary[]>;
  objectStoreStats(): Promise<ObjectStoreStats>;
  /** One cluster KV operation on the head (api/kv.ts checks the arguments and tags the values). */
  kvCall(req: KvRequest): Promise<KvReply>;
  shutdown(): Promise<void>;
}

/** A cluster KV operation as it goes to the head (values carry the public API's type tag). */
export interface KvRequest {
  readonly op: 'put' | 'get' | 'delete' | 'keys';
  readonly namespace: string;
  /** The key, or for 'keys' the prefix. */
  readonly key: string;
  readonly value?: Uint8Array;
}

export interface KvReply {
  readonly found: boolean;
  readonly value?: Uint8Array;
  readonly keys: string[];
}

const KEY = Symbol.for('@samsara/ray.runtime');
type Holder = { [KEY]?: Runtime };

export function currentRuntime(): Runtime | undefined {
  return (globalThis as Holder)[KEY];
}

export function setRuntime(r: Runtime | undefined): void {
  (globalThis as Holder)[KEY] = r;
}

export function requireRuntime(what: string): Runtime {
  const r = currentRuntime();
  if (!r) {
    throw new NotInitializedError(`${what} needs a running rayts runtime, and init() has not been called.`, {
      hint: "Call `await init()` for an embedded local cluster, or `await init({ address: 'HOST:PORT' })` to join one.",
    });
  }
  return r;
}
