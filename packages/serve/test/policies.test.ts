/** Pure parts of Serve: replica choice, batching, autoscaling, routing and middleware. */
import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { autoscaleStep, BatchQueue, BatchSizeError, compose, desiredReplicas, PrefixRouter, powerOfTwoChoices, batch, setChooseReplicas, type ChooseReplicas } from '@samsara/ray-serve';
import { pickReplica } from '../dist/routing/request-router.js';

const cfg = { minReplicas: 1, maxReplicas: 5, initialReplicas: 1, targetOngoingRequests: 2, upscaleDelayS: 0.4, downscaleDelayS: 1 };

describe('powerOfTwoChoices', () => {
  it('powerOfTwoChoices - ranks the less loaded of two random replicas first, then every replica by load', () => {
    const c = [
      { replicaId: 'a', ongoing: 3, maxOngoingRequests: 5 },
      { replicaId: 'b', ongoing: 1, maxOngoingRequests: 5 },
      { replicaId: 'c', ongoing: 0, maxOngoingRequests: 5 },
    ];
    const seq = [0.1, 0.2]; // picks a (index 0), then index 0 of the others → b
    const tiers = powerOfTwoChoices(c, { requestId: 'r', method: 'GET' }, () => seq.shift()!);
    expect(tiers[0].map((r) => r.replicaId)).toEqual(['b', 'a']);
    expect(tiers[1].map((r) => r.replicaId)).toEqual(['c', 'b', 'a']);
    expect(powerOfTwoChoices([], { requestId: 'r', method: 'GET' })).toEqual([]);
  });

  it('pickReplica - under the default policy picks what walking powerOfTwoChoices tiers picks, for any loads and random draws', () => {
    const req = { requestId: 'r', method: 'GET' };
    const viaTiers: ChooseReplicas = (c, r) => powerOfTwoChoices(c, r);
    const loads = fc.array(fc.record({ ongoing: fc.integer({ min: 0, max: 6 }), maxOngoingRequests: fc.integer({ min: 1, max: 5 }) }), { maxLength: 7 });
    fc.assert(
      fc.property(loads, fc.array(fc.double({ min: 0, max: 0.999, noNaN: true }), { minLength: 2, maxLength: 2 }), (ls, draws) => {
        const c = ls.map((l, i) => ({ replicaId: `r${i}`, ...l }));
        const spy = vi.spyOn(Math, 'random');
        try {
          spy.mockReturnValueOnce(draws[0]).mockReturnValueOnce(draws[1]);
          const fast = pickReplica(c, req);
          spy.mockReturnValueOnce(draws[0]).mockReturnValueOnce(draws[1]);
          const prev = setChooseReplicas(viaTiers);
          let slow;
          try {
            slow = pickReplica(c, req);
          } finally {
            setChooseReplicas(prev);
          }
          expect(fast?.replicaId).toBe(slow?.replicaId);
        } finally {
          spy.mockRestore();
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('BatchQueue', () => {
  it('BatchQueue - a full batch goes at once; a partial one after the wait that started at its first item', async () => {
    const sizes: number[] = [];
    const q = new BatchQueue<number, number>((xs) => {
      sizes.push(xs.length);
      return xs.map((x) => x * 10);
    }, 4, 20);
    const full = await Promise.all([1, 2, 3, 4].map((x) => q.put(x)));
    expect(full).toEqual([10, 20, 30, 40]);
    const partial = await Promise.all([5, 6].map((x) => q.put(x)));
    expect(partial).toEqual([50, 60]);
    expect(sizes).toEqual([4, 2]);
  });

  it('BatchQueue - a wrong output length and a thrown error reject every caller of the batch', async () => {
    const short = new BatchQueue<number, number>((xs) => xs.slice(1), 3, 5);
    const r = await Promise.allSettled([1, 2, 3].map((x) => short.put(x)));
    expect(r.every((x) => x.status === 'rejected' && x.reason instanceof BatchSizeError)).toBe(true);
    const boom = new BatchQueue<number, number>(() => {
      throw new Error('boom');
    }, 2, 5);
    const b = await Promise.allSettled([1, 2].map((x) => boom.put(x)));
    expect(b.map((x) => (x as PromiseRejectedResult).reason.message)).toEqual(['boom', 'boom']);
  });

  it('batch - bad options are rejected with the valid ones named', () => {
    expect(() => batch((xs: number[]) => xs, { maxBatchSize: 0 })).toThrow(/maxBatchSize must be an integer ≥ 1/);
    expect(() => batch((xs: number[]) => xs, { size: 3 } as never)).toThrow(/unknown option "size"; valid options are maxBatchSize, batchWaitTimeoutMs/);
  });
});

describe('autoscaling policy', () => {
  it('desiredReplicas - ceil(load / target) clamped to [min, max]', () => {
    expect(desiredReplicas({ totalOngoing: 0, currentReplicas: 3 }, cfg)).toBe(1);
    expect(desiredReplicas({ totalOngoing: 5, currentReplicas: 1 }, cfg)).toBe(3);
    expect(desiredReplicas({ totalOngoing: 100, currentReplicas: 1 }, cfg)).toBe(5);
  });

  it('autoscaleStep - a decision applies only after it held for the delay; a change of direction resets the count', () => {
    let s = { streak: 0 };
    const up = { totalOngoing: 6, currentReplicas: 1 };
    let r = autoscaleStep(up, cfg, s, 0.2);
    expect(r.replicas).toBe(1);
    s = r.state;
    r = autoscaleStep(up, cfg, s, 0.2);
    expect(r.replicas).toBe(3);
    r = autoscaleStep({ totalOngoing: 0, currentReplicas: 3 }, cfg, { streak: 1 }, 0.2);
    expect(r.state.streak).toBe(-1);
    expect(r.replicas).toBe(3);
    let st = r.state;
    let n = 3;
    for (let i = 0; i < 4; i++) ({ replicas: n, state: st } = autoscaleStep({ totalOngoing: 0, currentReplicas: 3 }, cfg, st, 0.2));
    expect(n).toBe(1);
  });
});

describe('HTTP core', () => {
  it('PrefixRouter - the longest matching prefix wins; / catches the rest; /ab does not match /a', () => {
    const r = new PrefixRouter<string>();
    r.add('ALL', '/', 'root');
    r.add('ALL', '/a', 'a');
    r.add('ALL', '/a/b/', 'ab');
    expect(r.match('GET', '/a/b/c')?.handler).toBe('ab');
    expect(r.match('GET', '/a/x')?.handler).toBe('a');
    expect(r.match('GET', '/ab')?.handler).toBe('root');
    const none = new PrefixRouter<string>();
    none.add('ALL', '/x', 'x');
    expect(none.match('GET', '/y')).toBeUndefined();
  });

  it('compose - runs middleware in order around next(); next() twice is an error', async () => {
    const log: string[] = [];
    await compose<string[]>([
      async (c, next) => {
        c.push('a1');
        await next();
        c.push('a2');
      },
      (c) => {
        c.push('b');
      },
    ])(log);
    expect(log).toEqual(['a1', 'b', 'a2']);
    await expect(
      compose<null>([
        async (_c, next) => {
          await next();
          await next();
        },
      ])(null),
    ).rejects.toThrow('next() called multiple times');
  });
});

describe('replica request building', () => {
  it('takesRequest - only a fetch with an empty parameter list that never reads `arguments` gets no Request built', async () => {
    const { takesRequest } = await import('../dist/internal/replica.js');
    const fetchOf = (C: new () => { fetch: (...a: never[]) => unknown }) => new C().fetch as object;
    expect(takesRequest(fetchOf(class { fetch() { return 'ok'; } }))).toBe(false);
    expect(takesRequest(fetchOf(class { async fetch() { return 'ok'; } }))).toBe(false);
    expect(takesRequest(fetchOf(class { fetch = () => 'ok'; }))).toBe(false);
    expect(takesRequest(fetchOf(class { fetch(req: Request) { return req.url; } }))).toBe(true);
    expect(takesRequest(fetchOf(class { fetch(...a: unknown[]) { return a; } }))).toBe(true);
    expect(takesRequest(fetchOf(class { fetch(r: unknown = 1) { return r; } }))).toBe(true);
    expect(takesRequest(fetchOf(class { fetch() { return arguments[0]; } }))).toBe(true);
    expect(takesRequest(function () {}.bind(null))).toBe(true);
  });
});
