/**
 * NodeDaemon: one per node. Responsible for registering with the head and heartbeating, accepting task
 * specs from submitters on long-lived streams, queueing them against local resources
 * (LocalTaskScheduler), running them on the worker pool, and returning results (inline when small,
 * else kept in the local store for pulls). Also owns the objects its worker threads create (through a
 * CoreWorker per job) and serves nested API calls from worker threads.
 *
 * Not responsible for choosing nodes (submitters do) or for the node table (head).
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type * as grpc from '@grpc/grpc-js';
import * as grpcjs from '@grpc/grpc-js';
import { hostname } from 'node:os';
import {
  ObjectLostError,
  WorkerCrashedError,
  TaskCancelledError,
  encodeError,
  encodeValue,
  errorFromWire,
  objectIdOf,
  formatResources,
  randomId,
  unpackInternal,
  SchedulingError,
  ActorDiedError,
  shortId,
  type Logger,
  type ResourceMap,
  type HealthConfig,
} from '@samsara/ray-common';
import { LocalTaskScheduler, bundleResources, splitNodeResources, type Lease } from '@samsara/ray-scheduler';
import { importRefFromWire } from '../worker/import-wire.js';
import type { rayts } from '@samsara/ray-proto';
import { HeadClient, nodeServiceDefinition, pb } from '../rpc/services.js';
import { HEAD_CHANNEL_OPTIONS } from '../rpc/head-channel-options.js';
import { authMetadata, callUnary } from '../rpc/auth.js';
import type { HostedService } from '../rpc/server-host.js';
import { PullClient } from '../rpc/pull-client.js';
import type { ProcessStore } from '../owner/process-store.js';
import { WorkerPool, taskPipelineDepth } from './worker-pool.js';
import { sampleTelemetry } from './telemetry.js';
import { ensureWorkingDir } from '../runtime-env/working-dir.js';
import { freeObjectsHandler, pullObjectHandler } from './object-server.js';
import { ActorHost, warmActorCount } from './actor-host.js';
import { ActorReportQueue } from './actor-report-queue.js';
import { MemoryMonitor, memoryMonitorOptionsFromEnv } from './memory-monitor.js';
import { relieveStorePressure, withStoreRoom } from '../owner/store-pressure.js';
import type { WorkerTask, WorkerFunction } from '../worker/protocol.js';
import { compact, type WorkerArg } from '../worker/values.js';
import type { GeneratorPlan, StreamItem } from '../worker/generator-driver.js';
import { taskDuration, tasksCompleted } from '../metrics/node-metrics.js';
import { addNodeMetricsSource } from '../metrics/node-collector.js';
import type { EncodedObject, ObjectView } from '@samsara/ray-object-store';
import { channelCredentials } from '../rpc/tls.js';

/**
 * `ids.reason` of a task refused because the node's queue is full: backpressure, not a failure. The owner
 * waits and places the task again without spending its retries (core-worker.ts).
 */
export const QUEUE_FULL = 'queue_full';

/** Event-driven node reports (see NodeDaemon.reportSoon) are at least this far apart. */
const REPORT_MIN_GAP_MS = 5;
/** How old a telemetry sample a node report may reuse. */
const TELEMETRY_MAX_AGE_MS = 250;

export interface NodeDaemonOptions {
  readonly headAddress: string;
  readonly token: string;
  /** This process's gRPC address (already listening). */
  readonly address: string;
  readonly resources: ResourceMap;
  readonly labels: Record<string, string>;
  readonly kind: 'head' | 'worker' | 'edge';
  readonly sessionDir: string;
  readonly store: ProcessStore;
  readonly log: Logger;
  readonly health: HealthConfig;
  /** Worker threads; default ceil(CPU), at least 1. */
  readonly threads?: number;
  /**
   * Tasks waiting for resources beyond which new ones are refused (retriably, so their owners place
   * them again) [unbounded]. Edge nodes bound it.
   */
  readonly maxQueuedTasks?: number;
  /** Worker threads started before any task [threads]; 0 starts them on demand. */
  readonly warmThreads?: number;
  /** Actor threads kept booted ahead [warmActorCount(CPU): RAYTS_WARM_ACTORS, else min(4, CPUs)]; 0 for none. */
  readonly warmActors?: number;
  /** Called when the head orders a shutdown. */
  readonly onShutdown?: (reason: string) => void;
}

/**
 * A submitter's task stream as the daemon uses it: a grpc-js server call, or a sub-stream of an edge
 * tunnel (edge/edge-tunnel-client.ts) that behaves the same.
 */
export interface TaskDuplex {
  on(event: 'data', listener: (batch: rayts.TaskBatch) => void): unknown;
  on(event: 'end' | 'error' | 'cancelled', listener: () => void): unknown;
  write(batch: rayts.ResultBatch): unknown;
  end(): void;
}

interface Submitter {
  readonly call: TaskDuplex;
  results: rayts.ITaskResult[];
  events: rayts.ITaskEvent[];
  flushScheduled: boolean;
  closed: boolean;
}

interface NodeTask {
  readonly spec: rayts.TaskSpec;
  startedAt?: number;
  /** Set when the memory monitor ended it (the owner retries it with backoff). */
  killedForMemory?: number;
  readonly from: Submitter;
  readonly demand: ResourceMap;
  state: 'queued' | 'running' | 'done';
  /** The resources it runs under (shared with the short tasks pipelined on the same lease). */
  lease?: Lease;
  cancelled?: boolean;
  /** CPU lent to other tasks while this one is blocked in get. */
  lent?: ResourceMap;
  /** A streaming task: its items' sends, chained so that they leave in order and before its result. */
  items?: Promise<void>;
}

/** Acks kept for streaming tasks that do not run here yet (bounded). */
const MAX_EARLY_ACKS = 10_000;

const NO_RELEASE = (): void => undefined;

export class NodeDaemon {
  nodeId = '';
  readonly scheduler: LocalTaskScheduler<NodeTask>;
  readonly pool: WorkerPool;
  readonly bridgeId = randomId(6);
  private readonly functions = new Map<string, WorkerFunction>();
  private readonly workingDirs = new Map<string, string>();
  /** Archive bytes and extracted path of each job's working directory (for nested submissions). */
  readonly jobWorkingDirs = new Map<string, { hash: string; bytes: Uint8Array; path: string }>();
  readonly running = new Map<string, NodeTask>();
  private readonly head: grpc.Client;
  private channel: grpc.ClientDuplexStream<rayts.NodeReport, rayts.HeadCommand> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  /** A report is queued (see reportSoon), and when the last one was sent (performance.now()). */
  private reportQueued = false;
  private lastReportAt = -Infinity;
  /** The last telemetry sample and when it was taken (performance.now()). */
  private telemetry: { at: number; sample: ReturnType<typeof sampleTelemetry> } | undefined;
  private readonly pulls: PullClient;
  private closed = false;
  private registering: Promise<void> | undefined;
  readonly actors: ActorHost;
  private readonly memory: MemoryMonitor;
  private readonly actorReports: ActorReportQueue;
  /** Stored results by job, dropped when the job ends. */
  /** Results stored here per job: object id → owner address (dropped when the job ends or the owner dies). */
  private readonly jobObjects = new Map<string, Map<string, string>>();
  /** Per-actor chain keeping calls in arrival order while their arguments are pulled. */
  private readonly actorChains = new Map<string, Promise<void>>();
  /**
   * Calls to actors whose creation this node accepted and has not handed to its ActorHost yet (queued
   * for resources or pulling arguments), in arrival order. A creator sends its first calls right behind
   * the creation, on the same stream, instead of waiting a round trip for the creation's answer.
   */
  private readonly awaitingCreation = new Map<string, { spec: rayts.TaskSpec; from: Submitter }[]>();
  /** Items consumed by callers of streaming tasks that were not running yet when the ack came. */
  private readonly earlyAcks = new Map<string, number>();
  /** Removes this node from the process's /metrics. */
  private readonly unregisterMetrics: () => void;
  /** Tasks this node has spilled back once (never spilled twice: see spill()). */
  private readonly spilledOnce = new Set<string>();

  constructor(private readonly o: NodeDaemonOptions) {
    // Tasks of functions known to be short queue behind each other on a lease's thread (pipelining).
    this.scheduler = new LocalTaskScheduler<NodeTask>(o.resources, (t, lease) => this.start(t, lease), {
      pipelineDepth: taskPipelineDepth(),
      canPipeline: (t) => !(t as NodeTask).spec.actorCreation && !(t as NodeTask).spec.streaming && this.pool.isShort((t as NodeTask).spec.fn?.functionId ?? ''),
    });
    const cpu = o.resources.CPU ?? 0;
    this.pool = new WorkerPool({
      threads: o.threads ?? Math.max(1, Math.ceil(cpu)),
      minThreads: o.warmThreads,
      init: { bridgeId: this.bridgeId, nodeAddress: o.address, nodeId: '', sharedBuffer: o.store.sharedBuffer },
      // A task thread that ends (crash, force cancel, idle exit) drops its references, as actor threads do.
      onThreadExit: (threadId) => this.onThreadExit?.(threadId),
      threadPort: () => this.threadPort(),
    });
    this.head = new HeadClient(o.headAddress, channelCredentials(), HEAD_CHANNEL_OPTIONS);
    this.pulls = new PullClient(o.token, o.store);
    this.actorReports = new ActorReportQueue((info) => callUnary(this.head, 'reportActor', info, o.token, 10_000), o.log.child({ component: 'actor-reports' }));
    this.memory = new MemoryMonitor({ ...memoryMonitorOptionsFromEnv(), killNewest: (u) => this.killNewest(u), log: o.log.child({ component: 'memory' }) });
    this.actors = new ActorHost({
      warmActors: o.warmActors ?? warmActorCount(cpu),
      log: o.log.child({ component: 'actors' }),
      init: () => ({ bridgeId: this.bridgeId, nodeAddress: o.address, nodeId: this.nodeId, sharedBuffer: o.store.sharedBuffer }),
      nodeId: () => this.nodeId,
      address: o.address,
      reply: (to, r, origin) => this.reply(to as Submitter, r, origin),
      takeEarlyAck: (taskId) => this.takeEarlyAck(taskId),
      sendItems: (to, spec, items, chain) => this.sendItems(to as Submitter, spec, items, chain),
      threadExited: (threadId) => this.onThreadExit?.(threadId),
      threadPort: () => this.threadPort(),
      // Kept and retried while the head is unreachable (a restarting head learns what changed meanwhile).
      report: (info) => this.actorReports.report(info),
      release: (demand) => this.scheduler.release(demand),
      storeResult: (objectId, stored, jobId, owner) => this.storeResult(objectId, stored, jobId, owner),
    });
    const self = this;
    this.unregisterMetrics = addNodeMetricsSource({
      get nodeId() {
        return self.nodeId;
      },
      tasks: () => ({ queued: this.scheduler.queuedCount, running: this.scheduler.runningCount }),
      actors: () => this.actors.countByState(),
      store: () => this.o.store.stats(),
      // Capacity and what is free outside placement groups, not the internal bundle names.
      resources: () => {
        const r = splitNodeResources(this.scheduler.total(), this.scheduler.available());
        return { total: r.resources, available: r.available };
      },
    });
  }

  get address(): string {
    return this.o.address;
  }
  get sessionDir(): string {
    return this.o.sessionDir;
  }
  get token(): string {
    return this.o.token;
  }
  get store(): ProcessStore {
    return this.o.store;
  }

  /** Registers with the head and starts heartbeating. */
  async join(): Promise<void> {
    await this.register();
  }

  private register(): Promise<void> {
    this.registering ??= (async () => {
      const reply = await callUnary<rayts.IRegisterNodeRequest, rayts.RegisterNodeReply>(
        this.head,
        'registerNode',
        {
          address: this.o.address,
          resources: this.o.resources,
          labels: this.o.labels,
          kind: this.o.kind,
          hostname: hostname(),
          pid: process.pid,
          sessionDir: this.o.sessionDir,
        },
        this.o.token,
      );
      this.nodeId = reply.nodeId;
      this.o.log.info({ nodeId: this.nodeId }, 'registered with head');
      this.actors.warmUp();
      this.openChannel(reply.heartbeatPeriodMs || this.o.health.heartbeatPeriodMs);
    })().finally(() => {
      this.registering = undefined;
    });
    return this.registering;
  }

  private openChannel(periodMs: number): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    const ch = (this.head as unknown as { nodeChannel(md: grpc.Metadata): grpc.ClientDuplexStream<rayts.NodeReport, rayts.HeadCommand> }).nodeChannel(
      authMetadata(this.o.token),
    );
    this.channel = ch;
    ch.on('data', (cmd: rayts.HeadCommand) => this.onCommand(cmd));
    const broke = (why: string) => {
      if (this.closed || this.channel !== ch) return;
      this.channel = undefined;
      this.o.log.warn({ why }, 'head channel broke; reconnecting');
      setTimeout(() => {
        if (!this.closed && !this.channel) this.openChannel(periodMs);
      }, Math.min(periodMs, 1000)).unref();
    };
    ch.on('error', (e: Error) => broke(e.message));
    ch.on('end', () => broke('ended'));
    this.report();
    this.heartbeat = setInterval(() => this.report(), periodMs);
    this.heartbeat.unref();
  }

  /**
   * A report soon, however many events ask for one: at the end of this event-loop turn, or
   * {@link REPORT_MIN_GAP_MS} after the previous report when that was more recent. A burst of
   * placement-group commits or releases (100 groups removed in one call, their commands arriving over
   * several turns) costs a few reports, not one each (every report lists every bundle's resources, so one
   * per event made a burst quadratic).
   */
  private reportSoon(): void {
    if (this.reportQueued) return;
    this.reportQueued = true;
    const run = () => {
      this.reportQueued = false;
      this.report();
    };
    const wait = this.lastReportAt + REPORT_MIN_GAP_MS - performance.now();
    if (wait <= 0) setImmediate(run);
    else setTimeout(run, wait).unref();
  }

  private report(): void {
    if (!this.channel || !this.nodeId) return;
    const now = performance.now();
    this.lastReportAt = now;
    // Telemetry (files under /sys and /proc, ~0.4 ms) is sampled at most every 250 ms: reports sent on
    // events (a placement group released, …) between heartbeats reuse the last sample.
    if (!this.telemetry || now - this.telemetry.at > TELEMETRY_MAX_AGE_MS) this.telemetry = { at: now, sample: sampleTelemetry() };
    const t = this.telemetry.sample;
    const s = this.o.store.stats();
    this.channel.write(
      pb.NodeReport.create({
        nodeId: this.nodeId,
        available: this.scheduler.available(),
        telemetry: t,
        store: { usedBytes: s.usedBytes, capacityBytes: s.capacityBytes, spilledBytes: s.spilledBytes, numObjects: s.numObjects },
        queuedTasks: this.scheduler.queuedCount,
        runningTasks: this.scheduler.runningCount,
        pending: this.scheduler.pendingDemands().map((p) => ({ resources: p.resources, count: p.count })) as rayts.PendingDemand[],
      } as rayts.INodeReport),
    );
  }

  private onCommand(cmd: rayts.HeadCommand): void {
    switch (cmd.kind) {
      case 'shutdown':
        this.o.log.info({ reason: cmd.reason }, 'head ordered shutdown');
        this.o.onShutdown?.(cmd.reason);
        break;
      case 'pg_commit': {
        const { index, bundle } = unpackInternal<{ index: number; bundle: ResourceMap }>(cmd.payload);
        this.scheduler.removeTotal(bundle);
        this.scheduler.addTotal(bundleResources(cmd.targetId, index, bundle));
        // The head trusts this node's reports about the bundle from the first that shows it.
        this.reportSoon();
        break;
      }
      case 'pg_release': {
        const { index, bundle } = unpackInternal<{ index: number; bundle: ResourceMap }>(cmd.payload);
        void this.releaseGroup(cmd.targetId, index, bundle);
        break;
      }
      case 'spill': {
        const { resources, count } = unpackInternal<{ resources: ResourceMap; count: number }>(cmd.payload);
        this.spill(resources, count);
        break;
      }
      case 'job_finished':
        this.dropJobObjects(cmd.targetId);
        break;
      case 'owner_dead':
        this.dropOwnerObjects(cmd.targetId);
        break;
      case 'kill_actor':
        void this.actors.kill(cmd.targetId, cmd.reason || 'killed', cmd.graceful);
        break;
      case 'dead':
        // Every report sent under an id the head gave up on is answered with 'dead': act on the first
        // only (a second re-registration would leave the head two entries for one process).
        if (cmd.targetId && cmd.targetId !== this.nodeId) break;
        if (this.registering) break;
        // The head no longer trusts our id: join again under a new one.
        this.o.log.warn({ reason: cmd.reason, nodeId: this.nodeId }, 'head declared this node dead; re-registering');
        this.channel?.end();
        this.channel = undefined;
        if (!this.closed) void this.register().catch((e) => this.o.log.error({ err: (e as Error).message }, 're-register failed'));
        break;
      default:
        this.o.log.debug({ cmd: cmd.kind }, 'unknown head command');
    }
  }

  // ------------------------------------------------------------------------------------------------
  // Task streams
  // ------------------------------------------------------------------------------------------------

  service(): HostedService {
    const impl = {
      taskStream: (call: TaskDuplex) => this.acceptStream(call),
      pullObject: pullObjectHandler(this.o.store),
      freeObjects: freeObjectsHandler(this.o.store),
      nodeStats: async (): Promise<rayts.INodeInfo> => ({
        nodeId: this.nodeId,
        address: this.o.address,
        total: this.scheduler.total(),
        available: this.scheduler.available(),
        labels: this.o.labels,
        alive: true,
        kind: this.o.kind,
        queuedTasks: this.scheduler.queuedCount,
        runningTasks: this.scheduler.runningCount,
      }),
    };
    return { definition: nodeServiceDefinition, implementation: impl as unknown as HostedService['implementation'] };
  }

  /** Serves one submitter's task stream until it ends. */
  acceptStream(call: TaskDuplex): void {
    const sub: Submitter = { call, results: [], events: [], flushScheduled: false, closed: false };
    call.on('data', (batch: rayts.TaskBatch) => {
      for (const spec of batch.tasks as rayts.TaskSpec[]) {
        try {
          this.accept(spec, sub);
        } catch (e) {
          this.reply(sub, { taskId: spec.taskId, attempt: spec.attempt, status: 'error', inline: encodeError(e), nodeId: this.nodeId });
        }
      }
      for (const c of batch.cancels as rayts.CancelRequest[]) this.cancel(c.taskId, c.force);
      for (const a of (batch.generatorAcks ?? []) as rayts.GeneratorAck[]) this.generatorAck(a.taskId, a.consumed);
    });
    const gone = () => {
      if (sub.closed) return;
      sub.closed = true;
      // The submitter is gone: its queued tasks will never be collected.
      this.removeQueued((t) => t.from === sub, 'its creator disconnected');
    };
    call.on('end', () => {
      gone();
      call.end();
    });
    call.on('error', gone);
    call.on('cancelled', gone);
  }

  private accept(spec: rayts.TaskSpec, from: Submitter): void {
    if (spec.actorId && !spec.actorCreation) {
      this.deliverActorCall(spec, from);
      return;
    }
    const fn = spec.fn as rayts.FunctionDescriptor | null;
    if (!fn || !fn.functionId) throw new TaskCancelledError('task spec without a function descriptor');
    if (fn.source || fn.modulePath) {
      this.functions.set(fn.functionId, {
        functionId: fn.functionId,
        name: fn.name,
        kind: fn.kind === 'class' ? 'class' : 'function',
        source: fn.source,
        modulePath: fn.modulePath,
        moduleIndex: fn.moduleIndex,
        apiAliases: fn.apiAliases ?? [],
        imports: (fn.imports ?? []).map(importRefFromWire),
      });
    } else if (!this.functions.has(fn.functionId)) {
      throw new TaskCancelledError(`node ${this.nodeId} has no source for function ${fn.name} (${fn.functionId}); resubmit`);
    }
    if (spec.workingDirHash) {
      let path = this.workingDirs.get(spec.workingDirHash);
      if (path === undefined) {
        path = ensureWorkingDir(this.o.sessionDir, spec.workingDirHash, spec.workingDirArchive);
        this.workingDirs.set(spec.workingDirHash, path);
      }
      // Per job, also when an earlier job shipped the same directory: what its tasks submit here
      // (nested tasks, actors a library's actor starts) carries it on.
      if (spec.workingDirArchive?.byteLength && !this.jobWorkingDirs.has(spec.jobId)) {
        this.jobWorkingDirs.set(spec.jobId, { hash: spec.workingDirHash, bytes: spec.workingDirArchive, path });
      }
    }
    const demand = { ...spec.resources };
    if (this.o.maxQueuedTasks !== undefined && this.scheduler.queuedCount >= this.o.maxQueuedTasks) {
      const why = `node ${this.nodeId} already has ${this.scheduler.queuedCount} queued tasks (its limit)`;
      this.reply(from, { taskId: spec.taskId, attempt: spec.attempt, status: 'error', retriable: true, nodeId: this.nodeId, inline: encodeError(new SchedulingError(`Task ${fn.name} (task ${spec.taskId}) was refused: ${why}.`, { ids: { taskId: spec.taskId, nodeId: this.nodeId, reason: QUEUE_FULL } })) });
      return;
    }
    const task: NodeTask = { spec, from, demand, state: 'queued' };
    if (spec.actorCreation && spec.actorId && !this.awaitingCreation.has(spec.actorId)) this.awaitingCreation.set(spec.actorId, []);
    this.scheduler.enqueue(task, demand, { lease: !spec.actorCreation });
    // A burst queues thousands of tasks for the same reason: tell the submitter about the first few of
    // each flush (its get() timeouts quote them), not every one.
    if (task.state === 'queued' && from.events.length < 64) {
      from.events.push({
        taskId: spec.taskId,
        attempt: spec.attempt,
        state: 'PENDING',
        reason: this.scheduler.waitReason(demand),
        nodeId: this.nodeId,
      });
      this.scheduleFlush(from);
    }
  }

  /**
   * Spillback: hands up to `count` queued tasks of demand `shape` back to their submitters, who place
   * them again (another node can start them now, the head says). Actor creations stay; a task is handed
   * back at most once by this node, so one that can only run here (affinity, labels) comes back and
   * stays. Newest first: the oldest keep their place in this queue.
   */
  private spill(shape: ResourceMap, count: number): void {
    if (!(count > 0)) return;
    const same = (d: ResourceMap) => {
      const a = Object.keys(d);
      return a.length === Object.keys(shape).length && a.every((k) => d[k] === shape[k]);
    };
    const eligible = this.scheduler.queuedItems().filter((t) => t.state === 'queued' && !t.spec.actorCreation && !this.spilledOnce.has(t.spec.taskId) && same(t.demand));
    const chosen = new Set(eligible.slice(-count));
    if (chosen.size === 0) return;
    const taken = this.scheduler.remove((t) => chosen.has(t));
    for (const t of taken) {
      this.spilledOnce.add(t.spec.taskId);
      if (this.spilledOnce.size > 100_000) this.spilledOnce.delete(this.spilledOnce.values().next().value!);
      t.state = 'done';
      this.reply(t.from, {
        taskId: t.spec.taskId,
        attempt: t.spec.attempt,
        status: 'error',
        retriable: true,
        spilled: true,
        nodeId: this.nodeId,
        inline: encodeError(new SchedulingError(`Task ${t.spec.fn?.name ?? ''} (task ${t.spec.taskId}) was handed back by busy node ${this.nodeId}: another node can start it now.`, { ids: { taskId: t.spec.taskId, nodeId: this.nodeId } })),
      });
    }
    this.o.log.debug({ count: taken.length, shape }, 'spilled queued tasks back to their owners');
  }

  private start(t: NodeTask, lease?: Lease): void {
    t.state = 'running';
    t.lease = lease;
    if (t.spec.actorCreation) {
      void this.createActor(t);
      return;
    }
    t.startedAt = performance.now();
    this.running.set(t.spec.taskId, t);
    void this.execute(t);
  }

  /** Memory monitor: ends the newest running task that still has retries. */
  private killNewest(usage: number): string | undefined {
    let newest: NodeTask | undefined;
    for (const t of this.running.values()) {
      if (t.spec.maxRetries === 0 || t.cancelled || t.killedForMemory || !this.pool.started(t.spec.taskId)) continue;
      if (!newest || (t.startedAt ?? 0) > (newest.startedAt ?? 0)) newest = t;
    }
    if (!newest) return undefined;
    newest.killedForMemory = usage;
    this.pool.cancel(newest.spec.taskId, true);
    return newest.spec.taskId;
  }

  private async createActor(t: NodeTask): Promise<void> {
    const spec = t.spec;
    try {
      const { args, release } = await this.resolveArgs(spec);
      const fn = this.functions.get((spec.fn as rayts.FunctionDescriptor).functionId)!;
      const wd = spec.workingDirHash ? (this.workingDirs.get(spec.workingDirHash) ?? '') : '';
      this.actors.create(spec, t.from, t.demand, fn, wd, args, release);
    } catch (e) {
      this.scheduler.release(t.demand);
      this.reply(t.from, { taskId: spec.taskId, attempt: spec.attempt, status: 'error', inline: encodeError(e), nodeId: this.nodeId });
      this.failAwaitingCalls(spec.actorId, `its creation failed: ${(e as Error)?.message ?? String(e)}`);
      return;
    }
    // Calls that came behind the creation follow it, in order (the actor's thread runs them once built).
    const waiting = this.awaitingCreation.get(spec.actorId);
    this.awaitingCreation.delete(spec.actorId);
    for (const c of waiting ?? []) this.deliverActorCall(c.spec, c.from);
  }

  /** Answers the calls waiting for an actor's creation, which will not happen here, with ActorDiedError. */
  private failAwaitingCalls(actorId: string, why: string): void {
    const waiting = this.awaitingCreation.get(actorId);
    this.awaitingCreation.delete(actorId);
    for (const { spec, from } of waiting ?? []) {
      const err = new ActorDiedError(`The actor ${shortId(actorId)} is dead; ${spec.method}() was not run: ${why.replace(/\.+$/, '')}.`, {
        hint: 'Create a new actor, or give it maxRestarts to have it restarted after failures.',
        ids: { actorId, taskId: spec.taskId },
      });
      this.reply(from, { taskId: spec.taskId, attempt: spec.attempt, status: 'error', nodeId: this.nodeId, inline: encodeError(err) });
    }
  }

  /** Drops a call that waits for its actor's creation (it never runs); false when none waits. */
  private cancelAwaitingCall(taskId: string): boolean {
    for (const list of this.awaitingCreation.values()) {
      const i = list.findIndex((c) => c.spec.taskId === taskId);
      if (i < 0) continue;
      const [{ spec, from }] = list.splice(i, 1);
      const label = `${spec.method}()`;
      this.reply(from, {
        taskId,
        attempt: spec.attempt,
        status: 'error',
        nodeId: this.nodeId,
        inline: encodeError(new TaskCancelledError(`Actor call ${label} (task ${taskId}) was cancelled before it ran.`, { ids: { taskId, actorId: spec.actorId } })),
      });
      return true;
    }
    return false;
  }

  /** Takes queued tasks out of the scheduler; calls waiting for a creation taken out fail with it. */
  private removeQueued(pred: (t: NodeTask) => boolean, why: string): NodeTask[] {
    const removed = this.scheduler.remove(pred);
    for (const t of removed) if (t.spec.actorCreation && t.spec.actorId) this.failAwaitingCalls(t.spec.actorId, why);
    return removed;
  }

  private deliverActorCall(spec: rayts.TaskSpec, from: Submitter): void {
    const waiting = this.awaitingCreation.get(spec.actorId);
    if (waiting) {
      waiting.push({ spec, from });
      return;
    }
    const needsPull = (spec.args as rayts.Arg[]).some((a) => a.objectId && !(a.inline && a.inline.byteLength));
    const prev = this.actorChains.get(spec.actorId);
    if (!needsPull && !prev) {
      this.actors.call(spec, from, (spec.args as rayts.Arg[]).map((a) => a.inline), () => undefined);
      return;
    }
    const next = (prev ?? Promise.resolve()).then(async () => {
      try {
        const { args, release } = await this.resolveArgs(spec);
        this.actors.call(spec, from, args, release);
      } catch (e) {
        this.reply(from, { taskId: spec.taskId, attempt: spec.attempt, status: 'error', inline: encodeError(e), nodeId: this.nodeId });
      }
    });
    this.actorChains.set(spec.actorId, next);
    void next.then(() => {
      if (this.actorChains.get(spec.actorId) === next) this.actorChains.delete(spec.actorId);
    });
  }

  /**
   * Arguments of a spec as a worker receives them: inline bytes as they are; stored objects as slices
   * of the shared area (pulled into the local store first when they live elsewhere), pinned until
   * `release()`. Copies pulled only for this task are dropped on release.
   */
  /** The arguments of a spec whose arguments are all inline, else undefined (see resolveArgs). */
  private inlineArgs(spec: rayts.TaskSpec): { args: WorkerArg[]; release: () => void } | undefined {
    const list = spec.args as rayts.Arg[];
    const args: WorkerArg[] = new Array(list.length);
    for (let i = 0; i < list.length; i++) {
      const a = list[i];
      if (a.objectId && !(a.inline && a.inline.byteLength)) return undefined;
      args[i] = compact(a.inline);
    }
    return { args, release: NO_RELEASE };
  }

  private async resolveArgs(spec: rayts.TaskSpec): Promise<{ args: WorkerArg[]; release: () => void }> {
    const args: WorkerArg[] = [];
    const views: ObjectView[] = [];
    const pulled: string[] = [];
    const release = () => {
      for (const v of views.splice(0)) v.release();
      for (const id of pulled.splice(0)) this.o.store.delete(id);
    };
    try {
      for (const a of spec.args as rayts.Arg[]) {
        if (!a.objectId || (a.inline && a.inline.byteLength)) {
          args.push(compact(a.inline));
          continue;
        }
        const store = this.o.store;
        let view = await withStoreRoom(() => store.getAsync(a.objectId));
        if (!view) {
          await withStoreRoom(() => this.pulls.pull(a.objectId, a.location));
          pulled.push(a.objectId);
          view = await withStoreRoom(() => store.getAsync(a.objectId));
          if (!view) throw new ObjectLostError(`Object ${a.objectId} vanished from this node's store right after it was pulled.`, { ids: { objectId: a.objectId } });
        }
        views.push(view);
        const loc = this.o.store.locate(a.objectId);
        args.push(loc ? { meta: view.meta, offset: loc.offset, length: loc.length } : { meta: view.meta, bytes: view.data });
      }
    } catch (e) {
      release();
      throw e;
    }
    return { args, release };
  }

  /** Puts a worker's large result into the store; returns the result message fields. */
  storeResult(objectId: string, stored: EncodedObject, jobId = '', ownerAddress = ''): rayts.ITaskResult {
    const meta = this.o.store.putEncoded(objectId, stored);
    if (jobId) {
      const m = this.jobObjects.get(jobId) ?? new Map<string, string>();
      m.set(objectId, ownerAddress);
      this.jobObjects.set(jobId, m);
    }
    return { status: 'ok', stored: true, objectId, sizeBytes: meta.sizeBytes };
  }

  /** A job ended (or its driver died): the results its tasks left here are nobody's any more. */
  private dropJobObjects(jobId: string): void {
    const objects = this.jobObjects.get(jobId);
    if (!objects) return;
    this.jobObjects.delete(jobId);
    for (const id of objects.keys()) this.o.store.delete(id);
    this.o.log.info({ jobId, objects: objects.size }, 'dropped the stored results of a finished job');
  }

  /** The process at `ownerAddress` died: the results stored here for it have no owner any more. */
  private dropOwnerObjects(ownerAddress: string): void {
    let n = 0;
    for (const m of this.jobObjects.values()) {
      for (const [id, owner] of m) {
        if (owner !== ownerAddress) continue;
        m.delete(id);
        this.o.store.delete(id);
        n++;
      }
    }
    if (n) this.o.log.info({ ownerAddress, objects: n }, 'dropped the stored results of a dead owner');
  }

  /** The caller of a streaming task consumed `consumed` items: tell its producer (or keep it until it runs). */
  private generatorAck(taskId: string, consumed: number): void {
    if (this.pool.generatorAck(taskId, consumed) || this.actors.generatorAck(taskId, consumed)) return;
    if (this.earlyAcks.size >= MAX_EARLY_ACKS) this.earlyAcks.delete(this.earlyAcks.keys().next().value as string);
    this.earlyAcks.set(taskId, Math.max(consumed, this.earlyAcks.get(taskId) ?? 0));
  }

  private takeEarlyAck(taskId: string): number {
    const n = this.earlyAcks.get(taskId) ?? 0;
    this.earlyAcks.delete(taskId);
    return n;
  }

  /** The plan of a streaming task's run (see GeneratorPlan), or undefined for other tasks. */
  private generatorPlan(spec: rayts.TaskSpec): GeneratorPlan | undefined {
    if (!spec.streaming) return undefined;
    return {
      backpressure: Math.max(0, spec.generatorBackpressure | 0),
      skip: Math.max(0, spec.generatorSkip | 0),
      consumed: Math.max(spec.generatorConsumed || 0, this.takeEarlyAck(spec.taskId)),
    };
  }

  /**
   * Sends items of a streaming task to its caller: inline, or stored here under `T.(i+1)` when large
   * (pulled by the caller like a large result). Sends are chained per task so that items leave in order
   * and before the task's result.
   */
  sendItems(to: Submitter, spec: { taskId: string; attempt: number; jobId: string; ownerAddress: string }, items: readonly StreamItem[], chain: Promise<void> | undefined): Promise<void> {
    return (chain ?? Promise.resolve()).then(async () => {
      for (const { index, reply } of items) {
        let r: rayts.ITaskResult;
        try {
          if ('stored' in reply) {
            await relieveStorePressure(this.o.store, reply.stored.meta.sizeBytes);
            r = await withStoreRoom(() => this.storeResult(objectIdOf(spec.taskId as never, index + 1), reply.stored, spec.jobId, spec.ownerAddress));
            r.nodeAddress = this.o.address;
          } else r = { inline: reply.value, sizeBytes: reply.value.byteLength };
        } catch (e) {
          // The item could not be kept here: the caller gets its ref failing with the reason.
          this.o.log.warn({ err: (e as Error).message, taskId: spec.taskId, index }, 'could not store a streamed item');
          continue;
        }
        r.status = 'stream_item';
        r.itemIndex = index;
        r.taskId = spec.taskId;
        r.attempt = spec.attempt;
        r.nodeId = this.nodeId;
        r.containedRefs = reply.containedRefs;
        r.containedOwners = reply.containedOwners;
        this.reply(to, r, { jobId: spec.jobId, callerAddress: spec.ownerAddress });
      }
    });
  }

  private async execute(t: NodeTask): Promise<void> {
    const spec = t.spec;
    let result: rayts.ITaskResult;
    let release = () => undefined as void;
    let itemCount = 0;
    try {
      // Inline arguments only (the common case): no promise, no pins.
      const resolved = this.inlineArgs(spec) ?? (await this.resolveArgs(spec));
      release = resolved.release;
      const args = resolved.args;
      const fnDesc = spec.fn as rayts.FunctionDescriptor;
      const fn = this.functions.get(fnDesc.functionId)!;
      const wt: WorkerTask = {
        taskId: spec.taskId,
        jobId: spec.jobId,
        nodeId: this.nodeId,
        attempt: spec.attempt,
        name: fnDesc.name,
        fn,
        workingDirPath: spec.workingDirHash ? (this.workingDirs.get(spec.workingDirHash) ?? '') : '',
        args,
        namespace: spec.namespace,
        generator: this.generatorPlan(spec),
      };
      const onItems = wt.generator ? (items: readonly StreamItem[]) => void (t.items = this.sendItems(t.from, spec, items, t.items)) : undefined;
      const reply = await this.pool.run(wt, { lease: t.lease, onItems });
      // A streaming task's items all leave before its result.
      if (t.items) await t.items;
      itemCount = reply.itemCount ?? 0;
      if (reply.revoked) {
        // Taken back before it started (the task ahead of it blocked): dispatched again by the scheduler.
        release();
        return;
      }
      if (t.killedForMemory !== undefined) {
        result = {
          status: 'error',
          retriable: true,
          inline: encodeError(
            new WorkerCrashedError(`Task ${wt.name} (task ${spec.taskId}) was killed by the memory monitor of node ${this.nodeId}: host memory at ${Math.round(t.killedForMemory * 100)}%.`, {
              hint: 'It is retried with backoff. Give tasks less data at a time, or raise RAYTS_MEMORY_THRESHOLD.',
              ids: { taskId: spec.taskId, nodeId: this.nodeId, reason: 'memory' },
            }),
          ),
        };
      } else if (t.cancelled) {
        result = { status: 'error', inline: encodeError(new TaskCancelledError(`Task ${wt.name} (task ${spec.taskId}) was cancelled.`, { ids: { taskId: spec.taskId } })) };
      } else if (wt.generator) {
        result = reply.ok ? { status: 'ok', inline: encodeValue(null) } : { status: 'error', inline: encodeError(errorFromWire(reply.error)), retriable: !!(reply as { crashed?: boolean }).crashed };
      } else if (reply.ok) {
        const stored = 'stored' in reply ? reply.stored : undefined;
        if (stored) await relieveStorePressure(this.o.store, stored.meta.sizeBytes);
        result = stored ? await withStoreRoom(() => this.storeResult(`${spec.taskId}.0`, stored, spec.jobId, spec.ownerAddress)) : { status: 'ok', inline: (reply as { value: Uint8Array }).value, sizeBytes: (reply as { value: Uint8Array }).value.byteLength };
        result.containedRefs = reply.containedRefs;
        result.containedOwners = reply.containedOwners;
      } else {
        result = { status: 'error', inline: encodeError(errorFromWire(reply.error)), retriable: !!reply.crashed };
      }
    } catch (e) {
      result = { status: 'error', inline: encodeError(e), retriable: false };
    } finally {
      release();
    }
    t.state = 'done';
    this.running.delete(spec.taskId);
    const outcome = result.status === 'ok' ? 'finished' : 'failed';
    tasksCompleted.inc({ outcome });
    if (t.startedAt !== undefined) taskDuration.observe({ outcome }, (performance.now() - t.startedAt) / 1000);
    // A task that still lends its CPU gives back only the rest, without counting as a second finish.
    if (t.lease) this.scheduler.finish(t.lease, t, { lent: t.lent });
    else if (t.lent) this.scheduler.release(this.subtractLent(t), { blocked: true });
    else this.scheduler.release(t.demand);
    result.taskId = spec.taskId;
    result.attempt = spec.attempt;
    result.nodeId = this.nodeId;
    if (spec.streaming) {
      this.earlyAcks.delete(spec.taskId);
      result.itemIndex = itemCount;
    }
    // Where to pull from: only a stored result needs it (an inline one is complete in the reply).
    if (result.stored) result.nodeAddress = this.o.address;
    this.reply(t.from, result, { jobId: spec.jobId, callerAddress: spec.ownerAddress });
  }

  private subtractLent(t: NodeTask): ResourceMap {
    const out: ResourceMap = { ...t.demand };
    for (const [k, v] of Object.entries(t.lent ?? {})) out[k] = (out[k] ?? 0) - v;
    return out;
  }

  /**
   * Set by the process: refs inside a result leave this node for its caller, who is registered as a
   * borrower with their owners first. Returns, per ref, the owner address that counted the caller.
   */
  onRefsEscaped?: (jobId: string, ids: readonly string[], owners: readonly string[] | undefined, callerAddress: string) => string[] | Promise<string[]>;
  /** Set by the process: a worker thread ended (its references are gone). */
  onThreadExit?: (threadId: number) => void;
  private portSink?: (port: MessagePort) => void;
  private pendingPorts: MessagePort[] = [];

  /**
   * Set by the process: where the main-thread ends of the worker threads' own bridge ports go (the
   * WorkerBridge). Threads started before (the warm ones) are handed over now; what they sent meanwhile
   * waits in their ports.
   */
  set bridgePorts(sink: (port: MessagePort) => void) {
    this.portSink = sink;
    for (const p of this.pendingPorts.splice(0)) sink(p);
  }

  /** A port of its own to the worker bridge, for a new worker thread (transferred with its workerData). */
  private threadPort(): MessagePort {
    const { port1, port2 } = new MessageChannel();
    if (this.portSink) this.portSink(port1);
    else this.pendingPorts.push(port1);
    return port2;
  }

  private reply(sub: Submitter, r: rayts.ITaskResult, origin?: { jobId: string; callerAddress: string }): void {
    if (!r.containedRefs?.length) return this.send(sub, r);
    // Owners on the wire mean "registered on your behalf"; without registration the caller registers itself.
    const owners = origin && this.onRefsEscaped ? this.onRefsEscaped(origin.jobId, r.containedRefs, r.containedOwners ?? undefined, origin.callerAddress) : [];
    if (Array.isArray(owners)) {
      r.containedOwners = owners;
      this.send(sub, r);
    } else {
      void owners.then((o) => {
        r.containedOwners = o;
        this.send(sub, r);
      });
    }
  }

  private send(sub: Submitter, r: rayts.ITaskResult): void {
    if (sub.closed) return;
    sub.results.push(r);
    this.scheduleFlush(sub);
  }

  private scheduleFlush(sub: Submitter): void {
    if (sub.flushScheduled) return;
    sub.flushScheduled = true;
    setImmediate(() => {
      sub.flushScheduled = false;
      if (sub.closed) return;
      const results = sub.results;
      const events = sub.events;
      sub.results = [];
      sub.events = [];
      try {
        sub.call.write(pb.ResultBatch.create({ results: results as rayts.TaskResult[], events: events as rayts.TaskEvent[] }));
      } catch (e) {
        this.o.log.debug({ err: (e as Error).message }, 'result stream write failed');
      }
    });
  }

  cancel(taskId: string, force: boolean): void {
    const removed = this.removeQueued((t) => t.spec.taskId === taskId, 'its creation was cancelled');
    for (const t of removed) {
      t.state = 'done';
      this.reply(t.from, {
        taskId,
        attempt: t.spec.attempt,
        status: 'error',
        nodeId: this.nodeId,
        inline: encodeError(new TaskCancelledError(`Task ${t.spec.fn?.name} (task ${taskId}) was cancelled before it ran.`, { ids: { taskId } })),
      });
    }
    const r = this.running.get(taskId);
    if (r) {
      r.cancelled = true;
      // Dropped if it has not started on its thread yet; a running one is stopped only when forced
      // (a streaming one is told to stop: its generator's return() runs at its next item).
      if (!this.pool.cancel(taskId, force) && r.spec.streaming) this.pool.stopGenerator(taskId);
    } else if (removed.length === 0 && !this.cancelAwaitingCall(taskId)) this.actors.stopGenerator(taskId);
    this.earlyAcks.delete(taskId);
  }

  /** A placement group was removed: stop what ran in it and turn its resources back into plain ones. */
  private async releaseGroup(pgId: string, index: number, bundle: ResourceMap): Promise<void> {
    const inGroup = (demand: ResourceMap) => Object.keys(demand).some((k) => k.endsWith(`_group_${pgId}`) || k.includes(`_group_${index}_${pgId}`));
    for (const t of this.removeQueued((q) => inGroup(q.demand), `its placement group ${pgId} was removed`)) {
      t.state = 'done';
      this.reply(t.from, {
        taskId: t.spec.taskId,
        attempt: t.spec.attempt,
        status: 'error',
        nodeId: this.nodeId,
        inline: encodeError(new SchedulingError(`Task ${t.spec.fn?.name} (task ${t.spec.taskId}) was queued in placement group ${pgId}, which was removed.`, { ids: { taskId: t.spec.taskId, pgId } })),
      });
    }
    for (const t of this.running.values()) if (inGroup(t.demand)) this.cancel(t.spec.taskId, true);
    await this.actors.killGroup(pgId);
    this.scheduler.removeTotal(bundleResources(pgId, index, bundle));
    this.scheduler.addTotal(bundle);
    // The head answers removePlacementGroup() once it sees the bundle back in this node's pool.
    this.reportSoon();
  }

  /** Lends a blocked task's CPU to other tasks (the task waits in get). */
  lendCpu(taskId: string): ResourceMap | undefined {
    const t = this.running.get(taskId);
    if (!t) return undefined;
    this.requeueBehind(t);
    if (t.lent || !t.demand.CPU) return undefined;
    t.lent = { CPU: t.demand.CPU };
    this.scheduler.release(t.lent);
    return t.lent;
  }

  /**
   * A task blocks: the tasks pipelined behind it on its thread go back to the queue (one of them may be
   * what it waits for), and its lease takes no more.
   */
  private requeueBehind(t: NodeTask): void {
    if (!t.lease) return;
    const back: NodeTask[] = [];
    for (const w of this.pool.revokeQueuedBehind(t.spec.taskId)) {
      const b = this.running.get(w.taskId);
      if (!b) continue;
      this.running.delete(w.taskId);
      b.state = 'queued';
      b.lease = undefined;
      back.push(b);
    }
    this.scheduler.requeue(t.lease, back);
  }

  async reclaimCpu(taskId: string): Promise<void> {
    const t = this.running.get(taskId);
    if (!t?.lent) return;
    const lent = t.lent;
    await this.scheduler.acquire(lent);
    t.lent = undefined;
    this.pool.unblocked(taskId);
  }

  describe(): string {
    return `node ${this.nodeId} (${formatResources(this.o.resources)})`;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unregisterMetrics();
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.memory.close();
    this.actorReports.close();
    this.channel?.end();
    this.head.close();
    this.pulls.close();
    await this.actors.close();
    await this.pool.close();
  }
}

