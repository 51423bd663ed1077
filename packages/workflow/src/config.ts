/**
 * Where the workflow library keeps its state: `RAYTS_WORKFLOW_HOME`, else `~/.rayts/workflows`.
 *
 * ```
 * <home>/runs/index.jsonl             one line per run: { runId, workflow, file, t }
 * <home>/runs/<runId>/events.jsonl    the run's append-only journal (run/status.ts RunEvent)
 * <home>/runs/<runId>/logs/<op>.log   each op's log lines
 * <home>/runs/<runId>/cancel          created by `rayts workflow cancel`; the running process stops the run
 * <home>/clusters/<host_port>.json    clusters started by ray_cluster_start and not yet stopped
 * <home>/schedules/<name>-<hash>.jsonl a scheduler's journal (fired, skipped, caught up)
 * ```
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** The state directory: `home` if given, else RAYTS_WORKFLOW_HOME, else ~/.rayts/workflows. */
export function workflowHome(home?: string): string {
  return resolve(home ?? (process.env.RAYTS_WORKFLOW_HOME || join(homedir(), '.rayts', 'workflows')));
}
