/**
 * Handle of a placement group: a set of resource bundles reserved atomically across nodes. Tasks and
 * actors run inside a bundle with `{ placementGroup: pg, bundleIndex }`.
 */
import type { ResourceMap } from '@samsara/ray-common';
import type { PlacementGroupStrategy } from '@samsara/ray-scheduler';

export class PlacementGroup {
  constructor(
    /** Cluster-unique id. */
    readonly id: string,
    readonly bundles: readonly Readonly<ResourceMap>[],
    readonly strategy: PlacementGroupStrategy,
    readonly name: string,
    private readonly waitReady: (id: string, timeoutMs?: number) => Promise<void>,
  ) {}

  /** Resolves once every bundle is reserved; rejects with SchedulingError if the group cannot be placed. */
  ready(timeoutMs?: number): Promise<void> {
    return this.waitReady(this.id, timeoutMs);
  }

  toJSON(): { id: string } {
    return { id: this.id };
  }
}
