/**
 * Rebuilds user functions and classes from their source inside a task (cached per source), and wraps
 * what they throw as a UserCodeError naming the operator, the block and the row.
 */
import * as ray from '@samsara/ray';
import { UserCodeError } from '../errors.js';
import type { ShippedFn } from '../plan/stages.js';

const cache = new Map<string, unknown>();

const API_NAMES = ['ray', 'remote', 'actor', 'get', 'put', 'wait', 'cancel', 'kill', 'getActor', 'runtimeContext', 'nodes', 'clusterResources', 'availableResources', 'objectStoreStats', 'free', 'ObjectRef'] as const;

// esbuild/tsx inject `__name(fn, "name")` into transpiled code; give it a definition.
const nameHelper = (target: unknown, value: string): unknown => {
  try {
    Object.defineProperty(target, 'name', { value, configurable: true });
  } catch {
    /* not configurable: harmless */
  }
  return target;
};

/** The function or class `fn` describes. */
export function rebuild(fn: ShippedFn): (...a: unknown[]) => unknown {
  const hit = cache.get(fn.source);
  if (hit) return hit as (...a: unknown[]) => unknown;
  let lastErr: unknown;
  // As the core does for shipped code: the public API names are bound (`get`, `put`, `runtimeContext`,
  // `ray.get`…), and so are the namespaces transpilers make of an import of it (`__vite_ssr_import_1__`).
  const aliases = [...new Set(fn.source.match(/\b(?:__vite_ssr_import_\d+__|import_ray\w*)\b/g) ?? [])];
  const names = [...API_NAMES, ...aliases];
  const values = [...API_NAMES.map((n) => (n === 'ray' ? ray : (ray as Record<string, unknown>)[n])), ...aliases.map(() => ray)];
  for (const body of [`"use strict"; return (${fn.source});`, `"use strict"; return ({${fn.source}})[${JSON.stringify(fn.name)}];`]) {
    try {
      const v = new Function('__name', ...names, body)(nameHelper, ...values);
      cache.set(fn.source, v);
      return v as (...a: unknown[]) => unknown;
    } catch (e) {
      lastErr = e;
      if (!(e instanceof SyntaxError)) break;
    }
  }
  throw new UserCodeError(`Cannot rebuild ${fn.isClass ? 'class' : 'function'} ${fn.name} inside the task: ${(lastErr as Error)?.message}.`, {
    hint: 'Pass plain functions, arrow functions or classes; bound and native functions have no source.',
    ids: { function: fn.name },
  });
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
