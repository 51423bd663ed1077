import { describe, expect, it } from 'vitest';
import { chooseNode, SpreadState, type NodeView } from '../src/index.js';
import { node } from './fixtures.js';

const spread = { demand: { CPU: 1 }, strategy: 'SPREAD' as const };

function placeMany(nodes: NodeView[], n: number, state: SpreadState): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const d = chooseNode(nodes, spread, state);
    if (d.kind !== 'placed') throw new Error(d.reason);
    out.push(d.nodeId);
  }
  return out;
}

describe('chooseNode SPREAD', () => {
  it('chooseNode SPREAD - rotates over the available nodes, least recently chosen first', () => {
    const nodes = [node('c', { CPU: 8 }), node('a', { CPU: 8 }), node('b', { CPU: 8 })];
    expect(placeMany(nodes, 6, new SpreadState())).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('chooseNode SPREAD - skips nodes without room and keeps rotating over the rest', () => {
    const state = new SpreadState();
    const full = [node('a', { CPU: 8 }), node('b', { CPU: 8 }, { available: { CPU: 0 } }), node('c', { CPU: 8 })];
    expect(placeMany(full, 3, state)).toEqual(['a', 'c', 'a']);
    // b frees up: it was never chosen, so it goes first, then c (chosen before the last a).
    const freed = [node('a', { CPU: 8 }), node('b', { CPU: 8 }), node('c', { CPU: 8 })];
    expect(placeMany(freed, 3, state)).toEqual(['b', 'c', 'a']);
  });

  it('chooseNode SPREAD - a new node joins the rotation first', () => {
    const state = new SpreadState();
    placeMany([node('a', { CPU: 1 }), node('b', { CPU: 1 })], 2, state);
    expect(placeMany([node('a', { CPU: 1 }), node('b', { CPU: 1 }), node('n', { CPU: 1 })], 1, state)).toEqual(['n']);
  });

  it('chooseNode SPREAD - without state takes the first available node by id', () => {
    const nodes = [node('b', { CPU: 1 }), node('a', { CPU: 1 }, { available: {} })];
    expect(chooseNode(nodes, spread)).toEqual({ kind: 'placed', nodeId: 'b' });
  });

  it('chooseNode SPREAD - ignores dead nodes and respects label selectors', () => {
    const nodes = [
      node('a', { CPU: 1 }, { labels: { zone: 'a' } }),
      node('b', { CPU: 1 }, { labels: { zone: 'b' }, alive: false }),
      node('c', { CPU: 1 }, { labels: { zone: 'b' } }),
      node('d', { CPU: 1 }, { labels: { zone: 'b' } }),
    ];
    const state = new SpreadState();
    const out = [0, 1, 2, 3].map(() => chooseNode(nodes, { ...spread, labelSelector: { zone: 'b' } }, state));
    expect(out.map((d) => (d.kind === 'placed' ? d.nodeId : d.kind))).toEqual(['c', 'd', 'c', 'd']);
  });

  it('chooseNode SPREAD - waits when every feasible node is busy and is infeasible when none fits', () => {
    const busy = [node('a', { CPU: 2 }, { available: { CPU: 0 } }), node('b', { CPU: 2 }, { available: { CPU: 0.5 } })];
    expect(chooseNode(busy, spread, new SpreadState())).toEqual({ kind: 'wait', reason: 'waiting for {CPU: 1}: all 2 feasible nodes are busy' });
    expect(chooseNode(busy, { ...spread, demand: { CPU: 3 } })).toEqual({
      kind: 'infeasible',
      reason: 'no node has {CPU: 3} in total (largest: {CPU: 2} on node a)',
    });
  });

  it('SpreadState - remembers a bounded number of nodes', () => {
    const state = new SpreadState();
    const many = Array.from({ length: 500 }, (_, i) => node(`n${String(i).padStart(3, '0')}`, { CPU: 1 }));
    const out = placeMany(many, 1000, state);
    expect(out.slice(0, 3)).toEqual(['n000', 'n001', 'n002']);
    expect(out[500]).toBe('n000');
    expect(new Set(out).size).toBe(500);
  });
});
