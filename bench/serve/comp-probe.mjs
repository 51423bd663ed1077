#!/usr/bin/env node
/** Probe: where a composed request's extra time goes (variants of the ingress), sequential p50s. */
import { request, Agent } from 'node:http';
import { latencyStats } from './http-load.mjs';
import { withServeCluster } from './probe-cluster.mjs';

const log = (...a) => process.stderr.write(`${a.join(' ')}\n`);
function client(url) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const u = new URL(url);
  return {
    one: () => new Promise((resolve, reject) => {
      const t0 = performance.now();
      const req = request({ host: u.hostname, port: u.port, path: u.pathname, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
          if (u.pathname === '/timed') inner.push(Number(body));
          resolve(performance.now() - t0);
        });
      });
      req.on('error', reject);
      req.end();
    }),
    close: () => agent.destroy(),
  };
}
async function seq(url, n) {
  const c = client(url);
  for (let i = 0; i < 100; i++) await c.one();
  const t = [];
  for (let i = 0; i < n; i++) t.push(await c.one());
  c.close();
  return t;
}
const inner = [];
const p50 = (xs) => latencyStats(xs).p50;

await withServeCluster(async ({ serve, deployment, port, tmpdir }) => {
  try {
    const Noop = deployment(class Noop { fetch() { return 'ok'; } });
    await serve.run(Noop.bind(), { name: 'noop', routePrefix: '/noop', port });
    const Inner = deployment(class Inner { work() { return 'ok'; } });
    const Outer = deployment(class Outer { constructor(inner) { this.inner = inner; } async fetch() { return await this.inner.work.remote(); } });
    await serve.run(Outer.bind(Inner.bind()), { name: 'comp', routePrefix: '/comp', port });
    const Turn = deployment(class Turn { async fetch() { await new Promise((r) => setImmediate(r)); return 'ok'; } });
    await serve.run(Turn.bind(), { name: 'turn', routePrefix: '/turn', port });
    const Inner2 = deployment(class Inner2 { work() { return 'ok'; } });
    const Thenable = deployment(class Thenable { constructor(inner) { this.inner = inner; } fetch() { return this.inner.work.remote(); } });
    await serve.run(Thenable.bind(Inner2.bind()), { name: 'thenable', routePrefix: '/thenable', port });
    const Inner3 = deployment(class Inner3 { work() { return 'ok'; } });
    const Timed = deployment(class Timed { constructor(inner) { this.inner = inner; } async fetch() { const t0 = performance.now(); await this.inner.work.remote(); return String(performance.now() - t0); } });
    await serve.run(Timed.bind(Inner3.bind()), { name: 'timed', routePrefix: '/timed', port });
    const st = await serve.status();
    for (const [app, a] of Object.entries(st.applications ?? st)) {
      for (const [d, dep] of Object.entries(a.deployments ?? {})) log(app, d, JSON.stringify((dep.replicas ?? []).map((r) => r.nodeId?.slice(0, 8) ?? r.node)));
    }
    const urls = { noop: '/noop', comp: '/comp', turn: '/turn', thenable: '/thenable', timed: '/timed' };
    const res = Object.fromEntries(Object.keys(urls).map((k) => [k, []]));
    const rounds = Number(process.env.ROUNDS ?? 6);
    for (let r = 0; r < rounds; r++) for (const [k, p] of Object.entries(urls)) res[k].push(...(await seq(`http://127.0.0.1:${port}${p}`, 300)));
    const { nodes } = await import('@samsara/ray');
    const pids = (await nodes()).filter((n) => n.alive).map((n) => n.pid);
    const { readdirSync, readFileSync } = await import('node:fs');
    const ticks = () => {
      const m = new Map();
      for (const pid of pids) for (const tid of readdirSync(`/proc/${pid}/task`)) {
        try {
          const st = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
          const comm = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'));
          const rest = st.slice(st.lastIndexOf(')') + 2).split(' ');
          m.set(`${pid}/${tid} ${comm}`, Number(rest[11]) + Number(rest[12]));
        } catch {}
      }
      return m;
    };
    for (const path of ['/noop', '/timed']) {
      const a = ticks();
      const n = 3000;
      await seq(`http://127.0.0.1:${port}${path}`, n);
      const b = ticks();
      const d = [...b].map(([k, v]) => [k, v - (a.get(k) ?? 0)]).filter(([, v]) => v > 0).sort((x, y) => y[1] - x[1]).slice(0, 6);
      log(`${path}: CPU µs per request by thread: ${d.map(([k, v]) => `${k}=${((v * 10000) / (n + 100)).toFixed(0)}`).join(', ')}`);
    }
    for (const [k, t] of Object.entries(res)) log(`${k}: p50 ${p50(t).toFixed(3)} ms`);
    log(`timed: the inner call as the outer replica sees it: p50 ${p50(inner).toFixed(3)} ms`);
    await serve.shutdown();
  } finally {
    if (process.env.PROBE_KEEP) (await import('node:child_process')).execSync(`rm -rf ${process.env.PROBE_KEEP} && cp -r ${tmpdir} ${process.env.PROBE_KEEP}`);
  }
});
