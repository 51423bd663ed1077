/**
 * PopulationBasedTraining (Jaderberg et al., 2017). Every `perturbationInterval` of progress, a trial
 * in the bottom `quantileFraction` of the population is paused; the Tuner then asks
 * {@link PopulationBasedTraining.onTrialPaused} how to continue it: from the latest checkpoint of a
 * trial in the top quantile (exploit) with that trial's config perturbed (explore: each mutated
 * parameter is resampled with probability `resampleProbability`, else multiplied by 0.8 or 1.2, or moved
 * to a neighbouring value of its list). Decisions use a seeded generator whose state is saved.
 */
import { TuneConfigError } from '../errors.js';
import { createRng, rngFromState, type Rng } from '../rng.js';
import { ChoiceDomain, isDomain, type Domain } from '../search-space.js';
import {
  checkNumber,
  checkOptions,
  metricOf,
  needMetric,
  type ExploitDirective,
  type SchedulerDecision,
  type SchedulerSetup,
  type TrialResult,
  type TrialScheduler,
  type TrialView,
} from './scheduler.js';

export type Mutation = Domain | readonly unknown[] | ((rng: Rng) => unknown);

export interface PopulationBasedTrainingOptions {
  /** Result field that measures progress ['time_total_s']. */
  timeAttr?: string;
  /** Progress between perturbations of a trial [60]. */
  perturbationInterval?: number;
  /** Parameters to explore: a tune domain, a list of values, or a function of the generator. Required. */
  hyperparamMutations: Record<string, Mutation>;
  /** Share of the population copied from / copied to [0.25], in (0, 0.5]. */
  quantileFraction?: number;
  /** Probability of resampling instead of perturbing [0.25]. */
  resampleProbability?: number;
  /** Seed [random]. */
  seed?: number;
}

/** Population based training. */
export class PopulationBasedTraining implements TrialScheduler {
  readonly timeAttr: string;
  readonly perturbationInterval: number;
  readonly quantileFraction: number;
  readonly resampleProbability: number;
  private readonly mutations: Record<string, Mutation>;
  private rng: Rng;
  private metric = '';
  private sign = 1;
  private last: Record<string, { t: number; score: number; config: Record<string, unknown> }> = {};
  private lastPerturbed: Record<string, number> = {};
  private directives: Record<string, ExploitDirective> = {};
  /** Number of exploits done (for tests and the table). */
  numPerturbations = 0;

  /** The options it was built with (kept in experiment_state.json for Tuner.restore). */
  options: unknown;
  constructor(opts: PopulationBasedTrainingOptions) {
    this.options = opts;
    checkOptions('PopulationBasedTraining', opts ?? {}, ['timeAttr', 'perturbationInterval', 'hyperparamMutations', 'quantileFraction', 'resampleProbability', 'seed']);
    this.timeAttr = opts.timeAttr ?? 'time_total_s';
    this.perturbationInterval = checkNumber('PopulationBasedTraining', 'perturbationInterval', opts.perturbationInterval ?? 60, 0, { exclusiveMin: true });
    this.quantileFraction = checkNumber('PopulationBasedTraining', 'quantileFraction', opts.quantileFraction ?? 0.25, 0, { exclusiveMin: true, max: 0.5 });
    this.resampleProbability = checkNumber('PopulationBasedTraining', 'resampleProbability', opts.resampleProbability ?? 0.25, 0, { max: 1 });
    if (!opts.hyperparamMutations || typeof opts.hyperparamMutations !== 'object' || Object.keys(opts.hyperparamMutations).length === 0) {
      throw new TuneConfigError('PopulationBasedTraining: hyperparamMutations must name at least one parameter to explore.', { hint: 'Example: { lr: tune.loguniform(1e-4, 1e-1), batch: [16, 32, 64] }.' });
    }
    for (const [k, m] of Object.entries(opts.hyperparamMutations)) {
      if (!(isDomain(m) || Array.isArray(m) || typeof m === 'function')) {
        throw new TuneConfigError(`PopulationBasedTraining: hyperparamMutations.${k} must be a tune domain, a list of values or a function, got ${JSON.stringify(m)}.`);
      }
      if (Array.isArray(m) && m.length === 0) throw new TuneConfigError(`PopulationBasedTraining: hyperparamMutations.${k} is an empty list.`);
    }
    this.mutations = opts.hyperparamMutations;
    this.rng = createRng(opts.seed);
  }

  setup(s: SchedulerSetup): void {
    this.metric = needMetric('PopulationBasedTraining', s);
    this.sign = s.mode === 'max' ? 1 : -1;
  }

  onTrialAdd(trial: TrialView): void {
    this.lastPerturbed[trial.trialId] ??= 0;
  }

  onTrialResult(trial: TrialView, result: TrialResult): SchedulerDecision {
    const t = result[this.timeAttr];
    const v = metricOf(result, this.metric);
    if (typeof t !== 'number' || v === undefined) return 'continue';
    this.last[trial.trialId] = { t, score: v * this.sign, config: { ...trial.config } };
    const since = this.lastPerturbed[trial.trialId] ?? 0;
    if (t - since < this.perturbationInterval) return 'continue';
    this.lastPerturbed[trial.trialId] = t;
    const ranked = Object.entries(this.last).sort((a, b) => a[1].score - b[1].score); // worst first
    const n = Math.floor(ranked.length * this.quantileFraction);
    if (n === 0) return 'continue';
    const bottom = ranked.slice(0, n).map(([id]) => id);
    const top = ranked.slice(ranked.length - n).map(([id]) => id);
    if (!bottom.includes(trial.trialId) || top.includes(trial.trialId)) return 'continue';
    const donor = top[Math.floor(this.rng.next() * top.length)];
    this.directives[trial.trialId] = { donorTrialId: donor, config: this.explore(this.last[donor].config) };
    this.numPerturbations++;
    return 'pause';
  }

  onTrialPaused(trial: TrialView): ExploitDirective | undefined {
    const d = this.directives[trial.trialId];
    delete this.directives[trial.trialId];
    if (d) this.last[trial.trialId] = { ...this.last[trial.trialId], config: d.config };
    return d;
  }

  onTrialComplete(trial: TrialView): void {
    delete this.directives[trial.trialId];
  }

  /** A copy of `config` with every mutated parameter resampled or perturbed. */
  explore(config: Record<string, unknown>): Record<string, unknown> {
    const out = { ...config };
    for (const [k, m] of Object.entries(this.mutations)) {
      const cur = out[k];
      const resample = this.rng.next() < this.resampleProbability;
      if (Array.isArray(m) || m instanceof ChoiceDomain) {
        const values = Array.isArray(m) ? m : (m as ChoiceDomain).values;
        const i = values.findIndex((x) => JSON.stringify(x) === JSON.stringify(cur));
        if (resample || i < 0) out[k] = values[Math.floor(this.rng.next() * values.length)];
        else out[k] = values[Math.max(0, Math.min(values.length - 1, i + (this.rng.next() < 0.5 ? -1 : 1)))];
      } else if (typeof m === 'function' && !isDomain(m)) {
        out[k] = resample || typeof cur !== 'number' ? (m as (rng: Rng) => unknown)(this.rng) : cur * (this.rng.next() < 0.5 ? 0.8 : 1.2);
      } else {
        const d = m as Domain;
        out[k] = resample || typeof cur !== 'number' ? d.sample(this.rng, out) : cur * (this.rng.next() < 0.5 ? 0.8 : 1.2);
        if (d.kind === 'int' && typeof out[k] === 'number') out[k] = Math.round(out[k] as number);
      }
    }
    return out;
  }

  save(): unknown {
    return { rng: this.rng.state(), last: this.last, lastPerturbed: this.lastPerturbed, directives: this.directives, numPerturbations: this.numPerturbations };
  }

  restore(state: unknown): void {
    const s = state as { rng: number[]; last: PopulationBasedTraining['last']; lastPerturbed: Record<string, number>; directives: Record<string, ExploitDirective>; numPerturbations: number };
    this.rng = rngFromState(s.rng);
    this.last = { ...s.last };
    this.lastPerturbed = { ...s.lastPerturbed };
    this.directives = { ...s.directives };
    this.numPerturbations = s.numPerturbations;
  }
}
