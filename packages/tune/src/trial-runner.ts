/**
 * The worker side of a trial: builds the trainable's `ctx` and runs it. It runs inside the trial's task
 * on bundle 0 of the trial's placement group (the Tuner ships a small self-contained wrapper that
 * imports this package and calls {@link runTrial}). Reports are batched to the collector with one call
 * in flight; the verdict of each reply is applied at the next `ctx.report` (stop/pause end the
 * trainable by throwing a private signal that {@link runTrial} catches). Errors of the trainable are
 * returned, not thrown, after every report has been delivered, so the driver sees them in order.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PlacementGroup, get, loadCallable, remote, runtimeContext, type ActorHandle, type CallableRef, type ResourceMap } from '@samsara/ray';
import { directoryCheckpoint, fromPayload, toPayload, type CheckpointPayload, type DirectoryCheckpoint } from './checkpoint.js';
import type { TuneCollector } from './collector.js';

/** What the driver sends with a trial's task. */
export interface TrialInit {
  readonly trialId: string;
  /** Key of this run at the collector (a restarted trial is a new run). */
  readonly runKey: string;
  readonly collector: ActorHandle<TuneCollector>;
  readonly pg: { id: string; bundles: ResourceMap[]; strategy: string; name: string };
  readonly checkpoint?: CheckpointPayload;
  /** Iterations done before this run (restored trials continue counting). */
  readonly iteration: number;
  /** Seconds of training before this run. */
  readonly timeOffsetS: number;
}

/** Options for running a task or actor in one of the trial's bundles (spread into `.options()`). */
export interface BundleOptions {
  readonly placementGroup: PlacementGroup;
  readonly bundleIndex: number;
  readonly numCpus: number;
  readonly numGpus?: number;
  readonly memory?: number;
  readonly resources?: ResourceMap;
}

/** What a trainable gets as its second argument. */
export interface TrialContext {
  readonly trialId: string;
  /** The checkpoint this run restores from (JSON value, Uint8Array or `{ directory }`), or undefined. */
  readonly checkpoint: unknown;
  /** Iterations reported so far (including before a restore). */
  readonly iteration: number;
  /**
   * Reports metrics (and optionally a checkpoint). Resolves at once unless a batch is already in flight
   * and 1,000 reports are waiting (or this report carries a checkpoint); when the driver decided to stop or pause the trial, throws a signal
   * that ends the trainable (do not catch it, or rethrow it).
   */
  report(metrics: Record<string, unknown>, opts?: { checkpoint?: unknown }): Promise<void>;
  /** Options that run a task or actor in bundle `i` of the trial's placement group, holding that whole bundle. */
  bundle(i: number): BundleOptions;
  /** Marks a directory as a checkpoint for `report({ checkpoint })`. */
  directoryCheckpoint(path: string): DirectoryCheckpoint;
}

/** How a run ended, as returned to the driver. */
export interface TrialRunOutcome {
  readonly reports: number;
  readonly ended: 'done' | 'stopped';
  readonly error?: { name: string; message: string; stack: string };
}

/** Reports batched into one collector call at most; past it `report` waits for the call in flight. */
const MAX_BATCH = 1000;

const STOP = Symbol.for('@samsara/ray-tune.stop');

class TrialStopSignal extends Error {
  readonly [STOP] = true;
  constructor(readonly verdict: string) {
    super(`Tune ${verdict} this trial (ctx.report signals it; let it propagate).`);
  }
}

const whereAmI = remote(() => runtimeContext().nodeId);

type TrainableFn = (config: Record<string, unknown>, ctx: TrialContext) => unknown;

/**
 * Runs `trainable(config, ctx)` for one trial. Called on the worker by the trial's task, with the
 * trainable as the Tuner captured it (a CallableRef, rebuilt here with its imports) or a function.
 */
export async function runTrial(
  trainable: TrainableFn | CallableRef,
  config: Record<string, unknown>,
  init: TrialInit,
): Promise<TrialRunOutcome> {
  const pg = new PlacementGroup(init.pg.id, init.pg.bundles, init.pg.strategy as never, init.pg.name, () => Promise.resolve());
  const started = Date.now();
  let iteration = init.iteration;
  let sent = 0;
  let buffer: unknown[] = [];
  let inflight: Promise<void> | undefined;
  let verdict = 'continue';
  let sendError: unknown;

  const flush = (): Promise<void> => {
    if (inflight || buffer.length === 0) return inflight ?? Promise.resolve();
    const batch = buffer;
    buffer = [];
    sent += batch.length;
    inflight = get(init.collector.report.remote(init.runKey, batch)).then(
      (v) => {
        verdict = v as string;
        inflight = undefined;
        if (buffer.length) void flush();
      },
      (e) => {
        sendError = e;
        inflight = undefined;
      },
    );
    return inflight;
  };

  const bundle = (i: number): BundleOptions => {
    if (!Number.isInteger(i) || i < 0 || i >= init.pg.bundles.length) {
      throw new RangeError(`ctx.bundle(${String(i)}): trial ${init.trialId} has bundles 0..${init.pg.bundles.length - 1} (resourcesPerTrial).`);
    }
    const { CPU, GPU, memory, ...custom } = init.pg.bundles[i];
    return {
      placementGroup: pg,
      bundleIndex: i,
      numCpus: CPU ?? 0,
      ...(GPU ? { numGpus: GPU } : {}),
      ...(memory ? { memory } : {}),
      ...(Object.keys(custom).length ? { resources: custom } : {}),
    };
  };

  // where each bundle landed (for the table and telemetry); bundle 0 is here
  const nodes: string[] = [runtimeContext().nodeId];
  for (let i = 1; i < init.pg.bundles.length; i++) {
    nodes.push(await get(whereAmI.options({ placementGroup: pg, bundleIndex: i, numCpus: 0, maxRetries: 0 }).remote()));
  }
  buffer.push({ placed: nodes });

  const ctx: TrialContext = {
    trialId: init.trialId,
    checkpoint: init.checkpoint ? fromPayload(init.checkpoint, () => mkdtempSync(join(tmpdir(), `rayts-tune-${init.trialId}-`))) : undefined,
    get iteration() {
      return iteration;
    },
    async report(metrics, opts) {
      if (sendError) throw sendError;
      if (verdict !== 'continue') throw new TrialStopSignal(verdict);
      if (typeof metrics !== 'object' || metrics === null) throw new TypeError(`ctx.report() takes an object of metrics, got ${String(metrics)}.`);
      iteration++;
      const item: Record<string, unknown> = { m: metrics, t: init.timeOffsetS + (Date.now() - started) / 1000, ts: Date.now() };
      if (opts?.checkpoint !== undefined) item.c = toPayload(opts.checkpoint);
      buffer.push(item);
      if (!inflight) void flush();
      else if (buffer.length >= MAX_BATCH || item.c) await inflight;
      if (sendError) throw sendError;
      if (verdict !== 'continue') throw new TrialStopSignal(verdict);
    },
    bundle,
    directoryCheckpoint,
  };

  let error: TrialRunOutcome['error'];
  let ended: TrialRunOutcome['ended'] = 'done';
  try {
    const fn = typeof trainable === 'function' ? trainable : await loadCallable<TrainableFn>(trainable);
    await fn(config, ctx);
  } catch (e) {
    if (e && typeof e === 'object' && (e as Record<symbol, unknown>)[STOP] === true) ended = 'stopped';
    else {
      const err = e instanceof Error ? e : new Error(String(e));
      error = { name: err.name, message: err.message, stack: err.stack ?? `${err.name}: ${err.message}` };
    }
  }
  while (inflight || buffer.length) {
    if (sendError) throw sendError;
    await (inflight ?? flush());
  }
  if (sendError) throw sendError;
  return { reports: sent, ended, ...(error ? { error } : {}) };
}
