/**
 * Requests when the direct path cannot be used — as between a proxy and a replica on different
 * machines: the cluster runs with RAYTS_SERVE_DIRECT=0, so replicas publish no direct endpoint and the
 * proxy's fast path hands every request to the full chain, which calls the replica through the core.
 * HTTP (with and without a body) and handle calls answer exactly as over the direct path.
 */
import { describe, expect, it } from 'vitest';
import { get, getActor } from '@samsara/ray';
import { serve, deployment } from '@samsara/ray-serve';
import { freePort, useCliCluster } from '../../../test/helpers/cli-cluster.js';

// This driver's handle calls take the core too (the switch is read once per process).
process.env.RAYTS_SERVE_DIRECT = '0';

describe('Serve without the direct path (CLI cluster, RAYTS_SERVE_DIRECT=0)', { timeout: 90_000 }, () => {
  useCliCluster({ numCpus: 2 }, [], { RAYTS_SERVE_DIRECT: '0' });

  it('fallback - GET and POST over HTTP and handle calls are served through core actor calls, none over the direct path', async () => {
    const port = await freePort();
    const Echo = deployment(
      class Echo {
        async fetch(req: Request) {
          return { method: req.method, url: req.url, body: req.method === 'POST' ? await req.text() : null };
        }
        add(a: number, b: number) {
          return a + b;
        }
      },
    );
    const h = (await serve.run(Echo.bind(), { name: 'echo', routePrefix: '/echo', port })) as unknown as { add: { remote(a: number, b: number): PromiseLike<number> } };
    const base = `http://127.0.0.1:${port}`;
    const g = await fetch(`${base}/echo/x?y=1`, { headers: { 'x-request-id': 'nd-1' } });
    expect(g.status).toBe(200);
    expect(g.headers.get('x-request-id')).toBe('nd-1');
    expect(await g.json()).toEqual({ method: 'GET', url: `${base}/echo/x?y=1`, body: null });
    const p = await fetch(`${base}/echo`, { method: 'POST', body: 'hello' });
    expect(p.status).toBe(200);
    expect(p.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(await p.json()).toEqual({ method: 'POST', url: `${base}/echo`, body: 'hello' });
    // More requests than a replica's maxOngoingRequests, one after another: the fast path gives back
    // the slot it took before handing a request on, or these would queue forever.
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`${base}/echo/${i}`);
      expect(r.status).toBe(200);
      await r.body?.cancel();
    }
    expect(await h.add.remote(2, 3)).toBe(5);
    expect((await fetch(`${base}/nowhere`)).status).toBe(404);

    const st = await serve.status();
    const replicas = st.applications.echo.deployments.Echo.replicas;
    let direct = 0;
    for (const r of replicas) {
      const stats = (await get((await getActor(r.actorName, { namespace: 'serve' }) as unknown as { __serve_stats: { remote(): never } }).__serve_stats.remote())) as { requests: number; directRequests: number };
      expect(stats.requests).toBeGreaterThanOrEqual(3);
      direct += stats.directRequests;
    }
    expect(direct).toBe(0);
    await serve.shutdown();
  });
});
