import { describe, expect, it } from 'vitest';
import { silentLogger } from '@samsara/ray-common';
import { NodeTable } from '../src/head/node-table.js';
import { PlacementGroupManager } from '../src/head/placement-group-manager.js';

let n = 0;
const pgId = () => (++n).toString(16).padStart(16, '0');

function setup(cpus: number) {
  const nodes = new NodeTable(60_000);
  const node = nodes.register({ address: 'a:1', pid: 1, resources: { CPU: cpus } }, false);
  const commands: string[] = [];
  const m = new PlacementGroupManager(nodes, { command: (_n, c) => commands.push(`${c.kind} ${c.targetId}`), changed: () => undefined }, silentLogger());
  const create = (cpu: number) => m.create({ pgId: pgId(), bundles: [{ resources: { CPU: cpu } }] });
  const state = (id: string | null | undefined) => m.list().find((g) => g.pgId === id)?.state ?? 'REMOVED';
  /** The node reports what its scheduler has: the head's total, all of it free. */
  const report = () => {
    const available = { ...nodes.get(node.nodeId)!.total };
    nodes.report({ nodeId: node.nodeId, available });
    return m.nodeReported(node.nodeId, available);
  };
  return { m, nodes, node, create, state, report, commands };
}

describe('PlacementGroupManager', () => {
  it('PlacementGroupManager - pending groups are placed first come, first served; a group that can never fit is skipped', () => {
    const { m, create, state, report } = setup(4);
    const a = create(3);
    expect(a.state).toBe('CREATED');
    report();
    const big = create(2); // waits: the node can hold it once `a` goes
    const never = create(8); // no node could ever hold it
    const small = create(1); // fits in the free CPU, but `big` came first
    expect([state(big.pgId), state(never.pgId), state(small.pgId)]).toEqual(['PENDING', 'PENDING', 'PENDING']);
    m.retryPending();
    expect(state(small.pgId)).toBe('PENDING');
    m.remove(a.pgId!);
    // nothing is placed on resources the node has not reported back yet
    m.retryPending();
    expect(state(big.pgId)).toBe('PENDING');
    expect(report()).toBe(true);
    m.retryPending();
    expect([state(big.pgId), state(never.pgId), state(small.pgId)]).toEqual(['CREATED', 'PENDING', 'CREATED']);
    expect(m.list().find((g) => g.pgId === never.pgId)?.reason).toMatch(/CPU: 8/);
  });

  it('PlacementGroupManager - removing a waiting group lets the next one go', () => {
    const { m, create, state } = setup(2);
    create(2);
    const big = create(2);
    const small = create(1);
    expect(state(small.pgId)).toBe('PENDING');
    m.remove(big.pgId!);
    expect(state(small.pgId)).toBe('PENDING'); // still no room
    const tiny = create(0.5);
    expect(state(tiny.pgId)).toBe('PENDING'); // behind `small`
  });

  it('PlacementGroupManager - a removal is released when the node reports the bundle back, or dies', async () => {
    const { m, nodes, node, create, report, commands } = setup(2);
    const g = create(1);
    const other = create(1);
    expect(report()).toBe(false); // the node committed both
    let released = false;
    m.remove(g.pgId!);
    const done = m.released(g.pgId!).then(() => (released = true));
    expect(commands).toContain(`pg_release ${g.pgId}`);
    // a report that still lists the group's resources (the node had not released yet) changes nothing
    expect(m.nodeReported(node.nodeId, { CPU: 0, [`CPU_group_${g.pgId}`]: 1, [`CPU_group_0_${other.pgId}`]: 1 })).toBe(false);
    await Promise.resolve();
    expect(released).toBe(false);
    expect(report()).toBe(true);
    await done;
    expect(released).toBe(true);
    m.remove(other.pgId!);
    const gone = m.released(other.pgId!);
    nodes.markDead(node.nodeId, 'test');
    m.nodeDied(node.nodeId);
    await gone;
    await expect(m.released('ffff')).resolves.toBeUndefined();
  });

  it('PlacementGroupManager - a report sent before the node committed a bundle does not hand its resources out again', () => {
    const { m, nodes, node, create, state } = setup(2);
    const a = create(2);
    expect(a.state).toBe('CREATED');
    // a stale report: the node had not processed the commit yet and says both CPUs are free
    nodes.report({ nodeId: node.nodeId, available: { CPU: 2 } });
    expect(m.nodeReported(node.nodeId, { CPU: 2 })).toBe(false);
    expect(nodes.get(node.nodeId)!.available.CPU).toBe(0);
    const b = create(1);
    expect(state(b.pgId)).toBe('PENDING');
  });
});
