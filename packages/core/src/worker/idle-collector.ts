/**
 * IdleCollector: when a worker or actor thread that holds ObjectRefs goes idle, collect garbage, so
 * that the refs its code dropped are finalized, reported to the node and their objects freed (a thread
 * with nothing to do allocates nothing, so V8 would not collect on its own for a long time).
 *
 * A forced collection is a full mark-compact of the thread's heap: 15–50 ms for a 15 MB heap on a slow
 * 2-core VM, on the thread's own time. So it runs only when it is cheap to the thread:
 *   - only after the thread was idle for the whole wait (event-loop utilization at most
 *     {@link IDLE_MAX_UTILIZATION}); a busy thread (a Serve replica answering requests over its own
 *     sockets, where the core sees no calls) allocates and collects by itself;
 *   - a call after which the thread holds no more refs than it kept through the last collection does
 *     not restart the waits (a Serve replica keeps a few refs for good and is health-checked every
 *     second: it would collect several times a second for nothing);
 *   - armed by the end of a call or task ({@link afterCall}), retried at doubling waits (50 ms … 3.2 s)
 *     while refs stay live; the finalizers a collection runs do not re-arm it (before, their report
 *     reset the wait to 50 ms, so a thread holding a long-lived ref collected about every 120 ms);
 *   - forced collections take at most {@link FORCED_GC_MAX_SHARE} of the thread's time: after one that
 *     took D ms the next waits at least D / share, at most the longest retry wait (deferred, never
 *     dropped, so a dropped ref is still reported within seconds). A thread called every second whose
 *     calls leave short-lived refs behind (Serve's controller after each health check) collected every
 *     second, 20–50 ms each, on a 2-core VM where V8's parallel marking also took the other core from
 *     the proxy's requests.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/** Idle time after which a thread holding refs collects garbage (then at doubling intervals up to the max). */
export const IDLE_COLLECT_MS = 50;
export const IDLE_COLLECT_MAX_MS = 3_200;
/** Event-loop utilization over the wait above which the thread does not count as idle. */
export const IDLE_MAX_UTILIZATION = 0.05;
/** Share of a thread's time its forced collections may take (see the class comment). */
export const FORCED_GC_MAX_SHARE = 0.01;

/** What the collector needs from its thread (injectable for tests of the policy). */
export interface CollectorHooks {
  /** How many ObjectRef instances of this thread are not collected yet. */
  liveRefs(): number;
  /** Runs a full collection. */
  collect(): void;
  /** Event-loop utilization since `since` (as perf_hooks' eventLoopUtilization). */
  utilization?: (since?: EventLoopUtilization) => EventLoopUtilization;
  setTimer?: (fn: () => void, ms: number) => CollectorTimer;
  clearTimer?: (t: CollectorTimer) => void;
  /** A monotonic clock in ms (as performance.now). */
  now?: () => number;
}

/** A one-shot timer as setTimeout returns it. */
export interface CollectorTimer {
  refresh(): unknown;
  unref?(): unknown;
}

export class IdleCollector {
  private timer: CollectorTimer | undefined;
  /** The wait the armed timer was set for. */
  private timerMs = 0;
  private delay = IDLE_COLLECT_MS;
  private since: EventLoopUtilization | undefined;
  /** Live refs right after the last collection (Infinity until one ran since refs were added). */
  private liveAfterCollect = Infinity;
  /** Forced collections run so far (for tests and diagnostics). */
  collections = 0;
  /** No forced collection before this time (the share budget, see FORCED_GC_MAX_SHARE). */
  private notBefore = 0;
  private readonly now: () => number;
  private readonly utilization: (since?: EventLoopUtilization) => EventLoopUtilization;
  private readonly setTimer: NonNullable<CollectorHooks['setTimer']>;
  private readonly clearTimer: NonNullable<CollectorHooks['clearTimer']>;

  constructor(private readonly hooks: CollectorHooks) {
    this.utilization = hooks.utilization ?? ((s) => performance.eventLoopUtilization(s));
    this.setTimer = hooks.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = hooks.clearTimer ?? ((t) => clearTimeout(t as NodeJS.Timeout));
    this.now = hooks.now ?? (() => performance.now());
  }

  /**
   * A call or task ended on this thread: collect once it has been idle for a moment (if it holds refs).
   * A call after which the thread holds no more refs than after the last collection (an actor keeping
   * the same refs in its state, called again and again) does not restart the waits: there is nothing
   * new to find, and a thread called every second would otherwise collect several times a second.
   */
  afterCall(): void {
    const live = this.hooks.liveRefs();
    if (live <= 0) return;
    if (live <= this.liveAfterCollect) {
      if (!this.timer && this.delay <= IDLE_COLLECT_MAX_MS) this.arm(this.delay);
      return;
    }
    this.liveAfterCollect = Infinity;
    this.delay = IDLE_COLLECT_MS;
    this.since = this.utilization();
    // The common case (calls in a row) only restarts the timer: no new one per call.
    if (this.timer && this.timerMs === this.delay) this.timer.refresh();
    else this.arm(this.delay);
  }

  /** A ref of this thread was finalized (after a collection): what it still holds is what it keeps. */
  refCollected(): void {
    this.liveAfterCollect = Math.min(this.liveAfterCollect, this.hooks.liveRefs());
  }

  private arm(ms: number): void {
    if (this.timer) this.clearTimer(this.timer);
    this.since ??= this.utilization();
    this.timerMs = ms;
    this.timer = this.setTimer(() => this.fire(), ms);
    this.timer.unref?.();
  }

  private fire(): void {
    this.timer = undefined;
    if (this.hooks.liveRefs() <= 0) return;
    const start = this.now();
    if (start < this.notBefore) {
      // Over the budget: the same attempt, later (the waits do not double meanwhile).
      this.arm(this.notBefore - start);
      return;
    }
    if (this.utilization(this.since).utilization <= IDLE_MAX_UTILIZATION) {
      this.hooks.collect();
      this.collections++;
      const end = this.now();
      this.notBefore = end + Math.min(IDLE_COLLECT_MAX_MS, (end - start) / FORCED_GC_MAX_SHARE);
    }
    // Still holding refs: maybe kept on purpose (actor state), maybe reachable a little longer (a
    // pending reply). Try a few more times, further apart, until the next call ends.
    this.liveAfterCollect = Math.min(this.liveAfterCollect, this.hooks.liveRefs());
    this.delay *= 2;
    this.since = this.utilization();
    if (this.delay <= IDLE_COLLECT_MAX_MS) this.arm(this.delay);
  }
}
