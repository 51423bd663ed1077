/** Ray row single_client_put_calls_Plasma_Store: `ray.put(0)`, one at a time. */
import { put } from '@samsara/ray';
import { coreBenches } from '../../lib/core.mjs';

export default coreBenches({
  file: 'single_client_put_calls',
  run: async () => {
    await put(0);
    return 1;
  },
});
