/**
 * SWAR ("SIMD within a register") packing of int8 weights for the int8 kernels.
 *
 * JavaScript has no int8 SIMD, so an int8 multiply-add costs the same as a float one. What int8 does buy
 * is headroom: a dot product of int8 weights and int8 activations over `fanIn` terms is bounded by
 * `fanIn * 127 * 128`, far below the 53-bit exact-integer range of a float64. So two output channels'
 * weights are packed into one float64, `w[o] + w[o + 1] * 2^B`, and one multiply-add by the activation
 * advances both channels' int32 accumulators at once. B is chosen so each lane's sum stays below
 * `2^(B-1)` and the packed sum below 2^53: every lane is exact, and unpacking
 * (`hi = round(acc / 2^B)`, `lo = acc - hi * 2^B`) recovers exactly the two int32 accumulators a
 * scalar int8 kernel would produce. Layers whose fan-in is too large for two lanes use one lane.
 */

/** Weights ready for the packed int8 kernels. */
export interface PackedWeights {
  /** `[groups, fanIn]`: group g holds channels `lanes * g` and `lanes * g + 1`. */
  readonly packed: Float64Array;
  /** Channels per float64: 2, or 1 when the fan-in is too large. */
  readonly lanes: 1 | 2;
  /** `2^B`, the weight of the high lane. */
  readonly laneScale: number;
  /** `1 / laneScale`. */
  readonly invLaneScale: number;
  /** Number of float64 groups (`ceil(outChannels / lanes)`). */
  readonly groups: number;
}

/** Largest |dot product| of `fanIn` int8 weights ([-127, 127]) and int8 activations ([-128, 127]). */
function maxDot(fanIn: number): number {
  return fanIn * 127 * 128;
}

/** Packs `[outChannels, fanIn]` int8 weights two channels per float64 where that is exact. */
export function packWeights(w: Int8Array, outChannels: number): PackedWeights {
  const fanIn = w.length / outChannels;
  // Lane width B: |lane| < 2^(B-1) needs 2^(B-1) > maxDot; the packed sum is < 2^(2B-1) ≤ 2^53.
  const bits = Math.ceil(Math.log2(maxDot(fanIn) + 1)) + 1;
  const lanes: 1 | 2 = outChannels > 1 && 2 * bits - 1 <= 53 ? 2 : 1;
  const laneScale = lanes === 2 ? 2 ** bits : 1;
  const groups = Math.ceil(outChannels / lanes);
  const packed = new Float64Array(groups * fanIn);
  for (let g = 0; g < groups; g++) {
    const lo = g * lanes;
    for (let i = 0; i < fanIn; i++) {
      let v = w[lo * fanIn + i];
      if (lanes === 2 && lo + 1 < outChannels) v += w[(lo + 1) * fanIn + i] * laneScale;
      packed[g * fanIn + i] = v;
    }
  }
  return { packed, lanes, laneScale, invLaneScale: 1 / laneScale, groups };
}
