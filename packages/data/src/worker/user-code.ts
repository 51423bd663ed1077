/**
 * Rebuilds user functions and classes inside a task with the core's loadCallable (cached per source id,
 * with the bindings their module imports), and wraps what they throw as a UserCodeError naming the
 * operator, the block and the row.
 */
import { isRayError, loadCallable } from '@samsara/ray';
import { UserCodeError } from '../errors.js';
import type { ShippedFn } from '../plan/stages.js';

/** The function or class `fn` describes; a failure to rebuild it (an import that fails) names `opName`. */
export async function rebuild(fn: ShippedFn, opName: string): Promise<(...a: unknown[]) => unknown> {
  try {
    return await loadCallable<(...a: unknown[]) => unknown>(fn);
  } catch (e) {
    const hint = isRayError(e) ? e.hint : undefined;
    const msg = (e as Error).message;
    throw new UserCodeError(`${opName}: cannot load ${fn.kind} ${fn.name} inside the task: ${hint && msg.endsWith(` ${hint}`) ? msg.slice(0, -hint.length - 1) : msg}`, {
      hint,
      ids: { operator: opName, function: fn.name },
      cause: e,
    });
  }
}

/** Wraps an error thrown by user code with where it happened. */
export function userError(opName: string, blockIndex: number, row: number | undefined, e: unknown): UserCodeError {
  if (e instanceof UserCodeError) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  const where = `block ${blockIndex}${row !== undefined ? `, row ${row}` : ''}`;
  const hint =
    err instanceof ReferenceError
      ? 'User functions run on other workers: they cannot close over outer variables; pass values with fnArgs / fnConstructorArgs.'
      : undefined;
  const out = new UserCodeError(`${opName} threw ${err.name}: ${err.message} (${where}).`, {
    hint,
    ids: { operator: opName, block: String(blockIndex), ...(row !== undefined ? { row: String(row) } : {}) },
  });
  out.stack = `${out.name}: ${out.message}\n${err.stack ?? ''}`;
  return out;
}
