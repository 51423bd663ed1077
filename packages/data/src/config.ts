/**
 * Option checking shared by every verb: unknown keys are an InvalidArgumentError listing the valid
 * ones; numbers are checked with one message grammar ("<where>: <name> must be …, got …").
 */
import { InvalidArgumentError } from '@samsara/ray';

export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'function') return `function ${v.name || '(anonymous)'}`;
  return typeof v === 'object' ? 'an object' : String(v);
}

/** Throws when `opts` is not an object or has keys outside `valid`. Returns it typed. */
export function checkOptions<T extends object>(opts: T | undefined, valid: readonly string[], where: string): T {
  if (opts === undefined) return {} as T;
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) {
    throw new InvalidArgumentError(`${where}: options must be an object, got ${describeValue(opts)}.`, { hint: `Valid options: ${valid.join(', ')}.` });
  }
  const unknown = Object.keys(opts).filter((k) => !valid.includes(k));
  if (unknown.length) {
    throw new InvalidArgumentError(`${where}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}.`, {
      hint: `Valid options: ${valid.join(', ')}.`,
    });
  }
  return opts;
}

/** A positive integer, or throws. */
export function positiveInt(v: unknown, name: string, where: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new InvalidArgumentError(`${where}: ${name} must be a positive integer, got ${describeValue(v)}.`);
  }
  return v;
}

/** A non-negative integer, or throws. */
export function nonNegativeInt(v: unknown, name: string, where: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new InvalidArgumentError(`${where}: ${name} must be a non-negative integer, got ${describeValue(v)}.`);
  }
  return v;
}

/** A list of column names (a string is one), or throws. */
export function columnList(v: unknown, where: string): string[] {
  const l = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(l) || l.length === 0 || l.some((c) => typeof c !== 'string' || !c)) {
    throw new InvalidArgumentError(`${where}: expected a column name or a non-empty array of column names, got ${describeValue(v)}.`);
  }
  return l as string[];
}
