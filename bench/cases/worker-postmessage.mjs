/**
 * Question: what does a worker_threads postMessage round trip cost, one at a time and pipelined?
 * The floor under a rayts actor call on the same node (each actor owns a dedicated worker).
 */
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { defineBench } from '../harness.mjs';

const WORKER = new URL('../lib/echo-worker.mjs', import.meta.url);

async function setup() {
  const worker = new Worker(WORKER);
  await once(worker, 'online');
  const st = { worker, waiting: 0, done: undefined };
  worker.on('message', () => {
    st.waiting -= 1;
    if (st.waiting === 0) st.done();
  });
  return st;
}

const teardown = async ({ state }) => state?.worker.terminate();

function roundTrips(st, n) {
  return new Promise((resolve) => {
    st.waiting = n;
    st.done = () => resolve(n);
    for (let i = 0; i < n; i += 1) st.worker.postMessage(i);
  });
}

export const oneAtATime = defineBench({
  name: 'worker_postmessage_rtt',
  unit: 'round trips/s',
  anchor: 42000,
  setup,
  run: ({ state }) => roundTrips(state, 1),
  teardown,
});

export const pipelined = defineBench({
  name: 'worker_postmessage_rtt_pipelined',
  unit: 'round trips/s',
  anchor: 450000,
  setup,
  run: ({ state }) => roundTrips(state, 1000),
  teardown,
});

export default [oneAtATime, pipelined];
