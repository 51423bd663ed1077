/**
 * BasicVariantGenerator: the cross product of every `gridSearch` entry, repeated `numSamples` times,
 * with the random domains drawn afresh for each variant from a seeded generator (Ray's default
 * searcher). `numSamples: 2` over a 3-value grid gives 6 trials.
 */
import { TuneConfigError } from '../errors.js';
import { createRng, rngFromState, type Rng } from '../rng.js';
import { buildConfig, GridDomain, type ParsedSpace } from '../search-space.js';
import { FINISHED, type Searcher, type SearcherSetup } from './searcher.js';

export interface BasicVariantGeneratorOptions {
  /** Seed of the random draws [random]; the same seed gives the same configs in the same order. */
  seed?: number;
}

/** Grid × random search. */
export class BasicVariantGenerator implements Searcher {
  private rng: Rng;
  private space?: ParsedSpace;
  private total = 0;
  private count = 0;

  /** The options it was built with (kept in experiment_state.json for Tuner.restore). */
  options: unknown;
  constructor(opts: BasicVariantGeneratorOptions = {}) {
    this.options = opts;
    const unknown = Object.keys(opts).filter((k) => k !== 'seed');
    if (unknown.length) throw new TuneConfigError(`BasicVariantGenerator: unknown option ${unknown.join(', ')}.`, { hint: 'Valid options: seed.' });
    if (opts.seed !== undefined && !Number.isFinite(opts.seed)) throw new TuneConfigError(`BasicVariantGenerator: seed must be a finite number, got ${String(opts.seed)}.`);
    this.rng = createRng(opts.seed);
  }

  setup(s: SearcherSetup): void {
    this.space = s.space;
    this.total = s.numSamples * gridSize(s.space);
  }

  /** How many trials this search makes in all. */
  get numTrials(): number {
    return this.total;
  }

  suggest(): Record<string, unknown> | typeof FINISHED {
    const space = this.space!;
    if (this.count >= this.total) return FINISHED;
    let gridIndex = this.count % gridSize(space);
    this.count++;
    const values: unknown[] = new Array(space.leaves.length);
    // grid entries first (the last grid entry varies fastest), then random draws in leaf order, then functions
    const grids = space.leaves.map((l, i) => [l, i] as const).filter(([l]) => l.domain.kind === 'grid');
    for (let g = grids.length - 1; g >= 0; g--) {
      const [leaf, i] = grids[g];
      const vals = (leaf.domain as GridDomain).values;
      values[i] = vals[gridIndex % vals.length];
      gridIndex = Math.floor(gridIndex / vals.length);
    }
    return sampleRest(space, values, this.rng);
  }

  onTrialComplete(): void {}

  save(): unknown {
    return { count: this.count, rng: this.rng.state() };
  }

  restore(state: unknown): void {
    const s = state as { count: number; rng: number[] };
    this.count = s.count;
    this.rng = rngFromState(s.rng);
  }
}

/** Number of grid points (1 without gridSearch). */
export function gridSize(space: ParsedSpace): number {
  return space.leaves.reduce((n, l) => (l.domain.kind === 'grid' ? n * (l.domain as GridDomain).values.length : n), 1);
}

/** Fills unset random leaves from `rng`, then sampleFrom leaves from the partial config; returns the config. */
export function sampleRest(space: ParsedSpace, values: unknown[], rng: Rng): Record<string, unknown> {
  space.leaves.forEach((l, i) => {
    if (values[i] === undefined && l.domain.kind !== 'function') values[i] = l.domain.sample(rng, {});
  });
  const config = buildConfig(space.template, space.leaves, values);
  space.leaves.forEach((l, i) => {
    if (l.domain.kind === 'function') {
      values[i] = l.domain.sample(rng, config);
      const again = buildConfig(space.template, space.leaves, values);
      Object.assign(config, again);
    }
  });
  return config;
}
