/**
 * Ray-style placement-group virtual resources. A committed bundle turns part of a node's capacity into
 * resources named after the group, and a task scheduled into the group asks for those names instead of
 * the plain ones, so the ordinary resource accounting keeps the group's reservation to itself.
 */
import { InvalidArgumentError, type ResourceMap } from '@samsara/ray-common';
import { BUNDLE_MARKER_AMOUNT, BUNDLE_MARKER_DEMAND } from './config.js';
import { demandedKeys } from './resource-units.js';

function checkIndex(bundleIndex: number, allowWildcard: boolean): void {
  const ok = Number.isInteger(bundleIndex) && (bundleIndex >= 0 || (allowWildcard && bundleIndex === -1));
  if (!ok) {
    throw new InvalidArgumentError(`bundleIndex must be ${allowWildcard ? '-1 (any bundle) or ' : ''}an integer ≥ 0, got ${bundleIndex}.`, {
      hint: 'Bundle indexes count from 0 in the order the bundles were given to placementGroup().',
    });
  }
}

/**
 * The resources a node gains when bundle `bundleIndex` of group `pgId` is committed on it: for each
 * resource R with amount a > 0, `R_group_<i>_<pg>: a` and `R_group_<pg>: a`; plus
 * `bundle_group_<i>_<pg>: 1000` and `bundle_group_<pg>: 1000`. The node's plain resources are reduced
 * by `bundle` by whoever commits it (the caller).
 *
 * @throws InvalidArgumentError when `bundleIndex` is not an integer ≥ 0.
 */
export function bundleResources(pgId: string, bundleIndex: number, bundle: ResourceMap): ResourceMap {
  checkIndex(bundleIndex, false);
  const out: ResourceMap = {};
  for (const r of demandedKeys(bundle)) {
    out[`${r}_group_${bundleIndex}_${pgId}`] = bundle[r];
    out[`${r}_group_${pgId}`] = bundle[r];
  }
  out[`bundle_group_${bundleIndex}_${pgId}`] = BUNDLE_MARKER_AMOUNT;
  out[`bundle_group_${pgId}`] = BUNDLE_MARKER_AMOUNT;
  return out;
}

/**
 * Rewrites the demand of a task scheduled into group `pgId`: with `bundleIndex` ≥ 0 each resource R
 * becomes `R_group_<i>_<pg>`; with -1 or undefined (any bundle) `R_group_<pg>`. An empty demand becomes
 * `{bundle_group_<i>_<pg>: 0.001}` (or `{bundle_group_<pg>: 0.001}`) so that the task still lands on a
 * node holding the bundle.
 *
 * @throws InvalidArgumentError when `bundleIndex` is neither -1, undefined nor an integer ≥ 0.
 */
export function demandInGroup(pgId: string, bundleIndex: number | undefined, demand: ResourceMap): ResourceMap {
  const i = bundleIndex ?? -1;
  checkIndex(i, true);
  const suffix = i >= 0 ? `_group_${i}_${pgId}` : `_group_${pgId}`;
  const keys = demandedKeys(demand);
  if (keys.length === 0) return { [`bundle${suffix}`]: BUNDLE_MARKER_DEMAND };
  const out: ResourceMap = {};
  for (const r of keys) out[`${r}${suffix}`] = demand[r];
  return out;
}
