/** Ray row 1_1_actor_calls_concurrent: 1000 calls to one actor with max concurrency 16, get all. */
import { get } from '@samsara/ray';
import { coreBenches } from '../../lib/core.mjs';
import { newActor, times } from '../../lib/ray-workload.mjs';

export default coreBenches({
  file: '1_1_actor_calls_concurrent',
  baseline: 'worker_postmessage_rtt_pipelined',
  clusterBaseline: 'grpc_bidi_echo',
  setup: () => ({ a: newActor({ maxConcurrency: 16 }) }),
  run: async ({ state }) => {
    await get(times(1000, () => state.a.smallValue.remote()));
    return 1000;
  },
});
