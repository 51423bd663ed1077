/**
 * `placementGroup(bundles, { strategy, name })` reserves resource bundles across nodes atomically (all
 * or none); tasks and actors then run inside a bundle with `{ placementGroup: pg, bundleIndex }`.
 * `removePlacementGroup(pg)` frees the resources and stops what ran in the group.
 */
import { InvalidArgumentError, describe, newPlacementGroupId, validateResources, type ResourceMap } from '@samsara/ray-common';
import type { PlacementGroupStrategy } from '@samsara/ray-scheduler';
import { checkKnownKeys } from './options.js';
import { PlacementGroup } from './placement-group-handle.js';
import { requireRuntime } from '../runtime/runtime.js';

export interface PlacementGroupOptions {
  /** PACK (few nodes, best effort), SPREAD, STRICT_PACK (one node), STRICT_SPREAD (one node each) ['PACK']. */
  strategy?: PlacementGroupStrategy;
  /** Shown in `rayts list placement-groups`. */
  name?: string;
}

const STRATEGIES = ['PACK', 'SPREAD', 'STRICT_PACK', 'STRICT_SPREAD'];

/**
 * Creates a placement group; returns its handle at once. `await pg.ready()` waits until every bundle
 * is reserved (`ready(timeoutMs)` rejects with GetTimeoutError carrying the reason it cannot be placed).
 */
export function placementGroup(bundles: ResourceMap[], opts: PlacementGroupOptions = {}): PlacementGroup {
  checkKnownKeys(opts, ['strategy', 'name'], 'placementGroup()');
  if (!Array.isArray(bundles) || bundles.length === 0) {
    throw new InvalidArgumentError(`placementGroup() takes a non-empty array of bundles, got ${describe(bundles)}.`, {
      hint: "Example: placementGroup([{ CPU: 1 }, { camera: 1 }], { strategy: 'STRICT_SPREAD' }).",
    });
  }
  const clean = bundles.map((b, i) => {
    const r = validateResources(b, `placementGroup() bundle ${i}`);
    if (!Object.values(r).some((v) => v > 0)) throw new InvalidArgumentError(`placementGroup() bundle ${i} is empty; every bundle needs some resource.`);
    return Object.freeze(r);
  });
  const strategy = opts.strategy ?? 'PACK';
  if (!STRATEGIES.includes(strategy)) {
    throw new InvalidArgumentError(`placementGroup(): strategy must be one of ${STRATEGIES.join(', ')}, got ${describe(strategy)}.`);
  }
  const rt = requireRuntime('placementGroup()');
  const id = newPlacementGroupId();
  rt.createPlacementGroup(id, clean, strategy, opts.name ?? '');
  return new PlacementGroup(id, Object.freeze(clean), strategy, opts.name ?? '', (pgId, timeoutMs) => requireRuntime('PlacementGroup.ready()').waitPlacementGroup(pgId, timeoutMs));
}

/** Removes a placement group: its resources return to the nodes and what ran in it is stopped. */
export async function removePlacementGroup(pg: PlacementGroup): Promise<void> {
  if (!(pg instanceof PlacementGroup)) throw new InvalidArgumentError(`removePlacementGroup() takes a PlacementGroup, got ${describe(pg)}.`);
  await requireRuntime('removePlacementGroup()').removePlacementGroup(pg.id);
}
