/**
 * The two halves of every all-to-all operator, run in tasks. The map half splits a block into
 * partitions (by hash of keys, by sampled key ranges, or at random) and returns ONE table ordered by
 * partition whose schema metadata holds the partition offsets; the reduce half takes its partition of
 * every map output (zero-copy slices), then sorts, shuffles or merges partial aggregates.
 */
import { arrow, concatTables, takeRows, rng, columnValues, vectorOf, type Table } from '../block.js';
import { ColumnNotFoundError } from '../errors.js';
import type { AggregateFn } from '../plan/aggregate.js';

export type PartitionSpec =
  | { readonly kind: 'hash'; readonly keys: readonly string[]; readonly n: number }
  | { readonly kind: 'range'; readonly keys: readonly string[]; readonly boundaries: readonly unknown[]; readonly descending: boolean; readonly n: number }
  | { readonly kind: 'random'; readonly seed: number; readonly n: number };

export type ReduceSpec =
  | { readonly kind: 'concat' }
  | { readonly kind: 'shuffle'; readonly seed: number }
  | { readonly kind: 'sort'; readonly keys: readonly string[]; readonly descending: boolean }
  | { readonly kind: 'aggregate'; readonly keys: readonly string[]; readonly aggs: readonly AggregateFn[] };

const OFFSETS = 'rayts.partition_offsets';

function requireColumns(t: Table, cols: readonly string[], what: string): void {
  const have = new Set(t.schema.fields.map((f) => f.name));
  const missing = cols.filter((c) => !have.has(c));
  if (missing.length) {
    throw new ColumnNotFoundError(`${what}: column${missing.length > 1 ? 's' : ''} ${missing.map((c) => `"${c}"`).join(', ')} not found.`, {
      hint: `The columns are: ${[...have].join(', ')}.`,
    });
  }
}

/** Hash of a value mixed into `h`: integers by value (fast path), anything else FNV-1a over its string form. */
export function hashValue(v: unknown, h = 2166136261): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= -2147483648 && v <= 2147483647) {
    let x = Math.imul(h ^ v, 0x45d9f3b);
    x = Math.imul(x ^ (x >>> 16), 0x45d9f3b);
    return (x ^ (x >>> 16)) >>> 0;
  }
  const s = v === null || v === undefined ? '\u0000' : typeof v === 'bigint' ? v.toString() : typeof v === 'number' ? (Number.isInteger(v) ? String(v) : String(v)) : String(v);
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
}

function compareKeys(a: unknown[], b: unknown[]): number {
  for (let i = 0; i < a.length; i++) {
    const c = compare(a[i], b[i]);
    if (c) return c;
  }
  return 0;
}

/** Splits `t` into `spec.n` partitions; `blockIndex` seeds random partitioning. */
export function partitionBlock(spec: PartitionSpec, t: Table, blockIndex: number): Table {
  const n = spec.n;
  const part = new Int32Array(t.numRows);
  if (spec.kind === 'hash') {
    requireColumns(t, spec.keys, 'groupBy');
    const cols = spec.keys.map((k) => columnValues(t.getChild(k)!));
    for (let i = 0; i < t.numRows; i++) {
      let h = 2166136261;
      for (const c of cols) h = hashValue(c[i], h);
      part[i] = h % n;
    }
  } else if (spec.kind === 'range') {
    requireColumns(t, spec.keys, 'sort');
    const cols = spec.keys.map((k) => columnValues(t.getChild(k)!));
    const bounds = spec.boundaries as unknown[][];
    for (let i = 0; i < t.numRows; i++) {
      const key = cols.map((c) => c[i]);
      let lo = 0;
      let hi = bounds.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (compareKeys(bounds[mid], key) <= 0) lo = mid + 1;
        else hi = mid;
      }
      part[i] = spec.descending ? n - 1 - lo : lo;
    }
  } else {
    const r = rng(spec.seed * 7919 + blockIndex);
    for (let i = 0; i < t.numRows; i++) part[i] = Math.floor(r() * n);
  }
  const counts = new Int32Array(n + 1);
  for (let i = 0; i < part.length; i++) counts[part[i] + 1]++;
  for (let p = 0; p < n; p++) counts[p + 1] += counts[p];
  const pos = counts.slice(0, n);
  const order = new Int32Array(t.numRows);
  for (let i = 0; i < part.length; i++) order[pos[part[i]]++] = i;
  const sorted = takeRows(t, order);
  const meta = new Map(sorted.schema.metadata);
  meta.set(OFFSETS, JSON.stringify(Array.from(counts)));
  const schema = new arrow.Schema(sorted.schema.fields, meta);
  return new arrow.Table(schema, sorted.batches.map((b) => new arrow.RecordBatch(schema, b.data)));
}

/** Partition `p` of a map output (a zero-copy slice). */
export function partitionOf(t: Table, p: number): Table {
  const raw = t.schema.metadata.get(OFFSETS);
  if (!raw) return p === 0 ? t : t.slice(0, 0);
  const offs = JSON.parse(raw) as number[];
  return t.slice(offs[p], offs[p + 1]);
}

/** Sorts `t` by `keys`. */
export function sortTable(t: Table, keys: readonly string[], descending: boolean): Table {
  requireColumns(t, keys, 'sort');
  const cols = keys.map((k) => columnValues(t.getChild(k)!));
  const idx = Array.from({ length: t.numRows }, (_, i) => i);
  const sign = descending ? -1 : 1;
  if (cols.length === 1) {
    const c = cols[0];
    idx.sort((a, b) => sign * compare(c[a], c[b]) || a - b);
  } else {
    idx.sort((a, b) => sign * compareKeys(cols.map((c) => c[a]), cols.map((c) => c[b])) || a - b);
  }
  return takeRows(t, idx);
}

/** Reduce task body: partition `p` of every map output, then `spec`. */
export function reducePartitions(spec: ReduceSpec, p: number, mapOutputs: Table[]): Table {
  const t = concatTables(mapOutputs.map((m) => stripMeta(partitionOf(m, p))));
  switch (spec.kind) {
    case 'concat':
      return t;
    case 'shuffle': {
      const r = rng(spec.seed * 104729 + p);
      const idx = Array.from({ length: t.numRows }, (_, i) => i);
      for (let i = idx.length - 1; i > 0; i--) {
        const j = Math.floor(r() * (i + 1));
        [idx[i], idx[j]] = [idx[j], idx[i]];
      }
      return takeRows(t, idx);
    }
    case 'sort':
      return t.numRows ? sortTable(t, spec.keys, spec.descending) : t;
    case 'aggregate':
      return finalizeAggregates(mergePartials(t, spec.keys, spec.aggs), spec.keys, spec.aggs);
  }
}

function stripMeta(t: Table): Table {
  if (!t.schema.metadata.has(OFFSETS)) return t;
  const schema = new arrow.Schema(t.schema.fields);
  return new arrow.Table(schema, t.batches.map((b) => new arrow.RecordBatch(schema, b.data)));
}

// ---- aggregates -------------------------------------------------------------------------------------

const STATES = ['n', 'sum', 'mean', 'm2', 'min', 'max'] as const;

interface Acc {
  key: unknown[];
  s: Float64Array[]; // per aggregate: [n, sum, mean, m2, min, max]
}

function groupKey(vals: unknown[]): unknown {
  return vals.length === 1 ? (typeof vals[0] === 'bigint' ? `b${vals[0]}` : vals[0]) : JSON.stringify(vals, (_k, v) => (typeof v === 'bigint' ? `b${v}` : v));
}

function newAcc(key: unknown[], k: number): Acc {
  return { key, s: Array.from({ length: k }, () => Float64Array.of(0, 0, 0, 0, Infinity, -Infinity)) };
}

/** Calls `visit` with each row's group state (made on first sight of its key); returns the states. */
function forEachGroupRow(numRows: number, keyCols: readonly (readonly unknown[])[], k: number, visit: (acc: Acc, row: number) => void): Acc[] {
  const groups = new Map<unknown, Acc>();
  for (let i = 0; i < numRows; i++) {
    const kv = keyCols.map((c) => c[i]);
    const gk = groupKey(kv);
    let acc = groups.get(gk);
    if (!acc) groups.set(gk, (acc = newAcc(kv, k)));
    visit(acc, i);
  }
  return [...groups.values()];
}

/** Partial aggregate states of one block, one row per group. */
export function partialAggregate(t: Table, keys: readonly string[], aggs: readonly AggregateFn[]): Table {
  requireColumns(t, [...keys, ...aggs.flatMap((a) => (a.column ? [a.column] : []))], 'aggregate');
  const keyCols = keys.map((k) => columnValues(t.getChild(k)!));
  const valCols = aggs.map((a) => (a.column ? (columnValues(t.getChild(a.column)!) as (number | null)[]) : undefined));
  const groups = forEachGroupRow(t.numRows, keyCols, aggs.length, (acc, i) => {
    for (let a = 0; a < aggs.length; a++) {
      const st = acc.s[a];
      const col = valCols[a];
      if (!col) {
        st[0]++;
        continue;
      }
      const raw = col[i];
      if (raw === null || raw === undefined) continue;
      const x = Number(raw);
      st[0]++;
      st[1] += x;
      const d = x - st[2];
      st[2] += d / st[0];
      st[3] += d * (x - st[2]);
      if (x < st[4]) st[4] = x;
      if (x > st[5]) st[5] = x;
    }
  });
  return accsToTable(groups, t, keys, aggs.length);
}

function accsToTable(accs: Acc[], source: Table, keys: readonly string[], k: number): Table {
  const cols: Record<string, arrow.Vector> = {};
  keys.forEach((key, j) => (cols[key] = vectorOf(accs.map((a) => a.key[j]), source.getChild(key)?.type)));
  for (let a = 0; a < k; a++) {
    STATES.forEach((st, s) => {
      const arr = new Float64Array(accs.length);
      for (let g = 0; g < accs.length; g++) arr[g] = accs[g].s[a][s];
      cols[`__a${a}_${st}`] = arrow.makeVector(arr);
    });
  }
  return new arrow.Table(cols);
}

function mergePartials(t: Table, keys: readonly string[], aggs: readonly AggregateFn[]): Acc[] {
  const keyCols = keys.map((k) => columnValues(t.getChild(k)!));
  const st = aggs.map((_, a) => STATES.map((s) => t.getChild(`__a${a}_${s}`)!.toArray() as Float64Array));
  return forEachGroupRow(t.numRows, keyCols, aggs.length, (acc, i) => {
    for (let a = 0; a < aggs.length; a++) {
      const A = acc.s[a];
      const [n, sum, mean, m2, mn, mx] = st[a].map((c) => c[i]);
      if (n === 0) continue;
      const tot = A[0] + n;
      const delta = mean - A[2];
      A[3] += m2 + (delta * delta * A[0] * n) / tot;
      A[2] += (delta * n) / tot;
      A[0] = tot;
      A[1] += sum;
      if (mn < A[4]) A[4] = mn;
      if (mx > A[5]) A[5] = mx;
    }
  });
}

function finalizeAggregates(accs: Acc[], keys: readonly string[], aggs: readonly AggregateFn[]): Table {
  accs.sort((x, y) => compareKeys(x.key, y.key));
  const cols: Record<string, arrow.Vector> = {};
  keys.forEach((key, j) => (cols[key] = vectorOf(accs.map((a) => a.key[j]))));
  aggs.forEach((ag, a) => {
    const vals = accs.map((acc) => {
      const [n, sum, mean, m2, mn, mx] = acc.s[a];
      switch (ag.kind) {
        case 'count':
          return n;
        case 'sum':
          return n ? sum : null;
        case 'mean':
          return n ? mean : null;
        case 'min':
          return n ? mn : null;
        case 'max':
          return n ? mx : null;
        case 'std': {
          const ddof = ag.ddof ?? 1;
          return n - ddof > 0 ? Math.sqrt(m2 / (n - ddof)) : null;
        }
      }
    });
    cols[ag.name] = ag.kind === 'count' ? arrow.makeVector(BigInt64Array.from(vals as number[], (v) => BigInt(v))) : arrow.vectorFromArray(vals, new arrow.Float64());
  });
  return new arrow.Table(cols);
}
