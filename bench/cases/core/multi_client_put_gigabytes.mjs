/** Ray row multi_client_put_gigabytes: 10 tasks × 10 puts of an 80 MiB zero array; 8 "GB" per round (ray_perf.py's count). */
import { get, put, remote } from '@samsara/ray';
import { coreBenches } from '../../lib/core.mjs';
import { times } from '../../lib/ray-workload.mjs';

export default coreBenches({
  file: 'multi_client_put_gigabytes',
  baseline: 'memcpy_gigabytes',
  setup: () => ({
    doPut: remote(async () => {
      for (let i = 0; i < 10; i += 1) await put(new BigInt64Array(10 * 1024 * 1024));
    }),
  }),
  run: async ({ state }) => {
    await get(times(10, () => state.doPut.remote()));
    return 10 * 8 * 0.1;
  },
});
