/**
 * Optimizer rules, `Plan => Plan`, applied in order. Fusion first: consecutive map stages that run the
 * same way (tasks with the same resources) become one stage list, so a block takes one task instead of
 * one per verb; a limit right after maps also runs as a per-block head inside them (fewer rows made).
 */
import type { LogicalNode, Rule } from './logical-plan.js';
import type { ComputeSpec } from '../exec/map-operator.js';

function sameTaskCompute(a: ComputeSpec, b: ComputeSpec): boolean {
  if (a.kind !== 'tasks' || b.kind !== 'tasks') return false;
  return a.numCpus === b.numCpus && JSON.stringify(a.resources ?? {}) === JSON.stringify(b.resources ?? {}) && (a.concurrency === b.concurrency || b.concurrency === undefined);
}

function mapChildren(n: LogicalNode, f: (c: LogicalNode) => LogicalNode): LogicalNode {
  switch (n.kind) {
    case 'InputBlocks':
    case 'Read':
    case 'Deferred':
      return n;
    case 'Union':
      return { ...n, inputs: n.inputs.map(f) };
    case 'Sql':
      return { ...n, inputs: Object.fromEntries(Object.entries(n.inputs).map(([k, v]) => [k, f(v)])) };
    default:
      return { ...n, input: f(n.input) } as LogicalNode;
  }
}

/** Merges MapStages(MapStages(x)) when both run as tasks with the same resources. */
export const fuseMapStages: Rule = {
  name: 'FuseMapStages',
  apply(plan) {
    const rec = (n: LogicalNode): LogicalNode => {
      const m = mapChildren(n, rec);
      if (m.kind === 'MapStages' && m.input.kind === 'MapStages' && sameTaskCompute(m.input.compute, m.compute)) {
        return { kind: 'MapStages', input: m.input.input, stages: [...m.input.stages, ...m.stages], compute: m.input.compute };
      }
      return m;
    };
    return rec(plan);
  },
};

/** Limit(MapStages(x), n): also cut each block to n rows inside the map. */
export const pushLimitIntoMaps: Rule = {
  name: 'PushLimitIntoMaps',
  apply(plan) {
    const rec = (n: LogicalNode): LogicalNode => {
      const m = mapChildren(n, rec);
      if (m.kind === 'Limit' && m.input.kind === 'MapStages' && m.input.compute.kind === 'tasks') {
        const last = m.input.stages[m.input.stages.length - 1];
        if (last?.kind === 'head') return m;
        return { ...m, input: { ...m.input, stages: [...m.input.stages, { kind: 'head', n: m.n }] } };
      }
      return m;
    };
    return rec(plan);
  },
};

export const DEFAULT_RULES: readonly Rule[] = [fuseMapStages, pushLimitIntoMaps];

/** Applies `rules` in order. */
export function optimize(plan: LogicalNode, rules: readonly Rule[] = DEFAULT_RULES): LogicalNode {
  return rules.reduce((p, r) => r.apply(p), plan);
}
