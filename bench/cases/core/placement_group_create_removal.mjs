/**
 * Ray row placement_group_create/removal: create 100 one-bundle groups ({custom: 0.001}), wait until each
 * is ready, remove them all. The cluster offers {custom: 100} (embedded: init option; loopback cluster:
 * the head's --resources).
 *
 * Ray's `remove_placement_group` returns once the GCS accepted the removal, without waiting for the
 * raylets to free the bundles; ours resolves only once the nodes report the resources back (docs/actors.md
 * "Removal"), a head → node → head round trip per call when awaited one at a time. So the removals are
 * issued in one loop, as Ray's are, and awaited together (one `remove_many` call; each still resolves
 * only when its bundles are back): the timed unit ends with every resource free, which Ray's does not.
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
    await Promise.all(pgs.map((pg) => removePlacementGroup(pg)));
    return NUM_PGS;
  },
});
