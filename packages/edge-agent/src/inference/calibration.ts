/**
 * Activation range observers for calibration. `minmax` keeps the exact range seen; `percentile` clips
 * outliers: a first pass finds the range, a second fills a 2048-bin histogram, and the range becomes
 * the [(100 - p), p] percentiles (so a handful of extreme activations do not stretch the int8 grid for
 * everyone). Memory is bounded by the histogram, not by the number of samples.
 */

/** Calibration method; see the module comment. */
export type CalibrationMethod = 'minmax' | 'percentile';

const BINS = 2048;

/** Collects the range of one activation tensor over all calibration frames. */
export class RangeObserver {
  min = Infinity;
  max = -Infinity;
  private histogram: Float64Array | undefined;
  private count = 0;

  /** First pass: exact min/max. */
  observeRange(values: Float32Array): void {
    let { min, max } = this;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    this.min = min;
    this.max = max;
  }

  /** Second pass (percentile only): histogram over [min, max] from the first pass. */
  observeHistogram(values: Float32Array): void {
    const h = (this.histogram ??= new Float64Array(BINS));
    const span = this.max - this.min;
    if (!(span > 0)) return;
    const k = BINS / span;
    for (let i = 0; i < values.length; i++) {
      let b = Math.floor((values[i] - this.min) * k);
      if (b >= BINS) b = BINS - 1;
      else if (b < 0) b = 0;
      h[b]++;
    }
    this.count += values.length;
  }

  /** The calibrated range: exact for `minmax`, clipped to [(100 - p)%, p%] for `percentile`. */
  range(method: CalibrationMethod, percentile: number): { min: number; max: number } {
    const h = this.histogram;
    if (method === 'minmax' || !h || this.count === 0 || !(this.max > this.min)) return { min: this.min, max: this.max };
    const width = (this.max - this.min) / BINS;
    const tail = ((100 - percentile) / 100) * this.count;
    let lo = this.min;
    let hi = this.max;
    let acc = 0;
    for (let b = 0; b < BINS; b++) {
      acc += h[b];
      if (acc > tail) {
        lo = this.min + b * width;
        break;
      }
    }
    acc = 0;
    for (let b = BINS - 1; b >= 0; b--) {
      acc += h[b];
      if (acc > tail) {
        hi = this.min + (b + 1) * width;
        break;
      }
    }
    return { min: lo, max: hi };
  }
}
