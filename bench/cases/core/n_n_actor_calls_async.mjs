/** Ray row n_n_actor_calls_async: 4 tasks each make 5000 calls round-robin over n_cpu actors (cores / 2) and get them. */
import { get, remote } from '@samsara/ray';
import { coreBenches, N_CPU } from '../../lib/core.mjs';
import { newActor, times } from '../../lib/ray-workload.mjs';

const N = 5000;
const M = 4;

export default coreBenches({
  file: 'n_n_actor_calls_async',
  baseline: 'worker_postmessage_rtt_pipelined',
  clusterBaseline: 'grpc_bidi_echo',
  setup: () => ({
    actors: Array.from({ length: N_CPU }, () => newActor()),
    work: remote(async (actors, n) => {
      const refs = [];
      for (let i = 0; i < n; i += 1) refs.push(actors[i % actors.length].smallValue.remote());
      await get(refs);
    }),
  }),
  run: async ({ state }) => {
    await get(times(M, () => state.work.remote(state.actors, N)));
    return M * N;
  },
});
