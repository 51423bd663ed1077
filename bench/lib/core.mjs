/**
 * Turns one Ray microbenchmark row into two definitions: `embedded` (`await init()`: the in-process local
 * cluster) and `cluster` (`await init({ address })` against the three-process loopback cluster that
 * bench/run.mjs starts with the rayts CLI and announces in RAYTS_BENCH_CLUSTER_ADDRESS).
 *
 * Each case file imports '@samsara/ray' itself; while the core is not built that import fails and
 * bench/run.mjs reports both variants as skipped with the import error — no numbers are made up.
 */
import { availableParallelism } from 'node:os';
import { init, shutdown, nodes } from '@samsara/ray';
import { defineBench } from '../harness.mjs';
import { RAY_248 } from '../ray-2.48.mjs';
import { ISSUE_7_TARGETS } from '../targets.mjs';

/** `n_cpu` in Ray's 1:n and n:n rows: cores / 2 (at least 1). */
export const N_CPU = Math.max(1, Math.floor(availableParallelism() / 2));

/** Nodes the loopback cluster has: the head (which also runs a node) and two worker nodes. */
export const CLUSTER_NODES = 3;

const NODES_READY_MS = 30_000;

export async function waitForNodes(count, timeoutMs = NODES_READY_MS) {
  const deadline = Date.now() + timeoutMs;
  let alive = 0;
  while (Date.now() < deadline) {
    alive = (await nodes()).filter((n) => n.alive).length;
    if (alive >= count) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`loopback cluster: ${alive} of ${count} nodes alive after ${timeoutMs} ms`);
}

/** Why the loopback-cluster variant cannot run in this process, or undefined. */
export function clusterSkipReason() {
  return (
    process.env.RAYTS_BENCH_CLUSTER_SKIP ||
    (process.env.RAYTS_BENCH_CLUSTER_ADDRESS ? undefined : 'no loopback cluster (RAYTS_BENCH_CLUSTER_ADDRESS unset; run through bench/run.mjs)')
  );
}

/** Joins the loopback cluster bench/run.mjs started and waits until its three nodes are alive. */
export async function connectLoopbackCluster() {
  // The cluster's session dir (token, head record) is not the one the embedded variant used.
  if (process.env.RAYTS_BENCH_CLUSTER_TMPDIR) process.env.RAYTS_TMPDIR = process.env.RAYTS_BENCH_CLUSTER_TMPDIR;
  await init({ address: process.env.RAYTS_BENCH_CLUSTER_ADDRESS });
  await waitForNodes(CLUSTER_NODES, NODES_READY_MS);
}

/**
 * @param {object} spec
 * @param {string} spec.file   the row's file name in bench/ray-2.48.mjs (gives Ray's metric, unit, figure)
 * @param {object} [spec.initOptions] extra options for the embedded `init()` (e.g. custom resources)
 * @param {string} [spec.baseline]   baseline bench to compare the embedded variant with
 * @param {string} [spec.clusterBaseline] baseline for the cluster variant [spec.baseline]
 * @param {(ctx) => unknown} [spec.setup] runs after init; its value is ctx.state
 * @param {(ctx) => Promise<number>} spec.run
 * @param {(ctx) => unknown} [spec.teardown] runs before shutdown
 */
export function coreBenches(spec) {
  const row = RAY_248.find((r) => r.file === spec.file);
  if (!row) throw new TypeError(`coreBenches: no Ray 2.48 row for file "${spec.file}" in bench/ray-2.48.mjs`);
  const common = { name: row.metric, unit: row.unit, ray248: row.value, target: ISSUE_7_TARGETS[row.metric], run: spec.run };
  const teardown = async (ctx) => {
    try {
      if (spec.teardown) await spec.teardown(ctx);
    } finally {
      await shutdown();
    }
  };
  const withInit = (connect) => async (ctx) => {
    await connect();
    try {
      return spec.setup ? await spec.setup(ctx) : undefined;
    } catch (err) {
      await shutdown().catch(() => {});
      throw err;
    }
  };
  const embedded = defineBench({
    ...common,
    variant: 'embedded',
    baseline: spec.baseline,
    setup: withInit(() => init(spec.initOptions ?? {})),
    teardown,
  });
  const cluster = defineBench({
    ...common,
    variant: 'cluster',
    baseline: spec.clusterBaseline ?? spec.baseline,
    skip: clusterSkipReason,
    setup: withInit(connectLoopbackCluster),
    teardown,
  });
  return [embedded, cluster];
}
