/**
 * Question: how fast does piscina (2 threads) run no-op tasks, one at a time and with 64 in flight?
 * The in-node ceiling for rayts task dispatch (tasks run on piscina threads), and issue 7's yardstick:
 * single_client_tasks_async should reach 40% of the 64-concurrent rate.
 */
import Piscina from 'piscina';
import { defineBench } from '../harness.mjs';

const filename = new URL('../lib/noop-worker.mjs', import.meta.url).href;

const setup = async () => {
  const pool = new Piscina({ filename, minThreads: 2, maxThreads: 2 });
  await Promise.all([pool.run(null), pool.run(null)]); // threads started before the clock
  return pool;
};
const teardown = async ({ state }) => state?.destroy();

export const oneAtATime = defineBench({
  name: 'piscina_noop_tasks_one_at_a_time',
  unit: 'tasks/s',
  anchor: 16700,
  setup,
  run: async ({ state }) => {
    await state.run(null);
    return 1;
  },
  teardown,
});

const LANES = 64;
const TASKS_PER_LANE = 8;

export const concurrent64 = defineBench({
  name: 'piscina_noop_tasks',
  unit: 'tasks/s',
  anchor: 27800,
  setup,
  run: async ({ state }) => {
    const lane = async () => {
      for (let i = 0; i < TASKS_PER_LANE; i += 1) await state.run(null);
    };
    await Promise.all(Array.from({ length: LANES }, lane));
    return LANES * TASKS_PER_LANE;
  },
  teardown,
});

export default [concurrent64, oneAtATime];
