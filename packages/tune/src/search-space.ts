/**
 * Search spaces: `tune.uniform`, `loguniform`, `quniform`, `randint`, `choice`, `gridSearch`,
 * `sampleFrom(fn)`, nested in plain objects and arrays. Every constructor validates its arguments at
 * once (naming the argument and its legal range); {@link parseSearchSpace} walks a whole `paramSpace`
 * and rejects anything it cannot sample with a {@link SearchSpaceError} naming the path.
 */
import { SearchSpaceError, TuneConfigError } from './errors.js';
import type { Rng } from './rng.js';

const BRAND = Symbol.for('@samsara/ray-tune.domain');

export type DomainKind = 'float' | 'int' | 'choice' | 'grid' | 'function';

/** A sampled parameter. `sample` draws one value with the given generator. */
export abstract class Domain<T = unknown> {
  abstract readonly kind: DomainKind;
  constructor() {
    Object.defineProperty(this, BRAND, { value: true });
  }
  abstract sample(rng: Rng, config: Record<string, unknown>): T;
  /** A short description for tables and errors. */
  abstract describe(): string;
}

/** A float in [low, high], optionally sampled on a log scale and rounded to a multiple of `q`. */
export class FloatDomain extends Domain<number> {
  readonly kind = 'float' as const;
  constructor(readonly low: number, readonly high: number, readonly log: boolean, readonly q?: number) {
    super();
  }
  sample(rng: Rng): number {
    return this.fromUnit(rng.next());
  }
  /** Maps u ∈ [0,1) to a value of this domain (used by searchers that work in a unit space). */
  fromUnit(u: number): number {
    let v = this.log ? Math.exp(Math.log(this.low) + u * (Math.log(this.high) - Math.log(this.low))) : this.low + u * (this.high - this.low);
    if (this.q !== undefined) v = Math.min(this.high, Math.max(this.low, Math.round(v / this.q) * this.q));
    return v;
  }
  describe(): string {
    return `${this.log ? 'loguniform' : this.q !== undefined ? 'quniform' : 'uniform'}(${this.low}, ${this.high}${this.q !== undefined ? `, ${this.q}` : ''})`;
  }
}

/** An integer in [low, high) (high exclusive, as Ray's randint). */
export class IntDomain extends Domain<number> {
  readonly kind = 'int' as const;
  constructor(readonly low: number, readonly high: number) {
    super();
  }
  sample(rng: Rng): number {
    return this.fromUnit(rng.next());
  }
  fromUnit(u: number): number {
    return Math.min(this.high - 1, this.low + Math.floor(u * (this.high - this.low)));
  }
  describe(): string {
    return `randint(${this.low}, ${this.high})`;
  }
}

/** One of `values`, uniformly. */
export class ChoiceDomain<T = unknown> extends Domain<T> {
  readonly kind = 'choice' as const;
  constructor(readonly values: readonly T[]) {
    super();
  }
  sample(rng: Rng): T {
    return this.values[Math.min(this.values.length - 1, Math.floor(rng.next() * this.values.length))];
  }
  describe(): string {
    return `choice(${JSON.stringify(this.values)})`;
  }
}

/** Every one of `values`: the grid is the cross product of all gridSearch entries. */
export class GridDomain<T = unknown> extends Domain<T> {
  readonly kind = 'grid' as const;
  constructor(readonly values: readonly T[]) {
    super();
  }
  sample(): T {
    throw new SearchSpaceError('?', 'gridSearch values are enumerated, not sampled.');
  }
  describe(): string {
    return `gridSearch(${JSON.stringify(this.values)})`;
  }
}

/** A value computed by `fn(config)` from the other resolved parameters (runs in the driver). */
export class FunctionDomain<T = unknown> extends Domain<T> {
  readonly kind = 'function' as const;
  constructor(readonly fn: (config: Record<string, unknown>, rng: Rng) => T) {
    super();
  }
  sample(rng: Rng, config: Record<string, unknown>): T {
    return this.fn(config, rng);
  }
  describe(): string {
    return `sampleFrom(${this.fn.name || 'fn'})`;
  }
}

/** True for a Domain of any copy of this package. */
export function isDomain(v: unknown): v is Domain {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[BRAND] === true;
}

function finite(v: unknown, where: string, name: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TuneConfigError(`${where}: ${name} must be a finite number, got ${JSON.stringify(v)}.`);
  return v;
}

function range(where: string, low: unknown, high: unknown): [number, number] {
  const lo = finite(low, where, 'low');
  const hi = finite(high, where, 'high');
  if (!(lo < hi)) throw new TuneConfigError(`${where}: low must be below high, got low=${lo}, high=${hi}.`);
  return [lo, hi];
}

function nonEmpty<T>(values: unknown, where: string): readonly T[] {
  if (!Array.isArray(values) || values.length === 0) {
    throw new TuneConfigError(`${where}: takes a non-empty array of values, got ${JSON.stringify(values)}.`);
  }
  return Object.freeze([...values]) as readonly T[];
}

/** The search-space constructors (`import { tune } from '@samsara/ray-tune'`). */
export const tune = Object.freeze({
  /** A float uniformly in [low, high]. */
  uniform(low: number, high: number): FloatDomain {
    const [lo, hi] = range('tune.uniform()', low, high);
    return new FloatDomain(lo, hi, false);
  },
  /** A float in [low, high] uniform on a log scale; 0 < low < high. */
  loguniform(low: number, high: number): FloatDomain {
    const [lo, hi] = range('tune.loguniform()', low, high);
    if (lo <= 0) throw new TuneConfigError(`tune.loguniform(): low must be > 0, got ${lo}.`);
    return new FloatDomain(lo, hi, true);
  },
  /** A float uniformly in [low, high], rounded to a multiple of q (q > 0). */
  quniform(low: number, high: number, q: number): FloatDomain {
    const [lo, hi] = range('tune.quniform()', low, high);
    const qq = finite(q, 'tune.quniform()', 'q');
    if (qq <= 0) throw new TuneConfigError(`tune.quniform(): q must be > 0, got ${qq}.`);
    return new FloatDomain(lo, hi, false, qq);
  },
  /** An integer in [low, high) — high exclusive, as in Ray. */
  randint(low: number, high: number): IntDomain {
    const [lo, hi] = range('tune.randint()', low, high);
    if (!Number.isInteger(lo) || !Number.isInteger(hi)) throw new TuneConfigError(`tune.randint(): low and high must be integers, got ${lo}, ${hi}.`);
    return new IntDomain(lo, hi);
  },
  /** One of `values`, uniformly at random. */
  choice<T>(values: readonly T[]): ChoiceDomain<T> {
    return new ChoiceDomain<T>(nonEmpty<T>(values, 'tune.choice()'));
  },
  /** Every one of `values` (cross product with other grid entries, times numSamples). */
  gridSearch<T>(values: readonly T[]): GridDomain<T> {
    return new GridDomain<T>(nonEmpty<T>(values, 'tune.gridSearch()'));
  },
  /** A value computed from the rest of the config: `sampleFrom((config) => config.hidden * 2)`. */
  sampleFrom<T>(fn: (config: Record<string, unknown>, rng: Rng) => T): FunctionDomain<T> {
    if (typeof fn !== 'function') throw new TuneConfigError(`tune.sampleFrom(): takes a function (config) => value, got ${typeof fn}.`);
    return new FunctionDomain<T>(fn);
  },
});

export type PathPart = string | number;

/** One sampled entry of a parsed space. */
export interface SpaceLeaf {
  readonly path: readonly PathPart[];
  /** Dotted form, e.g. `model.layers[1]`. */
  readonly name: string;
  readonly domain: Domain;
}

/** A validated param space: the constant skeleton plus its sampled leaves. */
export interface ParsedSpace {
  readonly template: unknown;
  readonly leaves: readonly SpaceLeaf[];
}

export function pathName(path: readonly PathPart[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${p}` : p;
  return s || '(root)';
}

/**
 * Validates a param space and lists its sampled leaves.
 * @throws SearchSpaceError naming the path of the first entry that is not a constant, plain object,
 *   array or tune.* domain (functions, class instances, Python-style `{ grid_search: [...] }`).
 */
export function parseSearchSpace(space: unknown): ParsedSpace {
  if (typeof space !== 'object' || space === null || Array.isArray(space)) {
    throw new SearchSpaceError('(root)', `must be an object of parameters, got ${space === null ? 'null' : Array.isArray(space) ? 'an array' : typeof space}.`);
  }
  const leaves: SpaceLeaf[] = [];
  const walk = (v: unknown, path: PathPart[]): void => {
    const name = pathName(path);
    if (isDomain(v)) {
      if (!['float', 'int', 'choice', 'grid', 'function'].includes(v.kind)) {
        throw new SearchSpaceError(name, `unknown search-space type "${String(v.kind)}".`, { hint: 'Use tune.uniform, loguniform, quniform, randint, choice, gridSearch or sampleFrom.' });
      }
      leaves.push({ path: [...path], name, domain: v });
      return;
    }
    if (v === null || ['string', 'number', 'boolean', 'undefined'].includes(typeof v)) return;
    if (typeof v === 'function') {
      throw new SearchSpaceError(name, `unknown search-space type: a function (${v.name || 'anonymous'}).`, { hint: 'Wrap a computed value in tune.sampleFrom((config) => ...).' });
    }
    if (typeof v !== 'object') throw new SearchSpaceError(name, `unknown search-space type: ${typeof v}.`, { hint: 'Use numbers, strings, booleans, plain objects, arrays or tune.* domains.' });
    if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, [...path, i]));
      return;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      throw new SearchSpaceError(name, `unknown search-space type: an instance of ${(v as object).constructor?.name ?? 'a class'}.`, {
        hint: 'Use numbers, strings, booleans, plain objects, arrays or tune.uniform/loguniform/quniform/randint/choice/gridSearch/sampleFrom.',
      });
    }
    const keys = Object.keys(v);
    for (const k of ['grid_search', 'type', '__domain']) {
      if (keys.includes(k) && (k === 'grid_search' || typeof (v as Record<string, unknown>)[k] === 'string')) {
        if (k === 'grid_search') throw new SearchSpaceError(name, 'unknown search-space type "grid_search" (Python syntax).', { hint: 'Use tune.gridSearch([...]).' });
        const t = (v as Record<string, unknown>)[k] as string;
        if (['uniform', 'loguniform', 'quniform', 'randint', 'choice', 'normal', 'qrandint', 'lograndint', 'randn', 'grid'].includes(t)) {
          throw new SearchSpaceError(name, `unknown search-space type "${t}" (a plain object, not a tune.* domain).`, { hint: 'Build domains with tune.uniform(...), tune.choice([...]) and friends.' });
        }
      }
    }
    for (const k of keys) walk((v as Record<string, unknown>)[k], [...path, k]);
  };
  walk(space, []);
  return { template: space, leaves };
}

/** A deep copy of `template` with each leaf's path set to `values[i]`. */
export function buildConfig(template: unknown, leaves: readonly SpaceLeaf[], values: readonly unknown[]): Record<string, unknown> {
  const out = cloneSkeleton(template) as Record<string, unknown>;
  leaves.forEach((leaf, i) => setPath(out, leaf.path, values[i]));
  return out;
}

function cloneSkeleton(v: unknown): unknown {
  if (isDomain(v)) return undefined;
  if (Array.isArray(v)) return v.map(cloneSkeleton);
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = cloneSkeleton(x);
    return o;
  }
  return v;
}

export function setPath(root: Record<string, unknown>, path: readonly PathPart[], value: unknown): void {
  let cur: Record<string | number, unknown> = root;
  for (let i = 0; i < path.length - 1; i++) cur = cur[path[i]] as Record<string | number, unknown>;
  cur[path[path.length - 1]] = value;
}

export function getPath(root: unknown, path: readonly PathPart[]): unknown {
  let cur = root as Record<string | number, unknown> | undefined;
  for (const p of path) cur = cur?.[p] as Record<string | number, unknown> | undefined;
  return cur;
}

/** JSON form of a domain (kept in experiment_state.json). sampleFrom functions cannot be saved. */
export function domainToJSON(d: Domain): Record<string, unknown> {
  if (d instanceof FloatDomain) return { __tuneDomain: d.log ? 'loguniform' : d.q !== undefined ? 'quniform' : 'uniform', low: d.low, high: d.high, ...(d.q !== undefined ? { q: d.q } : {}) };
  if (d instanceof IntDomain) return { __tuneDomain: 'randint', low: d.low, high: d.high };
  if (d instanceof ChoiceDomain) return { __tuneDomain: 'choice', values: d.values };
  if (d instanceof GridDomain) return { __tuneDomain: 'gridSearch', values: d.values };
  return { __tuneDomain: 'sampleFrom' };
}

for (const C of [FloatDomain, IntDomain, ChoiceDomain, GridDomain, FunctionDomain]) {
  Object.defineProperty(C.prototype, 'toJSON', {
    value(this: Domain) {
      return domainToJSON(this);
    },
  });
}
