/**
 * ASHAScheduler: asynchronous successive halving (Li et al., "A System for Massively Parallel
 * Hyperparameter Tuning", 2020), as Ray's AsyncHyperBandScheduler with one bracket. Rungs sit at
 * `gracePeriod · reductionFactor^k` (below `maxT`); a trial reaching a rung is stopped unless its
 * metric is in the top `1/reductionFactor` of what earlier trials recorded there. Decisions never wait
 * for other trials. Rung records are plain data (`save`/`restore`).
 */
import { TuneConfigError } from '../errors.js';
import { checkNumber, checkOptions, metricOf, needMetric, percentile, type SchedulerDecision, type SchedulerSetup, type TrialResult, type TrialScheduler, type TrialView } from './scheduler.js';

export interface ASHASchedulerOptions {
  /** Result field that measures progress ['training_iteration']. */
  timeAttr?: string;
  /** Trials stop at this much progress [100]. */
  maxT?: number;
  /** Progress before the first rung [1]. */
  gracePeriod?: number;
  /** 1/reductionFactor of trials pass each rung [4]. */
  reductionFactor?: number;
}

/** One bracket of rungs: `[milestone, {trialId: metric}]`, highest milestone first. */
export class Bracket {
  readonly rungs: { milestone: number; recorded: Record<string, number> }[];

  constructor(minT: number, readonly maxT: number, readonly reductionFactor: number, readonly sign: 1 | -1) {
    const milestones: number[] = [];
    for (let m = minT; m < maxT; m *= reductionFactor) milestones.push(m);
    this.rungs = milestones.reverse().map((milestone) => ({ milestone, recorded: {} }));
  }

  /** Records `value` at every rung `t` reached for the first time; 'stop' if it is below that rung's cutoff. */
  onResult(trialId: string, t: number, value: number): SchedulerDecision {
    if (t >= this.maxT) return 'stop';
    for (const rung of this.rungs) {
      if (t < rung.milestone || trialId in rung.recorded) continue;
      const recorded = Object.values(rung.recorded);
      const signed = value * this.sign;
      let decision: SchedulerDecision = 'continue';
      if (recorded.length > 0) {
        const cutoff = percentile(recorded.map((v) => v * this.sign), (1 - 1 / this.reductionFactor) * 100);
        if (signed < cutoff) decision = 'stop';
      }
      rung.recorded[trialId] = value;
      return decision;
    }
    return 'continue';
  }

  /** One line per rung: milestone, how many recorded, the current cutoff. */
  debugString(): string {
    return this.rungs
      .map((r) => {
        const v = Object.values(r.recorded).map((x) => x * this.sign);
        const cutoff = v.length ? percentile(v, (1 - 1 / this.reductionFactor) * 100) * this.sign : undefined;
        return `rung ${r.milestone}: ${v.length} trials${cutoff !== undefined ? `, cutoff ${cutoff.toPrecision(4)}` : ''}`;
      })
      .join('\n');
  }
}

/** Asynchronous successive halving. */
export class ASHAScheduler implements TrialScheduler {
  readonly timeAttr: string;
  readonly maxT: number;
  readonly gracePeriod: number;
  readonly reductionFactor: number;
  protected metric = '';
  protected brackets: Bracket[] = [];
  protected assignment: Record<string, number> = {};
  private sign: 1 | -1 = 1;

  /** The options it was built with (kept in experiment_state.json for Tuner.restore). */
  options: unknown;
  constructor(opts: ASHASchedulerOptions = {}, protected readonly numBrackets = 1) {
    this.options = opts;
    checkOptions('ASHAScheduler', opts, ['timeAttr', 'maxT', 'gracePeriod', 'reductionFactor']);
    this.timeAttr = opts.timeAttr ?? 'training_iteration';
    this.maxT = checkNumber('ASHAScheduler', 'maxT', opts.maxT ?? 100, 0, { exclusiveMin: true });
    this.gracePeriod = checkNumber('ASHAScheduler', 'gracePeriod', opts.gracePeriod ?? 1, 0, { exclusiveMin: true });
    this.reductionFactor = checkNumber('ASHAScheduler', 'reductionFactor', opts.reductionFactor ?? 4, 2);
    if (this.gracePeriod > this.maxT) {
      throw new TuneConfigError(`ASHAScheduler: gracePeriod (${this.gracePeriod}) must not exceed maxT (${this.maxT}).`);
    }
  }

  setup(s: SchedulerSetup): void {
    this.metric = needMetric(this.constructor.name, s);
    this.sign = s.mode === 'max' ? 1 : -1;
    this.brackets = [];
    for (let b = 0; b < this.numBrackets; b++) this.brackets.push(new Bracket(this.gracePeriod * this.reductionFactor ** b, this.maxT, this.reductionFactor, this.sign));
  }

  onTrialAdd(trial: TrialView): void {
    if (!(trial.trialId in this.assignment)) this.assignment[trial.trialId] = Object.keys(this.assignment).length % this.brackets.length;
  }

  onTrialResult(trial: TrialView, result: TrialResult): SchedulerDecision {
    const t = result[this.timeAttr];
    const v = metricOf(result, this.metric);
    if (typeof t !== 'number' || v === undefined) return 'continue';
    this.onTrialAdd(trial);
    return this.brackets[this.assignment[trial.trialId]].onResult(trial.trialId, t, v);
  }

  onTrialComplete(): void {}

  debugString(): string {
    return this.brackets.map((b, i) => `bracket ${i}:\n${b.debugString()}`).join('\n');
  }

  save(): unknown {
    return { assignment: this.assignment, rungs: this.brackets.map((b) => b.rungs) };
  }

  restore(state: unknown): void {
    const s = state as { assignment: Record<string, number>; rungs: Bracket['rungs'][] };
    this.assignment = { ...s.assignment };
    s.rungs.forEach((r, i) => {
      if (this.brackets[i]) this.brackets[i].rungs.splice(0, this.brackets[i].rungs.length, ...r);
    });
  }
}
