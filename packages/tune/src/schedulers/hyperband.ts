/**
 * HyperBandScheduler: HyperBand's brackets run asynchronously (the "asynchronous HyperBand" of the
 * ASHA paper, Ray's AsyncHyperBandScheduler with `brackets > 1`): bracket s starts its rungs at
 * `gracePeriod · reductionFactor^s`, so later brackets prune less aggressively; trials are dealt to
 * brackets in turn. Unlike Ray's synchronous HyperBandScheduler it never pauses a trial to wait for a
 * rung to fill, so no camera is held by a trial that is not running.
 */
import { TuneConfigError } from '../errors.js';
import { ASHAScheduler } from './asha.js';
import { checkOptions } from './scheduler.js';

export interface HyperBandSchedulerOptions {
  /** Result field that measures progress ['training_iteration']. */
  timeAttr?: string;
  /** Trials stop at this much progress [81]. */
  maxT?: number;
  /** Progress before the first rung of bracket 0 [1]. */
  gracePeriod?: number;
  /** [3], HyperBand's η. */
  reductionFactor?: number;
  /** Number of brackets [all that fit: ⌊log_η(maxT / gracePeriod)⌋ + 1]. */
  brackets?: number;
}

/** Asynchronous HyperBand: several successive-halving brackets with different aggressiveness. */
export class HyperBandScheduler extends ASHAScheduler {
  constructor(opts: HyperBandSchedulerOptions = {}) {
    checkOptions('HyperBandScheduler', opts, ['timeAttr', 'maxT', 'gracePeriod', 'reductionFactor', 'brackets']);
    const maxT = opts.maxT ?? 81;
    const grace = opts.gracePeriod ?? 1;
    const rf = opts.reductionFactor ?? 3;
    const fit = Math.max(1, Math.floor(Math.log(maxT / grace) / Math.log(rf) + 1e-9) + 1);
    const brackets = opts.brackets ?? fit;
    if (!Number.isInteger(brackets) || brackets < 1 || brackets > fit) {
      throw new TuneConfigError(`The value of HyperBandScheduler brackets is ${JSON.stringify(opts.brackets)}, but it must be an integer in [1, ${fit}] for maxT=${maxT}, gracePeriod=${grace}, reductionFactor=${rf}.`);
    }
    super({ ...(opts.timeAttr !== undefined ? { timeAttr: opts.timeAttr } : {}), maxT, gracePeriod: grace, reductionFactor: rf }, brackets);
    this.options = opts;
  }
}
