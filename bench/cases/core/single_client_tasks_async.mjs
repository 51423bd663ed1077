/**
 * Ray row single_client_tasks_async: submit 1000 no-op tasks, get all. Issue 7's targets: ≥ 10,000/s and
 * ≥ 40% of piscina's 64-concurrent no-op rate in the same run.
 */
import { get, remote } from '@samsara/ray';
import { coreBenches } from '../../lib/core.mjs';
import { times } from '../../lib/ray-workload.mjs';

export default coreBenches({
  file: 'single_client_tasks_async',
  baseline: 'piscina_noop_tasks',
  setup: () => ({ smallValue: remote(() => 'ok') }),
  run: async ({ state }) => {
    await get(times(1000, () => state.smallValue.remote()));
    return 1000;
  },
});
