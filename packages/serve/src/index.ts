/**
 * @samsara/ray-serve — model pipelines over HTTP on rayts: deployments (replicated actor classes),
 * composition through handles, request batching, backpressure, autoscaling and safe rollouts.
 *
 * @example
 * import { init } from '@samsara/ray';
 * import { serve, deployment } from '@samsara/ray-serve';
 * await init({ address: '127.0.0.1:6380' });
 * const Hello = deployment(class Hello { fetch(req: Request) { return { hello: new URL(req.url).pathname }; } });
 * const h = await serve.run(Hello.bind(), { name: 'hello', routePrefix: '/hello', port: 8000 });
 * await h.fetch.remote(new Request('http://x/hello'));   // or curl localhost:8000/hello
 */
export { serve } from './api.js';
export { deployment, Deployment, Application } from './deployment.js';
export { batch, BatchQueue, type BatchOptions } from './batching.js';
export { DeploymentResponse, type DeploymentHandle, type HandleMethod, type HandleArgs } from './handle.js';
export { ServeError, BackPressureError, DeployFailedError, BatchSizeError, type ServeErrorCode } from './errors.js';
export { ServeHttpError } from './http/errors.js';
export { PrefixRouter, type Router, type RouteMatch } from './http/router.js';
export { compose, type Middleware, type Next } from './http/compose.js';
export { powerOfTwoChoices, setChooseReplicas, type ChooseReplicas, type ReplicaCandidate, type PendingRequest } from './routing/request-router.js';
export { desiredReplicas, autoscaleStep, type AutoscalingConfig, type AutoscalingMetrics, type ScalingState } from './autoscaling/policy.js';
export type { DeploymentOptions, ServeRunOptions, ReplicaActorOptions } from './config.js';
export type { ServeStatus, ApplicationStatus, DeploymentStatus, DeploymentMetrics } from './internal/controller.js';
// Entry points of the library's own actors (controller, proxy, replicas) on their threads.
export { startController } from './internal/controller.js';
export { startProxy } from './internal/proxy.js';
export { startReplica } from './internal/replica.js';
