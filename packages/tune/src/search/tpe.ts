/**
 * TPESearch: a tree-structured Parzen estimator (Bergstra et al. 2011, in Optuna's independent form),
 * written here. After `nStartupTrials` random configs, completed trials are split into the best
 * `gamma(n) = min(ceil(0.1·n), 25)` ("below") and the rest ("above"); for each parameter a Parzen
 * mixture l(x) is fitted to the below values and g(x) to the above ones (truncated Gaussians on the
 * parameter's range, on a log scale for loguniform, plus a prior component), `nEiCandidates` values are
 * drawn from l and the one maximising l(x)/g(x) — the expected-improvement criterion — is chosen.
 * Categorical parameters use smoothed category frequencies the same way. Seeded runs repeat exactly.
 */
import { TuneConfigError } from '../errors.js';
import { createRng, normal, rngFromState, type Rng } from '../rng.js';
import { ChoiceDomain, FloatDomain, IntDomain, type ParsedSpace, type SpaceLeaf } from '../search-space.js';
import { sampleRest } from './basic-variant.js';
import { FINISHED, type Searcher, type SearcherSetup } from './searcher.js';

export interface TPESearchOptions {
  /** Random configs before the model is used [10]. */
  nStartupTrials?: number;
  /** Candidates drawn from l(x) per parameter [24]. */
  nEiCandidates?: number;
  /** Weight of the prior component of each mixture [1]. */
  priorWeight?: number;
  /** Seed [random]; the same seed and the same results give the same configs. */
  seed?: number;
}

interface Observation {
  values: unknown[];
  score: number;
}

/** Tree-structured Parzen estimator search. */
export class TPESearch implements Searcher {
  readonly nStartupTrials: number;
  readonly nEiCandidates: number;
  readonly priorWeight: number;
  private rng: Rng;
  private space?: ParsedSpace;
  private metric?: string;
  private mode: 'min' | 'max' = 'max';
  private total = 0;
  private count = 0;
  private readonly pending = new Map<string, unknown[]>();
  private observations: Observation[] = [];

  /** The options it was built with (kept in experiment_state.json for Tuner.restore). */
  options: unknown;
  constructor(opts: TPESearchOptions = {}) {
    this.options = opts;
    const valid = ['nStartupTrials', 'nEiCandidates', 'priorWeight', 'seed'];
    const unknown = Object.keys(opts).filter((k) => !valid.includes(k));
    if (unknown.length) throw new TuneConfigError(`TPESearch: unknown option ${unknown.join(', ')}.`, { hint: `Valid options: ${valid.join(', ')}.` });
    const int = (v: number | undefined, d: number, name: string, min: number): number => {
      if (v === undefined) return d;
      if (!Number.isInteger(v) || v < min) throw new TuneConfigError(`TPESearch: ${name} must be an integer ≥ ${min}, got ${String(v)}.`);
      return v;
    };
    this.nStartupTrials = int(opts.nStartupTrials, 10, 'nStartupTrials', 0);
    this.nEiCandidates = int(opts.nEiCandidates, 24, 'nEiCandidates', 1);
    this.priorWeight = opts.priorWeight ?? 1;
    if (!(this.priorWeight > 0) || !Number.isFinite(this.priorWeight)) throw new TuneConfigError(`TPESearch: priorWeight must be > 0, got ${String(opts.priorWeight)}.`);
    if (opts.seed !== undefined && !Number.isFinite(opts.seed)) throw new TuneConfigError(`TPESearch: seed must be a finite number, got ${String(opts.seed)}.`);
    this.rng = createRng(opts.seed);
  }

  setup(s: SearcherSetup): void {
    if (!s.metric) throw new TuneConfigError('TPESearch needs tuneConfig.metric (and mode) to learn from results.', { hint: "Set tuneConfig: { metric: 'accuracy', mode: 'max' }." });
    for (const l of s.space.leaves) {
      if (l.domain.kind === 'grid') {
        throw new TuneConfigError(`TPESearch cannot enumerate gridSearch at paramSpace.${l.name}.`, { hint: 'Use tune.choice([...]) with TPESearch, or BasicVariantGenerator for grids.' });
      }
    }
    this.space = s.space;
    this.metric = s.metric;
    this.mode = s.mode;
    this.total = s.numSamples;
  }

  get numTrials(): number {
    return this.total;
  }

  suggest(trialId: string): Record<string, unknown> | typeof FINISHED {
    const space = this.space!;
    if (this.count >= this.total) return FINISHED;
    this.count++;
    const values: unknown[] = new Array(space.leaves.length);
    if (this.observations.length >= this.nStartupTrials && this.observations.length > 0) {
      const sorted = [...this.observations].sort((a, b) => (this.mode === 'max' ? b.score - a.score : a.score - b.score));
      const nBelow = Math.max(1, Math.min(Math.ceil(0.1 * sorted.length), 25));
      const below = sorted.slice(0, nBelow);
      const above = sorted.slice(nBelow);
      space.leaves.forEach((leaf, i) => {
        if (leaf.domain.kind === 'function') return;
        values[i] = this.sampleLeaf(leaf, below.map((o) => o.values[i]), above.map((o) => o.values[i]));
      });
    }
    const config = sampleRest(space, values, this.rng);
    this.pending.set(trialId, space.leaves.map((l) => readLeaf(config, l)));
    return config;
  }

  onTrialComplete(trialId: string, result: Readonly<Record<string, unknown>> | undefined, error: boolean): void {
    const values = this.pending.get(trialId);
    this.pending.delete(trialId);
    if (!values || error || !result) return;
    const score = result[this.metric!];
    if (typeof score !== 'number' || !Number.isFinite(score)) return;
    this.observations.push({ values, score });
  }

  save(): unknown {
    return { count: this.count, rng: this.rng.state(), observations: this.observations, pending: [...this.pending] };
  }

  restore(state: unknown): void {
    const s = state as { count: number; rng: number[]; observations: Observation[]; pending: [string, unknown[]][] };
    this.count = s.count;
    this.rng = rngFromState(s.rng);
    this.observations = s.observations;
    this.pending.clear();
    for (const [k, v] of s.pending) this.pending.set(k, v);
  }

  private sampleLeaf(leaf: SpaceLeaf, below: unknown[], above: unknown[]): unknown {
    const d = leaf.domain;
    if (d instanceof ChoiceDomain || d.kind === 'choice') {
      const values = (d as ChoiceDomain).values;
      const idx = (v: unknown) => values.findIndex((x) => JSON.stringify(x) === JSON.stringify(v));
      const weights = (obs: unknown[]) => {
        const w = values.map(() => this.priorWeight / values.length);
        for (const v of obs) {
          const i = idx(v);
          if (i >= 0) w[i] += 1;
        }
        const sum = w.reduce((a, b) => a + b, 0);
        return w.map((x) => x / sum);
      };
      const l = weights(below);
      const g = weights(above);
      let best = 0;
      let bestScore = -Infinity;
      for (let c = 0; c < this.nEiCandidates; c++) {
        let u = this.rng.next();
        let k = 0;
        while (k < l.length - 1 && u >= l[k]) u -= l[k++];
        const s = Math.log(l[k]) - Math.log(g[k]);
        if (s > bestScore) {
          bestScore = s;
          best = k;
        }
      }
      return values[best];
    }
    const num = d as FloatDomain | IntDomain;
    const isLog = num instanceof FloatDomain && num.log;
    const lo = d.kind === 'int' ? num.low - 0.5 : isLog ? Math.log(num.low) : num.low;
    const hi = d.kind === 'int' ? num.high - 0.5 : isLog ? Math.log(num.high) : num.high;
    const toInternal = (v: unknown) => (isLog ? Math.log(v as number) : (v as number));
    const l = parzen(below.map(toInternal), lo, hi, this.priorWeight);
    const g = parzen(above.map(toInternal), lo, hi, this.priorWeight);
    let best = (lo + hi) / 2;
    let bestScore = -Infinity;
    for (let c = 0; c < this.nEiCandidates; c++) {
      const x = sampleMixture(l, lo, hi, this.rng);
      const s = Math.log(mixturePdf(l, x, lo, hi) + 1e-300) - Math.log(mixturePdf(g, x, lo, hi) + 1e-300);
      if (s > bestScore) {
        bestScore = s;
        best = x;
      }
    }
    if (d.kind === 'int') return Math.min(num.high - 1, Math.max(num.low, Math.round(best)));
    const f = num as FloatDomain;
    let v = isLog ? Math.exp(best) : best;
    if (f.q !== undefined) v = Math.round(v / f.q) * f.q;
    return Math.min(f.high, Math.max(f.low, v));
  }
}

interface Mixture {
  mus: number[];
  sigmas: number[];
  weights: number[];
}

/** Optuna-style Parzen estimator: a component per observation plus a prior at the centre. */
function parzen(obs: number[], lo: number, hi: number, priorWeight: number): Mixture {
  const span = hi - lo;
  const mus = [...obs, (lo + hi) / 2];
  const order = mus.map((m, i) => [m, i] as const).sort((a, b) => a[0] - b[0]);
  const sigmas = new Array<number>(mus.length);
  const minSigma = span / Math.min(100, 1 + mus.length);
  order.forEach(([m, i], k) => {
    const left = k > 0 ? m - order[k - 1][0] : m - lo;
    const right = k < order.length - 1 ? order[k + 1][0] - m : hi - m;
    sigmas[i] = Math.min(span, Math.max(minSigma, left, right));
  });
  sigmas[mus.length - 1] = span; // the prior is wide
  const weights = [...obs.map(() => 1), priorWeight];
  const sum = weights.reduce((a, b) => a + b, 0);
  return { mus, sigmas, weights: weights.map((w) => w / sum) };
}

function erf(x: number): number {
  // Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7)
  const s = Math.sign(x);
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}

const cdf = (x: number, mu: number, sigma: number) => 0.5 * (1 + erf((x - mu) / (sigma * Math.SQRT2)));

function mixturePdf(m: Mixture, x: number, lo: number, hi: number): number {
  let p = 0;
  for (let i = 0; i < m.mus.length; i++) {
    const mu = m.mus[i];
    const s = m.sigmas[i];
    const z = Math.max(cdf(hi, mu, s) - cdf(lo, mu, s), 1e-12);
    p += (m.weights[i] * Math.exp(-0.5 * ((x - mu) / s) ** 2)) / (s * Math.sqrt(2 * Math.PI) * z);
  }
  return p;
}

function sampleMixture(m: Mixture, lo: number, hi: number, rng: Rng): number {
  let u = rng.next();
  let k = 0;
  while (k < m.weights.length - 1 && u >= m.weights[k]) u -= m.weights[k++];
  for (let tries = 0; tries < 32; tries++) {
    const x = m.mus[k] + m.sigmas[k] * normal(rng);
    if (x >= lo && x <= hi) return x;
  }
  return Math.min(hi, Math.max(lo, m.mus[k]));
}

function readLeaf(config: Record<string, unknown>, leaf: SpaceLeaf): unknown {
  let cur: unknown = config;
  for (const p of leaf.path) cur = (cur as Record<string | number, unknown>)[p];
  return cur;
}

