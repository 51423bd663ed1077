/**
 * Run and op states, the events of a run's append-only journal, and the fold from events to a record.
 *
 * Run states (transitions):
 * ```
 * queued → started → success | failure | canceling
 * canceling → canceled
 * ```
 * Op states:
 * ```
 * pending → running | skipped (a dependency did not succeed, or the run was cancelled)
 * running → success | retrying | failure | canceled
 * retrying → running | canceled
 * ```
 */

export type RunStatus = 'queued' | 'started' | 'success' | 'failure' | 'canceling' | 'canceled';
export type OpStatus = 'pending' | 'running' | 'retrying' | 'success' | 'failure' | 'skipped' | 'canceled';

/** The git state of the repository the workflow file lives in, when it is in one. */
export interface GitLineage {
  readonly commit: string;
  readonly dirty: boolean;
  readonly root: string;
}

/** A cluster or job a run started (so cancel can stop it). */
export interface RunResource {
  readonly kind: 'cluster' | 'job';
  readonly address: string;
  /** The cluster's private RAYTS_TMPDIR (clusters). */
  readonly tmpdir?: string;
  /** The job id (jobs). */
  readonly jobId?: string;
}

/** An error as the journal keeps it. */
export interface ErrorInfo {
  readonly name: string;
  readonly code?: string;
  readonly message: string;
  readonly cause?: { readonly name: string; readonly message: string; readonly stack?: string };
}

export type RunEvent =
  | {
      type: 'run_queued';
      t: number;
      runId: string;
      workflow: string;
      file: string;
      fileHash: string;
      git: GitLineage | null;
      trigger: 'manual' | 'schedule' | 'catch_up';
      runDate: string;
      scheduledAt?: number;
      pid: number;
      ops: { name: string; type: string; dependsOn: readonly string[] }[];
    }
  | { type: 'run_started'; t: number }
  | { type: 'op_started'; t: number; op: string; attempt: number }
  | { type: 'op_retrying'; t: number; op: string; attempt: number; error: ErrorInfo; delayMs: number }
  | { type: 'op_succeeded'; t: number; op: string; attempt: number; output: unknown }
  | { type: 'op_failed'; t: number; op: string; attempt: number; error: ErrorInfo }
  | { type: 'op_canceled'; t: number; op: string; attempt: number }
  | { type: 'op_skipped'; t: number; op: string; reason: string }
  | { type: 'resource'; t: number; action: 'started' | 'stopped'; resource: RunResource }
  | { type: 'run_canceling'; t: number; reason: string }
  | { type: 'run_finished'; t: number; status: 'success' | 'failure' | 'canceled'; error?: ErrorInfo }
  | { type: 'alert'; t: number; on: 'failure' | 'success'; webhook: string; ok: boolean; detail: string };

/** One op of a run. */
export interface OpRecord {
  readonly name: string;
  readonly type: string;
  readonly status: OpStatus;
  readonly attempts: number;
  readonly startedAt?: number;
  readonly endedAt?: number;
  readonly output?: unknown;
  readonly error?: ErrorInfo;
  readonly skipReason?: string;
}

/** A run as folded from its journal. */
export interface RunRecord {
  readonly runId: string;
  readonly workflow: string;
  readonly file: string;
  readonly fileHash: string;
  readonly git: GitLineage | null;
  readonly trigger: 'manual' | 'schedule' | 'catch_up';
  readonly runDate: string;
  readonly scheduledAt?: number;
  /** The process that ran it. */
  readonly pid: number;
  readonly status: RunStatus;
  readonly queuedAt: number;
  readonly startedAt?: number;
  readonly endedAt?: number;
  readonly error?: ErrorInfo;
  readonly ops: Readonly<Record<string, OpRecord>>;
  /** Clusters and jobs started and not (yet) stopped. */
  readonly liveResources: readonly RunResource[];
  readonly alerts: readonly { on: 'failure' | 'success'; webhook: string; ok: boolean; detail: string }[];
}

/** Folds a run's events (in journal order) into its record. */
export function foldRun(events: readonly RunEvent[]): RunRecord {
  const first = events[0];
  if (!first || first.type !== 'run_queued') throw new Error('a run journal starts with run_queued');
  const ops: Record<string, OpRecord> = {};
  for (const o of first.ops) ops[o.name] = { name: o.name, type: o.type, status: 'pending', attempts: 0 };
  let run: Omit<RunRecord, 'ops' | 'liveResources' | 'alerts'> = {
    runId: first.runId,
    workflow: first.workflow,
    file: first.file,
    fileHash: first.fileHash,
    git: first.git,
    trigger: first.trigger,
    runDate: first.runDate,
    ...(first.scheduledAt !== undefined ? { scheduledAt: first.scheduledAt } : {}),
    pid: first.pid,
    status: 'queued',
    queuedAt: first.t,
  };
  const live = new Map<string, RunResource>();
  const alerts: RunRecord['alerts'][number][] = [];
  const key = (r: RunResource) => `${r.kind}:${r.jobId ?? r.address}`;
  for (const e of events.slice(1)) {
    const op = 'op' in e ? ops[e.op] : undefined;
    switch (e.type) {
      case 'run_started':
        run = { ...run, status: 'started', startedAt: e.t };
        break;
      case 'op_started':
        if (op) ops[e.op] = { ...op, status: 'running', attempts: e.attempt, startedAt: op.startedAt ?? e.t };
        break;
      case 'op_retrying':
        if (op) ops[e.op] = { ...op, status: 'retrying', error: e.error };
        break;
      case 'op_succeeded':
        if (op) ops[e.op] = { ...op, status: 'success', attempts: e.attempt, endedAt: e.t, output: e.output, error: undefined };
        break;
      case 'op_failed':
        if (op) ops[e.op] = { ...op, status: 'failure', attempts: e.attempt, endedAt: e.t, error: e.error };
        break;
      case 'op_canceled':
        if (op) ops[e.op] = { ...op, status: 'canceled', endedAt: e.t };
        break;
      case 'op_skipped':
        if (op) ops[e.op] = { ...op, status: 'skipped', endedAt: e.t, skipReason: e.reason };
        break;
      case 'resource':
        if (e.action === 'started') live.set(key(e.resource), e.resource);
        else live.delete(key(e.resource));
        break;
      case 'run_canceling':
        run = { ...run, status: 'canceling' };
        break;
      case 'run_finished':
        run = { ...run, status: e.status, endedAt: e.t, ...(e.error ? { error: e.error } : {}) };
        break;
      case 'alert':
        alerts.push({ on: e.on, webhook: e.webhook, ok: e.ok, detail: e.detail });
        break;
    }
  }
  return { ...run, ops, liveResources: [...live.values()], alerts };
}

/** True once a run has ended. */
export function isFinished(s: RunStatus): boolean {
  return s === 'success' || s === 'failure' || s === 'canceled';
}

/** An error as the journal keeps it (name, code, message, and the cause's stack). */
export function errorInfo(e: unknown): ErrorInfo {
  const err = e instanceof Error ? e : new Error(String(e));
  const cause = (err as { cause?: unknown }).cause;
  return {
    name: err.name,
    ...(typeof (err as { code?: unknown }).code === 'string' ? { code: (err as unknown as { code: string }).code } : {}),
    message: err.message,
    ...(cause !== undefined
      ? { cause: cause instanceof Error ? { name: cause.name, message: cause.message, ...(cause.stack ? { stack: cause.stack } : {}) } : { name: 'Error', message: String(cause) } }
      : {}),
  };
}
