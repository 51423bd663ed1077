/** Ray row 1_1_async_actor_calls_sync: one call to an async actor, get it. */
import { get } from '@samsara/ray';
import { coreBenches } from '../../lib/core.mjs';
import { newAsyncActor } from '../../lib/ray-workload.mjs';

export default coreBenches({
  file: '1_1_async_actor_calls_sync',
  baseline: 'worker_postmessage_rtt',
  clusterBaseline: 'grpc_unary_calls',
  setup: () => ({ a: newAsyncActor() }),
  run: async ({ state }) => {
    await get(state.a.smallValue.remote());
    return 1;
  },
});
