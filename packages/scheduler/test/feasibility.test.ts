import { describe, expect, it } from 'vitest';
import { chooseNode, type PlacementRequest } from '../src/index.js';
import { node } from './fixtures.js';

const ID = '1a2b3c4d5e6f7a8b9c0d';
const place = (nodes: Parameters<typeof chooseNode>[0], demand: Record<string, number>, extra: Partial<PlacementRequest> = {}) =>
  chooseNode(nodes, { demand, strategy: 'DEFAULT', ...extra });

describe('infeasible vs wait', () => {
  it('chooseNode reasons - a resource no alive node offers', () => {
    const nodes = [node('a', { CPU: 4 }), node('b', { CPU: 4, camera: 1 }, { alive: false })];
    expect(place(nodes, { CPU: 1, camera: 1 })).toEqual({ kind: 'infeasible', reason: 'no node offers {camera: 1}' });
    expect(place(nodes, { camera: 1, lidar: 2 })).toEqual({ kind: 'infeasible', reason: 'no node offers {camera: 1, lidar: 2}' });
  });

  it('chooseNode reasons - a placement-group demand whose group is not placed names the group', () => {
    const nodes = [node('a', { CPU: 4, CPU_group_0_00aa11bb22cc33dd: 1 })];
    expect(place(nodes, { CPU_group_1_00aa11bb22cc33dd: 1 })).toEqual({
      kind: 'infeasible',
      reason:
        'no node offers {CPU_group_1_00aa11bb22cc33dd: 1} (placement group 00aa11bb… is not placed: not ready yet, removed, or the bundle index is out of range)',
    });
  });

  it('chooseNode reasons - a demand larger than every node, naming the largest', () => {
    const nodes = [node('a', { CPU: 2 }), node(ID, { CPU: 4 }), node('c', { CPU: 3 })];
    expect(place(nodes, { CPU: 8 })).toEqual({ kind: 'infeasible', reason: 'no node has {CPU: 8} in total (largest: {CPU: 4} on node 1a2b3c4d…)' });
  });

  it('chooseNode reasons - a combination no single node has', () => {
    const nodes = [node('a', { CPU: 8 }), node('b', { CPU: 1, GPU: 1 })];
    expect(place(nodes, { CPU: 2, GPU: 1 })).toEqual({
      kind: 'infeasible',
      reason: 'no node has {CPU: 2, GPU: 1} in total (largest: {CPU: 1, GPU: 1} on node b)',
    });
  });

  it('chooseNode reasons - labels: nothing matches, or matching nodes lack the resource', () => {
    const nodes = [node('a', { CPU: 4, camera: 1 }, { labels: { zone: 'a' } }), node('b', { CPU: 4 }, { labels: { zone: 'b' } })];
    expect(place(nodes, { CPU: 1 }, { labelSelector: { zone: 'c' } })).toEqual({ kind: 'infeasible', reason: 'no node matches labels {zone: c}' });
    expect(place(nodes, { camera: 1 }, { labelSelector: { zone: 'b' } })).toEqual({
      kind: 'infeasible',
      reason: 'no node matching labels {zone: b} offers {camera: 1}',
    });
    expect(place(nodes, { CPU: 6 }, { labelSelector: { zone: 'in(a,b)' } })).toEqual({
      kind: 'infeasible',
      reason: 'no node matching labels {zone: in(a,b)} has {CPU: 6} in total (largest: {CPU: 4} on node a)',
    });
  });

  it('chooseNode reasons - no alive node at all', () => {
    expect(place([node('a', { CPU: 1 }, { alive: false })], { CPU: 1 })).toEqual({ kind: 'infeasible', reason: 'no node is alive to run {CPU: 1}' });
    expect(place([], {})).toEqual({ kind: 'infeasible', reason: 'no node is alive to run {}' });
  });

  it('chooseNode reasons - waits when feasible nodes are busy', () => {
    const busy = [
      node('a', { CPU: 2 }, { available: { CPU: 0 } }),
      node('b', { CPU: 2 }, { available: { CPU: 0 } }),
      node('c', { CPU: 4 }, { available: { CPU: 0.5 } }),
      node('small', { CPU: 0.5 }),
    ];
    expect(place(busy, { CPU: 1 })).toEqual({ kind: 'wait', reason: 'waiting for {CPU: 1}: all 3 feasible nodes are busy' });
  });

  it('chooseNode reasons - waits on the only feasible node, saying what it has', () => {
    const nodes = [node('a', { CPU: 8 }), node(ID, { CPU: 1, GPU: 1 }, { available: { CPU: 1, GPU: 0.25 } })];
    expect(place(nodes, { GPU: 0.5 })).toEqual({
      kind: 'wait',
      reason: 'waiting for {GPU: 0.5}: the only feasible node, node 1a2b3c4d…, has {GPU: 0.25} available',
    });
  });

  it('chooseNode reasons - a dead node that could run it does not make it wait', () => {
    const nodes = [node('a', { CPU: 1 }), node('b', { CPU: 16 }, { alive: false })];
    expect(place(nodes, { CPU: 8 })).toMatchObject({ kind: 'infeasible' });
  });

  it('chooseNode reasons - zero amounts are not demanded', () => {
    expect(place([node('a', { CPU: 1 })], { CPU: 1, camera: 0 })).toEqual({ kind: 'placed', nodeId: 'a' });
  });
});
