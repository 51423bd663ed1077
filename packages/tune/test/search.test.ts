/**
 * Search spaces and searchers as pure code: validation errors name the path, grid × random counts,
 * seeded runs repeat exactly, TPE learns from results, and saved state continues the same sequence.
 */
import { describe, expect, it } from 'vitest';
import { BasicVariantGenerator, FINISHED, SearchSpaceError, TPESearch, Tuner, TuneConfigError, parseSearchSpace, tune, type Searcher } from '@samsara/ray-tune';

function drain(s: Searcher, n = 1000): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const c = s.suggest(`t${i}`);
    if (c === FINISHED || c === undefined) break;
    out.push(c);
  }
  return out;
}

const space = {
  lr: tune.loguniform(1e-4, 1e-1),
  hidden: tune.choice([16, 32, 64]),
  epochs: 20,
  model: { dropout: tune.uniform(0, 0.5), layers: [tune.randint(1, 4), 'relu'], step: tune.quniform(0, 1, 0.25) },
  double: tune.sampleFrom((c) => (c.hidden as number) * 2),
};

describe('search space', () => {
  it('parseSearchSpace - finds nested domains with their paths', () => {
    const p = parseSearchSpace(space);
    expect(p.leaves.map((l) => l.name)).toEqual(['lr', 'hidden', 'model.dropout', 'model.layers[0]', 'model.step', 'double']);
  });

  it('parseSearchSpace - an unknown search-space type is a SearchSpaceError naming the path', () => {
    const bad = [
      [{ a: { b: { grid_search: [1, 2] } } }, 'a.b', 'grid_search'],
      [{ opt: { lr: { type: 'normal', mean: 0 } } }, 'opt.lr', 'normal'],
      [{ x: [1, () => 2] }, 'x[1]', 'function'],
      [{ when: new Map() }, 'when', 'Map'],
      [{ n: 10n }, 'n', 'bigint'],
    ] as const;
    for (const [s, path, what] of bad) {
      let err: unknown;
      try {
        parseSearchSpace(s);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SearchSpaceError);
      expect((err as SearchSpaceError).path).toBe(path);
      expect((err as SearchSpaceError).tuneCode).toBe('TUNE_SEARCH_SPACE');
      expect((err as Error).message).toContain(`paramSpace.${path}: unknown search-space type`);
      expect((err as Error).message).toContain(what);
    }
    expect(() => new Tuner(async () => undefined, { paramSpace: { a: { type: 'uniform', low: 0 } } })).toThrow(/paramSpace\.a: unknown search-space type "uniform"/);
  });

  it('domains - arguments are validated eagerly, naming the legal range', () => {
    expect(() => tune.uniform(1, 0)).toThrow(TuneConfigError);
    expect(() => tune.uniform(1, 0)).toThrow('tune.uniform(): low must be below high, got low=1, high=0.');
    expect(() => tune.loguniform(0, 1)).toThrow('tune.loguniform(): low must be > 0, got 0.');
    expect(() => tune.quniform(0, 1, 0)).toThrow('q must be > 0');
    expect(() => tune.randint(0.5, 3)).toThrow('must be integers');
    expect(() => tune.choice([])).toThrow('non-empty array');
    expect(() => tune.gridSearch('ab' as never)).toThrow('non-empty array');
    expect(() => tune.sampleFrom(3 as never)).toThrow('takes a function');
  });
});

describe('BasicVariantGenerator', () => {
  it('grid × numSamples, random draws inside range, sampleFrom sees the config', () => {
    const g = new BasicVariantGenerator({ seed: 7 });
    g.setup({ metric: 'acc', mode: 'max', space: parseSearchSpace({ ...space, layers: tune.gridSearch([1, 2, 3]) }), numSamples: 2 });
    const cs = drain(g);
    expect(cs).toHaveLength(6);
    expect(cs.map((c) => c.layers)).toEqual([1, 2, 3, 1, 2, 3]);
    for (const c of cs) {
      expect(c.lr).toBeGreaterThanOrEqual(1e-4);
      expect(c.lr).toBeLessThanOrEqual(1e-1);
      expect([16, 32, 64]).toContain(c.hidden);
      expect(c.double).toBe((c.hidden as number) * 2);
      expect(c.epochs).toBe(20);
      const m = c.model as { layers: [number, string]; step: number; dropout: number };
      expect(m.layers[1]).toBe('relu');
      expect([1, 2, 3]).toContain(m.layers[0]);
      expect([0, 0.25, 0.5, 0.75, 1]).toContain(m.step);
    }
    expect(g.suggest('t99')).toBe(FINISHED);
  });

  it('seeded - the same seed gives the same configs; another seed differs; save/restore continues', () => {
    const mk = (seed: number) => {
      const g = new BasicVariantGenerator({ seed });
      g.setup({ metric: undefined, mode: 'max', space: parseSearchSpace(space), numSamples: 10 });
      return g;
    };
    expect(drain(mk(1))).toEqual(drain(mk(1)));
    expect(drain(mk(1))).not.toEqual(drain(mk(2)));
    const a = mk(3);
    const first = drain(a, 4);
    const saved = JSON.parse(JSON.stringify(a.save()));
    const rest = drain(a);
    const b = mk(999);
    b.restore(saved);
    expect(drain(b)).toEqual(rest);
    expect([...first, ...rest]).toEqual(drain(mk(3)));
  });

  it('options - unknown keys are rejected', () => {
    expect(() => new BasicVariantGenerator({ sed: 1 } as never)).toThrow(/unknown option sed.*Valid options: seed/);
  });
});

describe('TPESearch', () => {
  const quad = { x: tune.uniform(-5, 5), y: tune.loguniform(1e-3, 10), k: tune.choice(['a', 'b', 'c']), n: tune.randint(0, 20) };
  const score = (c: Record<string, unknown>) => -(((c.x as number) - 2) ** 2) - Math.abs(Math.log10(c.y as number) - 0) - (c.k === 'b' ? 0 : 3) - Math.abs((c.n as number) - 15) / 5;

  function run(seed: number, n = 60, opts = {}): { configs: Record<string, unknown>[]; scores: number[] } {
    const s = new TPESearch({ seed, ...opts });
    s.setup({ metric: 'score', mode: 'max', space: parseSearchSpace(quad), numSamples: n });
    const configs: Record<string, unknown>[] = [];
    const scores: number[] = [];
    for (let i = 0; i < n; i++) {
      const c = s.suggest(`t${i}`) as Record<string, unknown>;
      configs.push(c);
      scores.push(score(c));
      s.onTrialComplete(`t${i}`, { score: score(c), training_iteration: 1 }, false);
    }
    expect(s.suggest('extra')).toBe(FINISHED);
    return { configs, scores };
  }

  it('defaults - 10 startup trials, 24 EI candidates', () => {
    const t = new TPESearch();
    expect([t.nStartupTrials, t.nEiCandidates]).toEqual([10, 24]);
  });

  it('seeded - repeats exactly with the same seed and results', () => {
    expect(run(5).configs).toEqual(run(5).configs);
    expect(run(5).configs).not.toEqual(run(6).configs);
  });

  it('learns - after the startup trials it samples better than random search', () => {
    let tpeBetter = 0;
    for (const seed of [1, 2, 3, 4, 5]) {
      const tpe = run(seed).scores.slice(30);
      const rnd = run(seed, 60, { nStartupTrials: 1000 }).scores.slice(30);
      const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
      if (mean(tpe) > mean(rnd)) tpeBetter++;
    }
    expect(tpeBetter).toBeGreaterThanOrEqual(4);
  });

  it('save/restore - continues the same sequence', () => {
    const mk = () => {
      const s = new TPESearch({ seed: 11, nStartupTrials: 3 });
      s.setup({ metric: 'score', mode: 'max', space: parseSearchSpace(quad), numSamples: 12 });
      return s;
    };
    const a = mk();
    for (let i = 0; i < 6; i++) {
      const c = a.suggest(`t${i}`) as Record<string, unknown>;
      a.onTrialComplete(`t${i}`, { score: score(c) }, false);
    }
    const b = mk();
    b.restore(JSON.parse(JSON.stringify(a.save())));
    for (let i = 6; i < 12; i++) {
      const ca = a.suggest(`t${i}`) as Record<string, unknown>;
      expect(b.suggest(`t${i}`)).toEqual(ca);
      a.onTrialComplete(`t${i}`, { score: score(ca) }, false);
      b.onTrialComplete(`t${i}`, { score: score(ca) }, false);
    }
  });

  it('bad input - gridSearch and a missing metric are TuneConfigErrors; bad options name the range', () => {
    const s = new TPESearch();
    expect(() => s.setup({ metric: 'm', mode: 'max', space: parseSearchSpace({ a: tune.gridSearch([1]) }), numSamples: 1 })).toThrow(/TPESearch cannot enumerate gridSearch at paramSpace\.a/);
    expect(() => new TPESearch().setup({ metric: undefined, mode: 'max', space: parseSearchSpace({}), numSamples: 1 })).toThrow(TuneConfigError);
    expect(() => new TPESearch({ nEiCandidates: 0 })).toThrow('TPESearch: nEiCandidates must be an integer ≥ 1, got 0.');
  });
});
