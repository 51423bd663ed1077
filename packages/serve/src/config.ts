/**
 * Options of deployments and of serve.run(), resolved once into frozen plain data; unknown keys are
 * an error that lists the valid ones.
 */
import { InvalidArgumentError, type ActorOptions } from '@samsara/ray';
import type { AutoscalingConfig } from './autoscaling/policy.js';
import { normalizePrefix } from './http/router.js';
import type { DeploymentConfig, HttpConfig } from './internal/spec.js';

/** Actor options a replica may take (placement and resources; names and lifetime belong to Serve). */
export type ReplicaActorOptions = Pick<ActorOptions, 'numCpus' | 'numGpus' | 'memory' | 'resources' | 'scheduling' | 'labelSelector' | 'maxRestarts'>;

/** Options of {@link deployment} (defaults in brackets). */
export interface DeploymentOptions {
  /** Name within its application [the class name]. */
  name?: string;
  /** Fixed replica count [1]; ignored with autoscalingConfig. */
  numReplicas?: number;
  /** Requests a replica runs at once; more wait in the caller's queue [5]. */
  maxOngoingRequests?: number;
  /** Requests that may wait for a replica per caller; beyond: BackPressureError / HTTP 503 [-1, no limit]. */
  maxQueuedRequests?: number;
  /** Scale on load between minReplicas and maxReplicas. */
  autoscalingConfig?: AutoscalingConfig;
  /** Resources and placement of each replica actor. */
  rayActorOptions?: ReplicaActorOptions;
  /** Version label: replicas roll only when it changes [a hash of code, arguments and options]. */
  version?: string;
}

const DEPLOYMENT_KEYS = ['name', 'numReplicas', 'maxOngoingRequests', 'maxQueuedRequests', 'autoscalingConfig', 'rayActorOptions', 'version'];
const AUTOSCALING_KEYS = ['minReplicas', 'maxReplicas', 'initialReplicas', 'targetOngoingRequests', 'upscaleDelayS', 'downscaleDelayS'];
const ACTOR_KEYS = ['numCpus', 'numGpus', 'memory', 'resources', 'scheduling', 'labelSelector', 'maxRestarts'];

export function checkKeys(o: unknown, valid: readonly string[], where: string): void {
  if (o === undefined) return;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new InvalidArgumentError(`${where} must be an object, got ${JSON.stringify(o)}.`);
  for (const k of Object.keys(o)) {
    if (!valid.includes(k)) throw new InvalidArgumentError(`${where}: unknown option "${k}"; valid options are ${valid.join(', ')}.`);
  }
}

function int(v: unknown, where: string, name: string, min: number, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new InvalidArgumentError(`${where}: ${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}.`);
  return v;
}
function num(v: unknown, where: string, name: string, min: number, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw new InvalidArgumentError(`${where}: ${name} must be a number ≥ ${min}, got ${JSON.stringify(v)}.`);
  return v;
}

/** Validates deployment options into a frozen DeploymentConfig (name apart). */
export function resolveDeploymentOptions(o: DeploymentOptions, where: string): { name?: string; config: DeploymentConfig } {
  checkKeys(o, DEPLOYMENT_KEYS, where);
  if (o.name !== undefined && (typeof o.name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(o.name))) {
    throw new InvalidArgumentError(`${where}: name must be letters, digits, '_', '.' or '-', got ${JSON.stringify(o.name)}.`);
  }
  const maxOngoingRequests = int(o.maxOngoingRequests, where, 'maxOngoingRequests', 1, 5);
  const maxQueuedRequests = o.maxQueuedRequests === -1 ? -1 : int(o.maxQueuedRequests, where, 'maxQueuedRequests', 0, -1);
  let autoscalingConfig: DeploymentConfig['autoscalingConfig'];
  if (o.autoscalingConfig !== undefined) {
    const a = o.autoscalingConfig;
    const w = `${where}: autoscalingConfig`;
    checkKeys(a, AUTOSCALING_KEYS, w);
    const minReplicas = int(a.minReplicas, w, 'minReplicas', 0, 1);
    const maxReplicas = int(a.maxReplicas, w, 'maxReplicas', 1, Math.max(minReplicas, 4));
    if (minReplicas > maxReplicas) throw new InvalidArgumentError(`${w}: minReplicas (${minReplicas}) must be ≤ maxReplicas (${maxReplicas}).`);
    const initialReplicas = int(a.initialReplicas, w, 'initialReplicas', 0, Math.max(minReplicas, 1));
    if (initialReplicas < minReplicas || initialReplicas > maxReplicas) {
      throw new InvalidArgumentError(`${w}: initialReplicas (${initialReplicas}) must be within minReplicas (${minReplicas}) and maxReplicas (${maxReplicas}).`);
    }
    autoscalingConfig = Object.freeze({
      minReplicas,
      maxReplicas,
      initialReplicas,
      targetOngoingRequests: num(a.targetOngoingRequests, w, 'targetOngoingRequests', 0.001, 2),
      upscaleDelayS: num(a.upscaleDelayS, w, 'upscaleDelayS', 0, 1),
      downscaleDelayS: num(a.downscaleDelayS, w, 'downscaleDelayS', 0, 10),
    });
    if (o.numReplicas !== undefined) throw new InvalidArgumentError(`${where}: give numReplicas or autoscalingConfig, not both.`);
  }
  const numReplicas = autoscalingConfig ? autoscalingConfig.initialReplicas : int(o.numReplicas, where, 'numReplicas', 0, 1);
  checkKeys(o.rayActorOptions, ACTOR_KEYS, `${where}: rayActorOptions`);
  if (o.version !== undefined && (typeof o.version !== 'string' || !o.version)) throw new InvalidArgumentError(`${where}: version must be a non-empty string.`);
  return {
    name: o.name,
    config: Object.freeze({ numReplicas, maxOngoingRequests, maxQueuedRequests, autoscalingConfig, rayActorOptions: Object.freeze({ ...(o.rayActorOptions ?? {}) }), version: o.version }),
  };
}

/** Options of serve.run() (defaults in brackets). */
export interface ServeRunOptions {
  /** Application name ['default']. */
  name?: string;
  /** HTTP route prefix; null serves no HTTP route ['/']. */
  routePrefix?: string | null;
  /** Port of the HTTP proxy, fixed by the first application [8000]. */
  port?: number;
  /** Host the proxy binds ['127.0.0.1']. */
  host?: string;
  /** Deploy as a canary of the running application with this share of its traffic (0..1). */
  canary?: { weight: number };
  /** Deploy as a shadow: mirror this fraction of the live traffic to it, discard its answers (0..1). */
  shadow?: { weight: number };
  /** How long to wait for the application to be RUNNING, in ms [120000]. */
  timeoutMs?: number;
}

export interface ResolvedRunOptions {
  readonly name: string;
  readonly routePrefix: string | null;
  readonly http: HttpConfig;
  readonly canary?: { readonly weight: number };
  readonly shadow?: { readonly weight: number };
  readonly timeoutMs: number;
}

export function resolveRunOptions(o: ServeRunOptions): ResolvedRunOptions {
  const where = 'serve.run()';
  checkKeys(o, ['name', 'routePrefix', 'port', 'host', 'canary', 'shadow', 'timeoutMs'], where);
  const name = o.name ?? 'default';
  if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(name)) throw new InvalidArgumentError(`${where}: name must be letters, digits, '_', '.' or '-', got ${JSON.stringify(o.name)}.`);
  let routePrefix: string | null = '/';
  if (o.routePrefix === null) routePrefix = null;
  else if (o.routePrefix !== undefined) {
    if (typeof o.routePrefix !== 'string' || !o.routePrefix.startsWith('/')) throw new InvalidArgumentError(`${where}: routePrefix must start with '/', got ${JSON.stringify(o.routePrefix)}.`);
    routePrefix = normalizePrefix(o.routePrefix);
  }
  const port = int(o.port, where, 'port', 0, 8000);
  if (port > 65535) throw new InvalidArgumentError(`${where}: port must be ≤ 65535, got ${port}.`);
  const host = o.host ?? '127.0.0.1';
  if (typeof host !== 'string' || !host) throw new InvalidArgumentError(`${where}: host must be a non-empty string.`);
  const frac = (v: unknown, what: string): { weight: number } | undefined => {
    if (v === undefined) return undefined;
    checkKeys(v, ['weight'], `${where}: ${what}`);
    const w = (v as { weight?: unknown }).weight;
    if (typeof w !== 'number' || !(w >= 0 && w <= 1)) throw new InvalidArgumentError(`${where}: ${what}.weight must be a number from 0 to 1, got ${JSON.stringify(w)}.`);
    return Object.freeze({ weight: w });
  };
  const canary = frac(o.canary, 'canary');
  const shadow = frac(o.shadow, 'shadow');
  if (canary && shadow) throw new InvalidArgumentError(`${where}: give canary or shadow, not both.`);
  return Object.freeze({ name, routePrefix, http: Object.freeze({ host, port }), canary, shadow, timeoutMs: int(o.timeoutMs, where, 'timeoutMs', 1, 120_000) });
}
