/** Ray row single_client_wait_1k_refs: submit 1000 no-op tasks, then `wait` for one at a time until none is left. */
import { remote, wait } from '@samsara/ray';
import { coreBenches } from '../../lib/core.mjs';
import { times } from '../../lib/ray-workload.mjs';

export default coreBenches({
  file: 'single_client_wait_1k_refs',
  setup: () => ({ smallValue: remote(() => 'ok') }),
  run: async ({ state }) => {
    let notReady = times(1000, () => state.smallValue.remote());
    for (let i = 0; i < 1000; i += 1) ({ notReady } = await wait(notReady, { numReturns: 1 }));
    return 1;
  },
});
