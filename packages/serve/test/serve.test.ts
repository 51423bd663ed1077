/**
 * Serve through its public API on a CLI cluster (head + one worker as OS processes), HTTP over real
 * sockets: composition, bad input, Hono ingress, batching, backpressure, rolling update under load,
 * canary/promote/rollback, shadow, autoscaling, replica crash, a failing constructor.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { actor, get, getActor, kill } from '@samsara/ray';
import { serve, deployment, BackPressureError, DeployFailedError, type batch as BatchFn } from '@samsara/ray-serve';
import { spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI, freePort, until, useCliCluster } from '../../../test/helpers/cli-cluster.js';

const FIXTURE = resolve(fileURLToPath(new URL('.', import.meta.url)), 'fixtures/echo-app.mjs');

// Inside a deployment class `batch` is in scope (the replica provides it); declared for the compiler.
declare const batch: typeof BatchFn;

const G = { namespace: 'serve-test' };
/** A gate replicas wait on, so tests hold requests open without sleeping. */
const Gate = actor(
  class Gate {
    waiters: (() => void)[] = [];
    open = false;
    wait() {
      if (this.open) return true;
      return new Promise((r) => this.waiters.push(() => r(true)));
    }
    count() {
      return this.waiters.length;
    }
    release() {
      this.open = true;
      for (const w of this.waiters.splice(0)) w();
      return true;
    }
    close() {
      this.open = false;
      return true;
    }
  },
  { maxConcurrency: 1000 },
);

describe('Serve on a CLI cluster', { timeout: 120_000 }, () => {
  const holder = useCliCluster({ numCpus: 2 }, [{ numCpus: 2 }], { RAYTS_SERVE_MAX_BODY_BYTES: '65536' });
  let port = 0;
  const url = (p: string) => `http://127.0.0.1:${port}${p}`;
  beforeAll(async () => {
    port = await freePort();
  });

  it('request ids - handle calls a replica makes while serving a request carry that request id (after awaits too); a driver\'s calls get fresh ids', async () => {
    const Inner = deployment(class Inner {});
    const Outer = deployment(
      class Outer {
        constructor(private inner: Record<string, { remote(): PromiseLike<unknown> }>) {}
        async fetch() {
          await new Promise((r) => setTimeout(r, 1));
          try {
            await this.inner.missing.remote();
            return { err: null };
          } catch (e) {
            return { err: (e as Error).message };
          }
        }
        // A generator's body runs as the client reads: each step still has the request's id.
        async *stream() {
          yield 'first\n';
          try {
            await this.inner.missing.remote();
          } catch (e) {
            yield `${(e as Error).message}\n`;
          }
        }
        async viaMethod() {
          try {
            await this.inner.absent.remote();
            return null;
          } catch (e) {
            return (e as Error).message;
          }
        }
      },
    );
    const h = await serve.run(Outer.bind(Inner.bind()), { name: 'rid', routePrefix: '/rid', port });
    const r = await fetch(url('/rid'), { headers: { 'x-request-id': 'trace-42' } });
    expect(r.status).toBe(200);
    const { err } = (await r.json()) as { err: string };
    // The inner replica names the request it failed: the proxy's id, not one of its own.
    expect(err).toContain('has no method missing (request trace-42)');
    // From a driver: each call has a fresh id, and the inner call made for it carries that id, also
    // from a generator method's body (which runs as the driver reads items).
    type RidHandle = { viaMethod: { remote(): PromiseLike<string> & { requestId: string } }; stream: { remote(): AsyncIterable<string> & { requestId: string } } };
    const rh = h as unknown as RidHandle;
    const one = rh.viaMethod.remote();
    const two = rh.viaMethod.remote();
    expect(one.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(two.requestId).not.toBe(one.requestId);
    expect(await one).toContain(`has no method absent (request ${one.requestId})`);
    expect(await two).toContain(`(request ${two.requestId})`);
    const s = rh.stream.remote();
    const items: string[] = [];
    for await (const x of s) items.push(x);
    expect(items[0]).toBe('first\n');
    expect(items.join('')).toContain(`has no method missing (request ${s.requestId})`);
    await serve.delete('rid');
  });

  it('composition - an ingress calls a bound deployment through its handle; bad input gets 4xx with a request id', async () => {
    const Model = deployment(
      class Model {
        constructor(private k: number) {}
        mul(x: number) {
          return x * this.k;
        }
      },
      { numReplicas: 2 },
    );
    const Pre = deployment(
      class Pre {
        constructor(private model: { mul: { remote(x: number): PromiseLike<number> } }) {}
        async prep(x: number) {
          return (await this.model.mul.remote(x)) + 1;
        }
      },
    );
    const Api = deployment(
      class Api {
        constructor(private pre: { prep: { remote(x: number): PromiseLike<number> } }) {}
        async fetch(req: Request) {
          const body = (await req.json()) as { x: number };
          return { y: await this.pre.prep.remote(body.x) };
        }
        direct(x: number) {
          return this.pre.prep.remote(x);
        }
        echo<T>(v: T) {
          return v;
        }
        table(x: number) {
          return new Map([['x', x]]);
        }
        fail() {
          throw new RangeError('no way');
        }
      },
    );
    const h = await serve.run(Api.bind(Pre.bind(Model.bind(3))), { name: 'calc', routePrefix: '/calc', port });
    const r = await fetch(url('/calc'), { method: 'POST', body: JSON.stringify({ x: 5 }) });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ y: 16 });
    expect(r.headers.get('x-request-id')).toMatch(/[0-9a-f-]{36}/);
    const mine = await fetch(url('/calc/x'), { method: 'POST', body: '{"x":1}', headers: { 'x-request-id': 'abc-123' } });
    expect(mine.headers.get('x-request-id')).toBe('abc-123');
    // A GET without a body takes the proxy's fast path (no middleware chain): the same request-id rules.
    const got = await fetch(url('/calc/q?a=1'), { headers: { 'x-request-id': 'get-1' } });
    expect(got.status).toBe(400);
    expect(got.headers.get('x-request-id')).toBe('get-1');
    expect(((await got.json()) as { requestId: string }).requestId).toBe('get-1');
    const anon = await fetch(url('/calc'));
    expect(anon.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    await anon.body?.cancel();
    type ApiHandle = {
      direct: { remote(x: number): PromiseLike<number> & { ref(): Promise<unknown> } };
      echo: { remote(v: unknown): PromiseLike<unknown> };
      table: { remote(x: number): PromiseLike<unknown> };
      fail: { remote(): PromiseLike<unknown> };
    };
    const api = h as unknown as ApiHandle;
    expect(await api.direct.remote(2)).toBe(7);
    // A response passed on without awaiting, its ref, a value that is not plain data (a Map travels
    // through the core) and a thrown error: the same whichever path a call took.
    expect(await api.echo.remote(api.direct.remote(2))).toBe(7);
    expect(await get((await api.direct.remote(3).ref()) as never)).toBe(10);
    expect(await api.table.remote(4)).toEqual(new Map([['x', 4]]));
    await expect(api.fail.remote()).rejects.toThrow(/RangeError: no way/);
    // A failing response nobody awaits raises no unhandled rejection (its failure is kept, not thrown).
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): number => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const forgotten = api.fail.remote() as unknown as { dispatchedCall(): { outcome: Promise<unknown> } | Promise<{ outcome: Promise<unknown> }> };
      expect(String(((await (await forgotten.dispatchedCall()).outcome) as { error: unknown }).error)).toMatch(/RangeError: no way/);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);

    const bad = await fetch(url('/calc'), { method: 'POST', body: '{nope' });
    expect(bad.status).toBe(400);
    const badBody = (await bad.json()) as { error: string; requestId: string };
    expect(badBody.error).toMatch(/not valid JSON/);
    expect(badBody.requestId).toBe(bad.headers.get('x-request-id'));
    const missing = await fetch(url('/nowhere'));
    expect(missing.status).toBe(404);
    // A flood of unknown paths (each a route-table miss) still answers 404, while the app answers 200.
    const flood = await Promise.all(Array.from({ length: 200 }, (_, i) => fetch(url(i % 4 === 0 ? '/calc' : `/nowhere-${i}`), { method: 'POST', body: '{"x":1}' }).then((r) => r.status)));
    expect(flood.filter((c, i) => c !== (i % 4 === 0 ? 200 : 404))).toEqual([]);
    const big = await fetch(url('/calc'), { method: 'POST', body: 'x'.repeat(70_000) });
    expect(big.status).toBe(413);

    const st = await serve.status();
    expect(st.applications.calc.status).toBe('RUNNING');
    // The proxy, the driver's handle and the composing replicas reached the replicas directly.
    for (const dep of ['Api', 'Pre', 'Model']) {
      let direct = 0;
      for (const r of st.applications.calc.deployments[dep].replicas) {
        const stats = (await get((await getActor(r.actorName, { namespace: 'serve' }) as unknown as { __serve_stats: { remote(): never } }).__serve_stats.remote())) as { directRequests: number };
        direct += stats.directRequests;
      }
      expect(direct, dep).toBeGreaterThan(0);
    }
    expect(Object.keys(st.applications.calc.deployments).sort()).toEqual(['Api', 'Model', 'Pre']);
    expect(st.applications.calc.deployments.Model.replicas.filter((x) => x.state === 'RUNNING')).toHaveLength(2);
    expect(st.applications.calc.deployments.Api.metrics.requests).toBeGreaterThanOrEqual(3);
    await serve.delete('calc');
    expect((await serve.status()).applications.calc).toBeUndefined();
    expect((await fetch(url('/calc'), { method: 'POST', body: '{}' })).status).toBe(404);
  });

  it('Hono ingress - fetch = app.fetch serves routes, params and JSON', async () => {
    const Api = deployment(
      class HonoApi {
        app: { fetch(r: Request): Response | Promise<Response> } | undefined;
        async fetch(req: Request) {
          if (!this.app) {
            const { Hono } = await import('hono');
            const app = new Hono().basePath('/hono');
            app.get('/hello/:name', (c) => c.json({ hello: c.req.param('name') }));
            app.delete('/item', (c) => c.body(null, 204));
            app.post('/sum', async (c) => {
              const b = (await c.req.json()) as number[];
              return c.json({ sum: b.reduce((a, x) => a + x, 0) });
            });
            this.app = app;
          }
          return this.app.fetch(req);
        }
      },
    );
    await serve.run(Api.bind(), { name: 'hono', routePrefix: '/hono', port });
    const r = await fetch(url('/hono/hello/ada'));
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ hello: 'ada' });
    const s = await fetch(url('/hono/sum'), { method: 'POST', body: '[1,2,3]', headers: { 'content-type': 'application/json' } });
    expect(await s.json()).toEqual({ sum: 6 });
    expect((await fetch(url('/hono/missing'))).status).toBe(404);
    // HEAD: the GET's status and headers, no body; 204: no body and no length.
    const head = await fetch(url('/hono/hello/ada'), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toMatch(/application\/json/);
    expect(head.headers.get('x-request-id')).toBeTruthy();
    expect(await head.text()).toBe('');
    const del = await fetch(url('/hono/item'), { method: 'DELETE' });
    expect(del.status).toBe(204);
    expect(del.headers.get('content-length')).toBeNull();
    await serve.delete('hono');
  });

  it('batching - concurrent handle calls share one call of the batched function; a batch error reaches every caller', async () => {
    const Model = deployment(
      class Batched {
        score = batch(
          async (xs: number[]) => {
            if (xs.includes(-1)) throw new Error('bad item in batch');
            return xs.map((x) => ({ y: x * 2, size: xs.length }));
          },
          { maxBatchSize: 8, batchWaitTimeoutMs: 50 },
        );
        infer(x: number) {
          return this.score(x);
        }
      },
      { maxOngoingRequests: 16 },
    );
    const h = await serve.run(Model.bind(), { name: 'batch', routePrefix: null });
    const out = (await Promise.all(Array.from({ length: 16 }, (_, i) => h.infer.remote(i)))) as { y: number; size: number }[];
    expect(out.map((o) => o.y)).toEqual(Array.from({ length: 16 }, (_, i) => i * 2));
    expect(Math.max(...out.map((o) => o.size))).toBeGreaterThan(1);
    const mixed = await Promise.allSettled([h.infer.remote(1), h.infer.remote(-1), h.infer.remote(2)]);
    const failed = mixed.filter((m) => m.status === 'rejected') as PromiseRejectedResult[];
    expect(failed.length).toBeGreaterThanOrEqual(2);
    for (const f of failed) expect(String((f.reason as Error).message)).toMatch(/bad item in batch/);
    await serve.delete('batch');
  });

  it('backpressure - beyond maxOngoingRequests and maxQueuedRequests: HTTP 503 with Retry-After, handles reject with BackPressureError', async () => {
    const gate = Gate.options({ name: 'gate-bp', ...G }).remote();
    const Slow = deployment(
      class Slow {
        async fetch() {
          const g = await getActor('gate-bp', { namespace: 'serve-test' });
          await get((g as unknown as { wait: { remote(): never } }).wait.remote());
          return 'done';
        }
        async held() {
          return this.fetch();
        }
      },
      { maxOngoingRequests: 1, maxQueuedRequests: 1 },
    );
    const h = await serve.run(Slow.bind(), { name: 'slow', routePrefix: '/slow', port });
    const first = fetch(url('/slow'));
    await until(async () => (await get(gate.count.remote())) === 1, 'the first request to reach the replica');
    const second = fetch(url('/slow'));
    await until(async () => (await serve.status()).applications.slow.deployments.Slow.metrics.queued >= 1, 'the second request to queue');
    const third = await fetch(url('/slow'));
    expect(third.status).toBe(503);
    expect(third.headers.get('retry-after')).toBe('1');
    expect(((await third.json()) as { error: string }).error).toMatch(/overloaded/);
    // A handle in this driver has its own queue: one running, one queued, the third rejected.
    const a = h.held.remote();
    const b = h.held.remote();
    await expect(h.held.remote()).rejects.toBeInstanceOf(BackPressureError);
    await get(gate.release.remote());
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    expect(await a).toBe('done');
    expect(await b).toBe('done');
    await serve.delete('slow');
    await kill(gate);
  });

  it('rolling update - redeploying a new version under load fails no request', async () => {
    const V = deployment(
      class Versioned {
        constructor(private v: string) {}
        fetch() {
          return { v: this.v };
        }
      },
      { numReplicas: 2 },
    );
    await serve.run(V.bind('v1'), { name: 'roll', routePrefix: '/roll', port });
    const seen: Record<string, number> = {};
    const failures: string[] = [];
    let stop = false;
    const client = async () => {
      while (!stop) {
        try {
          const r = await fetch(url('/roll'));
          const body = (await r.json()) as { v?: string };
          if (r.status !== 200) failures.push(`${r.status} ${JSON.stringify(body)}`);
          else seen[body.v!] = (seen[body.v!] ?? 0) + 1;
        } catch (e) {
          failures.push(String(e));
        }
      }
    };
    const clients = Array.from({ length: 4 }, client);
    await until(() => (seen.v1 ?? 0) > 20, 'load on v1');
    await serve.run(V.bind('v2'), { name: 'roll', routePrefix: '/roll', port });
    const after = seen.v2 ?? 0;
    await until(() => (seen.v2 ?? 0) > after + 50, 'load on v2');
    stop = true;
    await Promise.all(clients);
    expect(failures).toEqual([]);
    expect(seen.v1).toBeGreaterThan(0);
    expect(seen.v2).toBeGreaterThan(0);
    const st = (await serve.status()).applications.roll.deployments.Versioned;
    expect(st.replicas.every((r) => r.version === st.version)).toBe(true);
  });

  it('canary - 30% of 2,000 requests go to the canary (±5%); promote makes it live; a rollback removes a canary', async () => {
    const V = deployment(
      class Versioned {
        constructor(private v: string) {}
        fetch() {
          return { v: this.v };
        }
      },
      { numReplicas: 2 },
    );
    await serve.run(V.bind('v3'), { name: 'roll', routePrefix: '/roll', port, canary: { weight: 0.3 } });
    // 2,000 requests through the application's handle (the same split as the proxy's), then HTTP.
    const h = await serve.getAppHandle<{ fetch(): { v: string } }>('roll');
    const counts: Record<string, number> = {};
    for (let round = 0; round < 4; round++) {
      const out = await Promise.all(Array.from({ length: 500 }, () => h.fetch.remote()));
      for (const { v } of out) counts[v] = (counts[v] ?? 0) + 1;
    }
    expect((counts.v2 ?? 0) + (counts.v3 ?? 0)).toBe(2000);
    const overHttp: Record<string, number> = {};
    for (let i = 0; i < 60; i++) {
      const { v } = (await (await fetch(url('/roll'))).json()) as { v: string };
      overHttp[v] = (overHttp[v] ?? 0) + 1;
    }
    expect(overHttp.v2).toBeGreaterThan(0);
    expect(overHttp.v3).toBeGreaterThan(0);
    const share = (counts.v3 ?? 0) / 2000;
    expect(share).toBeGreaterThan(0.25);
    expect(share).toBeLessThan(0.35);
    expect((await serve.status()).applications.roll.canary?.weight).toBe(0.3);

    await serve.promote('roll');
    for (let i = 0; i < 20; i++) expect(((await (await fetch(url('/roll'))).json()) as { v: string }).v).toBe('v3');

    await serve.run(V.bind('v4'), { name: 'roll', routePrefix: '/roll', port, canary: { weight: 0.5 } });
    await serve.rollback('roll');
    await until(async () => (await serve.status()).applications.roll.canary === undefined, 'the canary to go');
    for (let i = 0; i < 20; i++) expect(((await (await fetch(url('/roll'))).json()) as { v: string }).v).toBe('v3');
  });

  it('shadow - a mirrored share of traffic reaches the shadow, its answers are discarded and its metrics sit beside the live ones', async () => {
    const V = deployment(
      class Versioned {
        constructor(private v: string) {}
        fetch() {
          if (this.v === 'shadow-bad') throw new Error('shadow model failed');
          return { v: this.v };
        }
      },
      { numReplicas: 2 },
    );
    await serve.run(V.bind('shadow-bad'), { name: 'roll', routePrefix: '/roll', port, shadow: { weight: 0.5 } });
    for (let i = 0; i < 60; i++) {
      const r = await fetch(url('/roll'));
      expect(r.status).toBe(200);
      expect(((await r.json()) as { v: string }).v).toBe('v3');
    }
    await until(async () => ((await serve.status()).applications.roll.shadow?.deployments.Versioned.metrics.requests ?? 0) > 10, 'shadow requests in status');
    const st = (await serve.status()).applications.roll;
    const shadow = st.shadow!.deployments.Versioned.metrics;
    expect(shadow.errors).toBe(shadow.requests);
    expect(st.deployments.Versioned.metrics.errors).toBe(0);
    expect(st.tracks.map((t) => t.role).sort()).toEqual(['live', 'shadow']);
    await serve.rollback('roll');
    await serve.delete('roll');
  });

  it('autoscaling - load seen by handles scales replicas up, and down when it goes away', async () => {
    const gate = Gate.options({ name: 'gate-as', ...G }).remote();
    const Auto = deployment(
      class Auto {
        async held() {
          const g = await getActor('gate-as', { namespace: 'serve-test' });
          await get((g as unknown as { wait: { remote(): never } }).wait.remote());
          return true;
        }
      },
      { maxOngoingRequests: 10, autoscalingConfig: { minReplicas: 1, maxReplicas: 3, targetOngoingRequests: 1, upscaleDelayS: 0, downscaleDelayS: 0.5 } },
    );
    const h = await serve.run(Auto.bind(), { name: 'auto', routePrefix: null });
    const running = async () => (await serve.status()).applications.auto.deployments.Auto.metrics.replicas;
    expect(await running()).toBe(1);
    const calls = Array.from({ length: 3 }, () => h.held.remote());
    await until(async () => (await running()) === 3, 'three replicas under load');
    await get(gate.release.remote());
    expect(await Promise.all(calls)).toEqual([true, true, true]);
    await until(async () => (await running()) === 1, 'back to one replica');
    await serve.delete('auto');
    await kill(gate);
  });

  it('replica crash - a killed replica is replaced; an in-flight GET is retried, an in-flight POST fails with 500', async () => {
    const gate = Gate.options({ name: 'gate-crash', ...G }).remote();
    const C = deployment(
      class Crashy {
        async fetch(req: Request) {
          const g = await getActor('gate-crash', { namespace: 'serve-test' });
          await get((g as unknown as { wait: { remote(): never } }).wait.remote());
          return { method: req.method };
        }
      },
      { numReplicas: 1 },
    );
    await serve.run(C.bind(), { name: 'crash', routePrefix: '/crash', port });
    const replicaName = (await serve.status()).applications.crash.deployments.Crashy.replicas[0].actorName;
    const getReq = fetch(url('/crash'));
    const postReq = fetch(url('/crash'), { method: 'POST', body: '{}' });
    await until(async () => (await get(gate.count.remote())) === 2, 'both requests on the replica');
    await kill(await getActor(replicaName, { namespace: 'serve' }));
    const post = await postReq;
    expect(post.status).toBe(500);
    expect(((await post.json()) as { requestId?: string }).requestId).toBeTruthy();
    await until(async () => (await serve.status()).applications.crash.deployments.Crashy.metrics.replaced >= 1, 'a replacement');
    // The killed replica's two waiters stay in the gate; the retried GET adds a third.
    await until(async () => (await get(gate.count.remote())) === 3, 'the GET retried on the new replica');
    await get(gate.release.remote());
    const g = await getReq;
    expect(g.status).toBe(200);
    expect(await g.json()).toEqual({ method: 'GET' });
    const st = (await serve.status()).applications.crash.deployments.Crashy;
    expect(st.replicas.filter((r) => r.state === 'RUNNING')).toHaveLength(1);
    expect(st.replicas[0].actorName).not.toBe(replicaName);
    await serve.delete('crash');
    await kill(gate);
  });

  it('controller restart - a killed controller comes back, reads the apps from the cluster KV and adopts the running replicas', async () => {
    const E = deployment(
      class Kept {
        fetch() {
          return 'still here';
        }
      },
      { numReplicas: 2 },
    );
    await serve.run(E.bind(), { name: 'kept', routePrefix: '/kept', port });
    const before = (await serve.status()).applications.kept.deployments.Kept.replicas.map((r) => r.actorName).sort();
    const { kv } = await import('@samsara/ray');
    // Every running replica must be in the KV before the controller dies (it records them one by one).
    await until(async () => {
      const text = String((await kv.get('serve', 'app/kept')) ?? '');
      return before.length === 2 && before.every((name) => text.includes(name));
    }, 'the app and both its replicas in the KV');
    const ctl = await getActor('SERVE_CONTROLLER', { namespace: 'serve' });
    await kill(ctl);
    expect(await (await fetch(url('/kept'))).text()).toBe('still here');
    // Route misses while the controller is gone or restarting answer 404, never 500.
    const misses = await Promise.all(Array.from({ length: 20 }, (_, i) => fetch(url(`/gone-${i}`)).then((r) => r.status)));
    expect(misses).toEqual(Array.from({ length: 20 }, () => 404));
    await until(async () => {
      try {
        return (await serve.status()).applications.kept?.status === 'RUNNING';
      } catch {
        return false;
      }
    }, 'the restarted controller to report the app', 60_000);
    const after = (await serve.status()).applications.kept.deployments.Kept.replicas.map((r) => r.actorName).sort();
    expect(after).toEqual(before);
    await serve.delete('kept');
    expect(await kv.get('serve', 'app/kept')).toBeUndefined();
  });

  it('a constructor that throws - serve.run rejects with DeployFailedError, status says DEPLOY_FAILED with the error, nothing retried forever', async () => {
    const Broken = deployment(
      class Broken {
        constructor() {
          throw new Error('model file missing: /models/x.bin');
        }
      },
    );
    const err = await serve.run(Broken.bind(), { name: 'broken', routePrefix: '/broken', port }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeployFailedError);
    expect((err as Error).message).toMatch(/model file missing/);
    const st = (await serve.status()).applications.broken;
    expect(st.status).toBe('DEPLOY_FAILED');
    expect(st.message).toMatch(/model file missing/);
    expect(st.deployments.Broken.replicas).toHaveLength(0);
    await serve.delete('broken');
    await serve.shutdown();
    expect(await serve.status()).toEqual({ proxy: null, applications: {} });
  });

  it('CLI - rayts serve deploy serve.yaml keeps serving after it exits; status lists apps, deployments, replicas and nodes; run serves until Ctrl-C; shutdown stops all', async () => {
    const { cluster } = holder;
    const dir = mkdtempSync(join(tmpdir(), 'serve-cli-'));
    try {
      const yaml = join(dir, 'serve.yaml');
      writeFileSync(
        yaml,
        [
          'proxy:',
          `  port: ${port}`,
          'applications:',
          '  - name: echo',
          '    routePrefix: /echo',
          `    importPath: ${FIXTURE}:app`,
          '    deployments:',
          '      - name: Echo',
          '        numReplicas: 2',
          '        maxOngoingRequests: 4',
          '',
        ].join('\n'),
      );
      const dep = await cluster.cli(['serve', 'deploy', yaml]);
      expect(dep.stderr).toBe('');
      expect(dep.code).toBe(0);
      expect(dep.stdout).toMatch(/Deployed echo at http:\/\/127\.0\.0\.1:\d+\/echo/);
      const r = await fetch(url('/echo/a'));
      expect(await r.json()).toEqual({ tag: 'cli', path: '/echo/a' });
      const st = await cluster.cli(['serve', 'status']);
      expect(st.code).toBe(0);
      expect(st.stdout).toMatch(/app echo: RUNNING route \/echo/);
      expect(st.stdout).toMatch(/deployment Echo: HEALTHY 2\/2 replicas/);
      expect(st.stdout.match(/replica Echo#\w+: RUNNING on node [0-9a-f]+/g)).toHaveLength(2);
      const json = JSON.parse((await cluster.cli(['serve', 'status', '--json'])).stdout) as { applications: Record<string, unknown> };
      expect(Object.keys(json.applications)).toEqual(['echo']);

      const bad = await cluster.cli(['serve', 'run', 'nope.mjs']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/MODULE:EXPORT/);

      const child = spawn(process.execPath, [CLI, 'serve', 'run', `${FIXTURE}:app`, '--name', 'echo2', '--route-prefix', '/echo2', '--port', String(port)], { env: cluster.env });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
      await until(() => out.includes('Serving echo2'), 'rayts serve run to serve', 60_000);
      expect(await (await fetch(url('/echo2/b'))).json()).toEqual({ tag: 'cli', path: '/echo2/b' });
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect((await serve.status()).applications.echo2).toBeUndefined();

      const down = await cluster.cli(['serve', 'shutdown']);
      expect(down.code).toBe(0);
      expect((await cluster.cli(['serve', 'status'])).stdout).toMatch(/Serve is not running/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
