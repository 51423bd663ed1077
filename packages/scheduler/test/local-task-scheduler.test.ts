import { describe, expect, it } from 'vitest';
import { TaskCancelledError } from '@samsara/ray-common';
import { LocalTaskScheduler, type Lease } from '../src/index.js';

interface Item {
  readonly id: string;
  readonly demand: Record<string, number>;
}

function setup(total: Record<string, number>, maxBypass?: number) {
  const started: string[] = [];
  const s = new LocalTaskScheduler<Item>(total, (t) => started.push(t.id), maxBypass === undefined ? {} : { maxBypass });
  const add = (id: string, demand: Record<string, number>) => s.enqueue({ id, demand }, demand);
  return { s, started, add };
}

/** Lets promise callbacks run. */
const settle = () => new Promise<void>((r) => setImmediate(r));

describe('LocalTaskScheduler', () => {
  it('LocalTaskScheduler - dispatches at once while resources last, then queues FIFO', () => {
    const { s, started, add } = setup({ CPU: 2 });
    add('a', { CPU: 1 });
    add('b', { CPU: 1 });
    add('c', { CPU: 1 });
    add('d', { CPU: 1 });
    expect(started).toEqual(['a', 'b']);
    expect(s.queuedCount).toBe(2);
    expect(s.runningCount).toBe(2);
    expect(s.available()).toEqual({ CPU: 0 });
    s.release({ CPU: 1 });
    expect(started).toEqual(['a', 'b', 'c']);
    s.release({ CPU: 1 });
    s.release({ CPU: 1 });
    expect(started).toEqual(['a', 'b', 'c', 'd']);
    expect(s.queuedCount).toBe(0);
    expect(s.runningCount).toBe(1);
    expect(s.available()).toEqual({ CPU: 1 });
  });

  it('LocalTaskScheduler - an empty demand starts at once', () => {
    const { s, started, add } = setup({ CPU: 1 });
    add('busy', { CPU: 1 });
    add('actor', {});
    add('zero', { CPU: 0 });
    expect(started).toEqual(['busy', 'actor', 'zero']);
    expect(s.available()).toEqual({ CPU: 0 });
  });

  it('LocalTaskScheduler fairness - a big item does not block smaller ones (backfill)', () => {
    const { s, started, add } = setup({ CPU: 4 });
    add('r1', { CPU: 2 });
    add('r2', { CPU: 1 });
    add('big', { CPU: 4 });
    add('small', { CPU: 1 });
    expect(started).toEqual(['r1', 'r2', 'small']);
    expect(s.queuedCount).toBe(1);
  });

  it('LocalTaskScheduler fairness - after maxBypass bypasses the older item reserves what it lacks', () => {
    const { s, started, add } = setup({ CPU: 4 }, 2);
    for (const id of ['r1', 'r2', 'r3', 'r4']) add(id, { CPU: 1 });
    add('big', { CPU: 3 });
    for (let i = 0; i < 6; i++) add(`s${i}`, { CPU: 1 });
    s.release({ CPU: 1 }); // s0 passes big (1 bypass)
    s.release({ CPU: 1 }); // s1 passes big (2 bypasses: big now reserves CPU)
    expect(started.slice(4)).toEqual(['s0', 's1']);
    s.release({ CPU: 1 });
    s.release({ CPU: 1 });
    expect(started.slice(6)).toEqual([]); // 2 CPU free, held for big
    expect(s.waitReason({ CPU: 1 })).toBe('waiting for {CPU: 1}: held for an older task that needs {CPU: 3}');
    s.release({ CPU: 1 });
    expect(started.slice(6)).toEqual(['big']);
    s.release({ CPU: 1 });
    expect(started.slice(7)).toEqual(['s2']);
  });

  it('LocalTaskScheduler fairness - a reserving item does not hold back other resources', () => {
    const { started, add, s } = setup({ CPU: 1, GPU: 1 }, 0);
    add('cpu', { CPU: 1 });
    add('cpu2', { CPU: 1 });
    add('gpu', { GPU: 1 });
    expect(started).toEqual(['cpu', 'gpu']);
    expect(s.queuedCount).toBe(1);
  });

  it('LocalTaskScheduler fairness - an item larger than the node never reserves', () => {
    const { started, add } = setup({ CPU: 2 }, 0);
    add('huge', { CPU: 8 });
    add('a', { CPU: 1 });
    add('b', { CPU: 1 });
    expect(started).toEqual(['a', 'b']);
  });

  it('LocalTaskScheduler fairness - equal shapes start in arrival order and the oldest shape first', () => {
    const { s, started, add } = setup({ CPU: 2, GPU: 1 });
    add('x', { CPU: 2 });
    add('g1', { CPU: 1, GPU: 1 });
    add('c1', { CPU: 1 });
    add('g2', { CPU: 1, GPU: 1 });
    add('c2', { CPU: 1 });
    expect(started).toEqual(['x']);
    s.release({ CPU: 2 });
    expect(started).toEqual(['x', 'g1', 'c1']);
    expect(s.pendingDemands()).toEqual([
      { resources: { CPU: 1, GPU: 1 }, count: 1 },
      { resources: { CPU: 1 }, count: 1 },
    ]);
  });

  it('LocalTaskScheduler acquire - resolves at once when resources are free', async () => {
    const { s } = setup({ CPU: 2 });
    await s.acquire({ CPU: 1 });
    expect(s.available()).toEqual({ CPU: 1 });
    expect(s.runningCount).toBe(1);
  });

  it('LocalTaskScheduler acquire - a blocked task lends its CPU and takes it back before the queue', async () => {
    const { s, started, add } = setup({ CPU: 1 });
    add('parent', { CPU: 1 });
    add('q1', { CPU: 1 });
    add('q2', { CPU: 1 });
    s.release({ CPU: 1 }); // parent blocks in get: lends its CPU
    expect(started).toEqual(['parent', 'q1']);
    expect(s.runningCount).toBe(1);
    let resumed = false;
    const back = s.acquire({ CPU: 1 }).then(() => {
      resumed = true;
    });
    await settle();
    expect(resumed).toBe(false);
    expect(s.waitReason({ CPU: 1 })).toBe('waiting for {CPU: 1}: 1 of 1 CPU in use on this node');
    s.release({ CPU: 1 }); // q1 finishes: the CPU goes to parent, not q2
    await back;
    expect(resumed).toBe(true);
    expect(started).toEqual(['parent', 'q1']);
    s.release({ CPU: 1 }); // parent finishes
    expect(started).toEqual(['parent', 'q1', 'q2']);
    expect(s.runningCount).toBe(1);
  });

  it('LocalTaskScheduler acquire - while waiting, queued items needing the same resource are held back', async () => {
    const { s, started, add } = setup({ CPU: 2 });
    add('parent', { CPU: 2 });
    s.release({ CPU: 2 }); // lends both CPUs
    add('child', { CPU: 1 });
    add('other', { CPU: 1 });
    expect(started).toEqual(['parent', 'child', 'other']);
    const back = s.acquire({ CPU: 2 });
    s.release({ CPU: 1 }); // child done: 1 CPU free, not enough for parent
    add('late', { CPU: 1 });
    expect(started).toEqual(['parent', 'child', 'other']);
    expect(s.waitReason({ CPU: 1 })).toBe('waiting for {CPU: 1}: held for 1 blocked task resuming on this node');
    s.release({ CPU: 1 });
    await back;
    expect(s.available()).toEqual({ CPU: 0 });
    s.release({ CPU: 2 });
    expect(started).toEqual(['parent', 'child', 'other', 'late']);
  });

  it('LocalTaskScheduler acquire - one the node can no longer grant does not stall the queue', async () => {
    const { s, started, add } = setup({ CPU: 2, CPU_group_0_pg: 1 });
    add('g', { CPU_group_0_pg: 1 });
    s.release({ CPU_group_0_pg: 1 }); // g blocks
    s.removeTotal({ CPU_group_0_pg: 1 }); // the group is removed meanwhile
    let granted = false;
    const back = s.acquire({ CPU_group_0_pg: 1 }).then(() => (granted = true));
    add('cpu', { CPU: 1 });
    await settle();
    expect(started).toEqual(['g', 'cpu']);
    expect(granted).toBe(false);
    expect(s.destroy()).toEqual([]);
    await expect(back).rejects.toBeInstanceOf(TaskCancelledError);
  });

  it('LocalTaskScheduler release - a blocked item finishing does not count twice', async () => {
    const { s, add } = setup({ CPU: 2 });
    add('a', { CPU: 1, GPU: 0 });
    add('b', { CPU: 1 });
    expect(s.runningCount).toBe(2);
    s.release({ CPU: 1 }); // a blocks
    expect(s.runningCount).toBe(1);
    s.release({}, { blocked: true }); // a finishes while blocked: the rest of its demand
    expect(s.runningCount).toBe(1);
    s.release({ CPU: 1 });
    expect(s.runningCount).toBe(0);
    expect(s.available()).toEqual({ CPU: 2 });
  });

  it('LocalTaskScheduler remove - cancels queued items in queue order and lets others move up', () => {
    const { s, started, add } = setup({ CPU: 1 });
    add('a', { CPU: 1 });
    add('b', { CPU: 1 });
    add('c', { GPU: 1 });
    add('d', { CPU: 1 });
    add('e', { CPU: 1 });
    const removed = s.remove((t) => t.id !== 'e');
    expect(removed.map((t) => t.id)).toEqual(['b', 'c', 'd']);
    expect(s.queuedCount).toBe(1);
    expect(s.remove(() => false)).toEqual([]);
    s.release({ CPU: 1 });
    expect(started).toEqual(['a', 'e']);
    expect(s.pendingDemands()).toEqual([]);
  });

  it('LocalTaskScheduler addTotal/removeTotal - a committed bundle admits group tasks, returning it removes them', () => {
    const { s, started, add } = setup({ CPU: 4 });
    add('g', { CPU_group_0_pg: 1 });
    expect(started).toEqual([]);
    expect(s.waitReason({ CPU_group_0_pg: 1 })).toBe('waiting for {CPU_group_0_pg: 1}: this node has only {CPU_group_0_pg: 0} in total');
    const bundle = { CPU_group_0_pg: 2, CPU_group_pg: 2, bundle_group_0_pg: 1000, bundle_group_pg: 1000 };
    s.removeTotal({ CPU: 2 });
    s.addTotal(bundle);
    expect(started).toEqual(['g']);
    expect(s.total()).toEqual({ CPU: 2, ...bundle });
    expect(s.available()).toEqual({ CPU: 2, ...bundle, CPU_group_0_pg: 1 });
    s.removeTotal(bundle); // returned while g still runs
    expect(s.available().CPU_group_0_pg).toBe(-1);
    s.release({ CPU_group_0_pg: 1 });
    s.addTotal({ CPU: 2 });
    expect(s.total()).toEqual({ CPU: 4 });
    expect(s.available()).toEqual({ CPU: 4 });
  });

  it('LocalTaskScheduler - fractional amounts return exactly to zero', () => {
    const { s, started, add } = setup({ CPU: 1, GPU: 1 });
    for (let i = 0; i < 1000; i++) add(`t${i}`, { GPU: 0.1 });
    expect(started).toHaveLength(10);
    expect(s.available().GPU).toBe(0);
    for (let i = 0; i < 1000; i++) s.release({ GPU: 0.1 });
    expect(started).toHaveLength(1000);
    expect(s.available()).toEqual({ CPU: 1, GPU: 1 });
    expect(s.runningCount).toBe(0);
    s.addTotal({ GPU: 0.3 });
    for (let i = 0; i < 3; i++) s.removeTotal({ GPU: 0.1 });
    expect(s.total()).toEqual({ CPU: 1, GPU: 1 });
  });

  it('LocalTaskScheduler waitReason - says what is in use', () => {
    const { s, add } = setup({ CPU: 2, GPU: 1 });
    add('a', { CPU: 2 });
    add('b', { GPU: 0.75 });
    expect(s.waitReason({ CPU: 1 })).toBe('waiting for {CPU: 1}: 2 of 2 CPU in use on this node');
    expect(s.waitReason({ CPU: 1, GPU: 0.5 })).toBe('waiting for {CPU: 1, GPU: 0.5}: 2 of 2 CPU in use on this node, 0.75 of 1 GPU in use on this node');
    expect(s.waitReason({ camera: 1 })).toBe('waiting for {camera: 1}: this node has only {camera: 0} in total');
  });

  it('LocalTaskScheduler pendingDemands - groups waiting items by shape', () => {
    const { s, add } = setup({ CPU: 1 });
    add('a', { CPU: 1 });
    add('b', { CPU: 1 });
    add('c', { CPU: 1, camera: 0 });
    add('d', { camera: 1 });
    expect(s.pendingDemands()).toEqual([
      { resources: { CPU: 1 }, count: 2 },
      { resources: { camera: 1 }, count: 1 },
    ]);
  });

  it('LocalTaskScheduler - dispatch may call back into the scheduler', () => {
    const order: string[] = [];
    const s: LocalTaskScheduler<string> = new LocalTaskScheduler<string>({ CPU: 1 }, (id) => {
      order.push(id);
      if (id === 'a') s.release({ CPU: 1 }); // finishes synchronously
      if (id === 'b') s.enqueue('c', { CPU: 1 });
    });
    s.enqueue('a', { CPU: 1 });
    s.enqueue('b', { CPU: 1 });
    expect(order).toEqual(['a', 'b']);
    expect(s.queuedCount).toBe(1);
    s.release({ CPU: 1 });
    expect(order).toEqual(['a', 'b', 'c']);
  });

  it('LocalTaskScheduler destroy - rejects pending acquires and returns queued items', async () => {
    const { s, add } = setup({ CPU: 1 });
    add('a', { CPU: 1 });
    add('b', { CPU: 1 });
    s.release({ CPU: 1 });
    add('c', { CPU: 1 });
    const back = s.acquire({ CPU: 1 });
    const items = s.destroy();
    expect(items.map((t) => t.id)).toEqual(['c']);
    await expect(back).rejects.toBeInstanceOf(TaskCancelledError);
    await expect(back).rejects.toThrow('the node-local scheduler was destroyed');
  });

  it('LocalTaskScheduler - 10,000 queued items of a few shapes drain quickly', () => {
    const running: Item[] = [];
    const s = new LocalTaskScheduler<Item>({ CPU: 8, GPU: 2 }, (t) => running.push(t));
    for (let i = 0; i < 10_000; i++) {
      const demand: Record<string, number> = i % 5 === 0 ? { CPU: 1, GPU: 0.5 } : { CPU: 0.5 };
      s.enqueue({ id: `t${i}`, demand }, demand);
    }
    let done = 0;
    for (let next = 0; next < running.length; next++) {
      s.release(running[next].demand);
      done++;
    }
    expect(done).toBe(10_000);
    expect(s.queuedCount).toBe(0);
    expect(s.runningCount).toBe(0);
    expect(s.available()).toEqual({ CPU: 8, GPU: 2 });
  });

  describe('leases', () => {
    function leased(total: Record<string, number>, depth: number, canPipeline: (t: Item) => boolean = () => true) {
      const started: { id: string; lease?: Lease }[] = [];
      const s = new LocalTaskScheduler<Item>(total, (t, lease) => started.push({ id: t.id, lease }), { pipelineDepth: depth, canPipeline: (t) => canPipeline(t as Item) });
      const items = new Map<string, Item>();
      const add = (id: string, demand: Record<string, number>) => {
        const it = { id, demand };
        items.set(id, it);
        s.enqueue(it, demand, { lease: true });
      };
      const finish = (id: string, lent?: Record<string, number>) => s.finish(started.find((x) => x.id === id)!.lease!, items.get(id)!, { lent });
      return { s, started, add, finish, items };
    }

    it('LocalTaskScheduler leases - items queue behind a running one on its lease up to pipelineDepth, without more resources', () => {
      const { s, started, add, finish } = leased({ CPU: 2 }, 3);
      for (let i = 0; i < 8; i++) add(`t${i}`, { CPU: 1 });
      expect(started.map((x) => x.id)).toEqual(['t0', 't1', 't2', 't3', 't4', 't5']);
      // Two leases, each carrying three items, filled in turn.
      expect(started.filter((x) => x.lease === started[0].lease).map((x) => x.id)).toEqual(['t0', 't2', 't4']);
      expect(s.runningCount).toBe(2);
      expect(s.pipelinedCount).toBe(4);
      expect(s.queuedCount).toBe(2);
      expect(s.available()).toEqual({ CPU: 0 });
      finish('t0');
      expect(started.map((x) => x.id)).toContain('t6');
      expect(started.find((x) => x.id === 't6')!.lease).toBe(started[0].lease);
      for (const id of ['t1', 't2', 't3', 't4', 't5', 't6']) finish(id);
      expect(started).toHaveLength(8);
      finish('t7');
      expect(s.runningCount).toBe(0);
      expect(s.pipelinedCount).toBe(0);
      expect(s.available()).toEqual({ CPU: 2 });
    });

    it('LocalTaskScheduler leases - nothing is pipelined while an item of another shape waits, or for items canPipeline refuses', () => {
      const { started, add, finish } = leased({ CPU: 1, GPU: 1 }, 4, (t) => !t.id.startsWith('slow'));
      add('a', { CPU: 1 });
      add('big', { CPU: 1, GPU: 1 });
      add('b', { CPU: 1 });
      expect(started.map((x) => x.id)).toEqual(['a']);
      finish('a');
      expect(started.map((x) => x.id)).toEqual(['a', 'big']);
      finish('big');
      add('slow1', { CPU: 1 });
      expect(started.map((x) => x.id)).toEqual(['a', 'big', 'b']);
      finish('b');
      expect(started.map((x) => x.id)).toEqual(['a', 'big', 'b', 'slow1']);
    });

    it('LocalTaskScheduler leases - requeue into a queue that still holds later items keeps arrival order', () => {
      const { s, started, add, items } = leased({ CPU: 1 }, 2);
      for (const id of ['a', 'b', 'c', 'd']) add(id, { CPU: 1 });
      expect(started.map((x) => x.id)).toEqual(['a', 'b']);
      s.requeue(started[0].lease!, [items.get('b')!]);
      expect(s.queuedCount).toBe(3);
      s.release({ CPU: 1 }); // a lends its CPU
      expect(started.map((x) => x.id)).toEqual(['a', 'b', 'b', 'c']);
      expect(s.pendingDemands()).toEqual([{ resources: { CPU: 1 }, count: 1 }]);
    });

    it('LocalTaskScheduler leases - requeue puts items back ahead of later ones and closes the lease; lent resources are not returned twice', () => {
      const { s, started, add, finish, items } = leased({ CPU: 1 }, 4);
      for (const id of ['a', 'b', 'c', 'd']) add(id, { CPU: 1 });
      const lease = started[0].lease!;
      expect(started.map((x) => x.id)).toEqual(['a', 'b', 'c', 'd']);
      add('e', { CPU: 1 });
      // a blocks: b, c, d go back before e; a lends its CPU.
      s.requeue(lease, [items.get('b')!, items.get('c')!, items.get('d')!]);
      expect(s.queuedCount).toBe(4);
      expect(s.pipelinedCount).toBe(0);
      s.release({ CPU: 1 });
      expect(started.map((x) => x.id)).toEqual(['a', 'b', 'c', 'd', 'b', 'c', 'd', 'e']);
      expect(started[4].lease).not.toBe(lease);
      // a finishes while still lending: only the rest of its demand returns.
      finish('a', { CPU: 1 });
      expect(s.available()).toEqual({ CPU: 0 });
      for (const id of ['b', 'c', 'd', 'e']) s.finish(started.filter((x) => x.id === id).at(-1)!.lease!, items.get(id)!);
      expect(s.available()).toEqual({ CPU: 1 });
      expect(s.runningCount).toBe(0);
    });
  });
});
