/**
 * Actor options: validated once at `actor(Class, opts)` / `.options()` and frozen.
 */
import { InvalidArgumentError, describe, type ResourceMap } from '@samsara/ray-common';
import { parseLabelSelector, type LabelSelector, type SchedulingStrategy } from '@samsara/ray-scheduler';
import { checkKnownKeys, resolveDemand, resolveRetries, resolveScheduling } from './options.js';
import type { PlacementGroup } from './placement-group-handle.js';
import type { ResolvedActorOptions } from '../runtime/resolved-options.js';

/** Options of an actor class (defaults in brackets). */
export interface ActorOptions {
  /** Name to find it with getActor(name) [none]. Unique per namespace. */
  name?: string;
  /** Namespace of the name [the job's namespace: init({ namespace }) or an anonymous one]. */
  namespace?: string;
  /** 'detached' outlives its creator; otherwise the actor ends with the job that created it. */
  lifetime?: 'detached' | 'non_detached';
  /** With a name: return the existing actor of that name instead of failing [false]. */
  getIfExists?: boolean;
  /** CPUs held for the actor's whole life [0]. */
  numCpus?: number;
  numGpus?: number;
  memory?: number;
  resources?: ResourceMap;
  /** Calls running at once; >1 lets async methods interleave [1]. */
  maxConcurrency?: number;
  /** Restarts after its worker or node dies [0]. */
  maxRestarts?: number;
  /** Retries of a call that was in flight when the actor died [0]. */
  maxTaskRetries?: number;
  scheduling?: SchedulingStrategy;
  labelSelector?: Record<string, string>;
  placementGroup?: PlacementGroup;
  bundleIndex?: number;
}

export const ACTOR_OPTION_NAMES = [
  'name', 'namespace', 'lifetime', 'getIfExists', 'numCpus', 'numGpus', 'memory', 'resources', 'maxConcurrency',
  'maxRestarts', 'maxTaskRetries', 'scheduling', 'labelSelector', 'placementGroup', 'bundleIndex',
] as const;

export type { ResolvedActorOptions } from '../runtime/resolved-options.js';

export function resolveActorOptions(o: ActorOptions, where: string): ResolvedActorOptions {
  checkKnownKeys(o, ACTOR_OPTION_NAMES, where);
  if (o.name !== undefined && (typeof o.name !== 'string' || o.name === '')) throw new InvalidArgumentError(`${where}: name must be a non-empty string, got ${describe(o.name)}.`);
  if (o.namespace !== undefined && typeof o.namespace !== 'string') throw new InvalidArgumentError(`${where}: namespace must be a string, got ${describe(o.namespace)}.`);
  if (o.lifetime !== undefined && o.lifetime !== 'detached' && o.lifetime !== 'non_detached') {
    throw new InvalidArgumentError(`${where}: lifetime must be 'detached' or 'non_detached', got ${describe(o.lifetime)}.`);
  }
  if (o.lifetime === 'detached' && !o.name) {
    throw new InvalidArgumentError(`${where}: a detached actor needs a name, or nothing could ever reach it after its creator exits.`);
  }
  const mc = o.maxConcurrency ?? 1;
  if (!Number.isInteger(mc) || mc < 1 || mc > 10_000) throw new InvalidArgumentError(`${where}: maxConcurrency must be an integer from 1 to 10000, got ${describe(o.maxConcurrency)}.`);
  const bundleIndex = o.bundleIndex ?? -1;
  if (!Number.isInteger(bundleIndex) || bundleIndex < -1) throw new InvalidArgumentError(`${where}: bundleIndex must be an integer ≥ -1, got ${describe(o.bundleIndex)}.`);
  return Object.freeze({
    name: o.name,
    namespace: o.namespace,
    detached: o.lifetime === 'detached',
    getIfExists: o.getIfExists === true,
    demand: Object.freeze(resolveDemand(o, where, 0)),
    maxConcurrency: mc,
    maxRestarts: resolveRetries(o.maxRestarts, where, 'maxRestarts', 0),
    maxTaskRetries: resolveRetries(o.maxTaskRetries, where, 'maxTaskRetries', 0),
    scheduling: resolveScheduling(o.scheduling, where),
    labelSelector: o.labelSelector === undefined ? undefined : parseLabelSelector(o.labelSelector, where),
    placementGroup: o.placementGroup,
    bundleIndex,
  });
}
