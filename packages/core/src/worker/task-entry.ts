/**
 * Piscina worker entry: runs one task per call. Loads the callable (cached), decodes arguments, runs
 * user code inside the task's AsyncLocalStorage scope, and returns the encoded result or the error in
 * wire form (user throws become TaskError with the original name, message and stack).
 */
import { workerData } from 'node:worker_threads';
import { errorToWire, toTaskError, setRefHooks } from '@samsara/ray-common';
import { decodeArg, encodeResult } from './values.js';
import * as api from '../api/worker-api.js';
import { setRuntime } from '../api/runtime.js';
import { loadCallable, setApiBindings } from './code-loader.js';
import { WorkerThreadRuntime } from './worker-runtime.js';
import type { WorkerInit, WorkerReply, WorkerTask } from './protocol.js';

const init = (workerData as { rayts: WorkerInit }).rayts;
const runtime = new WorkerThreadRuntime(init);
setRuntime(runtime);
// Refs to objects this node owns, decoded here, count as local references (see WorkerThreadRuntime).
setRefHooks({ onDecode: (id, owner) => runtime.decodedRef(id, owner) });
setApiBindings(api as unknown as Record<string, unknown>);
(globalThis as Record<string, unknown>).__name ??= (t: unknown) => t;

export default async function runTask(task: WorkerTask): Promise<WorkerReply> {
  const ids = { taskId: task.taskId, nodeId: task.nodeId };
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
