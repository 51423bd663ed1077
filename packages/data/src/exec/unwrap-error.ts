/**
 * Errors from tasks come back as RayErrors (or TaskErrors naming the task); a Data error thrown inside
 * keeps its code across the wire. This finds it (also in a cause chain) and rebuilds its class.
 */
import { isRayError } from '@samsara/ray';
import { retype } from '../errors.js';

export function unwrapError(e: unknown): unknown {
  let cur: unknown = e;
  for (let i = 0; i < 5 && cur; i++) {
    if (isRayError(cur) && (String(cur.code).startsWith('DATA_') || cur.ids?.dataError)) return retype(cur);
    cur = (cur as { cause?: unknown }).cause;
  }
  return e;
}
