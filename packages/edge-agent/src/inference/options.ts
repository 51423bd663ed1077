/**
 * Resolves public option objects once into frozen internal forms: defaults applied, values checked,
 * unknown keys rejected with the list of valid ones.
 */

import { InferenceError } from './errors.js';

/** Per-key checker: returns an error description, or undefined when the value is fine. */
export type OptionCheck = (value: unknown) => string | undefined;

/**
 * Merges `opts` over `defaults` and checks every given key.
 *
 * @throws InferenceError `INFERENCE_INVALID_OPTIONS` for an unknown key or a bad value.
 */
export function resolveOptions<T extends object>(
  what: string,
  opts: Partial<T> | undefined,
  defaults: T,
  checks: { [K in keyof T]: OptionCheck },
): Readonly<T> {
  if (opts !== undefined && (opts === null || typeof opts !== 'object')) {
    throw new InferenceError('INFERENCE_INVALID_OPTIONS', `${what} options must be an object, got ${opts === null ? 'null' : typeof opts}.`);
  }
  const valid = Object.keys(defaults);
  const out: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  for (const [key, value] of Object.entries(opts ?? {})) {
    if (!valid.includes(key)) {
      throw new InferenceError('INFERENCE_INVALID_OPTIONS', `${what} has no option "${key}". Valid options: ${valid.join(', ')}.`);
    }
    if (value === undefined) continue;
    const problem = checks[key as keyof T](value);
    if (problem) throw new InferenceError('INFERENCE_INVALID_OPTIONS', `${what} option "${key}" ${problem}.`);
    out[key] = value;
  }
  return Object.freeze(out) as Readonly<T>;
}

/** Checker for an integer in [min, max]. */
export const intIn = (min: number, max: number): OptionCheck => (v) =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? undefined : `must be an integer in [${min}, ${max}], got ${String(v)}`;

/** Checker for a finite number in (min, max]. */
export const numberIn = (min: number, max: number): OptionCheck => (v) =>
  typeof v === 'number' && Number.isFinite(v) && v > min && v <= max ? undefined : `must be a number in (${min}, ${max}], got ${String(v)}`;

/** Checker for one of a fixed set of strings. */
export const oneOf = (...values: string[]): OptionCheck => (v) =>
  typeof v === 'string' && values.includes(v) ? undefined : `must be one of ${values.map((x) => `'${x}'`).join(', ')}, got ${JSON.stringify(v)}`;

/** Checker for a boolean. */
export const isBoolean: OptionCheck = (v) => (typeof v === 'boolean' ? undefined : `must be a boolean, got ${JSON.stringify(v)}`);

/** Checker for a function. */
export const isFunction: OptionCheck = (v) => (typeof v === 'function' ? undefined : `must be a function, got ${typeof v}`);
