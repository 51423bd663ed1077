/**
 * Latest state of recent tasks, from the events owners and nodes report in batches. Bounded: the oldest
 * finished tasks are dropped first. Pending tasks with a reason feed `rayts status`.
 *
 * Task states: PENDING → RUNNING → FINISHED | FAILED | CANCELLED; RETRYING → PENDING/RUNNING again.
 */
import type { rayts } from '@samsara/ray-proto';

const TERMINAL = new Set(['FINISHED', 'FAILED', 'CANCELLED']);

export class TaskEventTable {
  private readonly tasks = new Map<string, rayts.ITaskEvent>();
  private readonly pendingIds = new Set<string>();

  constructor(private readonly capacity: number) {}

  get pendingCount(): number {
    return this.pendingIds.size;
  }

  apply(e: rayts.ITaskEvent): void {
    const id = e.taskId ?? '';
    if (!id) return;
    const prev = this.tasks.get(id);
    // Keep the newest attempt; within an attempt terminal states win.
    if (prev && (prev.attempt ?? 0) > (e.attempt ?? 0)) return;
    if (prev && prev.attempt === e.attempt && TERMINAL.has(prev.state ?? '') && !TERMINAL.has(e.state ?? '')) return;
    const merged = { ...prev, ...e, name: e.name || prev?.name, nodeId: e.nodeId || prev?.nodeId };
    this.tasks.delete(id);
    this.tasks.set(id, merged);
    if (e.state === 'PENDING') this.pendingIds.add(id);
    else this.pendingIds.delete(id);
    if (this.tasks.size > this.capacity) this.evict();
  }

  /**
   * Brings the table down to 90% of its capacity: the oldest finished tasks first, then, when unfinished
   * ones fill it (a burst of PENDING events), the oldest of those too. Always reaching 90% keeps this
   * amortized O(1) per event: stopping above it (only unfinished tasks left) made every following event
   * walk the whole table again, which on a 40,000-task burst kept the head's main thread busy for tens of
   * seconds and slowed every cluster call behind it.
   */
  private evict(): void {
    const target = Math.floor(this.capacity * 0.9);
    for (const [id, t] of this.tasks) {
      if (this.tasks.size <= target) return;
      if (TERMINAL.has(t.state ?? '')) this.tasks.delete(id);
    }
    for (const id of this.tasks.keys()) {
      if (this.tasks.size <= target) return;
      this.tasks.delete(id);
      this.pendingIds.delete(id);
    }
  }

  /** How many of the tasks kept here are in each state now. */
  countByState(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const t of this.tasks.values()) {
      const st = t.state || 'UNKNOWN';
      out[st] = (out[st] ?? 0) + 1;
    }
    return out;
  }

  pending(): rayts.IPendingTaskInfo[] {
    const out: rayts.IPendingTaskInfo[] = [];
    for (const id of this.pendingIds) {
      const t = this.tasks.get(id);
      if (t) out.push({ taskId: id, name: t.name, reason: t.reason, jobId: t.jobId, resources: t.resources });
      if (out.length >= 100) break;
    }
    return out;
  }

  dropPendingOfJob(jobId: string): void {
    for (const id of [...this.pendingIds]) {
      const t = this.tasks.get(id);
      if (t?.jobId === jobId) {
        this.pendingIds.delete(id);
        t.state = 'CANCELLED';
        t.reason = 'job finished';
      }
    }
  }

  list(limit: number, filter: string): rayts.ITaskEvent[] {
    const all = [...this.tasks.values()];
    const f = filter ? all.filter((t) => t.state === filter || t.jobId === filter) : all;
    return f.slice(-limit);
  }
}
