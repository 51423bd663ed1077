/**
 * Types shared by the placement policies and the node-local queue. These are the contract the core
 * runtime builds on; policies are pure functions of these values (plus an injected random source).
 */
import type { ResourceMap } from '@samsara/ray-common';

/** One node as the scheduler sees it. */
export interface NodeView {
  readonly nodeId: string;
  readonly address: string;
  readonly total: Readonly<ResourceMap>;
  readonly available: Readonly<ResourceMap>;
  readonly labels: Readonly<Record<string, string>>;
  readonly alive: boolean;
  /** "head" | "worker" | "edge" */
  readonly kind?: string;
}

/**
 * Where work lands.
 * - 'DEFAULT': prefer the local node (or the node holding the largest arguments) until it is about half
 *   used, then the least-utilised feasible node (Ray's hybrid policy).
 * - 'SPREAD': round-robin-ish over feasible nodes, least recently chosen first.
 * - `{ nodeId, soft }`: node affinity; hard fails when that node cannot ever run it or is dead, soft falls
 *   back to DEFAULT.
 */
export type SchedulingStrategy = 'DEFAULT' | 'SPREAD' | { readonly nodeId: string; readonly soft?: boolean };

/**
 * Label selector: key → expression. Expressions: `value` (equals), `!value` (not equals),
 * `in(a,b,c)`, `!in(a,b,c)`. A key absent from a node matches only `!value` and `!in(...)`.
 */
export type LabelSelector = Readonly<Record<string, string>>;

export interface PlacementRequest {
  readonly demand: Readonly<ResourceMap>;
  readonly strategy: SchedulingStrategy;
  readonly labelSelector?: LabelSelector;
  /** The submitter's own node, preferred by DEFAULT while it is below the spread threshold. */
  readonly localNodeId?: string;
  /** Bytes of the task's arguments stored on each node; DEFAULT prefers the node with the most. */
  readonly argBytesByNode?: Readonly<Record<string, number>>;
  /**
   * Node kinds DEFAULT uses only when no other node has the demand available (actors avoid 'head':
   * the head's node is the one whose loss costs the most). Other strategies ignore it.
   */
  readonly avoidKinds?: readonly string[];
}

export type PlacementDecision =
  | { readonly kind: 'placed'; readonly nodeId: string }
  /** Some node could run it once resources free up; `reason` says what it waits for. */
  | { readonly kind: 'wait'; readonly reason: string }
  /** No alive node could ever run it; `reason` says what is missing, e.g. "no node offers {camera: 1}". */
  | { readonly kind: 'infeasible'; readonly reason: string };

export type PlacementGroupStrategy = 'PACK' | 'SPREAD' | 'STRICT_PACK' | 'STRICT_SPREAD';

export type BundlePlacement =
  | { readonly kind: 'placed'; readonly nodeIds: readonly string[] }
  | { readonly kind: 'wait'; readonly reason: string }
  | { readonly kind: 'infeasible'; readonly reason: string };

/** Injected randomness so that policies are testable. Returns [0, 1). */
export type Random = () => number;
