/**
 * The logical plan: readonly nodes, each naming its inputs. Verbs on a Dataset return a new Dataset
 * whose plan is the old one plus a node; nothing runs until a consumer pulls. The optimizer rewrites
 * plans (fusion first); the planner turns nodes into physical operators.
 */
import type { BlockRef } from '../block.js';
import type { ReadSpec, Stage } from './stages.js';
import type { ComputeSpec } from '../exec/map-operator.js';
import type { AllToAllSpec } from '../exec/all-to-all.js';

/** Where a read's work items come from (planned when execution starts: files listed, row groups read). */
export interface ReadSource {
  readonly name: string;
  plan(): Promise<{ spec: ReadSpec; estBytes: number }[]>;
}

/** A SQL query over named inputs, run by a session's executors. */
export interface SqlNodeSpec {
  readonly text: string;
  readonly session: unknown;
}

export type LogicalNode =
  | { readonly kind: 'InputBlocks'; readonly name: string; readonly blocks: readonly BlockRef[] }
  | { readonly kind: 'Read'; readonly source: ReadSource }
  | { readonly kind: 'Deferred'; readonly name: string; readonly blocks: () => Promise<readonly BlockRef[]> }
  | { readonly kind: 'MapStages'; readonly input: LogicalNode; readonly stages: readonly Stage[]; readonly compute: ComputeSpec }
  | { readonly kind: 'Limit'; readonly input: LogicalNode; readonly n: number }
  | { readonly kind: 'Union'; readonly inputs: readonly LogicalNode[] }
  | { readonly kind: 'AllToAll'; readonly input: LogicalNode; readonly spec: AllToAllSpec }
  | { readonly kind: 'Sql'; readonly inputs: Readonly<Record<string, LogicalNode>>; readonly sql: SqlNodeSpec };

/** An optimizer rule. */
export interface Rule {
  readonly name: string;
  apply(plan: LogicalNode): LogicalNode;
}

/** The inputs of a node. */
export function inputsOf(n: LogicalNode): readonly LogicalNode[] {
  switch (n.kind) {
    case 'InputBlocks':
    case 'Read':
    case 'Deferred':
      return [];
    case 'Union':
      return n.inputs;
    case 'Sql':
      return Object.values(n.inputs);
    default:
      return [n.input];
  }
}
