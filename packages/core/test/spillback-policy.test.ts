import { describe, expect, it } from 'vitest';
import { planSpills, type SpillNode } from '../src/head/spillback-policy.js';

const node = (nodeId: string, available: Record<string, number>, pending: [Record<string, number>, number][] = []): SpillNode => ({
  nodeId,
  alive: true,
  available,
  queuedTasks: pending.reduce((s, [, c]) => s + c, 0),
  pending: pending.map(([resources, count]) => ({ resources, count })),
});

describe('planSpills', () => {
  it('planSpills - hands back as many queued tasks as idle nodes can start, using each free CPU once', () => {
    const orders = planSpills([node('a', { CPU: 0 }, [[{ CPU: 1 }, 10]]), node('b', { CPU: 3 }), node('c', { CPU: 1.5 })]);
    expect(orders).toEqual([{ from: 'a', resources: { CPU: 1 }, count: 4 }]);
  });

  it('planSpills - nothing moves when no other node has room, when the target has a queue, or for a dead node', () => {
    expect(planSpills([node('a', { CPU: 0 }, [[{ CPU: 1 }, 5]]), node('b', { CPU: 0.5 })])).toEqual([]);
    expect(planSpills([node('a', { CPU: 0 }, [[{ CPU: 1 }, 5]]), node('b', { CPU: 2 }, [[{ GPU: 1 }, 1]])])).toEqual([]);
    expect(planSpills([{ ...node('a', { CPU: 0 }, [[{ CPU: 1 }, 5]]), alive: false }, node('b', { CPU: 2 })])).toEqual([]);
  });

  it('planSpills - custom resources must fit too, and a node told to wait for a newer report is skipped', () => {
    const nodes = [node('a', {}, [[{ CPU: 1, camera: 1 }, 3]]), node('b', { CPU: 4 }), node('c', { CPU: 1, camera: 1 })];
    expect(planSpills(nodes)).toEqual([{ from: 'a', resources: { CPU: 1, camera: 1 }, count: 1 }]);
    expect(planSpills(nodes, (id) => id !== 'a')).toEqual([]);
  });
});
