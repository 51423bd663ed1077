/**
 * Label selectors: which nodes a task or actor may land on, by the nodes' key=value labels.
 *
 * Expressions (the value of each selector key):
 * - `value`      the label equals `value`
 * - `!value`     the label is absent or differs from `value`
 * - `in(a,b)`    the label is one of `a`, `b`
 * - `!in(a,b)`   the label is absent or none of `a`, `b`
 *
 * A node lacking the key matches only the negative forms, as in Ray. Every key of a selector must match.
 */
import { describe, InvalidArgumentError } from '@samsara/ray-common';
import type { LabelSelector } from '../types.js';

/** One parsed expression. */
interface LabelExpr {
  readonly negated: boolean;
  readonly values: readonly string[];
}

const VALID_FORMS = "Valid forms: 'value' (equals), '!value' (not equals), 'in(a,b)' (one of), '!in(a,b)' (none of).";
/** Label keys: no spaces and none of the characters the expressions use. */
const KEY = /^[A-Za-z0-9_.\-/:@]{1,253}$/;
/** Label values: no spaces and none of the characters the expressions use; not starting with '!'. */
const VALUE = /^[A-Za-z0-9_.\-/:@+=][A-Za-z0-9_.\-/:@+=!]{0,252}$/;
const IN = /^(!?)in\((.*)\)$/;

/** Parses one expression; undefined when it is not one of the valid forms. */
function parseExpr(raw: string): LabelExpr | undefined {
  const s = raw.trim();
  const m = IN.exec(s);
  if (m) {
    const values = m[2].split(',').map((v) => v.trim());
    if (values.length === 0 || !values.every((v) => VALUE.test(v))) return undefined;
    return { negated: m[1] === '!', values };
  }
  const negated = s.startsWith('!');
  const v = negated ? s.slice(1).trim() : s;
  return VALUE.test(v) ? { negated, values: [v] } : undefined;
}

/** `in(a)` is written `a`; several values keep the `in(...)` form. */
function canonical(e: LabelExpr): string {
  const body = e.values.length === 1 ? e.values[0] : `in(${e.values.join(',')})`;
  return e.negated ? `!${body}` : body;
}

/**
 * Validates a user label selector and returns it frozen, with each expression in canonical form
 * (`in( a , b )` becomes `in(a,b)`).
 *
 * @param sel - the user's value, expected to be an object of label key → expression string.
 * @param where - what the selector belongs to, for the message (e.g. `"f.options()"`).
 * @throws InvalidArgumentError when `sel` is not a plain object, a key is not a valid label key, or an
 *   expression is not one of the valid forms; the message names the entry and lists the valid forms.
 */
export function parseLabelSelector(sel: unknown, where: string): LabelSelector {
  if (typeof sel !== 'object' || sel === null || Array.isArray(sel) || !isPlainObject(sel)) {
    throw new InvalidArgumentError(`${where}: labelSelector must be an object of label → expression, got ${describe(sel)}.`, {
      hint: `Example: { zone: 'b', soc: 'in(qcs6490,qcs8550)' }. ${VALID_FORMS}`,
    });
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(sel as Record<string, unknown>)) {
    if (!KEY.test(k)) {
      throw new InvalidArgumentError(`${where}: labelSelector key ${JSON.stringify(k)} is not a valid label key.`, {
        hint: 'Keys use letters, digits and _ . - / : @ (at most 253 characters).',
      });
    }
    const e = typeof v === 'string' ? parseExpr(v) : undefined;
    if (!e) {
      throw new InvalidArgumentError(`${where}: labelSelector.${k} is ${describe(v)}, which is not a valid expression.`, {
        hint: VALID_FORMS,
      });
    }
    out[k] = canonical(e);
  }
  return Object.freeze(out);
}

function isPlainObject(v: object): boolean {
  const p = Object.getPrototypeOf(v) as unknown;
  return p === Object.prototype || p === null;
}

const cache = new Map<string, LabelExpr>();
const CACHE_MAX = 1024;

function compiled(expr: string, key: string): LabelExpr {
  let e = cache.get(expr);
  if (!e) {
    e = parseExpr(expr);
    if (!e) {
      throw new InvalidArgumentError(`labelSelector.${key} is ${JSON.stringify(expr)}, which is not a valid expression.`, {
        hint: VALID_FORMS,
      });
    }
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(expr, e);
  }
  return e;
}

/**
 * True when a node with `labels` satisfies every entry of `selector`. An empty selector matches every
 * node; a key the node lacks matches only `!value` and `!in(...)`.
 *
 * @throws InvalidArgumentError when an expression is malformed (selectors from
 *   {@link parseLabelSelector} never are).
 */
export function matchesLabels(labels: Readonly<Record<string, string>>, selector: LabelSelector): boolean {
  for (const key of Object.keys(selector)) {
    const e = compiled(selector[key], key);
    const v = Object.prototype.hasOwnProperty.call(labels, key) ? labels[key] : undefined;
    const hit = v !== undefined && e.values.includes(v);
    if (hit === e.negated) return false;
  }
  return true;
}
