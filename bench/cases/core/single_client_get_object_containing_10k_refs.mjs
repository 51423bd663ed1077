/** Ray row single_client_get_object_containing_10k_refs: get of a task's result holding 10,000 refs (each a put of 1). */
import { get, put, remote } from '@samsara/ray';
import { coreBenches } from '../../lib/core.mjs';

export default coreBenches({
  file: 'single_client_get_object_containing_10k_refs',
  setup: () => {
    const createObjectContainingRef = remote(async () => {
      const refs = [];
      for (let i = 0; i < 10_000; i += 1) refs.push(await put(1));
      return refs;
    });
    return { objContainingRef: createObjectContainingRef.remote() };
  },
  run: async ({ state }) => {
    await get(state.objContainingRef);
    return 1;
  },
});
