/**
 * Tuner: runs an experiment. Responsible for the trial lifecycle (one placement group per trial from
 * `resourcesPerTrial`, the trainable as a task on bundle 0, results drained from the collector actor,
 * scheduler verdicts applied at once, failures restarted from the last checkpoint with a new placement
 * group, the experiment directory kept current so `Tuner.restore` can resume). Not responsible for
 * deciding what to try (the searcher) or when to stop (the scheduler): it asks them.
 */
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import {
  actor,
  captureCallable,
  get,
  init,
  kill,
  kv,
  nodes,
  placementGroup,
  remote,
  removePlacementGroup,
  runtimeContext,
  GetTimeoutError,
  SchedulingError,
  type ActorHandle,
  type CallableRef,
  type NodeSummary,
  type ObjectRef,
  type PlacementGroup,
  type RemoteFunction,
  type ResourceMap,
} from '@samsara/ray';
import { readPayload, writePayload, type CheckpointPayload } from './checkpoint.js';
import { TuneCollector } from './collector.js';
import { DASHBOARD_NAMESPACE, dashboardSection, sectionKey } from './dashboard-section.js';
import { resolveTunerOptions, type ResolvedTunerOptions, type TunerOptions } from './config.js';
import { MetricNotReportedError, TuneConfigError } from './errors.js';
import { ExperimentStore, STATE_VERSION, type ExperimentState } from './experiment-store.js';
import { LiveTable } from './progress-table.js';
import { ResultGrid } from './result-grid.js';
import { reviveSchedulerOrSearcher, reviveSpace, specOf } from './revive.js';
import type { SchedulerDecision, TrialResult, TrialScheduler } from './schedulers/scheduler.js';
import { parseSearchSpace } from './search-space.js';
import { FINISHED, type Searcher } from './search/searcher.js';
import { newTrial, type TrialRecord } from './trial.js';
import type { TrialContext, TrialInit, TrialRunOutcome } from './trial-runner.js';

/** A trainable: `(config, ctx) => …`, shipped to the cluster by the core's code-shipping rules. */
export type Trainable<C = Record<string, unknown>> = (config: C, ctx: TrialContext) => unknown;

type StopReason = 'scheduler' | 'pause' | 'criteria' | 'budget' | 'metric';

interface Run {
  readonly trial: TrialRecord;
  readonly key: string;
  pg?: PlacementGroup;
  pgRemoved?: Promise<void>;
  received: number;
  expected?: number;
  allReceived?: () => void;
  stopReason?: StopReason;
  stopError?: Error;
  /** performance.now() of the last Tune decision that ended the run (for the bench). */
  stoppedAt?: number;
}

/** Timings the Tuner measured (benchmarks read them). */
export interface TunerStats {
  /** Results that reached the scheduler. */
  results: number;
  /** ms from a stop decision to its placement group being removed, per stopped run. */
  stopToFreeMs: number[];
}

/** Runs an experiment. @example see the package docs (docs/tune.md). */
export class Tuner {
  private readonly opts: ResolvedTunerOptions;
  private readonly trainable: Trainable;
  private readonly restored?: ExperimentState;
  /** Filled during fit(). */
  readonly stats: TunerStats = { results: 0, stopToFreeMs: [] };

  /**
   * @throws TuneConfigError for bad options (unknown keys, values out of range), SearchSpaceError for a
   *   paramSpace entry Tune cannot sample (naming its path).
   */
  constructor(trainable: Trainable<never>, options: TunerOptions, restored?: ExperimentState) {
    if (typeof trainable !== 'function') throw new TuneConfigError(`Tuner takes a trainable function (config, ctx) => ..., got ${typeof trainable}.`);
    this.opts = resolveTunerOptions(options);
    parseSearchSpace(this.opts.paramSpace);
    this.trainable = trainable as Trainable;
    // Captured here, where the caller's stack holds the module that defines it (imports are looked up
    // there); fit() captures again once init() has set the working directory, and reports a refusal.
    try {
      captureCallable(trainable, CAPTURE);
    } catch {
      /* reported by fit() */
    }
    this.restored = restored;
  }

  /**
   * Resumes an interrupted experiment from its directory (`storagePath/name`): finished trials keep
   * their results, unfinished ones restart from their last checkpoint, the searcher continues where it
   * stopped. Built-in schedulers and searchers are rebuilt from the saved state; pass `overrides` for
   * anything that holds functions (sampleFrom, PBT mutation functions, a custom scheduler).
   * @throws TuneRestoreError when the directory holds no experiment.
   */
  static restore(path: string, trainable: Trainable<never>, overrides: Omit<TunerOptions, 'resourcesPerTrial'> = {}): Tuner {
    const state = ExperimentStore.readState(path);
    const tc = overrides.tuneConfig ?? {};
    const scheduler = tc.scheduler ?? (reviveSchedulerOrSearcher(state.scheduler) as TrialScheduler);
    const searchAlg = tc.searchAlg ?? (reviveSchedulerOrSearcher(state.searcher) as Searcher);
    return new Tuner(
      trainable,
      {
        paramSpace: overrides.paramSpace ?? (reviveSpace(state.paramSpace) as Record<string, unknown>),
        tuneConfig: { metric: state.metric, mode: state.mode, numSamples: state.numSamples, ...tc, scheduler, searchAlg },
        resourcesPerTrial: state.resourcesPerTrial as ResourceMap[],
        runConfig: { ...overrides.runConfig, name: basename(path), storagePath: dirname(path) },
      },
      state,
    );
  }

  /** Runs every trial to its end; resolves with the results (failed trials are in `grid.errors`, not thrown). */
  async fit(): Promise<ResultGrid> {
    try {
      runtimeContext();
    } catch {
      await init();
    }
    return new Experiment(this.opts, makeRunner(this.trainable), this.restored, this.stats).run();
  }
}

const SELF_PACKAGE = '@samsara/ray-tune';

/** How the trainable is named in errors, and what to do with module-level values. */
const CAPTURE = { what: 'trainable', hint: "Pass those values in the trainable's config (paramSpace)" };

/**
 * Wraps the user's trainable in a self-contained task that imports this package on the worker, where
 * runTrial rebuilds the trainable from its CallableRef (source + the imports it uses).
 */
function makeRunner(trainable: Trainable): RemoteFunction<[Record<string, unknown>, TrialInit], TrialRunOutcome> {
  const src = Function.prototype.toString.call(trainable);
  if (/\{\s*\[native code\]\s*\}$/.test(src)) throw new TuneConfigError('The trainable is a native or bound function, whose source cannot be shipped.', { hint: 'Pass a plain (async) function (config, ctx) => ...' });
  let code: CallableRef;
  try {
    code = captureCallable(trainable, CAPTURE);
  } catch (e) {
    const { message, hint } = e as { message: string; hint?: string };
    const what = hint && message.endsWith(` ${hint}`) ? message.slice(0, -hint.length - 1) : message;
    throw new TuneConfigError(`The trainable cannot run on the cluster: ${what}`, { cause: e, hint });
  }
  const name = (trainable.name || 'trainable').replace(/[^\w$]/g, '_');
  // the wrapper runs on a worker, where it loads this package by name (not an import of this module graph)
  const wrapper = `async function ${name}(config, init) {\n  const tuneLib = await import(${JSON.stringify(SELF_PACKAGE)});\n  return tuneLib.runTrial(${JSON.stringify(code)}, config, init);\n}`;
  let fn: (...a: unknown[]) => unknown;
  try {
    fn = new Function(`return (${wrapper});`)() as (...a: unknown[]) => unknown;
  } catch (e) {
    throw new TuneConfigError(`The trainable's source could not be wrapped for shipping: ${(e as Error).message}.`, { cause: e });
  }
  return remote(fn as (config: Record<string, unknown>, init: TrialInit) => Promise<TrialRunOutcome>);
}

/** True when the node's capacity (`nodes()` reports it with placement-group reservations included) holds the bundle. */
function fits(node: NodeSummary, bundle: Readonly<ResourceMap>): boolean {
  const cap = node.resources;
  return Object.entries(bundle).every(([k, v]) => (cap[k] ?? 0) >= v);
}

class Experiment {
  private readonly store: ExperimentStore;
  private readonly root: string;
  private trials: TrialRecord[] = [];
  private readonly runs = new Map<string, Run>();
  private readonly byKey = new Map<string, Run>();
  private queue: TrialRecord[] = [];
  private searchFinished = false;
  private nextIndex = 0;
  private tag = randomBytes(3).toString('hex').slice(0, 5);
  private stopping = false;
  private closed = false;
  private verdicts: Record<string, string> = {};
  private wake: () => void = () => undefined;
  private nodeInfo = new Map<string, NodeSummary>();
  private startedAt = new Date().toISOString();
  private elapsedBefore = 0;
  private readonly t0 = Date.now();
  private lastSave = 0;
  private saveTimer?: NodeJS.Timeout;
  private table?: LiveTable;
  private collector!: ActorHandle<TuneCollector>;
  private runCounter = 0;
  private publishing?: Promise<void>;
  private publishAgain = false;
  /** Groups of trials that ended by themselves, ready for the next trial (same bundles). */
  private readonly idle: PlacementGroup[] = [];
  private readonly removals = new Set<Promise<void>>();
  /** An error that ends the whole experiment (the trainable cannot be shipped). */
  private fatal?: Error;

  constructor(
    private readonly o: ResolvedTunerOptions,
    private readonly runner: RemoteFunction<[Record<string, unknown>, TrialInit], TrialRunOutcome>,
    private readonly restored: ExperimentState | undefined,
    private readonly stats: TunerStats,
  ) {
    this.root = join(o.storagePath, o.name);
    this.store = new ExperimentStore(this.root);
    if (o.verbose && process.stdout.isTTY) this.table = new LiveTable(process.stdout);
  }

  async run(): Promise<ResultGrid> {
    const o = this.o;
    const space = parseSearchSpace(o.paramSpace);
    o.searchAlg.setup({ metric: o.metric, mode: o.mode, space, numSamples: o.numSamples });
    o.scheduler.setup({ metric: o.metric, mode: o.mode });
    if (this.restored) this.loadRestored(this.restored);
    await this.refreshNodes();
    const head = [...this.nodeInfo.values()].find((n) => n.isHead && n.alive);
    this.collector = actor(TuneCollector)
      .options({ maxConcurrency: 1000, numCpus: 0, ...(head ? { scheduling: { nodeId: head.nodeId, soft: true } } : {}) })
      .remote();
    const concurrency = o.maxConcurrentTrials ?? (await this.fittingConcurrency());
    const drain = this.drainLoop();
    const poll = this.pollNodes();
    let budget: NodeJS.Timeout | undefined;
    if (o.timeBudgetS !== undefined) {
      const left = Math.max(0, o.timeBudgetS * 1000 - this.elapsedBefore * 1000);
      budget = setTimeout(() => this.stopAll('budget'), left);
    }
    try {
      for (;;) {
        while (!this.stopping && this.runs.size < concurrency) {
          const t = this.nextTrial();
          if (!t) break;
          void this.runTrial(t);
        }
        // no trial will take an idle group: give its resources back (a waiting trial may need them)
        if (this.searchFinished && this.queue.length === 0) this.releaseSpares();
        if (this.runs.size === 0) {
          const paused = this.trials.filter((t) => t.status === 'PAUSED');
          if (!this.stopping && paused.length && this.queue.length === 0) {
            for (const t of paused) this.requeue(t, t.checkpoints.length ? join(this.store.trialDir(t), t.checkpoints[t.checkpoints.length - 1].dir) : undefined);
            continue;
          }
          if (this.queue.length === 0 || this.stopping) break;
        }
        await new Promise<void>((r) => (this.wake = r));
      }
    } finally {
      if (budget) clearTimeout(budget);
      this.closed = true;
      this.releaseSpares();
      await Promise.all([...this.removals]);
      await drain.catch(() => undefined);
      await poll.catch(() => undefined);
      await kill(this.collector).catch(() => undefined);
      if (this.stopping) for (const t of this.trials) if (t.status === 'PENDING' || t.status === 'PAUSED') t.status = 'TERMINATED';
      this.saveState(true);
      while (this.publishing) await this.publishing;
      this.table?.update(this.trials, o.metric, true);
    }
    if (this.fatal) {
      throw new TuneConfigError(`The trainable cannot run on the cluster: ${this.fatal.message}`, {
        cause: this.fatal,
        hint: "The trainable's top-level imports travel with it (docs/tune.md); other module-level values go in its config.",
      });
    }
    return new ResultGrid(this.root, this.state(true));
  }

  private loadRestored(s: ExperimentState): void {
    this.tag = s.experimentTag;
    this.nextIndex = s.nextTrialIndex;
    this.searchFinished = s.searchFinished;
    this.startedAt = s.startedAt;
    this.elapsedBefore = s.elapsedS;
    if (s.searcher.type === specOf(this.o.searchAlg).type) this.o.searchAlg.restore(s.searcher.state);
    if (s.scheduler.type === specOf(this.o.scheduler).type) this.o.scheduler.restore(s.scheduler.state);
    this.trials = s.trials.map((t) => ({ ...t }));
    for (const t of this.trials) {
      if (t.status === 'RUNNING' || t.status === 'PENDING' || t.status === 'PAUSED') {
        const last = t.checkpoints[t.checkpoints.length - 1];
        this.requeue(t, last ? join(this.store.trialDir(t), last.dir) : undefined);
        // results after the last checkpoint are replayed by the restarted run
        if (last) t.iteration = last.iteration;
        else t.iteration = 0;
      }
    }
  }

  private requeue(t: TrialRecord, restoreFrom: string | undefined): void {
    t.status = 'PENDING';
    t.restoreFrom = restoreFrom;
    if (!this.queue.includes(t)) this.queue.push(t);
  }

  private nextTrial(): TrialRecord | undefined {
    const q = this.queue.shift();
    if (q) return q;
    if (this.searchFinished) return undefined;
    const id = `${this.tag}_${String(this.nextIndex).padStart(5, '0')}`;
    const config = this.o.searchAlg.suggest(id);
    if (config === FINISHED) {
      this.searchFinished = true;
      return undefined;
    }
    if (config === undefined) return undefined;
    this.nextIndex++;
    const t = newTrial(id, config);
    this.trials.push(t);
    this.o.scheduler.onTrialAdd(t);
    this.store.writeParams(t);
    return t;
  }

  private async fittingConcurrency(): Promise<number> {
    await this.refreshNodes();
    const total: ResourceMap = {};
    for (const n of this.nodeInfo.values()) {
      if (!n.alive) continue;
      for (const [k, v] of Object.entries(n.resources)) total[k] = (total[k] ?? 0) + v;
    }
    const need: ResourceMap = {};
    for (const b of this.o.resourcesPerTrial) for (const [k, v] of Object.entries(b)) need[k] = (need[k] ?? 0) + v;
    let n = Infinity;
    for (const [k, v] of Object.entries(need)) if (v > 0) n = Math.min(n, Math.floor((total[k] ?? 0) / v + 1e-9));
    return Number.isFinite(n) ? Math.max(1, n) : 1;
  }

  /** Which bundle no alive node can hold, if any (then no placement can ever succeed). */
  private infeasibleBundle(): { index: number; bundle: Readonly<ResourceMap> } | undefined {
    const alive = [...this.nodeInfo.values()].filter((n) => n.alive);
    for (const [index, bundle] of this.o.resourcesPerTrial.entries()) {
      if (!alive.some((n) => fits(n, bundle))) return { index, bundle };
    }
    return undefined;
  }

  private async runTrial(t: TrialRecord): Promise<void> {
    const key = `${t.trialId}#${++this.runCounter}`;
    const run: Run = { trial: t, key, received: 0 };
    this.runs.set(t.trialId, run);
    this.byKey.set(key, run);
    t.endReason = undefined;
    let outcome: TrialRunOutcome | undefined;
    let failure: unknown;
    try {
      await this.placeTrial(run);
      if (run.stopReason) throw new Error('stopped before it started');
      t.status = 'RUNNING';
      this.saveState();
      const checkpoint: CheckpointPayload | undefined = t.restoreFrom ? readPayload(t.restoreFrom) : undefined;
      const init: TrialInit = {
        trialId: t.trialId,
        runKey: key,
        collector: this.collector,
        pg: { id: run.pg!.id, bundles: this.o.resourcesPerTrial.map((b) => ({ ...b })), strategy: run.pg!.strategy, name: run.pg!.name },
        ...(checkpoint ? { checkpoint } : {}),
        iteration: t.iteration,
        timeOffsetS: t.timeTotalS,
      };
      let ref: ObjectRef<TrialRunOutcome>;
      try {
        ref = this.submit(run, init);
      } catch (e) {
        // the trainable cannot be shipped: no trial can run, so the experiment ends with this error
        this.fatal ??= e as Error;
        this.stopAll('budget');
        throw e;
      }
      outcome = await get(ref);

      if (!run.stopReason && run.received < outcome.reports) {
        run.expected = outcome.reports;
        await new Promise<void>((r) => (run.allReceived = r));
      }
    } catch (e) {
      failure = e;
    }
    const reusable = run.pg && !run.pgRemoved && !failure && outcome && !outcome.error && !run.stopReason && !this.stopping && !(this.searchFinished && this.queue.length === 0);
    // a trial that ended by itself leaves an idle group with the same bundles: the next trial takes it
    if (reusable) this.idle.push(run.pg!);
    else if (run.pg && !run.pgRemoved) run.pgRemoved = removePlacementGroup(run.pg).catch(() => undefined);
    const removal = run.pgRemoved;
    if (removal) {
      this.removals.add(removal);
      void removal.then(() => this.removals.delete(removal));
    }
    this.runs.delete(t.trialId);
    this.byKey.delete(key);
    this.finishRun(run, outcome, failure);
    this.saveState();
    this.table?.update(this.trials, this.o.metric);
    this.wake();
  }

  private submit(run: Run, init: TrialInit): ObjectRef<TrialRunOutcome> {
    const { CPU, GPU, memory, ...custom } = this.o.resourcesPerTrial[0];
    return this.runner
      .options({
        placementGroup: run.pg!,
        bundleIndex: 0,
        numCpus: CPU ?? 0,
        ...(GPU ? { numGpus: GPU } : {}),
        ...(memory ? { memory } : {}),
        ...(Object.keys(custom).length ? { resources: custom } : {}),
        maxRetries: 0,
        name: `trial ${run.trial.trialId}`,
      })
      .remote(run.trial.config, init);
  }

  /** Creates the trial's placement group and waits for it, failing fast when no node can ever hold a bundle. */
  private async placeTrial(run: Run): Promise<void> {
    const t = run.trial;
    const infeasible = this.infeasibleBundle();
    if (infeasible) throw this.schedulingError(t, infeasible);
    const idle = this.idle.pop();
    if (idle) {
      run.pg = idle;
      return;
    }
    run.pg = this.newGroup();
    for (;;) {
      try {
        await run.pg.ready(2000);
        return;
      } catch (e) {
        if (!(e instanceof GetTimeoutError)) throw e;
        if (run.stopReason) return;
        // a trial that waits goes before new ones: it takes a group another trial left idle
        const idle = this.idle.pop();
        if (idle) {
          const mine = run.pg;
          run.pg = idle;
          const removal = removePlacementGroup(mine).catch(() => undefined);
          this.removals.add(removal);
          void removal.then(() => this.removals.delete(removal));
          return;
        }
        await this.refreshNodes();
        const bad = this.infeasibleBundle();
        if (bad) throw this.schedulingError(t, bad);
      }
    }
  }

  /** Removes idle groups (no trial will take them). */
  private releaseSpares(): void {
    for (const pg of this.idle.splice(0)) {
      const removal = removePlacementGroup(pg).catch(() => undefined);
      this.removals.add(removal);
      void removal.then(() => this.removals.delete(removal));
    }
  }

  private newGroup(): PlacementGroup {
    return placementGroup(this.o.resourcesPerTrial.map((b) => ({ ...b })), { strategy: 'PACK', name: `tune-${this.tag}` });
  }

  private schedulingError(t: TrialRecord, { index, bundle }: { index: number; bundle: Readonly<ResourceMap> }): SchedulingError {
    const have = [...this.nodeInfo.values()].filter((n) => n.alive).map((n) => `${n.labels.device ?? n.nodeId.slice(0, 8)} ${JSON.stringify(n.resources)}`);
    return new SchedulingError(
      `Trial ${t.trialId} needs resourcesPerTrial[${index}] = ${JSON.stringify(bundle)}, which no alive node offers (nodes: ${have.join('; ') || 'none'}).`,
      {
        infeasible: true,
        ids: { trialId: t.trialId },
        hint: Object.keys(bundle).some((k) => k === 'camera') ? "Start an edge agent with rayts-edge --resources '{\"camera\":1}', or lower resourcesPerTrial." : 'Add a node that offers it (rayts start --resources ...), or lower resourcesPerTrial.',
      },
    );
  }

  private finishRun(run: Run, outcome: TrialRunOutcome | undefined, failure: unknown): void {
    const t = run.trial;
    const o = this.o;
    if (run.stopReason === 'metric') return this.fail(t, run.stopError!, false);
    if (run.stopReason === 'pause') {
      const directive = o.scheduler.onTrialPaused?.(t);
      if (directive) {
        const donor = this.trials.find((x) => x.trialId === directive.donorTrialId);
        const ck = donor?.checkpoints[donor.checkpoints.length - 1];
        t.config = directive.config;
        this.store.writeParams(t);
        t.endReason = `exploited ${directive.donorTrialId}`;
        this.requeue(t, donor && ck ? join(this.store.trialDir(donor), ck.dir) : undefined);
      } else {
        t.status = 'PAUSED';
      }
      return;
    }
    if (run.stopReason) {
      t.status = 'TERMINATED';
      t.endReason = run.stopReason;
      return this.complete(t, false);
    }
    if (!failure && outcome && !outcome.error) {
      t.status = 'TERMINATED';
      if (o.metric && t.iteration > 0 && !(t.lastResult && o.metric in t.lastResult)) {
        return this.fail(t, new MetricNotReportedError(o.metric, t.trialId, Object.keys(t.lastResult ?? {})), false);
      }
      return this.complete(t, false);
    }
    let err: Error;
    if (outcome?.error) {
      err = new Error(`${outcome.error.name}: ${outcome.error.message}`);
      err.name = outcome.error.name;
      err.stack = outcome.error.stack;
    } else err = failure instanceof Error ? failure : new Error(String(failure));
    const retriable = !(err instanceof SchedulingError && err.infeasible);
    this.fail(t, err, retriable);
  }

  private fail(t: TrialRecord, err: Error, retriable: boolean): void {
    t.numFailures++;
    const max = this.o.maxFailures;
    if (retriable && !this.stopping && (max === -1 || t.numFailures <= max)) {
      const last = t.checkpoints[t.checkpoints.length - 1];
      t.endReason = `failed: ${err.message.split('\n')[0]}`;
      this.requeue(t, last ? join(this.store.trialDir(t), last.dir) : undefined);
      if (!last) {
        t.iteration = 0;
        t.timeTotalS = 0;
      } else {
        t.iteration = last.iteration;
      }
      return;
    }
    t.status = 'ERROR';
    const code = (err as { code?: string }).code;
    t.error = { message: err.message, stack: err.stack ?? err.message, ...(code ? { code } : {}) };
    this.store.writeError(t, t.error.stack);
    this.complete(t, true);
  }

  private complete(t: TrialRecord, error: boolean): void {
    this.o.searchAlg.onTrialComplete(t.trialId, error ? undefined : t.lastResult, error);
    this.o.scheduler.onTrialComplete(t, error ? undefined : (t.lastResult as TrialResult | undefined));
  }

  /** Ends a running trial now: removes its placement group (which stops what runs in it). */
  private stopRun(run: Run, reason: StopReason, err?: Error): void {
    if (run.stopReason) return;
    run.stopReason = reason;
    run.stopError = err;
    run.stoppedAt = performance.now();
    this.verdicts[run.key] = reason === 'pause' ? 'pause' : 'stop';
    if (run.pg && !run.pgRemoved) {
      const at = run.stoppedAt;
      run.pgRemoved = removePlacementGroup(run.pg).then(
        () => void this.stats.stopToFreeMs.push(performance.now() - at),
        () => undefined,
      );
    }
    if (run.allReceived) run.allReceived();
  }

  private stopAll(reason: StopReason): void {
    this.stopping = true;
    for (const run of this.runs.values()) this.stopRun(run, reason);
    this.wake();
  }

  private async drainLoop(): Promise<void> {
    while (!this.closed) {
      const v = this.verdicts;
      this.verdicts = {};
      let batch: [string, unknown[]][];
      try {
        batch = await get(this.collector.drain.remote(v, 100));
      } catch (e) {
        if (this.closed) return;
        throw e;
      }
      this.handle(batch);
    }
  }

  private handle(batch: [string, unknown[]][]): void {
    const o = this.o;
    for (const [key, items] of batch) {
      const run = this.byKey.get(key);
      if (!run) continue;
      const t = run.trial;
      let tele: { names: readonly string[]; value: Record<string, unknown>[] } | undefined;
      for (const raw of items) {
        run.received++;
        const item = raw as { placed?: string[]; m: Record<string, unknown>; t: number; ts: number; c?: CheckpointPayload };
        if (item.placed) {
          t.placements.push({ nodes: item.placed, names: item.placed.map((n) => this.nodeName(n)) });
          continue;
        }
        if (run.stopReason) continue;
        t.iteration++;
        t.timeTotalS = item.t;
        const place = t.placements[t.placements.length - 1];
        if (place && tele?.names !== place.names) tele = { names: place.names, value: this.telemetry(place.nodes) };
        const result: Record<string, unknown> = {
          ...item.m,
          training_iteration: t.iteration,
          time_total_s: item.t,
          timestamp: item.ts,
          trial_id: t.trialId,
          ...(place ? { node: place.names[0], telemetry: tele!.value } : {}),
        };
        if (item.c) {
          const dir = `checkpoint_${String(t.iteration).padStart(6, '0')}`;
          writePayload(join(this.store.trialDir(t), dir), item.c);
          t.checkpoints.push({ iteration: t.iteration, dir });
          const keep = o.keepCheckpoints;
          while (keep !== undefined && t.checkpoints.length > keep) this.store.removeDir(join(this.store.trialDir(t), t.checkpoints.shift()!.dir));
        }
        this.store.addResult(t, result);
        t.lastResult = result;
        this.stats.results++;
        if (o.metric && !(o.metric in item.m)) {
          this.stopRun(run, 'metric', new MetricNotReportedError(o.metric, t.trialId, Object.keys(item.m)));
          continue;
        }
        o.searchAlg.onTrialResult?.(t.trialId, result);
        const decision: SchedulerDecision = o.scheduler.onTrialResult(t, result as TrialResult);
        if (this.stopCriteriaMet(t.trialId, result)) this.stopRun(run, 'criteria');
        else if (decision === 'stop') this.stopRun(run, 'scheduler');
        else if (decision === 'pause') this.stopRun(run, 'pause');
      }
      if (run.expected !== undefined && run.received >= run.expected) run.allReceived?.();
    }
    if (batch.length) {
      this.store.flushResults();
      this.saveState();
      this.table?.update(this.trials, o.metric);
    }
  }

  private stopCriteriaMet(trialId: string, result: Record<string, unknown>): boolean {
    const s = this.o.stop;
    if (!s) return false;
    if (typeof s === 'function') return s(trialId, result) === true;
    return Object.entries(s).some(([k, v]) => typeof result[k] === 'number' && (result[k] as number) >= v);
  }

  private nodeName(nodeId: string): string {
    const n = this.nodeInfo.get(nodeId);
    return n?.labels.device ?? nodeId.slice(0, 8);
  }

  private telemetry(nodeIds: readonly string[]): Record<string, unknown>[] {
    return nodeIds.map((id, bundle) => {
      const n = this.nodeInfo.get(id);
      return { bundle, nodeId: id, ...(n?.labels.device ? { device: n.labels.device } : {}), kind: n?.kind, ...(n?.telemetry ?? {}) };
    });
  }

  private async refreshNodes(): Promise<void> {
    for (const n of await nodes()) this.nodeInfo.set(n.nodeId, n);
  }

  private async pollNodes(): Promise<void> {
    while (!this.closed) {
      await new Promise((r) => setTimeout(r, 1000));
      if (this.closed) return;
      await this.refreshNodes().catch(() => undefined);
    }
  }

  private state(finished = false): ExperimentState {
    const o = this.o;
    return {
      version: STATE_VERSION,
      name: o.name,
      ...(o.metric ? { metric: o.metric } : {}),
      mode: o.mode,
      numSamples: o.numSamples,
      resourcesPerTrial: o.resourcesPerTrial as Record<string, number>[],
      startedAt: this.startedAt,
      elapsedS: this.elapsedBefore + (Date.now() - this.t0) / 1000,
      searchFinished: this.searchFinished,
      nextTrialIndex: this.nextIndex,
      experimentTag: this.tag,
      searcher: { ...specOf(o.searchAlg), state: o.searchAlg.save() },
      scheduler: { ...specOf(o.scheduler), state: o.scheduler.save() },
      paramSpace: JSON.parse(JSON.stringify(o.paramSpace)),
      trials: this.trials,
      finished,
    };
  }

  /** Puts the trial table on the dashboard (KV); one put in flight, failures only logged by the core. */
  private publish(): void {
    const finished = this.closed;
    if (this.publishing) {
      this.publishAgain = true;
      return;
    }
    this.publishing = kv
      .put(DASHBOARD_NAMESPACE, sectionKey(this.o.name), dashboardSection(this.o.name, this.root, this.trials, this.o.metric, finished))
      .catch(() => undefined)
      .then(() => {
        this.publishing = undefined;
        if (this.publishAgain) {
          this.publishAgain = false;
          this.publish();
        }
      });
  }

  /** Writes experiment_state.json at most every 500 ms (always when `now`). */
  private saveState(now = false): void {
    const since = Date.now() - this.lastSave;
    if (now || since >= 500) {
      if (this.saveTimer) clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
      this.lastSave = Date.now();
      this.store.writeState(this.state(now && this.closed));
      this.publish();
      return;
    }
    this.saveTimer ??= setTimeout(() => {
      this.saveTimer = undefined;
      if (!this.closed) this.saveState(true);
    }, 500 - since);
  }
}

