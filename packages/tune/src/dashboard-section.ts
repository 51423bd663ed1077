/**
 * The experiment's section on the cluster dashboard: the trial table written to the cluster KV under
 * namespace `dashboard`, key `section/tune/<experiment name>` (the dashboard's documented way for
 * libraries to publish a section: `{ title, note, columns, rows }`, cells shown as text).
 */
import type { TrialRecord } from './trial.js';

export const DASHBOARD_NAMESPACE = 'dashboard';

export function sectionKey(name: string): string {
  return `section/tune/${name}`;
}

/** The section JSON for the current trials. */
export function dashboardSection(name: string, root: string, trials: readonly TrialRecord[], metric: string | undefined, finished: boolean): string {
  const counts = new Map<string, number>();
  for (const t of trials) counts.set(t.status, (counts.get(t.status) ?? 0) + 1);
  const cam = (t: TrialRecord) => {
    const p = t.placements[t.placements.length - 1];
    return p ? p.names.join('/') : null;
  };
  return JSON.stringify({
    title: `Tune experiment ${name}`,
    note: `${finished ? 'finished' : 'running'} · ${trials.length} trials (${[...counts].map(([s, n]) => `${n} ${s}`).join(', ')}) · ${root}`,
    columns: ['trial', 'status', 'config', 'iterations', metric ?? 'metric', 'node/camera', 'failures'],
    rows: trials.slice(0, 1000).map((t) => [
      t.trialId,
      t.status,
      JSON.stringify(t.config),
      t.iteration,
      metric && t.lastResult && typeof t.lastResult[metric] === 'number' ? (t.lastResult[metric] as number) : null,
      cam(t),
      t.numFailures,
    ]),
  });
}
