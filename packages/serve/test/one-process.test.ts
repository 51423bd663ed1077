/**
 * Serve on a one-node CLI cluster: the proxy and every replica are threads of the head's process, so
 * requests take the direct path's in-process lane (internal/direct/local-link.ts) — HTTP from the proxy
 * and a composed deployment's handle calls. A replica killed with a composed request in flight fails
 * that request (the TCP connection beside the lane closes with the replica's thread) instead of leaving
 * it hanging, and its replacement serves the next ones.
 */
import { describe, expect, it } from 'vitest';
import { actor, get, getActor, kill } from '@samsara/ray';
import { serve, deployment } from '@samsara/ray-serve';
import { freePort, until, useCliCluster } from '../../../test/helpers/cli-cluster.js';

type Stats = { requests: number; directRequests: number; localRequests: number };
const stats = async (actorName: string): Promise<Stats> =>
  (await get((await getActor(actorName, { namespace: 'serve' }) as unknown as { __serve_stats: { remote(): never } }).__serve_stats.remote())) as Stats;

/** Holds the inner replica's calls open until released (no sleeps). */
const Gate = actor(
  class Gate {
    waiters: (() => void)[] = [];
    wait() {
      return new Promise((r) => this.waiters.push(() => r(true)));
    }
    count() {
      return this.waiters.length;
    }
  },
  { maxConcurrency: 100 },
);

describe('Serve in one process (one-node CLI cluster)', { timeout: 90_000 }, () => {
  useCliCluster({ numCpus: 4 }, []);

  it('in-process lane - HTTP and composed handle calls go over it; a replica killed mid-request fails that request and is replaced', async () => {
    const port = await freePort();
    const gate = Gate.options({ name: 'gate-one', namespace: 'serve-test' }).remote();
    const Inner = deployment(
      class Inner {
        async work(x: { n: number; bytes: Uint8Array }, hold: boolean) {
          if (hold) {
            const g = await getActor('gate-one', { namespace: 'serve-test' });
            await get((g as unknown as { wait: { remote(): never } }).wait.remote());
          }
          return { n: x.n + 1, bytes: x.bytes.constructor.name, len: x.bytes.length };
        }
      },
    );
    const Outer = deployment(
      class Outer {
        constructor(private readonly inner: { work: { remote(x: unknown, hold: boolean): PromiseLike<unknown> } }) {}
        async fetch(req: Request) {
          if (req.method === 'POST') return { posted: (await req.json()) as unknown };
          const q = new URL(req.url).searchParams;
          return await this.inner.work.remote({ n: Number(q.get('n')), bytes: new Uint8Array([1, 2, 3]) }, q.get('hold') === '1');
        }
      },
    );
    await serve.run(Outer.bind(Inner.bind()), { name: 'one', routePrefix: '/one', port });
    const base = `http://127.0.0.1:${port}/one`;
    for (let i = 0; i < 10; i++) {
      const r = await fetch(`${base}?n=${i}`);
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual({ n: i + 1, bytes: 'Uint8Array', len: 3 });
    }
    // A request body crosses the lane too (the proxy's Buffer arrives as bytes the Request reads).
    const post = await fetch(base, { method: 'POST', body: JSON.stringify({ x: [1, 'é'] }), headers: { 'content-type': 'application/json' } });
    expect(post.status).toBe(200);
    expect(await post.json()).toEqual({ posted: { x: [1, 'é'] } });
    const names = () => serve.status().then((st) => st.applications.one.deployments);
    const d = await names();
    const inner = await stats(d.Inner.replicas[0].actorName);
    const outer = await stats(d.Outer.replicas[0].actorName);
    // The first request on a connection may go over TCP while the lane's greeting is on its way.
    expect(inner.localRequests).toBeGreaterThanOrEqual(9);
    expect(outer.localRequests).toBeGreaterThanOrEqual(10);

    const held = fetch(`${base}?n=0&hold=1`);
    await until(async () => (await get((gate as unknown as { count: { remote(): never } }).count.remote())) === 1, 'the composed request waiting in the inner replica');
    const innerName = d.Inner.replicas[0].actorName;
    await kill(await getActor(innerName, { namespace: 'serve' }));
    const failed = await held;
    expect(failed.status).toBe(500);
    expect(await failed.text()).toMatch(/gone|died|dead/i);
    await until(async () => (await names()).Inner.replicas.some((r) => r.state === 'RUNNING' && r.actorName !== innerName), 'a replacement inner replica');
    const again = await fetch(`${base}?n=41`);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ n: 42, bytes: 'Uint8Array', len: 3 });
    await serve.shutdown();
    await kill(gate as never);
  });
});
