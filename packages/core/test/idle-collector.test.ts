/**
 * The idle-collection policy of worker and actor threads (worker/idle-collector.ts), on a fake clock:
 * an idle thread holding refs collects; a busy one does not; calls that leave nothing new to find do
 * not restart the waits; a thread without refs never arms a timer.
 */
import { describe, expect, it } from 'vitest';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { FORCED_GC_MAX_SHARE, IdleCollector, IDLE_COLLECT_MAX_MS, IDLE_COLLECT_MS } from '../src/worker/idle-collector.js';

/** A fake thread: a clock, one-shot timers, a busy share, and a heap whose collection takes `gcMs`. */
function fakeThread(o: { liveRefs?: number; busy?: number; gcMs?: number } = {}) {
  let now = 0;
  let active = 0;
  const t = { liveRefs: o.liveRefs ?? 1, busy: o.busy ?? 0, gcMs: o.gcMs ?? 1, timers: [] as { at: number; fn: () => void; ms: number }[] };
  const utilization = (since?: EventLoopUtilization): EventLoopUtilization => {
    const cur = { idle: now - active, active, utilization: 0 };
    if (!since) return cur;
    const da = active - since.active;
    const dt = now - (since.idle + since.active);
    return { idle: dt - da, active: da, utilization: dt > 0 ? da / dt : 0 };
  };
  const collector = new IdleCollector({
    liveRefs: () => t.liveRefs,
    collect: () => {
      now += t.gcMs;
      active += t.gcMs;
    },
    utilization,
    setTimer: (fn, ms) => {
      const timer = { at: now + ms, fn, ms };
      t.timers.push(timer);
      return { refresh: () => (timer.at = now + timer.ms), timer };
    },
    clearTimer: (h) => {
      t.timers = t.timers.filter((x) => x !== (h as unknown as { timer: unknown }).timer);
    },
    now: () => now,
  });
  /** Lets `ms` pass, the thread busy for `busy` of it, firing due timers in order. */
  const advance = (ms: number) => {
    const end = now + ms;
    for (;;) {
      t.timers.sort((a, b) => a.at - b.at);
      const next = t.timers[0];
      if (!next || next.at > end) break;
      t.timers.shift();
      active += (next.at - now) * t.busy;
      now = next.at;
      next.fn();
    }
    active += (end - now) * t.busy;
    now = end;
  };
  return { t, collector, advance };
}

describe('idle collection of worker threads', () => {
  it('an idle thread holding refs collects after the first wait, then at doubling waits until the last', () => {
    const { collector, advance, t } = fakeThread();
    collector.afterCall();
    advance(IDLE_COLLECT_MS - 1);
    expect(collector.collections).toBe(0);
    advance(1);
    expect(collector.collections).toBe(1);
    advance(10_000);
    // 50, 100, 200, 400, 800, 1600, 3200 ms
    expect(collector.collections).toBe(Math.log2(IDLE_COLLECT_MAX_MS / IDLE_COLLECT_MS) + 1);
    expect(t.timers).toHaveLength(0);
  });

  it('a busy thread (utilization above the idle mark) is not collected, and is once it rests', () => {
    const { collector, advance, t } = fakeThread({ busy: 0.3 });
    collector.afterCall();
    advance(1_000);
    expect(collector.collections).toBe(0);
    t.busy = 0;
    advance(10_000);
    expect(collector.collections).toBeGreaterThan(0);
  });

  it('calls after which the thread holds only the refs it kept through a collection do not restart the waits', () => {
    const { collector, advance, t } = fakeThread({ liveRefs: 3 });
    collector.afterCall();
    advance(10_000);
    const done = collector.collections;
    expect(done).toBeGreaterThan(0);
    collector.refCollected();
    // An actor keeping its 3 refs, called every second (a health check): no new collections.
    for (let i = 0; i < 10; i++) {
      collector.afterCall();
      advance(1_000);
    }
    expect(collector.collections).toBe(done);
    // A call that leaves a new ref behind starts the waits again.
    t.liveRefs = 4;
    collector.afterCall();
    advance(IDLE_COLLECT_MS);
    expect(collector.collections).toBe(done + 1);
  });

  it('forced collections stay within their share of the thread: a thread called every second that leaves new refs behind collects every few seconds, never dropping one', () => {
    const gcMs = 30;
    const { collector, advance, t } = fakeThread({ liveRefs: 1, gcMs });
    const gap = gcMs / FORCED_GC_MAX_SHARE;
    for (let i = 0; i < 30; i++) {
      // Each call leaves one more short-lived ref (a health check's reply), dropped before the next.
      t.liveRefs++;
      collector.afterCall();
      advance(1_000);
    }
    // Without the budget: one collection per call (30). With it: at most one per `gap` ms of time.
    expect(collector.collections).toBeGreaterThan(1);
    expect(collector.collections).toBeLessThanOrEqual(Math.ceil(30_000 / gap) + 1);
    // Deferred, not dropped: the last call's new ref is still looked for within one gap.
    const last = collector.collections;
    t.liveRefs++;
    collector.afterCall();
    advance(gap + IDLE_COLLECT_MS + gcMs);
    expect(collector.collections).toBe(last + 1);
  });

  it('a thread without live refs arms nothing', () => {
    const { collector, advance, t } = fakeThread({ liveRefs: 0 });
    collector.afterCall();
    expect(t.timers).toHaveLength(0);
    advance(5_000);
    expect(collector.collections).toBe(0);
  });
});
