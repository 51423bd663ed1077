/**
 * The runtime of a driver process: the public API on top of the driver's CoreWorker. With an embedded
 * cluster the same process also hosts the head and a node (ClusterProcess).
 */
import { ObjectRef, encodeValue, newTaskId, setRefHooks, type Logger, type ResourceMap } from '@samsara/ray-common';
import type { CoreWorker, TaskArg } from '../owner/core-worker.js';
import type { ClusterProcess } from '../process/cluster-process.js';
import type { CallableInfo } from '../code/function-descriptor.js';
import type { ResolvedTaskOptions } from './options.js';
import type { ResolvedActorOptions } from './actor-options.js';
import { nodeSummaries } from '../runtime/node-summaries.js';
import type { KvReply, KvRequest, NodeSummary, ObjectStoreStats, Runtime, RuntimeContext, StreamHandle, WaitResult } from '../runtime/runtime.js';
import { kvReplyOf } from '../runtime/kv-reply.js';

/** Task arguments: top-level refs stay refs (resolved before the task runs); values are encoded, and the refs nested in them are listed. */
export function toTaskArgs(args: readonly unknown[], fnName: string): TaskArg[] {
  return args.map((a, i) => {
    if (a instanceof ObjectRef) return { kind: 'ref', ref: a };
    const nested: ObjectRef[] = [];
    const bytes = encodeValue(a, nested, `argument ${i} of ${fnName}`);
    return nested.length ? { kind: 'value', bytes, nested: nested.map((r) => [r.id, r.ownerAddress] as const) } : { kind: 'value', bytes };
  });
}

export class DriverRuntime implements Runtime {
  readonly kind = 'driver' as const;
  private readonly driverTaskId = newTaskId();

  constructor(
    readonly worker: CoreWorker,
    readonly proc: ClusterProcess,
    readonly embedded: boolean,
    private readonly log: Logger,
    private readonly cleanup: () => Promise<void>,
  ) {
    // Refs to this driver's objects that come back inside values count as local references too.
    setRefHooks({ onDecode: (id, owner) => worker.decodedRef(id, owner) });
  }

  submitTask(info: CallableInfo, args: readonly unknown[], opts: ResolvedTaskOptions): ObjectRef {
    return this.worker.submit(info, toTaskArgs(args, info.name), opts);
  }

  submitGeneratorTask(info: CallableInfo, args: readonly unknown[], opts: ResolvedTaskOptions): StreamHandle {
    const stream = this.worker.submitGenerator(info, toTaskArgs(args, info.name), opts);
    return { taskId: stream.taskId, ownerAddress: this.worker.address, stream };
  }

  get(refs: readonly ObjectRef[], timeoutMs?: number): Promise<unknown[]> {
    return this.worker.getValues(refs, timeoutMs);
  }

  put(value: unknown): Promise<ObjectRef> {
    return this.worker.put(value);
  }

  wait(refs: readonly ObjectRef[], numReturns: number, timeoutMs?: number): Promise<WaitResult> {
    return this.worker.wait(refs, numReturns, timeoutMs);
  }

  async cancel(ref: ObjectRef, force: boolean): Promise<void> {
    this.worker.cancel(ref, force);
  }

  createActor(info: CallableInfo, args: readonly unknown[], opts: ResolvedActorOptions): string {
    return this.worker.createActor(info, toTaskArgs(args, `${info.name}.constructor`), opts);
  }

  submitActorCall(actorId: string, className: string, method: string, args: readonly unknown[]): ObjectRef {
    return this.worker.submitActorCall(actorId, className, method, toTaskArgs(args, `${className}.${method}`));
  }

  submitActorGeneratorCall(actorId: string, className: string, method: string, args: readonly unknown[], backpressure: number): StreamHandle {
    const stream = this.worker.submitActorGeneratorCall(actorId, className, method, toTaskArgs(args, `${className}.${method}`), backpressure);
    return { taskId: stream.taskId, ownerAddress: this.worker.address, stream };
  }

  killActor(actorId: string, noRestart: boolean): Promise<void> {
    return this.worker.killActor(actorId, noRestart);
  }

  getActor(name: string, namespace?: string): Promise<{ actorId: string; className: string; generatorMethods?: readonly string[] } | undefined> {
    return this.worker.getActor(name, namespace ?? this.namespace());
  }

  namespace(): string {
    return this.worker.namespace;
  }

  createPlacementGroup(id: string, bundles: readonly ResourceMap[], strategy: string, name: string): void {
    this.worker.createPlacementGroup(id, bundles, strategy, name);
  }

  waitPlacementGroup(id: string, timeoutMs?: number): Promise<void> {
    return this.worker.waitPlacementGroup(id, timeoutMs);
  }

  removePlacementGroup(id: string): Promise<void> {
    return this.worker.removePlacementGroup(id);
  }

  free(refs: readonly ObjectRef[]): Promise<void> {
    return this.worker.free(refs);
  }

  context(): RuntimeContext {
    return {
      nodeId: this.worker.localNodeId ?? '',
      jobId: this.worker.jobId,
      taskId: this.driverTaskId,
      workerKind: 'driver',
    };
  }

  async nodes(): Promise<NodeSummary[]> {
    return nodeSummaries(await this.worker.headCall('clusterStatus', {}));
  }

  /**
   * Embedded: this process's node store, exact. Joined cluster: the sum over alive nodes as of their
   * last heartbeat plus this driver's own store.
   */
  async objectStoreStats(): Promise<ObjectStoreStats> {
    const own = this.proc.store.stats();
    if (this.embedded) return { usedBytes: own.usedBytes, capacityBytes: own.capacityBytes, spilledBytes: own.spilledBytes, numObjects: own.numObjects };
    const view = await this.worker.headCall<{ nodes: { alive: boolean; store?: ObjectStoreStats }[] }>('clusterStatus', {});
    const acc = { usedBytes: own.usedBytes, capacityBytes: 0, spilledBytes: own.spilledBytes, numObjects: own.numObjects };
    for (const n of view.nodes) {
      if (!n.alive || !n.store) continue;
      acc.usedBytes += n.store.usedBytes;
      acc.capacityBytes += n.store.capacityBytes;
      acc.spilledBytes += n.store.spilledBytes;
      acc.numObjects += n.store.numObjects;
    }
    return acc;
  }

  async kvCall(req: KvRequest): Promise<KvReply> {
    return kvReplyOf(await this.worker.headCall('kvCall', req));
  }

  async shutdown(): Promise<void> {
    setRefHooks({});
    try {
      await this.worker.headCall('finishJob', { jobId: this.worker.jobId }, 2000);
    } catch (e) {
      this.log.debug({ err: (e as Error).message }, 'finishJob failed');
    }
    await this.worker.close();
    this.proc.router.owners.delete(this.worker);
    await this.proc.close();
    await this.cleanup();
  }
}
