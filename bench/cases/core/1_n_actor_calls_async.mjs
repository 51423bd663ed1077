/** Ray row 1_n_actor_calls_async: one client actor makes 5000 calls to each of n_cpu actors (n_cpu = cores / 2) and gets them. */
import { get } from '@samsara/ray';
import { coreBenches, N_CPU } from '../../lib/core.mjs';
import { newActor, newClient } from '../../lib/ray-workload.mjs';

const N = 5000;

export default coreBenches({
  file: '1_n_actor_calls_async',
  baseline: 'worker_postmessage_rtt_pipelined',
  clusterBaseline: 'grpc_bidi_echo',
  setup: () => {
    const actors = Array.from({ length: N_CPU }, () => newActor());
    return { actors, client: newClient(actors) };
  },
  run: async ({ state }) => {
    await get(state.client.smallValueBatch.remote(N));
    return N * state.actors.length;
  },
});
