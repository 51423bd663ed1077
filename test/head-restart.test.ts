/**
 * Issue 5 point 7 on a CLI cluster (head + three worker nodes, real processes): the head is SIGKILLed
 * while a detached named actor is held by this driver and long tasks run on the workers. While it is
 * down, actors answer calls; `rayts start --head` brings it back with the session's state; the workers
 * reconnect under their ids (one that was killed meanwhile is declared dead after the deadline), the
 * driver's cluster watch resubscribes (its job and its non-detached actor live on), `getActor` works,
 * the running tasks' results arrive and new tasks run, and the cluster KV is back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { init, shutdown, remote, actor, get, getActor, nodes, runtimeContext, kv } from '@samsara/ray';
import { CliCluster, isAlive, until } from './helpers/cli-cluster.js';

let cluster: CliCluster;
let headNode: string;
let workerA: string;
let workerB: string;
let victim: string;
let victimPid: number;
let dir: string;

beforeAll(async () => {
  cluster = await CliCluster.start(
    { numCpus: 1 },
    [
      { numCpus: 2, resources: { w: 4 } },
      { numCpus: 2, resources: { w: 4 } },
      { numCpus: 1, resources: { doomed: 1 } },
    ],
    { RAYTS_DEAD_AFTER_MS: '4000' },
  );
  [headNode, workerA, workerB, victim] = cluster.nodeIds;
  dir = mkdtempSync(join(tmpdir(), 'rayts-hr-'));
  await init({ address: cluster.address, token: cluster.token, namespace: 'hr' });
  await until(async () => (await nodes()).filter((n) => n.alive).length === 4, 'four alive nodes');
  victimPid = (await nodes()).find((n) => n.nodeId === victim)?.pid ?? 0;
  expect(victimPid).toBeGreaterThan(0);
}, 60_000);

afterAll(async () => {
  await shutdown();
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

class Counter {
  n = 0;
  incr(by = 1) {
    return (this.n += by);
  }
}
const CounterActor = actor(Counter);

/** Marks itself started, then runs until the test writes the release file. */
const longTask = remote(async (d: string, i: number) => {
  const fs = (process as unknown as { getBuiltinModule(m: string): typeof import('node:fs') }).getBuiltinModule('node:fs');
  fs.writeFileSync(`${d}/started-${i}`, '');
  while (!fs.existsSync(`${d}/release`)) await new Promise((r) => setTimeout(r, 25));
  return i * 10;
});
const whereAmI = remote(() => runtimeContext().nodeId);

async function nodesOrNothing(): Promise<Awaited<ReturnType<typeof nodes>>> {
  try {
    return await nodes();
  } catch {
    return [];
  }
}

describe('rayts start --head --restore', () => {
  it('rayts start --head --restore - with no session whose head died, fails with the reason; --fresh excludes it', async () => {
    const c = new CliCluster(mkdtempSync(join(tmpdir(), 'rayts-hr-cli-')), {});
    try {
      const r = await c.cli(['start', '--head', '--restore']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('--restore: there is no session whose head died on this machine');
      const both = await c.cli(['start', '--head', '--restore', '--fresh']);
      expect(both.code).toBe(2);
      expect(both.stderr).toContain('give at most one of --restore and --fresh');
    } finally {
      rmSync(c.tmp, { recursive: true, force: true });
    }
  });
});

describe('head restart', () => {
  it('head restart - SIGKILL the head: actors answer while it is down; after `rayts start --head` nodes keep their ids, getActor works, running tasks finish, new tasks run, KV entries are back', async () => {
    const keeper = CounterActor.options({ name: 'keeper', lifetime: 'detached', resources: { w: 1 } }).remote();
    const plain = CounterActor.options({ resources: { w: 1 } }).remote();
    expect(await get(keeper.incr.remote())).toBe(1);
    expect(await get(plain.incr.remote())).toBe(1);
    const running = [0, 1, 2, 3].map((i) => longTask.options({ numCpus: 0.5, resources: { w: 1 }, maxRetries: 0 }).remote(dir, i));
    await until(() => [0, 1, 2, 3].every((i) => existsSync(join(dir, `started-${i}`))), 'four long tasks running');

    // KV entries written (and one deleted) before the crash; each put is on disk once it resolves.
    await kv.put('hr', 'serve/app', JSON.stringify({ replicas: 2 }));
    await kv.put('hr', 'serve/blob', new Uint8Array([1, 2, 3]));
    await kv.put('hr', 'serve/gone', 'deleted before the crash');
    expect(await kv.del('hr', 'serve/gone')).toBe(true);

    // The head dies hard.
    const headPid = cluster.headPid();
    process.kill(headPid, 'SIGKILL');
    await until(() => !isAlive(headPid), 'the head process gone');
    await expect(nodes()).rejects.toThrow(/cannot reach|UNAVAILABLE|No connection/i);

    // While it is down: calls go to the actors' nodes directly. A worker node dies meanwhile.
    expect(await get(keeper.incr.remote())).toBe(2);
    expect(await get([plain.incr.remote(), plain.incr.remote()])).toEqual([2, 3]);
    expect([workerA, workerB]).toContain(await get(whereAmI.options({ resources: { w: 1 } }).remote())); // placed from the last view
    process.kill(victimPid, 'SIGKILL');
    await until(() => !isAlive(victimPid), 'the victim node gone');
    expect(await get(keeper.incr.remote())).toBe(3);

    // Back with the CLI, on the session's port and token.
    const port = cluster.address.split(':')[1];
    const r = await cluster.cli(['start', '--head', '--port', port, '--num-cpus', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/restored: the previous head of this session died; 3 node\(s\) may reconnect/);
    const newHeadNode = /node ([0-9a-f]+)/.exec(r.stdout)?.[1] ?? '';
    expect(newHeadNode).not.toBe(headNode);

    await until(async () => {
      const ns = await nodesOrNothing();
      const alive = (id: string) => ns.find((n) => n.nodeId === id)?.alive === true;
      return alive(workerA) && alive(workerB) && alive(newHeadNode);
    }, 'the workers alive again under their ids');
    const after = await nodes();
    expect(after.find((n) => n.nodeId === headNode)?.alive).toBe(false);

    // The KV is back as it was.
    expect(await kv.list('hr', 'serve/')).toEqual(['serve/app', 'serve/blob']);
    expect(await kv.get('hr', 'serve/app')).toBe('{"replicas":2}');
    expect([...((await kv.get('hr', 'serve/blob')) as Uint8Array)]).toEqual([1, 2, 3]);

    // Named detached actors answer again, found through the restored directory.
    const again = await getActor<Counter>('keeper');
    expect(again.actorId).toBe(keeper.actorId);
    expect(await get(again.incr.remote())).toBe(4);

    // The tasks that ran through the restart finish; new ones are scheduled.
    writeFileSync(join(dir, 'release'), '');
    expect(await get(running)).toEqual([0, 10, 20, 30]);
    expect([workerA, workerB]).toContain(await get(whereAmI.options({ resources: { w: 1 } }).remote()));
    expect(await get(whereAmI.remote())).toBeTruthy();

    // The node that never came back is declared dead after the deadline; this driver's job lives on
    // (its cluster watch resubscribed), so its non-detached actor still answers.
    await until(async () => (await nodesOrNothing()).find((n) => n.nodeId === victim)?.alive === false, 'the victim declared dead', 15_000);
    expect(await get(plain.incr.remote())).toBe(4);
    const jobs = await cluster.cli(['list', 'jobs', '--json']);
    expect(jobs.code, jobs.stderr).toBe(0);
    const list = JSON.parse(jobs.stdout) as { state: string }[];
    expect(list.filter((j) => j.state === 'RUNNING').length).toBeGreaterThanOrEqual(1);
  });
});
