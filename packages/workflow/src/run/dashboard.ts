/**
 * The run summary the dashboard shows. DESIGN.md says the head's dashboard lists workflow runs and
 * libraries publish page sections through the cluster KV (`kv.put(namespace, key, value)`); that call
 * is not in `@samsara/ray` yet, so {@link dashboardSection} builds the JSON and the runner stores it as
 * `<home>/runs/<runId>/dashboard.json`. When `kv` lands, the runner puts the same JSON under namespace
 * `workflow`, key `run/<runId>`, on every cluster the run used (docs/workflow.md, "Dashboard").
 */
import type { RunRecord } from './status.js';

export interface DashboardSection {
  readonly title: string;
  readonly runId: string;
  readonly workflow: string;
  readonly status: string;
  readonly startedAt?: number;
  readonly endedAt?: number;
  readonly git: RunRecord['git'];
  readonly ops: readonly { name: string; type: string; status: string; attempts: number; durationMs?: number }[];
}

export function dashboardSection(r: RunRecord): DashboardSection {
  return {
    title: `Workflow ${r.workflow} — run ${r.runId}`,
    runId: r.runId,
    workflow: r.workflow,
    status: r.status,
    ...(r.startedAt ? { startedAt: r.startedAt } : {}),
    ...(r.endedAt ? { endedAt: r.endedAt } : {}),
    git: r.git,
    ops: Object.values(r.ops).map((o) => ({
      name: o.name,
      type: o.type,
      status: o.status,
      attempts: o.attempts,
      ...(o.startedAt && o.endedAt ? { durationMs: o.endedAt - o.startedAt } : {}),
    })),
  };
}
