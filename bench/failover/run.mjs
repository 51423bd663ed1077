#!/usr/bin/env node
/**
 * Failover time (issue 11.5), on the three-process loopback cluster (a head and two workers, 2 CPUs
 * each by default): 300 tasks of 100 ms, a worker SIGKILLed 1.5 s in; reports the time from the kill
 * until every result is in, and when the head declared the node dead. Never part of `npm test`.
 *
 *   node bench/run.mjs --suite failover [--runs N]      (or node bench/failover/run.mjs)
 */
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLoopbackCluster } from '../lib/loopback-cluster.mjs';
import { writeSuiteSection } from '../lib/results-section.mjs';

const argv = process.argv.slice(2);
const runs = Number(argv[argv.indexOf('--runs') + 1] || 3) || 3;
const { init, remote, get, nodes, shutdown } = await import('@samsara/ray');

async function once() {
  const cluster = await startLoopbackCluster();
  try {
    const dir = cluster.env.RAYTS_BENCH_CLUSTER_TMPDIR;
    const token = readFileSync(join(dir, 'session_latest', 'token'), 'utf8').trim();
    await init({ address: cluster.address, token });
    for (let i = 0; i < 100 && (await nodes()).filter((n) => n.alive).length < 3; i++) await new Promise((r) => setTimeout(r, 100));
    const work = remote(async (i) => {
      await new Promise((r) => setTimeout(r, 100));
      return i;
    });
    const victim = (await nodes()).find((n) => !n.isHead && n.alive);
    const t0 = performance.now();
    const all = get(Array.from({ length: 300 }, (_, i) => work.remote(i)));
    await new Promise((r) => setTimeout(r, 1500));
    process.kill(victim.pid, 'SIGKILL');
    const tKill = performance.now();
    let declaredMs;
    const watch = (async () => {
      while (declaredMs === undefined) {
        const n = (await nodes()).find((x) => x.nodeId === victim.nodeId);
        if (n && !n.alive) declaredMs = performance.now() - tKill;
        else await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const results = await all;
    const doneMs = performance.now() - tKill;
    await Promise.race([watch, new Promise((r) => setTimeout(r, 20_000))]);
    if (results.length !== 300 || results.some((v, i) => v !== i)) throw new Error('wrong results');
    const dead = (await nodes()).find((x) => x.nodeId === victim.nodeId);
    return { doneMs, totalMs: performance.now() - t0, declaredMs, reason: dead?.deathReason ?? '' };
  } finally {
    await shutdown().catch(() => {});
    await cluster.stop();
  }
}

const rows = [];
for (let r = 0; r < runs; r++) {
  const x = await once();
  rows.push(x);
  process.stdout.write(`run ${r + 1}: kill -> all 300 done ${x.doneMs.toFixed(0)} ms; node declared dead after ${x.declaredMs?.toFixed(0) ?? '?'} ms (${x.reason})\n`);
}
const med = (a) => a.slice().sort((p, q) => p - q)[Math.floor(a.length / 2)];
const cpu = os.cpus()[0]?.model?.trim();
writeSuiteSection(
  'failover',
  [
    '## Failover (issue 11.5)',
    '',
    `\`node bench/run.mjs --suite failover --runs ${runs}\` — ${new Date().toISOString()}, ${os.availableParallelism()} × ${cpu}, Node ${process.version}; the machine was shared with other work during the run.`,
    '',
    'Three-process loopback cluster (head + 2 workers, 2 CPUs each), 300 tasks of 100 ms, one worker SIGKILLed 1.5 s in. Target: all done ≤ 6 s after the kill (before fast failover: ~14.5 s, the 15 s heartbeat deadline).',
    '',
    '| run | kill → node declared dead | kill → all 300 results |',
    '| ---: | ---: | ---: |',
    ...rows.map((x, i) => `| ${i + 1} | ${x.declaredMs?.toFixed(0) ?? '?'} ms | ${x.doneMs.toFixed(0)} ms |`),
    `| median | ${med(rows.map((x) => x.declaredMs ?? NaN)).toFixed(0)} ms | ${med(rows.map((x) => x.doneMs)).toFixed(0)} ms |`,
  ].join('\n'),
);
process.stdout.write(`wrote the failover section of bench/RESULTS.md\n`);

