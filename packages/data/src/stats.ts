/**
 * Execution statistics: per operator, time, tasks, rows, blocks and bytes out, and the peak bytes it
 * held in flight; plus notes (e.g. a SQL query that ran on one executor). `toString()` prints a table.
 */
import type { PhysicalOperator } from './exec/physical-operator.js';

export interface OperatorStats {
  readonly name: string;
  readonly wallMs: number;
  readonly tasks: number;
  readonly rowsOut: number;
  readonly blocksOut: number;
  readonly bytesOut: number;
  readonly peakBytesInFlight: number;
  /** Operator-specific detail (e.g. where a SQL query's time went). */
  readonly detail?: string;
}

export class DatasetStats {
  constructor(
    readonly operators: readonly OperatorStats[],
    readonly totalMs: number,
    readonly notes: readonly string[],
  ) {}

  /** Stats of operators that ran, from their metrics. */
  static from(ops: readonly PhysicalOperator[], totalMs: number, notes: readonly string[]): DatasetStats {
    return new DatasetStats(
      ops.map((o) => ({
        name: o.name,
        wallMs: Math.round(((o.metrics.finishedAt ?? performance.now()) - (o.metrics.startedAt ?? performance.now())) * 10) / 10,
        tasks: o.metrics.tasksFinished,
        rowsOut: o.metrics.rowsOut,
        blocksOut: o.metrics.blocksOut,
        bytesOut: o.metrics.bytesOut,
        peakBytesInFlight: o.metrics.peakBytesInFlight,
        ...((o as { timing?: string }).timing ? { detail: (o as { timing?: string }).timing } : {}),
      })),
      Math.round(totalMs * 10) / 10,
      notes,
    );
  }

  toString(): string {
    const lines = this.operators.map(
      (o) => `  ${o.name}: ${o.wallMs} ms, ${o.tasks} tasks, ${o.rowsOut} rows, ${o.blocksOut} blocks, ${fmtBytes(o.bytesOut)} out, peak ${fmtBytes(o.peakBytesInFlight)} in flight${o.detail ? ` (${o.detail})` : ''}`,
    );
    return [`Dataset execution: ${this.totalMs} ms`, ...lines, ...this.notes.map((n) => `  note: ${n}`)].join('\n');
  }
}

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
