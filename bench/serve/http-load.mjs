/**
 * The HTTP load of the Serve bench (run.mjs) and its probes: a keep-alive GET client, and requests sent
 * at a fixed rate.
 */
import { request, Agent } from 'node:http';

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
 * earlier ones answered) on up to 16 keep-alive connections, after 200 warm-up requests. Resolves with
 * each request's send time (ms from the first) and latency, in the order they answered, and the wall time.
 */
export async function fixedRate(url, ratePerS, n) {
  const c = client(url, 16);
  for (let i = 0; i < 200; i++) await c.one();
  const samples = [];
  const pending = [];
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const due = start + (i * 1000) / ratePerS;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const sentAt = performance.now() - start;
    pending.push(c.one().then((ms) => samples.push({ sentAt, ms })));
  }
  await Promise.all(pending);
  c.close();
  return { samples, wallMs: performance.now() - start };
}
