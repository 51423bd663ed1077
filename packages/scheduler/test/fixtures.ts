/** Test fixtures: node views and a fake random source. */
import type { NodeView, Random } from '../src/index.js';

export function node(
  nodeId: string,
  total: Record<string, number>,
  opts: { available?: Record<string, number>; labels?: Record<string, string>; alive?: boolean } = {},
): NodeView {
  return {
    nodeId,
    address: `127.0.0.1:${1000 + nodeId.length}`,
    total,
    available: opts.available ?? { ...total },
    labels: opts.labels ?? {},
    alive: opts.alive ?? true,
  };
}

/** A Random returning the given values in turn (then the last one forever), recording each call. */
export function fakeRandom(...values: number[]): Random & { calls: number } {
  let i = 0;
  const f = (() => {
    f.calls++;
    return values[Math.min(i++, values.length - 1)] ?? 0;
  }) as Random & { calls: number };
  f.calls = 0;
  return f;
}
