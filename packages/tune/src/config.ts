/**
 * Tuner options, resolved once into a frozen form; unknown keys are errors listing the valid ones.
 */
import { resolve } from 'node:path';
import type { ResourceMap } from '@samsara/ray';
import { TuneConfigError } from './errors.js';
import { FIFOScheduler } from './schedulers/fifo.js';
import type { TrialScheduler } from './schedulers/scheduler.js';
import { BasicVariantGenerator } from './search/basic-variant.js';
import type { Searcher } from './search/searcher.js';

export interface TuneConfig {
  /** The metric schedulers and searchers optimise, and getBestResult ranks by. */
  metric?: string;
  /** 'max' or 'min' ['max']. */
  mode?: 'min' | 'max';
  /** Samples of the search space [1]; with gridSearch, each grid point this many times. */
  numSamples?: number;
  /** Trials running at once [as many as the cluster's resources fit]. */
  maxConcurrentTrials?: number;
  /** When trials stop [FIFOScheduler]. */
  scheduler?: TrialScheduler;
  /** What to try [BasicVariantGenerator]. */
  searchAlg?: Searcher;
}

export interface FailureConfig {
  /** Restarts of a failed trial from its last checkpoint [0]; -1 = no limit. */
  maxFailures?: number;
}

/** Stop criteria: `{ metric: threshold }` (stop once result[metric] ≥ threshold), or a function of the result. */
export type StopCriteria = Record<string, number> | ((trialId: string, result: Readonly<Record<string, unknown>>) => boolean);

export interface RunConfig {
  /** Experiment name, the directory under storagePath [`tune_<date>`]. */
  name?: string;
  /** Where experiments are written ['./tune-results']. */
  storagePath?: string;
  failureConfig?: FailureConfig;
  stop?: StopCriteria;
  /** Checkpoints kept per trial, newest first [all]. */
  keepCheckpoints?: number;
  /** Wall-clock budget of the experiment in seconds: running trials stop, no new ones start [none]. */
  timeBudgetS?: number;
  /** 0: silent; 1: live trial table on a TTY [1]. */
  verbose?: 0 | 1;
}

export interface TunerOptions {
  /** Parameters: constants, nested objects and arrays, tune.* domains. */
  paramSpace?: Record<string, unknown>;
  tuneConfig?: TuneConfig;
  /** Bundles of the placement group each trial gets; the trainable runs on bundle 0 [[{ CPU: 1 }]]. */
  resourcesPerTrial?: ResourceMap[];
  runConfig?: RunConfig;
}

export interface ResolvedTunerOptions {
  readonly paramSpace: Record<string, unknown>;
  readonly metric?: string;
  readonly mode: 'min' | 'max';
  readonly numSamples: number;
  readonly maxConcurrentTrials?: number;
  readonly scheduler: TrialScheduler;
  readonly searchAlg: Searcher;
  readonly resourcesPerTrial: readonly Readonly<ResourceMap>[];
  readonly name: string;
  readonly storagePath: string;
  readonly maxFailures: number;
  readonly stop?: StopCriteria;
  readonly keepCheckpoints?: number;
  readonly timeBudgetS?: number;
  readonly verbose: 0 | 1;
}

function known(where: string, o: unknown, valid: string[]): Record<string, unknown> {
  if (o === undefined) return {};
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new TuneConfigError(`${where} must be an object, got ${JSON.stringify(o)}.`);
  const unknown = Object.keys(o).filter((k) => !valid.includes(k));
  if (unknown.length) throw new TuneConfigError(`${where}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}.`, { hint: `Valid options: ${valid.join(', ')}.` });
  return o as Record<string, unknown>;
}

function posInt(where: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new TuneConfigError(`${where} must be an integer ≥ ${min}, got ${JSON.stringify(v)}.`);
  return v;
}

/** Validates and freezes Tuner options. */
export function resolveTunerOptions(opts: TunerOptions): ResolvedTunerOptions {
  const o = known('Tuner options', opts, ['paramSpace', 'tuneConfig', 'resourcesPerTrial', 'runConfig']) as TunerOptions;
  const tc = known('tuneConfig', o.tuneConfig, ['metric', 'mode', 'numSamples', 'maxConcurrentTrials', 'scheduler', 'searchAlg']) as TuneConfig;
  const rc = known('runConfig', o.runConfig, ['name', 'storagePath', 'failureConfig', 'stop', 'keepCheckpoints', 'timeBudgetS', 'verbose']) as RunConfig;
  const fc = known('runConfig.failureConfig', rc.failureConfig, ['maxFailures']) as FailureConfig;
  if (tc.metric !== undefined && (typeof tc.metric !== 'string' || !tc.metric)) throw new TuneConfigError(`tuneConfig.metric must be a non-empty string, got ${JSON.stringify(tc.metric)}.`);
  if (tc.mode !== undefined && tc.mode !== 'min' && tc.mode !== 'max') throw new TuneConfigError(`tuneConfig.mode must be 'min' or 'max', got ${JSON.stringify(tc.mode)}.`);
  if (tc.mode !== undefined && tc.metric === undefined) throw new TuneConfigError('tuneConfig.mode is set but tuneConfig.metric is not.', { hint: "Set both: { metric: 'accuracy', mode: 'max' }." });
  const resources = o.resourcesPerTrial ?? [{ CPU: 1 }];
  if (!Array.isArray(resources) || resources.length === 0) throw new TuneConfigError(`resourcesPerTrial must be a non-empty list of bundles, e.g. [{ CPU: 1 }, { camera: 1 }], got ${JSON.stringify(resources)}.`);
  resources.forEach((b, i) => {
    if (typeof b !== 'object' || b === null || Array.isArray(b) || Object.keys(b).length === 0) throw new TuneConfigError(`resourcesPerTrial[${i}] must be a non-empty object of resource amounts, got ${JSON.stringify(b)}.`);
    for (const [k, v] of Object.entries(b)) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new TuneConfigError(`resourcesPerTrial[${i}].${k} must be a number ≥ 0, got ${JSON.stringify(v)}.`);
    }
  });
  const sched = tc.scheduler ?? new FIFOScheduler();
  if (typeof (sched as TrialScheduler).onTrialResult !== 'function') throw new TuneConfigError('tuneConfig.scheduler must be a scheduler (FIFOScheduler, ASHAScheduler, ...), got an object without onTrialResult.');
  const search = tc.searchAlg ?? new BasicVariantGenerator();
  if (typeof (search as Searcher).suggest !== 'function') throw new TuneConfigError('tuneConfig.searchAlg must be a searcher (BasicVariantGenerator, TPESearch, ...), got an object without suggest.');
  if (rc.stop !== undefined && typeof rc.stop !== 'function') {
    for (const [k, v] of Object.entries(known('runConfig.stop', rc.stop, Object.keys(rc.stop as object)))) {
      if (typeof v !== 'number') throw new TuneConfigError(`runConfig.stop.${k} must be a number threshold, got ${JSON.stringify(v)}.`);
    }
  }
  if (rc.timeBudgetS !== undefined && !(typeof rc.timeBudgetS === 'number' && rc.timeBudgetS > 0)) throw new TuneConfigError(`runConfig.timeBudgetS must be a number > 0, got ${JSON.stringify(rc.timeBudgetS)}.`);
  const maxFailures = fc.maxFailures ?? 0;
  if (!Number.isInteger(maxFailures) || maxFailures < -1) throw new TuneConfigError(`runConfig.failureConfig.maxFailures must be an integer ≥ -1 (-1 = no limit), got ${JSON.stringify(fc.maxFailures)}.`);
  const name = rc.name ?? `tune_${new Date().toISOString().replace(/[:.]/g, '-')}`;
  if (typeof name !== 'string' || !name || /[\\/]/.test(name) || name === '.' || name === '..') throw new TuneConfigError(`runConfig.name must be a plain directory name, got ${JSON.stringify(rc.name)}.`);
  return Object.freeze({
    paramSpace: o.paramSpace ?? {},
    metric: tc.metric,
    mode: tc.mode ?? 'max',
    numSamples: tc.numSamples === undefined ? 1 : posInt('tuneConfig.numSamples', tc.numSamples),
    maxConcurrentTrials: tc.maxConcurrentTrials === undefined ? undefined : posInt('tuneConfig.maxConcurrentTrials', tc.maxConcurrentTrials),
    scheduler: sched,
    searchAlg: search,
    resourcesPerTrial: Object.freeze(resources.map((b) => Object.freeze({ ...b }))),
    name,
    storagePath: resolve(rc.storagePath ?? './tune-results'),
    maxFailures,
    stop: rc.stop,
    keepCheckpoints: rc.keepCheckpoints === undefined ? undefined : posInt('runConfig.keepCheckpoints', rc.keepCheckpoints),
    timeBudgetS: rc.timeBudgetS,
    verbose: rc.verbose ?? 1,
  });
}
