/**
 * The public API as code running inside a worker thread sees it (the names bound to shipped functions
 * and classes). It leaves out what only a driver process needs — starting and joining clusters, gRPC
 * servers, the head — so that each worker thread (one per actor) stays small.
 */
import { requireRuntime } from '../runtime/runtime.js';

export { remote } from './remote-function.js';
export {
  get,
  put,
  wait,
  cancel,
  free,
  runtimeContext,
  nodes,
  clusterResources,
  availableResources,
  objectStoreStats,
} from './objects-api.js';
export { actor, getActor, kill } from './actor.js';
export { placementGroup, removePlacementGroup } from './placement-group.js';
export { kv } from './kv.js';
export { ActorPool } from './actor-pool.js';
export { ObjectRef } from '@samsara/ray-common';

/** Inside a task or actor the runtime is already running: init() only checks that. */
export async function init(): Promise<void> {
  requireRuntime('init()');
}

/** A task or actor cannot shut the cluster down: a no-op here. */
export async function shutdown(): Promise<void> {
  /* nothing to do inside a worker */
}
