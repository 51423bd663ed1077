/**
 * A task as its owner holds it (plain tasks, actor creations and actor calls): what to run, with what,
 * where it is, and what it holds.
 *
 * States: resolving → (infeasible ⇄ resolving) → submitted → done; submitted → resolving on a retry;
 * any → done on cancel.
 */
import type { ObjectId, ObjectRef, ResourceMap } from '@samsara/ray-common';
import type { rayts } from '@samsara/ray-proto';
import type { ShippedCallable } from '../code/function-descriptor.js';
import type { ResolvedTaskOptions } from '../runtime/resolved-options.js';
import type { GeneratorStreamState } from './generator-stream.js';

/** A ref inside an encoded value: its id and its owner's address. */
export type NestedRef = readonly [id: string, owner: string];

/** One argument of a task as the submitter holds it (`nested`: the refs inside an encoded value). */
export type TaskArg =
  | { readonly kind: 'value'; readonly bytes: Uint8Array; readonly nested?: readonly NestedRef[] }
  | { readonly kind: 'ref'; readonly ref: ObjectRef };

export interface TaskRecord {
  /** Spillback: the node that handed this task back; placed elsewhere when any other node can run it. */
  avoidNode?: string;
  readonly taskId: string;
  readonly objectId: ObjectId;
  readonly name: string;
  readonly fn: ShippedCallable;
  readonly args: readonly TaskArg[];
  readonly opts: ResolvedTaskOptions;
  readonly demand: ResourceMap;
  attempt: number;
  retriesLeft: number;
  /** Times a node refused it for capacity (queue full): backpressure, not counted against retries. */
  refusals?: number;
  state: 'resolving' | 'infeasible' | 'submitted' | 'done';
  nodeId?: string;
  reason?: string;
  cancelled?: boolean;
  wireArgs?: rayts.IArg[];
  argBytesByNode?: Record<string, number>;
  /** Set for an actor's creation task. */
  creation?: { actorId: string; maxConcurrency: number; pgId: string };
  /** Set for an actor method call. */
  call?: { actorId: string; method: string };
  /** Owned refs this task holds (its arguments), released when it finishes. */
  argRefs?: string[];
  /** Borrowed refs (owned elsewhere) this task holds, released when it finishes. */
  borrowedArgs?: string[];
  /** Order of an actor call among this process's calls to that actor. */
  seq?: number;
  /** Set for a streaming generator task (or actor generator call): its items as the caller receives them. */
  stream?: GeneratorStreamState;
}
