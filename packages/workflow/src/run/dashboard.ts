/**
 * The run summary the dashboard shows, in the format of the dashboard's library sections
 * (`{ title, note, columns, rows }`), which the runner puts in the KV of the clusters a run targets
 * under namespace `dashboard`, key `section/workflow/<runId>` (dashboard-publisher.ts), and stores as
 * `<home>/runs/<runId>/dashboard.json`.
 */
import type { RunRecord } from './status.js';

/** KV namespace and key of a run's section. */
export const DASHBOARD_NAMESPACE = 'dashboard';
export const dashboardKey = (runId: string) => `section/workflow/${runId}`;

export interface DashboardSection {
  readonly title: string;
  readonly note: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly (string | number | boolean | null)[])[];
}

/** The section of a run: one row per op (status, attempts, seconds, error). */
export function dashboardSection(r: RunRecord): DashboardSection {
  const secs = (a?: number, b?: number) => (a && b ? Math.round((b - a) / 100) / 10 : null);
  return {
    title: `Workflow ${r.workflow} — run ${r.runId}: ${r.status}`,
    note: [
      `started ${r.startedAt ? new Date(r.startedAt).toISOString() : '-'}`,
      r.endedAt ? `ended ${new Date(r.endedAt).toISOString()}` : 'running',
      `trigger ${r.trigger}, run date ${r.runDate}`,
      r.git ? `git ${r.git.commit.slice(0, 12)}${r.git.dirty ? ' (dirty)' : ''}` : 'not in git',
    ].join(' · '),
    columns: ['op', 'type', 'status', 'attempts', 'seconds', 'error'],
    rows: Object.values(r.ops).map((o) => [o.name, o.type, o.status, o.attempts, secs(o.startedAt, o.endedAt), o.error?.message.split('\n')[0] ?? o.skipReason ?? null]),
  };
}
