/**
 * Options of tasks and actors as the runtimes take them: resolved once by the public API
 * (api/options.ts, api/actor-options.ts: validated, defaults filled in, frozen) and read by owners and
 * worker threads.
 */
import type { ResourceMap } from '@samsara/ray-common';
import type { LabelSelector, PlacementGroupStrategy, SchedulingStrategy } from '@samsara/ray-scheduler';

/** What a runtime needs of a placement group handle (api's PlacementGroup has it). */
export interface PlacementGroupRef {
  /** Cluster-unique id. */
  readonly id: string;
  readonly bundles: readonly Readonly<ResourceMap>[];
  readonly strategy: PlacementGroupStrategy;
  readonly name: string;
}

export interface ResolvedTaskOptions {
  readonly demand: Readonly<ResourceMap>;
  readonly maxRetries: number;
  readonly retryExceptions: boolean | readonly string[];
  readonly name?: string;
  readonly scheduling: SchedulingStrategy;
  readonly labelSelector?: LabelSelector;
  readonly placementGroup?: PlacementGroupRef;
  readonly bundleIndex: number;
  /** Unconsumed items at which a generator's producer pauses; 0 = unbounded. */
  readonly generatorBackpressure: number;
}

export interface ResolvedActorOptions {
  readonly name?: string;
  readonly namespace?: string;
  readonly detached: boolean;
  readonly getIfExists: boolean;
  readonly demand: Readonly<ResourceMap>;
  readonly maxConcurrency: number;
  readonly maxRestarts: number;
  readonly maxTaskRetries: number;
  readonly scheduling: SchedulingStrategy;
  readonly labelSelector?: LabelSelector;
  readonly placementGroup?: PlacementGroupRef;
  readonly bundleIndex: number;
}
