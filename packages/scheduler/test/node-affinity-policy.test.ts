import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@samsara/ray-common';
import { chooseNode } from '../src/index.js';
import { fakeRandom, node } from './fixtures.js';

const ID = '1a2b3c4d5e6f7a8b9c0d';
const nodes = [
  node('a', { CPU: 4 }),
  node(ID, { CPU: 2, GPU: 1 }, { available: { CPU: 0, GPU: 1 }, labels: { zone: 'b' } }),
  node('dead', { CPU: 4 }, { alive: false }),
];
const hard = (nodeId: string, demand: Record<string, number> = { CPU: 1 }) => ({ demand, strategy: { nodeId } });
const soft = (nodeId: string, demand: Record<string, number> = { CPU: 1 }) => ({ demand, strategy: { nodeId, soft: true } });

describe('chooseNode node affinity', () => {
  it('chooseNode affinity - hard places on the node when it has room', () => {
    expect(chooseNode(nodes, hard('a'))).toEqual({ kind: 'placed', nodeId: 'a' });
    expect(chooseNode(nodes, hard(ID, { GPU: 1 }))).toEqual({ kind: 'placed', nodeId: ID });
  });

  it('chooseNode affinity - hard waits when the node is alive and could hold it', () => {
    expect(chooseNode(nodes, hard(ID))).toEqual({
      kind: 'wait',
      reason: `waiting for {CPU: 1} on node ${ID} (node affinity): it has {CPU: 0} available`,
    });
  });

  it('chooseNode affinity - hard is infeasible on a dead, unknown or too small node, naming it', () => {
    expect(chooseNode(nodes, hard('dead'))).toEqual({ kind: 'infeasible', reason: 'node affinity: node dead is dead' });
    expect(chooseNode(nodes, hard('nope'))).toEqual({ kind: 'infeasible', reason: 'node affinity: node nope is unknown (not in the cluster)' });
    expect(chooseNode(nodes, hard(ID, { CPU: 1, camera: 1 }))).toEqual({
      kind: 'infeasible',
      reason: `node affinity: node ${ID} lacks {camera: 1} (it has {camera: 0} in total)`,
    });
    expect(chooseNode(nodes, hard(ID, { CPU: 3 }))).toEqual({
      kind: 'infeasible',
      reason: `node affinity: node ${ID} lacks {CPU: 3} (it has {CPU: 2} in total)`,
    });
  });

  it('chooseNode affinity - hard respects label selectors', () => {
    expect(chooseNode(nodes, { ...hard('a'), labelSelector: { zone: 'b' } })).toEqual({
      kind: 'infeasible',
      reason: 'node affinity: node a does not match labels {zone: b}',
    });
    expect(chooseNode(nodes, { ...hard(ID, { GPU: 1 }), labelSelector: { zone: 'b' } })).toEqual({ kind: 'placed', nodeId: ID });
  });

  it('chooseNode affinity - soft places on the node when it has room', () => {
    expect(chooseNode(nodes, soft(ID, { GPU: 0.5 }))).toEqual({ kind: 'placed', nodeId: ID });
  });

  it('chooseNode affinity - soft falls back to DEFAULT when the node is busy, dead, unknown or too small', () => {
    const r = fakeRandom(0);
    expect(chooseNode(nodes, soft(ID), undefined, r)).toEqual({ kind: 'placed', nodeId: 'a' });
    expect(chooseNode(nodes, soft('dead'), undefined, r)).toEqual({ kind: 'placed', nodeId: 'a' });
    expect(chooseNode(nodes, soft('nope'), undefined, r)).toEqual({ kind: 'placed', nodeId: 'a' });
    expect(chooseNode(nodes, soft(ID, { CPU: 4 }), undefined, r)).toEqual({ kind: 'placed', nodeId: 'a' });
  });

  it('chooseNode affinity - soft reports the DEFAULT reason when nothing can run it', () => {
    expect(chooseNode(nodes, soft('a', { camera: 1 }))).toEqual({ kind: 'infeasible', reason: 'no node offers {camera: 1}' });
  });

  it('chooseNode - rejects an unknown strategy', () => {
    expect(() => chooseNode(nodes, { demand: {}, strategy: 'PACK' as never })).toThrow(InvalidArgumentError);
    expect(() => chooseNode(nodes, { demand: {}, strategy: 'PACK' as never })).toThrow(/scheduling strategy "PACK" is not valid/);
  });
});
