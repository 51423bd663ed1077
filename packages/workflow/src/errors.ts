/**
 * Errors of the workflow library. All are {@link RayError}s from `@samsara/ray` with a stable `code`:
 *
 * - `WORKFLOW_INVALID` ({@link WorkflowDefinitionError}): the file is wrong. Every issue carries its path
 *   in the document (`ops.train.op`), line and column.
 * - `WORKFLOW_OP_FAILED` ({@link OpExecutionError}): an op threw, timed out or was cancelled; the user's
 *   error is `cause`, with the op name and the attempt.
 * - `WORKFLOW_RUN_FAILED` ({@link WorkflowRunError}): what `runWorkflow` rejects with; `cause` is the first
 *   op's error and `run` the run's record.
 * - `WORKFLOW_NOT_FOUND` ({@link WorkflowNotFoundError}): no run with that id in the store.
 *
 * The core's `RayErrorCode` union lists the core's codes; these extend it (the cast below), as the
 * other libraries do.
 */
import { RayError, type RayErrorCode } from '@samsara/ray';
import type { RunRecord } from './run/status.js';

/** The codes this package adds to the core's. */
export type WorkflowErrorCode = 'WORKFLOW_INVALID' | 'WORKFLOW_OP_FAILED' | 'WORKFLOW_RUN_FAILED' | 'WORKFLOW_NOT_FOUND';

const code = (c: WorkflowErrorCode): RayErrorCode => c as unknown as RayErrorCode;

/** One problem in a workflow file: where it is and what is wrong. */
export interface DefinitionIssue {
  /** Dotted path in the document, e.g. `ops.train.args.data` ('' for the document itself). */
  readonly path: string;
  /** 1-based line and column of the YAML node (0 when the issue is not tied to a node). */
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

/** The workflow file is invalid. `issues` lists every problem found; the message shows them all. */
export class WorkflowDefinitionError extends RayError {
  override readonly code = code('WORKFLOW_INVALID');
  readonly file: string;
  readonly issues: readonly DefinitionIssue[];
  constructor(file: string, issues: readonly DefinitionIssue[], options: { cause?: unknown } = {}) {
    const where = (i: DefinitionIssue) => `${file}${i.line ? `:${i.line}:${i.column}` : ''}`;
    const lines = issues.map((i) => `  ${where(i)} ${i.path ? `${i.path}: ` : ''}${i.message}`);
    super(`Workflow ${file} is invalid (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}\n`, {
      cause: options.cause,
      hint: 'Fix the file and run `rayts workflow validate FILE` again.',
      ids: { file },
    });
    this.file = file;
    this.issues = Object.freeze([...issues]);
  }
}

/** An op failed: `cause` is what it threw (or a timeout/cancel error), with the op name and attempt. */
export class OpExecutionError extends RayError {
  override readonly code = code('WORKFLOW_OP_FAILED');
  readonly opName: string;
  readonly attempt: number;
  readonly runId: string;
  /** Why: the op threw (`error`), ran past `timeoutS` (`timeout`) or the run was cancelled (`cancelled`). */
  readonly reason: 'error' | 'timeout' | 'cancelled';
  constructor(opName: string, attempt: number, runId: string, reason: 'error' | 'timeout' | 'cancelled', cause: unknown, detail?: string) {
    const what = detail ?? (cause instanceof Error ? cause.message : String(cause));
    super(`Op ${opName} (run ${runId}, attempt ${attempt}) ${reason === 'timeout' ? 'timed out' : reason === 'cancelled' ? 'was cancelled' : 'failed'}: ${what}`, {
      cause,
      ids: { runId, op: opName, attempt: String(attempt) },
    });
    this.opName = opName;
    this.attempt = attempt;
    this.runId = runId;
    this.reason = reason;
  }
}

/** A run did not succeed. `cause` is the first failed op's {@link OpExecutionError}; `run` the record. */
export class WorkflowRunError extends RayError {
  override readonly code = code('WORKFLOW_RUN_FAILED');
  readonly run: RunRecord;
  /** The run's id and final status (`failure` or `canceled`), as in `run`. */
  readonly runId: string;
  readonly status: RunRecord['status'];
  constructor(run: RunRecord, cause: unknown) {
    super(`Workflow ${run.workflow} run ${run.runId} ended ${run.status}${cause instanceof Error ? `: ${cause.message}` : '.'}`, {
      cause,
      hint: `See \`rayts workflow show ${run.runId}\` for every op's status and logs.`,
      ids: { runId: run.runId, workflow: run.workflow },
    });
    this.run = run;
    this.runId = run.runId;
    this.status = run.status;
  }
}

/** No run with this id in the store. */
export class WorkflowNotFoundError extends RayError {
  override readonly code = code('WORKFLOW_NOT_FOUND');
  constructor(runId: string, home: string) {
    super(`No workflow run ${JSON.stringify(runId)} in ${home}.`, {
      hint: 'List runs with `rayts workflow history FILE`; set RAYTS_WORKFLOW_HOME if the runs were stored elsewhere.',
      ids: { runId },
    });
  }
}
