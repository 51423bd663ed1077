/**
 * The Serve probes' setup (comp-probe.mjs, latency-probe.mjs): a loopback cluster (head + 2 workers as
 * processes), this process connected to it as a driver, and a free port for the proxy. `fn` gets
 * `{ serve, deployment, port, tmpdir }`; the cluster is stopped when it returns or throws.
 */
import { startLoopbackCluster, freePort } from '../lib/loopback-cluster.mjs';

export async function withServeCluster(fn) {
  const cluster = await startLoopbackCluster();
  const tmpdir = cluster.env.RAYTS_BENCH_CLUSTER_TMPDIR;
  process.env.RAYTS_TMPDIR = tmpdir;
  const { init, shutdown } = await import('@samsara/ray');
  const { serve, deployment } = await import('@samsara/ray-serve');
  try {
    await init({ address: cluster.address });
    return await fn({ serve, deployment, port: await freePort(), tmpdir });
  } finally {
    await shutdown().catch(() => undefined);
    await cluster.stop();
  }
}
