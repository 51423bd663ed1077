/**
 * The result collector: one actor per experiment (0 CPUs, placed on the head node) that trials report
 * to and the driver drains. A trial's `ctx.report` sends its reports in batches with one call in flight;
 * the reply carries the latest verdict the driver decided for that trial ('continue' | 'stop' | 'pause'),
 * which the trial applies at that report. The driver long-polls `drain`, handing over the verdicts it
 * decided since the last call. Self-contained (shipped as source), async methods interleave.
 */
export class TuneCollector {
  queue: [string, unknown[]][] = [];
  verdicts: Record<string, string> = {};
  waiter: (() => void) | null = null;

  /** A batch of reports from trial `trialId`; returns the verdict to apply. */
  report(trialId: string, batch: unknown[]): string {
    this.queue.push([trialId, batch]);
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w();
    }
    return this.verdicts[trialId] ?? 'continue';
  }

  /** Takes the driver's new verdicts; returns what was reported, waiting up to `waitMs` for something. */
  async drain(verdicts: Record<string, string>, waitMs: number): Promise<[string, unknown[]][]> {
    Object.assign(this.verdicts, verdicts);
    if (this.queue.length === 0 && waitMs > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.waiter = null;
          resolve();
        }, waitMs);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    const out = this.queue;
    this.queue = [];
    return out;
  }
}
