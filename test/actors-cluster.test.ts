/**
 * Issue 3 acceptance on a three-node loopback cluster started with the CLI: actors, strategies, labels,
 * placement groups, `rayts list` / `rayts status`, and a detached actor used across driver processes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  init,
  shutdown,
  remote,
  actor,
  get,
  put,
  kill,
  getActor,
  nodes,
  availableResources,
  runtimeContext,
  placementGroup,
  removePlacementGroup,
  ActorDiedError,
  GetTimeoutError,
  InvalidArgumentError,
  type ActorHandle,
} from '@samsara/ray';
import { CliCluster, until } from './helpers/cli-cluster.js';

let cluster: CliCluster;
let headNode: string;
let nodeB: string;
let nodeC: string;

beforeAll(async () => {
  cluster = await CliCluster.start({ numCpus: 1, labels: 'zone=a' }, [
    { numCpus: 2, labels: 'zone=b,soc=qcs6490' },
    { numCpus: 2, resources: { camera: 1 }, labels: 'zone=c,soc=qcs8550' },
  ]);
  [headNode, nodeB, nodeC] = cluster.nodeIds;
  await init({ address: cluster.address, token: cluster.token, namespace: 'tests' });
  await until(async () => (await nodes()).filter((n) => n.alive).length === 3, 'three alive nodes');
}, 60_000);

afterAll(async () => {
  await shutdown();
  await cluster?.stop();
});

/** Runs a separate driver process (a user script) against the cluster. */
function driver(script: string): { stdout: string; stderr: string } {
  const full = `import('@samsara/ray').then(async (ray) => { const { init, shutdown, actor, get, getActor } = ray; await init({ address: ${JSON.stringify(cluster.address)}, token: ${JSON.stringify(cluster.token)}, namespace: 'shared' }); ${script}; await shutdown(); process.exit(0); }).catch((e) => { console.log('ERR ' + e.name + ': ' + e.message); process.exit(1); })`;
  const r = spawnSync(process.execPath, ['-e', full], { encoding: 'utf8', timeout: 60_000 });
  return { stdout: r.stdout, stderr: r.stderr };
}

const whereAmI = remote(() => runtimeContext().nodeId);

class Counter {
  n = 0;
  inFlight = 0;
  maxInFlight = 0;
  constructor(start = 0) {
    this.n = start;
  }
  incr(by = 1) {
    return (this.n += by);
  }
  async slow(ms: number) {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((r) => setTimeout(r, ms));
    this.inFlight--;
    return this.maxInFlight;
  }
  where() {
    return runtimeContext();
  }
  mark() {
    const g = globalThis as unknown as { mark?: string };
    const before = g.mark;
    g.mark = runtimeContext().actorId;
    return before ?? null;
  }
}
const CounterActor = actor(Counter);

describe('actors', () => {
  it('actor - typed handle; calls from one caller run in submission order', async () => {
    const c = CounterActor.remote(10);
    const refs = Array.from({ length: 200 }, () => c.incr.remote(1));
    const vals = await get(refs);
    expect(vals).toEqual(Array.from({ length: 200 }, (_, i) => 11 + i));
    const ctx = await get(c.where.remote());
    expect(ctx.workerKind).toBe('actor');
    expect(ctx.actorId).toBe(c.actorId);
  });

  it('maxConcurrency - async methods interleave up to the limit, one at a time by default', async () => {
    const one = CounterActor.remote();
    const four = CounterActor.options({ maxConcurrency: 4 }).remote();
    const a = await get(Array.from({ length: 6 }, () => one.slow.remote(50)));
    const b = await get(Array.from({ length: 8 }, () => four.slow.remote(200)));
    expect(Math.max(...a)).toBe(1);
    expect(Math.max(...b)).toBe(4);
  });

  it('isolation - each actor lives in its own worker thread', async () => {
    const a = CounterActor.options({ scheduling: { nodeId: nodeB } }).remote();
    const b = CounterActor.options({ scheduling: { nodeId: nodeB } }).remote();
    expect(await get(a.mark.remote())).toBeNull();
    expect(await get(b.mark.remote())).toBeNull();
  });

  it('handles - passed to tasks and to other actors, which call them', async () => {
    const c = CounterActor.remote();
    const bump = remote(async (h: ActorHandle<Counter>, by: number) => get(h.incr.remote(by)));
    expect(await get(bump.remote(c, 5))).toBe(5);
    const Relay = actor(
      class Relay {
        async forward(h: ActorHandle<Counter>, by: number) {
          return get(h.incr.remote(by));
        }
      },
    );
    const relay = Relay.remote();
    expect(await get(relay.forward.remote(c, 10))).toBe(15);
  });

  it('named actors - getActor finds them; a taken name is refused; getIfExists reuses it', async () => {
    const c = CounterActor.options({ name: 'counter-1' }).remote(100);
    await get(c.incr.remote(1));
    const same = await getActor<Counter>('counter-1');
    expect(await get(same.incr.remote(1))).toBe(102);
    const dup = CounterActor.options({ name: 'counter-1' }).remote();
    await expect(get(dup.incr.remote(1))).rejects.toThrow(/already exists in namespace "tests"/);
    const reused = CounterActor.options({ name: 'counter-1', getIfExists: true }).remote();
    expect(await get(reused.incr.remote(1))).toBe(103);
    await expect(getActor('no-such-actor')).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('named actors - getIfExists while the first creation is still constructing: calls on both handles reach the one actor', async () => {
    const Slow = actor(
      class Slow {
        readonly born = Date.now();
        constructor() {
          // Busy for a while, so the second getIfExists finds the actor still PENDING at the head.
          const end = Date.now() + 1500;
          while (Date.now() < end);
        }
        ping() {
          return this.born;
        }
      },
    );
    const first = Slow.options({ name: 'slow-1', getIfExists: true }).remote();
    const second = Slow.options({ name: 'slow-1', getIfExists: true }).remote();
    const [a, b] = await get([first.ping.remote(), second.ping.remote()], { timeoutMs: 30_000 });
    expect(b).toBe(a);
    await kill(first);
  });

  it('kill - later calls reject with ActorDiedError', async () => {
    const c = CounterActor.remote();
    await get(c.incr.remote());
    await kill(c);
    const err = await get(c.incr.remote()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ActorDiedError);
    expect((err as Error).message).toContain('killed by kill()');
  });

  it('constructor errors - the actor is dead and calls say why', async () => {
    const Bad = actor(
      class Bad {
        constructor() {
          throw new Error('no camera attached');
        }
        ping() {
          return 1;
        }
      },
    );
    const err = await get(Bad.remote().ping.remote()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ActorDiedError);
    expect((err as Error).message).toContain('no camera attached');
  });

  it('lifetimes - a detached actor outlives its driver; a non-detached one ends with it', async () => {
    const first = driver(`
      const C = actor(class Keeper { v = 0; set(x) { this.v = x; return x; } read() { return this.v; } });
      const d = C.options({ name: 'keeper', lifetime: 'detached' }).remote();
      await get(d.set.remote(42));
      const t = C.options({ name: 'temp' }).remote();
      await get(t.set.remote(1));
      console.log('CREATED');
    `);
    expect(first.stdout).toContain('CREATED');
    const keeper = await getActor<{ read(): number }>('keeper', { namespace: 'shared' });
    expect(await get(keeper.read.remote())).toBe(42);
    const second = driver(`const k = await getActor('keeper'); console.log('SECOND ' + await get(k.read.remote()));`);
    expect(second.stdout).toContain('SECOND 42');
    await until(async () => (await getActor('temp', { namespace: 'shared' }).then(() => false, () => true)), 'the non-detached actor to end with its job');
    await kill(keeper);
  });

  it('shutdown hook - runs when the owning job ends', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rayts-hook-'));
    const file = join(dir, 'closed');
    driver(`
      const C = actor(class Cam { constructor(f) { this.f = f; } ping() { return 1; } async __rayShutdown__() { const fs = await import('node:fs'); fs.writeFileSync(this.f, 'bye'); } });
      const c = C.remote(${JSON.stringify(file)});
      await get(c.ping.remote());
    `);
    await until(() => existsSync(file), 'the shutdown hook to write its file');
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('scheduling strategies and labels', () => {
  it('SPREAD - tasks land on every node', async () => {
    const where = await get(Array.from({ length: 9 }, () => whereAmI.options({ scheduling: 'SPREAD', numCpus: 0.1 }).remote()));
    expect(new Set(where)).toEqual(new Set([headNode, nodeB, nodeC]));
  });

  it('node affinity - hard pins; soft falls back when the node is unknown; hard to an unknown node says why', async () => {
    expect(await get(whereAmI.options({ scheduling: { nodeId: nodeC } }).remote())).toBe(nodeC);
    const soft = await get(whereAmI.options({ scheduling: { nodeId: 'ffffffffffffffffffff', soft: true } }).remote());
    expect([headNode, nodeB, nodeC]).toContain(soft);
    const err = await get(whereAmI.options({ scheduling: { nodeId: 'ffffffffffffffffffff' } }).remote(), { timeoutMs: 500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GetTimeoutError);
    expect((err as Error).message).toMatch(/ffffffff/);
  });

  it('label selectors - =, !=, in and !in match node labels from --labels', async () => {
    expect(await get(whereAmI.options({ labelSelector: { zone: 'b' } }).remote())).toBe(nodeB);
    expect(await get(whereAmI.options({ labelSelector: { soc: 'in(qcs8550,qcs9100)' } }).remote())).toBe(nodeC);
    const notA = await get(Array.from({ length: 6 }, () => whereAmI.options({ labelSelector: { zone: '!a' }, numCpus: 0.1 }).remote()));
    expect(notA).not.toContain(headNode);
    const notIn = await get(whereAmI.options({ labelSelector: { zone: '!in(a,b)' } }).remote());
    expect(notIn).toBe(nodeC);
    const actorThere = CounterActor.options({ labelSelector: { soc: 'qcs6490' } }).remote();
    expect((await get(actorThere.where.remote())).nodeId).toBe(nodeB);
  });

  it('DEFAULT - prefers the node that holds the largest argument', async () => {
    const make = remote((n: number) => new Uint8Array(n).fill(1));
    const big = make.options({ scheduling: { nodeId: nodeC } }).remote(2 * 1024 * 1024);
    const use = remote((b: Uint8Array) => ({ node: runtimeContext().nodeId, len: b.length }));
    const out = await get(use.options({ numCpus: 0.1 }).remote(big));
    expect(out).toEqual({ node: nodeC, len: 2 * 1024 * 1024 });
    const small = await put(1);
    expect(await get(use.options({ numCpus: 0.1 }).remote(small as never))).toBeTruthy();
  });
});

describe('placement groups', () => {
  it('STRICT_SPREAD - one bundle per node, reserved atomically, tasks run in their bundle', async () => {
    const pg = placementGroup([{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }], { strategy: 'STRICT_SPREAD', name: 'spread3' });
    await pg.ready(10_000);
    const where = await get([0, 1, 2].map((i) => whereAmI.options({ placementGroup: pg, bundleIndex: i }).remote()));
    expect(new Set(where).size).toBe(3);
    await removePlacementGroup(pg);
  });

  it('infeasible - a group that cannot be placed reports why and reserves nothing', async () => {
    const pg = placementGroup([{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }, { CPU: 1 }], { strategy: 'STRICT_SPREAD', name: 'too-wide' });
    const err = await pg.ready(500).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GetTimeoutError);
    expect((err as Error).message).toContain('STRICT_SPREAD needs 4 nodes');
    const st = await cluster.cli(['status']);
    expect(st.stdout).toMatch(/too-wide\s+STRICT_SPREAD\s+PENDING\s+STRICT_SPREAD needs 4 nodes/);
    const reserved = Object.keys(await availableResources()).filter((k) => k.includes(pg.id));
    expect(reserved).toEqual([]);
    await removePlacementGroup(pg);
  });

  it('camera bundle - a worker bundle plus a camera bundle; removal stops what ran inside and frees resources', async () => {
    const pg = placementGroup([{ CPU: 1 }, { camera: 1 }], { strategy: 'PACK', name: 'trial-0' });
    await pg.ready(10_000);
    const cam = CounterActor.options({ placementGroup: pg, bundleIndex: 1, resources: { camera: 1 } }).remote();
    expect((await get(cam.where.remote())).nodeId).toBe(nodeC);
    const list = JSON.parse((await cluster.cli(['list', 'placement-groups', '--json'])).stdout) as { name: string; state: string }[];
    expect(list.find((g) => g.name === 'trial-0')?.state).toBe('CREATED');
    await removePlacementGroup(pg);
    // Removal resolves once the nodes gave the bundles back: the actor in it is stopped, the camera free.
    await expect(get(cam.incr.remote())).rejects.toBeInstanceOf(ActorDiedError);
    expect((await availableResources()).camera).toBe(1);
  });
});

describe('rayts list and status', () => {
  it('rayts list actors|tasks - tables for people and JSON for tools', async () => {
    const c = CounterActor.options({ name: 'listed' }).remote();
    await get(c.incr.remote());
    const actors = JSON.parse((await cluster.cli(['list', 'actors', '--json'])).stdout) as { name: string; state: string; className: string }[];
    expect(actors.find((a) => a.name === 'listed')).toMatchObject({ state: 'ALIVE', className: 'Counter' });
    const table = (await cluster.cli(['list', 'actors'])).stdout;
    expect(table).toMatch(/ACTORID\s+CLASSNAME\s+NAME/);
    await until(async () => (await cluster.cli(['list', 'tasks'])).stdout.includes('FINISHED'), 'finished tasks in the list');
    const st = (await cluster.cli(['status'])).stdout;
    expect(st).toMatch(/Actors:/);
    expect(st).toMatch(/Counter\s+listed\s+ALIVE/);
  });
});
