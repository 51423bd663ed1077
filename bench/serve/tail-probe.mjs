#!/usr/bin/env node
/**
 * Probe: the latency tail of a fresh no-op deployment at a fixed rate, round by round from its first
 * request, beside a raw two-process HTTP server (two-hop-server.mjs) started with the cluster. Shows
 * how long a new proxy and replica take to reach their steady tail (V8 optimizes their code on helper
 * threads that compete for the cores meanwhile), and whether a tail is serve's or the machine's.
 * WARM=n first sends n requests to each as fast as 16 connections allow (is the long early tail a
 * matter of requests served, i.e. code not optimized yet, or of time since the deploy?).
 *   RATE=500 N=4000 ROUNDS=4 [WARM=20000] node bench/serve/tail-probe.mjs
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { client, fixedRate, latencyStats } from './http-load.mjs';
import { withServeCluster } from './probe-cluster.mjs';

const RATE = Number(process.env.RATE ?? 500);
const N = Number(process.env.N ?? 4000);
const ROUNDS = Number(process.env.ROUNDS ?? 4);
const WARM = Number(process.env.WARM ?? 0);

async function stat(url) {
  const { samples } = await fixedRate(url, RATE, N);
  const { p50, p99 } = latencyStats(samples.map((x) => x.ms));
  return `p50 ${p50.toFixed(2)} p99 ${p99.toFixed(2)} ms`;
}

const front = fork(fileURLToPath(new URL('two-hop-server.mjs', import.meta.url)), ['front']);
try {
  const { port: hopPort } = await new Promise((r) => front.once('message', r));
  await withServeCluster(async ({ serve, deployment, port }) => {
    const Noop = deployment(class Noop { fetch() { return 'ok'; } });
    await serve.run(Noop.bind(), { name: 'noop', routePrefix: '/noop', port });
    for (const url of WARM > 0 ? [`http://127.0.0.1:${hopPort}/`, `http://127.0.0.1:${port}/noop`] : []) {
      const c = client(url, 16);
      const t0 = performance.now();
      for (let i = 0; i < WARM; i += 16) await Promise.all(Array.from({ length: 16 }, () => c.one()));
      c.close();
      process.stdout.write(`warm-up: ${WARM} requests to ${url} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    }
    for (let r = 0; r < ROUNDS; r++) {
      const hop = await stat(`http://127.0.0.1:${hopPort}/`);
      const srv = await stat(`http://127.0.0.1:${port}/noop`);
      process.stdout.write(`round ${r + 1} (${(N / RATE).toFixed(0)} s each at ${RATE}/s): raw two-hop ${hop} | serve ${srv}\n`);
    }
    await serve.shutdown();
  });
} finally {
  front.kill();
}
