/**
 * @samsara/ray — a Ray-like distributed task and actor runtime for Node.js.
 *
 * @example
 * import { init, remote, get, shutdown } from '@samsara/ray';
 * await init();                                   // embedded local cluster
 * const square = remote((x: number) => x * x);
 * console.log(await get(square.remote(4)));       // 16
 * await shutdown();
 */
export { init, shutdown, type InitOptions, type RuntimeEnv } from './api/init.js';
export { remote, type RemoteFunction, type RemoteArgs, type RemoteResult } from './api/remote-function.js';
export { ObjectRefGenerator } from './api/object-ref-generator.js';
export type { RemoteOptions } from './api/options.js';
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
  type GetOptions,
  type WaitOptions,
  type CancelOptions,
} from './api/objects-api.js';
export type { RuntimeContext, NodeSummary, ObjectStoreStats, WaitResult } from './runtime/runtime.js';
export { PlacementGroup } from './api/placement-group-handle.js';
export { placementGroup, removePlacementGroup, type PlacementGroupOptions } from './api/placement-group.js';
export { actor, getActor, kill, type ActorClass, type ActorHandle, type ActorMethod, type ActorMethodOptions, type ActorOptions } from './api/actor.js';
export { ActorPool, type ActorPoolOptions, type ActorPoolGetOptions, type ActorPoolFn } from './api/actor-pool.js';
export { captureCallable, loadCallable, type CallableRef, type CaptureOptions, type LoadCallableOptions, type ImportRef } from './api/callable-ref.js';
export { kv, KV_MAX_VALUE_BYTES, type Kv, type KvValue } from './api/kv.js';
export { startEdgeNode, type EdgeNode, type EdgeNodeOptions } from './edge/edge-node.js';
export {
  metrics,
  type MetricOptions,
  type HistogramOptions,
  type MetricLabels,
  type UserCounter,
  type UserGauge,
  type UserHistogram,
  type BoundHistogram,
} from './metrics/user-metrics.js';
export type { DashboardSection } from './dashboard/library-sections.js';
export type { TlsOptions } from './rpc/tls.js';
export {
  ObjectRef,
  RayError,
  TaskError,
  TaskCancelledError,
  WorkerCrashedError,
  NodeDiedError,
  ActorDiedError,
  ActorUnavailableError,
  ObjectLostError,
  OwnerDiedError,
  ObjectStoreFullError,
  SchedulingError,
  GetTimeoutError,
  InvalidArgumentError,
  AuthenticationError,
  ConnectionError,
  SerializationError,
  NotInitializedError,
  isRayError,
  type RayErrorCode,
  type CoreErrorCode,
  type ResourceMap,
} from '@samsara/ray-common';
export type { SchedulingStrategy, LabelSelector, PlacementGroupStrategy, NodeBundle } from '@samsara/ray-scheduler';
