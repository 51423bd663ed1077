import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, addResources, fits, subtractResources, type ResourceMap } from '@samsara/ray-common';
import { placeBundles, type BundlePlacement, type NodeView } from '../src/index.js';
import { node } from './fixtures.js';

/** Checks a placement against the nodes' available resources: one node per bundle, nothing oversubscribed. */
function expectValid(nodes: readonly NodeView[], bundles: readonly ResourceMap[], p: BundlePlacement): readonly string[] {
  if (p.kind !== 'placed') throw new Error(`expected placed, got ${p.kind}: ${p.reason}`);
  expect(p.nodeIds).toHaveLength(bundles.length);
  const used = new Map<string, ResourceMap>();
  p.nodeIds.forEach((id, i) => used.set(id, addResources(used.get(id) ?? {}, bundles[i])));
  for (const [id, u] of used) {
    const n = nodes.find((x) => x.nodeId === id)!;
    expect(n.alive).toBe(true);
    expect(fits(u, n.available as ResourceMap)).toBe(true);
  }
  return p.nodeIds;
}

const four = () => [node('a', { CPU: 4 }), node('b', { CPU: 4 }), node('c', { CPU: 4 }), node('d', { CPU: 4 })];

describe('placeBundles', () => {
  it('placeBundles PACK - puts everything on one node when it fits', () => {
    const nodes = four();
    const bundles = [{ CPU: 1 }, { CPU: 2 }, { CPU: 1 }];
    const ids = expectValid(nodes, bundles, placeBundles(nodes, bundles, 'PACK'));
    expect(new Set(ids).size).toBe(1);
  });

  it('placeBundles PACK - uses as few nodes as possible when one is not enough', () => {
    const nodes = four();
    const bundles = Array.from({ length: 6 }, () => ({ CPU: 1 }));
    const ids = expectValid(nodes, bundles, placeBundles(nodes, bundles, 'PACK'));
    expect(new Set(ids).size).toBe(2);
  });

  it('placeBundles PACK - prefers the node that takes the most bundles', () => {
    const nodes = [node('a', { CPU: 4 }, { available: { CPU: 1 } }), node('b', { CPU: 4 }, { available: { CPU: 3 } })];
    const bundles = [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }];
    expect(placeBundles(nodes, bundles, 'PACK')).toEqual({ kind: 'placed', nodeIds: ['b', 'b', 'b'] });
  });

  it('placeBundles SPREAD - puts bundles on different nodes when possible', () => {
    const nodes = four();
    const bundles = [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }];
    const ids = expectValid(nodes, bundles, placeBundles(nodes, bundles, 'SPREAD'));
    expect(new Set(ids).size).toBe(3);
  });

  it('placeBundles SPREAD - doubles up only when there are more bundles than nodes', () => {
    const nodes = [node('a', { CPU: 4 }), node('b', { CPU: 4 })];
    const bundles = Array.from({ length: 5 }, () => ({ CPU: 1 }));
    const ids = expectValid(nodes, bundles, placeBundles(nodes, bundles, 'SPREAD'));
    expect(ids.filter((x) => x === 'a').length).toBeGreaterThanOrEqual(2);
    expect(ids.filter((x) => x === 'b').length).toBeGreaterThanOrEqual(2);
  });

  it('placeBundles SPREAD - places larger bundles first so that spreading does not strand a big one', () => {
    const nodes = [node('a', { CPU: 1 }), node('b', { CPU: 3 })];
    const bundles = [{ CPU: 1 }, { CPU: 3 }];
    expect(placeBundles(nodes, bundles, 'SPREAD')).toEqual({ kind: 'placed', nodeIds: ['a', 'b'] });
  });

  it('placeBundles STRICT_PACK - all bundles on one node, the tightest that fits', () => {
    const nodes = [node('a', { CPU: 16 }), node('b', { CPU: 4, GPU: 1 }), node('c', { CPU: 8, GPU: 2 })];
    const bundles: ResourceMap[] = [{ CPU: 2 }, { CPU: 1, GPU: 1 }];
    expect(placeBundles(nodes, bundles, 'STRICT_PACK')).toEqual({ kind: 'placed', nodeIds: ['b', 'b'] });
  });

  it('placeBundles STRICT_PACK - waits rather than splitting, infeasible when no node could hold the sum', () => {
    const nodes = [node('a', { CPU: 4 }, { available: { CPU: 2 } }), node('b', { CPU: 2 })];
    expect(placeBundles(nodes, [{ CPU: 2 }, { CPU: 2 }], 'STRICT_PACK')).toEqual({
      kind: 'wait',
      reason: 'waiting for {CPU: 4} on one node (STRICT_PACK): 1 node could hold it, none has it available now',
    });
    expect(placeBundles(nodes, [{ CPU: 4 }, { CPU: 1 }], 'STRICT_PACK')).toEqual({
      kind: 'infeasible',
      reason: 'STRICT_PACK needs {CPU: 5} on one node, and no node has that in total (largest: {CPU: 4} on node a)',
    });
  });

  it('placeBundles STRICT_SPREAD - each bundle on a distinct node', () => {
    const nodes = four();
    const bundles = Array.from({ length: 4 }, () => ({ CPU: 1 }));
    const ids = expectValid(nodes, bundles, placeBundles(nodes, bundles, 'STRICT_SPREAD'));
    expect(new Set(ids).size).toBe(4);
  });

  it('placeBundles STRICT_SPREAD - finds the arrangement a greedy choice would miss', () => {
    // The camera bundle can only go to c; the CPU bundles must leave it free.
    const nodes = [node('a', { CPU: 2 }), node('c', { CPU: 2, camera: 1 }), node('b', { CPU: 2 })];
    const bundles: ResourceMap[] = [{ CPU: 1 }, { CPU: 1 }, { camera: 1 }];
    expect(placeBundles(nodes, bundles, 'STRICT_SPREAD')).toEqual({ kind: 'placed', nodeIds: ['a', 'b', 'c'] });
    // Needs augmenting: shape {CPU: 2} fits a and c only; {GPU: 1} fits c and d only; {CPU: 1} fits a, b, c.
    const tricky = [node('a', { CPU: 2 }), node('b', { CPU: 1 }), node('c', { CPU: 2, GPU: 1 }), node('d', { GPU: 1 })];
    const tb: ResourceMap[] = [{ CPU: 1 }, { CPU: 1 }, { CPU: 2 }, { GPU: 1 }];
    const ids = expectValid(tricky, tb, placeBundles(tricky, tb, 'STRICT_SPREAD'));
    expect(new Set(ids).size).toBe(4);
  });

  it('placeBundles STRICT_SPREAD - infeasible with more bundles than nodes that have it', () => {
    const nodes = [...four().slice(0, 3), node('e', { GPU: 1 }), node('f', { CPU: 8 }, { alive: false })];
    expect(placeBundles(nodes, Array.from({ length: 4 }, () => ({ CPU: 1 })), 'STRICT_SPREAD')).toEqual({
      kind: 'infeasible',
      reason: 'STRICT_SPREAD needs 4 nodes with {CPU: 1}, only 3 alive nodes have it',
    });
  });

  it('placeBundles STRICT_SPREAD - mixed bundles that cannot be spread', () => {
    const nodes = [node('a', { CPU: 1, camera: 1 }), node('b', { CPU: 1 })];
    expect(placeBundles(nodes, [{ camera: 1 }, { camera: 1 }, { CPU: 1 }], 'STRICT_SPREAD')).toEqual({
      kind: 'infeasible',
      reason: 'STRICT_SPREAD needs 3 distinct nodes, one per bundle, but at most 2 of the bundles fit on distinct alive nodes',
    });
  });

  it('placeBundles STRICT_SPREAD - waits when enough nodes exist but are busy', () => {
    const nodes = [node('a', { CPU: 2 }), node('b', { CPU: 2 }, { available: { CPU: 0 } }), node('c', { CPU: 2 })];
    expect(placeBundles(nodes, [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }], 'STRICT_SPREAD')).toEqual({
      kind: 'wait',
      reason: 'waiting for 3 nodes with {CPU: 1} available (STRICT_SPREAD): only 2 have it now',
    });
  });

  it('placeBundles - a bundle no node offers is infeasible whatever the strategy', () => {
    const nodes = four();
    for (const s of ['PACK', 'SPREAD', 'STRICT_PACK', 'STRICT_SPREAD'] as const) {
      expect(placeBundles(nodes, [{ CPU: 1 }, { camera: 1 }], s)).toEqual({ kind: 'infeasible', reason: 'bundle 1 {camera: 1}: no node offers {camera: 1}' });
    }
    expect(placeBundles(nodes, [{ CPU: 5 }], 'PACK')).toEqual({
      kind: 'infeasible',
      reason: 'bundle 0 {CPU: 5}: no node has {CPU: 5} in total (largest: {CPU: 4} on node a)',
    });
  });

  it('placeBundles PACK/SPREAD - infeasible when the cluster total is too small, wait when only busy', () => {
    const nodes = [node('a', { CPU: 2 }), node('b', { CPU: 2 }, { available: { CPU: 1 } })];
    expect(placeBundles(nodes, [{ CPU: 2 }, { CPU: 2 }, { CPU: 1 }], 'PACK')).toEqual({
      kind: 'infeasible',
      reason: 'PACK needs {CPU: 5} in total, the alive nodes have {CPU: 4}',
    });
    expect(placeBundles(nodes, [{ CPU: 2 }, { CPU: 2 }], 'SPREAD')).toEqual({
      kind: 'wait',
      reason: 'waiting for {CPU: 4} (SPREAD): the alive nodes have {CPU: 3} available',
    });
    const frag = [node('a', { CPU: 2 }, { available: { CPU: 1 } }), node('b', { CPU: 2 }, { available: { CPU: 1 } })];
    expect(placeBundles(frag, [{ CPU: 2 }], 'PACK')).toEqual({
      kind: 'wait',
      reason: 'waiting for {CPU: 2} (PACK): enough is free in total but it is fragmented across nodes',
    });
    expect(placeBundles([node('a', { CPU: 3 }), node('b', { CPU: 3 })], [{ CPU: 2 }, { CPU: 2 }, { CPU: 2 }], 'PACK')).toEqual({
      kind: 'infeasible',
      reason: 'PACK: the 3 bundles cannot be arranged on the alive nodes even when they are idle',
    });
  });

  it('placeBundles - atomic: a group that does not fully fit reserves nothing', () => {
    const nodes = [node('a', { CPU: 2 }), node('b', { CPU: 2 }, { available: { CPU: 0 } })];
    for (const s of ['PACK', 'SPREAD', 'STRICT_PACK', 'STRICT_SPREAD'] as const) {
      const p = placeBundles(nodes, [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }], s);
      expect(p.kind).not.toBe('placed');
      expect('nodeIds' in p).toBe(false);
    }
  });

  it('placeBundles - ignores dead nodes and reports no alive node', () => {
    const nodes = [node('a', { CPU: 8 }, { alive: false }), node('b', { CPU: 1 })];
    expect(placeBundles(nodes, [{ CPU: 1 }], 'PACK')).toEqual({ kind: 'placed', nodeIds: ['b'] });
    expect(placeBundles([nodes[0]], [{ CPU: 1 }], 'SPREAD')).toEqual({ kind: 'infeasible', reason: 'SPREAD placement group: no node is alive' });
  });

  it('placeBundles - fractional bundles add up exactly', () => {
    const nodes = [node('a', { GPU: 1 })];
    const tenths = Array.from({ length: 10 }, () => ({ GPU: 0.1 }));
    expect(placeBundles(nodes, tenths, 'STRICT_PACK')).toEqual({ kind: 'placed', nodeIds: Array(10).fill('a') });
    expect(placeBundles(nodes, [...tenths, { GPU: 0.1 }], 'PACK').kind).toBe('infeasible');
    const thirds = [node('a', { GPU: 1 }, { available: { GPU: subtractResources({ GPU: 1 }, { GPU: 0.7 }).GPU } })];
    expect(placeBundles(thirds, [{ GPU: 0.1 }, { GPU: 0.2 }], 'PACK')).toEqual({ kind: 'placed', nodeIds: ['a', 'a'] });
  });

  it('placeBundles - rejects an unknown strategy and an empty group', () => {
    expect(() => placeBundles(four(), [{ CPU: 1 }], 'BALANCED' as never)).toThrow(InvalidArgumentError);
    expect(() => placeBundles(four(), [{ CPU: 1 }], 'BALANCED' as never)).toThrow(
      'placement group strategy "BALANCED" is not valid. Use one of PACK, SPREAD, STRICT_PACK, STRICT_SPREAD.',
    );
    expect(() => placeBundles(four(), [], 'PACK')).toThrow('a placement group needs at least one bundle.');
  });

  it('placeBundles - empty bundles fit anywhere', () => {
    expect(placeBundles([node('a', {}), node('b', {})], [{}, {}], 'STRICT_SPREAD')).toEqual({ kind: 'placed', nodeIds: ['a', 'b'] });
  });

  it('placeBundles - 1,000 bundles on 300 nodes, every strategy (its speed is measured in bench/, not asserted here)', () => {
    const nodes = Array.from({ length: 300 }, (_, i) =>
      node(`n${String(i).padStart(4, '0')}`, i % 3 === 0 ? { CPU: 8, GPU: 1 } : { CPU: 4 }, i % 7 === 0 ? { available: { CPU: 1 } } : {}),
    );
    const bundles = Array.from({ length: 1000 }, (_, i): ResourceMap => (i % 10 === 0 ? { CPU: 1, GPU: 0.5 } : { CPU: 1 }));
    const pack = expectValid(nodes, bundles, placeBundles(nodes, bundles, 'PACK'));
    const spread = expectValid(nodes, bundles, placeBundles(nodes, bundles, 'SPREAD'));
    const many = Array.from({ length: 1000 }, (_, i) => node(`m${String(i).padStart(4, '0')}`, { CPU: 2, ...(i % 2 ? { GPU: 1 } : {}) }));
    const strict = expectValid(many, bundles, placeBundles(many, bundles, 'STRICT_SPREAD'));
    expect(new Set(strict).size).toBe(1000);
    expect(new Set(spread).size).toBe(300);
    expect(new Set(pack).size).toBeLessThan(new Set(spread).size);
    expect(placeBundles(many, [...bundles, { CPU: 1 }], 'STRICT_SPREAD')).toEqual({
      kind: 'infeasible',
      reason: 'STRICT_SPREAD needs 1001 distinct nodes, one per bundle, but at most 1000 of the bundles fit on distinct alive nodes',
    });
  });
});
