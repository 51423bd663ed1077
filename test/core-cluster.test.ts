/**
 * Issue 2 acceptance on a real cluster: a head and two worker nodes started as separate processes with
 * the CLI on random loopback ports; this test process is the driver (`init({ address })`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  init,
  shutdown,
  remote,
  get,
  put,
  wait,
  nodes,
  clusterResources,
  availableResources,
  runtimeContext,
  TaskError,
  GetTimeoutError,
  AuthenticationError,
  ObjectRef,
  actor,
  ActorPool,
} from '@samsara/ray';
import { CliCluster, until } from './helpers/cli-cluster.js';

let cluster: CliCluster;
let sparkNode: string;

beforeAll(async () => {
  cluster = await CliCluster.start({ numCpus: 1 }, [
    { numCpus: 2, resources: { spark_executor: 2 }, labels: 'zone=a' },
    { numCpus: 2, labels: 'zone=b' },
  ]);
  sparkNode = cluster.nodeIds[1];
  await init({ address: cluster.address, token: cluster.token });
  await until(async () => (await nodes()).filter((n) => n.alive).length === 3, 'three alive nodes');
}, 60_000);

afterAll(async () => {
  await shutdown();
  await cluster?.stop();
});

const whereAmI = remote(() => runtimeContext().nodeId);

class Doubler {
  run(x: number) {
    if (x === 13) throw new Error('unlucky 13');
    return { y: 2 * x, node: runtimeContext().nodeId };
  }
}
const DoublerActor = actor(Doubler);

describe('core runtime on a three-process cluster', () => {
  it('nodes() - reports head and two workers with their resources and labels', async () => {
    const ns = await nodes();
    expect(ns).toHaveLength(3);
    expect(ns.filter((n) => n.isHead)).toHaveLength(1);
    const spark = ns.find((n) => n.nodeId === sparkNode)!;
    expect(spark.resources).toMatchObject({ CPU: 2, spark_executor: 2 });
    expect(spark.labels).toEqual({ zone: 'a' });
    expect(await clusterResources()).toMatchObject({ CPU: 5, spark_executor: 2 });
    const avail = await availableResources();
    expect(avail.spark_executor).toBe(2);
  });

  it('custom resources - spark_executor tasks run only on the node that offers it', async () => {
    const refs = Array.from({ length: 20 }, () => whereAmI.options({ resources: { spark_executor: 1 }, numCpus: 0 }).remote());
    const where = await get(refs);
    expect(new Set(where)).toEqual(new Set([sparkNode]));
  });

  it('fractional custom resources - 0.5 of spark_executor is accepted and placed', async () => {
    const where = await get(whereAmI.options({ resources: { spark_executor: 0.5 } }).remote());
    expect(where).toBe(sparkNode);
  });

  it('placement - plain tasks spread over more than one node when many are submitted', async () => {
    const slow = remote(async (ms: number) => {
      await new Promise((r) => setTimeout(r, ms));
      return runtimeContext().nodeId;
    });
    const where = await get(Array.from({ length: 30 }, () => slow.remote(30)));
    expect(new Set(where).size).toBeGreaterThan(1);
  });

  it('ObjectRef chaining - a ref passed as a top-level argument arrives as its value', async () => {
    const add = remote((a: number, b: number) => a + b);
    const a = add.remote(1, 2);
    const b = add.remote(a, 10);
    const c = add.remote(b, a);
    expect(await get(c)).toBe(16);
  });

  it('nested refs - a ref inside a structure stays a ref and can be fetched by the task', async () => {
    const inner = remote((x: number) => x * 3);
    const outer = remote(async (box: { ref: ObjectRef<number> }) => {
      const isRef = typeof box.ref === 'object' && 'id' in box.ref;
      return { isRef, value: await get(box.ref) };
    });
    expect(await get(outer.remote({ ref: inner.remote(7) }))).toEqual({ isRef: true, value: 21 });
  });

  it('put - a large value put by the driver is read by tasks on other nodes', async () => {
    const big = new Float64Array(200_000).map((_, i) => i);
    const ref = await put(big);
    const sum = remote((arr: Float64Array) => arr.reduce((s, x) => s + x, 0));
    const sums = await get([sum.options({ scheduling: { nodeId: cluster.nodeIds[1] } }).remote(ref), sum.options({ scheduling: { nodeId: cluster.nodeIds[2] } }).remote(ref)]);
    const expected = (200_000 * 199_999) / 2;
    expect(sums).toEqual([expected, expected]);
  });

  it('large results - a result above the inline limit is stored on its node and pulled by get', async () => {
    const make = remote((n: number) => new Uint8Array(n).fill(7));
    const v = await get(make.remote(3 * 1024 * 1024));
    expect(v.byteLength).toBe(3 * 1024 * 1024);
    expect(v[12345]).toBe(7);
  });

  it('nested tasks - a task submits tasks and gets their results', async () => {
    const fib = remote(async function fib(n: number): Promise<number> {
      if (n < 2) return n;
      const f = remote(fib);
      const [a, b] = await get([f.remote(n - 1), f.remote(n - 2)]);
      return a + b;
    });
    expect(await get(fib.remote(7))).toBe(13);
  });

  it('errors - user code that throws surfaces as TaskError with name, message and remote stack', async () => {
    const bad = remote(function explode(x: number) {
      if (x > 0) throw new TypeError(`bad input ${x}`);
      return x;
    });
    const err = await get(bad.remote(5)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskError);
    const te = err as TaskError;
    expect(te.code).toBe('TASK_ERROR');
    expect(te.originalName).toBe('TypeError');
    expect(te.originalMessage).toBe('bad input 5');
    expect(te.remoteStack).toContain('explode');
    expect(te.message).toContain('explode threw TypeError: bad input 5');
  });

  it('errors - a failed dependency fails the dependent task with the same error', async () => {
    const bad = remote(() => {
      throw new RangeError('upstream');
    });
    const next = remote((x: number) => x + 1);
    await expect(get(next.remote(bad.remote() as unknown as number))).rejects.toThrow(/upstream/);
  });

  it('pending reasons - an infeasible task waits, get times out with the reason, rayts status shows it', async () => {
    const ref = whereAmI.options({ resources: { camera: 1 } }).remote();
    const err = await get(ref, { timeoutMs: 500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GetTimeoutError);
    expect((err as Error).message).toContain('no node offers {camera: 1}');
    await until(async () => (await cluster.cli(['status'])).stdout.includes('no node offers {camera: 1}'), 'status to show the pending reason', 10_000);
    const st = await cluster.cli(['status']);
    expect(st.stdout).toMatch(/Pending tasks \(\d+\)/);
  });

  it('wait - returns the first ready refs and leaves slow ones', async () => {
    const sleep = remote(async (ms: number) => {
      await new Promise((r) => setTimeout(r, ms));
      return ms;
    });
    const fast = sleep.remote(1);
    const slow = sleep.remote(5000);
    const { ready, notReady } = await wait([slow, fast], { numReturns: 1, timeoutMs: 4000 });
    expect(ready).toEqual([fast]);
    expect(notReady).toEqual([slow]);
  });

  it('token - a driver with a wrong token is refused with AuthenticationError', async () => {
    const { spawnSync } = await import('node:child_process');
    const script = `import('@samsara/ray').then(async (r) => { try { await r.init({ address: ${JSON.stringify(cluster.address)}, token: 'wrong' }); console.log('JOINED'); } catch (e) { console.log(e.constructor.name + ': ' + e.message); } process.exit(0); })`;
    const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(out.stdout).toContain('AuthenticationError');
    expect(out.stdout).not.toContain('JOINED');
    expect(AuthenticationError.name).toBe('AuthenticationError');
  });

  it('token - rayts status with a wrong token fails with an authentication message', async () => {
    const r = await cluster.cli(['status', '--address', cluster.address, '--token', 'nope']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/rejected this process's token/);
  });
  it('ActorPool - map over actors on two worker nodes keeps input order; a failed call throws at its item', async () => {
    const pool = new ActorPool([1, 2].map((i) => DoublerActor.options({ scheduling: { nodeId: cluster.nodeIds[i] } }).remote()));
    const out: { y: number; node: string }[] = [];
    for await (const r of pool.map((a, x: number) => a.run.remote(x), Array.from({ length: 12 }, (_, i) => i))) out.push(r);
    expect(out.map((r) => r.y)).toEqual(Array.from({ length: 12 }, (_, i) => 2 * i));
    expect(new Set(out.map((r) => r.node))).toEqual(new Set([cluster.nodeIds[1], cluster.nodeIds[2]]));
    const seen: number[] = [];
    const err = await (async () => {
      for await (const r of pool.mapUnordered((a, x: number) => a.run.remote(x), [12, 13, 14])) seen.push(r.y);
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskError);
    expect((err as Error).message).toContain('unlucky 13');
    expect(seen.length).toBeLessThanOrEqual(2);
  });
});
