/**
 * WorkerBridge: the node main thread's end of the calls user code makes inside tasks (nested submit,
 * get, put, wait, cancel, free, nodes, stats). Objects created this way are owned by a CoreWorker of
 * this node, one per job. A task blocked in `get`/`wait` lends its CPU to other tasks meanwhile, so
 * nested tasks cannot deadlock a full node.
 *
 * The owner code (task submission, actor calls, object resolution: owner/core-worker.ts and what it
 * imports) is loaded when a worker thread first attaches, not with the node: a node whose tasks never
 * call the API — an idle edge agent above all — does not carry it (~20 modules, ~0.7 MB).
 */
import { BroadcastChannel, type MessagePort } from 'node:worker_threads';
import { InvalidArgumentError, ObjectRef, errorToWire, newTaskId, objectIdOf, type Logger, type ObjectId } from '@samsara/ray-common';
import type { CallableInfo } from '../code/function-descriptor.js';
import type { ResolvedTaskOptions } from '../runtime/resolved-options.js';
import type { ResolvedActorOptions } from '../runtime/resolved-options.js';
import type { CoreWorker, Fetched, TaskArg } from '../owner/core-worker.js';
import type { ObjectView, ObjectWriter, StoredMeta } from '@samsara/ray-object-store';
import type { WorkerArg } from '../worker/values.js';
import { relieveStorePressure, withStoreRoom } from '../owner/store-pressure.js';
import type { OwnerRouter } from './object-server.js';
import type { NodeDaemon } from './node-daemon.js';
import { replyChannelName, requestChannelName, type BridgeArg, type BridgeReply, type BridgeRequest } from '../worker/protocol.js';
import { nodeSummaries } from '../runtime/node-summaries.js';
import { kvReplyOf } from '../runtime/kv-reply.js';

type OwnerCode = typeof import('../owner/core-worker.js');

export class WorkerBridge {
  private readonly channel: BroadcastChannel;
  private readonly replies = new Map<number, BroadcastChannel>();
  private readonly ports = new Set<MessagePort>();
  private readonly owners = new Map<string, CoreWorker>();
  private ownerCode: Promise<OwnerCode> | undefined;
  private ownerModule: OwnerCode | undefined;
  private closed = false;
  /** Zero-copy views worker threads read, by pin id, with the thread that holds each (released if it ends). */
  private readonly pins = new Map<number, { view: ObjectView; threadId: number }>();
  private nextPin = 1;
  /** Objects worker threads are writing straight into the shared area (putAlloc … putCommit). */
  private readonly writes = new Map<number, { writer: ObjectWriter; id: ObjectId; threadId: number; meta: StoredMeta }>();
  private nextWrite = 1;
  /** Reference instances each worker thread holds, per job and object (released if the thread ends). */
  private readonly threadRefs = new Map<number, Map<string, { jobId: string; id: string; n: number }>>();

  constructor(
    private readonly daemon: NodeDaemon,
    private readonly router: OwnerRouter,
    private readonly headAddress: string,
    private readonly log: Logger,
  ) {
    this.channel = new BroadcastChannel(requestChannelName(daemon.bridgeId));
    this.channel.onmessage = (ev: unknown) => this.serve((ev as unknown as { data: BridgeRequest }).data, (r) => this.send((ev as unknown as { data: BridgeRequest }).data.threadId, r));
    (this.channel as unknown as { unref?: () => void }).unref?.();
  }

  private serve(req: BridgeRequest, reply: (r: BridgeReply) => void): void {
    this.handle(req).then(
      (value) => reply({ reqId: req.reqId, ok: true, value }),
      (e) => reply({ reqId: req.reqId, ok: false, error: errorToWire(e) }),
    );
  }

  /**
   * Serves one worker thread on the main-thread end of its own port (the thread has the other end as
   * `WorkerInit.bridgePort`): its requests and replies travel on it alone, waking no other thread.
   */
  attachPort(port1: MessagePort): void {
    // A thread will start: its first API call should not wait for the owner code to load.
    void this.loadOwnerCode().catch(() => undefined);
    port1.on('message', (req: BridgeRequest) => this.serve(req, (r) => !this.closed && port1.postMessage(r)));
    port1.unref();
    this.ports.add(port1);
    port1.once('close', () => this.ports.delete(port1));
  }

  private send(threadId: number, r: BridgeReply): void {
    if (this.closed) return;
    let ch = this.replies.get(threadId);
    if (!ch) {
      ch = new BroadcastChannel(replyChannelName(this.daemon.bridgeId, threadId));
      (ch as unknown as { unref?: () => void }).unref?.();
      this.replies.set(threadId, ch);
    }
    ch.postMessage(r);
  }

  private loadOwnerCode(): Promise<OwnerCode> {
    this.ownerCode ??= import('../owner/core-worker.js').then((m) => (this.ownerModule = m));
    return this.ownerCode;
  }

  /** The CoreWorker that owns what tasks of `jobId` create on this node (loading the owner code first). */
  async ownerFor(jobId: string): Promise<CoreWorker> {
    return this.ownerNow(jobId) ?? (await this.loadOwnerCode(), this.ownerNow(jobId)!);
  }

  /** The owner of `jobId`'s objects here, made if needed; undefined while the owner code is not loaded. */
  private ownerNow(jobId: string): CoreWorker | undefined {
    let o = this.owners.get(jobId);
    if (!o) {
      if (!this.ownerModule) return undefined;
      const { CoreWorker } = this.ownerModule;
      const wd = this.daemon.jobWorkingDirs.get(jobId);
      o = new CoreWorker({
        headAddress: this.headAddress,
        token: this.daemon.token,
        jobId,
        ownAddress: this.daemon.address,
        localNodeId: this.daemon.nodeId,
        store: this.daemon.store,
        log: this.log,
        workingDir: wd?.path,
        workingDirArchive: wd ? { hash: wd.hash, bytes: wd.bytes } : undefined,
        refCounting: 'explicit',
      });
      this.owners.set(jobId, o);
      this.router.owners.add(o);
    }
    return o;
  }

  /**
   * A fetched object as a worker reads it: inline bytes, or a slice of the shared area pinned until the
   * worker's value is collected (the worker then sends `release` with the pin id).
   */
  private toWorker(f: Fetched, id: string, threadId: number): { arg: WorkerArg; pin?: number } {
    if ('inline' in f) return { arg: f.inline };
    const loc = this.daemon.store.locate(id);
    if (!loc) {
      // Kept outside the shared area (e.g. larger than the store): the worker gets a copy.
      const copy = new Uint8Array(f.view.data);
      f.view.release();
      return { arg: { meta: f.view.meta, bytes: copy } };
    }
    const pin = this.nextPin++;
    this.pins.set(pin, { view: f.view, threadId });
    return { arg: { meta: f.view.meta, offset: loc.offset, length: loc.length }, pin };
  }

  private args(list: BridgeArg[]): TaskArg[] {
    return list.map((a) => (a.kind === 'ref' ? { kind: 'ref', ref: new ObjectRef(a.id as ObjectId, a.owner) } : a));
  }

  /**
   * Refs leave this node inside a result for `callerAddress`: before the result is sent, the caller is
   * registered as a borrower with each ref's owner (here, or remotely while this node keeps holding the
   * ref), so the object cannot be freed before the caller counts it. Returns, per ref, the owner
   * address that counted the caller ('' when the caller owns the ref itself).
   */
  registerEscaped(jobId: string, ids: readonly string[], owners: readonly string[] | undefined, callerAddress: string): string[] | Promise<string[]> {
    const out: string[] = [];
    const remote = new Map<string, string[]>();
    ids.forEach((id, i) => {
      // Every CoreWorker of this process (this bridge's, an embedded driver's) is in the router.
      const local = [...this.router.owners].find((o) => o.objects.has(id));
      if (local) {
        local.updateBorrowers(callerAddress, [{ objectId: id, delta: 1 }]);
        out.push(this.daemon.address);
        return;
      }
      const owner = owners?.[i] || this.daemon.address;
      if (owner === callerAddress) {
        out.push('');
        return;
      }
      out.push(owner);
      remote.set(owner, [...(remote.get(owner) ?? []), id]);
    });
    if (remote.size === 0) return out;
    const holder = this.ownerNow(jobId);
    if (holder) return this.registerRemote(holder, remote, callerAddress, out);
    return this.ownerFor(jobId).then((h) => this.registerRemote(h, remote, callerAddress, out));
  }

  private registerRemote(holder: CoreWorker, remote: Map<string, string[]>, callerAddress: string, out: string[]): Promise<string[]> {
    return Promise.all(
      [...remote].map(async ([owner, list]) => {
        // Held here while the owner learns of the caller, so that our own release cannot overtake it.
        for (const id of list) holder.holdBorrowed(id, owner);
        try {
          await holder.registerBorrowerFor(owner, callerAddress, list);
        } finally {
          for (const id of list) holder.unholdBorrowed(id);
        }
      }),
    ).then(() => out);
  }

  /** Counts reference changes of one thread, so that what it held can be released if it ends. */
  private trackThreadRefs(threadId: number, jobId: string, inc: readonly (readonly [string, string])[], dec: readonly string[]): void {
    let m = this.threadRefs.get(threadId);
    if (!m) {
      m = new Map();
      this.threadRefs.set(threadId, m);
    }
    for (const [id] of inc) {
      const k = `${jobId}\n${id}`;
      const e = m.get(k);
      if (e) e.n++;
      else m.set(k, { jobId, id, n: 1 });
    }
    for (const id of dec) {
      const k = `${jobId}\n${id}`;
      const e = m.get(k);
      if (!e) continue;
      if (--e.n <= 0) m.delete(k);
    }
  }

  /**
   * A worker thread ended (actor killed, task thread stopped or crashed): its references are gone, and
   * so are the values it read zero-copy (their pins would otherwise keep the objects stored for good:
   * a thread releases a pin only when its value is collected, which a killed thread never does).
   */
  threadExited(threadId: number): void {
    for (const [k, p] of this.pins) {
      if (p.threadId !== threadId) continue;
      this.pins.delete(k);
      p.view.release();
    }
    for (const [k, w] of this.writes) {
      if (w.threadId !== threadId) continue;
      this.writes.delete(k);
      w.writer.abort();
    }
    const m = this.threadRefs.get(threadId);
    this.threadRefs.delete(threadId);
    this.replies.get(threadId)?.close();
    this.replies.delete(threadId);
    if (!m) return;
    const byJob = new Map<string, string[]>();
    for (const e of m.values()) {
      const l = byJob.get(e.jobId) ?? [];
      for (let i = 0; i < e.n; i++) l.push(e.id);
      byJob.set(e.jobId, l);
    }
    for (const [jobId, ids] of byJob) this.owners.get(jobId)?.workerRefs([], ids);
  }

  private refs(pairs: [string, string][]): ObjectRef[] {
    return pairs.map(([id, owner]) => new ObjectRef(id as ObjectId, owner));
  }

  private async blocking<T>(taskId: string, f: () => Promise<T>): Promise<T> {
    const lent = this.daemon.lendCpu(taskId);
    try {
      return await f();
    } finally {
      if (lent) await this.daemon.reclaimCpu(taskId);
    }
  }

  private async handle(req: BridgeRequest): Promise<unknown> {
    const owner = this.ownerNow(req.jobId) ?? (await this.ownerFor(req.jobId));
    switch (req.op) {
      case 'submit': {
        try {
          owner.submit(req.info as CallableInfo, this.args(req.args), req.opts as ResolvedTaskOptions, req.taskId as never);
        } catch (e) {
          owner.objects.fail(objectIdOf(req.taskId as never, 0), e as Error);
        }
        this.trackThreadRefs(req.threadId, req.jobId, [[objectIdOf(req.taskId as never, 0), '']], []);
        return undefined;
      }
      case 'get': {
        const refs = this.refs(req.refs);
        const fetched = await this.blocking(req.parentTaskId, () => owner.fetchAll(refs, req.timeoutMs));
        return fetched.map((f, i) => this.toWorker(f, refs[i].id, req.threadId));
      }
      case 'put': {
        const id = (await withStoreRoom(() => owner.putEncoded(req.value))).id;
        this.trackThreadRefs(req.threadId, req.jobId, [[id, '']], []);
        return id;
      }
      case 'putAlloc': {
        const id = objectIdOf(newTaskId(), 0);
        await relieveStorePressure(this.daemon.store, req.meta.sizeBytes);
        const writer = await withStoreRoom(() => this.daemon.store.createWriter(id, req.meta));
        const region = writer.region(0, req.meta.sizeBytes);
        if (!region) {
          // Too large for the area (written to a spill file): the thread sends the bytes instead.
          writer.abort();
          return undefined;
        }
        const write = this.nextWrite++;
        this.writes.set(write, { writer, id, threadId: req.threadId, meta: req.meta });
        return { write, offset: region.byteOffset };
      }
      case 'putCommit': {
        const w = this.writes.get(req.write);
        if (!w || w.threadId !== req.threadId) throw new InvalidArgumentError(`putCommit: no write ${req.write} pending for thread ${req.threadId}.`);
        this.writes.delete(req.write);
        w.writer.commit(0, w.meta.sizeBytes);
        w.writer.seal();
        owner.adoptStored(w.id, w.meta.sizeBytes, req.containedRefs, req.containedOwners);
        this.trackThreadRefs(req.threadId, req.jobId, [[w.id, '']], []);
        return w.id;
      }
      case 'refs':
        this.trackThreadRefs(req.threadId, req.jobId, req.inc, req.dec);
        owner.workerRefs(req.inc, req.dec);
        // Answered once this node is registered as a borrower of what the thread keeps.
        await owner.borrowsSettled();
        return undefined;
      case 'release':
        for (const id of req.pins) {
          this.pins.get(id)?.view.release();
          this.pins.delete(id);
        }
        return undefined;
      case 'wait':
        return this.blocking(req.parentTaskId, async () => {
          const refs = this.refs(req.refs);
          const { ready } = await owner.wait(refs, req.numReturns, req.timeoutMs);
          const readySet = new Set(ready);
          return refs.map((r, i) => (readySet.has(r) ? i : -1)).filter((i) => i >= 0);
        });
      case 'cancel':
        owner.cancel(this.refs([req.ref])[0], req.force);
        return undefined;
      case 'free':
        await owner.free(this.refs(req.refs));
        return undefined;
      case 'nodes':
        return nodeSummaries(await owner.headCall('clusterStatus', {}));
      case 'stats':
        return this.daemon.store.stats();
      case 'createActor':
        owner.createActor(req.info as CallableInfo, this.args(req.args), req.opts as ResolvedActorOptions, req.actorId);
        return undefined;
      case 'actorCall':
        owner.submitActorCall(req.actorId, req.className, req.method, this.args(req.args), req.taskId as never);
        this.trackThreadRefs(req.threadId, req.jobId, [[objectIdOf(req.taskId as never, 0), '']], []);
        return undefined;
      case 'submitGenerator':
        // A stream that cannot be submitted ends at once with the error (the thread reads it as its last item).
        try {
          owner.submitGenerator(req.info as CallableInfo, this.args(req.args), req.opts as ResolvedTaskOptions, req.taskId as never);
        } catch (e) {
          owner.failedStream(req.taskId, e as Error);
        }
        return undefined;
      case 'actorGeneratorCall':
        owner.submitActorGeneratorCall(req.actorId, req.className, req.method, this.args(req.args), req.backpressure, req.taskId as never);
        return undefined;
      case 'genNext':
        return this.blocking(req.parentTaskId, async () => {
          const ref = await owner.streamNext(req.taskId);
          if (!ref) return null;
          // The thread holds the item's ref from now on (it reports when its instance is collected).
          this.trackThreadRefs(req.threadId, req.jobId, [[ref.id, '']], []);
          return ref.id;
        });
      case 'genClose':
        owner.streamClose(req.taskId);
        return undefined;
      case 'killActor':
        await owner.killActor(req.actorId, req.noRestart !== false);
        return undefined;
      case 'getActor':
        return owner.getActor(req.name, req.namespace);
      case 'pgCreate':
        owner.createPlacementGroup(req.id, req.bundles, req.strategy, req.name);
        return undefined;
      case 'pgWait':
        return this.blocking(req.parentTaskId, () => owner.waitPlacementGroup(req.id, req.timeoutMs));
      case 'pgRemove':
        return owner.removePlacementGroup(req.id);
      case 'kv':
        return kvReplyOf(await owner.headCall('kvCall', req.req));
      default:
        throw new Error(`unknown bridge op ${(req as { op: string }).op}`);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.pins.values()) p.view.release();
    this.pins.clear();
    this.channel.close();
    for (const c of this.replies.values()) c.close();
    for (const p of this.ports) p.close();
    for (const o of this.owners.values()) {
      this.router.owners.delete(o);
      await o.close();
    }
  }
}

