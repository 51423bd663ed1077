/** Ray row single_client_tasks_and_get_batch: submit 1000 no-op tasks, get all; one batch per round. */
import { get, remote } from '@samsara/ray';
import { coreBenches } from '../../lib/core.mjs';
import { times } from '../../lib/ray-workload.mjs';

export default coreBenches({
  file: 'single_client_tasks_and_get_batch',
  setup: () => ({ smallValue: remote(() => 'ok') }),
  run: async ({ state }) => {
    await get(times(1000, () => state.smallValue.remote()));
    return 1;
  },
});
