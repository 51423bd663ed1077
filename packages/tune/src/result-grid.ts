/**
 * ResultGrid: the outcome of `tuner.fit()` (or of an experiment directory, `ResultGrid.fromPath`).
 * Iterable over one {@link Result} per trial; `getBestResult`, `errors`, `toTable()`.
 */
import { join } from 'node:path';
import { fromPayload, readPayload } from './checkpoint.js';
import { MetricNotReportedError, TrialFailedError } from './errors.js';
import { ExperimentStore, readResults, type ExperimentState } from './experiment-store.js';
import { formatTable } from './progress-table.js';
import type { TrialRecord, TrialStatus } from './trial.js';

/** A saved checkpoint of a trial. */
export interface ResultCheckpoint {
  readonly path: string;
  readonly iteration: number;
  /** Reads it: the JSON value, the bytes, or `{ directory }` (the stored files' directory). */
  load(): unknown;
}

/** One trial's outcome. */
export interface Result {
  readonly trialId: string;
  readonly config: Readonly<Record<string, unknown>>;
  /** The last reported result (metrics plus training_iteration, time_total_s, telemetry…). */
  readonly metrics: Readonly<Record<string, unknown>>;
  readonly status: TrialStatus;
  /** The trial's directory. */
  readonly path: string;
  /** The latest kept checkpoint, if any. */
  readonly checkpoint?: ResultCheckpoint;
  readonly error?: TrialFailedError;
  /** Every result of the trial, read from its result.jsonl. */
  history(): Record<string, unknown>[];
}

/** A trial that ended in ERROR, with the trainable's stack. */
export interface TrialErrorInfo {
  readonly trialId: string;
  readonly config: Readonly<Record<string, unknown>>;
  readonly error: TrialFailedError;
  /** The error's stack as the trainable threw it (remote stack). */
  readonly stack: string;
}

export class ResultGrid implements Iterable<Result> {
  readonly results: readonly Result[];

  constructor(readonly path: string, readonly state: ExperimentState) {
    this.results = state.trials.map((t) => toResult(path, t));
  }

  /** Reads an experiment directory (`storagePath/name`). @throws TuneRestoreError when there is none. */
  static fromPath(path: string): ResultGrid {
    return new ResultGrid(path, ExperimentStore.readState(path));
  }

  get length(): number {
    return this.results.length;
  }

  [Symbol.iterator](): Iterator<Result> {
    return this.results[Symbol.iterator]();
  }

  get(i: number): Result {
    return this.results[i];
  }

  /** Trials that ended in ERROR. */
  get errors(): TrialErrorInfo[] {
    return this.results.filter((r) => r.status === 'ERROR' && r.error).map((r) => ({ trialId: r.trialId, config: r.config, error: r.error!, stack: r.error!.stack ?? '' }));
  }

  /** Number of trials that ended in ERROR. */
  get numErrors(): number {
    return this.errors.length;
  }

  /**
   * The best trial by `metric`/`mode` (default: the experiment's). scope 'last' ranks by each trial's
   * last result, 'all' by its best result ever.
   * @throws MetricNotReportedError when no trial reported the metric.
   */
  getBestResult(metric = this.state.metric, mode: 'min' | 'max' = this.state.mode, scope: 'last' | 'all' = 'last'): Result {
    if (!metric) throw new MetricNotReportedError('(none)', undefined, [], { hint: 'Pass a metric: grid.getBestResult("accuracy", "max"), or set tuneConfig.metric.' });
    let best: Result | undefined;
    let bestV = -Infinity;
    const sign = mode === 'max' ? 1 : -1;
    for (const r of this.results) {
      const values = scope === 'last' ? [r.metrics[metric]] : r.history().map((h) => h[metric]);
      for (const v of values) {
        if (typeof v === 'number' && !Number.isNaN(v) && v * sign > bestV) {
          bestV = v * sign;
          best = r;
        }
      }
    }
    if (!best) throw new MetricNotReportedError(metric, undefined, []);
    return best;
  }

  /** A text table of every trial: status, config, iterations, last metric, where it ran. */
  toTable(): string {
    return formatTable(this.state.trials, this.state.metric);
  }
}

function toResult(root: string, t: TrialRecord): Result {
  const path = join(root, t.dir);
  const last = t.checkpoints[t.checkpoints.length - 1];
  let error: TrialFailedError | undefined;
  if (t.error) {
    error = new TrialFailedError(`Trial ${t.trialId} failed: ${t.error.message}`, { ids: { trialId: t.trialId } });
    error.stack = t.error.stack;
  }
  return {
    trialId: t.trialId,
    config: t.config,
    metrics: t.lastResult ?? {},
    status: t.status,
    path,
    ...(last
      ? {
          checkpoint: {
            path: join(path, last.dir),
            iteration: last.iteration,
            load: () => fromPayload(readPayload(join(path, last.dir)), () => join(path, last.dir, 'files')),
          },
        }
      : {}),
    ...(error ? { error } : {}),
    history: () => readResults(path),
  };
}
