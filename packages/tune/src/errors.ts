/**
 * Tune's errors. Each is a RayError subclass from `@samsara/ray` (so `isRayError` and the core's `code`
 * work), with a stable `tuneCode` naming the Tune-level reason:
 * - `SearchSpaceError` (INVALID_ARGUMENT / TUNE_SEARCH_SPACE): a search space entry Tune cannot sample; names the path.
 * - `TuneConfigError` (INVALID_ARGUMENT / TUNE_CONFIG): bad Tuner, scheduler or searcher options; names the option and its legal range.
 * - `MetricNotReportedError` (RAY_ERROR / TUNE_METRIC_MISSING): a result without the metric the experiment optimises.
 * - `TrialFailedError` (RAY_ERROR / TUNE_TRIAL_FAILED): a trainable threw or its node died more often than `maxFailures` allows.
 * - `TuneRestoreError` (RAY_ERROR / TUNE_RESTORE): `Tuner.restore` found no usable experiment state.
 * Resources no node offers fail the trial with the core's `SchedulingError` (infeasible: true).
 */
import { InvalidArgumentError, RayError } from '@samsara/ray';

type ErrOpts = { cause?: unknown; hint?: string; ids?: Record<string, string> };

export type TuneErrorCode = 'TUNE_SEARCH_SPACE' | 'TUNE_CONFIG' | 'TUNE_METRIC_MISSING' | 'TUNE_TRIAL_FAILED' | 'TUNE_RESTORE';

/** A search space entry that cannot be sampled. `path` is the dotted key (`model.layers[1]`). */
export class SearchSpaceError extends InvalidArgumentError {
  readonly tuneCode: TuneErrorCode = 'TUNE_SEARCH_SPACE';
  constructor(readonly path: string, message: string, opts: ErrOpts = {}) {
    super(`paramSpace.${path}: ${message}`, opts);
  }
}

/** Bad options of the Tuner, a scheduler or a searcher. */
export class TuneConfigError extends InvalidArgumentError {
  readonly tuneCode: TuneErrorCode = 'TUNE_CONFIG';
}

/** A result lacked the metric that `tuneConfig.metric` names. */
export class MetricNotReportedError extends RayError {
  readonly tuneCode: TuneErrorCode = 'TUNE_METRIC_MISSING';
  constructor(readonly metric: string, readonly trialId: string | undefined, reported: readonly string[], opts: ErrOpts = {}) {
    super(
      trialId
        ? `Trial ${trialId} reported a result without the metric "${metric}" (it reported: ${reported.join(', ') || 'nothing'}).`
        : `No trial reported the metric "${metric}".`,
      { hint: `Report it with ctx.report({ ${metric}: value }), or set tuneConfig.metric to one of the keys the trainable reports.`, ...opts, ids: { ...(trialId ? { trialId } : {}), ...opts.ids } },
    );
  }
}

/** A trial that ended in ERROR: the trainable threw, or its node or camera died more than `maxFailures` times. */
export class TrialFailedError extends RayError {
  readonly tuneCode: TuneErrorCode = 'TUNE_TRIAL_FAILED';
}

/** `Tuner.restore` could not read the experiment. */
export class TuneRestoreError extends RayError {
  readonly tuneCode: TuneErrorCode = 'TUNE_RESTORE';
}
