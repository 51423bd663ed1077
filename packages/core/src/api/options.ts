/**
 * Options for remote functions: validated once at `.options()` / `remote(fn, opts)` and frozen.
 * Unknown names, negative or non-finite amounts are rejected with a message listing what is valid.
 */
import {
  InvalidArgumentError,
  validateAmount,
  validateResources,
  describe,
  type ResourceMap,
} from '@samsara/ray-common';
import { parseLabelSelector, type LabelSelector, type SchedulingStrategy } from '@samsara/ray-scheduler';
import type { PlacementGroup } from './placement-group-handle.js';
import type { ResolvedTaskOptions } from '../runtime/resolved-options.js';

/** Options of a remote function (all optional; defaults in brackets). */
export interface RemoteOptions {
  /** CPUs the task holds while it runs [1]. Fractions below 1 share a CPU. */
  numCpus?: number;
  /** GPUs the task holds [0]. */
  numGpus?: number;
  /** Bytes of memory the task reserves for scheduling [0]. */
  memory?: number;
  /** Custom resources by any name, e.g. `{ spark_executor: 1, camera: 0.5 }`. */
  resources?: ResourceMap;
  /** Retries on worker or node death [3]; -1 retries without limit. */
  maxRetries?: number;
  /** Also retry when user code throws: true for any error, or a list of error names [false]. */
  retryExceptions?: boolean | string[];
  /** Name shown in `rayts list tasks` and in errors [the function's name]. */
  name?: string;
  /** 'DEFAULT' | 'SPREAD' | { nodeId, soft } ['DEFAULT']. */
  scheduling?: SchedulingStrategy;
  /** Node labels the target node must match, e.g. `{ zone: 'b', soc: 'in(qcs6490,qcs8550)' }`. */
  labelSelector?: Record<string, string>;
  /** Run inside a placement group's reserved resources. */
  placementGroup?: PlacementGroup;
  /** Bundle of the placement group [-1: any bundle]. */
  bundleIndex?: number;
  /**
   * For a generator function (streaming, see ObjectRefGenerator): the producer pauses while this many
   * items it yielded are not yet consumed by the caller's iterator [-1: unbounded, as in Ray]. Ignored
   * for other functions.
   */
  generatorBackpressure?: number;
}

export type { ResolvedTaskOptions } from '../runtime/resolved-options.js';

export const TASK_OPTION_NAMES = [
  'numCpus', 'numGpus', 'memory', 'resources', 'maxRetries', 'retryExceptions', 'name', 'scheduling',
  'labelSelector', 'placementGroup', 'bundleIndex', 'generatorBackpressure',
] as const;

/** `generatorBackpressure` as a number of items, 0 for unbounded (undefined or -1). */
export function resolveGeneratorBackpressure(v: unknown, where: string): number {
  if (v === undefined || v === -1) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new InvalidArgumentError(`${where}: generatorBackpressure must be an integer ≥ 1 (items the producer may run ahead), or -1 for unbounded; got ${describe(v)}.`);
  }
  return v;
}

export function checkKnownKeys(opts: object, valid: readonly string[], where: string): void {
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) {
    throw new InvalidArgumentError(`${where}: options must be an object, got ${describe(opts)}.`, {
      hint: `Valid options: ${valid.join(', ')}.`,
    });
  }
  const unknown = Object.keys(opts).filter((k) => !valid.includes(k));
  if (unknown.length) {
    throw new InvalidArgumentError(`${where}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}.`, {
      hint: `Valid options: ${valid.join(', ')}.`,
    });
  }
}

export function resolveScheduling(s: unknown, where: string): SchedulingStrategy {
  if (s === undefined || s === 'DEFAULT') return 'DEFAULT';
  if (s === 'SPREAD') return 'SPREAD';
  if (typeof s === 'object' && s !== null && typeof (s as { nodeId?: unknown }).nodeId === 'string') {
    const { nodeId, soft, ...rest } = s as { nodeId: string; soft?: unknown };
    if (Object.keys(rest).length || (soft !== undefined && typeof soft !== 'boolean')) {
      throw new InvalidArgumentError(`${where}: scheduling node affinity takes { nodeId: string, soft?: boolean }.`);
    }
    return Object.freeze({ nodeId, soft: soft === true });
  }
  throw new InvalidArgumentError(`${where}: scheduling must be 'DEFAULT', 'SPREAD' or { nodeId, soft? }, got ${describe(s)}.`, {
    hint: "Example: { scheduling: 'SPREAD' } or { scheduling: { nodeId: (await nodes())[0].nodeId, soft: true } }.",
  });
}

/** Builds the resource demand from numCpus/numGpus/memory/resources. */
export function resolveDemand(o: RemoteOptions, where: string, defaultCpus: number): ResourceMap {
  const demand: ResourceMap = { ...validateResources(o.resources, where) };
  for (const reserved of ['CPU', 'GPU', 'memory']) {
    if (reserved in demand) {
      throw new InvalidArgumentError(`${where}: resources.${reserved} is set through numCpus/numGpus/memory, not resources.`);
    }
  }
  const cpus = o.numCpus === undefined ? defaultCpus : validateAmount(o.numCpus, `${where}: numCpus`);
  if (cpus > 0) demand.CPU = cpus;
  if (o.numGpus !== undefined && validateAmount(o.numGpus, `${where}: numGpus`) > 0) demand.GPU = o.numGpus;
  if (o.memory !== undefined) {
    validateAmount(o.memory, `${where}: memory`);
    if (o.memory > 0) demand.memory = Math.ceil(o.memory);
  }
  return demand;
}

export function resolveRetries(v: unknown, where: string, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -1) {
    throw new InvalidArgumentError(`${where}: ${name} must be an integer ≥ -1 (-1 = no limit), got ${describe(v)}.`);
  }
  return v;
}

export function resolveTaskOptions(o: RemoteOptions, where: string): ResolvedTaskOptions {
  checkKnownKeys(o, TASK_OPTION_NAMES, where);
  const demand = resolveDemand(o, where, 1);
  const maxRetries = resolveRetries(o.maxRetries, where, 'maxRetries', 3);
  let retryExceptions: boolean | readonly string[] = false;
  if (o.retryExceptions !== undefined) {
    const r = o.retryExceptions;
    if (typeof r === 'boolean') retryExceptions = r;
    else if (Array.isArray(r) && r.every((x) => typeof x === 'string')) retryExceptions = Object.freeze([...r]);
    else throw new InvalidArgumentError(`${where}: retryExceptions must be a boolean or a list of error names, got ${describe(r)}.`);
  }
  if (o.name !== undefined && typeof o.name !== 'string') {
    throw new InvalidArgumentError(`${where}: name must be a string, got ${describe(o.name)}.`);
  }
  const bundleIndex = o.bundleIndex ?? -1;
  if (!Number.isInteger(bundleIndex) || bundleIndex < -1) {
    throw new InvalidArgumentError(`${where}: bundleIndex must be an integer ≥ -1, got ${describe(o.bundleIndex)}.`);
  }
  if (o.bundleIndex !== undefined && !o.placementGroup) {
    throw new InvalidArgumentError(`${where}: bundleIndex needs placementGroup.`);
  }
  return Object.freeze({
    demand: Object.freeze(demand),
    maxRetries,
    retryExceptions,
    name: o.name,
    scheduling: resolveScheduling(o.scheduling, where),
    labelSelector: o.labelSelector === undefined ? undefined : parseLabelSelector(o.labelSelector, where),
    placementGroup: o.placementGroup,
    bundleIndex,
    generatorBackpressure: resolveGeneratorBackpressure(o.generatorBackpressure, where),
  });
}
