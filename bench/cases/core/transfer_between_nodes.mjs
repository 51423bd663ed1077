/**
 * Issue 7: object transfer between two nodes of the three-process loopback cluster (not a Ray row).
 *
 *   transfer_<size>_between_nodes   a task pinned to node A (`scheduling: { nodeId: A, soft: false }`) made
 *                                   the object once in setup; each timed unit is one task pinned to node B
 *                                   that takes the ref as its argument (B pulls it from A's store: over A's
 *                                   data plane, or gRPC chunks with RAYTS_DATA_PLANE=0) and returns its
 *                                   byteLength. Sizes 1 MB, 100 MB and 1 GB (10^6, 10^8, 10^9 B).
 *   transfer_100mb_node_to_driver   the driver `get`s a 100 MB object stored on node A and checks its size.
 *                                   A joined driver keeps the copy it pulled while the value is reachable,
 *                                   so each unit reads a different object than the one before (two made on
 *                                   A in setup, taken in turn) and drops its value; a forced garbage
 *                                   collection after each unit (its cost is inside the timed unit) lets
 *                                   the driver drop its copy, so every unit pulls anew. Setup checks that
 *                                   it does (the driver's store holds one object fewer after a collection).
 *
 * Rate = bytes moved / wall time of the unit, in MB/s (MB = 10^6 B), so it includes the per-task overhead —
 * visible for 1 MB. Issue 7's target: 100 MB between two nodes ≥ 1 GB/s (1000 MB/s).
 * A and B are the two non-head nodes; the driver runs in the case process. Only the cluster variant exists
 * (the embedded cluster has one node, whose store the driver shares).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { get, nodes, objectStoreStats, remote, shutdown, wait } from '@samsara/ray';
import { defineBench } from '../../harness.mjs';
import { clusterSkipReason, connectLoopbackCluster } from '../../lib/core.mjs';
import { ISSUE_7_TARGETS } from '../../targets.mjs';

const MB = 1e6;

async function setupTransfer(bytes) {
  await connectLoopbackCluster();
  try {
    const all = (await nodes()).filter((n) => n.alive);
    const workers = all.filter((n) => !n.isHead);
    const [a, b] = workers.length >= 2 ? workers : all;
    if (!a || !b || a.nodeId === b.nodeId) throw new Error(`need two alive nodes, have ${all.length}`);
    const make = remote((n) => new Uint8Array(n)).options({ scheduling: { nodeId: a.nodeId, soft: false } });
    const read = remote((x) => x.byteLength).options({ scheduling: { nodeId: b.nodeId, soft: false } });
    const ref = make.remote(bytes);
    await wait([ref], { numReturns: 1, timeoutMs: 120_000 });
    const n = await get(read.remote(ref)); // first pull, and a check that B sees the whole object
    if (n !== bytes) throw new Error(`node B read ${n} bytes, expected ${bytes}`);
    return { ref, make, read, bytes, a: a.nodeId, b: b.nodeId };
  } catch (err) {
    await shutdown().catch(() => {});
    throw err;
  }
}

function betweenNodes(label, bytes) {
  const name = `transfer_${label}_between_nodes`;
  return defineBench({
    name,
    unit: 'MB/s',
    variant: 'cluster',
    target: ISSUE_7_TARGETS[name],
    skip: clusterSkipReason,
    setup: () => setupTransfer(bytes),
    run: async ({ state }) => {
      const n = await get(state.read.remote(state.ref));
      if (n !== state.bytes) throw new Error(`node B read ${n} bytes, expected ${state.bytes}`);
      return state.bytes / MB;
    },
    teardown: () => shutdown(),
  });
}

setFlagsFromString('--expose-gc');
/** A full garbage collection, available without starting node with --expose-gc. */
const forceGc = runInNewContext('gc');

/** Drops the driver's pulled copies of values no longer reachable (FinalizationRegistry runs after GC). */
async function dropUnreachableCopies() {
  forceGc();
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
}

/**
 * Throws unless the driver's store holds one object fewer once a value read from `ref` is collected.
 * objectStoreStats() adds the nodes' heartbeat figures, which may move meanwhile: a few tries.
 */
async function checkCopiesDropped(ref, bytes) {
  let seen = '';
  for (let attempt = 0; attempt < 5; attempt += 1) {
    let value = await get(ref);
    if (value.byteLength !== bytes) throw new Error(`driver read ${value.byteLength} bytes, expected ${bytes}`);
    const held = (await objectStoreStats()).numObjects;
    value = undefined;
    await dropUnreachableCopies();
    const dropped = (await objectStoreStats()).numObjects;
    if (dropped <= held - 1) return;
    seen += ` ${held} → ${dropped}`;
  }
  throw new Error(`the driver kept its pulled copy (objects while held → after collection:${seen}); the figure would be a local read`);
}

async function getSize(ref) {
  return (await get(ref)).byteLength; // the value itself is not kept
}

const toDriver = defineBench({
  name: 'transfer_100mb_node_to_driver',
  unit: 'MB/s',
  variant: 'cluster',
  skip: clusterSkipReason,
  setup: async () => {
    const state = await setupTransfer(100 * MB);
    try {
      const second = state.make.remote(state.bytes);
      await wait([second], { numReturns: 1, timeoutMs: 120_000 });
      state.refs = [state.ref, second];
      state.turn = 0;
      // The unit below must pull: after a get and a collection the driver's store holds no copy.
      await checkCopiesDropped(second, state.bytes);
      return state;
    } catch (err) {
      await shutdown().catch(() => {});
      throw err;
    }
  },
  run: async ({ state }) => {
    const ref = state.refs[state.turn++ % state.refs.length];
    const n = await getSize(ref);
    if (n !== state.bytes) throw new Error(`driver read ${n} bytes, expected ${state.bytes}`);
    await dropUnreachableCopies();
    return state.bytes / MB;
  },
  teardown: () => shutdown(),
});

export default [betweenNodes('1mb', MB), betweenNodes('100mb', 100 * MB), toDriver, betweenNodes('1gb', 1000 * MB)];
