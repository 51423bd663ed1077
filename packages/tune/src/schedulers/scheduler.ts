/**
 * The scheduler interface: a scheduler decides *when to stop* (searchers decide what to try). It is a
 * pure policy: `onTrialResult(trial, result)` returns 'continue' | 'pause' | 'stop' from the results
 * it has seen, which it keeps as plain data (`save`/`restore`), so a restored experiment decides the
 * same way. The Tuner applies a verdict at once (stop/pause end the trial's run and free its
 * placement group). `metric`/`mode` come from `tuneConfig` only, through `setup`.
 */
import { TuneConfigError } from '../errors.js';

export type SchedulerDecision = 'continue' | 'pause' | 'stop';

/** What a scheduler sees of a trial. */
export interface TrialView {
  readonly trialId: string;
  readonly config: Readonly<Record<string, unknown>>;
}

/** One reported result: the user's metrics plus `training_iteration` (1-based) and `time_total_s`. */
export type TrialResult = Readonly<Record<string, unknown>> & { readonly training_iteration: number; readonly time_total_s: number };

export interface SchedulerSetup {
  readonly metric: string | undefined;
  readonly mode: 'min' | 'max';
}

/** After a 'pause', how PBT wants the trial continued: with `config`, from `donorTrialId`'s latest checkpoint. */
export interface ExploitDirective {
  readonly config: Record<string, unknown>;
  readonly donorTrialId: string;
}

/** Decides when trials stop. */
export interface TrialScheduler {
  /** Called once. @throws TuneConfigError when the scheduler needs a metric and none is set. */
  setup(setup: SchedulerSetup): void;
  onTrialAdd(trial: TrialView): void;
  onTrialResult(trial: TrialView, result: TrialResult): SchedulerDecision;
  onTrialComplete(trial: TrialView, result: TrialResult | undefined): void;
  /** For a trial this scheduler paused: how to continue it (PBT's exploit/explore); undefined = leave paused. */
  onTrialPaused?(trial: TrialView): ExploitDirective | undefined;
  /** Plain data that `restore` takes back. */
  save(): unknown;
  restore(state: unknown): void;
}

/** Linear-interpolated percentile (numpy's default) of `values`, p in [0, 100]. */
export function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const idx = (p / 100) * (s.length - 1);
  const lo = Math.floor(idx);
  const hi = Math.ceil(idx);
  return s[lo] + (s[hi] - s[lo]) * (idx - lo);
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Reads the metric as a number, or undefined. */
export function metricOf(result: Readonly<Record<string, unknown>>, metric: string): number | undefined {
  const v = result[metric];
  return typeof v === 'number' && !Number.isNaN(v) ? v : undefined;
}

/** Validates a scheduler constructor's options: unknown keys, numbers in range. */
export function checkOptions(where: string, opts: object, valid: readonly string[]): void {
  const unknown = Object.keys(opts).filter((k) => !valid.includes(k));
  if (unknown.length) {
    throw new TuneConfigError(`${where}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}.`, { hint: `Valid options: ${valid.join(', ')}.` });
  }
}


export function checkNumber(where: string, name: string, v: unknown, min: number, opts: { integer?: boolean; exclusiveMin?: boolean; max?: number } = {}): number {
  const ok =
    typeof v === 'number' && Number.isFinite(v) && (opts.exclusiveMin ? v > min : v >= min) && (opts.max === undefined || v <= opts.max) && (!opts.integer || Number.isInteger(v));
  if (!ok) {
    const range = `${opts.integer ? 'an integer' : 'a number'} ${opts.exclusiveMin ? '>' : '≥'} ${min}${opts.max !== undefined ? ` and ≤ ${opts.max}` : ''}`;
    throw new TuneConfigError(`The value of ${where} ${name} is ${JSON.stringify(v)}, but it must be ${range}.`);
  }
  return v as number;
}

export function needMetric(where: string, s: SchedulerSetup): string {
  if (!s.metric) {
    throw new TuneConfigError(`${where} needs tuneConfig.metric and tuneConfig.mode to compare trials.`, { hint: "Set tuneConfig: { metric: 'accuracy', mode: 'max' }." });
  }
  return s.metric;
}
