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
 * becomes `R_group_<i>_<pg>` and `R_group_<pg>` (as in Ray: the group-wide amount counts every task in
 * the group, so tasks for bundle i and tasks for any bundle cannot together take more than the bundle
 * holds); with -1 or undefined (any bundle) `R_group_<pg>` only. An empty demand becomes
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
  for (const r of keys) {
    out[`${r}${suffix}`] = demand[r];
    if (i >= 0) out[`${r}_group_${pgId}`] = demand[r];
  }
  return out;
}

/** `R_group_<i>_<pg>`: what bundle i of group pg holds of R (`bundle` for the marker). */
const INDEXED_GROUP_KEY = /^(.+)_group_(\d+)_([0-9a-f]{8,40})$/;
/** `R_group_<pg>`: the same amounts summed over the group's bundles on the node. */
const WILDCARD_GROUP_KEY = /^(.+)_group_([0-9a-f]{8,40})$/;

/** One committed placement-group bundle on a node, as `nodes()` reports it. */
export interface NodeBundle {
  readonly pgId: string;
  readonly bundleIndex: number;
  /** What the bundle reserved (`{ CPU: 1, camera: 1 }`). */
  readonly resources: ResourceMap;
  /** What of it no task or actor in the group uses now. */
  readonly available: ResourceMap;
}

/** A node's resources in a person's terms: capacity, what is free outside groups, and the bundles. */
export interface NodeResourceView {
  /** The node's capacity (CPU, GPU, memory, custom), bundles' reservations included. */
  readonly resources: ResourceMap;
  /** Free for new work outside placement groups: capacity minus what runs and what bundles reserve. */
  readonly available: ResourceMap;
  readonly bundles: NodeBundle[];
}

function round(v: number): number {
  return Math.round(v * 10_000) / 10_000;
}

/**
 * Splits a node's accounting (plain resources reduced by committed bundles, plus the group resources
 * of {@link bundleResources}) into its capacity, what is free outside groups, and one entry per
 * committed bundle. A bundle's `available` is the least of its own and its group's amount left on the
 * node (tasks asking for any bundle of the group draw on the latter).
 */
export function splitNodeResources(total: Readonly<ResourceMap>, available: Readonly<ResourceMap>): NodeResourceView {
  const resources: ResourceMap = {};
  const free: ResourceMap = {};
  const bundles = new Map<string, { pgId: string; bundleIndex: number; resources: ResourceMap; available: ResourceMap }>();
  for (const [k, v] of Object.entries(total)) {
    const m = INDEXED_GROUP_KEY.exec(k);
    if (m) {
      const [, r, i, pgId] = m;
      const key = `${pgId}/${i}`;
      let b = bundles.get(key);
      if (!b) bundles.set(key, (b = { pgId, bundleIndex: Number(i), resources: {}, available: {} }));
      if (r === 'bundle') continue;
      b.resources[r] = v;
      b.available[r] = round(Math.max(0, Math.min(available[k] ?? 0, available[`${r}_group_${pgId}`] ?? 0)));
      resources[r] = round((resources[r] ?? 0) + v);
    } else if (!WILDCARD_GROUP_KEY.test(k)) {
      resources[k] = round((resources[k] ?? 0) + v);
    }
  }
  for (const k of Object.keys(resources)) free[k] = round(available[k] ?? 0);
  const list = [...bundles.values()].sort((a, b) => (a.pgId < b.pgId ? -1 : a.pgId > b.pgId ? 1 : a.bundleIndex - b.bundleIndex));
  return { resources, available: free, bundles: list };
}

/** A node's capacity: its plain resources with what committed bundles reserved added back. */
export function nodeCapacity(total: Readonly<ResourceMap>): ResourceMap {
  return splitNodeResources(total, {}).resources;
}
