/**
 * MedianStoppingRule (Golovin et al., "Google Vizier", 2017): after `gracePeriod`, a trial stops when its
 * best result so far is worse than the median of the other trials' running averages at the same
 * progress, once `minSamplesRequired` other trials have results.
 */
import { checkNumber, checkOptions, median, metricOf, needMetric, type SchedulerDecision, type SchedulerSetup, type TrialResult, type TrialScheduler, type TrialView } from './scheduler.js';

export interface MedianStoppingRuleOptions {
  /** Result field that measures progress ['time_total_s']. */
  timeAttr?: string;
  /** Progress before a trial can be stopped [60]. */
  gracePeriod?: number;
  /** Other trials needed to compute a median [3]. */
  minSamplesRequired?: number;
}

/** Stops trials that do worse than the median. */
export class MedianStoppingRule implements TrialScheduler {
  readonly timeAttr: string;
  readonly gracePeriod: number;
  readonly minSamplesRequired: number;
  private metric = '';
  private sign = 1;
  /** trialId → [[t, value], ...] */
  private history: Record<string, [number, number][]> = {};

  /** The options it was built with (kept in experiment_state.json for Tuner.restore). */
  options: unknown;
  constructor(opts: MedianStoppingRuleOptions = {}) {
    this.options = opts;
    checkOptions('MedianStoppingRule', opts, ['timeAttr', 'gracePeriod', 'minSamplesRequired']);
    this.timeAttr = opts.timeAttr ?? 'time_total_s';
    this.gracePeriod = checkNumber('MedianStoppingRule', 'gracePeriod', opts.gracePeriod ?? 60, 0);
    this.minSamplesRequired = checkNumber('MedianStoppingRule', 'minSamplesRequired', opts.minSamplesRequired ?? 3, 1, { integer: true });
  }

  setup(s: SchedulerSetup): void {
    this.metric = needMetric('MedianStoppingRule', s);
    this.sign = s.mode === 'max' ? 1 : -1;
  }

  onTrialAdd(): void {}

  onTrialResult(trial: TrialView, result: TrialResult): SchedulerDecision {
    const t = result[this.timeAttr];
    const v = metricOf(result, this.metric);
    if (typeof t !== 'number' || v === undefined) return 'continue';
    (this.history[trial.trialId] ??= []).push([t, v]);
    if (t < this.gracePeriod) return 'continue';
    const others = Object.entries(this.history)
      .filter(([id]) => id !== trial.trialId)
      .map(([, h]) => h.filter(([tt]) => tt <= t))
      .filter((h) => h.length > 0)
      .map((h) => h.reduce((a, [, x]) => a + x, 0) / h.length);
    if (others.length < this.minSamplesRequired) return 'continue';
    const best = Math.max(...this.history[trial.trialId].map(([, x]) => x * this.sign));
    return best < median(others.map((x) => x * this.sign)) ? 'stop' : 'continue';
  }

  onTrialComplete(): void {}

  save(): unknown {
    return { history: this.history };
  }

  restore(state: unknown): void {
    this.history = { ...(state as { history: Record<string, [number, number][]> }).history };
  }
}
