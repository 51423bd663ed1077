/**
 * Partial aggregation, planned on DuckDB's parse tree: a GROUP BY query (or a global aggregate) whose
 * aggregates all decompose is split into
 * - a partial query every executor runs over its share of the rows (same FROM and WHERE, same GROUP BY,
 *   group keys as `__g0…`, and for each aggregate its partial state as `__a<i>_<j>` columns), and
 * - a final query over the union of the partials (Arrow tables registered as `__partial`, read with
 *   `rayts_arrow_scan('__partial')`; the driver runs it, or one executor for large partials): the aggregates
 *   replaced by merges of their states, cast to the type the aggregate has in the original query, the
 *   output columns named as the original names them, HAVING/ORDER BY/LIMIT/DISTINCT kept.
 * Merges: count → sum of counts; sum → sum of sums; min/max → min/max; avg → sum of sums / sum of
 * counts; variance and standard deviation from (count, mean, M2) per share, merged with Chan's formula
 * (M2 = Σ M2ᵢ + Σ nᵢ·(meanᵢ − mean)²: no cancellation, unlike sum of squares). Anything else (DISTINCT
 * or ORDER BY inside an aggregate, FILTER is kept and fine, other aggregate functions) does not decompose.
 * Both SQL texts come back through `json_deserialize_sql`, so the rewrite never prints SQL by hand.
 */
type J = Record<string, any>;

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

/** How each decomposable aggregate becomes partial states and their merge (`X` = the argument, `P<j>` = state j). */
const RULES: Record<string, { partial: string[]; merge: string; window?: boolean }> = {
  count_star: { partial: ['count_star()'], merge: 'sum(P0)' },
  count: { partial: ['count(X)'], merge: 'sum(P0)' },
  sum: { partial: ['sum(X)'], merge: 'sum(P0)' },
  min: { partial: ['min(X)'], merge: 'min(P0)' },
  max: { partial: ['max(X)'], merge: 'max(P0)' },
  avg: { partial: ['sum(X)', 'count(X)'], merge: 'sum(P0) / nullif(sum(P1), 0)' },
  mean: { partial: ['sum(X)', 'count(X)'], merge: 'sum(P0) / nullif(sum(P1), 0)' },
  var_pop: { partial: ['count(X)', 'avg(CAST(X AS DOUBLE))', 'var_pop(CAST(X AS DOUBLE)) * count(X)'], merge: 'CASE WHEN sum(P0) > 0 THEN M2 / sum(P0) END', window: true },
  var_samp: { partial: ['count(X)', 'avg(CAST(X AS DOUBLE))', 'var_pop(CAST(X AS DOUBLE)) * count(X)'], merge: 'CASE WHEN sum(P0) > 1 THEN M2 / (sum(P0) - 1) END', window: true },
  stddev_pop: { partial: ['count(X)', 'avg(CAST(X AS DOUBLE))', 'var_pop(CAST(X AS DOUBLE)) * count(X)'], merge: 'CASE WHEN sum(P0) > 0 THEN sqrt(M2 / sum(P0)) END', window: true },
  stddev_samp: { partial: ['count(X)', 'avg(CAST(X AS DOUBLE))', 'var_pop(CAST(X AS DOUBLE)) * count(X)'], merge: 'CASE WHEN sum(P0) > 1 THEN sqrt(M2 / (sum(P0) - 1)) END', window: true },
};
RULES.variance = RULES.var_samp;
RULES.stddev = RULES.stddev_samp;

/** A decomposition of a query (see the module doc); `finalSql` needs the types of the aggregates. */
export interface PartialAggregation {
  /** The query each executor runs over its share. */
  readonly partialSql: string;
  /** A query whose columns are the aggregates in order (DESCRIBE gives their types). */
  readonly typesSql: string;
  /** The final query over `__partial`, given each aggregate's type and the original output names. */
  finalSql(aggTypes: readonly string[], outNames: readonly string[]): Promise<string>;
}

type Deserialize = (statementJson: string) => Promise<string>;
type Parse = (sql: string) => Promise<J>;

function isAggregate(n: J, aggregateNames: Set<string>): boolean {
  if (n.class !== 'FUNCTION') return false;
  const f = String(n.function_name).toLowerCase();
  return f === 'count_star' || aggregateNames.has(f);
}

/** Every aggregate call under `node` (not descending into one). */
function findAggregates(node: unknown, names: Set<string>, out: J[]): void {
  if (Array.isArray(node)) return node.forEach((x) => findAggregates(x, names, out));
  if (!node || typeof node !== 'object') return;
  const n = node as J;
  if (isAggregate(n, names)) {
    out.push(n);
    return;
  }
  for (const v of Object.values(n)) if (v && typeof v === 'object') findAggregates(v, names, out);
}

/** Replaces, in place, every node for which `f` returns a replacement (not descending into it). */
function rewrite(node: unknown, f: (n: J) => J | undefined): unknown {
  if (Array.isArray(node)) return node.map((x) => rewrite(x, f));
  if (!node || typeof node !== 'object') return node;
  const r = f(node as J);
  if (r) return r;
  const n = node as J;
  for (const [k, v] of Object.entries(n)) if (v && typeof v === 'object') n[k] = rewrite(v, f);
  return n;
}

function colRef(name: string): J {
  return { class: 'COLUMN_REF', type: 'COLUMN_REF', alias: '', query_location: 0, column_names: [name] };
}

function sameRef(a: J, b: J): boolean {
  return a.class === 'COLUMN_REF' && b.class === 'COLUMN_REF' && JSON.stringify(a.column_names) === JSON.stringify(b.column_names);
}

function statement(node: J): string {
  // DuckDB marks generated nodes with query_location = 2^64 - 1, which a JS number cannot carry back.
  const replacer = (k: string, v: unknown) => (k === 'query_location' && typeof v === 'number' && v > Number.MAX_SAFE_INTEGER ? 0 : v);
  return JSON.stringify({ error: false, statements: [{ node, named_param_map: [] }] }, replacer);
}

/**
 * The decomposition of the SELECT node `node`, or why there is none. `groups` are its GROUP BY column
 * refs (plain columns, checked by the caller).
 */
export async function decompose(
  node: J,
  aggregateNames: Set<string>,
  parse: Parse,
  deserialize: Deserialize,
): Promise<PartialAggregation | { reason: string }> {
  if (node.aggregate_handling && node.aggregate_handling !== 'STANDARD_HANDLING') return { reason: 'GROUP BY ALL' };
  const groups = node.group_expressions as J[];
  if (groups.some((g) => g.class !== 'COLUMN_REF')) return { reason: 'GROUP BY on an expression' };
  const orders = ((node.modifiers as J[]).find((m) => m.type === 'ORDER_MODIFIER')?.orders ?? []) as J[];
  const aggs: J[] = [];
  findAggregates([node.select_list, node.having, orders.map((o) => o.expression)], aggregateNames, aggs);
  if (!aggs.length) return { reason: 'no aggregate' };
  for (const a of aggs) {
    const f = String(a.function_name).toLowerCase();
    const rule = RULES[f];
    if (!rule) return { reason: `the aggregate ${f}() (it does not decompose)` };
    if (a.distinct && f !== 'min' && f !== 'max') return { reason: `${f}(DISTINCT …)` };
    if (a.order_bys?.orders?.length) return { reason: `ORDER BY inside ${f}()` };
    if (a.export_state) return { reason: 'EXPORT_STATE' };
    if ((f === 'count_star' ? 0 : 1) !== (a.children as J[]).length) return { reason: `${f}() with ${(a.children as J[]).length} arguments` };
    const inner: J[] = [];
    findAggregates(a.children, aggregateNames, inner);
    if (inner.length) return { reason: 'an aggregate inside an aggregate' };
  }

  // Templates, parsed once: partial states with X, merges with P<j> and M2.
  const partialTexts: string[] = [];
  const mergeTexts: string[] = [];
  const windows: string[] = [];
  const keys = groups.map((_, i) => `"__g${i}"`).join(', ');
  const over = keys ? `OVER (PARTITION BY ${keys})` : 'OVER ()';
  aggs.forEach((a, i) => {
    const rule = RULES[String(a.function_name).toLowerCase()];
    rule.partial.forEach((p) => partialTexts.push(p));
    let merge = rule.merge.replace(/P(\d)/g, (_, j) => `"__a${i}_${j}"`);
    if (rule.window) {
      const n = `"__a${i}_0"`;
      const m = `"__a${i}_1"`;
      const m2 = `"__a${i}_2"`;
      windows.push(`sum(${n} * ${m}) ${over} / nullif(sum(${n}) ${over}, 0) AS "__m${i}"`);
      merge = merge.replace(/M2/g, `(sum(${m2}) + sum(${n} * (${m} - "__m${i}") * (${m} - "__m${i}")))`);
    }
    mergeTexts.push(merge);
  });
  const pTree = await parse(`SELECT ${partialTexts.join(', ')}`);
  const pExprs = (pTree.statements[0].node as J).select_list as J[];

  // Partial query: same FROM/WHERE/GROUP BY; keys and states as columns.
  const partial = clone(node);
  partial.modifiers = [];
  partial.having = null;
  partial.qualify = null;
  const sel: J[] = groups.map((g, i) => ({ ...clone(g), alias: `__g${i}` }));
  let k = 0;
  aggs.forEach((a, i) => {
    const rule = RULES[String(a.function_name).toLowerCase()];
    rule.partial.forEach((_, j) => {
      const tmpl = clone(pExprs[k++]);
      const arg = (a.children as J[])[0];
      const e = rewrite(tmpl, (n) => (n.class === 'COLUMN_REF' && n.column_names?.length === 1 && n.column_names[0] === 'X' ? clone(arg) : undefined)) as J;
      // FILTER applies to every state of the aggregate.
      const withFilter = rewrite(e, (n) => {
        if (n.class === 'FUNCTION' && a.filter && isAggregate(n, aggregateNames)) {
          n.filter = clone(a.filter);
          return n;
        }
        return undefined;
      }) as J;
      sel.push({ ...withFilter, alias: `__a${i}_${j}` });
    });
  });
  partial.select_list = sel;
  const partialSql = await deserialize(statement(partial));

  const types = clone(node);
  types.modifiers = [];
  types.having = null;
  types.qualify = null;
  types.select_list = aggs.map((a, i) => ({ ...clone(a), alias: `__t${i}` }));
  const typesSql = await deserialize(statement(types));

  const finalSql = async (aggTypes: readonly string[], outNames: readonly string[]): Promise<string> => {
    const mTree = await parse(`SELECT ${mergeTexts.map((m, i) => `CAST(${m} AS ${aggTypes[i]})`).join(', ')}`);
    const mExprs = (mTree.statements[0].node as J).select_list as J[];
    // The partials are read with the Arrow scan itself (no view over them to create and drop per merge).
    const scanText = "rayts_arrow_scan('__partial')";
    const fromText = windows.length ? `SELECT * FROM (SELECT *, ${windows.join(', ')} FROM ${scanText}) AS __p` : `SELECT * FROM ${scanText} AS __p`;
    const fTree = await parse(fromText);
    const fin = clone(node);
    fin.from_table = (fTree.statements[0].node as J).from_table;
    fin.where_clause = null;
    fin.group_expressions = groups.map((_, i) => colRef(`__g${i}`));
    const seen = new Map<J, number>();
    aggs.forEach((a, i) => seen.set(a, i));
    // Map aggregates by identity in the clone: walk the original and the clone in step.
    const replaceIn = (orig: unknown, copy: unknown): unknown => {
      if (Array.isArray(orig)) return (copy as unknown[]).map((c, i) => replaceIn(orig[i], c));
      if (!orig || typeof orig !== 'object') return copy;
      const o = orig as J;
      if (seen.has(o)) return { ...clone(mExprs[seen.get(o)!]), alias: (copy as J).alias ?? '' };
      if (o.class === 'COLUMN_REF') {
        const gi = groups.findIndex((g) => sameRef(g, o));
        const byName = gi >= 0 ? gi : groups.findIndex((g) => (g.column_names as string[]).at(-1) === (o.column_names as string[]).at(-1) && (o.column_names as string[]).length === 1);
        if (byName >= 0) return { ...colRef(`__g${byName}`), alias: (copy as J).alias ?? '' };
        return copy;
      }
      const c = copy as J;
      for (const key of Object.keys(o)) if (o[key] && typeof o[key] === 'object') c[key] = replaceIn(o[key], c[key]);
      return c;
    };
    fin.select_list = (node.select_list as J[]).map((e, i) => {
      const r = replaceIn(e, clone(e)) as J;
      return { ...r, alias: outNames[i] ?? r.alias };
    });
    fin.having = node.having ? replaceIn(node.having, clone(node.having)) : null;
    fin.modifiers = (node.modifiers as J[]).map((m) => replaceIn(m, clone(m)));
    return deserialize(statement(fin));
  };
  return { partialSql, typesSql, finalSql };
}
