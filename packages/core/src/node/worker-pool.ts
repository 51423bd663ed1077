/**
 * WorkerPool: the worker threads that run a node's tasks (thread/task-entry.ts), one task at a time per
 * thread. Tasks come with a lease (LocalTaskScheduler): the tasks of one lease go to one thread, in
 * order, so a thread can hold the next short task while the main thread handles the last reply
 * (pipelining, as Ray reuses a worker lease); tasks given in one event-loop turn leave as one message
 * and replies come back batched (see task-thread-protocol.ts).
 *
 * The pool keeps `minThreads` threads and starts one per lease that finds no idle thread, up to
 * `maxThreads` (tasks blocked in get lend their CPU, so more leases than CPUs run at once — as Ray
 * starts more workers for blocked tasks); leases beyond that wait for a thread. Idle threads above
 * `minThreads` exit after `idleTimeoutMs`.
 *
 * Failures: a force-cancelled task ends its thread ({@link WorkerPool.cancel}); a thread that dies
 * (process.exit, an uncaught error, heap exhaustion under `maxOldGenerationSizeMb`) fails the task it
 * ran with WorkerCrashedError and the node stays up. Either way the tasks queued behind it on that
 * thread had not started: they go to another thread, not lost and never run twice.
 *
 * Not responsible for resources or task order across leases (LocalTaskScheduler does that).
 */
import type { MessagePort } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { WorkerCrashedError, TaskCancelledError, errorToWire, type ErrorWire } from '@samsara/ray-common';
import type { WorkerInit, WorkerReply, WorkerTask } from '../worker/protocol.js';
import { TaskThread, type PoolJob } from './task-thread.js';
import type { ThreadResult } from './task-thread-protocol.js';
import type { StreamItem } from '../worker/generator-driver.js';

export interface WorkerPoolOptions {
  /** Threads kept warm (one per CPU). */
  readonly threads: number;
  /** Threads started before any task and kept when idle [threads]; 0 starts them on demand (edge nodes, to idle small). */
  readonly minThreads?: number;
  /** Upper bound, for tasks blocked in get plus fractional-CPU tasks [max(32, 4 × threads)]. */
  readonly maxThreads?: number;
  readonly init: WorkerInit;
  /** A port of its own to the worker bridge for each new thread (else threads share BroadcastChannels). */
  readonly threadPort?: () => MessagePort | undefined;
  /** Heap limit per worker thread in MiB (worker resource limits) [workerHeapMb()]. */
  readonly maxOldGenerationSizeMb?: number;
  /** An idle thread above minThreads exits after this long [60,000]. */
  readonly idleTimeoutMs?: number;
  /**
   * A function whose runs average less than this (µs) counts as short ({@link WorkerPool.isShort}):
   * its tasks may queue behind others on a thread, and its replies may be batched [1,000].
   */
  readonly shortTaskUs?: number;
  /** Called with the thread id of every task thread that ends (crash, force cancel, idle exit, close). */
  readonly onThreadExit?: (threadId: number) => void;
}

/** What {@link WorkerPool.run} resolves to; it never rejects. */
export type PoolReply = WorkerReply & {
  /** The thread died (a system failure: the task may be retried). */
  readonly crashed?: boolean;
  /** Taken back before it started ({@link WorkerPool.revokeQueuedBehind}); the caller dispatches it again. */
  readonly revoked?: boolean;
};

/** Options of {@link WorkerPool.run}. */
export interface RunOptions {
  /** Tasks with the same lease run on one thread, in order [a lease of its own]. */
  readonly lease?: object;
  /** Aborting it force-cancels the task (see {@link WorkerPool.cancel}). */
  readonly signal?: AbortSignal;
  /** A streaming task's items, in order, as its generator produces them (all before the reply). */
  readonly onItems?: (items: readonly StreamItem[]) => void;
}

/**
 * Tasks one lease (one thread) may carry at once, the running one included: RAYTS_TASK_PIPELINE_DEPTH,
 * default 8; 1 turns pipelining off. Only tasks of functions known to be short are pipelined.
 */
export function taskPipelineDepth(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.RAYTS_TASK_PIPELINE_DEPTH);
  return Number.isInteger(v) && v >= 1 ? v : 8;
}

/** Heap limit of each worker thread: RAYTS_WORKER_HEAP_MB, default 2048 MiB. */
export function workerHeapMb(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.RAYTS_WORKER_HEAP_MB);
  return Number.isFinite(v) && v >= 16 ? v : 2048;
}

const ENTRY = fileURLToPath(new URL('../thread/task-entry.js', import.meta.url));

interface ResolvedOptions {
  readonly minThreads: number;
  readonly maxThreads: number;
  readonly init: WorkerInit;
  readonly maxOldGenerationSizeMb: number;
  readonly idleTimeoutMs: number;
  readonly shortTaskUs: number;
  readonly onThreadExit?: (threadId: number) => void;
  readonly threadPort?: () => MessagePort | undefined;
}

export class WorkerPool {
  private readonly o: ResolvedOptions;
  private readonly all = new Set<TaskThread>();
  /** Idle threads, most recently used last. */
  private idle: TaskThread[] = [];
  private readonly byLease = new Map<object, TaskThread>();
  /** Leases waiting for a thread (maxThreads reached), oldest first, with their jobs in order. */
  private readonly waiting = new Map<object, PoolJob[]>();
  private readonly byTask = new Map<string, PoolJob>();
  /** Moving average of run time per function id (µs), from the threads' reports. */
  private readonly runUs = new Map<string, number>();
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;
  /** Threads whose task is blocked (in get): they do not count against maxThreads. */
  private blockedThreads = 0;

  constructor(o: WorkerPoolOptions) {
    const threads = Math.max(1, o.threads);
    this.o = Object.freeze({
      minThreads: o.minThreads ?? threads,
      maxThreads: Math.max(1, o.maxThreads ?? Math.max(32, 4 * threads)),
      init: o.init,
      maxOldGenerationSizeMb: o.maxOldGenerationSizeMb ?? workerHeapMb(),
      idleTimeoutMs: o.idleTimeoutMs ?? 60_000,
      shortTaskUs: o.shortTaskUs ?? 1000,
      onThreadExit: o.onThreadExit,
      threadPort: o.threadPort,
    });
    for (let i = 0; i < this.o.minThreads; i++) this.idle.push(this.spawn());
  }

  /** Threads alive now (running, idle or starting). */
  get threads(): number {
    return this.all.size;
  }

  /** Runs a task; never rejects: failures come back as `{ ok: false, error }` with `crashed` set for system failures. */
  run(task: WorkerTask, options: RunOptions = {}): Promise<PoolReply> {
    return new Promise<PoolReply>((resolve) => {
      if (this.closed) {
        resolve(this.crashReply(task, 'its node is shutting down'));
        return;
      }
      const job: PoolJob = { task, lease: options.lease ?? {}, resolve, seq: 0, posted: false, onItems: options.onItems };
      this.byTask.set(task.taskId, job);
      const signal = options.signal;
      if (signal) {
        if (signal.aborted) {
          this.settle(job, this.cancelledReply(task));
          return;
        }
        signal.addEventListener('abort', () => this.cancel(task.taskId, true), { once: true });
      }
      this.assign(job);
    });
  }

  /** A streaming task's caller consumed `consumed` of its items (its producer's backpressure). */
  generatorAck(taskId: string, consumed: number): boolean {
    const job = this.byTask.get(taskId);
    if (!job) return false;
    if (job.thread) job.thread.generatorAck(job, consumed);
    else job.consumed = Math.max(job.consumed ?? 0, consumed);
    return true;
  }

  /** Stops a streaming task's generator at its next item (not the thread: its return() runs). */
  stopGenerator(taskId: string): boolean {
    const job = this.byTask.get(taskId);
    if (!job) return false;
    if (job.thread) job.thread.stopGenerator(job);
    else job.stopped = true;
    return true;
  }

  /** Whether tasks of this function are known to be short (see {@link WorkerPoolOptions.shortTaskUs}). */
  isShort(functionId: string): boolean {
    return (this.runUs.get(functionId) ?? Infinity) < this.o.shortTaskUs;
  }

  /** Whether the task has started on its thread (false when unknown, queued, or taken back). */
  started(taskId: string): boolean {
    const job = this.byTask.get(taskId);
    return !!job?.thread && job.thread.started(job);
  }

  /**
   * Cancels a task given to the pool. One that has not started is dropped (it never runs) and
   * resolves with TaskCancelledError. One that runs is stopped only when `force`: its thread is
   * terminated (TaskCancelledError) and the tasks queued behind it move to another thread.
   * Returns whether the task was stopped or dropped.
   */
  cancel(taskId: string, force: boolean): boolean {
    const job = this.byTask.get(taskId);
    if (!job) return false;
    const t = job.thread;
    if (!t) {
      this.unwait(job);
      this.settle(job, this.cancelledReply(job.task));
      return true;
    }
    if (!job.posted) {
      this.settle(job, this.cancelledReply(job.task));
      return true;
    }
    t.drain();
    if (!this.byTask.has(taskId)) return false; // it had replied
    const last = t.stop();
    if (job.seq > last) {
      t.resume([job.seq]);
      this.settle(job, this.cancelledReply(job.task));
      return true;
    }
    // Done already (its reply is still batched on the thread), or running and not to be forced.
    if (job.seq < last || !force) {
      t.resume([]);
      return false;
    }
    this.settle(job, this.cancelledReply(job.task), false);
    this.lose(t, last);
    void t.kill();
    return true;
  }

  /**
   * The task runs and will wait (blocked in get): the tasks queued behind it on its thread are taken
   * back (they resolve with `revoked`) and returned in order, so that the caller can dispatch them
   * elsewhere; its thread takes no more tasks of its lease, and does not count against maxThreads
   * until the task {@link unblocked} or ended (tasks it waits for must find a thread).
   */
  revokeQueuedBehind(taskId: string): WorkerTask[] {
    const job = this.byTask.get(taskId);
    const t = job?.thread;
    if (!job || !t) return [];
    if (!t.blocked && !t.dead) {
      t.blocked = true;
      this.blockedThreads++;
    }
    if (t.lease !== undefined && this.byLease.get(t.lease) === t) this.byLease.delete(t.lease);
    t.lease = undefined;
    const last = t.stop();
    const behind = [...t.jobs.values()].filter((j) => j !== job && (!j.posted || j.seq > last));
    t.resume(behind.filter((j) => j.posted).map((j) => j.seq));
    for (const j of behind) this.settle(j, { ...this.cancelledReply(j.task), revoked: true }, false);
    this.idleCheck(t);
    this.serveWaiting();
    return behind.map((j) => j.task);
  }

  /** The task that blocked ({@link revokeQueuedBehind}) runs again: its thread counts again. */
  unblocked(taskId: string): void {
    const t = this.byTask.get(taskId)?.thread;
    if (t) this.unblock(t);
  }

  private unblock(t: TaskThread): void {
    if (!t.blocked) return;
    t.blocked = false;
    this.blockedThreads--;
  }

  private canSpawn(): boolean {
    return this.all.size - this.blockedThreads < this.o.maxThreads;
  }

  private assign(job: PoolJob): void {
    const queued = this.waiting.get(job.lease);
    if (queued) {
      queued.push(job);
      return;
    }
    let t = this.byLease.get(job.lease);
    if (!t || t.dead) {
      t = this.takeIdle() ?? (this.canSpawn() ? this.spawn() : undefined);
      if (!t) {
        this.waiting.set(job.lease, [job]);
        return;
      }
      t.lease = job.lease;
      this.byLease.set(job.lease, t);
    }
    t.give(job);
  }

  private takeIdle(): TaskThread | undefined {
    for (let t = this.idle.pop(); t; t = this.idle.pop()) if (!t.dead && !t.busy) return t;
    return undefined;
  }

  private withPort(): WorkerInit {
    const bridgePort = this.o.threadPort?.();
    return bridgePort ? { ...this.o.init, bridgePort } : this.o.init;
  }

  private spawn(): TaskThread {
    const t = new TaskThread({
      entry: ENTRY,
      init: this.withPort(),
      maxOldGenerationSizeMb: this.o.maxOldGenerationSizeMb,
      quickUs: this.o.shortTaskUs,
      onResults: (th, results, values) => this.onResults(th, results, values),
      onItems: (th, seq, items) => th.jobs.get(seq)?.onItems?.(items),
      onExit: (th, why) => this.onExit(th, why),
      onGone: (th) => {
        try {
          this.o.onThreadExit?.(th.threadId);
        } catch {
          /* a listener's failure must not end the node (this runs in a Worker 'exit' handler) */
        }
      },
    });
    this.all.add(t);
    t.idleSince = performance.now();
    if (this.all.size > this.o.minThreads && !this.sweeper) {
      this.sweeper = setInterval(() => this.sweep(), Math.min(this.o.idleTimeoutMs, 10_000));
      this.sweeper.unref();
    }
    return t;
  }

  private onResults(t: TaskThread, results: readonly ThreadResult[], values: Uint8Array | undefined): void {
    for (const r of results) {
      const job = t.jobs.get(r.seq);
      if (!job) continue;
      const fnId = job.task.fn.functionId;
      const avg = this.runUs.get(fnId);
      this.runUs.set(fnId, avg === undefined ? r.us : avg * 0.8 + r.us * 0.2);
      const reply = values && r.at !== undefined ? ({ ...r.reply, value: values.subarray(r.at, r.at + (r.len ?? 0)) } as WorkerReply) : r.reply;
      this.settle(job, reply, false);
    }
    this.idleCheck(t);
  }

  /** Resolves a job and takes it out of the books. */
  private settle(job: PoolJob, reply: PoolReply, check = true): void {
    if (this.byTask.get(job.task.taskId) === job) this.byTask.delete(job.task.taskId);
    const t = job.thread;
    if (t) {
      t.forget(job);
      if (check) this.idleCheck(t);
    }
    job.resolve(reply);
  }

  /** A thread with no jobs left gives up its lease and serves a waiting one, or goes idle. */
  private idleCheck(t: TaskThread): void {
    if (t.busy || t.dead) return;
    this.unblock(t);
    if (t.lease !== undefined && this.byLease.get(t.lease) === t) this.byLease.delete(t.lease);
    t.lease = undefined;
    const next = this.waiting.entries().next();
    if (!next.done) {
      const [lease, jobs] = next.value;
      this.waiting.delete(lease);
      t.lease = lease;
      this.byLease.set(lease, t);
      for (const j of jobs) t.give(j);
      return;
    }
    t.idleSince = performance.now();
    if (!this.idle.includes(t)) this.idle.push(t);
  }

  private unwait(job: PoolJob): void {
    const jobs = this.waiting.get(job.lease);
    if (!jobs) return;
    const i = jobs.indexOf(job);
    if (i >= 0) jobs.splice(i, 1);
    if (jobs.length === 0) this.waiting.delete(job.lease);
  }

  /**
   * `t` is gone: jobs it started and did not reply fail with `started`; the others had not started
   * and go to another thread in their order.
   */
  private lose(t: TaskThread, last: number, started?: (job: PoolJob) => PoolReply): void {
    this.unblock(t);
    this.all.delete(t);
    this.idle = this.idle.filter((x) => x !== t);
    if (t.lease !== undefined && this.byLease.get(t.lease) === t) this.byLease.delete(t.lease);
    const jobs = [...t.jobs.values()];
    for (const j of jobs) t.forget(j);
    const again: PoolJob[] = [];
    for (const j of jobs) {
      if (j.posted && j.seq <= last) {
        if (started) this.settle(j, started(j), false);
        else this.settle(j, this.crashReply(j.task, 'its thread was stopped'), false);
      } else {
        j.thread = undefined;
        j.posted = false;
        j.seq = 0;
        again.push(j);
      }
    }
    if (!this.closed) {
      for (const j of again) this.assign(j);
      while (this.all.size < this.o.minThreads) this.idleCheck(this.spawn());
      this.serveWaiting();
    }
  }

  /** Leases waiting for a thread get one while threads may be added. */
  private serveWaiting(): void {
    while (this.waiting.size > 0 && this.canSpawn()) this.idleCheck(this.spawn());
  }

  private onExit(t: TaskThread, why: string): void {
    const last = t.lastStarted();
    // A thread that never started a task (it failed while loading) fails what it was given: another
    // thread would fail the same way.
    const failAll = last === 0;
    this.lose(t, failAll ? Number.MAX_SAFE_INTEGER : last, (j) => this.crashReply(j.task, why));
  }

  private sweep(): void {
    const now = performance.now();
    for (const t of [...this.idle]) {
      if (this.all.size <= this.o.minThreads) break;
      if (t.busy || t.dead || now - t.idleSince < this.o.idleTimeoutMs) continue;
      this.idle = this.idle.filter((x) => x !== t);
      this.all.delete(t);
      void t.kill();
    }
    if (this.all.size <= this.o.minThreads && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  private cancelledReply(task: WorkerTask): PoolReply {
    return {
      ok: false,
      error: errorToWire(new TaskCancelledError(`Task ${task.name} (task ${task.taskId}) was cancelled while running; its worker was stopped.`, { ids: { taskId: task.taskId } })),
    };
  }

  private crashReply(task: WorkerTask, why: string): PoolReply {
    const err = new WorkerCrashedError(`The worker running ${task.name} (task ${task.taskId}) on node ${task.nodeId} died: ${why}.`, {
      hint: 'The task is retried while maxRetries allows. Check for process.exit(), infinite memory growth or native crashes in the task.',
      ids: { taskId: task.taskId, nodeId: task.nodeId },
    });
    return { ok: false, error: errorToWire(err) as ErrorWire, crashed: true };
  }

  /** Ends every thread; tasks still given to the pool resolve with WorkerCrashedError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    const threads = [...this.all];
    for (const t of threads) this.lose(t, Number.MAX_SAFE_INTEGER, (j) => this.crashReply(j.task, 'its node is shutting down'));
    for (const jobs of this.waiting.values()) for (const j of jobs) this.settle(j, this.crashReply(j.task, 'its node is shutting down'), false);
    this.waiting.clear();
    await Promise.all(threads.map((t) => t.kill()));
  }
}
