/**
 * The plain data that travels between the driver, the controller, proxies and replicas: application
 * specs, routing tables and status. Everything here is msgpack-able (no classes, no functions).
 */
import type { CallableRef } from '@samsara/ray';

/** Where a caller reaches a replica directly; published in the deployment's routing table. */
export interface DirectEndpoint {
  readonly host: string;
  readonly port: number;
  /** Identifies the machine: callers on another machine use the core's actor calls instead. */
  readonly hostKey: string;
  /** Random per replica; a connection that does not present it is closed. */
  readonly secret: string;
  /** Identifies the replica's process: callers in the same process offer a LocalLink (direct/local-link.ts). */
  readonly processKey?: string;
}

/**
 * This package's name: the library's own actors (controller, proxy, replicas) import it on their
 * threads from the source text they are built from (see controller.ts), not from this module.
 */
export const SELF_PACKAGE = '@samsara/ray-serve';

/** Namespace of every Serve actor (controller, proxy, replicas). */
export const SERVE_NAMESPACE = 'serve';
export const CONTROLLER_NAME = 'SERVE_CONTROLLER';
export const PROXY_NAME = 'SERVE_PROXY';

/** Marks a bound deployment inside constructor arguments; replaced by a DeploymentHandle on the replica. */
export const HANDLE_MARKER = '__serveDeploymentHandle__';
export interface HandleMarker {
  readonly [HANDLE_MARKER]: { readonly deployment: string };
}

/** Resolved per-deployment options, as plain data. */
export interface DeploymentConfig {
  readonly numReplicas: number;
  readonly maxOngoingRequests: number;
  readonly maxQueuedRequests: number;
  readonly autoscalingConfig?: {
    readonly minReplicas: number;
    readonly maxReplicas: number;
    readonly initialReplicas: number;
    readonly targetOngoingRequests: number;
    readonly upscaleDelayS: number;
    readonly downscaleDelayS: number;
  };
  readonly rayActorOptions: Readonly<Record<string, unknown>>;
  readonly version?: string;
}

/**
 * Names a deployment class may use without importing them: `batch`, and what vite makes of an
 * `import()` in a class written in a vitest test. Bound when the replica loads the class.
 */
export const REPLICA_PROVIDED = ['batch', '__vite_ssr_dynamic_import__'] as const;

export interface DeploymentSpec {
  readonly name: string;
  readonly className: string;
  /** The user class as the core captured it (source + the imports it uses), rebuilt on each replica. */
  readonly code: CallableRef;
  readonly args: readonly unknown[];
  readonly config: DeploymentConfig;
  /** Code + args + config hash, or config.version when given: a change rolls the replicas. */
  readonly version: string;
}

export interface HttpConfig {
  readonly host: string;
  readonly port: number;
}

export interface AppSpec {
  readonly name: string;
  /** null: no HTTP route (handles only). */
  readonly routePrefix: string | null;
  readonly ingress: string;
  readonly deployments: readonly DeploymentSpec[];
}

export type TrackRole = 'live' | 'canary' | 'shadow';

export interface DeployRequest {
  readonly app: AppSpec;
  readonly http: HttpConfig | null;
  readonly canary?: { readonly weight: number };
  readonly shadow?: { readonly weight: number };
}

/** Routing table of one deployment (key `app|track|deployment`). */
export interface DeploymentTable {
  /** Running replicas: their actor handle, and where callers on the same machine reach them directly. */
  readonly replicas: readonly { readonly replicaId: string; readonly handle: unknown; readonly endpoint?: DirectEndpoint }[];
  readonly maxOngoingRequests: number;
  readonly maxQueuedRequests: number;
  readonly exists: boolean;
}

/** Routing table of one application (key `app:NAME`). */
export interface AppTable {
  readonly exists: boolean;
  readonly routePrefix: string | null;
  readonly tracks: readonly { readonly track: string; readonly role: TrackRole; readonly weight: number; readonly ingress: string }[];
}

/** Routes of the proxy (key `proxy`). */
export interface ProxyTable {
  readonly routes: readonly { readonly app: string; readonly routePrefix: string }[];
}

export function depKey(app: string, track: string, deployment: string): string {
  return `dep:${app}|${track}|${deployment}`;
}
export function appKey(app: string): string {
  return `app:${app}`;
}
export const PROXY_KEY = 'proxy';

/** A request as it travels from the proxy to a replica. */
export interface HttpRequestData {
  readonly method: string;
  readonly url: string;
  readonly headers: readonly [string, string][];
  readonly body: Uint8Array | null;
}

/** A response as it travels back. */
export interface HttpResponseData {
  readonly status: number;
  readonly headers: readonly [string, string][];
  readonly body: Uint8Array | string;
  /** True when the replica failed the request (user code threw): counted as an error. */
  readonly error?: boolean;
  /** fetch is a generator: nothing ran; the proxy asks again through __serve_http_stream. */
  readonly stream?: boolean;
}

/**
 * A method name no user method can have: `__serve_call(TAKE_METHOD, meta, holdId)` returns (or throws)
 * a reply the replica held for a direct request because it was not a plain value (see direct-server.ts).
 */
export const TAKE_METHOD = '\u0000serve:take';

/** What __serve_call answers for a generator method (the caller then streams it through __serve_stream). */
export const STREAM_MARKER = '__serveStream__';

export interface CallMeta {
  readonly requestId: string;
}

/** Upper bounds of the latency histogram buckets (ms); a last bucket counts the rest. */
export const LATENCY_BUCKETS_MS = [0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000] as const;

export interface ReplicaStats {
  readonly ongoing: number;
  readonly requests: number;
  readonly errors: number;
  /** Counts per bucket of LATENCY_BUCKETS_MS, plus one for slower. */
  readonly latencyBuckets: readonly number[];
  /** Of `requests`, those that came over the direct path (not the core's actor calls). */
  readonly directRequests?: number;
  /** Of those, the requests that came over the in-process lane (callers in the replica's process). */
  readonly localRequests?: number;
}
