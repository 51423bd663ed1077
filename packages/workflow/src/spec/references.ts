/**
 * `{op.field}` references in op arguments: finding them (dependencies are inferred from them) and
 * substituting them at run time.
 *
 * A reference is `{` name `.` path `}` where the name is an op or `context` and the path is one or more
 * dot-separated keys (`{prepare.result.rows}`; `{op.output}` is the whole output, `{op.output.x}` a key
 * of it). Anything else in braces — JSON text such as `{"a": 1}`, `{single}` — is left alone. A string
 * that is exactly one reference becomes the referenced value with its type; references inside a longer
 * string are substituted as text (objects and arrays as JSON).
 */

const REF = /\{([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z0-9_-]+)+)\}/g;
const WHOLE = /^\{([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z0-9_-]+)+)\}$/;

/** The names `{context.…}` offers. */
export const CONTEXT_FIELDS = ['run_id', 'run_date', 'workflow', 'attempt'] as const;

/** One reference found in an argument. */
export interface Reference {
  /** The op name, or `context`. */
  readonly source: string;
  /** The keys after the name: `['result', 'rows']` for `{prepare.result.rows}`. */
  readonly path: readonly string[];
  /** The path of the argument inside the op's args where it appears. */
  readonly argPath: readonly (string | number)[];
  /** The text as written, `{prepare.result.rows}`. */
  readonly text: string;
}

/** Every reference in `value` (strings anywhere inside objects and lists). */
export function findReferences(value: unknown, argPath: (string | number)[] = []): Reference[] {
  const out: Reference[] = [];
  walk(value, argPath, out);
  return out;
}

function walk(value: unknown, at: (string | number)[], out: Reference[]): void {
  if (typeof value === 'string') {
    for (const m of value.matchAll(REF)) out.push({ source: m[1], path: m[2].slice(1).split('.'), argPath: [...at], text: m[0] });
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => walk(v, [...at, i], out));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) walk(v, [...at, k], out);
  }
}

/** True when the string is exactly one reference (so it keeps the referenced value's type). */
export function isWholeReference(s: string): boolean {
  return WHOLE.test(s);
}

/** Looks up one reference: returns the value or throws a message saying what is missing. */
export type Resolve = (source: string, path: readonly string[], text: string) => unknown;

/** `value` with every reference substituted by `resolve`. A new structure; `value` is not changed. */
export function interpolate(value: unknown, resolve: Resolve): unknown {
  if (typeof value === 'string') {
    const whole = WHOLE.exec(value);
    if (whole) return resolve(whole[1], whole[2].slice(1).split('.'), value);
    return value.replace(REF, (text, source: string, path: string) => asText(resolve(source, path.slice(1).split('.'), text)));
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, resolve));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolate(v, resolve);
    return out;
  }
  return value;
}

function asText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined) return '';
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** Follows `path` inside `value`; `undefined` plus the first missing key when it is not there. */
export function dig(value: unknown, path: readonly string[]): { found: true; value: unknown } | { found: false; missing: string } {
  let cur = value;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object' || !(key in (cur as object))) return { found: false, missing: key };
    cur = (cur as Record<string, unknown>)[key];
  }
  return { found: true, value: cur };
}
