/**
 * Node affinity: run on one named node. Hard affinity waits for that node or fails; soft affinity takes
 * the node when it has room now and otherwise behaves like DEFAULT.
 */
import { fits, missingResources, type ResourceMap } from '@samsara/ray-common';
import { formatAmounts, formatDemand, formatLabels } from '../reasons.js';
import { demandedKeys } from '../resource-units.js';
import type { NodeView, PlacementDecision, PlacementRequest, Random } from '../types.js';
import { defaultPolicy } from './default-policy.js';
import { isAvailable } from './feasibility.js';
import { matchesLabels } from './label-selector.js';

/**
 * Placement for `{ nodeId, soft }`.
 * - hard: `placed` on the node when it has the demand available; `wait` when it is alive, matches the
 *   labels and its total fits; otherwise `infeasible` with a reason naming the node and why (unknown,
 *   dead, labels, or the resources it lacks).
 * - soft: `placed` on the node when it has the demand available; otherwise the DEFAULT decision over all
 *   nodes.
 */
export function nodeAffinityPolicy(
  nodes: readonly NodeView[],
  req: PlacementRequest,
  target: { readonly nodeId: string; readonly soft?: boolean },
  random: Random = Math.random,
): PlacementDecision {
  const node = nodes.find((n) => n.nodeId === target.nodeId);
  if (node && isAvailable(node, req.demand, req.labelSelector)) return { kind: 'placed', nodeId: node.nodeId };
  if (target.soft) return defaultPolicy(nodes, req, random);
  const name = `node ${target.nodeId}`;
  if (!node) return { kind: 'infeasible', reason: `node affinity: ${name} is unknown (not in the cluster)` };
  if (!node.alive) return { kind: 'infeasible', reason: `node affinity: ${name} is dead` };
  if (req.labelSelector && !matchesLabels(node.labels, req.labelSelector)) {
    return { kind: 'infeasible', reason: `node affinity: ${name} does not match labels ${formatLabels(req.labelSelector)}` };
  }
  const demand = req.demand as ResourceMap;
  if (!fits(demand, node.total as ResourceMap)) {
    const lack = missingResources(demand, node.total as ResourceMap);
    return {
      kind: 'infeasible',
      reason: `node affinity: ${name} lacks ${formatDemand(lack)} (it has ${formatAmounts(node.total, Object.keys(lack))} in total)`,
    };
  }
  return {
    kind: 'wait',
    reason: `waiting for ${formatDemand(demand)} on ${name} (node affinity): it has ${formatAmounts(node.available, demandedKeys(demand))} available`,
  };
}
