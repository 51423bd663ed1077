import { describe, expect, it } from 'vitest';
import { TaskEventTable } from '../src/head/task-event-table.js';

const ev = (i: number, state: string) => ({ taskId: `t${i}`, jobId: 'j', name: 'f', state, attempt: 0, reason: state === 'PENDING' ? 'waiting' : '' });

describe('TaskEventTable', () => {
  it('stays bounded when unfinished tasks fill it, dropping the oldest and their pending entries', () => {
    const t = new TaskEventTable(100);
    for (let i = 0; i < 1_000; i++) t.apply(ev(i, 'PENDING'));
    expect(t.list(10_000, '').length).toBeLessThanOrEqual(100);
    expect(t.pendingCount).toBe(t.list(10_000, '').length);
    // The newest survive.
    expect(t.list(10_000, '').at(-1)?.taskId).toBe('t999');
  });

  it('drops finished tasks before unfinished ones', () => {
    const t = new TaskEventTable(100);
    for (let i = 0; i < 50; i++) t.apply(ev(i, 'PENDING'));
    for (let i = 50; i < 101; i++) t.apply(ev(i, 'FINISHED'));
    const states = t.countByState();
    expect(states.PENDING).toBe(50);
    expect(states.FINISHED).toBe(40);
  });

  it('a later terminal event of the same attempt wins over the PENDING one', () => {
    const t = new TaskEventTable(10);
    t.apply(ev(1, 'PENDING'));
    t.apply(ev(1, 'FINISHED'));
    t.apply(ev(1, 'RUNNING'));
    expect(t.countByState()).toEqual({ FINISHED: 1 });
    expect(t.pendingCount).toBe(0);
  });
});
