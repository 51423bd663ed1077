/**
 * Issue 11.1: streaming generators (not a Ray 2.48 row).
 *
 *   generator_items_task    a remote async generator yields 2,000 small items (a number each); the driver
 *                           iterates the ObjectRefGenerator and `get`s every item. One timed unit = one
 *                           stream, from `.remote()` to the end of the iteration.
 *   generator_items_actor   the same with an actor's async generator method (the actor made in setup).
 *
 * Rate = items / wall time of the unit (items/s), so the task's start is inside it. Unbounded backpressure
 * (the default). Issue 11's goal: ≥ 10,000 items/s on the 3-process cluster, where the producer runs on
 * a node in another process and items travel node → driver on the task stream.
 */
import { actor, get, init, remote, shutdown } from '@samsara/ray';
import { defineBench } from '../../harness.mjs';
import { clusterSkipReason, connectLoopbackCluster } from '../../lib/core.mjs';

const ITEMS = 2000;
const TARGET = { atLeast: 10_000 };

const produce = remote(async function* (n) {
  for (let i = 0; i < n; i++) yield i;
});

const Producer = actor(
  class Producer {
    async *items(n) {
      for (let i = 0; i < n; i++) yield i;
    }
  },
);

async function consume(gen) {
  let n = 0;
  for await (const ref of gen) {
    const v = await get(ref);
    if (v !== n) throw new Error(`item ${n} read as ${v}`);
    n++;
  }
  if (n !== ITEMS) throw new Error(`stream ended after ${n} of ${ITEMS} items`);
  return n;
}

function rows(name, setup, run) {
  const common = { name, unit: 'items/s', target: TARGET, run };
  const guarded = (connect) => async () => {
    await connect();
    try {
      return await setup();
    } catch (err) {
      await shutdown().catch(() => {});
      throw err;
    }
  };
  return [
    defineBench({ ...common, variant: 'embedded', setup: guarded(() => init()), teardown: () => shutdown() }),
    defineBench({ ...common, variant: 'cluster', skip: clusterSkipReason, setup: guarded(connectLoopbackCluster), teardown: () => shutdown() }),
  ];
}

export default [
  ...rows(
    'generator_items_task',
    async () => ({}),
    () => consume(produce.remote(ITEMS)),
  ),
  ...rows(
    'generator_items_actor',
    async () => {
      const p = Producer.options({ numCpus: 0 }).remote();
      await consume(p.items.remote(ITEMS)); // the actor is up before timing starts
      return { p };
    },
    ({ state }) => consume(state.p.items.remote(ITEMS)),
  ),
];
