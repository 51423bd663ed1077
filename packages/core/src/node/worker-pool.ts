/**
 * WorkerPool: a piscina pool of worker threads running {@link ../worker/task-entry.ts}. One task per
 * thread (every task is abortable, so that `cancel(ref, { force: true })` can end its thread). The pool
 * keeps one thread per CPU and grows up to `maxThreads` when tasks blocked in `get` have lent their CPU
 * to others — as Ray starts more workers for blocked tasks; idle extra threads exit after a minute.
 * A task whose thread dies (process.exit, an uncaught error, heap exhaustion) rejects with
 * WorkerCrashedError and the node stays up; piscina replaces the thread.
 */
import { Piscina } from 'piscina';
import { fileURLToPath } from 'node:url';
import { WorkerCrashedError, TaskCancelledError, type ErrorWire, errorToWire } from '@samsara/ray-common';
import type { WorkerInit, WorkerReply, WorkerTask } from '../worker/protocol.js';

export interface WorkerPoolOptions {
  /** Threads kept warm (one per CPU). */
  readonly threads: number;
  /** Threads started before any task [threads]; 0 starts them on demand (edge nodes, to idle small). */
  readonly minThreads?: number;
  /** Upper bound, for tasks blocked in get plus fractional-CPU tasks [max(32, 4 × threads)]. */
  readonly maxThreads?: number;
  readonly init: WorkerInit;
  /** Heap limit per worker thread in MiB (worker resource limits). */
  readonly maxOldGenerationSizeMb?: number;
}

/** Heap limit of each worker thread: RAYTS_WORKER_HEAP_MB, default 2048 MiB. */
export function workerHeapMb(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.RAYTS_WORKER_HEAP_MB);
  return Number.isFinite(v) && v >= 16 ? v : 2048;
}

const ENTRY = fileURLToPath(new URL('../worker/task-entry.js', import.meta.url));

export class WorkerPool {
  private readonly pool: Piscina;

  constructor(o: WorkerPoolOptions) {
    this.pool = new Piscina({
      filename: ENTRY,
      minThreads: o.minThreads ?? o.threads,
      maxThreads: o.maxThreads ?? Math.max(32, 4 * o.threads),
      concurrentTasksPerWorker: 1,
      idleTimeout: 60_000,
      workerData: { rayts: o.init },
      maxQueue: 'auto',
      // A task that exhausts its heap ends its own thread (WorkerCrashedError), never the node.
      resourceLimits: { maxOldGenerationSizeMb: o.maxOldGenerationSizeMb ?? workerHeapMb() },
      recordTiming: false,
    } as never);
    // Errors of individual workers surface through the tasks they ran.
    this.pool.on('error', () => undefined);
  }

  /** Runs a task; never rejects: failures come back as `{ ok: false, error }` with `crashed` set for system failures. */
  async run(task: WorkerTask, signal?: AbortSignal): Promise<WorkerReply & { crashed?: boolean }> {
    try {
      return (await this.pool.run(task, { signal })) as WorkerReply;
    } catch (e) {
      if (signal?.aborted) {
        return { ok: false, error: errorToWire(new TaskCancelledError(`Task ${task.name} (task ${task.taskId}) was cancelled while running; its worker was stopped.`, { ids: { taskId: task.taskId } })) };
      }
      const err = new WorkerCrashedError(
        `The worker running ${task.name} (task ${task.taskId}) on node ${task.nodeId} died: ${(e as Error)?.message ?? String(e)}.`,
        { hint: 'The task is retried while maxRetries allows. Check for process.exit(), infinite memory growth or native crashes in the task.', ids: { taskId: task.taskId, nodeId: task.nodeId } },
      );
      return { ok: false, error: errorToWire(err) as ErrorWire, crashed: true };
    }
  }

  get threads(): number {
    return this.pool.threads.length;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
