#!/usr/bin/env node
/**
 * What TLS costs (issue 12): the same rows on three-process loopback clusters (head + 2 workers, each
 * `rayts start` as its own OS process) started plaintext, with TLS, and with mutual TLS
 * (--tls-require-client-cert). This process is the driver (plaintext, or RAYTS_TLS_* for the TLS runs).
 *
 *   tasks_async      1000 no-op tasks submitted at once, then get all (tasks/s)
 *   transfer_100mb   a 100 MB object made on worker A, read by a task pinned to worker B (B pulls it over
 *                    the data plane each time: a copy pulled for a task is dropped after it) (MB/s)
 *
 *   node bench/run.mjs --suite ops [--runs N]        (or node bench/ops/run.mjs)
 *
 * Median of N timed runs (default 5) after 2 warm-up runs; writes its section of bench/RESULTS.md.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createServer } from 'node:net';
import net from 'node:net';
import tls from 'node:tls';
import { init, shutdown, remote, get, wait, nodes } from '@samsara/ray';
import { CLI } from '../lib/loopback-cluster.mjs';
import { writeSuiteSection } from '../lib/results-section.mjs';

const run = promisify(execFile);
const args = process.argv.slice(2);
const RUNS = Number(args.includes('--runs') ? args[args.indexOf('--runs') + 1] : process.env.RAYTS_BENCH_RUNS ?? 5);
const WARMUP = 2;
const MB = 1e6;

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function cluster(mode, certs) {
  const tmp = mkdtempSync(join(os.tmpdir(), `rayts-bench-ops-${mode}-`));
  const env = { ...process.env, RAYTS_TMPDIR: tmp };
  delete env.RAYTS_TOKEN;
  const tls = mode === 'plain' ? [] : ['--tls-cert', join(certs, 'node.pem'), '--tls-key', join(certs, 'node-key.pem'), '--tls-ca', join(certs, 'ca.pem')];
  if (mode === 'mtls') tls.push('--tls-require-client-cert');
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  await run(process.execPath, [CLI, 'start', '--head', '--port', String(port), '--num-cpus', '0', ...tls], { env });
  await Promise.all([1, 2].map(() => run(process.execPath, [CLI, 'start', '--address', address, '--num-cpus', '2', ...tls], { env })));
  const token = readFileSync(join(tmp, 'session_latest', 'token'), 'utf8').trim();
  return {
    address,
    token,
    stop: async () => {
      await run(process.execPath, [CLI, 'stop'], { env }).catch(() => undefined);
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

async function measure(mode, certs) {
  const c = await cluster(mode, certs);
  try {
    await init({ address: c.address, token: c.token, ...(mode === 'plain' ? {} : { tls: { ca: join(certs, 'ca.pem'), cert: join(certs, 'node.pem'), key: join(certs, 'node-key.pem') } }) });
    for (let i = 0; i < 100; i++) {
      const all = (await nodes()).filter((n) => n.alive && !n.isHead);
      if (all.length === 2) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const [a, b] = (await nodes()).filter((n) => n.alive && !n.isHead);
    const noop = remote(() => 'ok');
    const tasks = [];
    for (let i = 0; i < WARMUP + RUNS; i++) {
      const t0 = performance.now();
      await get(Array.from({ length: 1000 }, () => noop.remote()));
      const s = (performance.now() - t0) / 1000;
      if (i >= WARMUP) tasks.push(1000 / s);
    }
    const make = remote((n) => new Uint8Array(n).fill(1)).options({ scheduling: { nodeId: a.nodeId, soft: false } });
    const read = remote((x) => x.byteLength).options({ scheduling: { nodeId: b.nodeId, soft: false } });
    const ref = make.remote(100 * MB);
    await wait([ref], { numReturns: 1, timeoutMs: 120_000 });
    const transfer = [];
    for (let i = 0; i < WARMUP + RUNS; i++) {
      const t0 = performance.now();
      const n = await get(read.remote(ref));
      const s = (performance.now() - t0) / 1000;
      if (n !== 100 * MB) throw new Error(`read ${n} bytes`);
      if (i >= WARMUP) transfer.push(100 / s);
    }
    return { tasks: median(tasks), transfer: median(transfer) };
  } finally {
    await shutdown().catch(() => undefined);
    await c.stop();
  }
}

/**
 * Baseline: 100 MB through one loopback socket in this process, plain TCP and Node's TLS (same cert,
 * 1 MiB writes) — what any Node program pays for TLS on this machine, before rayts adds anything.
 */
async function rawSocket(mode, certs) {
  const N = 100e6;
  const chunk = Buffer.alloc(1 << 20, 7);
  const opts = { key: readFileSync(join(certs, 'node-key.pem')), cert: readFileSync(join(certs, 'node.pem')), ca: readFileSync(join(certs, 'ca.pem')) };
  const server = mode === 'tls' ? tls.createServer(opts) : net.createServer();
  server.on(mode === 'tls' ? 'secureConnection' : 'connection', async (s) => {
    for (let sent = 0; sent < N; sent += chunk.length) if (!s.write(chunk)) await new Promise((r) => s.once('drain', r));
    s.end();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  const t0 = performance.now();
  const got = await new Promise((resolve) => {
    let n = 0;
    const c = mode === 'tls' ? tls.connect({ port, host: '127.0.0.1', ca: opts.ca }) : net.connect({ port, host: '127.0.0.1' });
    c.on('data', (d) => (n += d.length));
    c.on('end', () => {
      c.destroy();
      resolve(n);
    });
  });
  server.close();
  return got / 1e6 / ((performance.now() - t0) / 1000);
}

const certs = mkdtempSync(join(os.tmpdir(), 'rayts-bench-certs-'));
await run(process.execPath, [CLI, 'cert', 'create', '--out', certs, '--host', '127.0.0.1', '--host', 'localhost']);
const results = {};
const raw = { plain: [], tls: [] };
try {
  for (let i = 0; i < 3; i++) for (const m of ['plain', 'tls']) raw[m].push(await rawSocket(m, certs));
  process.stdout.write(`raw socket: plain ${median(raw.plain).toFixed(0)} MB/s, tls ${median(raw.tls).toFixed(0)} MB/s\n`);
  for (const mode of ['plain', 'tls', 'mtls']) {
    results[mode] = await measure(mode, certs);
    process.stdout.write(`${mode}: tasks_async ${results[mode].tasks.toFixed(0)} tasks/s, transfer_100mb ${results[mode].transfer.toFixed(0)} MB/s\n`);
  }
} finally {
  rmSync(certs, { recursive: true, force: true });
}

const pct = (x, base) => `${x >= base ? '+' : ''}${(((x - base) / base) * 100).toFixed(0)}%`;
const fmt = (n) => Math.round(n).toLocaleString('en-US');
const load = os.loadavg()[0].toFixed(1);
const md = `## ops: what TLS costs

Three-process loopback cluster (head with no CPUs + 2 workers × 2 CPUs, each \`rayts start\` its own process), this
process the driver. Plaintext, TLS (\`--tls-cert/--tls-key/--tls-ca\`) and mutual TLS (\`--tls-require-client-cert\`),
same run, same machine. Median of ${RUNS} timed runs after ${WARMUP} warm-up runs.

| row | plaintext | TLS | mutual TLS | TLS vs plaintext |
| --- | ---: | ---: | ---: | ---: |
| tasks_async (1000 no-op tasks, tasks/s) | ${fmt(results.plain.tasks)} | ${fmt(results.tls.tasks)} | ${fmt(results.mtls.tasks)} | ${pct(results.tls.tasks, results.plain.tasks)} |
| transfer_100mb between workers (MB/s) | ${fmt(results.plain.transfer)} | ${fmt(results.tls.transfer)} | ${fmt(results.mtls.transfer)} | ${pct(results.tls.transfer, results.plain.transfer)} |
| baseline: 100 MB through one Node socket in one process (MB/s) | ${fmt(median(raw.plain))} | ${fmt(median(raw.tls))} | — | ${pct(median(raw.tls), median(raw.plain))} |

Tasks travel on long-lived gRPC streams, so TLS costs record encryption only (handshakes happen once per
connection); the 100 MB pull goes through the data plane, where TLS adds AES-GCM over every byte and one
copy out of the TLS record layer. The baseline row is what Node's own TLS costs on this machine for the
same bytes (no rayts code): compare the two "TLS vs plaintext" ratios.

- Command: \`node bench/run.mjs --suite ops\` (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC)
- Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; load average ${load} at the end —
  the machine was shared with other engineers' builds and tests, so absolute numbers are low and noisy;
  the ratio between columns of the same run is the result.
`;
writeSuiteSection('ops', md);
process.stdout.write(md);
