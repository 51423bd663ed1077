/**
 * TaskSubmitter: the tasks one owner submits (plain tasks, streaming generator tasks, and the creation
 * and calls of actors once ActorCaller hands them over). Responsible for resolving top-level ObjectRef
 * arguments, choosing a node (placement policies from @samsara/ray-scheduler), sending specs on the
 * owner's batched streams, taking results, retries (node or worker death, retried exceptions, memory
 * kills, spillback), cancel, and rebuilding lost stored objects from lineage. Not responsible for
 * actors' lifecycles (ActorCaller, reached through ActorHooks) or for reading objects (ObjectResolver).
 *
 * Task states: resolving → (infeasible ⇄ resolving) → submitted → done; submitted → resolving on a
 * retry; any → done on cancel.
 */
import {
  ObjectRef,
  newTaskId,
  objectIdOf,
  taskIdOfObject,
  decodeError,
  NodeDiedError,
  ActorDiedError,
  TaskCancelledError,
  ObjectLostError,
  fits,
  isRayError,
  shortId,
  type RayError,
  type ResourceMap,
} from '@samsara/ray-common';
import { chooseNode, matchesLabels, demandInGroup, SpreadState, type NodeView } from '@samsara/ray-scheduler';
import type { rayts } from '@samsara/ray-proto';
import { NodeConnection } from './node-connection.js';
import { shipCallable, type CallableInfo } from '../code/function-descriptor.js';
import type { ResolvedTaskOptions } from '../runtime/resolved-options.js';
import type { OwnerState } from './owner-state.js';
import type { OwnerReferences } from './owner-references.js';
import type { TaskEventLog } from './task-event-log.js';
import type { ObjectResolver } from './object-resolver.js';
import type { GeneratorStreams } from './generator-streams.js';
import type { GeneratorStreamState } from './generator-stream.js';
import type { TaskArg, TaskRecord } from './task-record.js';

/** Node kinds an actor is placed on only when no other node fits (DEFAULT strategy). */
const AVOID_FOR_ACTORS: readonly string[] = ['head'];

/** Summary used by `get` timeouts and `rayts status`. */
export interface PendingTaskSummary {
  taskId: string;
  name: string;
  reason: string;
  resources: ResourceMap;
}

/** What task submission tells the owner's actors part (ActorCaller) about actor tasks. */
export interface ActorHooks {
  /** A call's arguments are ready: send what the actor's queue can send. */
  flush(actorId: string): void;
  /** The actor's creation was sent to a node (calls may follow it there before it is alive). */
  creationSent(actorId: string): void;
  /** The actor was placed on `nodeId` holding `demand` (counted until it ends). */
  placed(actorId: string, nodeId: string, demand: ResourceMap): void;
  alive(actorId: string, nodeId: string): void;
  died(actorId: string, err: Error): void;
  /** Its worker or node died: restart it or let it die (see ActorCaller). */
  lost(actorId: string, err: Error): void;
}

export class TaskSubmitter {
  private readonly infeasible = new Set<TaskRecord>();
  private readonly spread = new SpreadState();
  private readonly submitterId = newTaskId();
  /** Set by CoreWorker once ActorCaller exists. */
  actors!: ActorHooks;

  constructor(
    private readonly s: OwnerState,
    private readonly r: OwnerReferences,
    private readonly ev: TaskEventLog,
    private readonly resolver: ObjectResolver,
    private readonly streams: GeneratorStreams,
  ) {
    s.view.onChange((dead) => this.onClusterChange(dead));
  }

  /** Submits a task; returns the ref of its result at once. Throws SerializationError for unshippable code. */
  submit(info: CallableInfo, args: TaskArg[], opts: ResolvedTaskOptions, taskId = newTaskId()): ObjectRef {
    this.submitRecord(info, args, opts, taskId, undefined);
    return this.r.ref(objectIdOf(taskId as never, 0));
  }

  /**
   * Submits a generator function's task: its items stream back while it runs (see GeneratorStreamState).
   * Throws SerializationError for unshippable code.
   */
  submitGenerator(info: CallableInfo, args: TaskArg[], opts: ResolvedTaskOptions, taskId = newTaskId()): GeneratorStreamState {
    const st = this.streams.openStream(taskId, opts.generatorBackpressure);
    try {
      this.submitRecord(info, args, opts, taskId, st);
    } catch (e) {
      this.streams.forgetStream(taskId);
      throw e;
    }
    return st;
  }

  private submitRecord(info: CallableInfo, args: TaskArg[], opts: ResolvedTaskOptions, taskId: string, stream: GeneratorStreamState | undefined): void {
    const fn = shipCallable(info, this.s.o.workingDir, this.s.o.entryScript);
    const objectId = objectIdOf(taskId as never, 0);
    const pg = opts.placementGroup;
    const demand = pg ? demandInGroup(pg.id, opts.bundleIndex, opts.demand) : { ...opts.demand };
    const rec: TaskRecord = {
      taskId,
      objectId,
      name: opts.name ?? info.name,
      fn,
      args,
      opts,
      demand,
      attempt: 0,
      retriesLeft: opts.maxRetries,
      state: 'resolving',
      stream,
    };
    this.s.tasks.set(taskId, rec);
    this.s.objects.createPending(objectId);
    this.r.holdArgs(rec);
    this.resolveArgs(rec);
  }

  resolveArgs(rec: TaskRecord): void {
    const refs = rec.args.filter((a): a is { kind: 'ref'; ref: ObjectRef } => a.kind === 'ref');
    if (refs.length === 0) {
      rec.wireArgs = rec.args.map((a) => ({ inline: (a as { bytes: Uint8Array }).bytes }));
      this.argsReady(rec);
      return;
    }
    rec.reason = `waiting for ${refs.length} argument object${refs.length > 1 ? 's' : ''}`;
    Promise.all(refs.map((a) => this.resolver.resolveLocation(a.ref, undefined)))
      .then((resolved) => {
        if (rec.state === 'done') return;
        const byNode: Record<string, number> = {};
        let i = 0;
        rec.wireArgs = rec.args.map((a) => {
          if (a.kind === 'value') return { inline: a.bytes };
          const r = resolved[i++];
          if (r.inline) return { inline: r.inline, isRef: true };
          if (r.nodeId) byNode[r.nodeId] = (byNode[r.nodeId] ?? 0) + r.sizeBytes;
          return { objectId: a.ref.id, location: r.location, sizeBytes: r.sizeBytes, isRef: true };
        });
        rec.argBytesByNode = byNode;
        this.argsReady(rec);
      })
      .catch((e: unknown) => {
        // An argument failed: the task fails with the same error, as in Ray.
        this.finish(rec, undefined, e as Error);
      });
  }

  private argsReady(rec: TaskRecord): void {
    if (rec.call) this.actors.flush(rec.call.actorId);
    else this.place(rec);
  }

  place(rec: TaskRecord): void {
    if (rec.state === 'done' || this.s.closed) return;
    const all = this.s.view.placementNodes();
    const request = {
      demand: rec.demand,
      strategy: rec.opts.scheduling,
      labelSelector: rec.opts.labelSelector,
      localNodeId: this.s.o.localNodeId,
      argBytesByNode: rec.argBytesByNode,
      // An actor on the head's node dies with the head: use worker nodes first (docs/head-restart.md).
      avoidKinds: rec.creation ? AVOID_FOR_ACTORS : undefined,
    };
    const avoid = rec.avoidNode;
    rec.avoidNode = undefined;
    let nodes = avoid ? all.filter((n) => n.nodeId !== avoid) : all;
    let d = chooseNode(nodes, request, this.spread);
    if (avoid && d.kind === 'infeasible') {
      // Only the node that handed it back can run it: it goes back there (and stays: see NodeDaemon.spill).
      nodes = all;
      d = chooseNode(nodes, request, this.spread);
    }
    let nodeId: string | undefined;
    if (d.kind === 'placed') nodeId = d.nodeId;
    else if (d.kind === 'wait') nodeId = this.queueTarget(rec, nodes);
    if (!nodeId) {
      const reason = d.kind === 'placed' ? 'no node' : d.reason;
      // Before the head's first view (an owner a node made when a thread's first submit came), the node
      // list is only not known yet: the task waits for that view (onClusterChange places it) without a
      // PENDING event. One per task made a 40,000-task burst from actors a storm of head reports.
      if (!this.s.view.hasView) {
        rec.state = 'infeasible';
        this.infeasible.add(rec);
        return;
      }
      if (rec.state !== 'infeasible' || rec.reason !== reason) {
        rec.reason = reason;
        this.ev.event(rec, 'PENDING', reason);
      }
      rec.state = 'infeasible';
      this.infeasible.add(rec);
      return;
    }
    this.infeasible.delete(rec);
    this.dispatch(rec, nodeId);
  }

  /** Every feasible node is busy: queue on the one where this submitter has the least work. */
  private queueTarget(rec: TaskRecord, nodes: NodeView[]): string | undefined {
    const s = rec.opts.scheduling;
    const candidates = nodes.filter(
      (n) =>
        n.alive &&
        fits(rec.demand, n.total) &&
        (!rec.opts.labelSelector || matchesLabels(n.labels, rec.opts.labelSelector)) &&
        (typeof s !== 'object' || s.soft || n.nodeId === s.nodeId),
    );
    if (typeof s === 'object') {
      const target = candidates.find((n) => n.nodeId === s.nodeId);
      if (target) return target.nodeId;
    }
    let best: string | undefined;
    let bestLoad = Infinity;
    for (const n of candidates) {
      const load = this.s.view.queueLoad(n.nodeId);
      if (load < bestLoad) {
        bestLoad = load;
        best = n.nodeId;
      }
    }
    return best;
  }

  connection(nodeId: string): NodeConnection | undefined {
    let c = this.s.conns.get(nodeId);
    if (c && !c.isClosed) return c;
    const node = this.s.view.get(nodeId);
    if (!node || !node.alive) return undefined;
    c = new NodeConnection(nodeId, node.address, this.s.o.token, this.submitterId, {
      onResults: (b) => this.onResults(b),
      onClosed: (conn, e) => this.onConnectionClosed(conn, e),
    });
    this.s.conns.set(nodeId, c);
    return c;
  }

  private dispatch(rec: TaskRecord, nodeId: string): void {
    const conn = this.connection(nodeId);
    if (!conn) {
      rec.state = 'infeasible';
      this.infeasible.add(rec);
      return;
    }
    rec.state = 'submitted';
    rec.nodeId = nodeId;
    rec.reason = undefined;
    this.s.view.addInflight(nodeId, rec.demand);
    const fnSent = conn.sentFunctions.has(rec.fn.functionId);
    if (!fnSent) conn.sentFunctions.add(rec.fn.functionId);
    const wd = this.s.o.workingDirArchive;
    let archive: Uint8Array | undefined;
    if (wd && !conn.sentWorkingDirs.has(wd.hash)) {
      conn.sentWorkingDirs.add(wd.hash);
      archive = wd.bytes;
    }
    conn.send({
      taskId: rec.taskId,
      jobId: this.s.o.jobId,
      fn: {
        functionId: rec.fn.functionId,
        // Actor classes keep their class name (the worker labels errors "Class.method").
        name: rec.creation ? rec.fn.name : rec.name,
        source: fnSent ? '' : rec.fn.source,
        modulePath: rec.fn.modulePath,
        moduleIndex: rec.fn.moduleIndex,
        kind: rec.fn.kind,
        apiAliases: rec.fn.apiAliases as string[],
        // Like the source, sent once per stream.
        imports: fnSent || rec.fn.imports.length === 0 ? undefined : (rec.fn.imports as rayts.IImportRef[]),
      },
      args: rec.wireArgs as rayts.Arg[],
      resources: rec.demand,
      attempt: rec.attempt,
      ownerAddress: this.s.o.ownAddress,
      maxRetries: rec.retriesLeft,
      workingDirHash: wd?.hash ?? '',
      workingDirArchive: archive,
      namespace: this.s.o.namespace ?? '',
      actorId: rec.creation?.actorId ?? '',
      actorCreation: !!rec.creation,
      maxConcurrency: rec.creation?.maxConcurrency ?? 0,
      pgId: rec.creation?.pgId ?? '',
      ...this.streams.streamFields(rec),
    });
    if (rec.creation) this.actors.creationSent(rec.creation.actorId);
  }

  private onResults(batch: rayts.ResultBatch): void {
    for (const ev of batch.events as rayts.TaskEvent[]) {
      const rec = this.s.tasks.get(ev.taskId);
      if (rec && rec.state === 'submitted' && ev.attempt === rec.attempt && ev.state === 'PENDING') {
        rec.reason = ev.reason;
      }
    }
    for (const r of batch.results as rayts.TaskResult[]) {
      if (r.status === 'stream_item') this.streams.onStreamItem(r);
      else this.onResult(r);
    }
  }

  private onResult(r: rayts.TaskResult): void {
    const rec = this.s.tasks.get(r.taskId);
    if (!rec || rec.state !== 'submitted' || r.attempt !== rec.attempt) {
      this.r.dropRegisteredContained(r);
      return;
    }
    if (rec.stream) rec.stream.reportCount(r.itemIndex);
    // An actor holds its creation's resources for its whole life: they stay counted until it ends.
    if (rec.nodeId && !(rec.creation && r.status === 'ok')) this.s.view.removeInflight(rec.nodeId, rec.demand);
    else if (rec.nodeId && rec.creation) {
      this.actors.placed(rec.creation.actorId, rec.nodeId, rec.demand);
    }
    if (r.spilled && r.status === 'error' && !rec.cancelled) {
      // Spillback: the node handed it back before it started; place it again (no retry is spent).
      const from = rec.nodeId;
      rec.nodeId = undefined;
      rec.avoidNode = from;
      this.ev.event(rec, 'PENDING', `handed back by busy node ${shortId(from ?? '')}; placing it again`);
      this.place(rec);
      return;
    }
    if (r.status === 'ok') {
      if (rec.stream) {
        // The producer ran to its end (a cancel that came too late changes nothing).
        this.finish(rec, r.nodeId);
        return;
      }
      if (rec.cancelled) {
        this.r.dropRegisteredContained(r);
        this.finish(rec, undefined, this.cancelledError(rec));
        return;
      }
      if (r.stored) this.s.objects.resolveStored(rec.objectId, r.nodeAddress, r.nodeId, r.sizeBytes);
      else this.s.objects.resolveInline(rec.objectId, r.inline);
      if (r.stored && !rec.call && !rec.creation) this.s.lineage.set(rec.objectId, rec);
      if (r.containedRefs?.length) this.r.holdContained(rec.objectId, r.containedRefs, r.containedOwners, true);
      this.finish(rec, r.nodeId);
      if (rec.creation) this.actors.alive(rec.creation.actorId, r.nodeId);
      return;
    }
    const err = decodeError(r.inline);
    if (rec.creation) {
      this.actors.died(rec.creation.actorId, err);
      this.finish(rec, r.nodeId, err);
      return;
    }
    if (rec.call && isRayError(err) && err.code === 'ACTOR_DIED') {
      this.actors.lost(rec.call.actorId, err);
      return;
    }
    if (rec.cancelled || (isRayError(err) && err.code === 'TASK_CANCELLED')) {
      this.finish(rec, r.nodeId, this.cancelledError(rec));
      return;
    }
    // The node could not fetch an argument this process owns (its holder died before the head said so):
    // rebuild the argument from lineage and run the task again once it is back.
    const lostArg = isRayError(err) && err.code === 'OBJECT_LOST' ? err.ids.objectId : undefined;
    const rebuilding = (id: string) => this.s.objects.get(id)?.state === 'pending' || this.objectLost(id, err.message);
    if (lostArg && rec.args.some((a) => a.kind === 'ref' && a.ref.id === lostArg) && rebuilding(lostArg)) {
      rec.attempt++;
      rec.state = 'resolving';
      rec.nodeId = undefined;
      this.resolveArgs(rec);
      return;
    }
    if (r.retriable) {
      this.retryOrFail(rec, err);
      return;
    }
    if (isRayError(err) && err.code === 'TASK_ERROR' && this.retriesException(rec, err)) {
      this.retryOrFail(rec, err);
      return;
    }
    this.finish(rec, r.nodeId, err);
  }

  private retriesException(rec: TaskRecord, err: RayError): boolean {
    const re = rec.opts.retryExceptions;
    if (re === true) return true;
    if (Array.isArray(re)) return re.includes((err as unknown as { originalName: string }).originalName);
    return false;
  }

  private retryOrFail(rec: TaskRecord, err: Error): void {
    if (isRayError(err) && err.ids.reason === 'queue_full' && !rec.cancelled) {
      // The node refused for capacity (its queue is full): backpressure, not a failure. Place the task
      // again after a jittered, growing wait (50 ms … 2 s) without spending a retry.
      rec.refusals = (rec.refusals ?? 0) + 1;
      rec.attempt++;
      rec.state = 'resolving';
      const refusedBy = rec.nodeId;
      rec.nodeId = undefined;
      const waitMs = Math.min(2000, 50 * 2 ** Math.min(rec.refusals - 1, 6)) * (0.5 + Math.random() / 2);
      this.ev.event(rec, 'RETRYING', `refused for capacity (${rec.refusals}×), placing again in ${Math.round(waitMs)} ms: ${err.message}`, refusedBy);
      const t = setTimeout(() => {
        if (rec.state === 'resolving' && !rec.cancelled) this.place(rec);
      }, waitMs);
      t.unref();
      return;
    }
    if (rec.retriesLeft === 0 || rec.cancelled) {
      this.finish(rec, rec.nodeId, err);
      return;
    }
    if (rec.retriesLeft > 0) rec.retriesLeft--;
    rec.attempt++;
    rec.state = 'resolving';
    const failedOn = rec.nodeId;
    rec.nodeId = undefined;
    this.ev.event(rec, 'RETRYING', `attempt ${rec.attempt} after: ${err.message}`, failedOn);
    this.s.o.log.debug({ taskId: rec.taskId, attempt: rec.attempt }, 'retrying task');
    if (isRayError(err) && err.ids.reason === 'memory') {
      // Killed by a node's memory monitor: back off so that memory can recover (0.5 s, 1 s, 2 s … 10 s).
      const t = setTimeout(() => this.place(rec), Math.min(10_000, 500 * 2 ** Math.min(rec.attempt - 1, 5)));
      t.unref();
      return;
    }
    this.place(rec);
  }

  private cancelledError(rec: TaskRecord): TaskCancelledError {
    return new TaskCancelledError(`Task ${rec.name} (task ${shortId(rec.taskId)}) was cancelled.`, {
      ids: { taskId: rec.taskId },
    });
  }

  finish(rec: TaskRecord, nodeId: string | undefined, error?: Error): void {
    if (rec.state === 'done') return;
    rec.state = 'done';
    this.infeasible.delete(rec);
    this.s.tasks.delete(rec.taskId);
    if (rec.argRefs) this.r.refs?.removeSubmitted(rec.argRefs);
    if (rec.borrowedArgs) for (const id of rec.borrowedArgs) this.r.borrows?.unhold(id);
    rec.borrowedArgs = undefined;
    if (this.r.freeWhenSettled.delete(rec.objectId)) queueMicrotask(() => this.r.dropObject(rec.objectId));
    if (error) {
      this.s.objects.fail(rec.objectId, error);
      this.ev.event(rec, error instanceof TaskCancelledError ? 'CANCELLED' : 'FAILED', error.message, nodeId);
    } else {
      this.ev.event(rec, 'FINISHED', '', nodeId);
    }
    if (rec.stream) {
      // A stream's end is its last item (or its error); `T.0` was only the task's own entry.
      rec.stream.end(error);
      this.s.objects.delete(rec.objectId);
    }
  }

  private onConnectionClosed(conn: NodeConnection, e: Error | undefined): void {
    if (this.s.conns.get(conn.nodeId) === conn) this.s.conns.delete(conn.nodeId);
    if (this.s.closed) return;
    this.s.view.markUnreachable(conn.nodeId);
    this.failTasksOnNode(conn.nodeId, e?.message ?? 'stream closed');
  }

  private failTasksOnNode(nodeId: string, why: string): void {
    for (const rec of [...this.s.tasks.values()]) {
      if (rec.state !== 'submitted' || rec.nodeId !== nodeId) continue;
      this.s.view.removeInflight(nodeId, rec.demand);
      const actorId = rec.call?.actorId ?? rec.creation?.actorId;
      if (actorId) {
        const e = new ActorDiedError(`The actor ${shortId(actorId)} was on node ${shortId(nodeId)}, which died (${why}).`, {
          hint: 'Create a new actor, or give it maxRestarts to have it restarted after failures.',
          ids: { actorId, nodeId },
        });
        if (rec.creation) {
          // Its creation never finished: place it again (a restart that costs nothing).
          rec.state = 'resolving';
          rec.attempt++;
          rec.nodeId = undefined;
          this.place(rec);
        } else this.actors.lost(actorId, e);
        continue;
      }
      const err = new NodeDiedError(
        `Task ${rec.name} (task ${shortId(rec.taskId)}) was running on node ${shortId(nodeId)}, which died or disconnected (${why}).`,
        { hint: 'Retries were exhausted; raise maxRetries to survive more node failures.', ids: { taskId: rec.taskId, nodeId } },
      );
      this.retryOrFail(rec, err);
    }
  }

  private onClusterChange(dead: { nodeId: string; address?: string }[]): void {
    for (const n of dead) {
      // What a dead node borrowed is released (its holders are gone).
      if (n.address) this.r.refs?.dropBorrower(n.address);
      this.s.conns.get(n.nodeId)?.close();
      this.s.conns.delete(n.nodeId);
      this.failTasksOnNode(n.nodeId, 'node declared dead by the head');
      for (const id of this.s.objects.storedOn(n.nodeId)) this.objectLost(id, `node ${shortId(n.nodeId)} holding it died`);
    }
    if (this.infeasible.size) for (const rec of [...this.infeasible]) this.place(rec);
  }

  /**
   * A stored object this process owns is gone (its node died, or a pull found nothing). Rebuilt by
   * running the task that made it again, within that task's retry budget (lineage reconstruction);
   * `put` objects and exhausted budgets fail with ObjectLostError. Returns true when rebuilding.
   */
  objectLost(id: string, why: string): boolean {
    const e = this.s.objects.get(id);
    if (!e || e.state !== 'ready' || !e.location) return false;
    const rec = this.s.lineage.get(id);
    if (rec && rec.retriesLeft !== 0 && !this.s.closed) {
      if (rec.retriesLeft > 0) rec.retriesLeft--;
      rec.attempt++;
      rec.state = 'resolving';
      rec.nodeId = undefined;
      this.s.lineage.delete(id);
      rec.argRefs = undefined;
      rec.borrowedArgs = undefined;
      this.s.objects.reset(id);
      this.s.tasks.set(rec.taskId, rec);
      this.ev.event(rec, 'RETRYING', `reconstructing object ${shortId(id)}: ${why}`);
      this.resolveArgs(rec);
      return true;
    }
    // `<task>.0` is a task's return or a put; `<task>.<n>` with n ≥ 1 an item a streaming generator yielded.
    const streamItem = !id.endsWith('.0');
    this.s.objects.fail(
      id,
      new ObjectLostError(`Object ${shortId(id)} is lost: ${why}.`, {
        hint: rec
          ? 'The task that made it has no retries left to rebuild it; raise maxRetries.'
          : streamItem
            ? `It was yielded by a streaming generator (task ${shortId(taskIdOfObject(id as never))}), whose items are not rebuilt from lineage; run the generator again.`
            : 'It was created by put() and cannot be rebuilt from lineage; put it again.',
        ids: { objectId: id },
      }),
    );
    return false;
  }

  cancel(ref: ObjectRef, force: boolean): void {
    this.cancelTask(taskIdOfObject(ref.id), force);
  }

  /**
   * Cancels a task of this process. A running streaming task is stopped even without `force` (the node
   * ends its generator at the next item).
   */
  cancelTask(taskId: string, force: boolean): void {
    const rec = this.s.tasks.get(taskId);
    if (!rec || rec.state === 'done') return;
    rec.cancelled = true;
    rec.retriesLeft = 0;
    if (rec.state === 'submitted' && rec.nodeId) {
      this.s.conns.get(rec.nodeId)?.cancel(rec.taskId, force);
      return;
    }
    this.finish(rec, undefined, this.cancelledError(rec));
  }

  pendingTasks(): PendingTaskSummary[] {
    const out: PendingTaskSummary[] = [];
    for (const rec of this.s.tasks.values()) {
      if (rec.state === 'infeasible' || (rec.reason && rec.state !== 'done')) {
        out.push({ taskId: rec.taskId, name: rec.name, reason: rec.reason ?? '', resources: rec.demand });
      }
    }
    return out;
  }

  /** Fails what is not finished (the owner is closing). */
  abandonAll(error: (rec: TaskRecord) => Error): void {
    for (const rec of this.s.tasks.values()) if (rec.state !== 'done') this.s.objects.fail(rec.objectId, error(rec));
    this.s.tasks.clear();
  }
}
