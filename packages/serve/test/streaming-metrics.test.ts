/**
 * Streaming responses on a CLI cluster, over real sockets: a generator fetch(req) streams chunks
 * (the client reads the first before the producer finishes), Server-Sent Events, a client that
 * leaves stops the producer, and a generator method iterates through a handle. Then the
 * per-deployment metrics, scraped from the node's /metrics.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { actor, get, getActor, kill } from '@samsara/ray';
import { serve, deployment } from '@samsara/ray-serve';
import { freePort, until, useCliCluster } from '../../../test/helpers/cli-cluster.js';

const G = { namespace: 'serve-stream-test' };
const metricsPort = await freePort();

/** The value of the sample of `name` whose labels include `labels` (undefined when absent). */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([\w:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

/** Where producers report: items made, and how each generator ended (its finally ran). */
const Tally = actor(
  class Tally {
    produced = 0;
    ends: string[] = [];
    waiters: (() => void)[] = [];
    gateOpen = false;
    gateWaiters: (() => void)[] = [];
    item() {
      this.produced++;
      return true;
    }
    end(how: string) {
      this.ends.push(how);
      for (const w of this.waiters.splice(0)) w();
      return true;
    }
    /** Resolves with the ends once there are `k` of them. */
    async waitEnds(k: number) {
      while (this.ends.length < k) await new Promise<void>((r) => this.waiters.push(r));
      return { ends: this.ends, produced: this.produced };
    }
    /** Resolves once an end `how` was reported. */
    async waitEnd(how: string) {
      while (!this.ends.includes(how)) await new Promise<void>((r) => this.waiters.push(r));
      return true;
    }
    state() {
      return { ends: this.ends, produced: this.produced };
    }
    /** A gate the producer waits on after its first item. */
    wait() {
      if (this.gateOpen) return true;
      return new Promise((r) => this.gateWaiters.push(() => r(true)));
    }
    open(v: boolean) {
      this.gateOpen = v;
      if (v) for (const w of this.gateWaiters.splice(0)) w();
      return true;
    }
  },
  { maxConcurrency: 100 },
);

type TallyH = { item: { remote(): never }; end: { remote(h: string): never }; wait: { remote(): never } };

describe('Serve streaming on a CLI cluster', { timeout: 90_000 }, () => {
  useCliCluster({ numCpus: 2, flags: ['--metrics-port', String(metricsPort), '--metrics-public'] }, []);
  let port = 0;
  const url = (p: string) => `http://127.0.0.1:${port}${p}`;
  beforeAll(async () => {
    port = await freePort();
  });

  const Ticker = deployment(
    class Ticker {
      async *fetch(req: Request) {
        const u = new URL(req.url);
        const n = Number(u.searchParams.get('n') ?? '3');
        const t = (await getActor('stream-tally', { namespace: 'serve-stream-test' })) as unknown as TallyH;
        let how = 'stopped';
        try {
          for (let i = 0; i < n; i++) {
            if (Number(u.searchParams.get('fail') ?? -1) === i) throw new Error(`tick failed at ${i}`);
            yield u.searchParams.has('obj') ? { i } : `item ${i}\n`;
            await get(t.item.remote());
            if (i === 0 && u.searchParams.has('gate')) await get(t.wait.remote());
          }
          how = 'completed';
        } finally {
          await get(t.end.remote(`fetch ${how}`));
        }
      }
      async *count(n: number) {
        for (let i = 0; i < n; i++) yield i * 10;
      }
      async *forever() {
        const t = (await getActor('stream-tally', { namespace: 'serve-stream-test' })) as unknown as TallyH;
        try {
          for (let i = 0; ; i++) {
            yield i;
            await get(t.item.remote());
          }
        } finally {
          await get(t.end.remote('forever stopped'));
        }
      }
    },
  );

  it('chunked and SSE - a generator fetch streams items as they come (the first before the producer finishes); Accept: text/event-stream gets data: events; errors before/after the first item; a handle iterates a generator method (leaving early stops it)', async () => {
    const tally = Tally.options({ name: 'stream-tally', ...G }).remote();
    const h = await serve.run(Ticker.bind(), { name: 'tick', routePrefix: '/tick', port });

    // Chunked: the producer waits after item 0 until the test opens the gate.
    const r = await fetch(url('/tick?n=3&gate'));
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(r.headers.get('transfer-encoding')).toBe('chunked');
    expect(r.headers.get('x-request-id')).toMatch(/[0-9a-f-]{36}/);
    const reader = r.body!.getReader();
    const dec = new TextDecoder();
    let text = '';
    while (!text.includes('item 0\n')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value, { stream: true });
    }
    expect(text).toBe('item 0\n');
    // The producer is still running (held at the gate): nothing has ended yet.
    expect((await get(tally.state.remote())).ends).toEqual([]);
    await get(tally.open.remote(true));
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value, { stream: true });
    }
    expect(text).toBe('item 0\nitem 1\nitem 2\n');
    expect((await get(tally.waitEnds.remote(1))).ends).toEqual(['fetch completed']);

    // Other values are JSON lines.
    const nd = await fetch(url('/tick?n=2&obj'));
    expect(nd.headers.get('content-type')).toBe('application/x-ndjson');
    expect(await nd.text()).toBe('{"i":0}\n{"i":1}\n');

    // Server-Sent Events.
    const ev = await fetch(url('/tick?n=3&obj'), { headers: { accept: 'text/event-stream' } });
    expect(ev.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(await ev.text()).toBe('data: {"i":0}\n\ndata: {"i":1}\n\ndata: {"i":2}\n\n');
    const evText = await fetch(url('/tick?n=1'), { headers: { accept: 'text/event-stream' } });
    expect(await evText.text()).toBe('data: item 0\ndata: \n\n');

    // A failure before the first item is an ordinary 500; after it, SSE ends with an error event and a
    // chunked body is cut short.
    const f0 = await fetch(url('/tick?n=3&fail=0'));
    expect(f0.status).toBe(500);
    expect(((await f0.json()) as { error: string }).error).toMatch(/tick failed at 0/);
    const f1 = await fetch(url('/tick?n=3&fail=1&obj'), { headers: { accept: 'text/event-stream' } });
    const f1Text = await f1.text();
    expect(f1Text).toMatch(/^data: \{"i":0\}\n\nevent: error\ndata: \{"error":".*tick failed at 1.*","requestId":"[^"]+"\}\n\n$/);
    const f2 = await fetch(url('/tick?n=3&fail=1'));
    await expect(f2.text()).rejects.toThrow();

    // A handle: the generator method's values, twice (the second call streams at once).
    for (let k = 0; k < 2; k++) {
      const got: number[] = [];
      for await (const v of h.count.remote(4)) got.push(v);
      expect(got).toEqual([0, 10, 20, 30]);
    }
    const all = (await h.count.remote(2)) as AsyncIterable<number>;
    const again: number[] = [];
    for await (const v of all) again.push(v);
    expect(again).toEqual([0, 10]);
    // Leaving the loop early stops the producer on the replica.
    for await (const v of h.forever.remote()) if (v >= 2) break;
    expect(await get(tally.waitEnd.remote('forever stopped'))).toBe(true);

    await serve.delete('tick');
    await kill(tally);
  });

  it('client abort - a client leaving mid-stream cancels the generator: the producer stops (its finally runs) instead of running on', async () => {
    const tally = Tally.options({ name: 'stream-tally', ...G }).remote();
    await serve.run(Ticker.bind(), { name: 'tick2', routePrefix: '/tick2', port });
    const ac = new AbortController();
    // A producer that would run for a long time.
    const r = await fetch(url('/tick2?n=1000000000&gate'), { signal: ac.signal });
    const reader = r.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe('item 0\n');
    ac.abort();
    await reader.cancel().catch(() => undefined);
    // Let the producer go on past the gate: it must be stopped at its next item.
    await get(tally.open.remote(true));
    const { ends, produced } = await get(tally.waitEnds.remote(1));
    expect(ends).toEqual(['fetch stopped']);
    expect(produced).toBeLessThan(1000);
    // The slot came back: the deployment still serves.
    expect(await (await fetch(url('/tick2?n=2'))).text()).toBe('item 0\nitem 1\n');
    await serve.delete('tick2');
    await kill(tally);
  });

  it('metrics - requests, errors, latency, ongoing, queue length and replicas of a deployment appear on the node /metrics', async () => {
    const Api = deployment(
      class MetricApi {
        fetch(req: Request) {
          if (new URL(req.url).pathname.endsWith('/boom')) throw new Error('boom');
          return 'ok';
        }
      },
    );
    await serve.run(Api.bind(), { name: 'met', routePrefix: '/met', port });
    for (let i = 0; i < 3; i++) expect((await fetch(url('/met'))).status).toBe(200);
    expect((await fetch(url('/met/boom'))).status).toBe(500);
    const dep = { app: 'met', deployment: 'MetricApi' };
    let text = '';
    await until(async () => {
      text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      // The queue gauge follows callers' load reports (every 250 ms): it reads 0 once they reported idle.
      return (
        sample(text, 'rayts_serve_deployment_requests_total', dep) === 4 &&
        sample(text, 'rayts_serve_deployment_replicas', { ...dep, state: 'RUNNING' }) === 1 &&
        sample(text, 'rayts_serve_deployment_queued_requests', dep) === 0
      );
    }, 'serve metrics on /metrics');
    expect(sample(text, 'rayts_serve_deployment_errors_total', dep)).toBe(1);
    expect(sample(text, 'rayts_serve_deployment_request_seconds_count', dep)).toBe(4);
    expect(sample(text, 'rayts_serve_deployment_request_seconds_bucket', { ...dep, le: '+Inf' })).toBe(4);
    expect(sample(text, 'rayts_serve_deployment_ongoing_requests', dep)).toBe(0);
    expect(sample(text, 'rayts_serve_deployment_target_replicas', dep)).toBe(1);
    await serve.delete('met');
  });
});
