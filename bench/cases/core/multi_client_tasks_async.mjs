/** Ray row multi_client_tasks_async: 4 actors each submit 10,000 no-op tasks and get them; 40,000 tasks per round. */
import { get } from '@samsara/ray';
import { coreBenches } from '../../lib/core.mjs';
import { newActor } from '../../lib/ray-workload.mjs';

const N = 10_000;
const M = 4;

export default coreBenches({
  file: 'multi_client_tasks_async',
  baseline: 'piscina_noop_tasks',
  setup: () => ({ actors: Array.from({ length: M }, () => newActor()) }),
  run: async ({ state }) => {
    await get(state.actors.map((a) => a.smallValueBatch.remote(N)));
    return N * M;
  },
});
