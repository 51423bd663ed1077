/**
 * Issue 5: retries, actor restarts, lineage reconstruction, isolation, the memory monitor, and chaos
 * runs (a node killer while tasks and restartable actors work), scaled to two cores.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  init,
  shutdown,
  remote,
  actor,
  get,
  wait,
  nodes,
  availableResources,
  runtimeContext,
  getActor,
  kill,
  ActorDiedError,
  ActorUnavailableError,
  NodeDiedError,
  WorkerCrashedError,
  TaskError,
} from '@samsara/ray';
import { CliCluster, until, isAlive } from './helpers/cli-cluster.js';
import { SequenceSink } from './helpers/sequence-sink.js';

const countingTask = remote(async (dir: string, failures: number) => {
  const fs = (process as unknown as { getBuiltinModule(m: string): typeof import('node:fs') }).getBuiltinModule('node:fs');
  fs.mkdirSync(dir, { recursive: true });
  const attempt = fs.readdirSync(dir).length + 1;
  fs.writeFileSync(`${dir}/${attempt}`, '');
  if (attempt <= failures) throw new Error(`attempt ${attempt} fails`);
  return attempt;
});

describe('exact outcomes (embedded cluster)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'rayts-fail-'));
  const meminfo = join(tmp, 'meminfo');
  const setMemory = (usedFraction: number) =>
    writeFileSync(meminfo, `MemTotal: 1000000 kB\nMemFree: 1 kB\nMemAvailable: ${Math.round((1 - usedFraction) * 1_000_000)} kB\n`);

  beforeAll(async () => {
    setMemory(0.5);
    process.env.RAYTS_MEMINFO_PATH = meminfo;
    process.env.RAYTS_MEMORY_MONITOR_MS = '50';
    process.env.RAYTS_WORKER_HEAP_MB = '64';
    await init({ numCpus: 2 });
  });
  afterAll(async () => {
    await shutdown();
    delete process.env.RAYTS_MEMINFO_PATH;
    delete process.env.RAYTS_MEMORY_MONITOR_MS;
    delete process.env.RAYTS_WORKER_HEAP_MB;
    rmSync(tmp, { recursive: true, force: true });
  });

  it('retryExceptions - fails 3 times then succeeds: the result after exactly 4 attempts', async () => {
    const dir = join(tmp, 'three');
    expect(await get(countingTask.options({ retryExceptions: true, maxRetries: 3 }).remote(dir, 3))).toBe(4);
    expect(readdirSync(dir)).toHaveLength(4);
    const dir2 = join(tmp, 'exhausted');
    const err = await get(countingTask.options({ retryExceptions: true, maxRetries: 2 }).remote(dir2, 3)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskError);
    expect(readdirSync(dir2)).toHaveLength(3);
  });

  it('actor restarts - maxRestarts 1: in order, state reset after the first crash, ActorDiedError after the second', async () => {
    const A = actor(
      class Seq {
        n = 0;
        next() {
          return ++this.n;
        }
        crash() {
          process.exit(1);
        }
      },
    );
    const a = A.options({ maxRestarts: 1 }).remote();
    expect(await get([a.next.remote(), a.next.remote(), a.next.remote()])).toEqual([1, 2, 3]);
    await expect(get(a.crash.remote())).rejects.toBeInstanceOf(ActorUnavailableError);
    expect(await get([a.next.remote(), a.next.remote()])).toEqual([1, 2]);
    await expect(get(a.crash.remote())).rejects.toBeInstanceOf(ActorDiedError);
    const after = await Promise.all([0, 1, 2].map(() => get(a.next.remote()).catch((e: unknown) => e)));
    for (const e of after) expect(e).toBeInstanceOf(ActorDiedError);
  });

  it('actor restarts - maxTaskRetries re-sends a call that was in flight, in order', async () => {
    const dir = join(tmp, 'actor-flag');
    const A = actor(
      class Once {
        n = 0;
        async step(dir: string) {
          const fs = (process as unknown as { getBuiltinModule(m: string): typeof import('node:fs') }).getBuiltinModule('node:fs');
          fs.mkdirSync(dir, { recursive: true });
          if (fs.readdirSync(dir).length === 0) {
            fs.writeFileSync(`${dir}/crashed`, '');
            process.exit(1);
          }
          return ++this.n;
        }
      },
    );
    const a = A.options({ maxRestarts: 1, maxTaskRetries: 1 }).remote();
    expect(await get([a.step.remote(dir), a.step.remote(dir)])).toEqual([1, 2]);
  });

  it('isolation - a task that exhausts its heap ends its own worker, not the node', async () => {
    const hog = remote(() => {
      const keep: number[][] = [];
      for (;;) keep.push(new Array(1_000_000).fill(1));
    });
    const err = await get(hog.options({ maxRetries: 0 }).remote()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerCrashedError);
    const ok = remote(() => 'still here');
    expect(await get(ok.remote())).toBe('still here');
  });

  it('memory monitor - above the threshold the newest retriable task is killed and retried with backoff', async () => {
    const dir = join(tmp, 'mem');
    const flag = join(tmp, 'mem-go');
    const waiter = remote(async (dir: string, flag: string) => {
      const fs = (process as unknown as { getBuiltinModule(m: string): typeof import('node:fs') }).getBuiltinModule('node:fs');
      fs.mkdirSync(dir, { recursive: true });
      const attempt = fs.readdirSync(dir).length + 1;
      fs.writeFileSync(`${dir}/${attempt}`, '');
      while (!fs.existsSync(flag)) await new Promise((r) => setTimeout(r, 20));
      return attempt;
    });
    const ref = waiter.options({ maxRetries: 5 }).remote(dir, flag);
    await until(() => readdirSync(join(tmp)).includes('mem') && readdirSync(dir).length === 1, 'the first attempt to start');
    setMemory(0.97);
    await until(() => readdirSync(dir).length >= 2, 'a retry after the memory monitor killed the task', 20_000);
    setMemory(0.5);
    writeFileSync(flag, '');
    expect(await get(ref)).toBeGreaterThanOrEqual(2);
  });
});

describe('node failures on a CLI cluster', () => {
  let cluster: CliCluster;
  const extra: string[] = [];

  const running = (pid: number) => isAlive(pid);
  /** Alive worker nodes whose process still runs (a killed one stays "alive" until its deadline). */
  const workerNodes = async () => (await nodes()).filter((n) => n.alive && !n.isHead && running(n.pid));
  /** SIGKILLs a worker node process and starts a replacement. */
  async function killAndReplace(nodeId: string): Promise<void> {
    const n = (await nodes()).find((x) => x.nodeId === nodeId)!;
    try {
      process.kill(n.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    const r = await cluster.cli(['start', '--address', cluster.address, '--num-cpus', '2']);
    if (r.code !== 0) throw new Error(r.stderr);
    extra.push(r.stdout);
  }

  beforeAll(async () => {
    cluster = await CliCluster.start({ numCpus: 1 }, [{ numCpus: 2 }, { numCpus: 2 }], { RAYTS_DEAD_AFTER_MS: '2500' });
    await init({ address: cluster.address, token: cluster.token });
    await until(async () => (await nodes()).filter((n) => n.alive).length === 3, 'three nodes');
  }, 60_000);
  afterAll(async () => {
    await shutdown();
    await cluster?.stop();
  });

  it('node death - a running task is retried elsewhere; with no retries it fails with NodeDiedError naming task and node', async () => {
    const [victim] = await workerNodes();
    const slow = remote(async (ms: number) => {
      await new Promise((r) => setTimeout(r, ms));
      return runtimeContext().nodeId;
    });
    const retried = slow.options({ scheduling: { nodeId: victim.nodeId, soft: true } }).remote(1500);
    const doomed = slow.options({ scheduling: { nodeId: victim.nodeId, soft: true }, maxRetries: 0, name: 'doomed' }).remote(1500);
    await until(async () => (await nodes()).find((n) => n.nodeId === victim.nodeId)!.available.CPU === 0, 'both tasks to run on the victim');
    await killAndReplace(victim.nodeId);
    const where = await get(retried);
    expect(where).not.toBe(victim.nodeId);
    const err = await get(doomed).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeDiedError);
    expect((err as Error).message).toMatch(new RegExp(`doomed .*node ${victim.nodeId.slice(0, 8)}`));
  });

  it('lineage - a stored result lost with its node is rebuilt by running its task again', async () => {
    const [holder] = await workerNodes();
    const make = remote((n: number, seed: number) => {
      const a = new Float64Array(n);
      for (let i = 0; i < n; i++) a[i] = (i * seed) % 97;
      return a;
    });
    const ref = make.options({ scheduling: { nodeId: holder.nodeId, soft: true } }).remote(500_000, 7);
    const first = await get(ref);
    const expected = first.reduce((s, x) => s + x, 0);
    await killAndReplace(holder.nodeId);
    await until(async () => !(await nodes()).find((n) => n.nodeId === holder.nodeId)!.alive, 'the holder to be declared dead');
    const sum = remote((a: Float64Array) => a.reduce((s, x) => s + x, 0));
    expect(await get(sum.remote(ref))).toBe(expected);
  });

  it('owner death (a node) - results stored on another node for a dead node are dropped; the driver gets OwnerDiedError', async () => {
    const [owner, other] = await workerNodes();
    // A task on `owner` submits a nested task pinned to `other`: its 1 MB result is stored on `other`
    // and owned by `owner` (which runs the submitting task); the ref comes back inside the result.
    const parent = remote(async (where: string, n: number) => {
      const big = remote((k: number) => new Uint8Array(k).fill(4));
      const inner = big.options({ scheduling: { nodeId: where } }).remote(n);
      await wait([inner]);
      return { inner };
    });
    const out = await get(parent.options({ scheduling: { nodeId: owner.nodeId } }).remote(other.nodeId, 1_000_000));
    const id = out.inner.id;
    const stored = async () => (JSON.parse((await cluster.cli(['list', 'objects', '--json', '--limit', '100000'])).stdout) as { objectId: string; nodeId: string }[]).find((o) => o.objectId === id);
    expect((await stored())?.nodeId).toBe(other.nodeId);
    await killAndReplace(owner.nodeId);
    await until(async () => !(await nodes()).find((n) => n.nodeId === owner.nodeId)!.alive, 'the owner node to be declared dead');
    await until(async () => (await stored()) === undefined, "the dead owner's object to be dropped on the other node");
    const err = await get(out.inner).catch((e: unknown) => e);
    expect((err as Error).name).toBe('OwnerDiedError');
  });

  it('owner death - a borrower of an object whose owner exited gets OwnerDiedError', async () => {
    const { spawnSync } = await import('node:child_process');
    const script = `import('@samsara/ray').then(async (ray) => {
      await ray.init({ address: ${JSON.stringify(cluster.address)}, token: ${JSON.stringify(cluster.token)}, namespace: 'owners' });
      const Keeper = ray.actor(class Keeper { box = null; keep(b) { this.box = b; return true; } async read() { return (await ray.get(this.box.ref)).length; } });
      const k = Keeper.options({ name: 'keeper', lifetime: 'detached' }).remote();
      const ref = await ray.put(new Uint8Array(300000).fill(1));
      await ray.get(k.keep.remote({ ref }));
      console.log('READ ' + await ray.get(k.read.remote()));
      process.exit(0);
    })`;
    const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(out.stdout).toContain('READ 300000');
    const keeper = await getActor<{ read(): number }>('keeper', { namespace: 'owners' });
    const err = await get(keeper.read.remote()).catch((e: unknown) => e);
    expect((err as Error).name).toBe('OwnerDiedError');
    expect((err as Error).message).toMatch(/The owner of object .* is unreachable; its objects are lost/);
    await kill(keeper as never);
  });

  it('chaos - a node killer SIGKILLs worker nodes while 2,000 retriable tasks run: every result correct, every CPU free after', async () => {
    const work = remote(async (i: number) => {
      await new Promise((r) => setTimeout(r, 10));
      return i * i;
    });
    const refs = Array.from({ length: 2000 }, (_, i) => work.options({ maxRetries: -1 }).remote(i));
    let done = false;
    const killer = (async () => {
      for (let k = 0; k < 3 && !done; k++) {
        await new Promise((r) => setTimeout(r, 2500));
        if (done) break;
        const ws = await workerNodes();
        if (ws.length) await killAndReplace(ws[Math.floor(Math.random() * ws.length)].nodeId);
      }
    })();
    const values = await get(refs);
    done = true;
    await killer;
    expect(values).toEqual(Array.from({ length: 2000 }, (_, i) => i * i));
    await until(
      async () => {
        const alive = (await nodes()).filter((n) => n.alive);
        const total = alive.reduce((s, n) => s + (n.resources.CPU ?? 0), 0);
        return (await availableResources()).CPU === total;
      },
      'every CPU to be free again',
      60_000,
    );
  }, 180_000);

  it('chaos - restartable actors forward sequence numbers to a sink while nodes are killed: every number arrives', async () => {
    const head = (await nodes()).find((n) => n.isHead)!;
    const sink = SequenceSink.options({ scheduling: { nodeId: head.nodeId } }).remote();
    const Forwarder = actor(
      class Forwarder {
        async forward(s: { record(n: number): unknown } & Record<string, { remote(n: number): unknown }>, n: number) {
          return get(s.record.remote(n) as never);
        }
      },
    );
    const ws = await workerNodes();
    const fwd = ws.map((w) => Forwarder.options({ maxRestarts: -1, maxTaskRetries: -1, scheduling: { nodeId: w.nodeId, soft: true } }).remote());
    const N = 300;
    const refs: Promise<unknown>[] = [];
    for (let i = 0; i < N; i++) {
      refs.push(get(fwd[i % fwd.length].forward.remote(sink as never, i)));
      if (i === 100) await killAndReplace(ws[0].nodeId);
      if (i % 20 === 0) await new Promise((r) => setTimeout(r, 20));
    }
    await Promise.all(refs);
    expect(await get(sink.missing.remote(N))).toEqual([]);
  }, 120_000);
});
