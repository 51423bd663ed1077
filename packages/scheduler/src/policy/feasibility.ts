/**
 * Feasibility, shared by every strategy: which nodes could ever run a demand (alive, labels match,
 * TOTAL fits) and which can run it now (AVAILABLE fits), and the reasons given when none can.
 */
import { fits, shortId, type ResourceMap } from '@samsara/ray-common';
import { formatAmounts, formatDemand, formatLabels, nodeName } from '../reasons.js';
import { demandedKeys, toUnits } from '../resource-units.js';
import type { LabelSelector, NodeView } from '../types.js';
import { matchesLabels } from './label-selector.js';

/** The nodes of a view, narrowed step by step for one demand. */
export interface Candidates {
  /** Alive nodes. */
  readonly alive: readonly NodeView[];
  /** Alive nodes whose labels match the selector (all alive nodes without one). */
  readonly matching: readonly NodeView[];
  /** Matching nodes whose total fits the demand: they could run it once idle. */
  readonly feasible: readonly NodeView[];
  /** Feasible nodes whose available resources fit the demand now. */
  readonly available: readonly NodeView[];
}

/** Narrows `nodes` for `demand` and `selector`. */
export function classify(nodes: readonly NodeView[], demand: Readonly<ResourceMap>, selector?: LabelSelector): Candidates {
  const alive: NodeView[] = [];
  const matching: NodeView[] = [];
  const feasible: NodeView[] = [];
  const available: NodeView[] = [];
  const d = demand as ResourceMap;
  for (const n of nodes) {
    if (!n.alive) continue;
    alive.push(n);
    if (selector && !matchesLabels(n.labels, selector)) continue;
    matching.push(n);
    if (!fits(d, n.total as ResourceMap)) continue;
    feasible.push(n);
    if (fits(d, n.available as ResourceMap)) available.push(n);
  }
  return { alive, matching, feasible, available };
}

/** True when `n` is alive, matches `selector` and its total fits `demand`. */
export function isFeasible(n: NodeView, demand: Readonly<ResourceMap>, selector?: LabelSelector): boolean {
  return n.alive && (!selector || matchesLabels(n.labels, selector)) && fits(demand as ResourceMap, n.total as ResourceMap);
}

/** True when `n` is feasible and its available resources fit `demand` now. */
export function isAvailable(n: NodeView, demand: Readonly<ResourceMap>, selector?: LabelSelector): boolean {
  return isFeasible(n, demand, selector) && fits(demand as ResourceMap, n.available as ResourceMap);
}

/**
 * Why no node can ever run `demand`, e.g. "no node offers {camera: 1}" or
 * "no node has {CPU: 8} in total (largest: {CPU: 4} on node 1a2b3c4d…)". Call only when
 * `c.feasible` is empty.
 */
export function infeasibleReason(c: Candidates, demand: Readonly<ResourceMap>, selector?: LabelSelector): string {
  if (c.alive.length === 0) return `no node is alive to run ${formatDemand(demand)}`;
  const hasSelector = selector !== undefined && Object.keys(selector).length > 0;
  if (c.matching.length === 0) return `no node matches labels ${formatLabels(selector ?? {})}`;
  const subject = hasSelector ? `no node matching labels ${formatLabels(selector ?? {})}` : 'no node';
  const keys = demandedKeys(demand);
  const absent = keys.filter((k) => c.matching.every((n) => toUnits(n.total[k]) <= 0));
  if (absent.length > 0) return `${subject} offers ${formatAmounts(demand, absent)}${groupHint(absent)}`;
  const largest = largestNode(c.matching, demand);
  return `${subject} has ${formatDemand(demand)} in total (largest: ${formatAmounts(largest.total, keys)} on ${nodeName(largest.nodeId)})`;
}

const GROUP_RESOURCE = /_group_(?:\d+_)?([0-9a-f]{8,})$/;

/** For placement-group resources: which group is missing, e.g. " (placement group 1a2b3c4d… is not placed)". */
function groupHint(absent: readonly string[]): string {
  const ids = new Set(absent.map((k) => GROUP_RESOURCE.exec(k)?.[1]));
  if (ids.size !== 1 || ids.has(undefined)) return '';
  const [id] = [...ids] as string[];
  return ` (placement group ${shortId(id)} is not placed: not ready yet, removed, or the bundle index is out of range)`;
}

/** The node that comes closest to holding `demand`: the largest smallest ratio total/demand. */
export function largestNode(nodes: readonly NodeView[], demand: Readonly<ResourceMap>): NodeView {
  const keys = demandedKeys(demand);
  let best = nodes[0];
  let bestRatio = -1;
  for (const n of nodes) {
    let r = Infinity;
    for (const k of keys) r = Math.min(r, toUnits(n.total[k]) / toUnits(demand[k]));
    if (r > bestRatio || (r === bestRatio && n.nodeId < best.nodeId)) {
      best = n;
      bestRatio = r;
    }
  }
  return best;
}

/**
 * What `demand` waits for when some node could run it but none can now, e.g.
 * "waiting for {CPU: 1}: all 3 feasible nodes are busy". Call only when `c.available` is empty and
 * `c.feasible` is not.
 */
export function waitReason(c: Candidates, demand: Readonly<ResourceMap>): string {
  const what = `waiting for ${formatDemand(demand)}`;
  if (c.feasible.length === 1) {
    const n = c.feasible[0];
    return `${what}: the only feasible node, ${nodeName(n.nodeId)}, has ${formatAmounts(n.available, demandedKeys(demand))} available`;
  }
  return `${what}: all ${c.feasible.length} feasible nodes are busy`;
}
