/**
 * WorkerPool with real worker threads (the built task entry): leases keep their tasks on one thread in
 * order, cancel and crashes move the tasks queued behind to another thread, the pool grows and shrinks.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeValue, encodeValue } from '@samsara/ray-common';
import { WorkerPool, type PoolReply } from '../dist/node/worker-pool.js';
import type { WorkerTask } from '../dist/worker/protocol.js';

let nextId = 0;
const fns = {
  threadId: `(i) => [i, process.getBuiltinModule('node:worker_threads').threadId]`,
  sleep: `async (ms) => { await new Promise((r) => setTimeout(r, ms)); return process.getBuiltinModule('node:worker_threads').threadId; }`,
  spin: `() => { for (;;) {} }`,
  exit: `() => process.exit(3)`,
  hog: `() => { const keep = []; for (;;) keep.push(new Array(1_000_000).fill(1)); }`,
  touch: `(file) => { process.getBuiltinModule('node:fs').writeFileSync(file, 'ran'); return 'ran'; }`,
};

function task(fn: keyof typeof fns, ...args: unknown[]): WorkerTask {
  const taskId = `t${++nextId}`;
  return {
    taskId,
    jobId: 'job',
    nodeId: 'node',
    attempt: 0,
    name: fn,
    fn: { functionId: `fn-${fn}`, name: fn, kind: 'function', source: fns[fn], modulePath: '', moduleIndex: 0, apiAliases: [] },
    workingDirPath: '',
    args: args.map((a) => encodeValue(a)),
    namespace: '',
  };
}

function value(r: PoolReply): unknown {
  if (!r.ok) throw new Error(`task failed: ${r.error.name}: ${r.error.message}`);
  if (!('value' in r)) throw new Error('stored result');
  return decodeValue(r.value);
}

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const init = { bridgeId: 'pool-test', nodeAddress: '127.0.0.1:1', nodeId: 'node' };
let pool: WorkerPool | undefined;
let tmp: string | undefined;

afterEach(async () => {
  await pool?.close();
  pool = undefined;
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  tmp = undefined;
});

describe('WorkerPool', () => {
  it('WorkerPool leases - the tasks of one lease run on one thread in order; another lease runs on another thread', async () => {
    // isShort() compares the measured average run time with shortTaskUs; a no-op task averages well under
    // 1 ms on an idle machine but not always under a loaded CI run, so the bound here is 1 s: the check is
    // that a function with recorded runs is classified, an unknown one is not, not how fast this machine is.
    pool = new WorkerPool({ threads: 2, init, shortTaskUs: 1_000_000 });
    const a = {};
    const b = {};
    const ra = Array.from({ length: 50 }, (_, i) => pool!.run(task('threadId', i), { lease: a }));
    const rb = Array.from({ length: 50 }, (_, i) => pool!.run(task('threadId', i), { lease: b }));
    const va = (await Promise.all(ra)).map(value) as [number, number][];
    const vb = (await Promise.all(rb)).map(value) as [number, number][];
    expect(va.map(([i]) => i)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(new Set(va.map(([, t]) => t)).size).toBe(1);
    expect(new Set(vb.map(([, t]) => t)).size).toBe(1);
    expect(va[0][1]).not.toBe(vb[0][1]);
    expect(pool.isShort('fn-threadId')).toBe(true);
    expect(pool.isShort('fn-unknown')).toBe(false);
  });

  it('WorkerPool cancel - force ends the running task with TaskCancelledError; the tasks queued behind it run on another thread', async () => {
    pool = new WorkerPool({ threads: 1, init });
    const lease = {};
    const [, first] = value(await pool.run(task('threadId', 0), { lease })) as [number, number];
    const spin = task('spin');
    const running = pool.run(spin, { lease });
    const behind = [1, 2, 3].map((i) => pool!.run(task('threadId', i), { lease }));
    await until(() => pool!.started(spin.taskId), 'the spinning task to start');
    expect(pool.cancel(spin.taskId, true)).toBe(true);
    const r = await running;
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.name).toBe('TaskCancelledError');
    const after = (await Promise.all(behind)).map(value) as [number, number][];
    expect(after.map(([i]) => i)).toEqual([1, 2, 3]);
    for (const [, t] of after) expect(t).not.toBe(first);
    expect(pool.threads).toBe(1);
  });

  it('WorkerPool cancel - a task queued behind another that has not started is dropped and never runs', async () => {
    pool = new WorkerPool({ threads: 1, init });
    tmp = mkdtempSync(join(tmpdir(), 'rayts-pool-'));
    const lease = {};
    const sleeping = pool.run(task('sleep', 300), { lease });
    const file = join(tmp, 'ran');
    const queued = task('touch', file);
    const dropped = pool.run(queued, { lease });
    await new Promise((r) => setTimeout(r, 50));
    expect(pool.started(queued.taskId)).toBe(false);
    expect(pool.cancel(queued.taskId, false)).toBe(true);
    const r = await dropped;
    expect(!r.ok && r.error.name).toBe('TaskCancelledError');
    expect(typeof value(await sleeping)).toBe('number');
    expect(value(await pool.run(task('threadId', 7), { lease }))).toEqual([7, expect.any(Number)]);
    expect(existsSync(file)).toBe(false);
  });

  it('WorkerPool revokeQueuedBehind - a blocked task gives back the tasks behind it, which never ran there', async () => {
    pool = new WorkerPool({ threads: 1, init });
    tmp = mkdtempSync(join(tmpdir(), 'rayts-pool-'));
    const lease = {};
    const blocked = task('sleep', 300);
    const first = pool.run(blocked, { lease });
    const files = [join(tmp, 'a'), join(tmp, 'b')];
    const behind = files.map((f) => task('touch', f));
    const replies = behind.map((t) => pool!.run(t, { lease }));
    await until(() => pool!.started(blocked.taskId), 'the blocked task to start');
    expect(pool.revokeQueuedBehind(blocked.taskId).map((t) => t.taskId)).toEqual(behind.map((t) => t.taskId));
    for (const r of await Promise.all(replies)) expect(r.revoked).toBe(true);
    expect(typeof value(await first)).toBe('number');
    for (const f of files) expect(existsSync(f)).toBe(false);
  });

  it('WorkerPool crash - process.exit fails its task with WorkerCrashedError (crashed); the tasks behind it run on a new thread', async () => {
    pool = new WorkerPool({ threads: 1, init });
    const lease = {};
    const [, first] = value(await pool.run(task('threadId', 0), { lease })) as [number, number];
    const crashing = pool.run(task('exit'), { lease });
    const behind = [1, 2].map((i) => pool!.run(task('threadId', i), { lease }));
    const r = await crashing;
    expect(r.ok).toBe(false);
    expect(r.crashed).toBe(true);
    expect(!r.ok && r.error.name).toBe('WorkerCrashedError');
    expect(!r.ok && r.error.message).toMatch(/died/);
    const after = (await Promise.all(behind)).map(value) as [number, number][];
    expect(after.map(([i]) => i)).toEqual([1, 2]);
    for (const [, t] of after) expect(t).not.toBe(first);
  });

  it('WorkerPool crash - a task that exhausts its heap (maxOldGenerationSizeMb) ends its thread, not the pool', async () => {
    pool = new WorkerPool({ threads: 1, init, maxOldGenerationSizeMb: 32 });
    const r = await pool.run(task('hog'));
    expect(r.crashed).toBe(true);
    expect(!r.ok && r.error.name).toBe('WorkerCrashedError');
    expect(value(await pool.run(task('threadId', 1)))).toEqual([1, expect.any(Number)]);
  });

  it('WorkerPool growth - leases beyond the threads start more up to maxThreads, the rest wait; idle extra threads exit', async () => {
    pool = new WorkerPool({ threads: 1, maxThreads: 3, idleTimeoutMs: 200, init });
    expect(pool.threads).toBe(1);
    const replies = Array.from({ length: 4 }, () => pool!.run(task('sleep', 200), { lease: {} }));
    expect(pool.threads).toBe(3);
    const threads = (await Promise.all(replies)).map(value);
    expect(new Set(threads).size).toBe(3);
    await until(() => pool!.threads === 1, 'idle extra threads to exit', 15_000);
  });

  it('WorkerPool growth - a thread whose task blocked does not count against maxThreads until it is unblocked', async () => {
    pool = new WorkerPool({ threads: 1, maxThreads: 1, init });
    const blocked = task('sleep', 300);
    const first = pool.run(blocked, { lease: {} });
    await until(() => pool!.started(blocked.taskId), 'the first task to start');
    const waiting = pool.run(task('threadId', 1), { lease: {} });
    expect(pool.threads).toBe(1);
    pool.revokeQueuedBehind(blocked.taskId);
    expect(pool.threads).toBe(2);
    expect(value(await waiting)).toEqual([1, expect.any(Number)]);
    pool.unblocked(blocked.taskId);
    const third = pool.run(task('threadId', 2), { lease: {} });
    expect(pool.threads).toBe(2);
    expect(value(await third)).toEqual([2, expect.any(Number)]);
    expect(typeof value(await first)).toBe('number');
  });

  it('WorkerPool minThreads 0 - starts threads on demand (edge nodes)', async () => {
    pool = new WorkerPool({ threads: 2, minThreads: 0, idleTimeoutMs: 200, init });
    expect(pool.threads).toBe(0);
    expect(value(await pool.run(task('threadId', 1)))).toEqual([1, expect.any(Number)]);
    expect(pool.threads).toBe(1);
    await until(() => pool!.threads === 0, 'the idle thread to exit', 15_000);
  });
});
