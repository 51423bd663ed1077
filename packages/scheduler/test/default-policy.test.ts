import { describe, expect, it } from 'vitest';
import { chooseNode, SPREAD_THRESHOLD } from '../src/index.js';
import { fakeRandom, node } from './fixtures.js';

const req = (demand: Record<string, number>, extra: object = {}) => ({ demand, strategy: 'DEFAULT' as const, ...extra });

describe('chooseNode DEFAULT', () => {
  it('chooseNode DEFAULT - avoidKinds: the head node only when no other node has room', () => {
    const head = { ...node('a', { CPU: 4 }), kind: 'head' };
    const w = { ...node('b', { CPU: 2 }), kind: 'worker' };
    const busy = { ...node('b', { CPU: 2 }, { available: { CPU: 0 } }), kind: 'worker' };
    expect(chooseNode([head, w], req({ CPU: 1 }, { localNodeId: 'a', avoidKinds: ['head'] }))).toEqual({ kind: 'placed', nodeId: 'b' });
    // past the spread threshold too: still the worker while it has room
    const half = { ...node('b', { CPU: 2 }, { available: { CPU: 1 } }), kind: 'worker' };
    expect(chooseNode([head, half], req({ CPU: 1 }, { avoidKinds: ['head'] }))).toEqual({ kind: 'placed', nodeId: 'b' });
    expect(chooseNode([head, busy], req({ CPU: 1 }, { avoidKinds: ['head'] }))).toEqual({ kind: 'placed', nodeId: 'a' });
    expect(chooseNode([head, w], req({ CPU: 1 }, { localNodeId: 'a' }))).toEqual({ kind: 'placed', nodeId: 'a' });
  });

  it('chooseNode DEFAULT - prefers the local node while it stays at or below half used', () => {
    const nodes = [node('a', { CPU: 4 }), node('b', { CPU: 4 }), node('c', { CPU: 4 })];
    expect(chooseNode(nodes, req({ CPU: 1 }, { localNodeId: 'c' }))).toEqual({ kind: 'placed', nodeId: 'c' });
    // 1 of 4 used + 1 demanded = 0.5: still local.
    const c1 = node('c', { CPU: 4 }, { available: { CPU: 3 } });
    expect(chooseNode([nodes[0], nodes[1], c1], req({ CPU: 1 }, { localNodeId: 'c' }))).toEqual({ kind: 'placed', nodeId: 'c' });
    expect(SPREAD_THRESHOLD).toBe(0.5);
  });

  it('chooseNode DEFAULT - moves on in node-id order once the local node would pass the threshold', () => {
    const nodes = [node('b', { CPU: 4 }), node('a', { CPU: 4 }), node('c', { CPU: 4 }, { available: { CPU: 2 } })];
    expect(chooseNode(nodes, req({ CPU: 1 }, { localNodeId: 'c' }))).toEqual({ kind: 'placed', nodeId: 'a' });
  });

  it('chooseNode DEFAULT - without a local node takes the first node by id below the threshold', () => {
    const nodes = [node('z', { CPU: 4 }), node('m', { CPU: 4 }), node('b', { CPU: 4 }, { available: { CPU: 1 } })];
    expect(chooseNode(nodes, req({ CPU: 1 }))).toEqual({ kind: 'placed', nodeId: 'm' });
  });

  it('chooseNode DEFAULT - the node holding the most argument bytes comes before the local node', () => {
    const nodes = [node('a', { CPU: 4 }), node('b', { CPU: 4 }), node('c', { CPU: 4 })];
    const d = chooseNode(nodes, req({ CPU: 1 }, { localNodeId: 'a', argBytesByNode: { b: 10, c: 5_000_000 } }));
    expect(d).toEqual({ kind: 'placed', nodeId: 'c' });
  });

  it('chooseNode DEFAULT - the argument node is skipped when it has no room', () => {
    const nodes = [node('a', { CPU: 4 }), node('c', { CPU: 4 }, { available: { CPU: 0 } })];
    const d = chooseNode(nodes, req({ CPU: 1 }, { localNodeId: 'a', argBytesByNode: { c: 1 << 20 } }));
    expect(d).toEqual({ kind: 'placed', nodeId: 'a' });
  });

  it('chooseNode DEFAULT - when every node is above the threshold picks the least utilised', () => {
    const nodes = [
      node('a', { CPU: 4 }, { available: { CPU: 1 } }),
      node('b', { CPU: 4 }, { available: { CPU: 2 } }),
      node('c', { CPU: 8 }, { available: { CPU: 3 } }),
    ];
    // after placing 1 CPU: a 1.0, b 0.75, c 0.75 → tie between b and c, broken by random.
    expect(chooseNode(nodes, req({ CPU: 1 }, { localNodeId: 'a' }), undefined, fakeRandom(0))).toEqual({ kind: 'placed', nodeId: 'b' });
    expect(chooseNode(nodes, req({ CPU: 1 }, { localNodeId: 'a' }), undefined, fakeRandom(0.99))).toEqual({ kind: 'placed', nodeId: 'c' });
  });

  it('chooseNode DEFAULT - uses random only to break ties', () => {
    const r = fakeRandom(0.5);
    const nodes = [node('a', { CPU: 2 }, { available: { CPU: 1 } }), node('b', { CPU: 4 }, { available: { CPU: 1 } })];
    expect(chooseNode(nodes, req({ CPU: 1 }), undefined, r)).toEqual({ kind: 'placed', nodeId: 'b' }); // both would be full: a tie
    expect(r.calls).toBe(1);
    const r2 = fakeRandom(0.5);
    expect(chooseNode([node('a', { CPU: 4 })], req({ CPU: 1 }), undefined, r2)).toEqual({ kind: 'placed', nodeId: 'a' });
    expect(r2.calls).toBe(0);
  });

  it('chooseNode DEFAULT - utilisation is the maximum over the demanded resources', () => {
    const nodes = [
      node('a', { CPU: 8, GPU: 2 }, { available: { CPU: 8, GPU: 1 } }), // GPU 2/2 after → 1.0
      node('b', { CPU: 8, GPU: 4 }, { available: { CPU: 2, GPU: 4 } }), // CPU 7/8 after → 0.875
    ];
    expect(chooseNode(nodes, req({ CPU: 1, GPU: 1 }), undefined, fakeRandom(0))).toEqual({ kind: 'placed', nodeId: 'b' });
  });

  it('chooseNode DEFAULT - an empty demand is judged by CPU utilisation and prefers nodes with CPU', () => {
    const nodes = [node('a', {}), node('b', { CPU: 2 }, { available: { CPU: 0 } }), node('c', { CPU: 4 }, { available: { CPU: 1 } })];
    expect(chooseNode(nodes, req({}), undefined, fakeRandom(0))).toEqual({ kind: 'placed', nodeId: 'c' });
    expect(chooseNode([node('h', {}, { labels: {} })], req({}))).toEqual({ kind: 'placed', nodeId: 'h' });
  });

  it('chooseNode DEFAULT - skips dead nodes and nodes without room', () => {
    const nodes = [node('a', { CPU: 4 }, { alive: false }), node('b', { CPU: 4 }, { available: { CPU: 0.5 } }), node('c', { CPU: 4 })];
    expect(chooseNode(nodes, req({ CPU: 1 }, { localNodeId: 'a' }))).toEqual({ kind: 'placed', nodeId: 'c' });
  });

  it('chooseNode DEFAULT - fractional demands pack exactly', () => {
    const nodes = [node('a', { GPU: 1 }, { available: { GPU: 0.3 } }), node('b', { GPU: 1 }, { available: { GPU: 0.2 } })];
    expect(chooseNode(nodes, req({ GPU: 0.3 }), undefined, fakeRandom(0))).toEqual({ kind: 'placed', nodeId: 'a' });
    expect(chooseNode(nodes, req({ GPU: 0.3001 }))).toMatchObject({ kind: 'wait' });
  });

  it('chooseNode DEFAULT - omitted strategy means DEFAULT', () => {
    const nodes = [node('a', { CPU: 1 })];
    expect(chooseNode(nodes, { demand: { CPU: 1 } } as never)).toEqual({ kind: 'placed', nodeId: 'a' });
  });
});

describe('defaultPolicy - locality', () => {
  it('defaultPolicy - a node holding ≥ 1 MiB of arguments wins even above the spread threshold', async () => {
    const { defaultPolicy } = await import('../src/policy/default-policy.js');
    const busy = { nodeId: 'b', address: 'b:1', total: { CPU: 2 }, available: { CPU: 0.5 }, labels: {}, alive: true };
    const idle = { nodeId: 'a', address: 'a:1', total: { CPU: 2 }, available: { CPU: 2 }, labels: {}, alive: true };
    const d = defaultPolicy([idle, busy], { demand: { CPU: 0.1 }, strategy: 'DEFAULT', argBytesByNode: { b: 2 * 1024 * 1024 } }, () => 0);
    expect(d).toEqual({ kind: 'placed', nodeId: 'b' });
    const small = defaultPolicy([idle, busy], { demand: { CPU: 0.1 }, strategy: 'DEFAULT', argBytesByNode: { b: 1000 } }, () => 0);
    expect(small).toEqual({ kind: 'placed', nodeId: 'a' });
  });
});
