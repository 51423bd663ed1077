/**
 * The immutable, validated form of a workflow file that load.ts produces and the runner executes.
 */
import type { Reference } from './references.js';
import type { RetryPolicy } from '../run/retry-policy.js';

/** A webhook alert target. */
export interface AlertTarget {
  readonly webhook: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** `schedule:` compiled. Argo's names: `concurrencyPolicy` forbid (skip a run while one is running) or allow. */
export interface ScheduleSpec {
  readonly cron: string;
  readonly timezone?: string;
  /** @default 'forbid' */
  readonly concurrencyPolicy: 'forbid' | 'allow';
  /** Start the runs missed while no scheduler ran (since the last scheduled run). @default false */
  readonly catchUp: boolean;
  /** At most this many missed runs are caught up, the latest ones. @default 10 */
  readonly maxCatchUp: number;
}

/** One op of the workflow. */
export interface OpSpec {
  readonly name: string;
  /** The op type (`ray_job`, or a registered name). */
  readonly type: string;
  readonly description: string;
  readonly args: Readonly<Record<string, unknown>>;
  /** `upstream:` as written. */
  readonly upstream: readonly string[];
  /** Every op this one waits for: those its args reference, then `upstream`. */
  readonly dependsOn: readonly string[];
  readonly references: readonly Reference[];
  readonly retry: RetryPolicy;
  readonly timeoutS?: number;
  /** Runs once its dependencies have ended, even when they (or the run) failed or were cancelled. */
  readonly always: boolean;
}

/** A loaded workflow. Frozen all the way down. */
export interface WorkflowDefinition {
  readonly name: string;
  readonly description: string;
  /** Absolute path of the file. */
  readonly file: string;
  readonly dir: string;
  /** sha256 of the file's bytes, hex. */
  readonly fileHash: string;
  readonly schedule?: ScheduleSpec;
  /** Absolute paths of the modules under `imports:`. */
  readonly imports: readonly string[];
  readonly alerts: { readonly onFailure?: AlertTarget; readonly onSuccess?: AlertTarget };
  /** The ops in file order. */
  readonly ops: Readonly<Record<string, OpSpec>>;
  /** A topological order of the op names. */
  readonly order: readonly string[];
}
