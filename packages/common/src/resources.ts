/**
 * Resource maps: CPU, GPU, memory and any custom name (`spark_executor`, `camera`) with fractional
 * amounts. Amounts are kept as integers of 1/10,000 internally by the arithmetic helpers so that adding
 * and subtracting 0.1 a thousand times returns exactly to zero.
 */
import { InvalidArgumentError } from './errors.js';

export type ResourceMap = Record<string, number>;

const SCALE = 10_000;
const RESOURCE_NAME = /^[A-Za-z_][A-Za-z0-9_.:\-/]{0,127}$/;

function q(x: number): number {
  return Math.round(x * SCALE);
}

/** a + b, exact to 1/10,000. */
export function addResources(a: ResourceMap, b: ResourceMap, sign = 1): ResourceMap {
  return adjustResources({ ...a }, b, sign);
}

/**
 * In place: `a += sign × b`, exact to 1/10,000. For maps updated on every task (a node's available
 * resources), where copying a map with many keys (one pair per live placement-group bundle) would cost
 * more than the change itself.
 */
export function adjustResources(a: ResourceMap, b: ResourceMap, sign = 1): ResourceMap {
  for (const k in b) a[k] = (q(a[k] ?? 0) + sign * q(b[k])) / SCALE;
  return a;
}

export function subtractResources(a: ResourceMap, b: ResourceMap): ResourceMap {
  return addResources(a, b, -1);
}

/** True when `available` covers every positive amount of `demand`. */
export function fits(demand: ResourceMap, available: ResourceMap): boolean {
  for (const k of Object.keys(demand)) {
    const need = q(demand[k]);
    if (need > 0 && q(available[k] ?? 0) < need) return false;
  }
  return true;
}

/** The part of `demand` that `available` lacks, e.g. `{camera: 1}`. */
export function missingResources(demand: ResourceMap, available: ResourceMap): ResourceMap {
  const out: ResourceMap = {};
  for (const k of Object.keys(demand)) {
    const lack = q(demand[k]) - q(available[k] ?? 0);
    if (q(demand[k]) > 0 && lack > 0) out[k] = demand[k];
  }
  return out;
}

/** `{camera: 1, CPU: 0.5}` — the form used in every message. */
export function formatResources(r: ResourceMap): string {
  const keys = Object.keys(r).filter((k) => r[k] !== 0);
  if (keys.length === 0) return '{}';
  return `{${keys.map((k) => `${k}: ${+r[k].toFixed(4)}`).join(', ')}}`;
}

/** Drops zero entries; returns a new frozen map. */
export function normalizeResources(r: ResourceMap): Readonly<ResourceMap> {
  const out: ResourceMap = {};
  for (const k of Object.keys(r)) if (r[k] !== 0) out[k] = r[k];
  return Object.freeze(out);
}

/**
 * Validates a user resource map (custom names, amounts ≥ 0, finite). Throws InvalidArgumentError naming
 * the bad entry and what is valid.
 */
export function validateResources(r: unknown, where: string): ResourceMap {
  if (r === undefined) return {};
  if (typeof r !== 'object' || r === null || Array.isArray(r)) {
    throw new InvalidArgumentError(`${where}: resources must be an object of name → amount, got ${describe(r)}.`, {
      hint: 'Example: { spark_executor: 1, camera: 0.5 }.',
    });
  }
  const out: ResourceMap = {};
  for (const [k, v] of Object.entries(r as Record<string, unknown>)) {
    if (!RESOURCE_NAME.test(k)) {
      throw new InvalidArgumentError(`${where}: resource name ${JSON.stringify(k)} is not valid.`, {
        hint: 'Names start with a letter or underscore and use letters, digits, _ . : - / (at most 128 characters).',
      });
    }
    validateAmount(v, `${where}: resources.${k}`);
    out[k] = v as number;
  }
  return out;
}

/** A resource amount: a finite number ≥ 0. Fractions above 1 must be whole numbers, as in Ray. */
export function validateAmount(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new InvalidArgumentError(`${what} must be a finite number ≥ 0, got ${describe(v)}.`, {
      hint: 'Use whole numbers, or a fraction below 1 (e.g. 0.25) to share a resource.',
    });
  }
  if (v > 1 && !Number.isInteger(v)) {
    throw new InvalidArgumentError(`${what} is ${v}: amounts above 1 must be whole numbers.`, {
      hint: 'Use a whole number such as 2, or a fraction below 1 such as 0.5.',
    });
  }
  return v;
}

export function describe(v: unknown): string {
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v;
}

/** Parses `k=v,k2=v2` (the `--labels` flag). */
export function parseLabels(s: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!s) return out;
  for (const part of s.split(',')) {
    const t = part.trim();
    if (!t) continue;
    const eq = t.indexOf('=');
    if (eq <= 0) {
      throw new InvalidArgumentError(`--labels entry ${JSON.stringify(t)} is not key=value.`, {
        hint: 'Example: --labels zone=b,soc=qcs6490',
      });
    }
    out[t.slice(0, eq).trim()] = t.slice(eq + 1).trim();
  }
  return out;
}
