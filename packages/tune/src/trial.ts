/**
 * A trial's record as the driver keeps it and `experiment_state.json` stores it.
 *
 * Status transitions: PENDING → RUNNING → TERMINATED (finished, stopped by the scheduler, a stop
 * criterion or the time budget) | ERROR (failed more than maxFailures) | PAUSED (PBT) → PENDING;
 * RUNNING → PENDING when it fails and may restart from its last checkpoint (its placement group is
 * rebuilt, possibly on another node or camera).
 */
export type TrialStatus = 'PENDING' | 'RUNNING' | 'PAUSED' | 'TERMINATED' | 'ERROR';

/** One placement of a trial: where its bundles landed. */
export interface TrialPlacement {
  readonly nodes: readonly string[];
  /** Short names (a node's `device` label when it has one, else its id's first 8 characters). */
  readonly names: readonly string[];
}

export interface TrialRecord {
  readonly trialId: string;
  config: Record<string, unknown>;
  status: TrialStatus;
  /** Results reported so far. */
  iteration: number;
  timeTotalS: number;
  numFailures: number;
  lastResult?: Record<string, unknown>;
  /** Checkpoint directories (relative to the trial dir) with their iteration, oldest first. */
  checkpoints: { iteration: number; dir: string }[];
  /** Checkpoint directory (absolute) the next run restores from. */
  restoreFrom?: string;
  error?: { message: string; stack: string; code?: string };
  placements: TrialPlacement[];
  /** Directory name under the experiment: `trial_<trialId>`. */
  readonly dir: string;
  /** How the current/last run was ended by Tune, if it was. */
  endReason?: string;
}

export function newTrial(trialId: string, config: Record<string, unknown>): TrialRecord {
  return { trialId, config, status: 'PENDING', iteration: 0, timeTotalS: 0, numFailures: 0, checkpoints: [], placements: [], dir: `trial_${trialId}` };
}
