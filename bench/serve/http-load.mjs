/**
 * The HTTP load of the Serve bench (run.mjs) and its probes: a keep-alive GET client, requests sent at
 * a fixed rate (by rate-sender.mjs in a process of its own), and the latency percentiles they report.
 */
import { request, Agent } from 'node:http';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** p50 and p99 (nearest rank) of latencies in ms, and how many there were. */
export function latencyStats(times) {
  const sorted = [...times].sort((a, b) => a - b);
  const pct = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  return { p50: pct(50), p99: pct(99), n: sorted.length };
}

/** A keep-alive GET client on `sockets` connections; one() resolves with the latency in ms (rejects unless 200). */
export function client(url, sockets) {
  const agent = new Agent({ keepAlive: true, maxSockets: sockets });
  const u = new URL(url);
  const one = () =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'GET', agent }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - t0) : reject(new Error(`status ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end();
    });
  return { one, close: () => agent.destroy() };
}

/**
 * `n` requests sent at a fixed rate (open loop: a request goes out when it is due, whether or not
 * earlier ones answered) on up to 16 keep-alive connections, after 200 warm-up requests, by the lean
 * generator in its own process (rate-sender.mjs). Resolves with each request's send time (ms from the
 * first) and latency, the wall time, and when the first was sent (ms since the epoch, to lay beside
 * other processes' logs); rejects on a non-200 answer or a lost connection.
 */
export function fixedRate(url, ratePerS, n) {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL('rate-sender.mjs', import.meta.url)), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.once('error', reject);
    child.once('exit', (code) => code !== 0 && reject(new Error(`the rate sender exited with ${code}`)));
    child.once('message', (m) => {
      if (m.error) return reject(new Error(m.error));
      resolve({ samples: m.samples.map(([sentAt, ms]) => ({ sentAt, ms })), wallMs: m.wallMs, startedAt: m.startedAt });
    });
    child.send({ url, rate: ratePerS, n, sockets: 16, warmup: 200 });
  });
}
