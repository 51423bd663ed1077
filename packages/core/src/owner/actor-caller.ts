/**
 * ActorCaller: the actors one owner creates or calls. Responsible for registering new actors with the
 * head and placing their creation (through TaskSubmitter), delivering calls in submission order once the
 * actor is alive (asking the head where an actor lives when this process did not create it), and what
 * happens when an actor's worker or node dies: restarts while `maxRestarts` allows (calls in flight sent
 * again within `maxTaskRetries`), else ActorDiedError. Not responsible for the tasks themselves
 * (TaskSubmitter sends, retries and ends them, and reports actor events through ActorHooks).
 */
import {
  ObjectRef,
  newTaskId,
  objectIdOf,
  encodeValue,
  ActorDiedError,
  ActorUnavailableError,
  newActorId,
  isRayError,
  shortId,
  type ResourceMap,
} from '@samsara/ray-common';
import { demandInGroup } from '@samsara/ray-scheduler';
import type { rayts } from '@samsara/ray-proto';
import { shipCallable, type CallableInfo, type ShippedCallable } from '../code/function-descriptor.js';
import type { ResolvedTaskOptions } from '../runtime/resolved-options.js';
import type { ResolvedActorOptions } from '../runtime/resolved-options.js';
import type { OwnerState } from './owner-state.js';
import type { OwnerReferences } from './owner-references.js';
import type { TaskEventLog } from './task-event-log.js';
import type { GeneratorStreams } from './generator-streams.js';
import type { GeneratorStreamState } from './generator-stream.js';
import type { ActorHooks, TaskSubmitter } from './task-submitter.js';
import type { TaskArg, TaskRecord } from './task-record.js';

/** What this process knows of an actor it created or calls. */
interface ActorRef {
  readonly actorId: string;
  readonly className: string;
  state: 'pending' | 'alive' | 'dead';
  nodeId?: string;
  error?: Error;
  /** Calls in submission order, waiting for their arguments or for the actor to be placed. */
  queue: TaskRecord[];
  lookingUp?: boolean;
  maxTaskRetries: number;
  /** Restarts left (creator only; -1 = unlimited). Other callers follow the head's word. */
  restartsLeft: number;
  /** How to build it again (creator only). */
  template?: TaskRecord;
  /** Its current creation task (creator only): calls follow it to its node before it is alive. */
  creating?: TaskRecord;
  /** Ended by kill(): never restarted. */
  killed?: boolean;
  /** Restarts this process made (creator only), to tell the head's reports of an older incarnation apart. */
  restartsDone: number;
  /** Submission counter: calls keep their order across restarts and retries. */
  nextSeq: number;
  /** Resources this process placed the actor with, counted in its view until the actor ends. */
  held?: { nodeId: string; demand: ResourceMap };
}

const ACTOR_CALL_FN: ShippedCallable = { functionId: '', name: '', kind: 'function', source: '', modulePath: '', moduleIndex: -1, apiAliases: [], imports: [] };
/** How long kill(h, { noRestart: false }) waits for the head (which waits ≤ 10 s for the node's report). */
const KILL_FOR_RESTART_TIMEOUT_MS = 20_000;
/** How long an actor lookup waits for an unreachable head (down or restarting) before the actor counts as dead (Ray: 60 s). */
const HEAD_UNREACHABLE_GIVE_UP_MS = 60_000;
const NO_TASK_OPTIONS: ResolvedTaskOptions = Object.freeze({ demand: {}, maxRetries: 0, retryExceptions: false, scheduling: 'DEFAULT', bundleIndex: -1, generatorBackpressure: 0 });

export class ActorCaller implements ActorHooks {
  private readonly actorRefs = new Map<string, ActorRef>();

  constructor(
    private readonly s: OwnerState,
    private readonly r: OwnerReferences,
    private readonly ev: TaskEventLog,
    private readonly t: TaskSubmitter,
    private readonly streams: GeneratorStreams,
  ) {}

  // ---- ActorHooks (called by TaskSubmitter) ----

  flush(actorId: string): void {
    this.flushActor(this.actorRefs.get(actorId)!);
  }

  creationSent(actorId: string): void {
    const ar = this.actorRefs.get(actorId);
    // After the current turn: a node that died may still hand back calls sent behind an earlier
    // attempt of this creation, which go first (see actorLost).
    if (ar) queueMicrotask(() => this.flushActor(ar));
  }

  placed(actorId: string, nodeId: string, demand: ResourceMap): void {
    const ar = this.actorRefs.get(actorId);
    if (ar) ar.held = { nodeId, demand };
  }

  alive(actorId: string, nodeId: string): void {
    this.actorAlive(actorId, nodeId);
  }

  died(actorId: string, err: Error): void {
    this.actorDied(actorId, err);
  }

  lost(actorId: string, err: Error): void {
    this.actorLost(actorId, err);
  }

  /**
   * Registers a new actor with the head, then places its creation like a task. Returns its id at once;
   * calls made meanwhile queue here until the actor is alive.
   */
  createActor(info: CallableInfo, args: TaskArg[], opts: ResolvedActorOptions, actorId: string = newActorId()): string {
    const fn = shipCallable(info, this.s.o.workingDir, this.s.o.entryScript);
    const taskId = newTaskId();
    const pg = opts.placementGroup;
    const demand = pg ? demandInGroup(pg.id, opts.bundleIndex, opts.demand) : { ...opts.demand };
    const ar: ActorRef = {
      actorId,
      className: info.name,
      state: 'pending',
      queue: [],
      maxTaskRetries: opts.maxTaskRetries,
      restartsLeft: opts.maxRestarts,
      restartsDone: 0,
      nextSeq: 0,
    };
    this.actorRefs.set(actorId, ar);
    const rec: TaskRecord = {
      taskId,
      objectId: objectIdOf(taskId as never, 0),
      name: `${info.name}.constructor`,
      fn,
      args,
      opts: { ...NO_TASK_OPTIONS, scheduling: opts.scheduling, labelSelector: opts.labelSelector },
      demand,
      attempt: 0,
      retriesLeft: 0,
      state: 'resolving',
      creation: { actorId, maxConcurrency: opts.maxConcurrency, pgId: pg?.id ?? '' },
    };
    ar.template = rec;
    ar.creating = rec;
    this.s.tasks.set(taskId, rec);
    this.s.objects.createPending(rec.objectId);
    this.r.holdArgs(rec);
    const namespace = opts.namespace ?? this.s.o.namespace ?? '';
    // The creation is placed once the head has recorded the actor. (Placing an unnamed actor while the
    // head records it saved a round trip, but an actor killed in that window kept its resources on the
    // head's books: a Data SQL session's executors held spark_executor after close().)
    this.s.headCall<rayts.ActorDirectoryReply>('actorCall', {
      op: 'register',
      actor: {
        actorId,
        name: opts.name ?? '',
        namespace,
        className: info.name,
        state: 'PENDING',
        jobId: this.s.o.jobId,
        detached: opts.detached,
        resources: demand,
        ownerAddress: this.s.o.ownAddress,
        maxRestarts: opts.maxRestarts,
        pgId: pg?.id ?? '',
        generatorMethods: [...info.generatorMethods],
      },
      noRestart: opts.getIfExists,
    }).then(
      (reply) => {
        const existing = reply.actor?.actorId && reply.actor.actorId !== actorId ? reply.actor : undefined;
        if (existing) {
          // getIfExists: this handle refers to the actor that already had the name.
          this.t.finish(rec, undefined);
          this.s.objects.resolveInline(rec.objectId, encodeValue(null));
          this.adoptExisting(ar, existing);
          return;
        }
        this.t.resolveArgs(rec);
      },
      (e: Error) => {
        this.actorDied(actorId, e);
        this.t.finish(rec, undefined, e);
      },
    );
    return actorId;
  }

  private adoptExisting(ar: ActorRef, info: rayts.IActorInfo): void {
    // Not its creator: the process that created it restarts it.
    ar.template = undefined;
    this.actorRefs.set(info.actorId!, ar);
    (ar as { actorId: string }).actorId = info.actorId!;
    this.applyActorInfo(ar, info);
    // Still being created (or restarted) by its creator: calls made meanwhile wait for it to be alive.
    if (ar.state === 'pending') this.lookupActor(ar);
  }

  /** Submits a call of an actor method that is a generator: its items stream back (0 = unbounded backpressure). */
  submitActorGeneratorCall(actorId: string, className: string, method: string, args: TaskArg[], backpressure: number, taskId: string = newTaskId()): GeneratorStreamState {
    const st = this.streams.openStream(taskId, backpressure);
    this.submitActorCallRecord(actorId, className, method, args, taskId, st);
    return st;
  }

  /** Submits a method call; calls from this process to one actor are delivered in submission order. */
  submitActorCall(actorId: string, className: string, method: string, args: TaskArg[], taskId: string = newTaskId()): ObjectRef {
    return this.submitActorCallRecord(actorId, className, method, args, taskId, undefined);
  }

  private submitActorCallRecord(actorId: string, className: string, method: string, args: TaskArg[], taskId: string, stream: GeneratorStreamState | undefined): ObjectRef {
    let ar = this.actorRefs.get(actorId);
    if (!ar) {
      ar = { actorId, className, state: 'pending', queue: [], maxTaskRetries: 0, restartsLeft: 0, restartsDone: 0, nextSeq: 0 };
      this.actorRefs.set(actorId, ar);
    }
    const rec: TaskRecord = {
      taskId,
      objectId: objectIdOf(taskId as never, 0),
      name: `${className}.${method}`,
      fn: ACTOR_CALL_FN,
      args,
      opts: NO_TASK_OPTIONS,
      demand: {},
      attempt: 0,
      retriesLeft: ar.maxTaskRetries,
      state: 'resolving',
      call: { actorId: ar.actorId, method },
      seq: ar.nextSeq++,
      stream,
    };
    this.s.tasks.set(taskId, rec);
    this.s.objects.createPending(rec.objectId);
    // A stream hands out refs to its items, never to `T.0`.
    const ref = stream ? new ObjectRef(rec.objectId, this.s.o.ownAddress) : this.r.ref(rec.objectId);
    this.r.holdArgs(rec);
    if (ar.state === 'dead') {
      this.t.finish(rec, undefined, ar.error ?? this.deadActorError(ar, 'it is dead'));
      return ref;
    }
    ar.queue.push(rec);
    if (ar.state === 'pending' && !this.tasksCreating(ar.actorId)) this.lookupActor(ar);
    this.t.resolveArgs(rec);
    return ref;
  }

  private tasksCreating(actorId: string): boolean {
    for (const r of this.s.tasks.values()) if (r.creation?.actorId === actorId) return true;
    return false;
  }

  private deadActorError(ar: ActorRef, why: string): ActorDiedError {
    return new ActorDiedError(`The actor ${ar.className} (actor ${shortId(ar.actorId)}) is dead: ${why.replace(/\.+$/, '')}.`, {
      hint: 'Create a new actor, or give it maxRestarts to have it restarted after failures.',
      ids: { actorId: ar.actorId },
    });
  }

  /** Asks the head where an actor this process did not create lives (waiting while it is pending). */
  private lookupActor(ar: ActorRef, headDownSinceMs?: number): void {
    if (ar.lookingUp || this.s.closed) return;
    ar.lookingUp = true;
    this.s.headCall<rayts.ActorDirectoryReply>('actorCall', { op: 'wait', actor: { actorId: ar.actorId } }, 40_000).then(
      (reply) => {
        ar.lookingUp = false;
        if (!reply.found || !reply.actor) {
          this.actorDied(ar.actorId, this.deadActorError(ar, 'the head does not know it (it never existed or its cluster restarted)'));
          return;
        }
        this.applyActorInfo(ar, reply.actor);
        if (ar.state === 'pending') this.lookupActor(ar);
      },
      (e: Error) => {
        ar.lookingUp = false;
        // The head is down or restarting: its directory comes back with it (docs/head-restart.md).
        const since = headDownSinceMs ?? Date.now();
        if (isRayError(e) && e.code === 'CONNECTION' && Date.now() - since < HEAD_UNREACHABLE_GIVE_UP_MS) {
          setTimeout(() => this.lookupActor(ar, since), 500).unref();
          return;
        }
        this.actorDied(ar.actorId, e);
      },
    );
  }

  private applyActorInfo(ar: ActorRef, info: rayts.IActorInfo): void {
    if (info.state === 'ALIVE' && info.nodeId) this.actorAlive(ar.actorId, info.nodeId);
    else if (info.state === 'DEAD') this.actorDied(ar.actorId, this.deadActorError(ar, info.deathCause || info.reason || 'it ended'));
  }

  private actorAlive(actorId: string, nodeId: string): void {
    const ar = this.actorRefs.get(actorId);
    if (!ar || ar.state === 'dead') return;
    ar.state = 'alive';
    ar.nodeId = nodeId;
    this.flushActor(ar);
  }

  /**
   * The actor's worker or node died. Its creator restarts it while `maxRestarts` allows: calls that were
   * in flight are sent again if they have retries left (`maxTaskRetries`), else fail with
   * ActorUnavailableError; calls made meanwhile wait. Without restarts left it is dead: ActorDiedError.
   * A caller that did not create it asks the head whether it comes back.
   */
  private actorLost(actorId: string, err: Error): void {
    const ar = this.actorRefs.get(actorId);
    if (!ar || ar.state === 'dead') return;
    const inflight = [...this.s.tasks.values()]
      .filter((r) => r.call?.actorId === ar.actorId && r.state === 'submitted')
      .sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
    if (ar.state === 'pending' && ar.creating && ar.creating.state !== 'done') {
      // Calls sent behind a creation that has not answered yet (its node died, or it had not taken the
      // creation): they never ran on a live instance, and wait for the creation's outcome again.
      this.requeueUnanswered(ar, inflight);
      return;
    }
    this.releaseHeld(ar);
    const comesBack = !ar.killed && (ar.template ? ar.restartsLeft !== 0 : true);
    if (!comesBack) {
      for (const rec of inflight) this.t.finish(rec, rec.nodeId, err);
      this.actorDied(ar.actorId, err);
      return;
    }
    if (ar.state === 'alive') {
      ar.state = 'pending';
      ar.nodeId = undefined;
      if (ar.template) {
        if (ar.restartsLeft > 0) ar.restartsLeft--;
        this.recreateActor(ar);
      } else this.lookupActor(ar);
    }
    const requeue: TaskRecord[] = [];
    for (const rec of inflight) {
      if (rec.retriesLeft !== 0) {
        if (rec.retriesLeft > 0) rec.retriesLeft--;
        rec.attempt++;
        rec.state = 'resolving';
        rec.nodeId = undefined;
        requeue.push(rec);
      } else {
        this.t.finish(
          rec,
          rec.nodeId,
          new ActorUnavailableError(`${rec.name} (task ${shortId(rec.taskId)}) was in flight when actor ${shortId(ar.actorId)} failed (${err.message.replace(/\.+$/, '')}); the actor is restarting and the call is not retried.`, {
            hint: 'Give the actor maxTaskRetries to have calls in flight sent again after a restart.',
            ids: { actorId: ar.actorId, taskId: rec.taskId },
          }),
        );
      }
    }
    ar.queue = [...requeue, ...ar.queue].sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
  }

  /** Puts calls sent ahead of their actor's creation back in its queue, in order, without spending retries. */
  private requeueUnanswered(ar: ActorRef, calls: TaskRecord[]): void {
    for (const rec of calls) {
      rec.attempt++;
      rec.state = 'resolving';
      rec.nodeId = undefined;
    }
    ar.queue = [...calls, ...ar.queue].sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
  }

  private releaseHeld(ar: ActorRef): void {
    if (!ar.held) return;
    this.s.view.removeInflight(ar.held.nodeId, ar.held.demand);
    ar.held = undefined;
  }

  /** Creates a restarted actor again from its creation template (same id, new creation task). */
  private recreateActor(ar: ActorRef): void {
    const t = ar.template!;
    ar.restartsDone++;
    const taskId = newTaskId();
    const rec: TaskRecord = { ...t, taskId, objectId: objectIdOf(taskId as never, 0), attempt: 0, state: 'resolving', nodeId: undefined, argRefs: undefined };
    ar.creating = rec;
    this.s.tasks.set(taskId, rec);
    this.s.objects.createPending(rec.objectId);
    this.ev.event(rec, 'RETRYING', `restarting actor ${shortId(ar.actorId)} (${ar.restartsLeft < 0 ? 'unlimited' : ar.restartsLeft} restarts left)`);
    if (t.wireArgs) this.t.place(rec);
    else this.t.resolveArgs(rec);
  }

  private actorDied(actorId: string, err: Error): void {
    const ar = this.actorRefs.get(actorId);
    if (!ar || ar.state === 'dead') return;
    ar.state = 'dead';
    this.releaseHeld(ar);
    ar.error = isRayError(err) && err.code === 'ACTOR_DIED' ? err : this.deadActorError(ar, err.message);
    for (const rec of ar.queue.splice(0)) this.t.finish(rec, undefined, ar.error);
    for (const rec of [...this.s.tasks.values()]) if (rec.call?.actorId === ar.actorId && rec.state === 'submitted') this.t.finish(rec, rec.nodeId, ar.error);
  }

  /**
   * Sends the actor's queued calls whose arguments are ready, in order: to its node once it is alive,
   * and (its creator) right behind its creation while that runs — the node holds them until the actor
   * is built, which saves the round trip of waiting for the creation's answer first.
   */
  private flushActor(ar: ActorRef): void {
    const alive = ar.state === 'alive' && !!ar.nodeId;
    const nodeId = alive ? ar.nodeId : ar.state === 'pending' && ar.creating?.state === 'submitted' ? ar.creating.nodeId : undefined;
    if (!nodeId) return;
    while (ar.queue.length && ar.queue[0].wireArgs) {
      const conn = this.t.connection(nodeId);
      if (!conn) {
        // Not alive yet: its creation's own failure decides (it is placed again or fails).
        if (!alive) return;
        const rec = ar.queue.shift()!;
        if (rec.state === 'done') continue;
        this.actorDied(ar.actorId, this.deadActorError(ar, `its node ${shortId(nodeId)} is gone`));
        this.t.finish(rec, undefined, ar.error);
        return;
      }
      const rec = ar.queue.shift()!;
      if (rec.state === 'done') continue;
      rec.state = 'submitted';
      rec.nodeId = nodeId;
      conn.send({
        taskId: rec.taskId,
        jobId: this.s.o.jobId,
        args: rec.wireArgs as rayts.Arg[],
        attempt: rec.attempt,
        ownerAddress: this.s.o.ownAddress,
        actorId: ar.actorId,
        method: rec.call!.method,
        namespace: this.s.o.namespace ?? '',
        ...this.streams.streamFields(rec),
      });
    }
  }

  /**
   * kill(): `noRestart` ends the actor for good. Without it the kill counts as a failure (Ray's
   * `no_restart=False`): the head stops the instance and, once its node reported it gone, says whether
   * it restarts; its creator then starts it again (this process, or another one that learns it from
   * the cluster view, see {@link onClusterView}).
   */
  async killActor(actorId: string, noRestart = true): Promise<void> {
    const ar = this.actorRefs.get(actorId);
    if (noRestart) {
      if (ar) ar.killed = true;
      await this.s.headCall('actorCall', { op: 'kill', actor: { actorId: ar?.actorId ?? actorId, reason: 'killed by kill()' } });
      if (ar) this.actorDied(ar.actorId, this.deadActorError(ar, 'killed by kill()'));
      return;
    }
    const reason = 'killed by kill() with noRestart: false';
    const reply = await this.s.headCall<rayts.ActorDirectoryReply>('actorCall', { op: 'kill', restart: true, actor: { actorId: ar?.actorId ?? actorId, reason } }, KILL_FOR_RESTART_TIMEOUT_MS);
    if (!ar) return;
    if (reply.actor?.state === 'RESTARTING') this.actorLost(ar.actorId, this.deadActorError(ar, reason));
    else this.actorDied(ar.actorId, this.deadActorError(ar, reply.actor?.deathCause || reason));
  }

  /**
   * The head's view of actors: an actor this process created and holds alive, which the head says is
   * RESTARTING after as many restarts as this process made (not a report of an earlier incarnation),
   * failed without this process seeing it (killed by another process with `noRestart: false`, or it
   * died idle): restart it now, as after any failure.
   */
  onClusterView(actors: readonly rayts.IActorInfo[]): void {
    for (const info of actors) {
      if (info.state !== 'RESTARTING') continue;
      const ar = this.actorRefs.get(info.actorId ?? '');
      if (!ar?.template || ar.state !== 'alive' || (info.numRestarts ?? 0) < ar.restartsDone) continue;
      this.actorLost(ar.actorId, this.deadActorError(ar, info.deathCause || info.reason || 'it failed'));
    }
  }

  async getActor(name: string, namespace: string): Promise<{ actorId: string; className: string; generatorMethods: string[] } | undefined> {
    const reply = await this.s.headCall<rayts.ActorDirectoryReply>('actorCall', { op: 'get', name, namespace });
    const a = reply.found ? reply.actor : undefined;
    if (!a || a.state === 'DEAD') return undefined;
    return { actorId: a.actorId!, className: a.className ?? 'Actor', generatorMethods: a.generatorMethods ?? [] };
  }
}
