/**
 * SPREAD: successive placements rotate over the nodes that can take the demand now, least recently
 * chosen first.
 */
import type { NodeView, PlacementDecision, PlacementRequest } from '../types.js';
import { classify, infeasibleReason, waitReason } from './feasibility.js';

/**
 * Remembers when SPREAD last chose each node, so that successive SPREAD placements of one submitter
 * rotate over the feasible nodes. Keep one per submitter (a driver or a worker); it is not shared state
 * of the cluster. Nodes never chosen come first, in node-id order.
 *
 * @example
 * const state = new SpreadState();
 * chooseNode(nodes, { demand: { CPU: 1 }, strategy: 'SPREAD' }, state); // node a
 * chooseNode(nodes, { demand: { CPU: 1 }, strategy: 'SPREAD' }, state); // node b
 */
export class SpreadState {
  private tick = 0;
  private readonly lastChosen = new Map<string, number>();

  /** The least recently chosen of `nodes` (never chosen first, then by node id); undefined if empty. */
  leastRecent(nodes: readonly NodeView[]): NodeView | undefined {
    let best: NodeView | undefined;
    let bestTick = Infinity;
    for (const n of nodes) {
      const t = this.lastChosen.get(n.nodeId) ?? -1;
      if (best === undefined || t < bestTick || (t === bestTick && n.nodeId < best.nodeId)) {
        best = n;
        bestTick = t;
      }
    }
    return best;
  }

  /** Records that `nodeId` was chosen now. Entries of nodes gone from the view are pruned lazily. */
  record(nodeId: string, viewSize = 0): void {
    this.lastChosen.delete(nodeId);
    this.lastChosen.set(nodeId, this.tick++);
    // Map iteration order is insertion order, so the oldest entries come first.
    const max = Math.max(64, 2 * viewSize);
    for (const id of this.lastChosen.keys()) {
      if (this.lastChosen.size <= max) break;
      this.lastChosen.delete(id);
    }
  }

  /** Forgets every choice. */
  reset(): void {
    this.lastChosen.clear();
    this.tick = 0;
  }
}

/**
 * SPREAD placement: among nodes that pass the label selector and have the demand available, the one
 * `state` chose least recently. `wait` when only busy feasible nodes exist, `infeasible` when none.
 */
export function spreadPolicy(nodes: readonly NodeView[], req: PlacementRequest, state: SpreadState = new SpreadState()): PlacementDecision {
  const c = classify(nodes, req.demand, req.labelSelector);
  const pick = state.leastRecent(c.available);
  if (!pick) {
    return c.feasible.length > 0
      ? { kind: 'wait', reason: waitReason(c, req.demand) }
      : { kind: 'infeasible', reason: infeasibleReason(c, req.demand, req.labelSelector) };
  }
  state.record(pick.nodeId, nodes.length);
  return { kind: 'placed', nodeId: pick.nodeId };
}
