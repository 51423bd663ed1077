/**
 * Short tasks pipelined on worker threads (a lease carries several tasks of one shape), through the
 * public API on the embedded cluster: results stay right, and a task that blocks, is force-cancelled or
 * crashes never strands the tasks queued behind it on its thread.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { init, shutdown, remote, get, cancel, TaskCancelledError, WorkerCrashedError, type ObjectRef } from '@samsara/ray';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('task pipelining (embedded cluster)', () => {
  beforeAll(async () => {
    await init({ numCpus: 2 });
  });
  afterAll(async () => {
    await shutdown();
  });

  it('pipelining - 5,000 short tasks return their own values in order', async () => {
    const sq = remote((x: number) => x * x);
    expect(await get(range(5000).map((i) => sq.remote(i)))).toEqual(range(5000).map((i) => i * i));
  });

  it('pipelining - short tasks that block in get on short nested tasks never deadlock', async () => {
    const step = remote(async (x: number, nest: boolean) => {
      if (!nest) return x;
      const inner = remote((y: number) => y + 1000);
      return (await get(inner.remote(x))) - 1000;
    });
    await get(range(300).map((i) => step.remote(i, false)));
    // 43 tasks blocked at once: more than maxThreads (32); blocked threads do not count against it.
    const refs = range(300).map((i) => step.remote(i, i % 7 === 0));
    expect(await get(refs, { timeoutMs: 40_000 })).toEqual(range(300));
  });

  it('pipelining - force cancel of a running short-known task: the tasks queued behind it still run', async () => {
    const maybeSpin = remote((x: number, spin: boolean) => {
      const end = Date.now() + 60_000;
      while (spin && Date.now() < end) {
        /* busy */
      }
      return x;
    });
    await get(range(300).map((i) => maybeSpin.remote(i, false)));
    const spinning = maybeSpin.remote(-1, true);
    const rest: ObjectRef<number>[] = range(200).map((i) => maybeSpin.remote(i, false));
    await new Promise((r) => setTimeout(r, 300));
    await cancel(spinning, { force: true });
    await expect(get(spinning, { timeoutMs: 20_000 })).rejects.toBeInstanceOf(TaskCancelledError);
    expect(await get(rest, { timeoutMs: 30_000 })).toEqual(range(200));
  });

  it('pipelining - a short-known task that exits its thread fails with WorkerCrashedError; the tasks behind it run', async () => {
    const maybeExit = remote((x: number, exit: boolean) => {
      if (exit) process.exit(7);
      return x;
    });
    await get(range(300).map((i) => maybeExit.remote(i, false)));
    const crashing = maybeExit.options({ maxRetries: 0 }).remote(-1, true);
    const rest = range(200).map((i) => maybeExit.remote(i, false));
    await expect(get(crashing, { timeoutMs: 20_000 })).rejects.toBeInstanceOf(WorkerCrashedError);
    expect(await get(rest, { timeoutMs: 30_000 })).toEqual(range(200));
  });
});
