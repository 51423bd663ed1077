/**
 * Placement groups: choose a node for every bundle of a group, or for none (atomic reservation).
 *
 * - PACK: as few nodes as possible; falls back to any arrangement that fits.
 * - SPREAD: different nodes where possible; falls back to any arrangement that fits.
 * - STRICT_PACK: all bundles on one node.
 * - STRICT_SPREAD: every bundle on a distinct node (an exact bipartite matching, so it never waits for
 *   an arrangement that already exists).
 *
 * Placement looks at AVAILABLE resources. When it fails, the same arrangement is tried on TOTAL
 * capacity (every node idle): if that fails too the group can never be placed (`infeasible`),
 * otherwise it `wait`s. Bundles of equal shape are handled together, so a thousand bundles cost little.
 */
import { fits, InvalidArgumentError, type ResourceMap } from '@samsara/ray-common';
import { formatAmounts, formatDemand, nodeName, plural } from '../reasons.js';
import { copiesThatFit, demandedKeys, fromUnits, positivePart, shapeKey, takeUnits, unitsOf, unitsOfKeys, type Units } from '../resource-units.js';
import type { BundlePlacement, NodeView, PlacementGroupStrategy } from '../types.js';
import { classify, infeasibleReason, largestNode } from './feasibility.js';

const STRATEGIES: readonly PlacementGroupStrategy[] = ['PACK', 'SPREAD', 'STRICT_PACK', 'STRICT_SPREAD'];

/** Bundles of one shape. */
interface Shape {
  readonly demand: Units;
  readonly map: ResourceMap;
  /** Bundle indexes with this shape, ascending. */
  readonly indices: number[];
}

/** Node index (into the sorted alive nodes) per bundle index, or undefined when no arrangement fits. */
type Arrangement = Int32Array | undefined;

/**
 * Reserves every bundle or none.
 *
 * @param nodes - the cluster view; only alive nodes are used.
 * @param bundles - resource maps, one per bundle; an empty map fits on any node.
 * @param strategy - PACK, SPREAD, STRICT_PACK or STRICT_SPREAD (see the module doc).
 * @returns `placed` with one node id per bundle, in bundle order; `wait` when the bundles could fit once
 *   resources free up; `infeasible` when even the total capacity of the alive nodes cannot hold them,
 *   e.g. "STRICT_SPREAD needs 4 nodes with {CPU: 1}, only 3 alive nodes have it".
 * @throws InvalidArgumentError for an unknown strategy or an empty list of bundles.
 */
export function placeBundles(nodes: readonly NodeView[], bundles: readonly ResourceMap[], strategy: PlacementGroupStrategy): BundlePlacement {
  if (!STRATEGIES.includes(strategy)) {
    throw new InvalidArgumentError(`placement group strategy ${JSON.stringify(strategy)} is not valid.`, {
      hint: `Use one of ${STRATEGIES.join(', ')}.`,
    });
  }
  if (!Array.isArray(bundles) || bundles.length === 0) {
    throw new InvalidArgumentError('a placement group needs at least one bundle.', { hint: 'Example: [{ CPU: 1 }, { camera: 1 }].' });
  }
  const alive = nodes.filter((n) => n.alive).sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
  if (alive.length === 0) return { kind: 'infeasible', reason: `${strategy} placement group: no node is alive` };
  // Only the resources the bundles ask for matter; nodes carry many others (every live group adds its
  // own), and copying those per placement would make each placement cost grow with the live groups.
  const keys = [...new Set(bundles.flatMap((b) => demandedKeys(b)))];
  const totals = alive.map((n) => unitsOfKeys(n.total, keys));
  const shapes = groupShapes(bundles, totals);

  const now = arrange(strategy, shapes, alive.map((n) => unitsOfKeys(n.available, keys)));
  if (now) return { kind: 'placed', nodeIds: Array.from(now, (i) => alive[i].nodeId) };

  for (const s of shapes) {
    const c = classify(alive, s.map);
    if (c.feasible.length === 0) return { kind: 'infeasible', reason: `bundle ${s.indices[0]} ${formatDemand(s.map)}: ${infeasibleReason(c, s.map)}` };
  }
  const ever = arrange(strategy, shapes, totals);
  return ever
    ? { kind: 'wait', reason: waitReason(strategy, alive, shapes, bundles.length) }
    : { kind: 'infeasible', reason: infeasibleReasonFor(strategy, alive, shapes, totals, bundles.length) };
}

/** Groups bundles by shape, larger shapes (by dominant share of the cluster) first. */
function groupShapes(bundles: readonly ResourceMap[], totals: readonly Units[]): Shape[] {
  const byKey = new Map<string, Shape>();
  bundles.forEach((b, i) => {
    const key = shapeKey(b);
    let s = byKey.get(key);
    if (!s) {
      const map = positivePart(b);
      s = { demand: unitsOf(map), map, indices: [] };
      byKey.set(key, s);
    }
    s.indices.push(i);
  });
  const cluster = sumUnits(totals);
  const share = (s: Shape): number => {
    let x = 0;
    for (const k in s.demand) x = Math.max(x, (cluster[k] ?? 0) > 0 ? s.demand[k] / cluster[k] : Infinity);
    return x;
  };
  return [...byKey.values()].sort((a, b) => share(b) - share(a) || a.indices[0] - b.indices[0]);
}

function sumUnits(all: readonly Units[]): Units {
  const out: Units = {};
  for (const u of all) for (const k in u) out[k] = (out[k] ?? 0) + u[k];
  return out;
}

function bundleCount(shapes: readonly Shape[]): number {
  return shapes.reduce((n, s) => n + s.indices.length, 0);
}

function arrange(strategy: PlacementGroupStrategy, shapes: readonly Shape[], caps: readonly Units[]): Arrangement {
  switch (strategy) {
    case 'STRICT_PACK':
      return strictPack(shapes, caps);
    case 'STRICT_SPREAD':
      return strictSpread(shapes, caps).arrangement;
    case 'PACK':
      return pack(shapes, caps) ?? spread(shapes, caps);
    case 'SPREAD':
      return spread(shapes, caps) ?? pack(shapes, caps);
  }
}

/** Sum of all bundles in units. */
function groupDemand(shapes: readonly Shape[]): Units {
  const sum: Units = {};
  for (const s of shapes) for (const k in s.demand) sum[k] = (sum[k] ?? 0) + s.demand[k] * s.indices.length;
  return sum;
}

/** Everything on the tightest node that holds the sum of the bundles. */
function strictPack(shapes: readonly Shape[], caps: readonly Units[]): Arrangement {
  const sum = groupDemand(shapes);
  let best = -1;
  let bestTightness = -1;
  caps.forEach((cap, i) => {
    if (copiesThatFit(sum, cap) < 1) return;
    let t = 0;
    for (const k in sum) if (sum[k] > 0) t = Math.max(t, sum[k] / cap[k]);
    if (t > bestTightness) {
      best = i;
      bestTightness = t;
    }
  });
  if (best < 0) return undefined;
  return new Int32Array(bundleCount(shapes)).fill(best);
}

/** Greedy rounds: each round fills the node that can take the most of the remaining bundles. */
function pack(shapes: readonly Shape[], capsIn: readonly Units[]): Arrangement {
  const caps = capsIn.map((c) => ({ ...c }));
  const out = new Int32Array(bundleCount(shapes));
  const next = shapes.map(() => 0);
  const used = new Uint8Array(caps.length);
  let remaining = out.length;
  while (remaining > 0) {
    let bestNode = -1;
    let bestFill: number[] = [];
    let bestCount = 0;
    for (let i = 0; i < caps.length && bestCount < remaining; i++) {
      if (used[i]) continue;
      const cap = { ...caps[i] };
      const fill = shapes.map((s, j) => {
        const k = Math.min(s.indices.length - next[j], copiesThatFit(s.demand, cap));
        if (k > 0) takeUnits(cap, s.demand, k);
        return k;
      });
      const count = fill.reduce((a, b) => a + b, 0);
      if (count > bestCount) {
        bestNode = i;
        bestFill = fill;
        bestCount = count;
      }
    }
    if (bestNode < 0) return undefined;
    used[bestNode] = 1;
    shapes.forEach((s, j) => {
      takeUnits(caps[bestNode], s.demand, bestFill[j]);
      for (let n = 0; n < bestFill[j]; n++) out[s.indices[next[j]++]] = bestNode;
    });
    remaining -= bestCount;
  }
  return out;
}

/** Each bundle, larger shapes first, to the node holding the fewest of this group's bundles. */
function spread(shapes: readonly Shape[], capsIn: readonly Units[]): Arrangement {
  const caps = capsIn.map((c) => ({ ...c }));
  const out = new Int32Array(bundleCount(shapes));
  const count = new Int32Array(caps.length);
  for (const s of shapes) {
    for (const idx of s.indices) {
      let best = -1;
      let bestRoom = 0;
      for (let i = 0; i < caps.length; i++) {
        const room = copiesThatFit(s.demand, caps[i]);
        if (room < 1) continue;
        if (best < 0 || count[i] < count[best] || (count[i] === count[best] && room > bestRoom)) {
          best = i;
          bestRoom = room;
        }
      }
      if (best < 0) return undefined;
      takeUnits(caps[best], s.demand);
      count[best]++;
      out[idx] = best;
    }
  }
  return out;
}

/**
 * One bundle per node: maximum bipartite matching between shapes (with multiplicity) and nodes, greedy
 * first and then augmenting paths, so it fails only when no arrangement exists.
 */
function strictSpread(shapes: readonly Shape[], caps: readonly Units[]): { arrangement: Arrangement; matched: number } {
  const fit = shapes.map((s) => {
    const ids: number[] = [];
    caps.forEach((cap, i) => {
      if (copiesThatFit(s.demand, cap) >= 1) ids.push(i);
    });
    return ids;
  });
  const owner = new Int32Array(caps.length).fill(-1);
  const need = shapes.map((s) => s.indices.length);
  const order = shapes.map((_, j) => j).sort((a, b) => fit[a].length - fit[b].length);
  for (const j of order) {
    for (const i of fit[j]) {
      if (need[j] === 0) break;
      if (owner[i] < 0) {
        owner[i] = j;
        need[j]--;
      }
    }
  }
  for (const j of order) {
    while (need[j] > 0 && augment(j, fit, owner)) need[j]--;
  }
  const matched = need.reduce((n, k, j) => n + shapes[j].indices.length - k, 0);
  if (need.some((k) => k > 0)) return { arrangement: undefined, matched };
  const out = new Int32Array(bundleCount(shapes));
  const next = shapes.map(() => 0);
  owner.forEach((j, i) => {
    if (j >= 0) out[shapes[j].indices[next[j]++]] = i;
  });
  return { arrangement: out, matched };
}

/** Finds a free node for shape `start`, moving other shapes to other nodes along the way. */
function augment(start: number, fit: readonly number[][], owner: Int32Array): boolean {
  const parent = new Map<number, number>([[start, -1]]);
  const via = new Map<number, number>();
  const queue = [start];
  for (let q = 0; q < queue.length; q++) {
    const x = queue[q];
    for (const i of fit[x]) {
      const o = owner[i];
      if (o === x || (o >= 0 && parent.has(o))) continue;
      if (o >= 0) {
        parent.set(o, x);
        via.set(o, i);
        queue.push(o);
        continue;
      }
      // Free node: x takes it, and each shape on the path hands its `via` node to its parent.
      owner[i] = x;
      for (let y = x; y !== start; y = parent.get(y)!) owner[via.get(y)!] = parent.get(y)!;
      return true;
    }
  }
  return false;
}

function infeasibleReasonFor(
  strategy: PlacementGroupStrategy,
  alive: readonly NodeView[],
  shapes: readonly Shape[],
  totals: readonly Units[],
  n: number,
): string {
  const sum = fromUnits(groupDemand(shapes));
  const keys = demandedKeys(sum);
  if (strategy === 'STRICT_PACK') {
    const big = largestNode(alive, sum);
    return `STRICT_PACK needs ${formatDemand(sum)} on one node, and no node has that in total (largest: ${formatAmounts(big.total, keys)} on ${nodeName(big.nodeId)})`;
  }
  if (strategy === 'STRICT_SPREAD') {
    if (shapes.length === 1) {
      const m = alive.filter((node) => fits(shapes[0].map, node.total as ResourceMap)).length;
      return `STRICT_SPREAD needs ${n} nodes with ${formatDemand(shapes[0].map)}, only ${m} alive ${m === 1 ? 'node has' : 'nodes have'} it`;
    }
    const { matched } = strictSpread(shapes, totals);
    return `STRICT_SPREAD needs ${n} distinct nodes, one per bundle, but at most ${matched} of the bundles fit on distinct alive nodes`;
  }
  const cluster = fromUnits(sumUnits(totals));
  if (!fits(sum, cluster)) return `${strategy} needs ${formatDemand(sum)} in total, the alive nodes have ${formatAmounts(cluster, keys)}`;
  return `${strategy}: the ${n} bundles cannot be arranged on the alive nodes even when they are idle`;
}

function waitReason(strategy: PlacementGroupStrategy, alive: readonly NodeView[], shapes: readonly Shape[], n: number): string {
  const sum = fromUnits(groupDemand(shapes));
  const keys = demandedKeys(sum);
  if (strategy === 'STRICT_PACK') {
    const k = alive.filter((node) => fits(sum, node.total as ResourceMap)).length;
    return `waiting for ${formatDemand(sum)} on one node (STRICT_PACK): ${plural(k, 'node')} could hold it, none has it available now`;
  }
  if (strategy === 'STRICT_SPREAD') {
    if (shapes.length === 1) {
      const m = alive.filter((node) => fits(shapes[0].map, node.available as ResourceMap)).length;
      return `waiting for ${n} nodes with ${formatDemand(shapes[0].map)} available (STRICT_SPREAD): only ${m} ${m === 1 ? 'has' : 'have'} it now`;
    }
    const { matched } = strictSpread(
      shapes,
      alive.map((node) => unitsOf(node.available)),
    );
    return `waiting for ${n} distinct nodes (STRICT_SPREAD): only ${matched} of the bundles fit on distinct nodes now`;
  }
  const avail = fromUnits(sumUnits(alive.map((node) => unitsOf(node.available))));
  if (!fits(sum, avail)) return `waiting for ${formatDemand(sum)} (${strategy}): the alive nodes have ${formatAmounts(avail, keys)} available`;
  return `waiting for ${formatDemand(sum)} (${strategy}): enough is free in total but it is fragmented across nodes`;
}
