/**
 * The protocol between a node's {@link ../node/worker-pool.ts WorkerPool} and its task threads
 * ({@link ../thread/task-entry.ts}), over one MessagePort per thread plus a shared control word.
 *
 * - main → thread: `run` carries every task given to that thread in one event-loop turn, in order;
 *   a function's source travels once per thread (later tasks name it by id).
 * - thread → main: `done` carries the replies of tasks that ended, in order, batched while the
 *   thread runs tasks known to be short (never held back behind a task that may be long).
 * - The control word (Int32 at index 0) says which tasks a thread may start, without a round trip:
 *   it holds the sequence number of the last task the thread started (≥ 0), or a negative stop token
 *   while the main thread holds the thread stopped. The thread starts task `s` only by
 *   `compareExchange(word, last, s)`; the main thread stops it with `exchange(word, -k)`, which tells it
 *   exactly which task runs (or ran last) and that no later one will start. It then sends `resume`
 *   with the token and the tasks to drop; the thread drops them and puts `last` back only if the word
 *   still holds that token (a later stop wins). This is how a force-cancelled, crashed or blocked
 *   task's thread gives up the tasks queued behind it without losing or running any twice.
 */
import type { MessagePort } from 'node:worker_threads';
import type { WorkerFunction, WorkerInit, WorkerReply } from '../worker/protocol.js';
import type { WorkerArg } from '../worker/values.js';
import type { GeneratorPlan, StreamItem } from '../worker/generator-driver.js';

/** One task as posted to a thread (a WorkerTask whose function may be named by id only). */
export interface ThreadJob {
  readonly seq: number;
  readonly taskId: string;
  readonly jobId: string;
  readonly nodeId: string;
  readonly attempt: number;
  readonly name: string;
  readonly fnId: string;
  /** The function's source, the first time this thread sees it. */
  readonly fn?: WorkerFunction;
  readonly workingDirPath: string;
  readonly args: readonly WorkerArg[];
  readonly namespace: string;
  /** A streaming task (its items come back in `items` messages before its `done`). */
  readonly generator?: GeneratorPlan;
}

/**
 * `genAck` / `genStop` reach the generator of a streaming task (by its sequence number): the caller
 * consumed `consumed` items; the caller wants it stopped.
 */
export type MainToThread =
  | { readonly type: 'run'; readonly jobs: readonly ThreadJob[] }
  | { readonly type: 'resume'; readonly token: number; readonly drop: readonly number[] }
  | { readonly type: 'genAck'; readonly seq: number; readonly consumed: number }
  | { readonly type: 'genStop'; readonly seq: number };

/**
 * A task's reply and how long it ran on the thread (µs). When `at` is set, the reply's inline `value`
 * is `values.subarray(at, at + len)` of its message (see {@link ThreadToMain}).
 */
export interface ThreadResult {
  readonly seq: number;
  readonly reply: WorkerReply;
  readonly us: number;
  readonly at?: number;
  readonly len?: number;
}

/**
 * Replies of tasks that ended. The inline values of several replies travel packed in `values`: one
 * buffer to clone and allocate on the main thread instead of one per reply.
 */
export type ThreadToMain =
  | { readonly type: 'done'; readonly results: readonly ThreadResult[]; readonly values?: Uint8Array }
  /** Items of the running streaming task `seq`, in order (always before its `done`). */
  | { readonly type: 'items'; readonly seq: number; readonly items: readonly StreamItem[] };

/** `workerData` of a task thread. */
export interface TaskThreadData {
  readonly rayts: WorkerInit;
  readonly pool: {
    readonly port: MessagePort;
    /** Int32Array(1) over this buffer: the control word. */
    readonly control: SharedArrayBuffer;
    /** Replies of tasks shorter than this (µs, moving average per function) may be batched. */
    readonly quickUs: number;
  };
}
