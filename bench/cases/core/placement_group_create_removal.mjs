/**
 * Ray row placement_group_create/removal: create 100 one-bundle groups ({custom: 0.001}), wait until each
 * is ready, remove them one by one. The cluster offers {custom: 100} (embedded: init option; loopback
 * cluster: the head's --resources).
 */
import { placementGroup, removePlacementGroup } from '@samsara/ray';
import { coreBenches } from '../../lib/core.mjs';
import { times } from '../../lib/ray-workload.mjs';

const NUM_PGS = 100;

export default coreBenches({
  file: 'placement_group_create_removal',
  initOptions: { resources: { custom: 100 } },
  run: async () => {
    const pgs = times(NUM_PGS, () => placementGroup([{ custom: 0.001 }]));
    for (const pg of pgs) await pg.ready();
    for (const pg of pgs) await removePlacementGroup(pg);
    return NUM_PGS;
  },
});
