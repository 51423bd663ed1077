import { describe, expect, it } from 'vitest';
import { NodeTable } from '../src/head/node-table.js';

function clocks() {
  const c = { wall: 1_000_000, mono: 0 };
  return { c, now: () => c.wall, mono: () => c.mono, advance: (ms: number) => ((c.wall += ms), (c.mono += ms)) };
}

describe('NodeTable', () => {
  it('NodeTable - a node silent past the deadline is declared dead', () => {
    const k = clocks();
    const t = new NodeTable(3000, k.now, 2000, k.mono);
    const n = t.register({ address: 'a:1', pid: 1 }, false);
    t.sweep();
    for (let i = 0; i < 40; i++) {
      k.advance(100);
      t.sweep();
    }
    expect(t.get(n.nodeId)!.alive).toBe(false);
    expect(t.get(n.nodeId)!.deathReason).toMatch(/no heartbeat for 3 s/);
  });

  it('NodeTable - after the head itself stood still, nodes get a fresh deadline instead of dying', () => {
    const k = clocks();
    const t = new NodeTable(3000, k.now, 2000, k.mono);
    const n = t.register({ address: 'a:1', pid: 1 }, false);
    t.sweep();
    k.advance(20_000); // SIGSTOP 20 s: no sweep ran meanwhile
    expect(t.sweep()).toEqual([]);
    expect(t.takeStall()).toBeGreaterThanOrEqual(20_000);
    expect(t.get(n.nodeId)!.alive).toBe(true);
    // Reports resume: still alive. Had they not, the normal deadline applies from the resume.
    k.advance(100);
    t.report({ nodeId: n.nodeId });
    expect(t.sweep()).toEqual([]);
    for (let i = 0; i < 35; i++) {
      k.advance(100);
      t.sweep();
    }
    expect(t.get(n.nodeId)!.alive).toBe(false);
  });

  it('NodeTable - the same process registering again replaces its entry, never duplicates it', () => {
    const t = new NodeTable(3000);
    const a = t.register({ address: 'a:1', pid: 7, resources: { CPU: 2 } }, false);
    const other = t.register({ address: 'b:1', pid: 8, resources: { CPU: 1 } }, false);
    const again = t.register({ address: 'a:1', pid: 7, resources: { CPU: 2 } }, false);
    expect(again.replaced?.nodeId).toBe(a.nodeId);
    const alive = t.all().filter((n) => n.alive);
    expect(alive.map((n) => n.nodeId).sort()).toEqual([again.nodeId, other.nodeId].sort());
    expect(t.get(a.nodeId)!.deathReason).toMatch(/registered again/);
    const cpus = alive.reduce((s, n) => s + (n.total.CPU ?? 0), 0);
    expect(cpus).toBe(3);
  });
});
