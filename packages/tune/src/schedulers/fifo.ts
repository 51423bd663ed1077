/** FIFOScheduler: runs every trial to completion (the default). */
import type { SchedulerDecision, TrialScheduler } from './scheduler.js';

/** Never stops a trial early. */
export class FIFOScheduler implements TrialScheduler {
  setup(): void {}
  onTrialAdd(): void {}
  onTrialResult(): SchedulerDecision {
    return 'continue';
  }
  onTrialComplete(): void {}
  save(): unknown {
    return {};
  }
  restore(): void {}
}
