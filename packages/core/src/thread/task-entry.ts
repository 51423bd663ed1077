/**
 * Task thread entry: runs the tasks a node's WorkerPool posts to this thread, one at a time, in order.
 * `runTask` loads the callable (cached), decodes arguments, runs user code inside the task's
 * AsyncLocalStorage scope, and returns the encoded result or the error in wire form (user throws become
 * TaskError with the original name, message and stack). The message loop (see
 * node/task-thread-protocol.ts) starts only when the pool gave this thread a port.
 */
import { workerData, type MessagePort } from 'node:worker_threads';
import { errorToWire, toTaskError, setRefHooks, encodeValue, TaskCancelledError } from '@samsara/ray-common';
import { driveGenerator, GeneratorControl, ItemOutbox, type StreamItem } from '../worker/generator-driver.js';
import { decodeArg, encodeResult } from '../worker/values.js';
import * as api from '../api/worker-api.js';
import { setRuntime } from '../runtime/runtime.js';
import { loadCallable, setApiBindings } from '../worker/code-loader.js';
import { WorkerThreadRuntime } from '../worker/worker-runtime.js';
import type { WorkerFunction, WorkerInit, WorkerReply, WorkerTask } from '../worker/protocol.js';
import type { MainToThread, TaskThreadData, ThreadJob, ThreadResult, ThreadToMain } from '../node/task-thread-protocol.js';

const init = (workerData as { rayts: WorkerInit }).rayts;
const runtime = new WorkerThreadRuntime(init);
setRuntime(runtime);
// Refs to objects this node owns, decoded here, count as local references (see WorkerThreadRuntime).
setRefHooks({ onDecode: (id, owner) => runtime.decodedRef(id, owner) });
setApiBindings(api as unknown as Record<string, unknown>);
(globalThis as Record<string, unknown>).__name ??= (t: unknown) => t;

/** How a streaming task's items leave this thread, and what the node tells its producer. */
export interface StreamChannel {
  readonly control: GeneratorControl;
  readonly send: (items: StreamItem[]) => void;
}

export default async function runTask(task: WorkerTask, stream?: StreamChannel): Promise<WorkerReply> {
  const ids = { taskId: task.taskId, nodeId: task.nodeId };
  if (task.generator) return runGenerator(task, stream ?? { control: new GeneratorControl(task.generator.consumed), send: () => undefined });
  try {
    const fn = (await loadCallable(task.fn, task.workingDirPath)) as (...a: unknown[]) => unknown;
    // Arguments are decoded inside the task's scope: refs in them are reported under its job (borrowers).
    const result = await runtime.scope.run({ taskId: task.taskId, nodeId: task.nodeId, jobId: task.jobId, workingDirPath: task.workingDirPath, namespace: task.namespace }, () =>
      fn(...task.args.map((a) => decodeArg(a, init.sharedBuffer))),
    );
    const reply: WorkerReply = { ok: true, ...encodeResult(result, `the result of ${task.name}`) };
    // Borrowed refs this task still holds are registered with their owners before its result leaves.
    await runtime.flushRefs();
    return reply;
  } catch (e) {
    await runtime.flushRefs().catch(() => undefined);
    return { ok: false, error: errorToWire(toTaskError(task.name, e, ids)) };
  }
}

/** Runs a streaming task: its generator's items leave through `stream` as they are produced. */
async function runGenerator(task: WorkerTask, stream: StreamChannel): Promise<WorkerReply> {
  const ids = { taskId: task.taskId, nodeId: task.nodeId };
  let count = 0;
  try {
    const fn = (await loadCallable(task.fn, task.workingDirPath)) as (...a: unknown[]) => unknown;
    const out = new ItemOutbox(stream.send);
    const end = await runtime.scope.run({ taskId: task.taskId, nodeId: task.nodeId, jobId: task.jobId, workingDirPath: task.workingDirPath, namespace: task.namespace }, () =>
      driveGenerator(fn(...task.args.map((a) => decodeArg(a, init.sharedBuffer))), task.generator!, stream.control, task.name, out),
    );
    count = end.count;
    await runtime.flushRefs();
    if (end.error !== undefined) return { ok: false, error: errorToWire(toTaskError(task.name, end.error, ids)), itemCount: count };
    if (end.stopped) {
      return { ok: false, error: errorToWire(new TaskCancelledError(`Task ${task.name} (task ${task.taskId}) was cancelled after ${count} items.`, { ids })), itemCount: count };
    }
    return { ok: true, value: encodeValue(null), itemCount: count };
  } catch (e) {
    await runtime.flushRefs().catch(() => undefined);
    return { ok: false, error: errorToWire(toTaskError(task.name, e, ids)), itemCount: count };
  }
}

const pool = (workerData as Partial<TaskThreadData>).pool;
if (pool) serve(pool.port as MessagePort, new Int32Array(pool.control), pool.quickUs);

/** Replies with their inline values packed into one buffer (see ThreadToMain). */
function packValues(results: ThreadResult[]): ThreadToMain {
  let total = 0;
  for (const r of results) if (r.reply.ok && 'value' in r.reply) total += r.reply.value.byteLength;
  if (total === 0 || total > PACK_MAX_BYTES) return { type: 'done', results };
  const values = new Uint8Array(total);
  let at = 0;
  const packed = results.map((r): ThreadResult => {
    if (!(r.reply.ok && 'value' in r.reply)) return r;
    const v = r.reply.value;
    values.set(v, at);
    const out: ThreadResult = { seq: r.seq, us: r.us, reply: { ...r.reply, value: EMPTY }, at, len: v.byteLength };
    at += v.byteLength;
    return out;
  });
  return { type: 'done', results: packed, values };
}

const PACK_MAX_BYTES = 1 << 20;
const EMPTY = new Uint8Array(0);

/** The thread's side of node/task-thread-protocol.ts. */
function serve(port: MessagePort, control: Int32Array, quickUs: number): void {
  const fns = new Map<string, WorkerFunction>();
  /** Moving average of run time per function (µs). */
  const runUs = new Map<string, number>();
  let queue: ThreadJob[] = [];
  let last = 0;
  let running = false;
  let out: ThreadResult[] = [];
  let outSince = 0;
  /** Producers of the streaming task running now (by sequence number), and acks for queued ones. */
  const controls = new Map<number, GeneratorControl>();
  const early = new Map<number, { consumed: number; stopped: boolean }>();

  const flush = () => {
    if (out.length === 0) return;
    const results = out;
    out = [];
    port.postMessage(results.length > 1 ? packValues(results) : ({ type: 'done', results } satisfies ThreadToMain));
  };
  const quick = (fnId: string) => (runUs.get(fnId) ?? Infinity) < quickUs;

  const pump = async () => {
    if (running) return;
    running = true;
    try {
      while (queue.length > 0) {
        const job = queue[0];
        // Replies already done never wait behind a task that may be long.
        if (out.length > 0 && !quick(job.fnId)) flush();
        if (Atomics.compareExchange(control, 0, last, job.seq) !== last) break; // stopped: wait for resume
        queue.shift();
        last = job.seq;
        const fn = job.fn ?? fns.get(job.fnId)!;
        const t0 = performance.now();
        let stream: StreamChannel | undefined;
        if (job.generator) {
          // Replies already done leave before a streaming task's items.
          flush();
          const seq = job.seq;
          const pre = early.get(seq);
          early.delete(seq);
          const control = new GeneratorControl(Math.max(job.generator.consumed, pre?.consumed ?? 0));
          if (pre?.stopped) control.stop();
          controls.set(seq, control);
          stream = { control, send: (items) => port.postMessage({ type: 'items', seq, items } satisfies ThreadToMain) };
        }
        const reply = await runTask({
          taskId: job.taskId,
          jobId: job.jobId,
          nodeId: job.nodeId,
          attempt: job.attempt,
          name: job.name,
          fn,
          workingDirPath: job.workingDirPath,
          args: job.args,
          namespace: job.namespace,
          generator: job.generator,
        }, stream);
        if (stream) controls.delete(job.seq);
        const now = performance.now();
        const us = (now - t0) * 1000;
        const avg = runUs.get(job.fnId);
        runUs.set(job.fnId, avg === undefined ? us : avg * 0.8 + us * 0.2);
        if (out.length === 0) {
          outSince = now;
          // Replies are held only while tasks run back to back without yielding: as soon as this
          // thread's event loop gets control (a task awaits I/O, a timer or a get()), they leave. A task
          // blocked in get() may wait for one of them.
          setImmediate(flush);
        }
        out.push({ seq: job.seq, reply, us });
        if (out.length >= 64 || now - outSince > 2) flush();
      }
    } finally {
      running = false;
      flush();
    }
  };

  port.on('message', (m: MainToThread) => {
    if (m.type === 'genAck' || m.type === 'genStop') {
      const c = controls.get(m.seq);
      if (c) {
        if (m.type === 'genAck') c.ack(m.consumed);
        else c.stop();
      } else if (queue.some((j) => j.seq === m.seq)) {
        const e = early.get(m.seq) ?? { consumed: 0, stopped: false };
        if (m.type === 'genAck') e.consumed = Math.max(e.consumed, m.consumed);
        else e.stopped = true;
        early.set(m.seq, e);
      }
      return;
    }
    if (m.type === 'run') {
      for (const j of m.jobs) {
        if (j.fn) fns.set(j.fnId, j.fn);
        queue.push(j);
      }
    } else {
      if (m.drop.length > 0) {
        const drop = new Set(m.drop);
        for (const d of m.drop) early.delete(d);
        queue = queue.filter((j) => !drop.has(j.seq));
      }
      Atomics.compareExchange(control, 0, m.token, last);
    }
    void pump();
  });
}
