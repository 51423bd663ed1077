/** Ray row 1_1_async_actor_calls_async: 1000 calls to one async actor, get all. */
import { get } from '@samsara/ray';
import { coreBenches } from '../../lib/core.mjs';
import { newAsyncActor, times } from '../../lib/ray-workload.mjs';

export default coreBenches({
  file: '1_1_async_actor_calls_async',
  baseline: 'worker_postmessage_rtt_pipelined',
  clusterBaseline: 'grpc_bidi_echo',
  setup: () => ({ a: newAsyncActor() }),
  run: async ({ state }) => {
    await get(times(1000, () => state.a.smallValue.remote()));
    return 1000;
  },
});
