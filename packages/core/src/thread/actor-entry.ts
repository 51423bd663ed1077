/**
 * The dedicated worker thread of one actor. Builds the instance from the shipped class, then runs
 * method calls in arrival order: one at a time by default, or up to `maxConcurrency` at once (useful
 * for methods that return promises). A method's throw becomes a TaskError for that call only; the
 * actor keeps its state and goes on. `__rayShutdown__()` on the instance runs on a graceful exit.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { errorToWire, toTaskError, InvalidArgumentError, setRefHooks, encodeValue, TaskCancelledError } from '@samsara/ray-common';
import { driveGenerator, GeneratorControl, ItemOutbox } from '../worker/generator-driver.js';
import { decodeArg, encodeResult, type WorkerArg } from '../worker/values.js';
import * as api from '../api/worker-api.js';
import { setRuntime } from '../runtime/runtime.js';
import { loadCallable, setApiBindings } from '../worker/code-loader.js';
import { WorkerThreadRuntime } from '../worker/worker-runtime.js';
import type { ActorWorkerData, ActorToMain, MainToActor, WarmActorWorkerData } from '../worker/actor-protocol.js';
import type { WorkerReply } from '../worker/protocol.js';

const boot = workerData as ActorWorkerData | WarmActorWorkerData;
/** The actor this thread hosts; a warm thread gets it with its first message ('assign'). */
let data = boot as ActorWorkerData;
const runtime = new WorkerThreadRuntime(boot.rayts);
setRuntime(runtime);
// Refs to objects this node owns, decoded here, count as local references (see WorkerThreadRuntime).
setRefHooks({ onDecode: (id, owner) => runtime.decodedRef(id, owner) });
setApiBindings(api as unknown as Record<string, unknown>);
(globalThis as Record<string, unknown>).__name ??= (t: unknown) => t;

const port = parentPort!;
let instance: Record<string, unknown> | undefined;
/** Calls wait until the constructor finished. */
let ready = false;
let running = 0;
const queue: Extract<MainToActor, { type: 'call' }>[] = [];
/** Producers of the streaming calls running now. */
const controls = new Map<string, GeneratorControl>();
const scope = (taskId: string) => ({
  taskId,
  nodeId: data.nodeId,
  jobId: data.jobId,
  workingDirPath: data.workingDirPath,
  actorId: data.actorId,
  namespace: data.namespace,
});

/** Results of this turn: they go to the node as one message when it ends. */
let outResults: { taskId: string; reply: WorkerReply }[] | undefined;

function flushResults(): void {
  const results = outResults;
  outResults = undefined;
  if (!results || results.length === 0) return;
  port.postMessage(results.length === 1 ? ({ type: 'result', ...results[0] } satisfies ActorToMain) : ({ type: 'results', results } satisfies ActorToMain));
}

function send(m: ActorToMain): void {
  // The only call in flight answers at once (no added latency for calls made one at a time); with
  // others running, results of the turn are gathered.
  if (m.type === 'result' && (outResults || running > 1 || queue.length > 0)) {
    if (!outResults) {
      outResults = [];
      setImmediate(flushResults);
    }
    outResults.push({ taskId: m.taskId, reply: m.reply });
    return;
  }
  // Results gathered earlier go first: messages keep their order (a stream's items before its result).
  if (outResults) flushResults();
  port.postMessage(m);
}

async function create(args: readonly WorkerArg[]): Promise<void> {
  try {
    const Cls = (await loadCallable(data.fn, data.workingDirPath)) as new (...a: unknown[]) => Record<string, unknown>;
    // Decoded inside the scope: refs in the arguments are reported under the actor's job.
    instance = await runtime.scope.run(scope(data.creationTaskId), async () => new Cls(...args.map((a) => decodeArg(a, data.rayts.sharedBuffer))));
    ready = true;
    send({ type: 'created' });
    pump();
  } catch (e) {
    send({ type: 'create_failed', error: errorToWire(toTaskError(`${data.fn.name}.constructor`, e, { actorId: data.actorId })) });
  }
}

/** Runs a streaming call: the method's generator's items leave as they are produced. */
async function runGeneratorCall(c: Extract<MainToActor, { type: 'call' }>, m: (...a: unknown[]) => unknown, label: string): Promise<void> {
  const plan = c.generator!;
  const control = new GeneratorControl(plan.consumed);
  controls.set(c.taskId, control);
  const ids = { actorId: data.actorId, taskId: c.taskId };
  try {
    const out = new ItemOutbox((items) => send({ type: 'items', taskId: c.taskId, items }));
    const end = await runtime.scope.run(scope(c.taskId), () => driveGenerator(m.apply(instance, c.args.map((a) => decodeArg(a, data.rayts.sharedBuffer))), plan, control, label, out));
    await runtime.flushRefs();
    const itemCount = end.count;
    if (end.error !== undefined) send({ type: 'result', taskId: c.taskId, reply: { ok: false, error: errorToWire(toTaskError(label, end.error, ids)), itemCount } });
    else if (end.stopped) send({ type: 'result', taskId: c.taskId, reply: { ok: false, error: errorToWire(new TaskCancelledError(`${label} (task ${c.taskId}) was cancelled after ${itemCount} items.`, { ids })), itemCount } });
    else send({ type: 'result', taskId: c.taskId, reply: { ok: true, value: encodeValue(null), itemCount } });
  } finally {
    controls.delete(c.taskId);
  }
}

async function runCall(c: Extract<MainToActor, { type: 'call' }>): Promise<void> {
  const label = `${data.fn.name}.${c.method}`;
  try {
    const m = instance?.[c.method];
    if (typeof m !== 'function') {
      const methods = instance ? methodNames(instance) : [];
      throw new InvalidArgumentError(`Actor ${data.fn.name} (actor ${data.actorId}) has no method "${c.method}".`, {
        hint: `Its methods are: ${methods.join(', ') || '(none)'}.`,
      });
    }
    if (c.generator) {
      await runGeneratorCall(c, m as (...a: unknown[]) => unknown, label);
      return;
    }
    const result = await runtime.scope.run(scope(c.taskId), () =>
      (m as (...a: unknown[]) => unknown).apply(instance, c.args.map((a) => decodeArg(a, data.rayts.sharedBuffer))),
    );
    const reply = { ok: true as const, ...encodeResult(result, `the result of ${label}`) };
    // Borrowed refs the actor still holds are registered with their owners before the result leaves.
    await runtime.flushRefs();
    send({ type: 'result', taskId: c.taskId, reply });
  } catch (e) {
    await runtime.flushRefs().catch(() => undefined);
    send({ type: 'result', taskId: c.taskId, reply: { ok: false, error: errorToWire(toTaskError(label, e, { actorId: data.actorId, taskId: c.taskId })) } });
  }
}

function pump(): void {
  while (ready && running < data.maxConcurrency && queue.length) {
    const c = queue.shift()!;
    running++;
    void runCall(c).finally(() => {
      running--;
      pump();
    });
  }
}

export function methodNames(obj: object): string[] {
  const out = new Set<string>();
  for (let p = Object.getPrototypeOf(obj); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const k of Object.getOwnPropertyNames(p)) if (k !== 'constructor' && typeof (obj as Record<string, unknown>)[k] === 'function') out.add(k);
  }
  return [...out];
}

/**
 * A warm thread runs the paths of a creation and a call once before it waits (encode and decode a small
 * value, a task scope, compile a function): a fresh isolate's first msgpack encode alone takes ~2 ms,
 * which would otherwise land on its actor's first answer.
 */
function warmUpPaths(): void {
  try {
    const { value } = encodeResult({ warm: [1, 'up', true, null] }, 'a warm-up value') as { value: Uint8Array };
    decodeArg(value, undefined);
    decodeArg(encodeValue([1, 2]), undefined);
    void runtime.scope.run(scope(''), () => new Function('"use strict"; return (class Warm { m() { return 1; } })')());
    encodeValue(null);
  } catch {
    /* only a head start: a real creation reports its own errors */
  }
}

if ((boot as WarmActorWorkerData).warm) warmUpPaths();
// Modules loaded: the node may start booting the next actor thread.
send({ type: 'booted' });

port.on('message', (m: MainToActor) => {
  switch (m.type) {
    case 'assign':
      data = { ...m.data, rayts: boot.rayts };
      break;
    case 'create':
      void create(m.args);
      break;
    case 'call':
      queue.push(m);
      pump();
      break;
    case 'calls':
      for (const c of m.calls) queue.push({ type: 'call', ...c });
      pump();
      break;
    case 'genAck': {
      const c = controls.get(m.taskId);
      if (c) c.ack(m.consumed);
      else {
        const q = queue.find((x) => x.taskId === m.taskId);
        if (q?.generator) q.generator = { ...q.generator, consumed: Math.max(q.generator.consumed, m.consumed) };
      }
      break;
    }
    case 'genStop': {
      const c = controls.get(m.taskId);
      if (c) c.stop();
      else {
        const i = queue.findIndex((x) => x.taskId === m.taskId);
        if (i >= 0) {
          const [q] = queue.splice(i, 1);
          const label = `${data.fn.name}.${q.method}`;
          send({ type: 'result', taskId: q.taskId, reply: { ok: false, error: errorToWire(new TaskCancelledError(`${label} (task ${q.taskId}) was cancelled before it ran.`, { ids: { actorId: data.actorId, taskId: q.taskId } })), itemCount: 0 } });
        }
      }
      break;
    }
    case 'shutdown': {
      const hook = instance?.__rayShutdown__;
      const done = () => send({ type: 'shutdown_done' });
      if (typeof hook === 'function') {
        Promise.resolve()
          .then(() => runtime.scope.run(scope(''), () => (hook as () => unknown).call(instance)))
          .then(done, done);
      } else done();
      break;
    }
  }
});
