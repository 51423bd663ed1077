/**
 * The planner: logical nodes to physical operators, through a registry from node kind to plan function
 * (the SQL module registers its own). A map over a read becomes one operator whose tasks read and then
 * map (the read is fused into the first map). Operators come out in topological order.
 */
import type { LogicalNode } from './logical-plan.js';
import { stageName } from './stages.js';
import type { PhysicalOperator, WorkItem } from '../exec/physical-operator.js';
import { MapOperator } from '../exec/map-operator.js';
import { InputOperator, LimitOperator, UnionOperator } from '../exec/simple-operators.js';
import { AllToAllOperator } from '../exec/all-to-all.js';

export interface PlanContext {
  /** Default task concurrency of a map operator. */
  readonly defaultConcurrency: number;
  /** Plans an input node (memoized: a node shared by two consumers becomes one operator). */
  planNode(n: LogicalNode): Promise<PhysicalOperator>;
  /** Every operator made so far, in topological order. */
  readonly ops: PhysicalOperator[];
}

export type PlanFn = (node: LogicalNode, ctx: PlanContext) => Promise<PhysicalOperator>;

const registry = new Map<LogicalNode['kind'], PlanFn>();

/** Registers how nodes of `kind` become operators. */
export function registerPlanFn(kind: LogicalNode['kind'], fn: PlanFn): void {
  registry.set(kind, fn);
}

/** The display name of a node (explain() and operator names). */
export function nodeName(n: LogicalNode): string {
  switch (n.kind) {
    case 'InputBlocks':
    case 'Deferred':
      return n.name;
    case 'Read':
      return n.source.name;
    case 'MapStages': {
      const own = n.stages.map(stageName).join('->');
      return n.input.kind === 'Read' && n.compute.kind === 'tasks' ? `${n.input.source.name}->${own}` : own;
    }
    case 'Limit':
      return `Limit(${n.n})`;
    case 'Union':
      return 'Union';
    case 'AllToAll':
      return n.spec.kind === 'aggregate' ? `Aggregate(${n.spec.keys.join(',')})` : n.spec.kind === 'sort' ? `Sort(${n.spec.keys.join(',')}${n.spec.descending ? ' desc' : ''})` : n.spec.kind === 'repartition' ? `Repartition(${n.spec.numBlocks})` : 'RandomShuffle';
    case 'Sql':
      return 'Sql';
  }
}

/** `Read -> Map(f)->Filter(g) -> Sort(x)`: the chain of operators the plan runs (fused names joined by ->). */
export function explainPlan(n: LogicalNode): string {
  const rec = (x: LogicalNode): string => {
    if (x.kind === 'MapStages' && x.input.kind === 'Read' && x.compute.kind === 'tasks') return nodeName(x);
    const ins = x.kind === 'InputBlocks' || x.kind === 'Read' || x.kind === 'Deferred' ? [] : x.kind === 'Union' ? x.inputs : x.kind === 'Sql' ? Object.values(x.inputs) : [x.input];
    const prefix = ins.length === 0 ? '' : ins.length === 1 ? `${rec(ins[0])} -> ` : `[${ins.map(rec).join(', ')}] -> `;
    return `${prefix}${nodeName(x)}`;
  };
  return rec(n);
}

async function readItems(n: Extract<LogicalNode, { kind: 'Read' }>): Promise<WorkItem[]> {
  return (await n.source.plan()).map((r) => ({ read: r.spec, estBytes: r.estBytes }));
}

registerPlanFn('InputBlocks', async (n, ctx) => {
  const node = n as Extract<LogicalNode, { kind: 'InputBlocks' }>;
  return push(ctx, new InputOperator(node.name, node.blocks));
});
registerPlanFn('Deferred', async (n, ctx) => {
  const node = n as Extract<LogicalNode, { kind: 'Deferred' }>;
  return push(ctx, new InputOperator(node.name, await node.blocks()));
});
registerPlanFn('Read', async (n, ctx) => {
  const node = n as Extract<LogicalNode, { kind: 'Read' }>;
  return push(ctx, new MapOperator(node.source.name, [], [], { kind: 'tasks' }, ctx.defaultConcurrency, await readItems(node)));
});
registerPlanFn('MapStages', async (n, ctx) => {
  const node = n as Extract<LogicalNode, { kind: 'MapStages' }>;
  if (node.input.kind === 'Read' && node.compute.kind === 'tasks') {
    return push(ctx, new MapOperator(nodeName(node), [], node.stages, node.compute, ctx.defaultConcurrency, await readItems(node.input)));
  }
  const input = await ctx.planNode(node.input);
  return push(ctx, new MapOperator(nodeName(node), [input], node.stages, node.compute, ctx.defaultConcurrency));
});
registerPlanFn('Limit', async (n, ctx) => {
  const node = n as Extract<LogicalNode, { kind: 'Limit' }>;
  return push(ctx, new LimitOperator(nodeName(node), await ctx.planNode(node.input), node.n));
});
registerPlanFn('Union', async (n, ctx) => {
  const node = n as Extract<LogicalNode, { kind: 'Union' }>;
  const ins: PhysicalOperator[] = [];
  for (const i of node.inputs) ins.push(await ctx.planNode(i));
  return push(ctx, new UnionOperator('Union', ins));
});
registerPlanFn('AllToAll', async (n, ctx) => {
  const node = n as Extract<LogicalNode, { kind: 'AllToAll' }>;
  return push(ctx, new AllToAllOperator(nodeName(node), await ctx.planNode(node.input), node.spec));
});

function push(ctx: PlanContext, op: PhysicalOperator): PhysicalOperator {
  ctx.ops.push(op);
  return op;
}

/** Physical operators for `plan`, in topological order (the last is the output). */
export async function planPhysical(plan: LogicalNode, defaultConcurrency: number): Promise<PhysicalOperator[]> {
  const memo = new Map<LogicalNode, Promise<PhysicalOperator>>();
  const ctx: PlanContext = {
    defaultConcurrency,
    ops: [],
    planNode(n) {
      let p = memo.get(n);
      if (!p) {
        const fn = registry.get(n.kind);
        if (!fn) throw new Error(`no plan function for ${n.kind}`);
        p = fn(n, ctx);
        memo.set(n, p);
      }
      return p;
    },
  };
  await ctx.planNode(plan);
  return ctx.ops;
}
