/**
 * @samsara/ray-tune — hyperparameter search with early stopping on a rayts cluster; trials reserve
 * placement groups (e.g. a CPU bundle and a camera bundle) so models can be evaluated on dash cams.
 *
 * @example
 * import { get, remote } from '@samsara/ray';
 * import { Tuner, tune, ASHAScheduler, TPESearch } from '@samsara/ray-tune';
 * async function trainable(config, ctx) {
 *   for (let epoch = 1; epoch <= 20; epoch++) await ctx.report({ accuracy: 1 - config.lr * epoch });
 * }
 * const grid = await new Tuner(trainable, {
 *   paramSpace: { lr: tune.loguniform(1e-4, 1e-1) },
 *   tuneConfig: { metric: 'accuracy', mode: 'max', numSamples: 8, scheduler: new ASHAScheduler({ maxT: 20 }), searchAlg: new TPESearch({ seed: 1 }) },
 * }).fit();
 * console.log(grid.getBestResult().config);
 */
export { Tuner, type Trainable, type TunerStats } from './tuner.js';
export type { TunerOptions, TuneConfig, RunConfig, FailureConfig, StopCriteria } from './config.js';
export { tune, Domain, FloatDomain, IntDomain, ChoiceDomain, GridDomain, FunctionDomain, parseSearchSpace, type ParsedSpace, type SpaceLeaf } from './search-space.js';
export { createRng, rngFromState, type Rng } from './rng.js';
export { FINISHED, type Searcher, type SearcherSetup } from './search/searcher.js';
export { BasicVariantGenerator, type BasicVariantGeneratorOptions } from './search/basic-variant.js';
export { TPESearch, type TPESearchOptions } from './search/tpe.js';
export type { TrialScheduler, SchedulerDecision, SchedulerSetup, TrialView, TrialResult, ExploitDirective } from './schedulers/scheduler.js';
export { FIFOScheduler } from './schedulers/fifo.js';
export { ASHAScheduler, Bracket, type ASHASchedulerOptions } from './schedulers/asha.js';
export { HyperBandScheduler, type HyperBandSchedulerOptions } from './schedulers/hyperband.js';
export { MedianStoppingRule, type MedianStoppingRuleOptions } from './schedulers/median-stopping.js';
export { PopulationBasedTraining, type PopulationBasedTrainingOptions, type Mutation } from './schedulers/pbt.js';
export { ResultGrid, type Result, type ResultCheckpoint, type TrialErrorInfo } from './result-grid.js';
export type { TrialStatus, TrialRecord, TrialPlacement } from './trial.js';
export type { TrialContext, BundleOptions } from './trial-runner.js';
export { formatTable } from './progress-table.js';
export { writePlot } from './plot.js';
export { SearchSpaceError, TuneConfigError, MetricNotReportedError, TrialFailedError, TuneRestoreError, type TuneErrorCode } from './errors.js';
/**
 * Internal: the worker-side entry of a trial's task (the Tuner's shipped wrapper imports this package
 * and calls it). Not for user code.
 */
export { runTrial, type TrialInit, type TrialRunOutcome } from './trial-runner.js';
