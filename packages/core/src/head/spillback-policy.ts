/**
 * Spillback (Ray's name for it): work queued at a busy node moves to a node that can run it now. The
 * head sees every node's queue (pending demands by shape) and free resources in their reports; this
 * pure policy decides, for each node with queued work, how many tasks of each demand shape other nodes
 * could start at once. The head then tells the busy node to hand that many back to their owners, who
 * place them again with their own view (see NodeDaemon 'spill' and the owner's re-placement). A node
 * is told again only after it reported anew, so one stale report never spills twice.
 */
import { fits, subtractResources, type ResourceMap } from '@samsara/ray-common';

export interface SpillNode {
  readonly nodeId: string;
  readonly alive: boolean;
  readonly available: ResourceMap;
  readonly queuedTasks: number;
  readonly pending: readonly { readonly resources?: ResourceMap | null; readonly count?: number | null }[];
}

export interface SpillOrder {
  readonly from: string;
  readonly resources: ResourceMap;
  readonly count: number;
}

/** How many queued tasks of which shape each busy node should hand back. Free capacity is used once. */
export function planSpills(nodes: readonly SpillNode[], mayOrder: (nodeId: string) => boolean = () => true): SpillOrder[] {
  const idle = nodes.filter((n) => n.alive && n.queuedTasks === 0).map((n) => ({ nodeId: n.nodeId, free: { ...n.available } }));
  const orders: SpillOrder[] = [];
  if (idle.length === 0) return orders;
  for (const busy of nodes) {
    if (!busy.alive || busy.queuedTasks === 0 || !mayOrder(busy.nodeId)) continue;
    for (const p of busy.pending) {
      const want = p.count ?? 0;
      const resources = p.resources ?? {};
      if (want <= 0 || Object.keys(resources).length === 0) continue;
      let count = 0;
      for (const target of idle) {
        if (target.nodeId === busy.nodeId) continue;
        while (count < want && fits(resources, target.free)) {
          target.free = subtractResources(target.free, resources);
          count++;
        }
      }
      if (count > 0) orders.push({ from: busy.nodeId, resources, count });
    }
  }
  return orders;
}
