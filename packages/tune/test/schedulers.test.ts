/**
 * Schedulers as pure policies, driven with a fake clock (the results' time_total_s / training_iteration
 * are chosen by the test): ASHA rung cutoffs, HyperBand brackets, the median rule, PBT exploit/explore,
 * and that saved state gives the same decisions after a restore.
 */
import { describe, expect, it } from 'vitest';
import { ASHAScheduler, FIFOScheduler, HyperBandScheduler, MedianStoppingRule, PopulationBasedTraining, TuneConfigError, tune, type TrialResult, type TrialScheduler } from '@samsara/ray-tune';

const res = (acc: number, it: number, t = it): TrialResult => ({ acc, training_iteration: it, time_total_s: t });
const trial = (id: string, config: Record<string, unknown> = {}) => ({ trialId: id, config });

function setup<T extends TrialScheduler>(s: T, mode: 'max' | 'min' = 'max'): T {
  s.setup({ metric: 'acc', mode });
  return s;
}

describe('FIFOScheduler', () => {
  it('continues every result', () => {
    const s = setup(new FIFOScheduler());
    expect(s.onTrialResult(trial('a'), res(0, 1))).toBe('continue');
  });
});

describe('ASHAScheduler', () => {
  it('defaults - grace 1, reduction factor 4, maxT 100', () => {
    const s = new ASHAScheduler();
    expect([s.gracePeriod, s.reductionFactor, s.maxT]).toEqual([1, 4, 100]);
  });

  it('rungs - a trial below the top 1/rf at a rung stops; maxT stops everyone', () => {
    const s = setup(new ASHAScheduler({ maxT: 9, gracePeriod: 1, reductionFactor: 3 }));
    // rungs at 1 and 3 (9 = maxT)
    expect(s.onTrialResult(trial('a'), res(0.9, 1))).toBe('continue'); // first at the rung
    expect(s.onTrialResult(trial('b'), res(0.5, 1))).toBe('stop'); // below cutoff of [0.9]
    expect(s.onTrialResult(trial('c'), res(0.95, 1))).toBe('continue');
    expect(s.onTrialResult(trial('a'), res(0.91, 2))).toBe('continue'); // between rungs
    expect(s.onTrialResult(trial('a'), res(0.92, 3))).toBe('continue');
    expect(s.onTrialResult(trial('c'), res(0.5, 3))).toBe('stop');
    expect(s.onTrialResult(trial('a'), res(0.99, 9))).toBe('stop'); // maxT
    expect(s.debugString()).toContain('rung 3: 2 trials');
  });

  it('mode min - lower is better', () => {
    const s = setup(new ASHAScheduler({ maxT: 10, reductionFactor: 2 }), 'min');
    expect(s.onTrialResult(trial('a'), res(1, 1))).toBe('continue');
    expect(s.onTrialResult(trial('b'), res(2, 1))).toBe('stop');
    expect(s.onTrialResult(trial('c'), res(0.5, 1))).toBe('continue');
  });

  it('restore - saved rungs give the same decisions', () => {
    const a = setup(new ASHAScheduler({ maxT: 16, reductionFactor: 2 }));
    for (const [id, v] of [['a', 0.1], ['b', 0.5], ['c', 0.7]] as const) a.onTrialResult(trial(id), res(v, 1));
    const b = setup(new ASHAScheduler({ maxT: 16, reductionFactor: 2 }));
    b.restore(JSON.parse(JSON.stringify(a.save())));
    for (const v of [0.2, 0.6, 0.8]) expect(b.onTrialResult(trial(`n${v}`), res(v, 1))).toBe(a.onTrialResult(trial(`n${v}`), res(v, 1)));
  });

  it('bad options - named with their legal range', () => {
    expect(() => new ASHAScheduler({ reductionFactor: 1 })).toThrow('The value of ASHAScheduler reductionFactor is 1, but it must be a number ≥ 2.');
    expect(() => new ASHAScheduler({ gracePeriod: 5, maxT: 2 })).toThrow(TuneConfigError);
    expect(() => new ASHAScheduler({ grace: 1 } as never)).toThrow(/unknown option grace/);
    expect(() => new ASHAScheduler().setup({ metric: undefined, mode: 'max' })).toThrow(/needs tuneConfig\.metric/);
  });
});

describe('HyperBandScheduler', () => {
  it('brackets - trials are dealt to brackets whose first rung grows by the reduction factor', () => {
    const s = setup(new HyperBandScheduler({ maxT: 27, reductionFactor: 3 }));
    expect(s.debugString().match(/bracket/g)).toHaveLength(4); // 1, 3, 9, 27 → brackets starting at 1, 3, 9 and none? (⌊log3 27⌋+1 = 4)
    // bracket 0 prunes at 1; bracket 1's first rung is at 3, so its trials pass iteration 1 untouched
    for (const id of ['a', 'b', 'c', 'd']) s.onTrialAdd(trial(id));
    expect(s.onTrialResult(trial('a'), res(0.9, 1))).toBe('continue');
    expect(s.onTrialResult(trial('b'), res(0.1, 1))).toBe('continue'); // bracket 1: no rung at 1
    expect(s.onTrialResult(trial('e'), res(0.95, 1))).toBe('continue'); // bracket 0 (5th trial)
    s.onTrialAdd(trial('f'));
    s.onTrialAdd(trial('g'));
    s.onTrialAdd(trial('h'));
    s.onTrialAdd(trial('i'));
    expect(s.onTrialResult(trial('i'), res(0.2, 1))).toBe('stop'); // bracket 0 again, below cutoff
    expect(() => new HyperBandScheduler({ maxT: 9, reductionFactor: 3, brackets: 5 })).toThrow(/brackets is 5, but it must be an integer in \[1, 3\]/);
  });
});

describe('MedianStoppingRule', () => {
  it('stops a trial whose best is below the median of running averages after the grace period', () => {
    const s = setup(new MedianStoppingRule({ gracePeriod: 10, minSamplesRequired: 2 }));
    for (const [id, v] of [['a', 0.8], ['b', 0.6], ['c', 0.75]] as const) {
      for (const t of [5, 10, 15]) expect(s.onTrialResult(trial(id), res(v, t / 5, t))).toBe('continue');
    }
    expect(s.onTrialResult(trial('d'), res(0.1, 1, 5))).toBe('continue'); // grace
    expect(s.onTrialResult(trial('d'), res(0.2, 2, 12))).toBe('stop');
    expect(s.onTrialResult(trial('e'), res(0.9, 2, 12))).toBe('continue');
    const r = setup(new MedianStoppingRule({ gracePeriod: 10, minSamplesRequired: 2 }));
    r.restore(JSON.parse(JSON.stringify(s.save())));
    expect(r.onTrialResult(trial('f'), res(0.2, 2, 12))).toBe('stop');
  });
});

describe('PopulationBasedTraining', () => {
  it('exploit/explore - a bottom-quantile trial is paused and continues from a top trial with a perturbed config', () => {
    const s = setup(new PopulationBasedTraining({ perturbationInterval: 10, quantileFraction: 0.25, resampleProbability: 0, seed: 1, hyperparamMutations: { lr: tune.loguniform(1e-4, 1), batch: [16, 32, 64] } }));
    const cfg = (lr: number, batch: number) => ({ lr, batch });
    const ids = ['a', 'b', 'c', 'd'];
    ids.forEach((id) => s.onTrialAdd(trial(id, cfg(0.1, 32))));
    // before the interval: no perturbation
    expect(s.onTrialResult(trial('a', cfg(0.1, 32)), res(0.9, 1, 5))).toBe('continue');
    expect(s.onTrialResult(trial('a', cfg(0.1, 32)), res(0.9, 2, 10))).toBe('continue'); // top
    expect(s.onTrialResult(trial('b', cfg(0.2, 32)), res(0.5, 2, 10))).toBe('continue');
    expect(s.onTrialResult(trial('c', cfg(0.3, 32)), res(0.6, 2, 10))).toBe('continue');
    expect(s.onTrialResult(trial('d', cfg(0.4, 16)), res(0.1, 2, 10))).toBe('pause'); // bottom 25% of 4
    const d = s.onTrialPaused!(trial('d'));
    expect(d?.donorTrialId).toBe('a');
    expect([0.08, 0.12].map((x) => +x.toFixed(6))).toContain(+(d!.config.lr as number).toFixed(6));
    expect([16, 64]).toContain(d!.config.batch);
    expect(s.onTrialPaused!(trial('d'))).toBeUndefined();
    expect(s.numPerturbations).toBe(1);
  });

  it('bad options - needs mutations; quantile in (0, 0.5]', () => {
    expect(() => new PopulationBasedTraining({ hyperparamMutations: {} })).toThrow(/at least one parameter/);
    expect(() => new PopulationBasedTraining({ hyperparamMutations: { a: [1] }, quantileFraction: 0.7 })).toThrow(/quantileFraction is 0.7, but it must be a number > 0 and ≤ 0.5/);
    expect(() => new PopulationBasedTraining({ hyperparamMutations: { a: 3 as never } })).toThrow(/hyperparamMutations\.a must be/);
  });
});
