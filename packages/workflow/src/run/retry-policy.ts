/**
 * Retry policy in Temporal's shape: the n-th retry waits `initialInterval × coefficient^(n-1)`, capped
 * at `maximumInterval`. In YAML: `retries: 2` (defaults below) or
 * `retries: { count: 2, initialIntervalS: 0.5, backoffCoefficient: 2, maximumIntervalS: 10 }`.
 */

/** A compiled, frozen retry policy. */
export interface RetryPolicy {
  /** Retries after the first attempt (`maximumAttempts - 1` in Temporal's terms). @default 0 */
  readonly count: number;
  /** Wait before the first retry. @default 1000 */
  readonly initialIntervalMs: number;
  /** Each further retry waits this much longer. @default 2 */
  readonly backoffCoefficient: number;
  /** Longest wait. @default 100 × initialIntervalMs */
  readonly maximumIntervalMs: number;
}

export const NO_RETRIES: RetryPolicy = Object.freeze({ count: 0, initialIntervalMs: 1000, backoffCoefficient: 2, maximumIntervalMs: 100_000 });

/** Compiles the YAML form (already schema-checked). Returns an error message for a bad combination. */
export function compileRetryPolicy(
  v: number | { count: number; initialIntervalS?: number; backoffCoefficient?: number; maximumIntervalS?: number } | undefined,
): RetryPolicy | string {
  if (v === undefined) return NO_RETRIES;
  if (typeof v === 'number') return Object.freeze({ ...NO_RETRIES, count: v });
  const initialIntervalMs = (v.initialIntervalS ?? 1) * 1000;
  const maximumIntervalMs = v.maximumIntervalS !== undefined ? v.maximumIntervalS * 1000 : 100 * initialIntervalMs;
  if (maximumIntervalMs < initialIntervalMs) return `maximumIntervalS (${v.maximumIntervalS}) must be at least initialIntervalS (${initialIntervalMs / 1000})`;
  return Object.freeze({ count: v.count, initialIntervalMs, backoffCoefficient: v.backoffCoefficient ?? 2, maximumIntervalMs });
}

/** How long to wait before retry number `retry` (1 for the first retry). */
export function retryDelayMs(p: RetryPolicy, retry: number): number {
  return Math.min(p.maximumIntervalMs, p.initialIntervalMs * p.backoffCoefficient ** (retry - 1));
}
