/**
 * The entry point of per-task placement: dispatches a request to the policy of its strategy.
 */
import { InvalidArgumentError } from '@samsara/ray-common';
import type { NodeView, PlacementDecision, PlacementRequest, Random } from '../types.js';
import { defaultPolicy } from './default-policy.js';
import { nodeAffinityPolicy } from './node-affinity-policy.js';
import { SpreadState, spreadPolicy } from './spread-policy.js';

/**
 * Chooses the node for one task or actor. Pure apart from `state` (SPREAD's rotation) and `random`.
 *
 * `nodes` is the submitter's view: each node's `available` already reduced by the submitter's own
 * in-flight placements. A node is feasible when it is alive, matches `req.labelSelector` and its TOTAL
 * fits `req.demand`; it is available when its AVAILABLE fits too. Label selectors filter nodes for
 * every strategy.
 *
 * - `'DEFAULT'`: hybrid; see {@link defaultPolicy}.
 * - `'SPREAD'`: least recently chosen available node; see {@link spreadPolicy}. Without `state`, the
 *   first available node by id.
 * - `{ nodeId, soft }`: node affinity; see {@link nodeAffinityPolicy}.
 *
 * @returns `placed` with a node id; `wait` with what it waits for when some feasible node is busy;
 *   `infeasible` with what is missing when no alive node could ever run it.
 * @throws InvalidArgumentError for an unknown strategy.
 */
export function chooseNode(
  nodes: readonly NodeView[],
  req: PlacementRequest,
  state?: SpreadState,
  random: Random = Math.random,
): PlacementDecision {
  const s = req.strategy ?? 'DEFAULT';
  if (s === 'DEFAULT') return defaultPolicy(nodes, req, random);
  if (s === 'SPREAD') return spreadPolicy(nodes, req, state ?? new SpreadState());
  if (typeof s === 'object' && s !== null && typeof s.nodeId === 'string') return nodeAffinityPolicy(nodes, req, s, random);
  throw new InvalidArgumentError(`scheduling strategy ${JSON.stringify(s)} is not valid.`, {
    hint: "Use 'DEFAULT', 'SPREAD' or { nodeId, soft }.",
  });
}
