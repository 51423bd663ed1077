/** Ray row n_n_actor_calls_with_arg_async: n_cpu client actors (cores / 2), each makes 1000 calls with a ref argument to its own actor. */
import { get } from '@samsara/ray';
import { coreBenches, N_CPU } from '../../lib/core.mjs';
import { newActor, newClient } from '../../lib/ray-workload.mjs';

const N = 1000;

export default coreBenches({
  file: 'n_n_actor_calls_with_arg_async',
  baseline: 'worker_postmessage_rtt_pipelined',
  clusterBaseline: 'grpc_bidi_echo',
  setup: () => {
    const actors = Array.from({ length: N_CPU }, () => newActor());
    return { clients: actors.map((a) => newClient(a)) };
  },
  run: async ({ state }) => {
    await get(state.clients.map((c) => c.smallValueBatchArg.remote(N)));
    return N * state.clients.length;
  },
});
