/** Ray row single_client_tasks_sync: submit one no-op task, get it. */
import { get, remote } from '@samsara/ray';
import { coreBenches } from '../../lib/core.mjs';

export default coreBenches({
  file: 'single_client_tasks_sync',
  baseline: 'piscina_noop_tasks_one_at_a_time',
  clusterBaseline: 'grpc_unary_calls',
  setup: () => ({ smallValue: remote(() => 'ok') }),
  run: async ({ state }) => {
    await get(state.smallValue.remote());
    return 1;
  },
});
