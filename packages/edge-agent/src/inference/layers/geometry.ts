/**
 * Output sizes and padding of windowed layers (conv2d, maxpool2d), shared by the float and int8 paths so
 * both agree to the pixel. Padding follows the TensorFlow convention: `'valid'` uses no padding;
 * `'same'` gives `ceil(in / stride)` outputs and puts the odd padding pixel at the bottom/right.
 */

/** Padding mode of a windowed layer. */
export type Padding = 'same' | 'valid';

/** Resolved geometry of one spatial axis. */
export interface AxisGeometry {
  /** Output size along the axis. */
  readonly out: number;
  /** Padding before the first input pixel. */
  readonly padBefore: number;
  /** Padding after the last input pixel. */
  readonly padAfter: number;
}

/**
 * Geometry of one axis for a window of `kernel` pixels moved by `stride`. Returns `undefined` when the
 * window does not fit (a `'valid'` kernel larger than the input).
 */
export function axisGeometry(input: number, kernel: number, stride: number, padding: Padding): AxisGeometry | undefined {
  if (padding === 'valid') {
    if (kernel > input) return undefined;
    return { out: Math.floor((input - kernel) / stride) + 1, padBefore: 0, padAfter: 0 };
  }
  const out = Math.ceil(input / stride);
  const total = Math.max((out - 1) * stride + kernel - input, 0);
  const padBefore = Math.floor(total / 2);
  return { out, padBefore, padAfter: total - padBefore };
}
