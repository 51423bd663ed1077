/**
 * WorkflowScheduler: starts runs of a workflow at its `schedule:` cron times (croner), as
 * `rayts workflow schedule FILE` does. With `concurrencyPolicy: forbid` (the default) a fire time that
 * comes while a run is still going is skipped and recorded; `allow` starts it anyway. With
 * `catchUp: true`, starting the scheduler first runs the fire times missed since the last one it
 * recorded (at most `maxCatchUp`, the latest); without it, missed times are not run.
 *
 * Its journal, `<home>/schedules/<name>-<hash>.jsonl`, holds `scheduler_started`, `fired` and `skipped`
 * events (`lastScheduledTime` is the latest fired or skipped time).
 */
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cron } from 'croner';
import { InvalidArgumentError } from '@samsara/ray';
import { workflowHome } from '../config.js';
import type { WorkflowDefinition } from '../spec/definition.js';
import { runWorkflow, type RunOptions } from '../run/runner.js';
import { newRunId } from '../run/store.js';
import type { RunRecord } from '../run/status.js';

/** Options of {@link WorkflowScheduler}. */
export interface SchedulerOptions {
  /** @default RAYTS_WORKFLOW_HOME, else ~/.rayts/workflows */
  readonly home?: string;
  /** Called when a run starts (its id, the scheduled time, and whether it catches up a missed time). */
  readonly onRunStart?: (runId: string, scheduledAt: Date, trigger: 'schedule' | 'catch_up') => void;
  readonly onRunEnd?: (record: RunRecord) => void;
  /** Called for a fire time skipped because a run was still going (forbid). */
  readonly onSkip?: (scheduledAt: Date, activeRunIds: readonly string[]) => void;
  readonly onEvent?: RunOptions['onEvent'];
  readonly onLog?: RunOptions['onLog'];
}

const OPTION_KEYS = ['home', 'onRunStart', 'onRunEnd', 'onSkip', 'onEvent', 'onLog'];

type ScheduleEvent = { t: number; type: 'scheduler_started'; pid: number } | { t: number; type: 'fired' | 'skipped'; scheduledAt: number; runId?: string; active?: string[] };

export class WorkflowScheduler {
  private readonly journalPath: string;
  private cron: Cron | undefined;
  private readonly active = new Map<string, { ctrl: AbortController; done: Promise<void> }>();
  private closed = false;

  /** @throws InvalidArgumentError when the workflow has no `schedule:` or an option is unknown. */
  constructor(
    readonly def: WorkflowDefinition,
    private readonly options: SchedulerOptions = {},
  ) {
    for (const k of Object.keys(options)) {
      if (!OPTION_KEYS.includes(k)) throw new InvalidArgumentError(`WorkflowScheduler: unknown option ${JSON.stringify(k)}; the options are ${OPTION_KEYS.join(', ')}.`);
    }
    if (!def.schedule) throw new InvalidArgumentError(`Workflow ${def.name} (${def.file}) has no schedule:.`, { hint: 'Add e.g. schedule: "0 3 * * *" to the file.' });
    const key = `${def.name}-${createHash('sha256').update(def.file).digest('hex').slice(0, 8)}`;
    const dir = join(workflowHome(options.home), 'schedules');
    mkdirSync(dir, { recursive: true });
    this.journalPath = join(dir, `${key}.jsonl`);
  }

  /** Runs missed times when configured, then arms the cron. Resolves once armed (catch-up runs go on). */
  async start(): Promise<void> {
    const s = this.def.schedule!;
    const previous = this.readJournal();
    this.record({ t: Date.now(), type: 'scheduler_started', pid: process.pid });
    if (s.catchUp) {
      const last = previous.filter((e) => e.type !== 'scheduler_started').map((e) => (e as { scheduledAt: number }).scheduledAt);
      const since = last.length ? Math.max(...last) : previous.find((e) => e.type === 'scheduler_started')?.t;
      if (since !== undefined) void this.catchUp(new Date(since));
    }
    this.cron = new Cron(s.cron, { ...(s.timezone ? { timezone: s.timezone } : {}), catch: true }, (self: Cron) => {
      // The fire time itself (croner calls a little after it): the latest pattern time not in the future.
      const now = Date.now();
      const at = self.previousRuns(1, new Date(now + 1))[0] ?? new Date(Math.floor(now / 1000) * 1000);
      this.fire(at, 'schedule');
    });
  }

  /** The next fire time, or null. */
  nextRun(): Date | null {
    return this.cron?.nextRun() ?? null;
  }

  /** Ids of the runs going now. */
  activeRuns(): string[] {
    return [...this.active.keys()];
  }

  /** Stops firing and waits for the runs going to end. */
  async close(): Promise<void> {
    this.closed = true;
    this.cron?.stop();
    await Promise.all([...this.active.values()].map((a) => a.done));
  }

  /** Stops firing, cancels the runs going (their clusters are stopped) and waits for them. */
  async destroy(): Promise<void> {
    this.closed = true;
    this.cron?.stop();
    for (const a of this.active.values()) a.ctrl.abort();
    await Promise.all([...this.active.values()].map((a) => a.done));
  }

  private async catchUp(since: Date): Promise<void> {
    const s = this.def.schedule!;
    const probe = new Cron(s.cron, { paused: true, ...(s.timezone ? { timezone: s.timezone } : {}) });
    const missed: Date[] = [];
    const now = Date.now();
    for (let d = probe.nextRun(since); d && d.getTime() < now; d = probe.nextRun(d)) {
      missed.push(d);
      if (missed.length > s.maxCatchUp) missed.shift();
    }
    probe.stop();
    for (const d of missed) {
      if (this.closed) return;
      const done = this.fire(d, 'catch_up');
      if (s.concurrencyPolicy === 'forbid' && done) await done;
    }
  }

  /** Starts a run for `scheduledAt` unless forbidden; resolves when it ends. */
  private fire(scheduledAt: Date, trigger: 'schedule' | 'catch_up'): Promise<void> | undefined {
    if (this.closed) return undefined;
    const at = scheduledAt.getTime();
    if (this.def.schedule!.concurrencyPolicy === 'forbid' && this.active.size > 0) {
      const active = this.activeRuns();
      this.record({ t: Date.now(), type: 'skipped', scheduledAt: at, active });
      this.options.onSkip?.(scheduledAt, active);
      return undefined;
    }
    const runId = newRunId();
    const ctrl = new AbortController();
    this.record({ t: Date.now(), type: 'fired', scheduledAt: at, runId });
    this.options.onRunStart?.(runId, scheduledAt, trigger);
    const done = runWorkflow(this.def, {
      runId,
      runDate: scheduledAt,
      trigger,
      signal: ctrl.signal,
      raiseOnError: false,
      ...(this.options.home ? { home: this.options.home } : {}),
      ...(this.options.onEvent ? { onEvent: this.options.onEvent } : {}),
      ...(this.options.onLog ? { onLog: this.options.onLog } : {}),
    }).then(
      (r) => this.options.onRunEnd?.(r),
      () => undefined,
    ).finally(() => this.active.delete(runId));
    this.active.set(runId, { ctrl, done });
    return done;
  }

  private readJournal(): ScheduleEvent[] {
    if (!existsSync(this.journalPath)) return [];
    const out: ScheduleEvent[] = [];
    for (const l of readFileSync(this.journalPath, 'utf8').split('\n')) {
      if (!l) continue;
      try {
        out.push(JSON.parse(l) as ScheduleEvent);
      } catch {
        /* cut line */
      }
    }
    return out;
  }

  private record(e: ScheduleEvent): void {
    appendFileSync(this.journalPath, JSON.stringify(e) + '\n');
  }
}
