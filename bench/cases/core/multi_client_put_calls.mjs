/** Ray row multi_client_put_calls_Plasma_Store: 10 tasks, each doing 100 small puts; 1000 puts per round. */
import { get, put, remote } from '@samsara/ray';
import { coreBenches } from '../../lib/core.mjs';
import { times } from '../../lib/ray-workload.mjs';

export default coreBenches({
  file: 'multi_client_put_calls',
  setup: () => ({
    doPutSmall: remote(async () => {
      for (let i = 0; i < 100; i += 1) await put(0);
    }),
  }),
  run: async ({ state }) => {
    await get(times(10, () => state.doPutSmall.remote()));
    return 1000;
  },
});
