/** Ray row single_client_get_calls_Plasma_Store: `ray.get` of an object put earlier, one at a time. */
import { get, put } from '@samsara/ray';
import { coreBenches } from '../../lib/core.mjs';

export default coreBenches({
  file: 'single_client_get_calls',
  setup: async () => ({ value: await put(0) }),
  run: async ({ state }) => {
    await get(state.value);
    return 1;
  },
});
