/**
 * Ray row single_client_put_gigabytes: put of an 800 MiB zero array (np.zeros(100 Mi, int64)), counted
 * as 0.8 GB like ray_perf.py. Issue 7's target: at least 50% of memcpy_gigabytes in the same run.
 */
import { put } from '@samsara/ray';
import { coreBenches } from '../../lib/core.mjs';

export default coreBenches({
  file: 'single_client_put_gigabytes',
  baseline: 'memcpy_gigabytes',
  setup: () => ({ arr: new BigInt64Array(100 * 1024 * 1024) }),
  run: async ({ state }) => {
    await put(state.arr);
    return 0.8;
  },
});
