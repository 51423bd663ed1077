/**
 * Aggregate functions for `groupBy(keys).aggregate(...)`: plain descriptions built by count(), sum(),
 * mean(), min(), max(), std(). Each becomes partial states per block (count, sum, mean, M2, min, max),
 * merged after the hash shuffle (Chan's parallel variance for std) and finalized per group.
 */

export type AggregateKind = 'count' | 'sum' | 'mean' | 'min' | 'max' | 'std';

/** One aggregate: what to compute, over which column, and the output column name. */
export interface AggregateFn {
  readonly kind: AggregateKind;
  readonly column?: string;
  /** Output column name [`kind(column)`, `count()`]. */
  readonly name: string;
  /** std only: delta degrees of freedom [1]. */
  readonly ddof?: number;
}

function agg(kind: AggregateKind, column: string | undefined, opts?: { alias?: string; ddof?: number }): AggregateFn {
  return Object.freeze({ kind, column, name: opts?.alias ?? `${kind}(${column ?? ''})`, ...(opts?.ddof !== undefined ? { ddof: opts.ddof } : {}) });
}

/** Number of rows per group; output column `count()`. */
export function count(opts?: { alias?: string }): AggregateFn {
  return agg('count', undefined, opts);
}
/** Sum of `column` (nulls skipped); output `sum(column)`. */
export function sum(column: string, opts?: { alias?: string }): AggregateFn {
  return agg('sum', column, opts);
}
/** Mean of `column`; output `mean(column)`. */
export function mean(column: string, opts?: { alias?: string }): AggregateFn {
  return agg('mean', column, opts);
}
/** Minimum of `column`; output `min(column)`. */
export function min(column: string, opts?: { alias?: string }): AggregateFn {
  return agg('min', column, opts);
}
/** Maximum of `column`; output `max(column)`. */
export function max(column: string, opts?: { alias?: string }): AggregateFn {
  return agg('max', column, opts);
}
/** Sample standard deviation of `column` (ddof 1, as Ray); output `std(column)`. */
export function std(column: string, opts?: { alias?: string; ddof?: number }): AggregateFn {
  return agg('std', column, opts);
}
