/**
 * ActorHost: the actors living on one node, each in its own worker thread. Responsible for creating an
 * actor from its creation spec, delivering method calls in arrival order, answering calls to dead or
 * unknown actors with ActorDiedError, killing actors (on request, with their placement group, or when
 * the node stops) and reporting state changes to the head. Holds the actor's resources until it dies.
 */
import { Worker, type MessagePort } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  ActorDiedError,
  encodeError,
  encodeValue,
  errorFromWire,
  shortId,
  type Logger,
  type ResourceMap,
} from '@samsara/ray-common';
import type { rayts } from '@samsara/ray-proto';
import type { WorkerFunction, WorkerInit, WorkerReply } from '../worker/protocol.js';
import type { ActorToMain, ActorWorkerData, MainToActor } from '../worker/actor-protocol.js';
import type { WorkerArg } from '../worker/values.js';
import { workerHeapMb } from './worker-pool.js';
import { ActorThreadCapacity } from './actor-capacity.js';
import type { EncodedObject } from '@samsara/ray-object-store';
import type { StreamItem } from '../worker/generator-driver.js';

const ENTRY = fileURLToPath(new URL('../thread/actor-entry.js', import.meta.url));

/**
 * V8 limits of an actor's thread. The old generation is capped like a task thread's
 * (`RAYTS_WORKER_HEAP_MB`, default 2048). The young generation is capped at `RAYTS_ACTOR_YOUNG_GEN_MB`
 * (default 16 MiB; V8's own default lets it grow to 48 MiB on 64-bit): V8 keeps a young generation at
 * the size it grew to, and a node holds hundreds of mostly idle actors, so what an actor once used for
 * short-lived garbage would stay resident in each of them. An actor that allocates a lot runs more
 * (cheap) scavenges instead.
 */
export function actorResourceLimits(env: NodeJS.ProcessEnv = process.env): { maxOldGenerationSizeMb: number; maxYoungGenerationSizeMb?: number } {
  const young = env.RAYTS_ACTOR_YOUNG_GEN_MB === undefined ? DEFAULT_ACTOR_YOUNG_GEN_MB : Number(env.RAYTS_ACTOR_YOUNG_GEN_MB);
  const limits: { maxOldGenerationSizeMb: number; maxYoungGenerationSizeMb?: number } = { maxOldGenerationSizeMb: workerHeapMb(env) };
  if (Number.isFinite(young) && young > 0) limits.maxYoungGenerationSizeMb = young;
  return limits;
}
const DEFAULT_ACTOR_YOUNG_GEN_MB = 16;

/** How many actor threads may boot at once: `RAYTS_ACTOR_BOOTS`, default the number of CPUs (at least 2). */
export function actorBootConcurrency(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.RAYTS_ACTOR_BOOTS);
  return Number.isInteger(v) && v >= 1 ? v : Math.max(2, availableParallelism());
}

/**
 * The environment of an actor's thread: the node's (as a worker gets by default), with msgpackr's native
 * string extractor off unless `MSGPACKR_NATIVE_ACCELERATION_DISABLED` is set already. The extractor
 * (msgpackr-extract, which loads detect-libc, child_process, net …) costs about 1 MiB in every thread and
 * only speeds up decoding large string-heavy messages; actor calls carry small inline values.
 */
export function actorThreadEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return env.MSGPACKR_NATIVE_ACCELERATION_DISABLED === undefined ? { ...env, MSGPACKR_NATIVE_ACCELERATION_DISABLED: 'true' } : env;
}

/** Where a result goes: the submitter stream it came from. */
export interface ReplyTarget {
  readonly closed: boolean;
}

/**
 * Actor threads kept booted ahead, waiting for an actor (as Ray prestarts worker processes): creating
 * an actor then skips the ~100 ms a thread spends booting Node and loading its modules. Default
 * `RAYTS_WARM_ACTORS`, else the node's CPUs (at most 4); 0 turns it off (edge nodes).
 */
export function warmActorCount(cpus: number, env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.RAYTS_WARM_ACTORS);
  if (env.RAYTS_WARM_ACTORS !== undefined && Number.isInteger(v) && v >= 0) return v;
  return Math.min(4, Math.max(0, Math.ceil(cpus)));
}

interface WarmThread {
  readonly worker: Worker;
  booted: boolean;
}

export interface ActorHostDeps {
  /** Threads to keep booted ahead (see warmActorCount) [0]. */
  readonly warmActors?: number;
  readonly log: Logger;
  readonly init: () => WorkerInit;
  readonly nodeId: () => string;
  readonly address: string;
  reply(to: ReplyTarget, r: rayts.ITaskResult, origin?: { jobId: string; callerAddress: string }): void;
  /** An actor's thread ended: the references it held are gone. */
  threadExited?(threadId: number): void;
  /** A port of its own to the node's worker bridge, for a new thread (transferred with its workerData). */
  threadPort?(): MessagePort | undefined;
  report(info: rayts.IActorInfo): void;
  release(demand: ResourceMap): void;
  /** Puts a large result into the node's store; returns the result message fields. */
  storeResult(objectId: string, stored: EncodedObject, jobId: string, ownerAddress: string): rayts.ITaskResult;
  /** Sends items of a streaming call after `chain` (see NodeDaemon.sendItems). */
  sendItems?(to: ReplyTarget, spec: { taskId: string; attempt: number; jobId: string; ownerAddress: string }, items: readonly StreamItem[], chain: Promise<void> | undefined): Promise<void>;
  /** Items of a streaming call its caller consumed before the call reached the actor. */
  takeEarlyAck?(taskId: string): number;
}

/** A method call delivered to an actor and not answered yet. */
interface HostedCall {
  readonly attempt: number;
  readonly to: ReplyTarget;
  readonly release: () => void;
  readonly jobId: string;
  readonly callerAddress: string;
  /** A streaming call: its items' sends, in order, before its result. */
  items?: Promise<void>;
  readonly streaming: boolean;
}

interface HostedActor {
  readonly actorId: string;
  readonly name: string;
  /** Set once its thread started (creations wait in a queue while `maxBooting` threads boot). */
  worker?: Worker;
  /** Messages posted before the thread started. */
  pending?: MainToActor[];
  /** Calls delivered in this turn after its first, posted together when it ends (see {@link ActorHost.call}). */
  outCalls?: Omit<Extract<MainToActor, { type: 'call' }>, 'type'>[];
  /** A call went to the thread in this turn already. */
  inTurn?: boolean;
  /** What the thread is started with; dropped once it is. */
  data?: ActorWorkerData;
  /** Counted in `booting` until the thread says it loaded its modules. */
  isBooting?: boolean;
  readonly demand: ResourceMap;
  readonly pgId: string;
  readonly creation: { taskId: string; attempt: number; to: ReplyTarget };
  readonly calls: Map<string, HostedCall>;
  state: 'creating' | 'alive' | 'dead';
  shutdownDone?: () => void;
  releaseCreationArgs?: () => void;
  /** Set while the actor is being stopped, so that concurrent kills share one shutdown. */
  killing?: Promise<void>;
  /** It took a warm thread whose replacement has not been started yet (see refillAfter). */
  owesRefill?: boolean;
  refillTimer?: NodeJS.Timeout;
}

/** How long after its creation an actor that took a warm thread and got no call yet lets the replacement boot. */
const REFILL_AFTER_CREATED_MS = 50;

export class ActorHost {
  private readonly actors = new Map<string, HostedActor>();
  /** Why recently ended actors died, for calls that still arrive. Bounded. */
  private readonly dead = new Map<string, string>();
  private readonly capacity = new ActorThreadCapacity();
  private booting = 0;
  private readonly bootQueue: HostedActor[] = [];
  private readonly maxBooting = actorBootConcurrency();
  private readonly warm: WarmThread[] = [];
  private warmOn = false;
  private closing = false;

  constructor(private readonly d: ActorHostDeps) {}

  /** Starts keeping `warmActors` threads booted ahead (once the node knows its id). */
  warmUp(): void {
    this.warmOn = true;
    this.refillWarm();
  }

  /** Boots warm threads up to the target, within the boot concurrency (creations go first). */
  private refillWarm(): void {
    const target = this.d.warmActors ?? 0;
    while (this.warmOn && !this.closing && this.warm.length < target && this.booting < this.maxBooting && this.bootQueue.length === 0) {
      if (this.capacity.refusal(this.actors.size + this.warm.length)) return;
      let worker: Worker;
      const port = this.d.threadPort?.();
      try {
        worker = new Worker(ENTRY, {
          workerData: { rayts: port ? { ...this.d.init(), bridgePort: port } : this.d.init(), warm: true },
          transferList: port ? [port] : undefined,
          resourceLimits: actorResourceLimits(),
          env: actorThreadEnv(),
        });
      } catch (e) {
        port?.close();
        this.d.log.warn({ err: (e as Error).message }, 'warm actor thread could not start');
        return;
      }
      this.capacity.started();
      this.booting++;
      const w: WarmThread = { worker, booted: false };
      this.warm.push(w);
      const threadId = worker.threadId;
      worker.on('message', (m: ActorToMain) => {
        if (m.type === 'booted' && !w.booted) {
          w.booted = true;
          this.booting--;
          this.drainBootQueue();
        }
      });
      worker.on('error', () => undefined);
      worker.on('exit', () => {
        const i = this.warm.indexOf(w);
        if (i >= 0) {
          this.warm.splice(i, 1);
          if (!w.booted) this.booting--;
          this.d.threadExited?.(threadId);
          this.drainBootQueue();
        }
      });
    }
  }

  /** A warm thread for an actor, booted ones first; undefined when none is left. */
  private takeWarm(): WarmThread | undefined {
    const i = this.warm.findIndex((w) => w.booted);
    const [w] = this.warm.splice(i >= 0 ? i : 0, 1);
    if (w) for (const ev of ['message', 'error', 'exit']) w.worker.removeAllListeners(ev);
    return w;
  }

  get size(): number {
    return this.actors.size;
  }

  /** Hosted actors by state (for /metrics). */
  countByState(): Record<string, number> {
    const out: Record<string, number> = { creating: 0, alive: 0 };
    for (const a of this.actors.values()) if (a.state !== 'dead') out[a.state] = (out[a.state] ?? 0) + 1;
    return out;
  }

  create(spec: rayts.TaskSpec, to: ReplyTarget, demand: ResourceMap, fn: WorkerFunction, workingDirPath: string, args: WorkerArg[], release: () => void): void {
    const data: ActorWorkerData = {
      rayts: this.d.init(),
      actorId: spec.actorId,
      jobId: spec.jobId,
      nodeId: this.d.nodeId(),
      creationTaskId: spec.taskId,
      fn,
      workingDirPath,
      maxConcurrency: Math.max(1, spec.maxConcurrency || 1),
      namespace: spec.namespace,
    };
    const a: HostedActor = {
      actorId: spec.actorId,
      name: fn.name,
      demand,
      pgId: spec.pgId,
      creation: { taskId: spec.taskId, attempt: spec.attempt, to },
      calls: new Map(),
      state: 'creating',
      pending: [],
      data,
    };
    this.actors.set(a.actorId, a);
    a.releaseCreationArgs = release;
    this.post(a, { type: 'create', args });
    // A warm thread (booted ahead) is taken at once; otherwise the thread boots when a boot slot is free.
    if (this.warm.length > 0 || this.booting < this.maxBooting) this.startThread(a);
    else this.bootQueue.push(a);
  }

  /**
   * Starts an actor's thread. At most `maxBooting` threads boot at once (RAYTS_ACTOR_BOOTS, default the
   * number of CPUs, at least 2); the others wait in order. A thread spends ~50–100 ms of CPU loading its
   * modules: a burst of a hundred creations would otherwise make a hundred threads runnable at once,
   * and the node's main thread — which answers heartbeats and gRPC keepalives — would get a hundredth
   * of a core for seconds (with heavier threads, long enough for peers to drop its connections).
   */
  private startThread(a: HostedActor): void {
    if (a.state === 'dead' || !a.data) return;
    const data = a.data;
    a.data = undefined;
    // A warm thread passed this check when it was started (it counted then): taking it starts nothing,
    // and the check reads /proc (every 16th time all of /proc/self/maps) on the creation's path.
    const refused = this.warm.length > 0 ? undefined : this.capacity.refusal(this.actors.size);
    if (refused) {
      this.d.log.warn({ actorId: a.actorId, why: refused }, 'actor thread refused');
      this.die(a, `no thread could be started for it on node ${shortId(this.d.nodeId())}: ${refused}`);
      return;
    }
    const warm = this.takeWarm();
    if (warm) {
      this.adopt(a, warm.worker, !warm.booted);
      const { rayts: _init, ...rest } = data;
      void _init;
      warm.worker.postMessage({ type: 'assign', data: rest } satisfies MainToActor);
      for (const m of a.pending ?? []) warm.worker.postMessage(m);
      a.pending = undefined;
      a.owesRefill = true;
      if (!this.warm.some((w) => w.booted)) this.refillAfter(a);
      return;
    }
    let worker: Worker;
    try {
      const port = this.d.threadPort?.();
      const workerData = port ? { ...data, rayts: { ...data.rayts, bridgePort: port } } : data;
      try {
        worker = new Worker(ENTRY, { workerData, transferList: port ? [port] : undefined, resourceLimits: actorResourceLimits(), env: actorThreadEnv() });
      } catch (e) {
        port?.close();
        throw e;
      }
    } catch (e) {
      // e.g. ERR_WORKER_INIT_FAILED when the system cannot create another thread.
      this.die(a, `its thread could not be started: ${(e as Error).message}`);
      return;
    }
    this.capacity.started();
    this.booting++;
    this.adopt(a, worker, true);
    for (const m of a.pending ?? []) worker.postMessage(m);
    a.pending = undefined;
  }

  /** Makes `worker` the thread of actor `a` (`booting`: it still counts in `booting` until it says so). */
  private adopt(a: HostedActor, worker: Worker, booting: boolean): void {
    a.isBooting = booting;
    a.worker = worker;
    worker.on('message', (m: ActorToMain) => this.onMessage(a, m));
    worker.on('error', (e) => this.die(a, `its worker crashed: ${e.message}`));
    const threadId = worker.threadId;
    worker.on('exit', (code) => {
      this.d.threadExited?.(threadId);
      this.die(a, `its worker exited with code ${code}`);
    });
  }

  /**
   * Boots the replacement of the warm thread actor `a` took: once the actor's first answer left (after
   * the node's flush of it), 50 ms after it was built when no call came, when it died — or at once when
   * no booted warm thread is left for the next creation (a burst). A booting thread takes a core for
   * ~100 ms (loading its modules): started when the thread was taken, it competed with the very creation
   * and first call it was meant to make fast.
   */
  private refillAfter(a: HostedActor): void {
    if (!a.owesRefill) return;
    a.owesRefill = false;
    if (a.refillTimer) clearTimeout(a.refillTimer);
    a.refillTimer = undefined;
    setTimeout(() => this.refillWarm(), 0).unref();
  }

  /** The actor's thread has loaded its modules (or ended): let the next queued one boot. */
  private booted(a: HostedActor): void {
    if (!a.isBooting) return;
    a.isBooting = false;
    this.booting--;
    this.drainBootQueue();
  }

  /** Starts queued creations while boot slots are free (or warm threads wait), then refills the warm threads. */
  private drainBootQueue(): void {
    while ((this.warm.length > 0 || this.booting < this.maxBooting) && this.bootQueue.length) this.startThread(this.bootQueue.shift()!);
    this.refillWarm();
  }

  /** Delivers a method call; calls to unknown or dead actors fail at once with ActorDiedError. */
  call(spec: rayts.TaskSpec, to: ReplyTarget, args: WorkerArg[], release: () => void): void {
    const a = this.actors.get(spec.actorId);
    if (!a || a.state === 'dead') {
      release();
      const why = this.dead.get(spec.actorId) ?? 'it is not running on this node';
      this.d.reply(to, {
        taskId: spec.taskId,
        attempt: spec.attempt,
        status: 'error',
        nodeId: this.d.nodeId(),
        inline: encodeError(this.diedError(spec.actorId, spec.method, why)),
      });
      return;
    }
    a.calls.set(spec.taskId, { attempt: spec.attempt, to, release, jobId: spec.jobId, callerAddress: spec.ownerAddress, streaming: spec.streaming });
    const generator = spec.streaming
      ? {
          backpressure: Math.max(0, spec.generatorBackpressure | 0),
          skip: Math.max(0, spec.generatorSkip | 0),
          consumed: Math.max(spec.generatorConsumed || 0, this.d.takeEarlyAck?.(spec.taskId) ?? 0),
        }
      : undefined;
    // A gRPC batch of calls is delivered in one synchronous loop: the first call of a turn goes at once
    // (no added latency for calls made one at a time), the others reach the thread as one message when
    // the turn ends (a postMessage per call cost a busy node's main thread a quarter of its time).
    const call = { taskId: spec.taskId, method: spec.method, args, generator };
    if (!a.inTurn) {
      a.inTurn = true;
      queueMicrotask(() => {
        a.inTurn = false;
        this.flushCalls(a);
      });
      this.post(a, { type: 'call', ...call });
      return;
    }
    (a.outCalls ??= []).push(call);
  }

  private flushCalls(a: HostedActor): void {
    const calls = a.outCalls;
    a.outCalls = undefined;
    if (!calls || calls.length === 0) return;
    const m: MainToActor = calls.length === 1 ? { type: 'call', ...calls[0] } : { type: 'calls', calls };
    if (a.worker) a.worker.postMessage(m);
    else a.pending?.push(m);
  }

  /** A streaming call's caller consumed `consumed` items. False when no actor here runs that call. */
  generatorAck(taskId: string, consumed: number): boolean {
    const a = this.actorOfCall(taskId);
    if (!a) return false;
    this.post(a, { type: 'genAck', taskId, consumed });
    return true;
  }

  /** Stops a streaming call's generator (queued: it will not run; running: its return() runs). */
  stopGenerator(taskId: string): boolean {
    const a = this.actorOfCall(taskId);
    if (!a || !a.calls.get(taskId)?.streaming) return false;
    this.post(a, { type: 'genStop', taskId });
    return true;
  }

  private actorOfCall(taskId: string): HostedActor | undefined {
    for (const a of this.actors.values()) if (a.calls.has(taskId)) return a;
    return undefined;
  }

  private diedError(actorId: string, method: string, why: string): ActorDiedError {
    return new ActorDiedError(`The actor ${shortId(actorId)} is dead${method ? `; ${method}() was not run` : ''}: ${why}.`, {
      hint: 'Create a new actor, or give it maxRestarts to have it restarted after failures.',
      ids: { actorId },
    });
  }

  private post(a: HostedActor, m: MainToActor): void {
    // Calls delivered earlier in this turn go first: messages keep their order.
    if (a.outCalls) this.flushCalls(a);
    if (a.worker) a.worker.postMessage(m);
    else a.pending?.push(m);
  }

  private onMessage(a: HostedActor, m: ActorToMain): void {
    switch (m.type) {
      case 'booted':
        this.booted(a);
        break;
      case 'created':
        if (a.owesRefill && !a.refillTimer) {
          a.refillTimer = setTimeout(() => this.refillAfter(a), REFILL_AFTER_CREATED_MS);
          a.refillTimer.unref();
        }
        a.state = 'alive';
        a.releaseCreationArgs?.();
        this.d.report({ actorId: a.actorId, state: 'ALIVE', nodeId: this.d.nodeId(), address: this.d.address });
        this.d.reply(a.creation.to, {
          taskId: a.creation.taskId,
          attempt: a.creation.attempt,
          status: 'ok',
          inline: encodeValue(null),
          nodeId: this.d.nodeId(),
          nodeAddress: this.d.address,
        });
        break;
      case 'create_failed': {
        a.releaseCreationArgs?.();
        const err = errorFromWire(m.error);
        this.d.reply(a.creation.to, {
          taskId: a.creation.taskId,
          attempt: a.creation.attempt,
          status: 'error',
          inline: encodeError(err),
          nodeId: this.d.nodeId(),
        });
        this.die(a, `its constructor threw: ${err.message}`, true);
        break;
      }
      case 'items': {
        const c = a.calls.get(m.taskId);
        if (!c || !this.d.sendItems) return;
        c.items = this.d.sendItems(c.to, { taskId: m.taskId, attempt: c.attempt, jobId: c.jobId, ownerAddress: c.callerAddress }, m.items, c.items);
        break;
      }
      case 'result':
        this.onResult(a, m.taskId, m.reply);
        break;
      case 'results':
        for (const r of m.results) this.onResult(a, r.taskId, r.reply);
        break;
      case 'shutdown_done':
        a.shutdownDone?.();
        break;
    }
  }

  private onResult(a: HostedActor, taskId: string, reply: WorkerReply): void {
    const c = a.calls.get(taskId);
    if (!c) return;
    a.calls.delete(taskId);
    c.release();
    if (c.items) {
      // A streaming call's result follows its items.
      void c.items.then(() => this.sendResult(taskId, c, reply));
    } else this.sendResult(taskId, c, reply);
    this.refillAfter(a);
  }

  private sendResult(taskId: string, c: HostedCall, r: WorkerReply): void {
    let fields: rayts.ITaskResult;
    if (!r.ok) fields = { status: 'error', inline: encodeError(errorFromWire(r.error)) };
    else if ('stored' in r) fields = this.d.storeResult(`${taskId}.0`, r.stored, c.jobId, c.callerAddress);
    else fields = { status: 'ok', inline: r.value, sizeBytes: r.value.byteLength };
    if (r.ok) {
      fields.containedRefs = r.containedRefs;
      fields.containedOwners = r.containedOwners;
    }
    if (c.streaming) fields.itemIndex = r.itemCount ?? 0;
    this.d.reply(c.to, { ...fields, taskId, attempt: c.attempt, nodeId: this.d.nodeId(), nodeAddress: this.d.address }, { jobId: c.jobId, callerAddress: c.callerAddress });
  }

  private die(a: HostedActor, why: string, alreadyReplied = false): void {
    if (a.state === 'dead') return;
    const wasCreating = a.state === 'creating';
    a.state = 'dead';
    this.actors.delete(a.actorId);
    this.dead.set(a.actorId, why);
    if (this.dead.size > 10_000) this.dead.delete(this.dead.keys().next().value as string);
    if (wasCreating && !alreadyReplied) {
      this.d.reply(a.creation.to, {
        taskId: a.creation.taskId,
        attempt: a.creation.attempt,
        status: 'error',
        inline: encodeError(this.diedError(a.actorId, '', why)),
        nodeId: this.d.nodeId(),
      });
    }
    a.releaseCreationArgs?.();
    for (const [taskId, c] of a.calls) {
      c.release();
      this.d.reply(c.to, { taskId, attempt: c.attempt, status: 'error', nodeId: this.d.nodeId(), inline: encodeError(this.diedError(a.actorId, '', why)) });
    }
    a.calls.clear();
    if (a.worker) void a.worker.terminate();
    a.pending = undefined;
    a.data = undefined;
    this.refillAfter(a);
    this.booted(a);
    this.d.release(a.demand);
    this.d.report({ actorId: a.actorId, state: 'DEAD', nodeId: this.d.nodeId(), reason: why, deathCause: why });
    this.d.log.info({ actorId: a.actorId, why }, 'actor ended');
  }

  /** Stops an actor; `graceful` runs its `__rayShutdown__` hook first (at most `graceMs`). */
  async kill(actorId: string, why: string, graceful: boolean, graceMs = 2000): Promise<void> {
    const a = this.actors.get(actorId);
    if (!a) return;
    a.killing ??= this.stop(a, why, graceful, graceMs);
    return a.killing;
  }

  private async stop(a: HostedActor, why: string, graceful: boolean, graceMs: number): Promise<void> {
    if (graceful && a.state === 'alive') {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, graceMs);
        a.shutdownDone = () => {
          clearTimeout(t);
          resolve();
        };
        this.post(a, { type: 'shutdown' });
      });
    }
    this.die(a, why);
  }

  /** Stops the actors running in a placement group that is being removed. */
  async killGroup(pgId: string): Promise<void> {
    await Promise.all([...this.actors.values()].filter((a) => a.pgId === pgId).map((a) => this.kill(a.actorId, `its placement group ${pgId} was removed`, true)));
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const w of this.warm.splice(0)) {
      for (const ev of ['message', 'error', 'exit']) w.worker.removeAllListeners(ev);
      void w.worker.terminate();
    }
    await Promise.all([...this.actors.keys()].map((id) => this.kill(id, 'its node is shutting down', true)));
  }
}
