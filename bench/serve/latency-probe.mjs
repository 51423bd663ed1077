#!/usr/bin/env node
/**
 * Probe: where the slow tail of the no-op deployment at a fixed rate comes from. Sends RATE requests/s
 * for SECONDS to a one-replica no-op deployment (and to a raw node:http server in this process for
 * comparison), then prints p50/p99 and the slowest requests with their send times, so they can be laid
 * beside the daemons' GC trace (RAYTS_BENCH_NODE_FLAGS='--trace-gc') or CPU profiles.
 *   RATE=500 SECONDS=6 node bench/serve/latency-probe.mjs
 */
import { createServer } from 'node:http';
import { fixedRate, latencyStats } from './http-load.mjs';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { withServeCluster } from './probe-cluster.mjs';

const RATE = Number(process.env.RATE ?? 500);
const SECONDS = Number(process.env.SECONDS ?? 6);
const log = (...a) => process.stderr.write(`${a.join(' ')}\n`);

/** p50, p99, the slowest 1% (with their send times) and the wall time of the fixed-rate run. */
async function probe(url) {
  const n = RATE * SECONDS;
  const { samples, wallMs, startedAt } = await fixedRate(url, RATE, n);
  const { p50, p99 } = latencyStats(samples.map((x) => x.ms));
  const slow = [...samples].sort((a, b) => b.ms - a.ms).slice(0, Math.ceil(n / 100));
  return { p50, p99, slow, wall: wallMs, startedAt };
}

function gcLines(dir) {
  const lines = [];
  const walk = (d) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(log|out|err)$/.test(f)) for (const l of readFileSync(p, 'utf8').split('\n')) if (/Mark-Compact|Scavenge|Mark-Sweep/.test(l)) lines.push(`${f}: ${l.trim()}`);
    }
  };
  walk(dir);
  return lines;
}

const raw = createServer((req, res) => res.end('ok'));
await new Promise((r) => raw.listen(0, '127.0.0.1', r));
try {
  await withServeCluster(async ({ serve, deployment, port, tmpdir }) => {
    const Noop = deployment(class Noop { fetch() { return 'ok'; } });
    await serve.run(Noop.bind(), { name: 'noop', routePrefix: '/noop', port });
    const before = new Set(gcLines(tmpdir));
    const r = await probe(`http://127.0.0.1:${raw.address().port}/`);
    log(`raw: p50 ${r.p50.toFixed(3)} p99 ${r.p99.toFixed(3)} ms`);
    const s = await probe(`http://127.0.0.1:${port}/noop`);
    log(`serve: p50 ${s.p50.toFixed(3)} p99 ${s.p99.toFixed(3)} ms over ${(s.wall / 1000).toFixed(1)} s`);
    log(`serve run started at ${s.startedAt.toFixed(1)} ms since the epoch`);
    log(`serve slowest (sent at ms: latency ms): ${s.slow.slice(0, 30).map((x) => `${x.sentAt.toFixed(0)}:${x.ms.toFixed(1)}`).join(' ')}`);
    const gcs = gcLines(tmpdir).filter((l) => !before.has(l));
    log(`GC lines during the two runs: ${gcs.length}; full collections: ${gcs.filter((l) => /Mark-Compact|Mark-Sweep/.test(l)).length}`);
    for (const l of gcs.filter((l) => /Mark-Compact|Mark-Sweep/.test(l)).slice(0, 20)) log(`  ${l}`);
    await serve.shutdown();
  });
} finally {
  raw.close();
}
