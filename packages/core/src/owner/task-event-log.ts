/**
 * TaskEventLog: the task events (state changes) one owner reports to the head for `rayts list tasks`
 * and the dashboard, sent in batches every 250 ms (or at 5,000 events). Best effort: a batch the head
 * does not take is dropped (logged at debug).
 */
import type { rayts } from '@samsara/ray-proto';
import type { OwnerState } from './owner-state.js';
import type { TaskRecord } from './task-record.js';

export class TaskEventLog {
  private events: rayts.ITaskEvent[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly s: OwnerState) {
    this.timer = setInterval(() => this.flushEvents(), 250);
    this.timer.unref();
  }

  event(rec: TaskRecord, state: string, reason: string, nodeId?: string): void {
    this.events.push({
      taskId: rec.taskId,
      jobId: this.s.o.jobId,
      name: rec.name,
      state,
      nodeId: nodeId ?? rec.nodeId ?? '',
      reason,
      timeMs: Date.now(),
      attempt: rec.attempt,
      resources: rec.demand,
    });
    if (this.events.length > 5000) this.flushEvents();
  }

  private flushEvents(): void {
    if (this.events.length === 0) return;
    const events = this.events;
    this.events = [];
    this.s.headCall('reportEvents', { events }, 10_000).catch((e) =>
      this.s.o.log.debug({ err: (e as Error).message }, 'could not report task events'),
    );
  }

  /** Sends what is queued and stops the timer. */
  close(): void {
    this.flushEvents();
    clearInterval(this.timer);
  }
}
