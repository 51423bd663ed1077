/**
 * TaskThread: the main thread's handle on one task thread (thread/task-entry.ts): its Worker, its
 * MessagePort, its control word (see task-thread-protocol.ts) and the jobs posted to it that have not
 * replied. Posting is batched: jobs given to a busy thread in one event-loop turn leave as one message,
 * and so do the jobs an idle thread is given in one run of microtasks (no added latency for one task
 * at a time). Each message to a sleeping thread costs a wake-up, which on a loaded machine is the
 * dearest part of a task.
 *
 * Not responsible for choosing threads, re-dispatching jobs or making errors: WorkerPool does that.
 */
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { WorkerInit, WorkerReply, WorkerTask } from '../worker/protocol.js';
import type { MainToThread, TaskThreadData, ThreadJob, ThreadResult, ThreadToMain } from './task-thread-protocol.js';
import type { StreamItem } from '../worker/generator-driver.js';

/** A task given to the pool, until it replies. */
export interface PoolJob {
  readonly task: WorkerTask;
  /** Jobs with the same lease go to the same thread, in order. */
  readonly lease: object;
  readonly resolve: (r: WorkerReply & { crashed?: boolean; revoked?: boolean }) => void;
  thread?: TaskThread;
  /** Sequence number on `thread` (0 until it is given one). */
  seq: number;
  /** Sent to the thread (else still in its outbox). */
  posted: boolean;
  /** A streaming task's items, as they arrive (before its reply). */
  readonly onItems?: (items: readonly StreamItem[]) => void;
  /** A streaming task: items its caller consumed, and whether it was told to stop (sent once posted). */
  consumed?: number;
  stopped?: boolean;
}

export interface TaskThreadOptions {
  readonly entry: string;
  readonly init: WorkerInit;
  readonly maxOldGenerationSizeMb: number;
  readonly quickUs: number;
  readonly onResults: (t: TaskThread, results: readonly ThreadResult[], values: Uint8Array | undefined) => void;
  readonly onItems?: (t: TaskThread, seq: number, items: readonly StreamItem[]) => void;
  readonly onExit: (t: TaskThread, why: string) => void;
  /** The thread ended, for whatever reason. */
  readonly onGone?: (t: TaskThread) => void;
}

export class TaskThread {
  readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly control: Int32Array;
  /** Jobs given to this thread and not replied, in sequence order. */
  readonly jobs = new Map<number, PoolJob>();
  private outbox: PoolJob[] = [];
  private flushQueued = false;
  private nextSeq = 1;
  private stopId = 0;
  private stoppedAt = 0;
  private readonly sentFns = new Set<string>();
  private portRef = false;
  /** The lease whose jobs this thread runs now. */
  lease: object | undefined;
  /** Ended (terminated on purpose, or died). */
  dead = false;
  /** Its task is blocked in get (see WorkerPool.revokeQueuedBehind). */
  blocked = false;
  idleSince = 0;
  private error: Error | undefined;

  /** The worker's threadId (stable after it ended). */
  readonly threadId: number;

  constructor(private readonly o: TaskThreadOptions) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const control = new SharedArrayBuffer(4);
    this.control = new Int32Array(control);
    const data: TaskThreadData = { rayts: o.init, pool: { port: port2, control, quickUs: o.quickUs } };
    this.worker = new Worker(o.entry, {
      workerData: data,
      transferList: o.init.bridgePort ? [port2 as never, o.init.bridgePort as never] : [port2 as never],
      // A task that exhausts its heap ends its own thread (WorkerCrashedError), never the node.
      resourceLimits: { maxOldGenerationSizeMb: o.maxOldGenerationSizeMb },
    });
    this.threadId = this.worker.threadId;
    this.worker.unref();
    this.port.on('message', (m: ThreadToMain) => this.onMessage(m));
    this.port.unref();
    this.worker.on('error', (e) => {
      this.error ??= e;
    });
    this.worker.on('exit', (code) => {
      this.o.onGone?.(this);
      if (this.dead) return;
      this.dead = true;
      this.drain();
      this.o.onExit(this, this.error?.message ?? `its thread exited with code ${code}`);
      this.port.close();
    });
  }

  get busy(): boolean {
    return this.jobs.size > 0;
  }

  private onMessage(m: ThreadToMain): void {
    if (m.type === 'done') this.o.onResults(this, m.results, m.values);
    else if (m.type === 'items') this.o.onItems?.(this, m.seq, m.items);
  }

  /** Hands replies already posted by the thread to `onResults` now. */
  drain(): void {
    for (let m = receiveMessageOnPort(this.port); m; m = receiveMessageOnPort(this.port)) this.onMessage(m.message as ThreadToMain);
  }

  /** Queues `job` for this thread (posted at once when the thread was idle, else at the end of the turn). */
  give(job: PoolJob): void {
    const wasIdle = this.jobs.size === 0;
    job.thread = this;
    job.seq = this.nextSeq++;
    job.posted = false;
    this.jobs.set(job.seq, job);
    this.outbox.push(job);
    if (!this.portRef) {
      this.portRef = true;
      this.port.ref();
    }
    if (this.flushQueued) return;
    this.flushQueued = true;
    // An idle thread gets its jobs at the end of this microtask run (the jobs dispatched together
    // leave together, with no added latency); a busy one at the end of this turn.
    if (wasIdle) queueMicrotask(() => this.flush());
    else setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.dead || this.outbox.length === 0) return;
    const jobs: ThreadJob[] = [];
    for (const j of this.outbox) {
      const t = j.task;
      const fnId = t.fn.functionId;
      const first = !this.sentFns.has(fnId);
      if (first) this.sentFns.add(fnId);
      j.posted = true;
      jobs.push({
        seq: j.seq,
        taskId: t.taskId,
        jobId: t.jobId,
        nodeId: t.nodeId,
        attempt: t.attempt,
        name: t.name,
        fnId,
        fn: first ? t.fn : undefined,
        workingDirPath: t.workingDirPath,
        args: t.args,
        namespace: t.namespace,
        generator: t.generator && { ...t.generator, consumed: Math.max(t.generator.consumed, j.consumed ?? 0) },
      });
    }
    const stops = this.outbox.filter((j) => j.stopped);
    this.outbox = [];
    this.post({ type: 'run', jobs });
    for (const j of stops) this.post({ type: 'genStop', seq: j.seq });
  }

  /** Tells a posted streaming job's producer that its caller consumed `consumed` items (else kept until it is posted). */
  generatorAck(job: PoolJob, consumed: number): void {
    job.consumed = Math.max(job.consumed ?? 0, consumed);
    if (job.posted && !this.dead) this.post({ type: 'genAck', seq: job.seq, consumed: job.consumed });
  }

  /** Tells a streaming job's producer to stop (its generator's return() runs). */
  stopGenerator(job: PoolJob): void {
    job.stopped = true;
    if (job.posted && !this.dead) this.post({ type: 'genStop', seq: job.seq });
  }

  private post(m: MainToThread): void {
    try {
      this.port.postMessage(m);
    } catch (e) {
      // An argument that cannot be cloned fails the whole message; its jobs end with the error.
      this.error = e as Error;
      if (!this.dead) {
        this.dead = true;
        queueMicrotask(() => this.o.onExit(this, `a message to it failed: ${(e as Error).message}`));
      }
      void this.kill();
    }
  }

  /** Takes a job out of this thread's books (after it replied, or was dropped). */
  forget(job: PoolJob): void {
    this.jobs.delete(job.seq);
    if (!job.posted) this.outbox = this.outbox.filter((j) => j !== job);
    if (this.jobs.size === 0 && this.portRef) {
      this.portRef = false;
      this.port.unref();
    }
  }

  /** Sequence number of the last job the thread started (it may still run, or have replied). */
  lastStarted(): number {
    const v = Atomics.load(this.control, 0);
    return v >= 0 ? v : this.stoppedAt;
  }

  /** Whether `job` (given to this thread) has started. */
  started(job: PoolJob): boolean {
    return job.posted && job.seq <= this.lastStarted();
  }

  /**
   * Stops the thread from starting further jobs; returns the sequence number of the last one it
   * started. Follow with {@link resume} (or terminate the thread).
   */
  stop(): number {
    const k = ++this.stopId;
    const prev = Atomics.exchange(this.control, 0, -k);
    if (prev >= 0) this.stoppedAt = prev;
    return this.stoppedAt;
  }

  /** Lets a stopped thread go on, without the posted jobs `drop` (already taken out of its books). */
  resume(drop: readonly number[]): void {
    this.post({ type: 'resume', token: -this.stopId, drop });
  }

  /** Ends the thread on purpose (force cancel, idle, close): no exit report follows. */
  async kill(): Promise<void> {
    this.dead = true;
    this.port.close();
    await this.worker.terminate();
  }
}
