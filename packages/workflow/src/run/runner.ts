/**
 * runWorkflow: executes a loaded workflow. Ops start as soon as everything they depend on succeeded,
 * so independent ops run in parallel. Each op gets its retries (retry-policy.ts) and `timeoutS`. A
 * failure skips the ops downstream of it (independent branches go on); `always: true` ops still run once
 * their dependencies have ended (`ray_cluster_stop` after a failure). Cancelling (the `signal`, or the
 * run's cancel file written by `rayts workflow cancel`) aborts running ops, skips pending ones except
 * `always` ones, then stops every job and cluster the run started and has not stopped.
 *
 * Every step goes to the run's journal (store.ts); the record returned is the journal folded.
 */
import { setMaxListeners } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from '@samsara/ray';
import { OpExecutionError, WorkflowRunError } from '../errors.js';
import { sendAlert, type AlertPayload } from '../alerts.js';
import { getOp, type OpContext } from '../ops/registry.js';
import type { OpSpec, WorkflowDefinition } from '../spec/definition.js';
import { loadWorkflow } from '../spec/load.js';
import { dig, interpolate } from '../spec/references.js';
import { dashboardKey, dashboardSection } from './dashboard.js';
import { DashboardPublisher } from './dashboard-publisher.js';
import { gitLineage } from './lineage.js';
import { retryDelayMs } from './retry-policy.js';
import { RunServices } from './services.js';
import { errorInfo, foldRun, type RunEvent, type RunRecord } from './status.js';
import { newRunId, RunStore, type RunJournal } from './store.js';

/** Options of {@link runWorkflow}. */
export interface RunOptions {
  /** The run's id. @default a new `wr_…` id */
  readonly runId?: string;
  /** Aborting cancels the run (as `rayts workflow cancel` does). */
  readonly signal?: AbortSignal;
  /** The logical date (`{context.run_date}`). @default now */
  readonly runDate?: Date;
  /** The state directory. @default RAYTS_WORKFLOW_HOME, else ~/.rayts/workflows */
  readonly home?: string;
  /** Who started the run. @default 'manual' */
  readonly trigger?: 'manual' | 'schedule' | 'catch_up';
  /** Reject with {@link WorkflowRunError} when the run does not succeed. @default true */
  readonly raiseOnError?: boolean;
  /** Called with every journal event as it is written. */
  readonly onEvent?: (e: RunEvent, runId: string) => void;
  /** Called with every op log line. */
  readonly onLog?: (op: string, line: string) => void;
}

const OPTION_KEYS = ['runId', 'signal', 'runDate', 'home', 'trigger', 'raiseOnError', 'onEvent', 'onLog'];
const CANCEL_POLL_MS = 200;
const BUILTIN_GRACE_MS = 60_000;
const CUSTOM_GRACE_MS = 5_000;

/**
 * Runs a workflow (a loaded definition, or a file path to load) to its end and returns the run's record.
 *
 * @throws WorkflowDefinitionError when given a path to an invalid file.
 * @throws WorkflowRunError (code WORKFLOW_RUN_FAILED) when the run fails or is cancelled, unless
 *   `raiseOnError: false`; its `cause` is the first op's {@link OpExecutionError} (whose `cause` is what
 *   the op threw) and `run` the record.
 */
export async function runWorkflow(workflow: WorkflowDefinition | string, options: RunOptions = {}): Promise<RunRecord> {
  for (const k of Object.keys(options)) {
    if (!OPTION_KEYS.includes(k)) throw new InvalidArgumentError(`runWorkflow: unknown option ${JSON.stringify(k)}; the options are ${OPTION_KEYS.join(', ')}.`);
  }
  const def = typeof workflow === 'string' ? await loadWorkflow(workflow) : workflow;
  const store = new RunStore(options.home);
  const runId = options.runId ?? newRunId();
  const runDate = options.runDate ?? new Date();
  const journal = store.create({
    type: 'run_queued',
    t: Date.now(),
    runId,
    workflow: def.name,
    file: def.file,
    fileHash: def.fileHash,
    git: await gitLineage(def.dir),
    trigger: options.trigger ?? 'manual',
    runDate: runDate.toISOString().slice(0, 10),
    ...(options.trigger && options.trigger !== 'manual' ? { scheduledAt: runDate.getTime() } : {}),
    pid: process.pid,
    ops: def.order.map((n) => ({ name: n, type: def.ops[n].type, dependsOn: def.ops[n].dependsOn })),
  });
  const run = new Run(def, store, journal, runId, runDate, options);
  let record: RunRecord;
  try {
    record = await run.execute();
  } finally {
    journal.close();
  }
  if (record.status !== 'success' && options.raiseOnError !== false) throw new WorkflowRunError(record, run.firstError ?? new Error(record.status));
  return record;
}

/** One run being executed (internal). */
class Run {
  private readonly events: RunEvent[] = [];
  private readonly status = new Map<string, 'pending' | 'running' | 'success' | 'failure' | 'skipped' | 'canceled'>();
  private readonly outputs = new Map<string, unknown>();
  private readonly cancel = new AbortController();
  private readonly services: RunServices;
  private readonly running = new Set<Promise<void>>();
  firstError: OpExecutionError | undefined;
  private firstFailedOp: string | undefined;
  private wake: () => void = () => {};
  /** Clusters whose dashboard shows this run: those it started and the `address` of its `ray_*` ops. */
  private readonly targets = new Set<string>();
  private readonly publisher: DashboardPublisher;
  /** The `token` argument given with an address (clusters no workflow started). */
  private readonly tokens = new Map<string, string>();

  constructor(
    private readonly def: WorkflowDefinition,
    private readonly store: RunStore,
    private readonly journal: RunJournal,
    private readonly runId: string,
    private readonly runDate: Date,
    private readonly options: RunOptions,
  ) {
    this.services = new RunServices(store.home, runId, journal);
    // Every running op listens for the run's cancel: a fan-out of hundreds is normal, not a leak.
    setMaxListeners(0, this.cancel.signal);
    this.publisher = new DashboardPublisher((address) => this.services.envFor(address, this.tokens.get(address)));
    this.events.push(...store.events(runId));
  }

  private emit(e: RunEvent): void {
    this.journal.append(e);
    this.events.push(e);
    this.options.onEvent?.(e, this.runId);
    if (this.targets.size && e.type !== 'resource') this.publish();
  }

  /** Puts the run's current section on every target cluster (best effort, see dashboard-publisher.ts). */
  private publish(): void {
    const value = JSON.stringify(dashboardSection(foldRun(this.events)));
    for (const address of this.targets) this.publisher.publish(address, dashboardKey(this.runId), value);
  }

  /** A cluster is about to stop: show it the run as it is now, then end its publisher. */
  private async untarget(address: string): Promise<void> {
    if (!this.targets.has(address)) return;
    this.publish();
    this.targets.delete(address);
    await this.publisher.close(address);
  }

  private log(op: string, line: string): void {
    this.journal.log(op, line);
    this.options.onLog?.(op, line);
  }

  private requestCancel(reason: string): void {
    if (this.cancel.signal.aborted) return;
    this.emit({ type: 'run_canceling', t: Date.now(), reason });
    this.cancel.abort(new Error(reason));
    this.wake();
  }

  async execute(): Promise<RunRecord> {
    try {
      return await this.executeInner();
    } finally {
      // Also when something unexpected threw: no publisher child outlives the run.
      await this.publisher.close();
    }
  }

  private async executeInner(): Promise<RunRecord> {
    const onAbort = () => this.requestCancel('cancelled by the caller');
    if (this.options.signal?.aborted) onAbort();
    this.options.signal?.addEventListener('abort', onAbort, { once: true });
    const poll = setInterval(() => this.journal.cancelRequested() && this.requestCancel('cancelled by `rayts workflow cancel`'), CANCEL_POLL_MS);
    poll.unref();
    this.emit({ type: 'run_started', t: Date.now() });
    for (const n of this.def.order) this.status.set(n, 'pending');
    try {
      for (;;) {
        this.schedule();
        if (this.running.size === 0) break;
        await new Promise<void>((r) => {
          this.wake = r;
          for (const p of this.running) void p.then(r);
        });
      }
      if (this.cancel.signal.aborted) {
        for (const a of this.services.startedClusters()) await this.untarget(a);
        await this.services.stopAll((l) => this.log('_run', l));
      }
    } finally {
      clearInterval(poll);
      this.options.signal?.removeEventListener('abort', onAbort);
    }
    const failed = [...this.status.values()].some((s) => s === 'failure');
    const status = this.cancel.signal.aborted ? 'canceled' : failed ? 'failure' : 'success';
    this.emit({ type: 'run_finished', t: Date.now(), status, ...(this.firstError ? { error: errorInfo(this.firstError) } : {}) });
    let record = foldRun(this.events);
    await this.alert(record);
    record = foldRun(this.events);
    if (this.targets.size) this.publish();
    await this.publisher.close();
    try {
      writeFileSync(join(this.store.dir(this.runId), 'dashboard.json'), JSON.stringify(dashboardSection(record), null, 2));
    } catch {
      /* the summary is a convenience; the journal is the record */
    }
    return record;
  }

  /** Starts every op that can start, skips every op that never will. */
  private schedule(): void {
    let changed = true;
    while (changed) {
      changed = false;
      for (const name of this.def.order) {
        if (this.status.get(name) !== 'pending') continue;
        const op = this.def.ops[name];
        const deps = op.dependsOn.map((d) => this.status.get(d)!);
        if (deps.some((s) => s === 'pending' || s === 'running')) {
          if (!op.always && this.cancel.signal.aborted) changed = this.skip(name, 'the run was cancelled') || changed;
          continue;
        }
        const notOk = op.dependsOn.filter((d) => this.status.get(d) !== 'success');
        if (!op.always && this.cancel.signal.aborted) {
          changed = this.skip(name, 'the run was cancelled') || changed;
        } else if (!op.always && notOk.length) {
          changed = this.skip(name, `upstream ${notOk.map((d) => `${d} (${this.status.get(d)})`).join(', ')} did not succeed`) || changed;
        } else if (op.always && op.references.some((r) => r.source !== 'context' && notOk.includes(r.source))) {
          const missing = [...new Set(op.references.filter((r) => notOk.includes(r.source)).map((r) => r.source))];
          changed = this.skip(name, `its arguments need the outputs of ${missing.join(', ')}, which did not succeed`) || changed;
        } else {
          this.status.set(name, 'running');
          const p: Promise<void> = this.runOp(op).finally(() => this.running.delete(p));
          this.running.add(p);
          changed = true;
        }
      }
    }
  }

  private skip(name: string, reason: string): boolean {
    this.status.set(name, 'skipped');
    this.emit({ type: 'op_skipped', t: Date.now(), op: name, reason });
    return true;
  }

  private async runOp(op: OpSpec): Promise<void> {
    const def = getOp(op.type)!;
    const attempts = op.retry.count + 1;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      this.emit({ type: 'op_started', t: Date.now(), op: op.name, attempt });
      const ctrl = new AbortController();
      const onCancel = () => ctrl.abort(new Error('the run was cancelled'));
      if (this.cancel.signal.aborted && !op.always) onCancel();
      if (!op.always) this.cancel.signal.addEventListener('abort', onCancel, { once: true });
      let timedOut = false;
      const timer = op.timeoutS
        ? setTimeout(() => {
            timedOut = true;
            ctrl.abort(new Error(`timed out after ${op.timeoutS} s`));
          }, op.timeoutS * 1000)
        : undefined;
      const ctx: OpContext = {
        runId: this.runId,
        runDate: this.runDate.toISOString().slice(0, 10),
        workflow: this.def.name,
        opName: op.name,
        attempt,
        workflowDir: this.def.dir,
        signal: ctrl.signal,
        log: (line) => this.log(op.name, line),
      };
      let retryable = true;
      try {
        let args: unknown;
        try {
          args = interpolate(op.args, (source, path, text) => this.resolve(source, path, text, ctx));
        } catch (e) {
          retryable = false;
          throw e;
        }
        if (def.validateArgs && !def.validateArgs(args)) {
          retryable = false;
          throw new Error(`arguments after substitution do not fit ${op.type}: ${(def.validateArgs.errors ?? []).map((e) => `args${e.instancePath.replace(/\//g, '.')} ${e.message}`).join('; ')}`);
        }
        await this.track(op, args);
        // An op is not started once its signal has aborted (cancelled between scheduling and this microtask).
        const work = Promise.resolve().then(() => {
          if (ctrl.signal.aborted) throw ctrl.signal.reason;
          return def.run(args, ctx, this.services);
        });
        const output = await raceAbort(work, ctrl.signal, def.builtin ? BUILTIN_GRACE_MS : CUSTOM_GRACE_MS);
        if (def.validateOutputs && !def.validateOutputs(output)) {
          throw new Error(`the output does not fit ${op.type}'s outputs schema: ${(def.validateOutputs.errors ?? []).map((e) => `output${e.instancePath.replace(/\//g, '.')} ${e.message}`).join('; ')}`);
        }
        this.outputs.set(op.name, output);
        this.status.set(op.name, 'success');
        if (op.type === 'ray_cluster_start') this.targets.add((output as { address: string }).address);
        this.emit({ type: 'op_succeeded', t: Date.now(), op: op.name, attempt, output: output === undefined ? null : output });
        return;
      } catch (e) {
        const reason = timedOut ? 'timeout' : ctrl.signal.aborted ? 'cancelled' : 'error';
        const cause = reason === 'error' ? e : (ctrl.signal.reason ?? e);
        const err = new OpExecutionError(op.name, attempt, this.runId, reason, cause);
        this.log(op.name, `attempt ${attempt} ${reason === 'error' ? 'failed' : reason === 'timeout' ? 'timed out' : 'cancelled'}: ${err.message}`);
        if (reason === 'cancelled') {
          this.status.set(op.name, 'canceled');
          this.emit({ type: 'op_canceled', t: Date.now(), op: op.name, attempt });
          return;
        }
        if (retryable && attempt < attempts && !(this.cancel.signal.aborted && !op.always)) {
          const delayMs = retryDelayMs(op.retry, attempt);
          this.emit({ type: 'op_retrying', t: Date.now(), op: op.name, attempt, error: errorInfo(err), delayMs });
          await sleep(delayMs, op.always ? undefined : this.cancel.signal);
          if (this.cancel.signal.aborted && !op.always) {
            this.status.set(op.name, 'canceled');
            this.emit({ type: 'op_canceled', t: Date.now(), op: op.name, attempt });
            return;
          }
          continue;
        }
        this.status.set(op.name, 'failure');
        if (!this.firstError) {
          this.firstError = err;
          this.firstFailedOp = op.name;
        }
        this.emit({ type: 'op_failed', t: Date.now(), op: op.name, attempt, error: errorInfo(err) });
        return;
      } finally {
        if (timer) clearTimeout(timer);
        this.cancel.signal.removeEventListener('abort', onCancel);
      }
    }
  }

  /** Notes the cluster a `ray_*` op works on; before `ray_cluster_stop`, stops publishing to it. */
  private async track(op: OpSpec, args: unknown): Promise<void> {
    if (!op.type.startsWith('ray_')) return;
    const address = (args as { address?: unknown }).address;
    if (typeof address !== 'string') return;
    const token = (args as { token?: unknown }).token;
    if (typeof token === 'string' && token) this.tokens.set(address, token);
    if (op.type === 'ray_cluster_stop') await this.untarget(address);
    else if (!this.targets.has(address)) {
      this.targets.add(address);
      this.publish();
    }
  }

  private resolve(source: string, path: readonly string[], text: string, ctx: OpContext): unknown {
    if (source === 'context') {
      const values: Record<string, unknown> = { run_id: ctx.runId, run_date: ctx.runDate, workflow: ctx.workflow, attempt: ctx.attempt };
      return values[path[0]];
    }
    if (!this.outputs.has(source)) throw new Error(`${text}: op ${source} has no output (it did not succeed)`);
    const out = this.outputs.get(source);
    const p = path[0] === 'output' ? path.slice(1) : path;
    const r = dig(out, p);
    if (!r.found) throw new Error(`${text}: the output of ${source} has no '${r.missing}' (output: ${JSON.stringify(out)?.slice(0, 200)})`);
    return r.value;
  }

  private async alert(record: RunRecord): Promise<void> {
    const target = record.status === 'success' ? this.def.alerts.onSuccess : this.def.alerts.onFailure;
    if (!target) return;
    const op = this.firstFailedOp;
    const payload: AlertPayload = {
      event: record.status === 'success' ? 'workflow.success' : 'workflow.failure',
      runId: record.runId,
      workflow: record.workflow,
      status: record.status,
      ...(op ? { op } : {}),
      ...(record.error ? { error: record.error } : {}),
      logTail: op ? this.journal.tail(op) : [],
      file: record.file,
      fileHash: record.fileHash,
      git: record.git,
      ...(record.startedAt ? { startedAt: record.startedAt } : {}),
      ...(record.endedAt ? { endedAt: record.endedAt } : {}),
    };
    const r = await sendAlert(target, payload);
    this.emit({ type: 'alert', t: Date.now(), on: record.status === 'success' ? 'success' : 'failure', webhook: target.webhook, ok: r.ok, detail: r.detail });
  }
}

/**
 * `p`; once `signal` aborts, a rejection with its reason as soon as `p` settles or `graceMs` passed.
 * Built-in ops honour the signal (they stop what they started before settling), so they get a long
 * grace; a custom op that ignores its signal is left behind after a short one.
 */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal, graceMs: number): Promise<T> {
  return new Promise<T>((res, rej) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      timer = setTimeout(() => rej(signal.reason), graceMs);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    const settle = (f: () => void) => {
      signal.removeEventListener('abort', onAbort);
      if (timer) clearTimeout(timer);
      if (signal.aborted) rej(signal.reason);
      else f();
    };
    p.then(
      (v) => settle(() => res(v)),
      (e) => settle(() => rej(e)),
    );
  });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((res) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      res();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
