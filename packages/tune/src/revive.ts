/**
 * Rebuilding built-in schedulers, searchers and search spaces from `experiment_state.json` for
 * `Tuner.restore`. Functions (sampleFrom, PBT mutation functions) are not saved: a restored space
 * holding one fails when sampled, and the error says to pass `paramSpace` to `Tuner.restore`.
 */
import { TuneRestoreError } from './errors.js';
import { ASHAScheduler } from './schedulers/asha.js';
import { FIFOScheduler } from './schedulers/fifo.js';
import { HyperBandScheduler } from './schedulers/hyperband.js';
import { MedianStoppingRule } from './schedulers/median-stopping.js';
import { PopulationBasedTraining } from './schedulers/pbt.js';
import { tune } from './search-space.js';
import { BasicVariantGenerator } from './search/basic-variant.js';
import { TPESearch } from './search/tpe.js';

type Ctor = new (opts: never) => unknown;
const BUILT_INS: Record<string, Ctor> = {
  FIFOScheduler,
  ASHAScheduler,
  HyperBandScheduler,
  MedianStoppingRule,
  PopulationBasedTraining,
  BasicVariantGenerator,
  TPESearch,
};

/** `{ type, options }` of a scheduler or searcher. */
export function specOf(o: object): { type: string; options: unknown } {
  const options = (o as { options?: unknown }).options;
  return { type: o.constructor.name, options: options === undefined ? {} : JSON.parse(JSON.stringify(options)) };
}

/** Turns saved `{ __tuneDomain }` objects back into domains, anywhere in `v`. */
export function reviveSpace(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reviveSpace);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    switch (o.__tuneDomain) {
      case 'uniform':
        return tune.uniform(o.low as number, o.high as number);
      case 'loguniform':
        return tune.loguniform(o.low as number, o.high as number);
      case 'quniform':
        return tune.quniform(o.low as number, o.high as number, o.q as number);
      case 'randint':
        return tune.randint(o.low as number, o.high as number);
      case 'choice':
        return tune.choice(o.values as unknown[]);
      case 'gridSearch':
        return tune.gridSearch(o.values as unknown[]);
      case 'sampleFrom':
        return tune.sampleFrom(() => {
          throw new TuneRestoreError('This restored search space had a tune.sampleFrom function, which experiment_state.json cannot hold.', {
            hint: 'Pass the paramSpace again: Tuner.restore(path, trainable, { paramSpace }).',
          });
        });
    }
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) out[k] = reviveSpace(x);
    return out;
  }
  return v;
}

/** A built-in scheduler or searcher from its saved `{ type, options }`. */
export function reviveSchedulerOrSearcher(spec: { type: string; options?: unknown }): unknown {
  const C = BUILT_INS[spec.type];
  if (!C) {
    throw new TuneRestoreError(`The experiment used ${spec.type}, which Tune cannot rebuild by itself.`, {
      hint: 'Pass it again: Tuner.restore(path, trainable, { tuneConfig: { scheduler, searchAlg } }).',
    });
  }
  try {
    return new C(reviveSpace(spec.options ?? {}) as never);
  } catch (e) {
    throw new TuneRestoreError(`Could not rebuild ${spec.type} from experiment_state.json: ${(e as Error).message}`, {
      cause: e,
      hint: 'Pass it again: Tuner.restore(path, trainable, { tuneConfig: { scheduler, searchAlg } }).',
    });
  }
}
