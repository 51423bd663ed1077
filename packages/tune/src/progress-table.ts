/**
 * The trial table: on a TTY it is redrawn in place while `fit()` runs; `grid.toTable()` and
 * `rayts tune show` print it once. Columns: trial, status, the sampled config, iterations, the metric's
 * last value, and where the trial ran (bundle 0's node / the other bundles' nodes, e.g. the camera).
 */
import type { TrialRecord } from './trial.js';

function fmt(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : Math.abs(v) >= 1e-3 && Math.abs(v) < 1e5 ? v.toFixed(4) : v.toExponential(3);
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

function flatConfig(c: Record<string, unknown>, prefix = ''): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const [k, v] of Object.entries(c)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) out.push(...flatConfig(v as Record<string, unknown>, `${prefix}${k}.`));
    else out.push([prefix + k, v]);
  }
  return out;
}

/** The table as text (no colours). */
export function formatTable(trials: readonly TrialRecord[], metric?: string, opts: { maxRows?: number } = {}): string {
  const keys = new Set<string>();
  for (const t of trials) for (const [k] of flatConfig(t.config)) keys.add(k);
  // only the keys that vary between trials (constants are noise)
  const varying = [...keys].filter((k) => new Set(trials.map((t) => JSON.stringify(Object.fromEntries(flatConfig(t.config))[k]))).size > 1 || trials.length === 1);
  const header = ['trial', 'status', ...varying, 'iter', ...(metric ? [metric] : []), 'node/camera'];
  const rows = trials.slice(0, opts.maxRows ?? trials.length).map((t) => {
    const c = Object.fromEntries(flatConfig(t.config));
    const place = t.placements[t.placements.length - 1];
    return [
      t.trialId,
      t.status + (t.numFailures ? ` (${t.numFailures} fail)` : ''),
      ...varying.map((k) => fmt(c[k])),
      String(t.iteration),
      ...(metric ? [t.lastResult && metric in t.lastResult ? fmt(t.lastResult[metric]) : '-'] : []),
      place ? place.names.join('/') + (t.placements.length > 1 ? ` (${t.placements.length} placements)` : '') : '-',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  const counts = new Map<string, number>();
  for (const t of trials) counts.set(t.status, (counts.get(t.status) ?? 0) + 1);
  const summary = `${trials.length} trials: ${[...counts].map(([s, n]) => `${n} ${s}`).join(', ')}`;
  const more = trials.length > rows.length ? `\n… ${trials.length - rows.length} more` : '';
  return [summary, line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + more;
}

/** Redraws the table in place on a TTY stream, at most once per `intervalMs`. */
export class LiveTable {
  private lines = 0;
  private last = 0;

  constructor(private readonly out: NodeJS.WriteStream, private readonly intervalMs = 1000) {}

  update(trials: readonly TrialRecord[], metric: string | undefined, force = false): void {
    const now = Date.now();
    if (!force && now - this.last < this.intervalMs) return;
    this.last = now;
    const rows = Math.max(5, (this.out.rows ?? 40) - 6);
    const text = formatTable(trials, metric, { maxRows: rows });
    const up = this.lines ? `\x1b[${this.lines}A\x1b[J` : '';
    this.out.write(up + text + '\n');
    this.lines = text.split('\n').length;
  }
}
