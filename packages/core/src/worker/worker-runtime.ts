/**
 * The runtime inside a worker thread. Work that user code starts from a task (nested tasks, get, put,
 * wait…) is forwarded to the node's main thread, which owns the resulting objects. The current task is
 * tracked with AsyncLocalStorage so concurrent async tasks on one thread keep their own context.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { threadId, BroadcastChannel } from 'node:worker_threads';
import {
  ObjectRef,
  RefCache,
  encodeValue,
  errorFromWire,
  newTaskId,
  newActorId,
  objectIdOf,
  type ObjectId,
  type ResourceMap,
} from '@samsara/ray-common';
import type { CallableInfo } from '../code/function-descriptor.js';
import { shipCallable } from '../code/function-descriptor.js';
import type { ResolvedTaskOptions } from '../runtime/resolved-options.js';
import type { ResolvedActorOptions } from '../runtime/resolved-options.js';
import type { GeneratorStream, KvReply, KvRequest, NodeSummary, ObjectStoreStats, Runtime, RuntimeContext, StreamHandle, WaitResult } from '../runtime/runtime.js';
import { decodeArg, encodeResult, type WorkerArg } from './values.js';
import { IdleCollector } from './idle-collector.js';
import { replyChannelName, requestChannelName, type BridgeArg, type BridgeReply, type BridgeRequest, type WorkerInit } from './protocol.js';

export interface TaskScope {
  readonly taskId: string;
  readonly nodeId: string;
  readonly jobId: string;
  readonly workingDirPath: string;
  readonly actorId?: string;
  readonly namespace?: string;
}

type Req = BridgeRequest extends infer R ? (R extends { op: infer O } ? Omit<R, 'reqId' | 'threadId' | 'parentTaskId' | 'jobId'> & { op: O } : never) : never;

/** Values at least this large are put by writing them straight into the shared area. */
const DIRECT_PUT_MIN_BYTES = 1024 * 1024;

/** V8's gc(), obtained on first use without --expose-gc on the command line (worker threads cannot take it). */
let gcFn: (() => void) | null | undefined;
function collectGarbage(): void {
  if (gcFn === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      gcFn = vm.runInNewContext('gc') as () => void;
    } catch {
      gcFn = null;
    }
  }
  gcFn?.();
}

export class WorkerThreadRuntime implements Runtime {
  readonly kind = 'worker' as const;
  readonly scope = new AsyncLocalStorage<TaskScope>();
  /** Requests to the node's main thread: this thread's own port when it was given one, else the shared channel. */
  private readonly post: (m: BridgeRequest) => void;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(private readonly init: WorkerInit) {
    const port = init.bridgePort;
    if (port) {
      // A port of its own: requests wake only the main thread (a shared BroadcastChannel wakes every
      // thread of the node on every request).
      port.on('message', (r: BridgeReply) => this.onReply(r));
      port.unref();
      this.post = (m) => port.postMessage(m);
    } else {
      const req = new BroadcastChannel(requestChannelName(init.bridgeId));
      const rep = new BroadcastChannel(replyChannelName(init.bridgeId, threadId));
      rep.onmessage = (ev: unknown) => this.onReply((ev as unknown as { data: BridgeReply }).data);
      // Do not keep the worker alive for the channels alone.
      (req as unknown as { unref?: () => void }).unref?.();
      (rep as unknown as { unref?: () => void }).unref?.();
      this.post = (m) => req.postMessage(m);
    }
  }

  private current(): TaskScope {
    return this.scope.getStore() ?? { taskId: '', nodeId: this.init.nodeId, jobId: '', workingDirPath: '' };
  }

  private onReply(r: BridgeReply): void {
    const w = this.waiting.get(r.reqId);
    if (!w) return;
    this.waiting.delete(r.reqId);
    if (r.ok) w.resolve(r.value);
    else w.reject(errorFromWire(r.error!));
  }

  private call<T>(msg: Req, jobId?: string): Promise<T> {
    const s = this.current();
    const reqId = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(reqId, { resolve: resolve as (v: unknown) => void, reject });
      this.post({ ...msg, reqId, threadId, parentTaskId: s.taskId, jobId: jobId ?? s.jobId } as BridgeRequest);
    });
  }

  private toArgs(args: readonly unknown[]): BridgeArg[] {
    return args.map((a, i) => {
      if (a instanceof ObjectRef) return { kind: 'ref', id: a.id, owner: a.ownerAddress || this.init.nodeAddress };
      const nested: ObjectRef[] = [];
      const bytes = encodeValue(a, nested, `argument ${i}`);
      return nested.length ? { kind: 'value', bytes, nested: nested.map((r) => [r.id, r.ownerAddress || this.init.nodeAddress] as const) } : { kind: 'value', bytes };
    });
  }

  // ---- references held in this thread, reported to the node (see ReferenceCounter, BorrowTable) ----

  private readonly refRegistry = new FinalizationRegistry<{ id: string; jobId: string }>((h) => {
    this.liveRefs--;
    this.collector.refCollected();
    this.queueRefs(h.jobId, undefined, h.id);
  });
  private readonly refQueue = new Map<string, { inc: [string, string][]; dec: string[] }>();
  /** The live instance decoded for each ref (see RefCache). */
  private readonly decoded = new RefCache();
  /** ObjectRef instances of this thread not yet collected. */
  private liveRefs = 0;
  /** Collects garbage when this thread, holding refs, goes idle (see idle-collector.ts). */
  private readonly collector = new IdleCollector({ liveRefs: () => this.liveRefs, collect: collectGarbage });

  private queueRefs(jobId: string, inc: [string, string] | undefined, dec: string | undefined): void {
    let q = this.refQueue.get(jobId);
    if (!q) {
      q = { inc: [], dec: [] };
      this.refQueue.set(jobId, q);
    }
    if (inc) q.inc.push(inc);
    if (dec) q.dec.push(dec);
    if (this.refQueue.size === 1 && q.inc.length + q.dec.length === 1) {
      setImmediate(() => void this.sendRefs().catch(() => undefined));
    }
  }

  /**
   * Sends the queued reference changes now and waits until the node processed them (and registered
   * this node as a borrower where needed). A task awaits this before its result leaves the thread, so
   * the node counts what the task kept before its submitter stops counting the task's arguments.
   * Costs nothing when no reference changed. Called at the end of each call or task, it also arms the
   * idle collection (refs the call dropped are found once the thread rests).
   */
  async flushRefs(): Promise<void> {
    this.collector.afterCall();
    await this.sendRefs();
  }

  /** Sends the queued reference changes (see flushRefs). */
  private async sendRefs(): Promise<void> {
    if (this.refQueue.size === 0) return;
    const batches = [...this.refQueue];
    this.refQueue.clear();
    await Promise.all(batches.map(([job, b]) => this.call({ op: 'refs', inc: b.inc, dec: b.dec }, job)));
  }

  /** Watches an instance of a ref the node created for this thread; its collection is reported (the node counted it). */
  private own(ref: ObjectRef): ObjectRef {
    this.liveRefs++;
    this.refRegistry.register(ref, { id: ref.id, jobId: this.current().jobId });
    return ref;
  }

  /** A ref decoded in this thread: a new reference the node counts (owned there, or borrowed). */
  decodedRef(id: ObjectId, owner: string): ObjectRef {
    // One counted instance per object: decoding the same ref again returns it.
    const live = this.decoded.get(id);
    if (live) return live;
    const r = new ObjectRef(id, owner);
    this.decoded.set(r);
    const jobId = this.current().jobId;
    this.queueRefs(jobId, [id, owner || this.init.nodeAddress], undefined);
    this.liveRefs++;
    this.refRegistry.register(r, { id, jobId });
    return r;
  }

  private refPairs(refs: readonly ObjectRef[]): [string, string][] {
    return refs.map((r) => [r.id, r.ownerAddress || this.init.nodeAddress]);
  }

  submitTask(info: CallableInfo, args: readonly unknown[], opts: ResolvedTaskOptions): ObjectRef {
    // Fail fast, in the caller, for code that cannot be shipped.
    shipCallable(info, this.current().workingDirPath || undefined, undefined);
    const taskId = newTaskId();
    void this.call({ op: 'submit', taskId, info, args: this.toArgs(args), opts: this.plainPg(opts) }).catch(() => undefined);
    return this.own(new ObjectRef(objectIdOf(taskId as never, 0), this.init.nodeAddress));
  }

  submitGeneratorTask(info: CallableInfo, args: readonly unknown[], opts: ResolvedTaskOptions): StreamHandle {
    shipCallable(info, this.current().workingDirPath || undefined, undefined);
    const taskId = newTaskId();
    void this.call({ op: 'submitGenerator', taskId, info, args: this.toArgs(args), opts: this.plainPg(opts) }).catch(() => undefined);
    return { taskId, ownerAddress: this.init.nodeAddress, stream: this.bridgedStream(taskId) };
  }

  submitActorGeneratorCall(actorId: string, className: string, method: string, args: readonly unknown[], backpressure: number): StreamHandle {
    const taskId = newTaskId();
    void this.call({ op: 'actorGeneratorCall', actorId, className, method, taskId, args: this.toArgs(args), backpressure }).catch(() => undefined);
    return { taskId, ownerAddress: this.init.nodeAddress, stream: this.bridgedStream(taskId) };
  }

  /** A stream owned by this node's CoreWorker for the job, read through the bridge. */
  private bridgedStream(taskId: string): GeneratorStream {
    const jobId = this.current().jobId;
    return {
      next: async () => {
        const id = await this.call<string | null>({ op: 'genNext', taskId }, jobId);
        return id ? this.own(new ObjectRef(id as ObjectId, this.init.nodeAddress)) : undefined;
      },
      close: () => void this.call({ op: 'genClose', taskId }, jobId).catch(() => undefined),
    };
  }

  private plainPg<T extends { placementGroup?: { id: string; bundles: unknown; strategy: unknown; name: string } }>(opts: T): unknown {
    const pg = opts.placementGroup;
    return { ...opts, placementGroup: pg ? { id: pg.id, bundles: pg.bundles, strategy: pg.strategy, name: pg.name } : undefined };
  }

  createActor(info: CallableInfo, args: readonly unknown[], opts: ResolvedActorOptions): string {
    shipCallable(info, this.current().workingDirPath || undefined, undefined);
    const actorId = newActorId();
    const withNs = { ...opts, namespace: opts.namespace ?? this.namespace() };
    void this.call({ op: 'createActor', actorId, info, args: this.toArgs(args), opts: this.plainPg(withNs) }).catch(() => undefined);
    return actorId;
  }

  submitActorCall(actorId: string, className: string, method: string, args: readonly unknown[]): ObjectRef {
    const taskId = newTaskId();
    void this.call({ op: 'actorCall', actorId, className, method, taskId, args: this.toArgs(args) }).catch(() => undefined);
    return this.own(new ObjectRef(objectIdOf(taskId as never, 0), this.init.nodeAddress));
  }

  async killActor(actorId: string, noRestart: boolean): Promise<void> {
    await this.call({ op: 'killActor', actorId, noRestart });
  }

  getActor(name: string, namespace?: string): Promise<{ actorId: string; className: string } | undefined> {
    return this.call({ op: 'getActor', name, namespace: namespace ?? this.namespace() });
  }

  namespace(): string {
    return this.current().namespace ?? '';
  }

  createPlacementGroup(id: string, bundles: readonly ResourceMap[], strategy: string, name: string): void {
    void this.call({ op: 'pgCreate', id, bundles: [...bundles], strategy, name }).catch(() => undefined);
  }

  async waitPlacementGroup(id: string, timeoutMs?: number): Promise<void> {
    await this.call({ op: 'pgWait', id, timeoutMs });
  }

  async removePlacementGroup(id: string): Promise<void> {
    await this.call({ op: 'pgRemove', id });
  }

  async get(refs: readonly ObjectRef[], timeoutMs?: number): Promise<unknown[]> {
    const got = await this.call<{ arg: WorkerArg; pin?: number }[]>({ op: 'get', refs: this.refPairs(refs), timeoutMs });
    return got.map(({ arg, pin }) => {
      const v = decodeArg(arg, this.init.sharedBuffer);
      if (pin !== undefined) this.holdPin(v, pin);
      return v;
    });
  }

  private readonly pinRegistry = new FinalizationRegistry<number>((pin) => this.unpin(pin));
  private pendingUnpins: number[] = [];

  /** Keeps a stored object pinned on the node while the value that views it is reachable. */
  private holdPin(value: unknown, pin: number): void {
    if ((typeof value === 'object' && value !== null) || typeof value === 'function') this.pinRegistry.register(value as object, pin);
    else this.unpin(pin);
  }

  private unpin(pin: number): void {
    this.pendingUnpins.push(pin);
    if (this.pendingUnpins.length === 1) {
      setImmediate(() => {
        const pins = this.pendingUnpins.splice(0);
        void this.call({ op: 'release', pins }).catch(() => undefined);
      });
    }
  }

  async put(value: unknown): Promise<ObjectRef> {
    const enc = encodeResult(value, 'put() value');
    const shared = this.init.sharedBuffer;
    if ('stored' in enc && shared && enc.stored.meta.sizeBytes >= DIRECT_PUT_MIN_BYTES) {
      // Large values are written by this thread straight into the node's shared area (one copy) instead
      // of being cloned to the main thread and copied from there.
      const slot = await this.call<{ write: number; offset: number } | undefined>({ op: 'putAlloc', meta: enc.stored.meta });
      if (slot) {
        const dst = new Uint8Array(shared, slot.offset, enc.stored.meta.sizeBytes);
        let pos = 0;
        for (const s of enc.stored.segments) {
          dst.set(s, pos);
          pos += s.byteLength;
        }
        const id = await this.call<string>({ op: 'putCommit', write: slot.write, containedRefs: enc.containedRefs, containedOwners: enc.containedOwners });
        return this.own(new ObjectRef(id as ObjectId, this.init.nodeAddress));
      }
    }
    const id = await this.call<string>({ op: 'put', value: enc });
    return this.own(new ObjectRef(id as ObjectId, this.init.nodeAddress));
  }

  async wait(refs: readonly ObjectRef[], numReturns: number, timeoutMs?: number): Promise<WaitResult> {
    const idx = await this.call<number[]>({ op: 'wait', refs: this.refPairs(refs), numReturns, timeoutMs });
    const readySet = new Set(idx);
    return { ready: refs.filter((_, i) => readySet.has(i)), notReady: refs.filter((_, i) => !readySet.has(i)) };
  }

  async cancel(ref: ObjectRef, force: boolean): Promise<void> {
    await this.call({ op: 'cancel', ref: this.refPairs([ref])[0], force });
  }

  async free(refs: readonly ObjectRef[]): Promise<void> {
    await this.call({ op: 'free', refs: this.refPairs(refs) });
  }

  context(): RuntimeContext {
    const s = this.current();
    return { nodeId: s.nodeId || this.init.nodeId, jobId: s.jobId, taskId: s.taskId, actorId: s.actorId, workerKind: s.actorId ? 'actor' : 'task' };
  }

  nodes(): Promise<NodeSummary[]> {
    return this.call({ op: 'nodes' });
  }

  objectStoreStats(): Promise<ObjectStoreStats> {
    return this.call({ op: 'stats' });
  }

  kvCall(req: KvRequest): Promise<KvReply> {
    return this.call({ op: 'kv', req });
  }

  async shutdown(): Promise<void> {
    /* A task cannot shut the cluster down; shutdown() inside a task is a no-op. */
  }
}
