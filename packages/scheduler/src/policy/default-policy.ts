/**
 * DEFAULT, Ray's hybrid policy: pack onto a preferred node until it is about half used, then spread to
 * the least-utilised node.
 */
import type { ResourceMap } from '@samsara/ray-common';
import { SPREAD_THRESHOLD } from '../config.js';
import { utilisationAfter } from '../resource-units.js';
import type { NodeView, PlacementDecision, PlacementRequest, Random } from '../types.js';
import { classify, infeasibleReason, waitReason } from './feasibility.js';

/** Slack for comparing utilisations computed from fixed-point amounts. */
const EPSILON = 1e-9;
/** Argument bytes on one node above which DEFAULT places there whenever it has room (1 MiB). */
export const LOCALITY_MIN_BYTES = 1024 * 1024;

/**
 * Hybrid placement over the nodes that pass the label selector and fit the demand.
 *
 * Candidate order: the node holding the most argument bytes (`req.argBytesByNode`), then
 * `req.localNodeId`, then the rest by node id. The first candidate with the demand available whose
 * utilisation after placement (max over the demanded resources of used / total; CPU for an empty demand)
 * stays ≤ {@link SPREAD_THRESHOLD} wins. Otherwise the available node with the lowest utilisation wins,
 * ties broken by `random`. No available node but a feasible one gives `wait`; no feasible node gives
 * `infeasible`. Nodes whose kind is in `req.avoidKinds` are candidates only when no other node has the
 * demand available. The strategy field of `req` is ignored.
 */
export function defaultPolicy(nodes: readonly NodeView[], req: PlacementRequest, random: Random = Math.random): PlacementDecision {
  const c = classify(nodes, req.demand, req.labelSelector);
  if (c.available.length === 0) {
    return c.feasible.length > 0
      ? { kind: 'wait', reason: waitReason(c, req.demand) }
      : { kind: 'infeasible', reason: infeasibleReason(c, req.demand, req.labelSelector) };
  }
  // Kinds to avoid (the head's node, for actors) count only when nothing else has room.
  const avoid = req.avoidKinds;
  const preferred = avoid?.length ? c.available.filter((n) => !avoid.includes(n.kind ?? '')) : c.available;
  const available = preferred.length > 0 ? preferred : c.available;
  // Data locality first: moving a large argument costs more than a less even spread, so the node that
  // already holds at least LOCALITY_MIN_BYTES of the arguments wins whenever it has room.
  const argNode = heaviestArgNode(req.argBytesByNode);
  if (argNode !== undefined && (req.argBytesByNode?.[argNode] ?? 0) >= LOCALITY_MIN_BYTES && available.some((n) => n.nodeId === argNode)) {
    return { kind: 'placed', nodeId: argNode };
  }
  const ordered = candidateOrder(available, req);
  const util = ordered.map((n) => utilisationAfter(n.total, n.available, req.demand as ResourceMap));
  for (let i = 0; i < ordered.length; i++) {
    if (util[i] <= SPREAD_THRESHOLD + EPSILON) return { kind: 'placed', nodeId: ordered[i].nodeId };
  }
  const lowest = Math.min(...util);
  const best = ordered.filter((_, i) => util[i] <= lowest + EPSILON);
  const pick = best[Math.min(best.length - 1, Math.max(0, Math.floor(random() * best.length)))];
  return { kind: 'placed', nodeId: pick.nodeId };
}

/** Argument-holding node first, then the local node, then the rest by node id. */
function candidateOrder(nodes: readonly NodeView[], req: PlacementRequest): NodeView[] {
  const rest = [...nodes].sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
  const first: NodeView[] = [];
  const argNode = heaviestArgNode(req.argBytesByNode);
  for (const id of [argNode, req.localNodeId]) {
    if (id === undefined) continue;
    const i = rest.findIndex((n) => n.nodeId === id);
    if (i >= 0) first.push(...rest.splice(i, 1));
  }
  return [...first, ...rest];
}

/** The node id with the most argument bytes (> 0); ties go to the smaller node id. */
function heaviestArgNode(bytes: Readonly<Record<string, number>> | undefined): string | undefined {
  if (!bytes) return undefined;
  let best: string | undefined;
  let most = 0;
  for (const id of Object.keys(bytes)) {
    const b = bytes[id];
    if (b > most || (b === most && b > 0 && best !== undefined && id < best)) {
      best = id;
      most = b;
    }
  }
  return best;
}
